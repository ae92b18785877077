"""env=unrealzoo drives UnrealZoo command for command as the EmbRACE release does.

tests/fixtures/unrealzoo_golden/*.txt are the release's UnrealCV sequences, written from its code (9f54184) for a
small recording world; here ReleaseEnv, built from embrace_bench/conf/env/unrealzoo.yaml's defaults, runs against that world and
what it sends must equal them. Compared: every command that changes the world, renders (`lit` captures) or waits
(the release's sleeps); not compared: reads (`vget` of poses, objects, cameras, colours, `vbp <x> get_*`, our object
mask captures), which change nothing. Numbers compare as numbers (the release prints 0 where we print 0.0).
"""
from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from fakes import InProcessClient
from omegaconf import OmegaConf
from PIL import Image

from embrace_bench.__main__ import CONF_DIR
from embrace_bench.env.engines import env_config, make_env
from embrace_bench.env.release_env import ReleaseEnv
from embrace_bench.tasks.model import Task

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "fixtures" / "unrealzoo_golden"
PD = "BP_GrabMoveDrop_C_1"


def _png(mode: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((3, 4, len(mode)), 200, np.uint8), mode).save(buf, "PNG")
    return buf.getvalue()


def _bmp() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((3, 4, 3), 200, np.uint8)).save(buf, "BMP")
    return buf.getvalue()


class RecordingWorld:
    """A tiny UnrealZoo: actors with poses, a character that does not walk, a camera above it, a grab object the
    character carries after set_pickup. It answers what the release sends and records every command."""

    def __init__(self, objects: list[str]):
        self.objects = list(objects)
        self.poses: dict[str, list[float]] = {}
        self.log: list[str] = []
        self.carrying = False
        self.agent = "spawned_char_0"

    def handle(self, cmd: str):
        self.log.append(cmd)
        p = cmd.split()
        if cmd.startswith("vget /camera/") and p[1].endswith(("/lit", "/object_mask")):
            return _bmp() if p[2] == "bmp" else _png("RGBA" if p[1].endswith("/lit") else "RGB")
        if cmd == "vget /cameras":
            return "cam0 cam1"
        if cmd == "vget /camera/0/location":
            return "0.000 0.000 300.000"
        if cmd == "vget /camera/1/location":
            a = self.poses.get(self.agent)
            return f"{a[0]:.3f} {a[1]:.3f} {a[2] + 160:.3f}" if a else "error no camera 1"
        if cmd == "vget /objects":
            return " ".join(self.objects + [n for n in self.poses if n not in self.objects])
        m = re.match(r"v(get|set) /object/([^/]+)/(\w+)(.*)", cmd)
        if m:
            return self._object(m.group(1), m.group(2), m.group(3), m.group(4).split())
        if p[:2] == ["vset", "/objects/spawn_from_path"] or p[:2] == ["vset", "/objects/spawn"]:
            self.poses[p[3]] = [0.0] * 6
            return "ok"
        if p[0] == "vbp" and p[2] == "set_pickup":
            self.carrying = True
            return "{}"
        if p[0] == "vbp" and p[2] == "get_door_state":
            return json.dumps({"door_state": "0"})
        return "{}" if p[0] == "vbp" else "ok"

    def _object(self, verb, name, prop, args):
        if prop == "destroy":
            self.objects = [o for o in self.objects if o != name]
            self.poses.pop(name, None)
            if name == PD:
                self.carrying = False
            return "ok"
        if name not in self.poses:
            return "ok" if verb == "set" else f"error Object {name} not found"
        pose = self.poses[name]
        if name == PD and self.carrying:
            a = self.poses[self.agent]
            pose[:3] = [a[0], a[1], a[2] - 30]
        if prop == "color":
            return "(R=1,G=2,B=3,A=255)"
        sl = slice(0, 3) if prop == "location" else slice(3, 6)
        if verb == "set":
            pose[sl] = [float(v) for v in args]
            return "ok"
        return " ".join(f"{v:.3f}" for v in pose[sl])


def _golden(name: str) -> list[str]:
    lines = (GOLDEN / f"{name}.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def _acts(log: list[str]) -> list[str]:
    """What changes the world, renders or waits; reads dropped."""
    out = []
    for cmd in log:
        p = cmd.split()
        if p[0] == "vget" and not re.fullmatch(r"/camera/\d+/lit", p[1]):
            continue
        if p[0] == "vbp" and p[2].startswith("get_"):
            continue
        out.append(cmd)
    return out


def _same(a: str, b: str) -> bool:
    ta, tb = a.split(), b.split()
    if len(ta) != len(tb):
        return False
    for x, y in zip(ta, tb):
        try:
            if not math.isclose(float(x), float(y), abs_tol=1e-3):
                return False
        except ValueError:
            if x != y:
                return False
    return True


def _compare(golden: list[str], got: list[str], what: str) -> None:
    for i, (g, o) in enumerate(zip(golden, got)):
        assert _same(g, o), f"{what}: command {i + 1} differs: release {g!r}, ours {o!r}\nours: {got[max(0, i - 3):i + 3]}"
    assert len(golden) == len(got), f"{what}: release sends {len(golden)} commands, ours {len(got)}: " \
                                    f"{(golden if len(golden) > len(got) else got)[min(len(golden), len(got)):]}"


def _env(world: RecordingWorld, monkeypatch) -> ReleaseEnv:
    cfg = OmegaConf.load(CONF_DIR / "env" / "unrealzoo.yaml")
    cfg.gpu = 0
    env = make_env(InProcessClient(world), env_config(cfg))
    assert isinstance(env, ReleaseEnv)  # the release's protocol is env=unrealzoo's default
    monkeypatch.setattr(ReleaseEnv, "_sleep", lambda self, s: world.log.append(f"sleep {s}"))
    return env


def _task(**kw) -> Task:
    base = dict(task_id="m/t", map="SuburbNeighborhood_Day", split="ood", type="0", instruction="go",
                start_pose=[-100.0, -450.0, 113.642, 0.0, 90.0, 0.0], target_poses=[[0.0] * 6])
    return Task(**(base | kw))


def test_reset_of_a_task_without_an_object_is_the_releases(monkeypatch):
    world = RecordingWorld(["Floor_1", "BP_Animal_Dog_2", "DirectionalLight", "bp_grabmovedrop_c_7", "Sport_Car_3",
                            "Wall_9"])
    env = _env(world, monkeypatch)
    obs = env.reset(_task(exposure=-0.5))
    _compare(_golden("reset_basic"), _acts(world.log), "reset (basic)")
    assert obs.pose[:3] == [-100.0, -450.0, 113.642] and obs.rgb.shape == (3, 4, 3)
    assert Image.open(io.BytesIO(obs.png)).format == "PNG" and Image.open(io.BytesIO(obs.png)).mode == "RGB"


@pytest.fixture()
def pick_drop(monkeypatch):
    world = RecordingWorld(["Bench_1", "BP_GrabMoveDrop_C_0", "drone_4"])
    env = _env(world, monkeypatch)
    task = _task(map="VictorianTrainStation", type="4.2", start_pose=[100.0, 200.0, 90.0, 0.0, 0.0, 0.0],
                 pick_object=PD, pd_type="pd", pick_appearance=18, pick_size=2.0,
                 pick_start_pose=[200.0, 200.0, 0.0, 0.0, 45.0, 0.0])
    env.reset(task)
    return world, env


def test_reset_of_a_pick_and_drop_task_is_the_releases(pick_drop):
    world, _ = pick_drop
    _compare(_golden("reset_pick_drop"), _acts(world.log), "reset (Pick & Drop)")


def test_every_action_is_the_releases_command_for_command(pick_drop):
    world, env = pick_drop
    for action in ("MoveForward", "MoveBackward", "TurnLeft", "TurnRight", "LookUp", "LookDown", "OpenDoor",
                   "MidwayTarget", "DropObject_not_held", "PickObject_out_of_reach", "PickObject", "DropObject",
                   "Finish"):
        world.log.clear()
        if action == "PickObject_out_of_reach":
            world.poses[PD][:3] = [600.0, 200.0, 0.0]
        result = env.step(action.split("_")[0])
        if action == "PickObject_out_of_reach":
            world.poses[PD][:3] = [200.0, 200.0, 0.0]
        _compare(_golden(action), _acts(world.log), action)
        if action == "PickObject":
            assert result.obs.held_object == PD
        if action == "DropObject":
            assert result.obs.held_object is None and result.dropped_at == [170.0, 200.0, 50.0]
    assert not any("get_hit" in c for c in world.log)  # collision comes from the pose read back


def test_the_ego_camera_offset_and_setup_commands_of_the_config_are_used(monkeypatch):
    # env.cam_offset places every cycle's set_cam (the release's 5 0 -50 by default); env.setup_commands are sent
    # once the task's character is spawned. Neither changes anything else the release sends.
    world = RecordingWorld([])
    env = _env(world, monkeypatch)
    env.cfg.cam_offset, env.cfg.setup_commands = (10, 0, 70), ("vrun r.Shadow.Virtual.Enable 0", "vbp {agent} set_x 1")
    env.reset(_task())
    assert world.log.count("vrun r.Shadow.Virtual.Enable 0") == 1 and "vbp spawned_char_0 set_x 1" in world.log
    world.log.clear()
    env.step("LookUp")
    assert "vbp spawned_char_0 set_cam 10 0 70 0 30 0" in world.log
    world.log.clear()
    env.step("MoveForward")
    assert world.log.count("vbp spawned_char_0 set_cam 10 0 70 0 0 0") == 3


def test_per_map_clean_up_follows_the_release(monkeypatch):
    # IndustrialArea: its five doors are put back to their closed rotations and read back.
    world = RecordingWorld([])
    env = _env(world, monkeypatch)
    for i in range(5):
        world.poses[f"BP_Door_main_industria{i + 2}_{i}"] = [0.0] * 6
    env.reset(_task(map="IndustrialArea"))
    sent = _acts(world.log)
    assert "vset /object/BP_Door_main_industria2_0/rotation 0.0 -90.0 0.0" in sent
    assert "vset /object/BP_Door_main_industria4_2/rotation 0.0 90.0 0.0" in sent
    assert "vrun set PostProcessVolume BlendWeight 0" in sent and "vrun r.ExposureOffset 0.0" in sent
    # ModularNeighborhood: the release stops unless all twelve automatic garage doors are there.
    world = RecordingWorld([f"BP_Garage_Single_{i}" for i in range(11)])
    with pytest.raises(Exception, match="expects 12 overlap_off actor"):
        _env(world, monkeypatch).reset(_task(map="ModularNeighborhood"))
    # Lv_Bazaar: only the listed sandstorm emitters go (Emitter_1 stays).
    world = RecordingWorld(["Emitter_0", "Emitter_1", "Emitter_32"])
    _env(world, monkeypatch).reset(_task(map="Lv_Bazaar"))
    destroyed = [c.split("/")[2] for c in world.log if c.endswith("/destroy") and "Emitter" in c]
    assert destroyed == ["Emitter_0", "Emitter_32"]
    # A map the release does not list (our stand-in's): the character starts at the task's pose, exposure 0.
    world = RecordingWorld([])
    _env(world, monkeypatch).reset(_task(map="Street_25"))
    assert "vset /object/spawned_char_0/location -100.0 -450.0 113.642" in world.log


def test_an_error_from_an_optional_query_is_noted_not_fatal(monkeypatch):
    world = RecordingWorld([])
    handle = world.handle
    world.handle = lambda cmd: ("error unknown function get_door_state" if "get_door_state" in cmd else
                                "error no object_mask" if "object_mask" in cmd else handle(cmd))
    env = _env(world, monkeypatch)
    env.reset(_task())
    r = env.step("MoveForward")
    assert r.obs.door_state == {} and any("get_door_state" in n for n in env.notes)
    assert r.obs.visible == {} and r.obs.rgb.shape == (3, 4, 3) and any("object_mask" in n for n in env.notes)
    assert r.collided  # the character did not move: the pose read back says it was stopped
    r = env.step("TurnLeft")
    assert r.collided  # nor turn (this world never moves it)


def test_frames_reach_the_model_as_rgb_pngs():
    from embrace_bench.env.replies import decode_png, rgb_png

    rgba = _png("RGBA")
    out = rgb_png(rgba, decode_png(rgba, "lit"))
    im = Image.open(io.BytesIO(out))
    assert im.mode == "RGB" and (np.asarray(im) == 200).all()
    assert rgb_png(out, decode_png(out, "lit")) is out  # an RGB PNG passes untouched
    bmp = rgb_png(_bmp(), decode_png(_bmp(), "lit"))
    assert Image.open(io.BytesIO(bmp)).mode == "RGB"


def test_release_tasks_keep_their_exposure(tmp_path):
    from embrace_bench.tasks.embrace_release import load_release
    from embrace_bench.tasks.suite import SuiteError

    src = ROOT / "tests" / "fixtures" / "embrace_release" / "benchmark"
    dst = tmp_path / "benchmark"
    import shutil

    shutil.copytree(src, dst)
    f = dst / "task" / "Street_25" / "x001753_y002542_z000090_t0_a.json"
    d = json.loads(f.read_text())
    f.write_text(json.dumps(d | {"Exposure": 1.5}))
    tasks = {t.task_id: t for t in load_release(dst).tasks}
    assert tasks["Street_25/x001753_y002542_z000090_t0_a"].exposure == 1.5
    assert tasks["Street_25/x002512_y003247_z000090_t4_a"].exposure is None
    assert tasks["Street_25/x001753_y002542_z000090_t0_a"].to_json()["Exposure"] == 1.5
    f.write_text(json.dumps(d | {"Exposure": "bright"}))
    with pytest.raises(SuiteError, match="Exposure must be a number from -10 to 10 or null, not 'bright'"):
        load_release(dst)


def test_the_configured_reach_is_the_releases_pick_gate():
    """The planner, the prompt and ReleaseEnv's Pick gate all read magnitudes.interact_cm (the release's 210 cm);
    Pick acts beyond the 30 cm in which the object is in the hand."""
    import dataclasses

    from embrace_bench.env.release_env import IN_HAND_CM, ReleaseEnv

    cfg = env_config(OmegaConf.load(CONF_DIR / "env" / "unrealzoo.yaml"))
    assert cfg.mags.interact_cm == 210.0 and IN_HAND_CM == 30.0
    env = ReleaseEnv(None, cfg)
    for d, acts in ((29.0, False), (30.0, False), (31.0, True), (209.0, True), (210.0, False), (230.0, False)):
        env._pd_distance = lambda d=d: d
        assert env._in_pick_range() is acts, d
    cfg.mags = dataclasses.replace(cfg.mags, interact_cm=250.0)  # a configured reach moves the gate with it
    assert env._in_pick_range() is True


def test_a_pick_and_drop_start_given_as_a_location_keeps_the_spawn_rotation(tmp_path):
    # The release sets the object's rotation only when PD_Start_Pose has one; otherwise it keeps the 0 0 0 it was
    # spawned with.
    import shutil

    from embrace_bench.tasks.embrace_release import load_release

    dst = tmp_path / "benchmark"
    shutil.copytree(ROOT / "tests" / "fixtures" / "embrace_release" / "benchmark", dst)
    f = next((dst / "task").glob("*/*_pd.json"))
    f.write_text(json.dumps(json.loads(f.read_text()) | {"PD_Start_Pose": [10, 20, 30]}))
    task = next(t for t in load_release(dst).tasks if t.type == "4.2")
    assert task.pick_start_pose == [10.0, 20.0, 30.0, 0.0, 0.0, 0.0]
