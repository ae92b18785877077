"""Hand-built trajectories for every type's success rule, GDE, SSPL and the intervals."""
import json
import math

import pytest

from embrace_bench.records import EpisodeRecord, StepRecord, TaskInfo, append_record
from embrace_bench.scoring.cli import score_main
from embrace_bench.scoring.metrics import aggregate, bootstrap_ci, score_episode, sspl, wilson_interval
from embrace_bench.scoring.rescore import rescore_run

START = [0.0, 0.0, 90.0, 0.0, 0.0, 0.0]


def traj(*moves, **last):
    """Steps from (action, x, y) triples; extra fields go on the last step."""
    steps, pose = [], START
    for i, (a, x, y, *extra) in enumerate(moves):
        after = [x, y, 90.0, 0.0, 0.0, 0.0]
        s = StepRecord(index=i, action=a, pose_before=pose, pose_after=after)
        for k, v in (extra[0] if extra else {}).items():
            setattr(s, k, v)
        steps.append(s)
        pose = after
    for k, v in last.items():
        setattr(steps[-1], k, v)
    return steps


def info(*targets, **kw):
    return TaskInfo(instruction="", target_poses=[[x, y, 0, 0, 0, 0] for x, y in targets], target_objects=[], **kw)


def test_basic_success_too_far_and_timeout():
    t = info((1000, 0))
    ok = score_episode(traj(("MoveForward", 500, 0), ("MoveForward", 750, 0), ("Finish", 750, 0)), t, 32)
    assert ok.success and ok.gde_cm == 250 and ok.n_steps == 3
    far = score_episode(traj(("MoveForward", 500, 0), ("Finish", 500, 0)), t, 32)
    assert not far.success and far.reason == "finished 500 cm from the target"
    to = score_episode(traj(*[("TurnLeft", 0, 0)] * 32), t, 32)
    assert not to.success and not to.finished and "step limit" in to.reason and to.gde_cm == 1000


def test_episode_ends_at_first_finish():
    t = info((1000, 0))
    sc = score_episode(traj(("Finish", 0, 0), ("MoveForward", 1000, 0), ("Finish", 1000, 0)), t, 32)
    assert not sc.success and sc.n_steps == 1


def test_multistage_rules_and_gde():
    t = info((1000, 0), (1000, 2000))
    good = traj(("MoveForward", 900, 0), ("MidwayTarget", 900, 0), ("MoveForward", 900, 1800), ("Finish", 900, 1800))
    sc = score_episode(good, t, 32)
    assert sc.success and sc.gde_cm == pytest.approx(100 + math.hypot(100, 200))
    far_mid = traj(("MoveForward", 500, 0), ("MidwayTarget", 500, 0), ("MoveForward", 900, 1800), ("Finish", 900, 1800))
    assert score_episode(far_mid, t, 32).reason == "MidwayTarget 500 cm from subgoal 1"
    missing = traj(("MoveForward", 1000, 0), ("MoveForward", 1000, 1900), ("Finish", 1000, 1900))
    sc = score_episode(missing, t, 32)
    # Missing MidwayTarget: subgoal 1 term is measured from the start pose.
    assert not sc.success and sc.reason == "no MidwayTarget before Finish" and sc.gde_cm == pytest.approx(1000 + 100)
    finish_first = traj(("MoveForward", 1000, 1900), ("Finish", 1000, 1900), ("MidwayTarget", 1000, 1900))
    assert not score_episode(finish_first, t, 32).success


def test_open_door_needs_the_named_door_open_at_finish():
    t = info((500, 0), door="Door_01")
    opened = traj(("MoveForward", 400, 0), ("OpenDoor", 400, 0), ("Finish", 400, 0), door_state={"Door_01": 1})
    assert score_episode(opened, t, 32).success
    closed = traj(("MoveForward", 400, 0), ("Finish", 400, 0), door_state={"Door_01": 0, "Door_02": 1})
    assert score_episode(closed, t, 32).reason == "door Door_01 closed at Finish"


def test_pick_and_drop_rules():
    t = info((2000, 0), pick_object="Bag_01")
    good = traj(("PickObject", 0, 0, {"held_object": "Bag_01"}), ("MoveForward", 1900, 0, {"held_object": "Bag_01"}),
                ("DropObject", 1900, 0, {"dropped_at": [1980, 0, 0]}), ("Finish", 1900, 0))
    assert score_episode(good, t, 32).success
    far = traj(("PickObject", 0, 0, {"held_object": "Bag_01"}), ("DropObject", 0, 0, {"dropped_at": [80, 0, 0]}),
               ("MoveForward", 1900, 0), ("Finish", 1900, 0))
    assert score_episode(far, t, 32).reason == "Bag_01 dropped 1920 cm from the target"
    never = traj(("MoveForward", 1900, 0), ("Finish", 1900, 0))
    assert score_episode(never, t, 32).reason == "Bag_01 never picked up"
    wrong = traj(("PickObject", 0, 0, {"held_object": "Bag_02"}), ("MoveForward", 1900, 0),
                 ("DropObject", 1900, 0, {"dropped_at": [1980, 0, 0]}), ("Finish", 1900, 0))
    assert not score_episode(wrong, t, 32).success


def test_sspl():
    assert sspl(True, 10, 5) == 1.0
    assert sspl(True, 10, 20) == 0.5
    assert sspl(False, 10, 10) == 0.0


def test_wilson_known_values():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson_interval(5, 10)
    assert (lo, hi) == pytest.approx((0.2366, 0.7634), abs=1e-4)


def test_bootstrap_is_deterministic_and_brackets_the_mean():
    v = [1.0, 2.0, 3.0, 10.0]
    assert bootstrap_ci(v) == bootstrap_ci(v)
    lo, hi = bootstrap_ci(v)
    assert lo <= 4.0 <= hi


def _record(task_id, type_, split, success, status="finished", gde=100.0, steps=5):
    return EpisodeRecord(task_id=task_id, type=type_, split=split, map="M", model="m", status=status,
                         success=success, gde_cm=gde, sspl=1.0 if success else 0.0, n_steps=steps, s_opt=5,
                         task=info((0, 0)))


def test_aggregate_per_type_and_errors_counted_apart():
    recs = [_record("a", "0", "id", True), _record("b", "0", "id", False, "timeout", steps=32),
            _record("c", "0", "id", False, "error"), _record("d", "1", "ood", True)]
    rep = aggregate(recs)
    basic = rep.row("id", "0")
    assert (basic.n, basic.n_errors, basic.sr, basic.tr, basic.steps) == (2, 1, 0.5, 0.5, 18.5)
    assert rep.row("ood", "1").sr == 1.0 and rep.row("all", "all").n == 3


def test_rescore_run_from_records_and_truncated_line(tmp_path, capsys):
    steps = traj(("MoveForward", 900, 0), ("Finish", 900, 0))
    rec = EpisodeRecord(task_id="x", type="0", split="id", map="M", model="m", status="finished", success=False,
                        gde_cm=0.0, sspl=0.0, n_steps=0, s_opt=2, task=info((1000, 0)), steps=steps)
    (tmp_path / "manifest.json").write_text(json.dumps({"max_steps": 32}))
    append_record(tmp_path / "episodes.jsonl", rec)
    with open(tmp_path / "episodes.jsonl", "a") as f:
        f.write('{"task_id": "trunc')
    rep, problems = rescore_run(tmp_path)
    assert rep.row("id", "0").sr == 1.0 and rep.row("id", "0").gde == 100.0  # recomputed, not trusted
    assert len(problems) == 1 and "unreadable record" in problems[0]
    assert score_main([str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"][0]["sr"] == 1.0
    assert score_main([str(tmp_path / "missing")]) == 2
