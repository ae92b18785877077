"""Hand-built trajectories for every type's success rule, GDE, SSPL, the intervals and offline re-scoring."""
import json
import math

import pytest

from embrace_bench.records import EpisodeRecord, RecordFileError, StepRecord, TaskInfo, append_record
from embrace_bench.scoring.aggregate import aggregate, bootstrap_ci, wilson_interval
from embrace_bench.scoring.cli import score_main
from embrace_bench.scoring.metrics import rescore, score_episode, sspl
from embrace_bench.scoring.rescore import format_table, report_to_json, rescore_run

START = [0.0, 0.0, 90.0, 0.0, 0.0, 0.0]


def traj(*moves, **last):
    """Steps from (action, x, y[, {field: value}]) tuples, pose_after = (x, y); extra kwargs go on the last step."""
    steps, pose = [], START
    for i, (a, x, y, *extra) in enumerate(moves):
        after = [float(x), float(y), 90.0, 0.0, 0.0, 0.0]
        s = StepRecord(index=i, action=a, valid=a is not None, pose_before=pose, pose_after=after)
        for k, v in (extra[0] if extra else {}).items():
            setattr(s, k, v)
        steps.append(s)
        pose = after
    for k, v in last.items():
        setattr(steps[-1], k, v)
    return steps


def info(*targets, **kw):
    return TaskInfo(instruction="", target_poses=[[x, y, 0, 0, 0, 0] for x, y in targets], target_objects=[], **kw)


# ---- Basic ------------------------------------------------------------------------------------
def test_basic_success():
    sc = score_episode(traj(("MoveForward", 500, 0), ("MoveForward", 750, 0), ("Finish", 750, 0)), info((1000, 0)), 32)
    assert sc.success and sc.finished and not sc.timed_out and sc.reason == ""
    assert sc.gde_cm == 250 and sc.n_steps == 3


def test_basic_finish_too_far():
    sc = score_episode(traj(("MoveForward", 500, 0), ("Finish", 500, 0)), info((1000, 0)), 32)
    assert not sc.success and sc.finished and sc.reason == "finished 500 cm from the target"


def test_radius_is_inclusive_and_xy_only():
    # 300 cm exactly counts; the z difference (90 vs 0) is ignored.
    assert score_episode(traj(("Finish", 700, 0)), info((1000, 0)), 32).success
    assert not score_episode(traj(("Finish", 699, 0)), info((1000, 0)), 32).success


def test_basic_no_finish_is_a_timeout():
    sc = score_episode(traj(*[("TurnLeft", 0, 0)] * 32), info((1000, 0)), 32)
    assert not sc.success and not sc.finished and sc.timed_out
    assert sc.reason == "no Finish in 32 steps (limit 32)" and sc.gde_cm == 1000
    short = score_episode(traj(("TurnLeft", 0, 0)), info((1000, 0)), 32)
    assert not short.timed_out and short.reason == "no Finish after 1 steps"


def test_invalid_steps_count_and_episode_ends_at_first_finish():
    t = info((1000, 0))
    sc = score_episode(traj((None, 0, 0), ("Finish", 0, 0), ("MoveForward", 1000, 0), ("Finish", 1000, 0)), t, 32)
    assert not sc.success and sc.n_steps == 2 and sc.gde_cm == 1000
    assert sc.final_pose[:2] == [0.0, 0.0]


def test_no_steps_uses_start_pose_or_reports_no_pose():
    assert score_episode([], info((300, 400)), 32, start_pose=START).gde_cm == 500
    sc = score_episode([], info((300, 400)), 32)
    assert math.isnan(sc.gde_cm) and sc.reason == "no pose recorded"


# ---- Multi-stage ------------------------------------------------------------------------------
MS = info((1000, 0), (1000, 2000))


def test_multistage_success_gde_is_the_sum():
    good = traj(("MoveForward", 900, 0), ("MidwayTarget", 900, 0), ("MoveForward", 900, 1800), ("Finish", 900, 1800))
    sc = score_episode(good, MS, 32)
    assert sc.success and sc.midway_index == 1
    assert sc.gde_cm == pytest.approx(100 + math.hypot(100, 200))


def test_multistage_midway_far_fails():
    far = traj(("MoveForward", 500, 0), ("MidwayTarget", 500, 0), ("MoveForward", 900, 1800), ("Finish", 900, 1800))
    sc = score_episode(far, MS, 32)
    assert not sc.success and sc.reason == "MidwayTarget 500 cm from subgoal 1"
    assert sc.gde_cm == pytest.approx(500 + math.hypot(100, 200))


def test_multistage_first_midway_counts():
    t = traj(("MidwayTarget", 0, 0), ("MoveForward", 1000, 0), ("MidwayTarget", 1000, 0), ("Finish", 1000, 2000))
    sc = score_episode(t, MS, 32)
    assert not sc.success and sc.reason == "MidwayTarget 1000 cm from subgoal 1" and sc.gde_cm == 1000


def test_multistage_missing_midway_measures_subgoal1_from_start():
    # Passing right over subgoal 1 without declaring it earns nothing: the term is start -> subgoal 1.
    missing = traj(("MoveForward", 1000, 0), ("MoveForward", 1000, 1900), ("Finish", 1000, 1900))
    sc = score_episode(missing, MS, 32)
    assert not sc.success and sc.reason == "no MidwayTarget before Finish"
    assert sc.gde_cm == pytest.approx(1000 + 100)


def test_multistage_finish_before_midway_fails():
    finish_first = traj(("MoveForward", 1000, 1900), ("Finish", 1000, 1900), ("MidwayTarget", 1000, 1900))
    sc = score_episode(finish_first, MS, 32)
    assert not sc.success and sc.reason == "no MidwayTarget before Finish" and sc.n_steps == 2


def test_type_argument_overrides_field_inference():
    two_targets = traj(("Finish", 1000, 2000))
    assert not score_episode(two_targets, MS, 32).success  # inferred multi-stage
    sc = score_episode(two_targets, MS, 32, type_="0")  # a Basic task: only the final target counts
    assert sc.success and sc.gde_cm == 0


# ---- Open Door --------------------------------------------------------------------------------
def test_open_door_open_at_finish():
    t = info((500, 0), door="Door_01")
    opened = traj(("MoveForward", 400, 0), ("OpenDoor", 400, 0), ("Finish", 400, 0), door_state={"Door_01": 1})
    assert score_episode(opened, t, 32).success


def test_open_door_closed_at_finish():
    t = info((500, 0), door="Door_01")
    closed = traj(("MoveForward", 400, 0), ("Finish", 400, 0), door_state={"Door_01": 0, "Door_02": 1})
    assert score_episode(closed, t, 32).reason == "door Door_01 closed at Finish"
    # Open earlier but not at the Finish step (e.g. closed again) does not count either.
    later = traj(("OpenDoor", 400, 0, {"door_state": {"Door_01": 1}}), ("Finish", 400, 0, {"door_state": {}}))
    assert not score_episode(later, t, 32).success


def test_open_door_far_and_closed_gives_both_reasons():
    sc = score_episode(traj(("Finish", 0, 0)), info((500, 0), door="Door_01"), 32)
    assert sc.reason == "finished 500 cm from the target; door Door_01 closed at Finish"


# ---- Pick & Drop ------------------------------------------------------------------------------
PD = info((2000, 0), pick_object="Bag_01")
HELD = {"held_object": "Bag_01"}


def test_pick_and_drop_success():
    good = traj(("PickObject", 0, 0, HELD), ("MoveForward", 1900, 0, HELD),
                ("DropObject", 1900, 0, {"dropped_at": [1980, 0, 0]}), ("Finish", 1900, 0))
    assert score_episode(good, PD, 32).success


def test_pick_and_drop_dropped_far():
    far = traj(("PickObject", 0, 0, HELD), ("DropObject", 0, 0, {"dropped_at": [80, 0, 0]}),
               ("MoveForward", 1900, 0), ("Finish", 1900, 0))
    assert score_episode(far, PD, 32).reason == "Bag_01 dropped 1920 cm from the target"


def test_pick_and_drop_never_picked_or_wrong_object():
    never = traj(("MoveForward", 1900, 0), ("DropObject", 1900, 0, {"dropped_at": [1980, 0, 0]}), ("Finish", 1900, 0))
    assert score_episode(never, PD, 32).reason == "Bag_01 never picked up"
    wrong = traj(("PickObject", 0, 0, {"held_object": "Bag_02"}), ("MoveForward", 1900, 0, {"held_object": "Bag_02"}),
                 ("DropObject", 1900, 0, {"dropped_at": [1980, 0, 0]}), ("Finish", 1900, 0))
    assert score_episode(wrong, PD, 32).reason == "Bag_01 never picked up"


def test_pick_and_drop_still_held_or_finish_far():
    held = traj(("PickObject", 0, 0, HELD), ("MoveForward", 1900, 0, HELD), ("Finish", 1900, 0, HELD))
    assert score_episode(held, PD, 32).reason == "Bag_01 never dropped"
    # Dropped near, picked up again and carried off: the earlier drop no longer counts.
    regrab = traj(("PickObject", 1900, 0, HELD), ("DropObject", 1900, 0, {"dropped_at": [1980, 0, 0]}),
                  ("PickObject", 1900, 0, HELD), ("Finish", 1900, 0, HELD))
    assert score_episode(regrab, PD, 32).reason == "Bag_01 never dropped"
    walked_off = traj(("PickObject", 1900, 0, HELD), ("DropObject", 1900, 0, {"dropped_at": [1980, 0, 0]}),
                      ("MoveBackward", 0, 0), ("Finish", 0, 0))
    assert score_episode(walked_off, PD, 32).reason == "finished 2000 cm from the target"


# ---- SSPL -------------------------------------------------------------------------------------
def test_sspl():
    assert sspl(True, 10, 5) == 1.0  # fewer steps than the demo: capped at 1
    assert sspl(True, 10, 20) == 0.5
    assert sspl(False, 10, 10) == 0.0
    sc = score_episode(traj(("MoveForward", 900, 0), ("Finish", 900, 0)), info((1000, 0)), 32)
    assert sc.sspl(1) == 0.5 and sc.sspl(4) == 1.0


# ---- intervals --------------------------------------------------------------------------------
def test_wilson_known_values():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_bootstrap_is_deterministic_and_brackets_the_mean():
    v = [1.0, 2.0, 3.0, 10.0]
    assert bootstrap_ci(v) == bootstrap_ci(v)
    assert bootstrap_ci(v, seed=1) != bootstrap_ci(v)
    lo, hi = bootstrap_ci(v)
    assert 1.0 <= lo <= 4.0 <= hi <= 10.0
    assert bootstrap_ci([7.0]) == (7.0, 7.0)


# ---- aggregation ------------------------------------------------------------------------------
def _record(task_id, type_, split, success, status="finished", gde=100.0, steps=5, **kw):
    return EpisodeRecord(task_id=task_id, type=type_, split=split, map="M", model="m", status=status,
                         success=success, gde_cm=gde, sspl=1.0 if success else 0.0, n_steps=steps, s_opt=5,
                         task=info((0, 0)), **kw)


def test_aggregate_per_type_and_errors_counted_apart():
    recs = [_record("a", "0", "id", True, gde=100.0, cost_usd=0.5, tokens_in=10, tokens_out=2),
            _record("b", "0", "id", False, "timeout", gde=300.0, steps=32),
            _record("c", "0", "id", False, "error", gde=9999.0, steps=1, cost_usd=0.25),
            _record("d", "1", "ood", True), _record("e", "4.2", "id", False, gde=50.0)]
    rep = aggregate(recs)
    basic = rep.row("id", "0")
    assert (basic.n, basic.n_errors, basic.n_success, basic.sr, basic.tr, basic.steps) == (2, 1, 1, 0.5, 0.5, 18.5)
    assert basic.gde == 200.0 and basic.sspl == 0.5  # the error's 9999 cm is not in the mean
    assert basic.sr_ci == pytest.approx(wilson_interval(1, 2))
    assert basic.gde_ci[0] <= 200.0 <= basic.gde_ci[1]
    split_all = rep.row("id", "all")
    assert (split_all.n, split_all.n_errors, split_all.sr) == (3, 1, pytest.approx(1 / 3))
    assert rep.row("ood", "1").sr == 1.0 and rep.row("all", "all").n == 4
    assert [(r.split, r.type) for r in rep.rows] == [("id", "0"), ("id", "4.2"), ("id", "all"),
                                                     ("ood", "1"), ("ood", "all"), ("all", "all")]
    assert (rep.cost_usd, rep.tokens_in, rep.tokens_out, rep.n_records) == (0.75, 10, 2, 5)


def test_aggregate_all_errors_gives_empty_means():
    row = aggregate([_record("c", "0", "id", False, "error")]).row("id", "0")
    assert row.n == 0 and row.n_errors == 1 and math.isnan(row.sr) and math.isnan(row.gde)
    assert json.dumps(report_to_json(aggregate([_record("c", "0", "id", False, "error")])), allow_nan=False)


def test_rescore_recomputes_from_steps_and_keeps_errors():
    steps = traj(("MoveForward", 900, 0), ("Finish", 900, 0))
    rec = EpisodeRecord(task_id="x", type="0", split="id", map="M", model="m", status="timeout", success=False,
                        gde_cm=0.0, sspl=0.0, n_steps=0, s_opt=4, task=info((1000, 0)), steps=steps)
    out = rescore(rec, 32)
    assert (out.success, out.gde_cm, out.n_steps, out.sspl, out.status) == (True, 100.0, 2, 1.0, "finished")
    assert rec.success is False  # the input record is not mutated
    err = _record("e", "0", "id", False, "error")
    assert rescore(err, 32) is err


# ---- rescore_run / CLI ------------------------------------------------------------------------
def _run_dir(d, manifest=(("max_steps", 32),)):
    """Two Basic episodes whose stored metrics are wrong: x succeeds 100 cm off, y turns 3 times (1000 cm)."""
    ok = EpisodeRecord(task_id="x", type="0", split="id", map="M", model="m", status="finished", success=False,
                       gde_cm=0.0, sspl=0.0, n_steps=0, s_opt=2, task=info((1000, 0)),
                       steps=traj(("MoveForward", 900, 0), ("Finish", 900, 0)))
    turns = EpisodeRecord(task_id="y", type="0", split="id", map="M", model="m", status="finished", success=False,
                          gde_cm=1000.0, sspl=0.0, n_steps=3, s_opt=2, task=info((1000, 0)),
                          steps=traj(*[("TurnLeft", 0, 0)] * 3))
    d.mkdir(parents=True, exist_ok=True)
    if manifest is not None:
        (d / "manifest.json").write_text(json.dumps(dict(manifest)))
    for r in (ok, turns):
        append_record(d / "episodes.jsonl", r)
    return d


def test_rescore_run_reproduces_from_records(tmp_path):
    rep = rescore_run(_run_dir(tmp_path))
    row = rep.row("id", "0")
    assert (row.n, row.sr, row.gde, row.tr) == (2, 0.5, 550.0, 0.0)  # recomputed, not trusted
    assert any("differ from the recomputed" in w and "x" in w for w in rep.warnings)
    # The step limit from the manifest's config dict, or from the caller, decides timeouts.
    from_cfg = rescore_run(_run_dir(tmp_path / "c", {"config": {"runner": {"max_steps": 3}}}))
    assert from_cfg.row("id", "0").tr == 0.5
    assert rescore_run(tmp_path, max_steps=3).row("id", "0").tr == 0.5


def test_rescore_run_without_manifest_warns_and_uses_32(tmp_path):
    rep = rescore_run(_run_dir(tmp_path, manifest=None))
    assert any("no manifest" in w and "max_steps=32" in w for w in rep.warnings)


def test_truncated_last_line_is_reported_and_the_rest_scores(tmp_path):
    d = _run_dir(tmp_path)
    with open(d / "episodes.jsonl", "a") as f:
        f.write('{"task_id": "trunc')
    rep = rescore_run(d)
    assert rep.n_records == 2 and rep.row("id", "0").n == 2
    assert sum("unreadable record" in w and ":3:" in w for w in rep.warnings) == 1


def test_lines_that_are_json_but_no_record_are_reported_not_raised(tmp_path):
    """A JSON value that is not an object (null, a list, a task that is a number) is one warning per line."""
    d = _run_dir(tmp_path)
    with open(d / "episodes.jsonl", "a") as f:
        f.write('null\n[1, 2]\n{"task_id": "z", "task": 3}\n')
    rep = rescore_run(d)
    assert rep.n_records == 2 and [w.split(": ")[0][-2:] for w in rep.warnings[:3]] == [":3", ":4", ":5"]


def test_rescore_run_counts_one_record_per_task_the_rerun_over_its_error(tmp_path):
    """An older resume left a task's error record and, after it, the re-run: `score` counts the re-run once,
    as the leaderboard does (both read runs through scoring.scan)."""
    d = _run_dir(tmp_path)
    lines = (d / "episodes.jsonl").read_text().splitlines()
    err = json.loads(lines[0]) | {"status": "error", "error": "model: 500", "steps": []}
    (d / "episodes.jsonl").write_text("\n".join([json.dumps(err), *lines]) + "\n")
    rep = rescore_run(d)
    assert rep.n_records == 2 and (rep.row("id", "0").n, rep.row("id", "0").n_errors, rep.row("id", "0").sr) == (2, 0, 0.5)


def test_rescore_run_missing_dir_or_file_names_the_path(tmp_path):
    with pytest.raises(RecordFileError, match="missing"):
        rescore_run(tmp_path / "missing")
    with pytest.raises(RecordFileError, match="episodes.jsonl"):
        rescore_run(tmp_path)


def test_format_table_rows_and_columns(tmp_path):
    table = format_table(rescore_run(_run_dir(tmp_path)))
    assert [c.header for c in table.columns] == ["Split", "Type", "N", "Err", "SR [95% CI]", "GDE (cm)",
                                                  "SSPL", "Steps", "TR"]
    assert list(table.columns[1].cells) == ["Basic", "All"]  # one split: no separate overall row


def test_score_main_exit_codes_and_json(tmp_path, capsys):
    d = _run_dir(tmp_path)
    assert score_main([str(d), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"][0]["sr"] == 0.5 and out["rows"][0]["type_name"] == "Basic"
    assert {"schema", "rows", "cost_usd", "tokens_in", "tokens_out", "warnings", "n_records"} <= set(out)
    assert score_main([str(d)]) == 0 and "Basic" in capsys.readouterr().out
    assert score_main([str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("embrace-bench score: error: ") and "missing" in err[0]
    assert score_main([str(d), "--max-steps", "0"]) == 2


def test_bootstrap_large_groups_match_exact_resampling(monkeypatch):
    """Above EXACT_BOOTSTRAP_MAX_N the multinomial (few distinct values) and normal (continuous) forms agree
    with index resampling to within its own Monte Carlo noise."""
    import numpy as np

    from embrace_bench.scoring import aggregate as metrics

    rng = np.random.default_rng(3)
    for v in (rng.uniform(0, 3000, 5000), (rng.random(5000) < 0.3).astype(float), rng.integers(1, 33, 5000)):
        fast = bootstrap_ci(v)
        monkeypatch.setattr(metrics, "EXACT_BOOTSTRAP_MAX_N", 10**9)
        exact = bootstrap_ci(v)
        monkeypatch.setattr(metrics, "EXACT_BOOTSTRAP_MAX_N", 2000)
        width = exact[1] - exact[0]
        assert abs(fast[0] - exact[0]) < 0.08 * width and abs(fast[1] - exact[1]) < 0.08 * width
