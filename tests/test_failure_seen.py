"""Round 4 of issue 13's failure tags: "seen" as the review sheet measures it (the box an object fills, from its
bounds projected at the recorded pose), forgetting when blocked elsewhere after turning away, a far
MidwayTarget keeping subgoal 1 the stage goal, and drift judged on subgoal 1's own kind."""
import math

import pytest
from test_failures import SEEN, fwd, names, record, tag, traj

from embrace_bench.scoring.failures import TagThresholds, tag_episode
from embrace_bench.scoring.primary import primary_of
from embrace_bench.scoring.trajectory import box_side

BARREL = (84.0, 110.0)  # a barrel's width and height, cm


def barrel_at(x, y):
    w, h = BARREL
    return [x - w / 2, y - w / 2, 0.0, x + w / 2, y + w / 2, h]


def test_box_side_of_a_centred_object_is_its_width_over_its_distance():
    # 20 m ahead: 84 cm across at 320 px focal length (90-degree view, 640 wide) is 13.44 px; its 110 cm
    # height, seen at its near side 19.58 m away, 17.98 px: the smaller side is the width.
    assert box_side((0, 0), 0, 0, barrel_at(2000, 0), 90) == pytest.approx(84 * 320 / 2000)
    # Twice as close, twice as big; a 120-degree view's focal length is 320 / tan(60 degrees).
    assert box_side((0, 0), 0, 0, barrel_at(1000, 0), 90) == pytest.approx(84 * 320 / 1000)
    assert box_side((0, 0), 0, 0, barrel_at(1000, 0), 120) == pytest.approx(84 * 320 / math.sqrt(3) / 1000)


def test_box_side_grows_off_the_frames_centre_and_is_clipped_by_its_edges():
    a = math.radians(40)
    x, y = 2000 * math.cos(a), 2000 * math.sin(a)
    # 40 degrees off the heading the projection stretches it by 1/cos^2: 22.9 px, over 16 (seen) ...
    assert box_side((0, 0), 0, 0, barrel_at(x, y), 90) == pytest.approx(84 * 320 / 2000 / math.cos(a) ** 2, rel=1e-3)
    # ... while facing it, it is the 13.4 px of the centred barrel again.
    assert box_side((0, 0), 40, 0, barrel_at(x, y), 90) == pytest.approx(84 * 320 / 2000)
    # A house filling the view is clipped to the frame: its smaller side is the frame's height.
    assert box_side((0, 0), 0, 0, [100, -500, 0, 1100, 500, 600], 90) == 480
    # A barrel 3 m ahead, below eye height, leaves the frame when the camera looks up 30 degrees.
    assert box_side((0, 0), 0, 0, barrel_at(292, 0), 90) > 80 and box_side((0, 0), 0, 30, barrel_at(292, 0), 90) == 0
    # Standing in its bounds: all of it around, whole.
    assert box_side((0, 0), 0, 0, [-50, -50, 0, 50, 50, 100], 90) == math.inf


def test_a_far_object_off_centre_is_seen_where_the_same_one_ahead_is_a_speck():
    a = math.radians(38)
    x, y = 2000 * math.cos(a), 2000 * math.sin(a)
    bounds = {"object_locations": {"T": [x, y, 0]}, "object_bounds": {"T": barrel_at(x, y)}}
    look = [("TurnLeft", 0, 0, -90), ("TurnLeft", 0, 0, -180), ("Finish", 0, 0, -180)]
    aside = record(traj(("TurnRight", 0, 0, 0, {"visible": {"T": 400}}), *look), targets=(("T", x, y),), **bounds)
    assert "short_sighted_exploration" not in names(aside)  # 21 px box: seen (then lost: forgetting)
    assert "target_forgetting" in names(aside, TagThresholds(forget_min_unseen=2))
    ahead = record(traj(("TurnRight", 0, 0, 38, {"visible": {"T": 400}}), *look), targets=(("T", x, y),), **bounds)
    assert "short_sighted_exploration" in names(ahead)  # the same barrel centred: 13 px, a speck


def test_blocked_elsewhere_after_turning_away_is_forgetting_blocked_heading_for_it_is_stuck():
    blocked = [("MoveForward", 200, -470, -90)] * 5
    # Saw T (due east), turned away, walked 4.7 m north and was blocked there: it left the goal.
    away = record(traj(fwd(200, visible={"T": SEEN}), ("TurnLeft", 200, 0, -90), fwd(200, -235, -90),
                       fwd(200, -470, -90), *blocked), max_steps=9)
    assert names(away) == ["target_forgetting", "stuck", "timeout"]
    assert tag(away, "target_forgetting")["primary"]
    # The same walk, then turned back towards T before every blocked move: blocked on its way there.
    back = [("TurnRight", 200, -470, 20), ("MoveForward", 200, -470, 20)] * 3
    towards = record(traj(fwd(200, visible={"T": SEEN}), ("TurnLeft", 200, 0, -90), fwd(200, -235, -90),
                          fwd(200, -470, -90), *back), max_steps=10)
    assert "target_forgetting" not in names(towards) and tag(towards, "stuck")["primary"]


def test_a_far_midway_target_keeps_subgoal_1_the_stage_goal_to_the_end():
    targets = (("A", 2000, 0), ("B", 0, 2000))
    # A in view at the start, MidwayTarget 20 m from it, then turned away and never looked back.
    steps = [("MidwayTarget", 0, 0, 0), ("TurnLeft", 0, 0, -90), ("TurnLeft", 0, 0, -180), ("TurnLeft", 0, 0, -270),
             ("Finish", 0, 0, -270)]
    rec = record(traj(*steps), type_="3", targets=targets, start_visible={"A": SEEN})
    assert names(rec) == ["target_forgetting", "premature_finish"]
    assert "saw subgoal 1 A at the start, lost it at step 0 and never saw it again (4 frames)" in tag(rec, "target_forgetting")["reason"]


def multistage_benches(**kw):
    places = {"Bench_01": [2000, 0, 0], "Bench_02": [0, 1000, 0], "Bench_03": [0, -1000, 0]}
    return dict(type_="3", targets=(("Bench_01", 2000, 0), ("Bench_02", 0, 1000)), distractors=["Bench_03"],
                object_locations=places, **kw)


def test_drift_on_subgoal_1_is_to_an_object_of_its_own_kind_not_to_subgoal_2():
    # Walked to the third bench (a distractor of subgoal 1's kind) and finished there: drift.
    south = record(traj(("TurnLeft", 0, 0, -90), fwd(0, -500, -90), fwd(0, -750, -90), ("Finish", 0, -750, -90)),
                   **multistage_benches())
    assert "spatial_semantic_drift" in names(south) and "Bench_03" in tag(south, "spatial_semantic_drift")["reason"]
    # Walked to subgoal 2 instead (a subgoal, never a distractor): a skipped stage, not drift.
    north = record(traj(("TurnRight", 0, 0, 90), fwd(0, 500, 90), fwd(0, 750, 90), ("Finish", 0, 750, 90)),
                   **multistage_benches(object_bounds={}))
    assert "spatial_semantic_drift" not in names(north) and "premature_finish" in names(north)
    # Subgoal 1 of another kind than the listed distractors: nothing to drift to in its stage.
    other = record(traj(("TurnLeft", 0, 0, -90), fwd(0, -500, -90), fwd(0, -750, -90), ("Finish", 0, -750, -90)),
                   type_="3", targets=(("Car_01", 2000, 0), ("Bench_02", 0, 1000)), distractors=["Bench_03"],
                   object_locations={"Car_01": [2000, 0, 0], "Bench_02": [0, 1000, 0], "Bench_03": [0, -1000, 0]})
    assert "spatial_semantic_drift" not in names(other)


def test_pressed_against_the_distractor_it_went_to_is_drift_on_the_way_to_the_referent_is_stuck():
    places = {"distractors": ["T_02"], "object_locations": {"T": [3000, 0, 0], "T_02": [0, -1000, 0]}}
    stuck_there = [("MoveForward", 0, -750, -90)] * 3
    went = record(traj(("TurnLeft", 0, 0, -90), fwd(0, -500, -90), fwd(0, -750, -90), *stuck_there), max_steps=6,
                  targets=(("T", 3000, 0),), **places)
    assert "spatial_semantic_drift" in names(went) and "stuck" in names(went)
    # Pressed against a same-kind object lying on its way to the referent: blocked by it, not drift.
    on_way = {"distractors": ["T_02"], "object_locations": {"T": [0, -3000, 0], "T_02": [0, -1000, 0]}}
    blocked = record(traj(("TurnLeft", 0, 0, -90), fwd(0, -500, -90), fwd(0, -750, -90), *stuck_there), max_steps=6,
                     targets=(("T", 0, -3000),), **on_way)
    assert "spatial_semantic_drift" not in names(blocked) and "stuck" in names(blocked)


def test_subgoal_2_abandoned_is_forgetting_only_if_seen_after_the_midway_target():
    targets = (("A", 500, 0), ("B", 500, 2000))
    # B in view on the way to A, MidwayTarget at A, then Finish without looking for B: not forgetting.
    before = record(traj(fwd(250, visible={"B": SEEN}), fwd(500), ("MidwayTarget", 500, 0, 0),
                         ("TurnLeft", 500, 0, -90), ("TurnLeft", 500, 0, -180), ("TurnLeft", 500, 0, -270),
                         ("Finish", 500, 0, -270)), type_="3", targets=targets)
    assert "target_forgetting" not in names(before) and "premature_finish" in names(before)
    # The same with B in view after the MidwayTarget, then turned away: forgetting.
    seen_b = {"visible": {"B": SEEN}}
    after = record(traj(fwd(250), fwd(500), ("MidwayTarget", 500, 0, 0), ("TurnRight", 500, 0, 90, seen_b),
                        ("TurnRight", 500, 0, 180), ("TurnRight", 500, 0, 270), ("TurnRight", 500, 0, 360),
                        ("Finish", 500, 0, 360)), type_="3", targets=targets)
    assert "target_forgetting" in names(after)


def test_a_drop_landing_within_one_and_a_half_radii_reached_the_drop_target():
    kw = dict(type_="4.2", targets=(("Bag", 0, 0), ("Bin", 1000, 0)), pick_object="Bag")
    # Dropped from 470 cm (outside 1.5R), the bag lands 420 cm from the bin: it was carried there, the drop
    # missed (interaction_failed, as evidence of the near miss).
    rec = record(traj(("PickObject", 0, 0, 0, {"held_object": "Bag"}), fwd(530, held_object="Bag"),
                      ("DropObject", 530, 0, 0, {"dropped_at": [580, 0, 0]}), ("Finish", 530, 0, 0)), **kw)
    assert names(rec) == ["near_miss", "interaction_failed"] and primary_of(tag_episode(rec)) == "near_miss"
    # Landing 600 cm away: never near the drop target, a navigation failure.
    far = record(traj(("PickObject", 0, 0, 0, {"held_object": "Bag"}), fwd(330, held_object="Bag"),
                      ("DropObject", 330, 0, 0, {"dropped_at": [400, 0, 0]}), ("Finish", 330, 0, 0)), **kw)
    assert names(far) == ["premature_finish"]


def test_box_side_level_camera_closed_form_agrees_with_the_pitched_projection():
    # The level camera (the common case) is computed in closed form; a pitch of 1e-9 degrees takes the
    # general path: both give the same box for objects all around, near and far, low and tall.
    for k in range(72):
        a = math.radians(5 * k)
        for dist, r, top in ((300, 40, 100), (1200, 150, 600), (2500, 30, 50)):
            b = [dist * math.cos(a) - r, dist * math.sin(a) - r, 0, dist * math.cos(a) + r, dist * math.sin(a) + r, top]
            assert box_side((0, 0), 0, 0, b, 90) == pytest.approx(box_side((0, 0), 0, 1e-9, b, 90), abs=1e-6)


def test_a_door_seen_edge_on_is_as_narrow_as_its_pixels_over_its_height():
    # A 2.2 m door 10 m ahead spans 70 px in height; 688 px of it (640x480) is a 10 px wide strip: the door
    # edge-on or half behind its wall, not seen. Filling its face (5,000 px: 71 px wide) it is seen.
    door = {"door": "Door_01", "object_locations": {"Door_01": [1000, 0, 0]},
            "object_bounds": {"Door_01": [880, -120, 0, 1120, 120, 220]}}
    look = [("TurnLeft", 0, 0, -90), ("TurnLeft", 0, 0, -180), ("Finish", 0, 0, -180)]

    def run(px, th=None):
        rec = record(traj(("TurnRight", 0, 0, 0, {"visible": {"Door_01": px}}), *look), type_="4.1",
                     targets=(("Door_01", 1000, 0),), **door)
        return names(rec, th)

    assert "short_sighted_exploration" in run(688) and "short_sighted_exploration" not in run(5000)
    # Counts are the run's: 172 px of a 320x240 frame is the same strip, 1,250 the same face.
    small = TagThresholds().for_frame(320, 240)
    assert small.frame_scale == 0.25 and TagThresholds().frame_scale == 1.0
    assert "short_sighted_exploration" in run(172, small) and "short_sighted_exploration" not in run(1250, small)


def test_box_side_without_a_position_or_size_is_zero_and_never_divides_by_zero():
    # No recorded position (nan): the box cannot be measured, so a sized object does not count as seen there.
    assert box_side((math.nan, math.nan), 0, 0, barrel_at(1000, 0), 90) == 0.0
    assert box_side((math.nan, math.nan), 0, 10, barrel_at(1000, 0), 90) == 0.0
    # Bounds without a footprint (a vertical line) fill no box, level or pitched; a flat one on the ground
    # still has a height in the frame (its near and far edges), a few pixels at 10 m.
    assert box_side((0, 0), 0, 0, [1000, 0, 0, 1000, 0, 100], 90) == 0.0
    assert box_side((0, 0), 0, 10, [1000, 0, 0, 1000, 0, 100], 90) == 0.0
    assert 0 < box_side((0, 0), 0, 0, [950, -50, 0, 1050, 50, 0], 90) < 16
    # Right beside the camera's plane (depth clamped to 1 cm): clipped to the frame, not infinite.
    assert 0 < box_side((0, 0), 90, 0, barrel_at(0, 200), 90) <= 480
