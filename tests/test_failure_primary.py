"""near_miss, the conventions between neighbouring tags, and the primary cause, on hand-built records;
pixel thresholds scaled to the frame size."""
import pytest
from test_failures import SEEN, fwd, names, record, tag, traj

from embrace_bench.scoring.failures import TagThresholds, tag_episode
from embrace_bench.scoring.primary import primary_first, primary_of


def primary(rec, th=None):
    return primary_of(tag_episode(rec, th))


# ---- near_miss vs premature_finish -------------------------------------------------------------------
def test_near_miss_within_one_and_a_half_radii_at_the_closest_approach():
    rec = record(traj(fwd(235), fwd(600), ("Finish", 600, 0, 0)))  # 400 cm from a target at x=1000, R 300
    t = tag(rec, "near_miss")
    assert t["steps"] == [2] and "ended 400 cm from the target (radius 300), closest 400 cm" in t["reason"]
    assert names(rec) == ["near_miss"] and primary(rec) == "near_miss"


def test_beyond_one_and_a_half_radii_is_premature_not_near_miss():
    rec = record(traj(fwd(235), fwd(500), ("Finish", 500, 0, 0)))  # 500 cm > 450
    assert names(rec) == ["premature_finish"]
    # The zone is a threshold: at factor 2 the same stop is a near miss.
    assert names(rec, TagThresholds(near_miss_factor=2.0)) == ["near_miss"]


def test_no_near_miss_after_walking_away_from_the_closest_approach():
    # Came within 150 cm, then backed off to 500 cm, out of the 450 cm zone: left it (seen, so forgetting).
    v = {"visible": {"T": SEEN}}
    rec = record(traj(fwd(850, **v), ("MoveBackward", 700, 0, 0, v), ("MoveBackward", 500, 0, 0, v),
                      ("Finish", 500, 0, 0)))
    assert "near_miss" not in names(rec) and "target_forgetting" in names(rec)


def test_circling_near_the_goal_is_a_near_miss_not_forgetting():
    # Came within 150 cm, then walked about inside the 450 cm zone and stopped 420 cm away: a near miss.
    v = {"visible": {"T": SEEN}}
    rec = record(traj(fwd(850, **v), ("MoveBackward", 700, 0, 0, v), ("MoveBackward", 580, 0, 0, v),
                      ("Finish", 580, 0, 0)))
    assert names(rec) == ["near_miss"]
    # Once it walked out of the zone and back, it is judged at its closest approach again: no near miss.
    out = record(traj(fwd(850, **v), ("MoveBackward", 500, 0, 0, v), ("MoveForward", 580, 0, 0, v),
                      ("Finish", 580, 0, 0)))
    assert "near_miss" not in names(out) and "target_forgetting" not in names(out)


def test_near_miss_on_a_timeout_and_on_the_multistage_subgoal():
    spin = [("TurnLeft", 650, 0, 0)] * 3
    timed_out = record(traj(fwd(650), *spin), max_steps=4)
    assert names(timed_out) == ["near_miss", "timeout"] and primary(timed_out) == "near_miss"
    # MidwayTarget 400 cm from subgoal 1: the failed stage is subgoal 1, a near miss there.
    ms = record(traj(fwd(600), ("MidwayTarget", 600, 0, 0), ("Finish", 600, 0, 0)), type_="3",
                targets=(("A", 1000, 0), ("B", 600, 0)))
    assert names(ms) == ["near_miss"] and "from subgoal 1" in tag(ms, "near_miss")["reason"]


def test_pick_and_drop_near_miss_is_where_the_object_lies():
    kw = dict(type_="4.2", targets=(("Bag", 0, 0), ("Bin", 1000, 0)), pick_object="Bag")
    rec = record(traj(("PickObject", 0, 0, 0, {"held_object": "Bag"}), fwd(700, held_object="Bag"),
                      ("DropObject", 700, 0, 0, {"dropped_at": [620, 0, 0]}), ("Finish", 700, 0, 0)), **kw)
    assert "the object lies 380 cm from the drop target" in tag(rec, "near_miss")["reason"]
    assert primary(rec) == "near_miss" and "interaction_failed" in names(rec)  # the drop missed: evidence


# ---- primary cause -----------------------------------------------------------------------------------
def test_primary_skipped_stage_beats_everything_but_api_errors():
    rec = record(traj(fwd(500), ("Finish", 500, 0, 0)), type_="3", targets=(("A", 0, 2000), ("B", 500, 0)))
    assert primary(rec) == "premature_finish"


def test_primary_forgetting_over_premature_finish_and_over_a_later_stuck_spell():
    v = {"visible": {"T": SEEN}}
    walked_off = record(traj(fwd(235, **v), ("TurnLeft", 235, 0, -90), ("TurnLeft", 235, 0, -180),
                             fwd(0, 0, -180), ("TurnLeft", 0, 0, -210), ("Finish", 0, 0, -210)), start_visible={"T": SEEN})
    assert {"target_forgetting", "premature_finish"} <= set(names(walked_off))
    assert primary(walked_off) == "target_forgetting"
    blocked = [("MoveForward", 0, 0, -180)] * 3
    then_stuck = record(traj(fwd(235, **v), ("TurnLeft", 235, 0, -90), ("TurnLeft", 235, 0, -180), fwd(0, 0, -180),
                             *blocked), start_visible={"T": SEEN}, max_steps=7)
    assert {"target_forgetting", "stuck", "timeout"} <= set(names(then_stuck))
    assert primary(then_stuck) == "target_forgetting"


def test_primary_stuck_when_blocked_at_the_end_and_the_goal_was_never_seen():
    rec = record(traj(*[("MoveForward", 0, 0, 0), ("TurnLeft", 0, 0, -30), ("MoveForward", 0, 0, -30),
                        ("TurnRight", 0, 0, 0)] * 2), start_visible={"Other": SEEN}, max_steps=8)
    tags = names(rec)
    assert {"stuck", "short_sighted_exploration", "timeout"} <= set(tags) and primary(rec) == "stuck"
    # A blocked spell it got out of does not explain a time-out spent elsewhere.
    out = record(traj(("MoveForward", 0, 0, 0), ("MoveForward", 0, 0, 0), ("MoveForward", 0, 0, 0),
                      ("TurnLeft", 0, 0, -90), *[fwd(0, -235 * (i + 1), -90) for i in range(4)],
                      *[("TurnLeft", 0, -940, -90 - 30 * (i + 1)) for i in range(12)]), max_steps=19)
    assert "stuck" in names(out) and primary(out) == "timeout"


def test_primary_invalid_answers_only_when_no_decision_explains_the_failure():
    bad = (None, 0, 0, 0, {"error": "no action"})
    near = record(traj(bad, bad, bad, fwd(600), ("Finish", 600, 0, 0)))
    assert names(near) == ["near_miss", "invalid_output"] and primary(near) == "near_miss"
    all_bad = record(traj(*[bad] * 4), max_steps=4)
    assert names(all_bad) == ["invalid_output", "timeout"] and primary(all_bad) == "invalid_output"


def test_exactly_one_primary_per_failure_none_for_a_success_and_listed_first():
    ok = record(traj(fwd(235), fwd(470), ("MoveBackward", 235, 0, 0), fwd(470), ("MoveBackward", 235, 0, 0),
                     fwd(470), fwd(800), ("Finish", 800, 0, 0)))
    assert ok.success and "looping" in names(ok) and primary(ok) is None
    rec = record(traj(fwd(235), ("Finish", 235, 0, 0)), start_visible={"Other": SEEN})
    tags = tag_episode(rec)
    assert sum(bool(t.get("primary")) for t in tags) == 1
    assert primary_first(tags)[0]["name"] == primary_of(tags) == "short_sighted_exploration"


# ---- thresholds -----------------------------------------------------------------------------------------
def test_pixel_thresholds_scale_with_the_frame_area():
    th = TagThresholds(min_visible_px=600, drift_min_px=2000)
    small = th.for_frame(320, 240)
    assert (small.min_visible_px, small.drift_min_px) == (150, 500) and th.for_frame(None, None) == th
    # 300 px seen on a 320x240 frame is plainly visible there, not on a 640x480 one.
    rec = record(traj(fwd(235, visible={"T": 300}), ("TurnLeft", 235, 0, -90), ("TurnLeft", 235, 0, -180),
                      ("TurnLeft", 235, 0, -270), ("Finish", 235, 0, -270)))
    assert "target_forgetting" in names(rec, small) and "target_forgetting" not in names(rec, th)


def test_a_small_object_far_away_is_a_speck_not_seen_by_its_apparent_size():
    # A 50 cm bag 27.6 m away spans ~6 px of a 640-wide frame (< seen_min_extent_px): a speck, not seen.
    bag = {"object_locations": {"T": [3000, 0, 0]}, "object_bounds": {"T": [2975, -25, 0, 3025, 25, 50]}}
    rec = record(traj(fwd(235, visible={"T": SEEN}), ("TurnLeft", 235, 0, -90), ("Finish", 235, 0, -90)),
                 targets=(("T", 3000, 0),), **bag)
    assert "target_forgetting" not in names(rec) and "short_sighted_exploration" in names(rec)
    assert "target_forgetting" in names(rec, TagThresholds(seen_min_extent_px=5, forget_min_unseen=1))
    # A 5 m tall, 5 m wide house at the same distance spans ~60 px: seen, whatever the distance.
    house = {"object_locations": {"T": [3000, 0, 0]}, "object_bounds": {"T": [2750, -250, 0, 3250, 250, 500]}}
    big = record(traj(fwd(235, visible={"T": SEEN}), ("TurnLeft", 235, 0, -90), ("Finish", 235, 0, -90)),
                 targets=(("T", 3000, 0),), **house)
    assert "short_sighted_exploration" not in names(big)
    assert "target_forgetting" in names(big, TagThresholds(forget_min_unseen=1))


def test_a_sliver_at_the_frame_edge_is_not_seen():
    # T lies due east; facing 60 degrees off it, its mask pixels are a sliver at the edge of the view.
    loc = {"object_locations": {"T": [1000, 0, 0]}}
    edge = record(traj(("TurnRight", 0, 0, 60, {"visible": {"T": SEEN}}), ("Finish", 0, 0, 60)), **loc)
    assert "short_sighted_exploration" in names(edge)
    assert "short_sighted_exploration" not in names(edge, TagThresholds(seen_max_off_deg=90))
    centred = record(traj(("TurnRight", 0, 0, 30, {"visible": {"T": SEEN}}), ("Finish", 0, 0, 30)), **loc)
    assert "short_sighted_exploration" not in names(centred)


def test_going_to_a_distractor_is_drift_not_a_narrow_search():
    places = {"object_locations": {"T": [1000, 0, 0], "T_02": [0, 1000, 0]}}
    moves = traj(("TurnRight", 0, 0, 90), fwd(0, 800, 90, visible={"T_02": SEEN}), ("Finish", 0, 800, 90))
    rec = record(moves, distractors=["T_02"], **places)
    assert names(rec) == ["spatial_semantic_drift", "premature_finish"] and primary(rec) == "spatial_semantic_drift"
    # The same path with no distractor listed: never saw T, looked at half the horizon.
    assert "short_sighted_exploration" in names(record(moves, **places))


def test_no_drift_within_the_near_miss_zone_of_the_referent_or_facing_it():
    places = {"distractors": ["T_02"], "object_locations": {"T": [1000, 0, 0], "T_02": [600, 300, 0]}}
    near = record(traj(fwd(300), fwd(600), ("Finish", 600, 0, 0)), **places)  # 400 cm from T, 300 from T_02
    assert names(near) == ["near_miss"]
    far = {"distractors": ["T_02"], "object_locations": {"T": [2000, 0, 0], "T_02": [600, 300, 0]}}
    tiny = record(traj(fwd(300), fwd(600, visible={"T": 40}), ("Finish", 600, 0, 0)), targets=(("T", 2000, 0),),
                  start_visible={"T_02": SEEN}, **far)  # the distractor seen at the start, 27 degrees off
    assert "spatial_semantic_drift" in names(tiny)  # the referent a speck in the last frame: not heading there
    big = record(traj(fwd(300), fwd(600, visible={"T": SEEN}), ("Finish", 600, 0, 0)), targets=(("T", 2000, 0),),
                 start_visible={"T_02": SEEN}, **far)
    assert "spatial_semantic_drift" not in names(big)


def test_blocked_at_its_closest_approach_is_stuck_not_forgetting():
    # Saw T, turned away, and every move after went nowhere: it never got any farther from T.
    blocked = [("MoveForward", 200, 0, -90)] * 5
    rec = record(traj(fwd(200, visible={"T": SEEN}), ("TurnLeft", 200, 0, -90), *blocked), max_steps=7)
    assert names(rec) == ["stuck", "timeout"] and primary(rec) == "stuck"
    # Walked 2 m away from it before being blocked: that is forgetting.
    away = [("MoveForward", 0, 0, -90)] * 5
    rec = record(traj(fwd(200, visible={"T": SEEN}), ("TurnLeft", 200, 0, -90), fwd(0, 0, -90), *away), max_steps=8)
    assert "target_forgetting" in names(rec) and primary(rec) == "target_forgetting"


def test_circling_is_judged_by_where_it_ended():
    v = {"visible": {"T": SEEN}}
    there = [fwd(300, **v), fwd(500, **v), ("MoveForward", 300, 200, 135, v)]  # closest 500 cm, then off
    # Back at the spot of its closest approach when it stopped: it did not leave the goal.
    back = record(traj(*there, ("MoveForward", 500, 0, 0, v), ("Finish", 500, 0, 0)), start_visible={"T": SEEN})
    assert "target_forgetting" not in names(back) and "premature_finish" in names(back)
    # Came back there and walked off again, ending 2 m+ farther: it left the goal (round 3's convention).
    again = record(traj(*there, ("MoveForward", 500, 0, 0, v), ("MoveForward", 300, -200, -135, v),
                        ("Finish", 300, -200, -135)), start_visible={"T": SEEN})
    assert "target_forgetting" in names(again)
    left = record(traj(*there, ("MoveForward", 100, 200, 180, v), ("Finish", 100, 200, 180)), start_visible={"T": SEEN})
    assert "kept it in view but moved away" in tag(left, "target_forgetting")["reason"]


@pytest.mark.parametrize("key", ["near_miss_factor", "reached_factor"])
def test_zone_factors_below_one_are_refused(key):
    with pytest.raises(ValueError, match=f"tags.{key} must be >= 1"):
        TagThresholds.from_config({key: 0.5})


def test_a_manifest_sets_the_frame_size_and_older_manifests_still_load():
    from embrace_bench.report.runs import tag_thresholds
    th, warning = tag_thresholds({"tags": {"area_cell_cm": 250.0, "min_area_cells": 4, "seen_max_cm": 2000.0,
                                           "stuck_min_moves": 4},
                                  "env": {"width": 320, "height": 240}})
    assert warning == "" and th.stuck_min_moves == 4 and th.min_visible_px == TagThresholds().min_visible_px // 4
    th, warning = tag_thresholds({"tags": {"nope": 1}})
    assert "unusable" in warning and th == TagThresholds()


# ---- reports: the viewer lists the primary cause first, leaderboards count it ---------------------------
def test_viewer_puts_the_primary_first_and_leaderboards_print_primary_rates(tmp_path, capsys):
    import csv
    import io

    from runfixtures import outcomes_run

    from embrace_bench.__main__ import main
    from embrace_bench.report.viewer import episode_payload

    stuck = record(traj(*[("MoveForward", 0, 0, 0), ("TurnLeft", 0, 0, -30), ("MoveForward", 0, 0, -30),
                          ("TurnRight", 0, 0, 0)] * 2), start_visible={"Other": SEEN}, max_steps=8)
    stuck.tags = tag_episode(stuck)
    assert [t["name"] for t in stuck.tags][:2] == ["short_sighted_exploration", "stuck"]  # TAG_NAMES order
    assert [t["name"] for t in episode_payload(stuck, [])["tags"]][:2] == ["stuck", "short_sighted_exploration"]

    run = outcomes_run(tmp_path / "r", ["success", "fail", "fail", "timeout"])
    assert main(["leaderboard", str(run), "--out", str(tmp_path / "lb")]) == 0
    capsys.readouterr()
    md = (tmp_path / "lb" / "embedded-id.md").read_text()
    assert "## Primary cause of failure" in md and "Primary cause of failure" in (tmp_path / "lb" / "embedded-id.html").read_text()
    row = next(r for r in csv.DictReader(io.StringIO((tmp_path / "lb" / "embedded-id.csv").read_text()))
               if r["type"] == "all")
    assert float(row["primary_premature_finish"]) == 0.5 and float(row["tag_premature_finish"]) == 0.5
    # one primary per failed episode: the primary rates add up to the failure rate
    assert sum(float(v) for k, v in row.items() if k.startswith("primary_")) == pytest.approx(0.75)


def test_a_move_the_env_reported_blocked_went_nowhere():
    # Three moves that each still covered 60 cm but fell short (collided): blocked, as the review sheet shows.
    steps = [fwd(60 * (i + 1)) for i in range(3)] + [("Finish", 180, 0, 0)]
    rec = record(traj(*steps))
    for s in rec.steps[:3]:
        s.collided = True
    assert "stuck" in names(rec)
    for s in rec.steps[:3]:
        s.collided = False
    assert "stuck" not in names(rec)  # 60 cm each and no collision reported: it moved
