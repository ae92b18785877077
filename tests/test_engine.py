"""The embedded engine over the wire: Unreal reply formats, the real unrealcv client, the env adapter."""
import io
import json
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from embrace_bench.env.client import UnrealCVClient
from embrace_bench.env.launcher import EmbeddedEngineProcess, EngineStartError
from embrace_bench.env.unreal_env import EnvConfig, UnrealEnv
from embrace_bench.procs import free_port
from embrace_bench.tasks.suite import load_embedded

TASKS = {t.task_id: t for t in load_embedded(("id", "ood")).tasks}


@pytest.fixture()
def client(engine_server):
    with UnrealCVClient("127.0.0.1", engine_server.port, timeout=20) as c:
        yield c


def _env(client):
    return UnrealEnv(client, EnvConfig(width=160, height=120))


def test_reply_formats(client):
    t = TASKS["id-0-000"]
    assert client.request(f"vset /action/game/level {t.map}") == "ok"
    assert client.request("vset /objects/spawn_from_path /Game/X/BP_Character.BP_Character_C Agent") == "ok"
    assert client.request("vset /object/Agent/location 1000 1000 90") == "ok"
    x, y, z = map(float, client.request("vget /object/Agent/location").split())
    assert (x, y, z) == (1000.0, 1000.0, 90.0)
    assert len(client.request("vget /object/Agent/rotation").split()) == 3
    png = client.request("vget /camera/1/lit png")
    img = Image.open(io.BytesIO(png))
    assert img.mode == "RGBA" and img.size == (160, 120)
    depth = np.load(io.BytesIO(client.request("vget /camera/1/depth npy")))
    assert depth.shape == (120, 160) and depth.dtype == np.float32 and np.isfinite(depth).all()
    name = client.request("vget /objects").split()[0]
    assert client.request(f"vget /object/{name}/color").startswith("(R=")
    assert json.loads(client.request("vbp Agent get_hit")) == {"hit": "0"}
    assert all(isinstance(v, str) for v in json.loads(client.request("vbp Agent get_door_state")).values())
    assert client.request("vget /camera/9/lit png").startswith(b"error")
    assert client.request("vbp Nobody set_move 0 10").startswith("error")
    assert client.request("vset /action/game/level Atlantis").startswith("error unknown level")


def test_real_unrealcv_client_and_api_work_unchanged(engine_server):
    unrealcv = pytest.importorskip("unrealcv")
    from unrealcv.api import UnrealCv_API

    c = unrealcv.Client(("127.0.0.1", engine_server.port))
    assert c.connect(timeout=5)
    try:
        assert c.request(f"vset /action/game/level {TASKS['id-0-000'].map}") == "ok"
        png = c.request("vget /camera/0/lit png")
        assert Image.open(io.BytesIO(png)).mode == "RGBA"
    finally:
        c.disconnect()
    api = UnrealCv_API(engine_server.port, "127.0.0.1", (160, 120))
    try:
        img = api.get_image(0, "lit", "png")
        assert img.shape[:2] == (120, 160)
        assert len(api.get_objects()) > 10
    finally:
        api.client.disconnect()


def test_env_reset_and_step_return_ground_truth(client):
    env = _env(client)
    t = TASKS["id-0-000"]
    obs = env.reset(t)
    assert obs.rgb.shape == (120, 160, 3)
    assert obs.pose[:2] == pytest.approx(t.start_pose[:2], abs=0.01)
    assert t.target_objects[0] in obs.visible  # Basic tasks start with the target in view
    r = env.step("TurnRight")
    assert r.pose_after[4] == pytest.approx(((t.start_pose[4] + 30 + 180) % 360) - 180, abs=0.01)
    r = env.step("MoveForward")
    moved = np.hypot(r.pose_after[0] - r.pose_before[0], r.pose_after[1] - r.pose_before[1])
    assert moved == pytest.approx(235, abs=0.5) or r.collided
    r = env.step("LookUp")
    assert r.obs.pose[3] == 30 and r.pose_after[:2] == r.pose_before[:2]


def test_oracle_demo_replays_to_the_target_on_the_engine(client):
    env = _env(client)
    for tid in ("id-3-000", "id-4_1-000", "id-4_2-000"):
        t = TASKS[tid]
        env.reset(t)
        res = [env.step(a) for a in t.demo_actions]
        final = res[-1].pose_after
        target = t.target_poses[-1]
        assert np.hypot(final[0] - target[0], final[1] - target[1]) <= 300
        if t.type == "4.1":
            assert res[-1].obs.door_state[t.door] == 1
        if t.type == "4.2":
            drop = next(r for a, r in zip(t.demo_actions, res) if a == "DropObject")
            assert drop.dropped_at and np.hypot(drop.dropped_at[0] - target[0], drop.dropped_at[1] - target[1]) <= 300


def test_frames_are_byte_identical_across_processes():
    t = TASKS["id-0-001"]
    script = (
        "import sys, hashlib\n"
        "from embrace_bench.env.client import UnrealCVClient\n"
        "from embrace_bench.env.unreal_env import UnrealEnv, EnvConfig\n"
        "from embrace_bench.env.launcher import EmbeddedEngineProcess\n"
        "from embrace_bench.tasks.suite import load_embedded\n"
        f"t = {{x.task_id: x for x in load_embedded(('id',)).tasks}}['{t.task_id}']\n"
        "with EmbeddedEngineProcess(renderer=sys.argv[1], width=160, height=120) as e:\n"
        "    env = UnrealEnv(UnrealCVClient(port=e.port).connect(), EnvConfig(width=160, height=120))\n"
        "    h = hashlib.sha256(env.reset(t).png)\n"
        "    for a in t.demo_actions[:4]: h.update(env.step(a).obs.png)\n"
        "    env.close(); print(h.hexdigest())\n")
    for renderer in ("numpy", "gl"):
        digests = {subprocess.run([sys.executable, "-c", script, renderer], capture_output=True, text=True,
                                  check=True).stdout.strip() for _ in range(2)}
        assert len(digests) == 1, renderer


def test_launcher_port_in_use_and_never_ready(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        eng = EmbeddedEngineProcess(renderer="numpy", port=port, log_path=tmp_path / "e.log", ready_timeout_s=20)
        with pytest.raises(EngineStartError, match="cannot listen"):
            eng.start()
    # A server that accepts but never answers: the bounded probe gives up.
    from embrace_bench.env.launcher import probe

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(EngineStartError, match="not ready after 1 s"):
            probe("127.0.0.1", s.getsockname()[1], 1.0)


def _non_loopback_addresses():
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return [a for a in out if "." in a and not a.startswith("127.")]


def test_an_engine_process_has_a_port_only_once_it_is_known(tmp_path):
    picks = EmbeddedEngineProcess(renderer="numpy", log_path=tmp_path / "e.log")
    with pytest.raises(RuntimeError, match="EmbeddedEngineProcess has no port before start"):
        _ = picks.port  # a free port is picked by start()
    assert EmbeddedEngineProcess(renderer="numpy", port=4321).port == 4321  # asked for: known already


def test_serve_binds_loopback_only():
    addrs = _non_loopback_addresses()
    if not addrs:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    with EmbeddedEngineProcess(renderer="numpy", width=64, height=48) as e:
        with pytest.raises(OSError):
            socket.create_connection((addrs[0], e.port), timeout=1).close()
        assert free_port() != e.port
