"""The release's own SPL and OS, and its unscorable episodes, on the hand-written release fixtures.

Regions are axis-aligned boxes (see tests/fixtures/embrace_release/.../area.json) and the trajectories below
move along one axis at a time, so every expected SPL is a ratio of sums worked out in the comments:
SPL = S * shortest path / max(XY path, shortest path), the release's scoring (embrace/eval/score_metrics.py).
"""
import json
import math
import shutil
from pathlib import Path

import pytest
from test_fixture_scores import FIX, _pick_drop, steps

from embrace_bench.episode import task_info
from embrace_bench.records import EpisodeRecord
from embrace_bench.report.leaderboard import Board, make_entry
from embrace_bench.report.runs import Run
from embrace_bench.report.tables import to_csv, to_latex, to_markdown
from embrace_bench.scoring.aggregate import aggregate
from embrace_bench.scoring.metrics import rescore, score_episode
from embrace_bench.scoring.rescore import format_table, report_to_json, unscorable_summary
from embrace_bench.scoring.scan import records_frame
from embrace_bench.tasks.embrace_release import PD_ACTOR, load_release

RELEASE = {t.type: t for t in load_release(FIX / "embrace_release", z_tolerance_cm=100.0).tasks}


def score(task, st, max_steps=60, start_door=None):
    return score_episode(st, task_info(task, 300.0), max_steps, start_pose=task.start_pose, type_=task.type,
                         start_door_state=start_door)


def _copy(tmp_path) -> Path:
    dst = tmp_path / "benchmark"
    shutil.copytree(FIX / "embrace_release" / "benchmark", dst)
    return dst


def _edit_area(root: Path, pattern: str, edit) -> None:
    area = next(root.glob(f"success_region/{pattern}/area.json"))
    d = json.loads(area.read_text())
    edit(d)
    area.write_text(json.dumps(d))


# ---- Basic (start (1752.9, 2542.5); region x 198.1..714.1, y 1947.1..2463.1, hole x 300..400 y 2300..2400;
#      shortest path 1150) ------------------------------------------------------------------------------------
def test_basic_spl_and_os():
    t = RELEASE["0"]
    # 142.5 down, then 1152.9 west: path 1295.4; SPL = 1150 / 1295.4 = 0.887756
    sc = score(t, steps(t.start_pose, ("MoveForward", 1752.9, 2400), ("MoveForward", 600, 2400), ("Finish", 600, 2400)))
    assert sc.success and sc.os is True and sc.unscorable == ""
    assert sc.spl == pytest.approx(1150 / 1295.4, abs=1e-9) and sc.spl == pytest.approx(0.887756, abs=1e-6)
    # 92.5 + 1052.9 = 1145.4 < 1150: the shortest path is the denominator, SPL = 1
    sc = score(t, steps(t.start_pose, ("MoveForward", 1752.9, 2450), ("MoveForward", 700, 2450), ("Finish", 700, 2450)))
    assert sc.success and sc.spl == 1.0
    # through the region and out again: never declared there, so SR 0 and SPL 0, but OS 1
    sc = score(t, steps(t.start_pose, ("MoveForward", 600, 2400), ("MoveForward", 600, 2600), ("Finish", 600, 2600)))
    assert not sc.success and sc.os is True and sc.spl == 0.0
    # only ever in the hole: not in the region, OS 0
    sc = score(t, steps(t.start_pose, ("MoveForward", 350, 2350), ("Finish", 350, 2350)))
    assert not sc.success and sc.os is False and sc.spl == 0.0
    # right place, 160 cm above the reference height (|250 - 90| > 100): neither SR nor OS
    sc = score(t, steps(t.start_pose, ("MoveForward", 1752.9, 2400), ("Finish", 600, 2400, 250)))
    assert not sc.success and sc.os is False
    # no Finish: OS still counts the visit
    sc = score(t, steps(t.start_pose, *[("TurnLeft", 600, 2400)] * 60))
    assert sc.timed_out and sc.os is True and sc.spl == 0.0


# ---- Multi-stage (start (2711.7, 1932.3); midway x 1527.9..2043.9, y 1893.5..2409.5; final x 2241.6..2861.6,
#      y 2132.3..3022.3; shortest path 2100) -------------------------------------------------------------------
def test_multistage_spl_and_os():
    t = RELEASE["3"]
    # 711.7 west, MidwayTarget, 967.7 north, 500 east: path 2179.4; SPL = 2100 / 2179.4 = 0.963568
    route = (("MoveForward", 2000, 1932.3), ("MidwayTarget", 2000, 1932.3), ("MoveForward", 2000, 2900),
             ("MoveForward", 2500, 2900), ("Finish", 2500, 2900))
    sc = score(t, steps(t.start_pose, *route))
    assert sc.success and sc.os is True and sc.spl == pytest.approx(2100 / 2179.4, abs=1e-9)
    assert sc.spl == pytest.approx(0.963568, abs=1e-6)
    # the same walk without declaring the subgoal: SR 0, OS 1
    sc = score(t, steps(t.start_pose, *[("MoveForward", *r[1:]) if r[0] == "MidwayTarget" else r for r in route]))
    assert not sc.success and sc.os is True and sc.spl == 0.0
    # the final region first, the midway region after it: OS needs them in order
    sc = score(t, steps(t.start_pose, ("MoveForward", 2500, 2500), ("MoveForward", 2000, 2000),
                        ("MoveForward", 1000, 2000), ("Finish", 1000, 2000)))
    assert sc.os is False


# ---- Open Door (start (2511.6, 3247.4); region x 1922.5..2482.5, y 3864..4424; shortest path 1000) -----------
def test_open_door_os_needs_the_door_open_at_the_same_pose():
    t = RELEASE["4.1"]
    opened = {"door_state": {"door_state": 1}}
    # 111.6 west, 752.6 north (864.2 < 1000): SPL 1
    sc = score(t, steps(t.start_pose, ("MoveForward", 2400, 3247.4), ("OpenDoor", 2400, 4000, opened),
                        ("Finish", 2400, 4000, opened)))
    assert sc.success and sc.os is True and sc.spl == 1.0
    # inside with the door closed, then out with it open: no pose has both
    sc = score(t, steps(t.start_pose, ("MoveForward", 2400, 4000, {"door_state": {"door_state": 0}}),
                        ("OpenDoor", 2400, 4500, opened), ("Finish", 2400, 4500, opened)))
    assert not sc.success and sc.os is False
    # the start pose counts too, with the door state read at reset
    start_inside = [2400.0, 4000.0, 90.0, 0.0, 0.0, 0.0]
    sc = score_episode(steps(start_inside, ("MoveForward", 2400, 4500), ("Finish", 2400, 4500)), task_info(t, 300.0),
                       60, start_pose=start_inside, type_="4.1", start_door_state={"door_state": 1})
    assert sc.os is True


# ---- Pick & Drop "pd" (start (4963.6, 2399.1); character region x 4220.1..4736.1, y 3503.8..4019.8; object
#      region x 4298.1..4658.1, y 3581.8..3941.8, object reference z 0; shortest path 1900) ---------------------
def test_pick_and_drop_spl_and_os():
    t = RELEASE["4.2"]
    # _pick_drop walks (5430, 3130), (5430, 3130), (4450, 3650), (4450, 3650), (4450, 3650):
    # sqrt(466.4^2 + 730.9^2) = sqrt(751743.77) = 867.032, sqrt(980^2 + 520^2) = sqrt(1230800) = 1109.414;
    # path 1976.446 > 1900, so SPL = 1900 / 1976.446 = 0.961322
    sc = score(t, _pick_drop(t, [4500.0, 3700.0, 0.0]))
    walked = math.hypot(5430 - 4963.6, 3130 - 2399.1) + math.hypot(980, 520)
    assert walked == pytest.approx(1976.446, abs=1e-3)
    assert sc.success and sc.os is True and sc.spl == pytest.approx(1900 / walked, abs=1e-9)
    assert sc.spl == pytest.approx(0.961322, abs=1e-6)
    # dropped outside the object region: neither
    sc = score(t, _pick_drop(t, [4700.0, 3700.0, 0.0]))
    assert not sc.success and sc.os is False and sc.spl == 0.0
    # held to the end: SR 0, and OS 0 ("pd" needs it put down in the region at some pose)
    sc = score(t, _pick_drop(t, None, held_at_finish=True))
    assert not sc.success and sc.os is False
    # dropped in the region, then picked up again before Finish: SR 0, OS 1
    st = _pick_drop(t, [4500.0, 3700.0, 0.0])
    again = steps(st[-1].pose_after, ("PickObject", 4450, 3650, {"held_object": PD_ACTOR, "object_pose": [4450, 3650, 60]}),
                  ("Finish", 4450, 3650, {"held_object": PD_ACTOR, "object_pose": [4450, 3650, 60]}))
    sc = score(t, st[:-1] + again)
    assert not sc.success and sc.os is True and sc.reason == f"{PD_ACTOR} still held at Finish"


# ---- what the release cannot score -------------------------------------------------------------------------
def test_no_reference_height_is_unscorable_once_a_pose_needs_it(tmp_path):
    root = _copy(tmp_path)
    _edit_area(root, "Street_25/x001753*", lambda d: d["stages"]["final"].pop("character_reference_z"))
    t = next(t for t in load_release(root).tasks if t.task_id.endswith("t0_a"))
    sc = score(t, steps(t.start_pose, ("MoveForward", 1752.9, 2400), ("MoveForward", 600, 2400), ("Finish", 600, 2400)))
    assert not sc.success and sc.os is None and sc.spl is None
    assert sc.unscorable == "area.json gives no reference height for the character (character_reference_z)"
    assert sc.reason.startswith("unscorable: ")
    # never inside the XY region: the release scores it (its height is never asked for)
    sc = score(t, steps(t.start_pose, ("MoveForward", 1000, 2542.5), ("Finish", 1000, 2542.5)))
    assert sc.unscorable == "" and (sc.success, sc.os, sc.spl) == (False, False, 0.0)


def test_pick_and_drop_asks_the_object_height_only_once_both_are_in_their_regions(tmp_path):
    root = _copy(tmp_path)
    _edit_area(root, "Street_25/*_t5_a_pd", lambda d: d["stages"]["final"].pop("pd_object_reference_z"))
    t = next(t for t in load_release(root).tasks if t.type == "4.2")
    sc = score(t, _pick_drop(t, [4500.0, 3700.0, 0.0]))  # both inside: the object's height is needed
    assert sc.unscorable == "area.json gives no reference height for the object (pd_object_reference_z)"
    sc = score(t, _pick_drop(t, [4700.0, 3700.0, 0.0]))  # the object outside its region: never asked
    assert sc.unscorable == "" and (sc.success, sc.os) == (False, False)


def test_no_shortest_path_and_no_midway_are_unscorable_not_fatal(tmp_path):
    root = _copy(tmp_path)
    _edit_area(root, "Street_25/x001753*", lambda d: d.pop("shortest_path_uu"))
    _edit_area(root, "Street_39/*", lambda d: d["stages"].pop("midway"))
    tasks = {t.type: t for t in load_release(root).tasks}  # the suite loads: only these tasks are unscorable
    t = tasks["0"]
    sc = score(t, steps(t.start_pose, ("MoveForward", 600, 2542.5), ("Finish", 600, 2542.5)))
    assert sc.unscorable == "area.json gives no shortest path (shortest_path_uu), which SPL needs"
    t = tasks["3"]
    assert len(t.target_poses) == 1  # only the final stage is known
    sc = score(t, steps(t.start_pose, ("MidwayTarget", 2000, 1932.3), ("Finish", 2500, 2900)))
    assert sc.unscorable == "a Multi-stage task's area.json has no midway stage" and not sc.success


def test_the_flat_success_region_form_scores_like_the_staged_one(tmp_path):
    """The release's older layout: success_region/<Map>/<task>.json (+ <task>__midway.json), flat fields."""
    root = _copy(tmp_path)

    def flat(stage: dict, stem: str, shortest: float) -> dict:
        return {"Schema_Version": 1, "Map_Name": "Street_39", "Task_Stem": stem, "Status": "published",
                "Coordinate_System": "UE left-handed world XY (uu)", "Distance_Metric": "xy",
                "Regions": stage["character_regions"], "Target_Footprints": stage["target_footprints"],
                "Character_Reference_Z": stage["character_reference_z"], "Shortest_Path_UU": shortest}

    staged_dir = next((root / "success_region" / "Street_39").iterdir())
    stem = staged_dir.name
    d = json.loads((staged_dir / "area.json").read_text())
    shutil.rmtree(staged_dir)
    (staged_dir.parent / f"{stem}.json").write_text(json.dumps(flat(d["stages"]["final"], stem, 2100.0)))
    (staged_dir.parent / f"{stem}__midway.json").write_text(
        json.dumps(flat(d["stages"]["midway"], f"{stem}__midway", 2100.0)))
    t = next(t for t in load_release(root).tasks if t.type == "3")
    assert t.regions["midway"] == RELEASE["3"].regions["midway"] and t.regions["final"] == RELEASE["3"].regions["final"]
    route = steps(t.start_pose, ("MoveForward", 2000, 1932.3), ("MidwayTarget", 2000, 1932.3),
                  ("MoveForward", 2000, 2900), ("MoveForward", 2500, 2900), ("Finish", 2500, 2900))
    a, b = score(t, route), score(RELEASE["3"], route)
    assert (a.success, a.os, a.spl, a.gde_cm) == (b.success, b.os, b.spl, b.gde_cm) and a.spl == pytest.approx(0.963568, abs=1e-6)
    (staged_dir.parent / f"{stem}__midway.json").unlink()  # no midway file: loads, unscorable
    t = next(t for t in load_release(root).tasks if t.type == "3")
    assert score(t, route).unscorable == "a Multi-stage task's area.json has no midway stage"


def test_each_area_form_reads_only_its_own_shortest_path_key(tmp_path):
    # The release reads `shortest_path_uu` from the staged form and `Shortest_Path_UU` from the flat one: the other
    # spelling leaves the task without a shortest path, so SPL is unscorable, as the release's scorer fails on it.
    root = _copy(tmp_path)
    _edit_area(root, "Street_25/x001753*", lambda d: d.__setitem__("Shortest_Path_UU", d.pop("shortest_path_uu")))
    t = next(t for t in load_release(root).tasks if t.type == "0")
    sc = score(t, steps(t.start_pose, ("MoveForward", 600, 2542.5), ("Finish", 600, 2542.5)))
    assert t.regions["shortest_path_cm"] is None and sc.unscorable.startswith("area.json gives no shortest path")


# ---- records, rows, JSON, tables ---------------------------------------------------------------------------
def _record(task, st, model="m") -> EpisodeRecord:
    rec = EpisodeRecord(task_id=task.task_id, type=task.type, split=task.split, map=task.map, model=model,
                        status="finished", success=False, gde_cm=0.0, sspl=0.0, n_steps=0, s_opt=task.s_opt,
                        task=task_info(task, 300.0), steps=st)
    return rescore(rec, 60)


def test_rows_average_spl_and_os_over_scored_episodes_and_count_the_unscorable(tmp_path):
    t = RELEASE["0"]
    good = _record(t, steps(t.start_pose, ("MoveForward", 1752.9, 2400), ("MoveForward", 600, 2400), ("Finish", 600, 2400)))
    passed = _record(t, steps(t.start_pose, ("MoveForward", 600, 2400), ("MoveForward", 600, 2600), ("Finish", 600, 2600)))
    root = _copy(tmp_path)  # the same task without a shortest path
    _edit_area(root, "Street_25/x001753*", lambda d: d.pop("shortest_path_uu"))
    t2 = next(x for x in load_release(root).tasks if x.task_id == t.task_id)
    bad = _record(t2, steps(t2.start_pose, ("Finish", 600, 2400)))
    assert (good.spl, good.os, passed.spl, passed.os) == (pytest.approx(0.8878), True, 0.0, True)
    assert bad.unscorable and bad.spl is None and bad.os is None and not bad.success
    row = aggregate([good, passed, bad]).row("ood", "0")
    # n counts the two scorable episodes: SR 1/2, OS 2/2, SPL (0.8878 + 0) / 2
    assert (row.n, row.n_unscorable, row.n_errors, row.n_success) == (2, 1, 0, 1)
    assert row.sr == 0.5 and row.os == 1.0 and row.spl == pytest.approx(0.4439, abs=1e-4)
    j = report_to_json(aggregate([good, passed, bad]))["rows"][0]
    assert (j["spl"], j["os"], j["n_unscorable"]) == (pytest.approx(0.4439, abs=1e-4), 1.0, 1) and len(j["os_ci"]) == 2
    assert unscorable_summary(records_frame([good, bad])) == (
        "1 episode(s) unscorable by the release's rules, left out of every mean: 1 x area.json gives no shortest "
        "path (shortest_path_uu), which SPL needs")
    cols = [c.header for c in format_table(aggregate([good, passed, bad])).columns]
    assert cols[-3:] == ["SPL", "OS", "Unsc."]
    # a record from before these fields existed re-scores with them, without a disagreement warning
    old = EpisodeRecord.from_json({k: v for k, v in good.to_json().items() if k not in ("spl", "os", "unscorable")})
    assert old.spl is None and rescore(old, 60).spl == good.spl


def test_embedded_rows_have_no_release_metrics():
    from runfixtures import episode

    recs = [episode("t1"), episode("t2", outcome="fail")]
    assert all(r.spl is None and r.os is None and r.unscorable == "" for r in recs)
    rows = aggregate(recs).rows
    assert all(math.isnan(r.spl) and math.isnan(r.os) and r.n_unscorable == 0 for r in rows)
    assert rows[0].sr == 0.5 and rows[0].n == 2
    j = report_to_json(aggregate(recs))["rows"][0]
    assert j["spl"] is None and j["os"] is None
    assert "SPL" not in [c.header for c in format_table(aggregate(recs)).columns]


def test_release_leaderboards_carry_spl_and_os(tmp_path):
    t = RELEASE["0"]
    good = _record(t, steps(t.start_pose, ("MoveForward", 1752.9, 2400), ("MoveForward", 600, 2400), ("Finish", 600, 2400)))
    run = Run(tmp_path, {"suite": "embrace_release", "model": "m"}, records_frame([good]), label="m")
    board = Board("embrace_release", "ood", [make_entry(run, "ood", run.frame)])
    md = to_markdown(board)
    assert "| Model | Basic SR | GDE | SSPL | Steps | TR | SPL | OS |" in md
    assert "| 0.888 | 100.0 |" in md  # SPL 1150 / 1295.4, OS 100 %
    head, row = to_csv(board).splitlines()[:2]
    cells = dict(zip(head.split(","), row.split(",")))
    assert (cells["spl"], cells["os"], cells["n_unscorable"]) == ("0.8878", "1", "0")  # records keep 4 decimals
    assert r"\multicolumn{7}{c}{Basic}" in to_latex(board)
    board.suite = "embedded"  # other suites keep the paper's five columns
    assert "SPL" not in to_markdown(board).split("## Failure")[0].replace("SSPL", "")
