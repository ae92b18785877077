"""env=unrealzoo: the launcher against a stand-in UnrealZoo package (a launcher script that reads the
unrealcv.ini the harness writes and serves the embedded world in UnrealZoo mode on that port), attach mode,
and the whole path end to end through `python -m embrace_bench env=unrealzoo env.binary=...`."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from embrace_bench.__main__ import CONF_DIR
from embrace_bench.env.client import UnrealCVClient
from embrace_bench.env.engines import engine_factory, env_config
from embrace_bench.env.launcher import EngineStartError
from embrace_bench.env.unrealzoo_engines import UnrealZooProcess, parse_attach, unrealcv_ini, unrealcv_ini_path
from embrace_bench.tasks.maps import EMBEDDED_MAPS_DIR
from embrace_bench.unrealcv.protocol import unix_socket_path
from embrace_bench.world.server import UnrealCVServer
from embrace_bench.world.unrealzoo import UnrealZooEngine

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tests" / "fixtures" / "unrealzoo_pkg"
ZOO_YAML = OmegaConf.load(ROOT / "embrace_bench" / "conf" / "env" / "unrealzoo.yaml")


@pytest.fixture()
def package(tmp_path, monkeypatch):
    """A copy of the stand-in package (the launcher writes its unrealcv.ini inside it)."""
    pkg = tmp_path / "UnrealZoo"
    shutil.copytree(PACKAGE, pkg)
    monkeypatch.setenv("PYTHON", sys.executable)  # the launcher script execs this interpreter
    return pkg


def _env(**kw):
    cfg = OmegaConf.merge(ZOO_YAML, kw)
    OmegaConf.update(cfg, "gpu", kw.get("gpu", 0))  # ${oc.env:GPU_ID,0} needs no environment here
    return cfg


def test_unrealcv_ini_goes_where_the_packaged_plugin_reads_it(tmp_path):
    exe = tmp_path / "Linux" / "UnrealZoo_UE5_6" / "Binaries" / "Linux" / "UnrealZoo_UE5_6"
    exe.parent.mkdir(parents=True)
    assert unrealcv_ini_path(exe) == exe.parent / "unrealcv.ini"
    assert unrealcv_ini_path(tmp_path / "Linux" / "UnrealZoo_UE5_6.sh") == exe.parent / "unrealcv.ini"
    assert unrealcv_ini_path(tmp_path / "Linux" / "Other.sh") == exe.parent / "unrealcv.ini"  # the only one
    (tmp_path / "Linux" / "Second" / "Binaries" / "Linux").mkdir(parents=True)
    with pytest.raises(EngineStartError, match="set env.unrealcv_ini"):
        unrealcv_ini_path(tmp_path / "Linux" / "Other.sh")
    assert unrealcv_ini(9123, 640, 480, 90) == ("[UnrealCV.Core]\nPort=9123\nWidth=640\nHeight=480\nFOV=90.000000\n"
                                                "EnableInput=True\nEnableRightEye=False\n")


def test_bad_settings_are_one_line_errors(tmp_path, package):
    with pytest.raises(ValueError, match="needs env.binary=.* or env.attach=host:port"):
        engine_factory(_env(), tmp_path)
    with pytest.raises(ValueError, match="env.binary not found"):
        engine_factory(_env(binary=str(tmp_path / "nope.sh")), tmp_path)
    (package / "UnrealZoo.sh").chmod(0o644)
    with pytest.raises(ValueError, match="not executable"):
        engine_factory(_env(binary=str(package / "UnrealZoo.sh")), tmp_path)
    with pytest.raises(ValueError, match="env.attach must be host:port"):
        parse_attach("localhost")
    with pytest.raises(ValueError, match="names 1 engine.* runner.workers=2"):
        engine_factory(_env(attach="127.0.0.1:9000"), tmp_path, workers=2)
    with pytest.raises(ValueError, match="env.stale_frame must be one of"):
        env_config(_env(stale_frame="sometimes"))
    for bad in ({"collision": "get_hit"}, {"realtime": False}, {"stale_frame": "wait_tick"}):  # ignored otherwise
        with pytest.raises(ValueError, match="env.protocol=release .* needs env.realtime=true and env.collision=pose"):
            env_config(_env(**bad))
    cfg = env_config(_env(binary="x"))
    # The default is the release's protocol; env=unrealzoo_v1 keeps the v1 paper's magnitudes.
    assert cfg.realtime and cfg.protocol == "release" and cfg.stale_frame == "release" and cfg.cam_offset == (5, 0, -50)
    assert cfg.mags.forward_cm == 125.9 and cfg.mags.turn_deg == 25.0 and cfg.step_s == 0.25 and cfg.collision == "pose"
    v1 = env_config(OmegaConf.merge(_env(binary="x"), OmegaConf.load(CONF_DIR / "env" / "unrealzoo_v1.yaml")))
    assert v1.protocol == "release" and v1.mags.forward_cm == 235.0 and v1.moves["TurnLeft"] == [[-30, 0]]


def test_launcher_writes_the_ini_starts_offscreen_and_the_client_follows_the_unix_switch(tmp_path, package):
    make = engine_factory(_env(binary=str(package / "UnrealZoo.sh"), gpu=[2], width=64, height=48), tmp_path)
    eng = make(0)
    assert isinstance(eng, UnrealZooProcess) and eng.ini == package / "UnrealZoo" / "Binaries" / "Linux" / "unrealcv.ini"
    with eng:
        assert eng.alive()
        assert f"Port={eng.port}\nWidth=64\nHeight=48\n" in eng.ini.read_text()
        # The readiness probe was the engine's one TCP client: from now on it serves its Unix socket.
        with UnrealCVClient(eng.host, eng.port, timeout=10) as c:
            assert c.endpoint == f"unix:{unix_socket_path(eng.port)}"
            assert c.request("vget /unrealcv/status").startswith("Is Listening")
        log = eng.log_path.read_text()
        assert "-RenderOffScreen" in log and "-graphicsadapter=2" in log and "-ResX=64" in log
        # The release's engine settings replace the package's own before the start.
        saved = package / "UnrealZoo" / "Saved" / "Config" / "Linux"
        assert sorted(f.name for f in saved.iterdir()) == ["Engine.ini", "GameUserSettings.ini", "Input.ini"]
        engine_ini = (saved / "Engine.ini").read_text()
        assert "FixedFrameRate=20.0" in engine_ini and "r.Determinism=1" in engine_ini and "bSubstepping=True" in engine_ini
        port = eng.port
    assert not eng.alive() and not os.path.exists(unix_socket_path(port))


def _run(*args, env=None, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "embrace_bench", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600, env=env)


def test_the_whole_unrealzoo_path_runs_end_to_end(tmp_path, package):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHON": sys.executable, "FAKE_UNREALZOO_LOAD_S": "0.3"}
    p = _run("env=unrealzoo_v1", f"env.binary={package / 'UnrealZoo.sh'}", "model=oracle", "suite.limit=1",
             "env.width=96", "env.height=72", "env.settle_s=0", "env.destroy_wait_s=0", f"hydra.run.dir={run}", env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    recs = [json.loads(ln) for ln in (run / "episodes.jsonl").read_text().splitlines()]
    assert [r["status"] for r in recs] == ["finished"]
    moves = [((s["pose_after"][0] - s["pose_before"][0]) ** 2 + (s["pose_after"][1] - s["pose_before"][1]) ** 2) ** 0.5
             for r in recs for s in r["steps"] if s["action"] == "MoveForward" and not s["collided"]]
    # Poses are read back: the v1 cycles walk about 235 cm on the stand-in (whole 20 Hz ticks), or hit something.
    assert moves and all(abs(d - 235.0) < 10.0 for d in moves), moves
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["env"]["kind"] == "unrealzoo"
    log = (run / "logs" / "engine-0.log").read_text()
    assert "serving on Unix socket" in log and "client connected from unix" in log
    assert "-RenderOffScreen" in log


def test_attach_uses_an_engine_someone_else_started(tmp_path):
    engine = UnrealZooEngine("numpy", maps_dir=EMBEDDED_MAPS_DIR, width=64, height=48, load_s=0.2, spawn_s=0.1)
    with UnrealCVServer(engine, "127.0.0.1", 0, unix_after_tcp=True) as srv:
        engine.port = srv.port
        run = tmp_path / "run"
        p = _run("env=unrealzoo_v1", f"env.attach=127.0.0.1:{srv.port}", "model=demo", "suite.ids=[id-0-000]", "runner.max_steps=3",
                 "env.width=64", "env.height=48", "env.settle_s=0", "env.destroy_wait_s=0", f"hydra.run.dir={run}")
        assert p.returncode == 0, p.stderr[-3000:]
        rec = json.loads((run / "episodes.jsonl").read_text())
        assert rec["status"] == "timeout" and rec["n_steps"] == len(rec["steps"]) == 3  # the step budget ran out
        assert engine.state is not None and engine.console  # the run drove this engine, setup commands included
    p = _run("env=unrealzoo", "env.attach=127.0.0.1:1", "runner.workers=2", f"hydra.run.dir={tmp_path / 'r2'}")
    assert p.returncode == 2 and "runner.workers=2" in p.stderr and len(p.stderr.strip().splitlines()) == 1
