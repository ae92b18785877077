"""The embedded world's UnrealZoo mode: asynchronous levels, a character to spawn, wall-clock ticks, stale
frames, UnrealZoo's own character calls; and UnrealEnv's options for them (realtime stepping, recapture)."""
import json
import math

import pytest

from embrace_bench.env.unreal_env import EnvConfig, UnrealEnv, decode_png
from embrace_bench.tasks.suite import load_embedded
from embrace_bench.world.unrealzoo import HEAD_Z, UnrealZooEngine

from fakes import InProcessClient

TASKS = {t.task_id: t for t in load_embedded(("id",)).tasks}
BP = "/Game/SmartLocomotion/Blueprints/BP_Character.BP_Character_C"


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture()
def zoo():
    clock = Clock()
    eng = UnrealZooEngine("numpy", width=64, height=48, load_s=2.0, spawn_s=0.5, tick_s=0.05, clock=clock)
    return eng, clock


def _ready(eng, clock, task, name="A"):
    assert eng.handle(f"vset /action/game/level {task.map}") == "ok"
    clock.t += 2.0
    assert eng.handle(f"vset /objects/spawn_from_path {BP} {name}") == "ok"
    clock.t += 0.5
    x, y, _, _, yaw, _ = task.Start_Pose
    assert eng.handle(f"vset /object/{name}/location {x} {y} 90") == "ok"
    assert eng.handle(f"vset /object/{name}/rotation 0 {yaw} 0") == "ok"


def _xy(eng, name="A"):
    return [float(v) for v in eng.handle(f"vget /object/{name}/location").split()[:2]]


def test_levels_load_in_the_background_and_the_character_must_be_spawned(zoo):
    eng, clock = zoo
    t = TASKS["id-0-000"]
    assert eng.handle(f"vset /action/game/level {t.map}") == "ok"
    for cmd in ("vget /objects", "vget /camera/0/location", "vget /object/TrashCan_03/location"):
        assert eng.handle(cmd).startswith("error level is still loading")
    assert eng.handle("vget /unrealcv/status").startswith("Is Listening")  # the server itself answers
    clock.t += 2.0
    assert not eng.handle("vget /camera/0/location").startswith("error")
    assert eng.handle("vbp A set_move 0 100").startswith("error no character")  # nothing spawned yet
    assert eng.handle(f"vset /objects/spawn_from_path {BP} A") == "ok"
    assert eng.handle("vget /object/A/location").startswith("error")  # not queryable at once
    clock.t += 0.5
    assert len(eng.handle("vget /object/A/location").split()) == 3
    assert eng.handle("vget /cameras") == "cam0 cam1"


def test_set_move_is_integrated_over_the_wall_clock_in_whole_ticks(zoo):
    eng, clock = zoo
    t = TASKS["id-0-000"]
    _ready(eng, clock, t)
    x0, y0 = _xy(eng)
    eng.handle("vbp A set_move 0 100")
    eng.handle("vset /action/game/resume")
    clock.t += 0.12  # mid-move query: 2 whole ticks have run
    assert math.dist(_xy(eng), (x0, y0)) == pytest.approx(10.0, abs=2e-3)  # locations come with 3 decimals
    clock.t += 0.154  # 0.274 s in all: rounds to 5 ticks at the pause
    eng.handle("vset /action/game/pause")
    assert math.dist(_xy(eng), (x0, y0)) == pytest.approx(25.0, abs=2e-3)
    clock.t += 5.0  # paused: the world stands still
    assert math.dist(_xy(eng), (x0, y0)) == pytest.approx(25.0, abs=2e-3)
    eng.handle("vset /action/game/resume")
    clock.t += 0.276  # a late pause: 6 ticks, a longer move
    eng.handle("vset /action/game/pause")
    assert math.dist(_xy(eng), (x0, y0)) == pytest.approx(25.0 + 30.0, abs=2e-3)
    yaw = float(eng.handle("vget /object/A/rotation").split()[1])
    eng.handle("vbp A set_move 40 0")  # a yaw rate in deg/s
    eng.handle("vset /action/game/resume")
    clock.t += 0.5
    eng.handle("vset /action/game/pause")
    assert float(eng.handle("vget /object/A/rotation").split()[1]) == pytest.approx(((yaw + 20 + 180) % 360) - 180, abs=1e-3)


def test_the_first_capture_after_a_move_is_stale(zoo):
    eng, clock = zoo
    _ready(eng, clock, TASKS["id-0-000"])
    before = eng.handle("vget /camera/1/lit png")
    assert eng.handle("vget /camera/1/lit png") == before
    eng.handle("vbp A set_move 0 400")
    eng.handle("vset /action/game/resume")
    clock.t += 0.25
    eng.handle("vset /action/game/pause")
    eng.handle("vbp A set_move 0 0")
    assert eng.handle("vget /camera/1/lit png") == before  # UE5: still the previous frame
    after = eng.handle("vget /camera/1/lit png")
    assert after != before
    eng.handle("vbp A set_cam 0 0 -50 0 30 0")  # a look, then an idle tick before capturing: current at once
    eng.handle("vset /action/game/resume")
    clock.t += 0.05
    eng.handle("vset /action/game/pause")
    looked = eng.handle("vget /camera/1/lit png")
    assert looked not in (before, after) and eng.handle("vget /camera/1/lit png") == looked


def test_unrealzoo_character_calls(zoo):
    eng, clock = zoo
    t = TASKS["id-4_1-000"]
    _ready(eng, clock, t)
    assert json.loads(eng.handle("vbp A get_door_state")) == {"door_state": "0"}
    assert eng.handle("vbp A get_pickup").startswith("error unknown function")  # not an UnrealZoo call
    assert eng.handle("vrun r.MotionBlurQuality 0") == "ok" and eng.console == ["r.MotionBlurQuality 0"]
    # Walk the demo up to its OpenDoor, as the stepping protocol would.
    for a in t.Action[: t.Action.index("OpenDoor")]:
        turn, dist = {"MoveForward": (0, 235), "TurnLeft": (-30, 0), "TurnRight": (30, 0)}[a]
        eng.handle(f"vbp A set_move {turn} {dist}")
        eng.handle("vset /action/game/resume")
        clock.t += 1.0
        eng.handle("vset /action/game/pause")
        eng.handle("vbp A set_move 0 0")
    assert eng.handle("vbp A set_open_door 1") == "{}"
    assert json.loads(eng.handle("vbp A get_door_state")) == {"door_state": "1"}
    cam = [float(v) for v in eng.handle("vget /camera/1/location").split()]
    assert cam[2] == pytest.approx(HEAD_Z - 50)  # set_cam z is relative to the head: EmbRACE's -50 -> 160 cm


@pytest.mark.parametrize("mode", ["none", "recapture", "wait_tick"])
def test_env_handles_the_stale_frame_as_configured(mode):
    eng = UnrealZooEngine("numpy", width=64, height=48, load_s=0.0, spawn_s=0.0, tick_s=0.02)
    cfg = EnvConfig(width=64, height=48, realtime=True, step_s=0.06, tick_s=0.04, stale_frame=mode,
                    agent_blueprint=BP, cam_offset=(5.0, 0.0, -50.0), level_timeout_s=5)
    env = UnrealEnv(InProcessClient(eng), cfg)
    t = TASKS["id-0-000"]
    first = env.reset(t)
    assert first.pose[:2] == pytest.approx(t.Start_Pose[:2], abs=1e-3)
    r = env.step("MoveForward")
    moved = math.dist(r.pose_before[:2], r.pose_after[:2])
    assert moved > 0 and moved == pytest.approx(235.0, abs=235.0 / 3 + 1e-6)  # whole ticks of a wall-clock move
    current = decode_png(eng.handle("vget /camera/1/lit png"), "lit")  # the buffer is current by now
    if mode == "none":
        assert (r.obs.rgb == first.rgb).all()  # stale: what the agent would see without handling it
    else:
        assert (r.obs.rgb != first.rgb).any() and (r.obs.rgb == current).all()


def test_configured_move_cycles_replace_the_single_magnitude_cycle():
    from embrace_bench.world.engine import EmbeddedEngine

    cfg = EnvConfig(width=32, height=24, moves={"MoveForward": [[0, 100], [0, 35.5]], "TurnLeft": [[-10, 0], [-15, 0]]})
    env = UnrealEnv(InProcessClient(EmbeddedEngine("numpy", width=32, height=24)), cfg)
    env.reset(TASKS["id-0-000"])  # the embedded world runs 1 s of game time per cycle
    r = env.step("MoveForward")
    assert math.dist(r.pose_before[:2], r.pose_after[:2]) == pytest.approx(135.5, abs=2e-3) or r.collided
    r = env.step("TurnLeft")
    assert (r.pose_before[4] - r.pose_after[4]) % 360 == pytest.approx(25.0, abs=2e-3)
    with pytest.raises(ValueError, match="env.moves.Jump must be a move action's list"):
        EnvConfig(moves={"Jump": [[0, 1]]})
