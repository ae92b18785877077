"""Scores of the hand-written fixture tasks in both formats, against values worked out by hand.

Release fixture regions are axis-aligned boxes (see tests/fixtures/embrace_release/.../area.json), so every
expected number below is a subtraction or one Pythagoras; each comment shows the working. The v1 fixtures
are scored by the 300 cm radius; the release ones by their regions (z tolerance 100 cm).
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from embrace_bench.episode import task_info
from embrace_bench.records import StepRecord
from embrace_bench.scoring.metrics import score_episode, sspl
from embrace_bench.tasks.embrace_release import PD_ACTOR, load_release
from embrace_bench.tasks.embrace_v1 import load_v1

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
RELEASE = {t.type: t for t in load_release(FIX / "embrace_release", z_tolerance_cm=100.0).tasks}  # one per type
V1 = {t.task_id: t for t in load_v1(FIX / "embrace_v1", "id").tasks}


def steps(start, *moves):
    """(action, x, y[, z][, {field: value}]) -> step records chained from the start pose."""
    out, before = [], list(start)
    for i, (action, *rest) in enumerate(moves):
        extra = rest.pop() if rest and isinstance(rest[-1], dict) else {}
        x, y, z = (rest + [90.0])[:3]
        after = [float(x), float(y), float(z), 0.0, 0.0, 0.0]
        s = StepRecord(index=i, action=action, pose_before=before, pose_after=after)
        for k, v in extra.items():
            setattr(s, k, v)
        out.append(s)
        before = after
    return out


def demo_steps(task, **last):
    """The task's recorded demo as step records (its Trajectory_Pose), extra fields on the Finish step."""
    poses = task.demo_poses
    out = [StepRecord(index=i, action=a, pose_before=poses[i], pose_after=poses[i + 1]) for i, a in enumerate(task.demo_actions)]
    for k, v in last.items():
        setattr(out[-1], k, v)
    return out


def score(task, st, max_steps=60):
    sc = score_episode(st, task_info(task, 300.0), max_steps, start_pose=task.start_pose, type_=task.type)
    return sc, sspl(sc.success, task.s_opt, sc.n_steps)


# ---- release: Basic (region x 198.1..714.1, y 1947.1..2463.1, hole x 300..400 y 2300..2400;
#      footprint x 418.1..494.1, y 2167.1..2243.1; reference z 90) -----------------------------------
def test_release_basic():
    t = RELEASE["0"]
    sc, ss = score(t, demo_steps(t))  # Finish at (662.174, 2222.879): inside, not in the hole
    assert sc.success and ss == 1.0  # s_opt 8 = n 8
    assert sc.gde_cm == pytest.approx(168.074, abs=1e-3)  # 662.174 - 494.1 (y within the footprint's span)
    sc, _ = score(t, steps(t.start_pose, ("MoveForward", 350, 2350), ("Finish", 350, 2350)))
    assert not sc.success and sc.reason == "finished outside the region of the target"  # in the hole
    assert sc.gde_cm == pytest.approx(126.749, abs=1e-3)  # sqrt((418.1-350)^2 + (2350-2243.1)^2) = sqrt(16065.22)
    sc, _ = score(t, steps(t.start_pose, ("Finish", 662.174, 2222.879, 250)))  # right place, 160 cm too high
    assert not sc.success and sc.reason == "finished 160 cm off the reference height of the target"
    sc, _ = score(t, steps(t.start_pose, *[("TurnLeft", 1000, 2300)] * 60))
    assert sc.timed_out and sc.reason == "no Finish in 60 steps (limit 60)"
    assert sc.gde_cm == pytest.approx(509.090, abs=1e-3)  # sqrt((1000-494.1)^2 + (2300-2243.1)^2) = sqrt(259172.42)


# ---- release: Multi-stage (midway region x 1527.9..2043.9, y 1893.5..2409.5, footprint x 1747.9..1823.9,
#      y 2113.5..2189.5; final region x 2241.6..2861.6, y 2132.3..3022.3, footprint x 2461.6..2641.6,
#      y 2352.3..2802.3) --------------------------------------------------------------------------------
def test_release_multistage():
    t = RELEASE["3"]
    sc, ss = score(t, demo_steps(t))  # MidwayTarget at (1817.201, 2221.215), Finish at (2416.901, 2469.95)
    assert sc.success and ss == 1.0
    assert sc.gde_cm == pytest.approx(76.414, abs=1e-3)  # (2461.6 - 2416.901) + (2221.215 - 2189.5)
    # The release judges the LAST MidwayTarget: a second one outside the midway region fails the task.
    sc, _ = score(t, steps(t.start_pose, ("MoveForward", 1817.201, 2221.215), ("MidwayTarget", 1817.201, 2221.215),
                           ("MoveForward", 2300, 2500), ("MidwayTarget", 2300, 2500),
                           ("MoveForward", 2416.901, 2469.95), ("Finish", 2416.901, 2469.95)))
    assert not sc.success and sc.reason == "MidwayTarget outside the region of subgoal 1" and sc.midway_index == 3
    # 44.699 + sqrt((2300-1823.9)^2 + (2500-2189.5)^2) = 44.699 + sqrt(323081.46) = 44.699 + 568.403
    assert sc.gde_cm == pytest.approx(613.102, abs=1e-3)
    sc, _ = score(t, steps(t.start_pose, ("MoveForward", 2416.901, 2469.95), ("Finish", 2416.901, 2469.95)))
    assert not sc.success and sc.reason == "no MidwayTarget before Finish"
    # 44.699 + distance from the START (2711.7, 1932.3): sqrt(887.8^2 + 181.2^2) = sqrt(821022.28) = 906.103
    assert sc.gde_cm == pytest.approx(950.802, abs=1e-3)


# ---- release: Open Door (region x 1922.5..2482.5, y 3864..4424; footprint x 2142.5..2262.5, y 4084..4204) --
def test_release_open_door():
    t = RELEASE["4.1"]
    assert t.door is None  # the release names no door: the character's door state decides
    sc, _ = score(t, demo_steps(t, door_state={"door_state": 1}))
    assert sc.success and sc.gde_cm == pytest.approx(39.433, abs=1e-3)  # 2301.933 - 2262.5
    sc, _ = score(t, demo_steps(t, door_state={"door_state": 0}))
    assert not sc.success and sc.reason == "no door open at Finish"


# ---- release: Pick & Drop, PD_Type pd (character region x 4220.1..4736.1, y 3503.8..4019.8; object region
#      x 4298.1..4658.1, y 3581.8..3941.8, reference z 0; footprint x 4440.1..4516.1, y 3723.8..3799.8) ------
def _pick_drop(t, drop_at, held_at_finish=False):
    """Walk to the object, pick it up (it rides at hand height, z 60), carry it to (4450, 3650), then drop it
    at `drop_at`, or keep holding it, and Finish there."""
    def held(x, y):
        return {"held_object": PD_ACTOR, "object_pose": [x, y, 60.0]}

    end = (("TurnLeft", 4450, 3650, held(4450, 3650)), ("Finish", 4450, 3650, held(4450, 3650))) if held_at_finish else \
        (("DropObject", 4450, 3650, {"object_pose": drop_at, "dropped_at": drop_at}),
         ("Finish", 4450, 3650, {"object_pose": drop_at}))
    return steps(t.start_pose, ("MoveForward", 5430, 3130, {"object_pose": [5435.1, 3130.5, 0.0]}),
                 ("PickObject", 5430, 3130, held(5430, 3130)), ("MoveForward", 4450, 3650, held(4450, 3650)), *end)


def test_release_pick_and_drop():
    t = RELEASE["4.2"]
    sc, ss = score(t, _pick_drop(t, [4500.0, 3700.0, 0.0]))
    assert sc.success and sc.reason == ""
    assert sc.gde_cm == pytest.approx(73.8, abs=1e-6)  # 3723.8 - 3650 (x 4450 within the footprint's span)
    assert ss == 0.0  # s_opt 0: the fixture task has no reference demo
    sc, _ = score(t, _pick_drop(t, [4700.0, 3700.0, 0.0]))  # x 4700 > 4658.1
    assert not sc.success and sc.reason == f"{PD_ACTOR} rests outside the region of its target area"
    sc, _ = score(t, _pick_drop(t, None, held_at_finish=True))
    assert not sc.success and sc.reason == f"{PD_ACTOR} still held at Finish"
    sc, _ = score(t, steps(t.start_pose, ("MoveForward", 4450, 3650), ("Finish", 4450, 3650)))
    assert not sc.success and sc.reason == f"{PD_ACTOR} never picked up"
    t.pd_type = "p"  # pick only: held at Finish, the object (in hand, z 60 within 100 of 0) in the region
    try:
        sc, _ = score(t, _pick_drop(t, None, held_at_finish=True))
        assert sc.success
        sc, _ = score(t, _pick_drop(t, [4500.0, 3700.0, 0.0]))
        assert not sc.success and sc.reason == f"{PD_ACTOR} not held at Finish"
    finally:
        t.pd_type = "pd"


# ---- v1 (success radius 300 cm to Target_Pose) ----------------------------------------------------------
def test_v1_fixture_scores():
    t = V1["basic_trashcan"]
    sc, ss = score(t, demo_steps(t), max_steps=32)
    assert sc.success and ss == 1.0
    assert sc.gde_cm == pytest.approx(206.839, abs=1e-3)  # sqrt(206.074^2 + 17.779^2) = sqrt(42782.587)
    sc, _ = score(t, steps(t.start_pose, ("Finish", 800, 2400)), max_steps=32)
    assert not sc.success and sc.reason == "finished 395 cm from the target"  # sqrt(343.9^2 + 194.9^2) = 395.29
    t = V1["multistage_trashcan_car"]
    sc, _ = score(t, demo_steps(t), max_steps=32)
    # sqrt(31.301^2 + 69.715^2) = 76.420 at the MidwayTarget + sqrt(134.699^2 + 107.35^2) = 172.244 at Finish
    assert sc.success and sc.gde_cm == pytest.approx(248.664, abs=1e-3)
    t = V1["door_purple_house"]
    sc, _ = score(t, demo_steps(t, door_state={"Door_04": 1, "Door_01": 0}), max_steps=32)
    assert sc.success and sc.gde_cm == pytest.approx(99.550, abs=1e-3)  # sqrt(99.433^2 + 4.834^2)
    sc, _ = score(t, demo_steps(t, door_state={"door_state": 1}), max_steps=32)  # UnrealZoo's character state
    assert sc.success
    sc, _ = score(t, demo_steps(t, door_state={"Door_04": 0, "Door_01": 1}), max_steps=32)
    assert not sc.success and sc.reason == "door Door_04 closed at Finish"


@pytest.mark.parametrize("suite, extra, expected", [
    ("embrace_release", ["split=ood", "runner=embrace_release", "suite.types=[0,3,4.1]"],
     {"Street_25/x001753_y002542_z000090_t0_a": 168.07, "Street_39/x002712_y001932_z000090_t3_a": 76.41,
      "Street_25/x002512_y003247_z000090_t4_a": 39.43}),
    ("embrace_v1", [], {"basic_trashcan": 206.84, "multistage_trashcan_car": 248.66, "door_purple_house": 99.55}),
])
def test_the_harness_scores_its_demo_runs_as_worked_out_by_hand(tmp_path, suite, extra, expected):
    run = tmp_path / "run"
    path = FIX / suite
    p = subprocess.run([sys.executable, "-m", "embrace_bench", "model=demo", f"suite={suite}", f"suite.path={path}",
                        *extra, "env.renderer=numpy", "env.width=64", "env.height=48", f"hydra.run.dir={run}"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    recs = {r["task_id"]: r for r in map(json.loads, (run / "episodes.jsonl").read_text().splitlines())}
    assert {k: (r["success"], r["gde_cm"], r["sspl"]) for k, r in recs.items()} == \
        {k: (True, gde, 1.0) for k, gde in expected.items()}
    assert all(not math.isnan(r["gde_cm"]) for r in recs.values())
    # the release's own SPL and OS ride along on release tasks only (SPL < 1 where the demo walked further
    # than area.json's shortest path); `score --json` carries them per row
    release = suite == "embrace_release"
    assert all((r["os"], r["unscorable"]) == ((True, "") if release else (None, "")) for r in recs.values())
    assert all((0 < r["spl"] <= 1) if release else r["spl"] is None for r in recs.values())
    p = subprocess.run([sys.executable, "-m", "embrace_bench", "score", "--json", str(run)], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    overall = json.loads(p.stdout)["rows"][-1]
    assert (overall["os"], overall["n_unscorable"]) == ((1.0, 0) if release else (None, 0))
    assert overall["spl"] == (pytest.approx(sum(r["spl"] for r in recs.values()) / 3) if release else None)
