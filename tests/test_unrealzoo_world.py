"""The embedded world's UnrealZoo mode: asynchronous levels, a character to spawn, wall-clock ticks, stale
frames, UnrealZoo's own character calls; and UnrealEnv's options for them (realtime stepping, recapture)."""
import json
import math

import pytest
from fakes import InProcessClient

from embrace_bench.env.unreal_env import EnvConfig, UnrealEnv, decode_png
from embrace_bench.tasks.maps import EMBEDDED_MAPS_DIR
from embrace_bench.tasks.suite import load_embedded
from embrace_bench.world.engine import EmbeddedEngine
from embrace_bench.world.unrealzoo import HEAD_Z, START_S, STEP_CM, WALK_MAX_CMS, UnrealZooEngine

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
    eng = UnrealZooEngine("numpy", maps_dir=EMBEDDED_MAPS_DIR, width=64, height=48, load_s=2.0, spawn_s=0.5, tick_s=0.05, clock=clock)
    return eng, clock


def _ready(eng, clock, task, name="A"):
    assert eng.handle(f"vset /action/game/level {task.map}") == "ok"
    clock.t += 2.0
    assert eng.handle(f"vset /objects/spawn_from_path {BP} {name}") == "ok"
    clock.t += 0.5
    x, y, _, _, yaw, _ = task.start_pose
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


def _cycle(eng, clock, cmd, wall_s):
    """resume, the command, `wall_s` of wall clock, pause (the release's step_sync)."""
    eng.handle("vset /action/game/resume")
    eng.handle(cmd)
    clock.t += wall_s
    eng.handle("vset /action/game/pause")


def test_set_move_walks_capped_from_a_start_up_until_the_interval_in_dilated_whole_ticks(zoo):
    eng, clock = zoo
    _ready(eng, clock, TASKS["id-0-000"])
    x0, y0 = _xy(eng)
    eng.handle("vbp A set_move 0 100")  # no set_interval: walks until the next set_move
    eng.handle("vset /action/game/resume")
    clock.t += 0.32  # mid-move query: 6 whole ticks of game time, walking from 1/6 s at the capped speed
    assert math.dist(_xy(eng), (x0, y0)) == pytest.approx(WALK_MAX_CMS * (0.3 - START_S), abs=2e-3)
    clock.t += 0.054  # 0.374 s in all: rounds to 7 ticks at the pause
    eng.handle("vset /action/game/pause")
    assert math.dist(_xy(eng), (x0, y0)) == pytest.approx(WALK_MAX_CMS * (0.35 - START_S), abs=2e-3)
    clock.t += 5.0  # paused: the world stands still
    assert math.dist(_xy(eng), (x0, y0)) == pytest.approx(WALK_MAX_CMS * (0.35 - START_S), abs=2e-3)

    # The release's setting: slomo 6 makes a 0.25 s cycle 1.5 s of game time, set_interval 1000 ends the
    # walk after 1 s of it, so each `0 200` cycle walks 62.93 uu however late the pause comes.
    assert eng.handle("vrun slomo 6") == "ok" and eng.handle("vbp A set_interval 1000") == "{}"
    x0, y0 = _xy(eng)
    for wall_s in (0.25, 0.31, 0.0):  # `0 200`, `0 200` (paused late), `0 0`
        _cycle(eng, clock, f"vbp A set_move 0 {200 if wall_s else 0}", wall_s or 0.25)
    assert math.dist(_xy(eng), (x0, y0)) == pytest.approx(STEP_CM, abs=2e-3)
    x0, y0 = _xy(eng)
    _cycle(eng, clock, "vbp A set_move 0 -43", 0.25)  # the release's back-step before a drop
    _cycle(eng, clock, "vbp A set_move 0 -43", 0.25)
    assert math.dist(_xy(eng), (x0, y0)) == pytest.approx(2 * 43 * (1 - START_S), abs=2e-3)  # "about 72 uu"

    # A pause inside the interval stops its timer too: the walk ends after 1 s of game time in all.
    assert eng.handle("vrun slomo 1") == "ok"
    x0, y0 = _xy(eng)
    _cycle(eng, clock, "vbp A set_move 0 200", 0.5)
    clock.t += 3.0
    eng.handle("vset /action/game/resume")
    clock.t += 1.0
    eng.handle("vset /action/game/pause")
    assert math.dist(_xy(eng), (x0, y0)) == pytest.approx(STEP_CM / 2, abs=2e-3)

    # The angle is a yaw step per call, whatever the time: the release's TurnRight turns 25 deg.
    yaw = float(eng.handle("vget /object/A/rotation").split()[1])
    _cycle(eng, clock, "vbp A set_move 25 0", 0.25)
    eng.handle("vbp A set_move -10 0")  # paused or not
    assert float(eng.handle("vget /object/A/rotation").split()[1]) == pytest.approx(((yaw + 15 + 180) % 360) - 180, abs=1e-3)


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
    # Put the character where the demo's walk up to its OpenDoor ends (the embedded world's magnitudes).
    emb = EmbeddedEngine("numpy", maps_dir=EMBEDDED_MAPS_DIR, width=8, height=6)
    _ready(emb, clock, t)
    for a in t.demo_actions[: t.demo_actions.index("OpenDoor")]:
        turn, dist = {"MoveForward": (0, 235), "TurnLeft": (-30, 0), "TurnRight": (30, 0)}[a]
        for cmd in (f"vbp A set_move {turn} {dist}", "vset /action/game/resume", "vset /action/game/pause"):
            emb.handle(cmd)
    assert eng.handle(f"vset /object/A/location {emb.handle('vget /object/A/location')}") == "ok"
    assert eng.handle(f"vset /object/A/rotation {emb.handle('vget /object/A/rotation')}") == "ok"
    assert eng.handle("vbp A set_open_door 1") == "{}"
    assert json.loads(eng.handle("vbp A get_door_state")) == {"door_state": "1"}
    cam = [float(v) for v in eng.handle("vget /camera/1/location").split()]
    assert cam[2] == pytest.approx(HEAD_Z - 50)  # set_cam z is relative to the head: EmbRACE's -50 -> 160 cm


@pytest.mark.parametrize("mode", ["none", "recapture", "wait_tick"])
def test_env_handles_the_stale_frame_as_configured(mode):
    eng = UnrealZooEngine("numpy", maps_dir=EMBEDDED_MAPS_DIR, width=64, height=48, load_s=0.0, spawn_s=0.0, tick_s=0.02)
    cfg = EnvConfig(width=64, height=48, realtime=True, step_s=0.06, tick_s=0.04, stale_frame=mode,
                    agent_blueprint=BP, cam_offset=(5.0, 0.0, -50.0), level_timeout_s=5, setup_commands=("vrun slomo 6",))
    env = UnrealEnv(InProcessClient(eng), cfg)
    t = TASKS["id-0-000"]
    first = env.reset(t)
    assert first.pose[:2] == pytest.approx(t.start_pose[:2], abs=1e-3)
    r = env.step("MoveForward")
    moved = math.dist(r.pose_before[:2], r.pose_after[:2])
    assert moved > 0  # a wall-clock move: the stand-in's character walks at most 75.5 cm/s of game time
    current = decode_png(eng.handle("vget /camera/1/lit png"), "lit")  # the buffer is current by now
    if mode == "none":
        assert (r.obs.rgb == first.rgb).all()  # stale: what the agent would see without handling it
    else:
        assert (r.obs.rgb != first.rgb).any() and (r.obs.rgb == current).all()


def test_configured_move_cycles_replace_the_single_magnitude_cycle():
    from embrace_bench.world.engine import EmbeddedEngine

    cfg = EnvConfig(width=32, height=24, moves={"MoveForward": [[0, 100], [0, 35.5]], "TurnLeft": [[-10, 0], [-15, 0]]})
    env = UnrealEnv(InProcessClient(EmbeddedEngine("numpy", maps_dir=EMBEDDED_MAPS_DIR, width=32, height=24)), cfg)
    env.reset(TASKS["id-0-000"])  # the embedded world runs 1 s of game time per cycle
    r = env.step("MoveForward")
    assert math.dist(r.pose_before[:2], r.pose_after[:2]) == pytest.approx(135.5, abs=2e-3) or r.collided
    r = env.step("TurnLeft")
    assert (r.pose_before[4] - r.pose_after[4]) % 360 == pytest.approx(25.0, abs=2e-3)
    with pytest.raises(ValueError, match="env.moves.Jump must be a move action's list"):
        EnvConfig(moves={"Jump": [[0, 1]]})
