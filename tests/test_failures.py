"""Failure tags on hand-built trajectories: for every tag one that must carry it and one that must not;
thresholds from config; the oracle gets no tags on a sample of the embedded suite, with real masks."""
import pytest

from embrace_bench.records import EpisodeRecord, StepRecord, TaskInfo
from embrace_bench.scoring.failures import TAG_NAMES, TagThresholds, tag_episode
from embrace_bench.scoring.metrics import rescore
from embrace_bench.tasks.maps import EMBEDDED_MAPS_DIR

SEEN = 2000  # mask pixels of an object in plain view (640x480)


def traj(*moves, start=(0.0, 0.0, 0.0)):
    """Steps from (action, x, y, yaw[, {field: value}]) tuples; `visible` etc. go in the dict."""
    steps, before = [], [start[0], start[1], 90.0, 0.0, start[2], 0.0]
    for i, (a, x, y, yaw, *extra) in enumerate(moves):
        after = [float(x), float(y), 90.0, 0.0, float(yaw), 0.0]
        s = StepRecord(index=i, action=a, valid=a is not None, pose_before=before, pose_after=after,
                       raw_response=f"<action>{a}</action>")
        for k, v in (extra[0] if extra else {}).items():
            setattr(s, k, v)
        steps.append(s)
        before = after
    return steps


def record(steps, type_="0", targets=(("T", 1000, 0),), max_steps=32, start_visible=None, **task_kw):
    """A scored record: the task's targets are (name, x, y); success/status come from the metrics."""
    info = TaskInfo(instruction="go", target_poses=[[x, y, 0, 0, 0, 0] for _, x, y in targets],
                    target_objects=[n for n, _, _ in targets], **task_kw)
    rec = EpisodeRecord(task_id="t", type=type_, split="id", map="m", model="x", status="finished", success=False,
                        gde_cm=0.0, sspl=0.0, n_steps=len(steps), s_opt=3, task=info, steps=steps,
                        start_visible=start_visible or {})
    return rescore(rec, max_steps)


def names(rec, th=None):
    return [t["name"] for t in tag_episode(rec, th)]


def tag(rec, name):
    return next(t for t in tag_episode(rec) if t["name"] == name)


def fwd(x, y=0, yaw=0, **kw):
    return ("MoveForward", x, y, yaw, kw)


# ---- target_forgetting ------------------------------------------------------------------------
def test_forgetting_seen_then_lost_and_never_reacquired():
    rec = record(traj(fwd(235, visible={"T": SEEN}), ("TurnLeft", 235, 0, -30, {"visible": {}}),
                      ("TurnLeft", 235, 0, -60), ("TurnLeft", 235, 0, -90), ("Finish", 235, 0, -90)),
                 start_visible={"T": SEEN})
    t = tag(rec, "target_forgetting")
    assert t["steps"] == [0, 1, 4] and "lost it at step 1 and never saw it again (3 frames)" in t["reason"]
    # Out of view for only the last two frames before Finish: too brief to call it forgotten.
    brief = record(traj(fwd(235, visible={"T": SEEN}), ("TurnLeft", 235, 0, -30), ("TurnLeft", 235, 0, -60),
                        ("Finish", 235, 0, -60)), start_visible={"T": SEEN})
    assert "target_forgetting" not in names(brief)


def test_no_forgetting_when_the_target_stays_in_view_or_was_never_seen():
    in_view = record(traj(fwd(235, visible={"T": SEEN}), ("Finish", 235, 0, 0)), start_visible={"T": SEEN})
    never = record(traj(fwd(235), ("Finish", 235, 0, 0)))
    assert "target_forgetting" not in names(in_view) and "target_forgetting" not in names(never)
    # Lost from view at the goal (too close to see) is a success, not forgetting.
    at_goal = record(traj(fwd(800, visible={"T": SEEN}), ("MoveForward", 900, 0, 0, {"visible": {}}),
                          ("Finish", 900, 0, 0)))
    assert at_goal.success and names(at_goal) == []


def test_forgetting_when_moving_away_from_a_target_still_in_view():
    v = {"visible": {"T": SEEN}}
    rec = record(traj(fwd(600, **v), ("MoveBackward", 300, 0, 0, v), ("MoveBackward", 0, 0, 0, v),
                      ("Finish", 0, 0, 0)))
    assert "kept it in view but moved away" in tag(rec, "target_forgetting")["reason"]


def test_multistage_second_goal_abandoned_after_the_first():
    targets = (("A", 500, 0), ("B", 500, 2000))
    b = {"visible": {"B": SEEN}}
    abandoned = record(traj(fwd(500), ("MidwayTarget", 500, 0, 0), ("TurnRight", 500, 0, 90, b),
                            ("TurnRight", 500, 0, 180), fwd(300, 0, 180), ("TurnRight", 300, 0, 210),
                            ("Finish", 300, 0, 210)), type_="3", targets=targets)
    t = tag(abandoned, "target_forgetting")
    assert t["steps"] == [2, 3, 6] and "saw subgoal 2 B at step 2, lost it at step 3" in t["reason"]
    # Subgoal 2 never seen after the MidwayTarget: not forgetting (a search failure, if anything).
    unseen = record(traj(fwd(500), ("MidwayTarget", 500, 0, 0), ("TurnRight", 500, 0, 90), ("TurnRight", 500, 0, 180),
                         fwd(300, 0, 180), ("TurnRight", 300, 0, 210), ("Finish", 300, 0, 210)),
                    type_="3", targets=targets, start_visible={"Other": SEEN})
    assert "target_forgetting" not in names(unseen)
    progressed = record(traj(fwd(500), ("MidwayTarget", 500, 0, 0), ("TurnRight", 500, 0, 90),
                             fwd(500, 1000, 90), ("Finish", 500, 1000, 90)), type_="3", targets=targets)
    assert "target_forgetting" not in names(progressed)


# ---- short_sighted_exploration ------------------------------------------------------------------
def test_short_sighted_when_target_never_seen_and_little_scanned():
    rec = record(traj(fwd(235), fwd(470), ("Finish", 470, 0, 0)), start_visible={"Other": SEEN})
    t = tag(rec, "short_sighted_exploration")
    assert "never saw the target T" in t["reason"] and "25% of the horizon" in t["reason"]


def test_no_short_sighted_after_a_full_scan_and_a_walk_or_when_seen():
    turns = [("TurnLeft", 0, 0, -30 * (i + 1)) for i in range(11)]
    walk = [fwd(235 * (i + 1), 0, -330) for i in range(4)]
    scanned = record(traj(*turns, *walk, ("Finish", 940, 0, -330)), start_visible={"Other": SEEN})
    assert "short_sighted_exploration" not in names(scanned)
    seen = record(traj(fwd(235, visible={"T": SEEN}), ("Finish", 235, 0, 0)))
    assert "short_sighted_exploration" not in names(seen)
    no_masks = record(traj(fwd(235), ("Finish", 235, 0, 0)))  # a record without mask data: no vision tags
    assert "short_sighted_exploration" not in names(no_masks)


# ---- spatial_semantic_drift ----------------------------------------------------------------------
def _drift_task(**kw):
    return dict(distractors=["T_02"], object_locations={"T": [1000, 0, 0], "T_02": [0, 1000, 0]}, **kw)


def test_drift_ended_at_a_same_category_distractor():
    rec = record(traj(("TurnRight", 0, 0, 90), fwd(0, 800, 90), ("Finish", 0, 800, 90)), **_drift_task())
    t = tag(rec, "spatial_semantic_drift")
    assert t["steps"] == [2] and "from T_02" in t["reason"] and "referent T" in t["reason"]


def test_no_drift_when_ending_elsewhere_or_succeeding():
    rec = record(traj(fwd(235), ("Finish", 235, 0, 0)), **_drift_task())
    assert "spatial_semantic_drift" not in names(rec)
    # Starting next to a distractor and stopping there is a premature finish, not a drift towards it.
    stayed = record(traj(("TurnLeft", 0, 800, -30), ("Finish", 0, 800, -30), start=(0, 800, 0)), **_drift_task())
    assert "spatial_semantic_drift" not in names(stayed) and "premature_finish" in names(stayed)
    # Pick & Drop: ending at a distractor of the drop target before picking the object up is not drift.
    kw = _drift_task(pick_object="Bag")
    kw["object_locations"]["Bag"] = [-500, 0, 0]
    early = record(traj(("TurnRight", 0, 0, 90), fwd(0, 800, 90), ("Finish", 0, 800, 90)), type_="4.2",
                   targets=(("Bag", -500, 0), ("T", 1000, 0)), **kw)
    assert "spatial_semantic_drift" not in names(early)
    ok = record(traj(fwd(900), ("Finish", 900, 0, 0)), **_drift_task())
    assert ok.success and "spatial_semantic_drift" not in names(ok)


def test_drift_picked_the_wrong_object_and_opened_the_wrong_door():
    pick = record(traj(("PickObject", 0, 0, 0, {"held_object": "Bag_02"}), ("Finish", 0, 0, 0)), type_="4.2",
                  targets=(("Bag_01", 0, 0), ("Bin", 500, 0)), pick_object="Bag_01")
    assert "picked up Bag_02 instead of Bag_01" in tag(pick, "spatial_semantic_drift")["reason"]
    door = record(traj(("OpenDoor", 0, 0, 0, {"door_state": {"D1": 0, "D2": 1}}), ("Finish", 0, 0, 0)),
                  type_="4.1", targets=(("D1", 0, 0),), door="D1")
    assert "opened D2 instead of D1" in tag(door, "spatial_semantic_drift")["reason"]


def test_drift_falls_back_to_the_last_frame_without_recorded_places():
    rec = record(traj(fwd(235, visible={"T_02": 5000, "T": 10}), ("Finish", 235, 0, 0)), distractors=["T_02"])
    assert "last frame shows T_02" in tag(rec, "spatial_semantic_drift")["reason"]
    small = record(traj(fwd(235, visible={"T_02": 100}), ("Finish", 235, 0, 0)), distractors=["T_02"])
    assert "spatial_semantic_drift" not in names(small)


# ---- stuck, looping -------------------------------------------------------------------------------
def test_stuck_on_moves_that_go_nowhere():
    blocked = [fwd(0, collided=True), ("TurnLeft", 0, 0, -30), fwd(0, 0, -30), fwd(5, 0, -30)]
    rec = record(traj(*blocked, ("Finish", 5, 0, -30)))
    t = tag(rec, "stuck")
    assert t["steps"] == [0, 2, 3]


def test_not_stuck_when_moves_move_or_blocks_are_few():
    rec = record(traj(fwd(0), fwd(235), fwd(235), fwd(470), ("Finish", 470, 0, 0)))
    assert "stuck" not in names(rec)


def test_looping_on_walks_back_to_the_same_place_and_heading():
    back_forth = [fwd(235), ("MoveBackward", 0, 0, 0)] * 3
    rec = record(traj(*back_forth, ("Finish", 0, 0, 0)))
    t = tag(rec, "looping")
    assert t["steps"] == [1, 2, 3, 4, 5] and "walked back 5 times" in t["reason"]
    # Turning in place (a scan, or wavering left and right) returns to a heading, not to a place walked to.
    osc = [("TurnLeft", 0, 0, -30), ("TurnRight", 0, 0, 0)] * 3
    assert "looping" not in names(record(traj(*osc, ("Finish", 0, 0, 0))))
    # Turn/forward cycles pushing against one obstacle: stuck, not looping.
    push = [("MoveForward", 0, 0, 0), ("TurnLeft", 0, 0, -30), ("MoveForward", 0, 0, -30), ("TurnRight", 0, 0, 0)] * 3
    assert names(record(traj(*push, ("Finish", 0, 0, 0)))) == ["stuck", "premature_finish"]


def test_no_looping_for_a_straight_path_or_standing_still():
    rec = record(traj(fwd(235), fwd(470), ("LookUp", 470, 0, 0), ("LookDown", 470, 0, 0), fwd(470), fwd(705),
                      ("Finish", 705, 0, 0)))
    assert "looping" not in names(rec)


# ---- premature_finish ------------------------------------------------------------------------------
def test_premature_finish_far_from_the_target():
    rec = record(traj(fwd(235), ("Finish", 235, 0, 0)))
    assert tag(rec, "premature_finish")["reason"] == "Finish at step 1 765 cm from the target (radius 300)"


def test_no_premature_finish_on_timeout_or_at_the_target():
    rec = record(traj(*[("TurnLeft", 0, 0, 0)] * 3), max_steps=3)
    assert "premature_finish" not in names(rec) and "timeout" in names(rec)
    assert "premature_finish" not in names(record(traj(fwd(800), ("Finish", 800, 0, 0))))


def test_premature_finish_multistage_without_midway():
    rec = record(traj(fwd(500), ("Finish", 500, 0, 0)), type_="3", targets=(("A", 0, 0), ("B", 500, 0)))
    assert "no MidwayTarget before Finish" in tag(rec, "premature_finish")["reason"]



def test_a_far_midway_target_is_premature_whatever_follows():
    # MidwayTarget 1000 cm from subgoal 1 (> 1.5R), then wandering until the step limit: still premature.
    steps = [fwd(1000), ("MidwayTarget", 1000, 0, 0)] + [("TurnLeft", 1000, 0, 0)] * 2
    rec = record(traj(*steps), type_="3", targets=(("A", 0, 0), ("B", 500, 0)), max_steps=4)
    assert rec.status == "timeout"
    t = tag(rec, "premature_finish")
    assert t["steps"] == [1] and "MidwayTarget at step 1 1000 cm from subgoal 1" in t["reason"]
    near = record(traj(fwd(400), ("MidwayTarget", 400, 0, 0), ("TurnLeft", 400, 0, 0), ("TurnLeft", 400, 0, 0)),
                  type_="3", targets=(("A", 0, 0), ("B", 500, 0)), max_steps=4)  # 400 cm: within 1.5R
    assert "premature_finish" not in names(near)


# ---- interaction_failed -------------------------------------------------------------------------------
def test_interaction_door_out_of_range_and_never_issued():
    kw = dict(type_="4.1", targets=(("D1", 500, 0),), door="D1", object_locations={"D1": [800, 0, 0]})
    far = record(traj(fwd(500, door_state={"D1": 0}), ("OpenDoor", 500, 0, 0, {"door_state": {"D1": 0}}),
                      ("Finish", 500, 0, 0, {"door_state": {"D1": 0}})), **kw)
    t = tag(far, "interaction_failed")
    assert t["steps"] == [1] and "nearest try 300 cm from D1, reach 250 cm" in t["reason"]
    never = record(traj(fwd(500), ("Finish", 500, 0, 0)), **kw)
    assert tag(never, "interaction_failed")["reason"].startswith("OpenDoor never issued")
    # Never within reach x 1.5 of the door: a navigation failure (Finish far from it), not an interaction one.
    kw["object_locations"] = {"D1": [1400, 0, 0]}
    unreached = record(traj(fwd(500), ("OpenDoor", 500, 0, 0), ("Finish", 500, 0, 0)), **kw)
    assert names(unreached) == ["premature_finish"] and "never within 375 cm" in tag(unreached, "premature_finish")["reason"]



def test_door_reached_is_measured_to_its_centre_not_its_footprint():
    # A 240 cm wide door whose centre lies 400 cm away: its footprint edge is within 375 cm, its centre is not.
    kw = dict(type_="4.1", targets=(("D1", 900, 0),), door="D1", object_locations={"D1": [900, 0, 0]},
              object_bounds={"D1": [780, -120, 0, 1020, 120, 220]})
    rec = record(traj(fwd(500), ("OpenDoor", 500, 0, 0), ("Finish", 500, 0, 0)), **kw)
    assert names(rec) == ["premature_finish"]
    kw["object_locations"] = {"D1": [850, 0, 0]}  # centre 350 cm away: reached
    assert "interaction_failed" in names(record(traj(fwd(500), ("OpenDoor", 500, 0, 0), ("Finish", 500, 0, 0)), **kw))


def test_no_interaction_failed_when_the_door_opened_or_the_type_needs_none():
    kw = dict(type_="4.1", targets=(("D1", 500, 0),), door="D1")
    opened = record(traj(fwd(100), ("OpenDoor", 100, 0, 0, {"door_state": {"D1": 1}}),
                         ("Finish", 100, 0, 0, {"door_state": {"D1": 1}})), **kw)
    assert not opened.success and "interaction_failed" not in names(opened)  # failed, but not by the door
    assert "interaction_failed" not in names(record(traj(fwd(235), ("Finish", 235, 0, 0))))


def test_interaction_pick_and_drop():
    kw = dict(type_="4.2", targets=(("Bag", 0, 0), ("Bin", 1000, 0)), pick_object="Bag")
    no_pick = record(traj(("PickObject", 0, 0, 0), ("Finish", 0, 0, 0)), **kw)
    assert "did not pick up Bag" in tag(no_pick, "interaction_failed")["reason"]
    no_drop = record(traj(("PickObject", 0, 0, 0, {"held_object": "Bag"}), fwd(900, held_object="Bag"),
                          ("Finish", 900, 0, 0, {"held_object": "Bag"})), **kw)
    assert tag(no_drop, "interaction_failed")["reason"].startswith("DropObject never issued")
    missed = record(traj(("PickObject", 0, 0, 0, {"held_object": "Bag"}), fwd(700, held_object="Bag"),
                         ("DropObject", 700, 0, 0, {"dropped_at": [600, 0, 0]}), ("Finish", 700, 0, 0)), **kw)
    assert tag(missed, "interaction_failed")["steps"] == [2]  # carried close, dropped 400 cm away
    # Dropped right where it was picked up, never carried near the bin: a premature finish, not an interaction.
    far_drop = record(traj(("PickObject", 0, 0, 0, {"held_object": "Bag"}),
                           ("DropObject", 0, 0, 0, {"dropped_at": [80, 0, 0]}), ("Finish", 0, 0, 0)), **kw)
    assert names(far_drop) == ["premature_finish"]
    done = record(traj(("PickObject", 0, 0, 0, {"held_object": "Bag"}), fwd(900, held_object="Bag"),
                       ("DropObject", 900, 0, 0, {"dropped_at": [980, 0, 0]}), ("Finish", 900, 0, 0)), **kw)
    assert done.success and names(done) == []


# ---- invalid_output, timeout, api_error -----------------------------------------------------------------
def test_invalid_output_names_the_steps():
    rec = record(traj((None, 0, 0, 0, {"error": "no <action>...</action> tag", "reasks": 3}), fwd(800),
                      ("Finish", 800, 0, 0)))
    t = tag(rec, "invalid_output")
    assert rec.success and t["steps"] == [0] and "3 re-asks" in t["reason"] and "no <action>" in t["reason"]
    assert "invalid_output" not in names(record(traj(fwd(800, reasks=1), ("Finish", 800, 0, 0))))


def test_timeout_only_at_the_step_limit():
    rec = record(traj(*[("TurnLeft", 0, 0, 0)] * 4), max_steps=4)
    assert tag(rec, "timeout") == {"name": "timeout", "steps": [3], "reason": "no Finish within 4 steps", "primary": True}
    assert "timeout" not in names(record(traj(("TurnLeft", 0, 0, 0)), max_steps=4))


def test_api_error_only_for_model_failures():
    base = record(traj())
    # Records written before error_kind existed: the kind is derived from the message once, at load time.
    api = EpisodeRecord.from_json({**base.to_json(), "status": "error",
                                   "error": "ModelCallError: 429 after 4 retries\nmore"})
    engine = EpisodeRecord.from_json({**base.to_json(), "status": "error", "error": "EngineError: engine died"})
    assert tag_episode(api) == [{"name": "api_error", "steps": [], "reason": "ModelCallError: 429 after 4 retries",
                                 "primary": True}]
    assert tag_episode(engine) == []
    now = EpisodeRecord(**{**base.__dict__, "status": "error", "error": "model: gpt: gave up after 5 tries: 429",
                               "error_kind": "model"})
    assert tag_episode(now)[0]["name"] == "api_error"


def test_every_tag_name_is_covered_and_reasons_are_one_line():
    rec = record(traj((None, 0, 0, 0, {"error": "line1\nline2</script>"}), ("Finish", 0, 0, 0)))
    t = tag(rec, "invalid_output")
    assert "\n" not in t["reason"]
    assert len(TAG_NAMES) == 11 and len(set(TAG_NAMES)) == 11


# ---- thresholds ------------------------------------------------------------------------------------
def test_thresholds_change_the_verdict():
    back_forth = [fwd(235), ("MoveBackward", 0, 0, 0)] * 3
    rec = record(traj(*back_forth, ("Finish", 800, 0, 0)))
    assert "looping" in names(rec) and "looping" not in names(rec, TagThresholds(loop_min_revisits=6))


@pytest.mark.parametrize("cfg, needle", [
    ({"nope": 1}, "unknown setting 'tags.nope'"),
    ({"stuck_min_moves": 2.5}, "tags.stuck_min_moves must be an integer >= 0, not 2.5"),
    ({"forget_margin_cm": "far"}, "tags.forget_margin_cm must be a number >= 0, not 'far'"),
    ({"min_yaw_coverage": 2}, "tags.min_yaw_coverage must be between 0 and 1"),
    ({"loop_cell_cm": 0}, "tags.loop_cell_cm must be > 0"),
    ({"fov_deg": 180}, "tags.fov_deg must be below 180, not 180.0"),
])
def test_bad_thresholds_are_one_line_errors(cfg, needle):
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        TagThresholds.from_config(cfg)
    assert TagThresholds.from_config({"stuck_min_moves": 4}).stuck_min_moves == 4


# ---- the oracle on the embedded suite ------------------------------------------------------------------
def test_oracle_gets_no_tags_on_a_sample_of_every_type_and_split_with_real_masks():
    from fakes import InProcessClient

    from embrace_bench.baselines.oracle import OracleAgent
    from embrace_bench.env.unreal_env import EnvConfig, UnrealEnv
    from embrace_bench.episode import EpisodeSettings, run_episode
    from embrace_bench.tasks.model import TYPES
    from embrace_bench.tasks.suite import load_embedded
    from embrace_bench.world.engine import EmbeddedEngine

    env = UnrealEnv(InProcessClient(EmbeddedEngine("numpy", maps_dir=EMBEDDED_MAPS_DIR, width=96, height=72)), EnvConfig(width=96, height=72))
    tasks = load_embedded(("id", "ood")).tasks
    sample = [t for s in ("id", "ood") for ty in TYPES for t in [x for x in tasks if (x.split, x.type) == (s, ty)][:2]]
    seen_any = 0
    for task in sample:
        rec = run_episode(env, OracleAgent(), task, "oracle", EpisodeSettings())
        assert rec.success and rec.tags == [], (task.task_id, rec.tags)
        assert set(task.target_objects) <= set(rec.task.object_locations)
        seen_any += any(s.visible.get(task.target_objects[-1]) for s in rec.steps)
    assert len(sample) == 24 and seen_any >= 12  # the masks are real: targets do show up


def square(x0, y0, x1, y1):
    """A rectangle's ring, for success regions and footprints."""
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_release_tasks_use_the_scorers_regions():
    """With success regions (EmbRACE release), "at the target" is the region, as in the scorer, not a radius."""
    regions = {"final": {"character": [{"outer": square(0, -300, 2000, 300), "holes": []}],
                         "footprints": [square(1500, -100, 1700, 100)], "z": None, "object": None, "object_z": None},
               "z_tolerance_cm": None, "shortest_path_cm": 1000.0}  # without one the release cannot score it
    inside = record(traj(fwd(470), ("Finish", 470, 0, 0)), targets=(("T", 1600, 0),), regions=regions)
    assert inside.success and names(inside) == []  # 1130 cm from the target pose, but inside its region
    outside = record(traj(("MoveBackward", -60, 0, 0), ("Finish", -60, 0, 0)), targets=(("T", 1600, 0),),
                     regions=regions)
    assert tag(outside, "premature_finish")["reason"] == \
        "Finish at step 1 1560 cm from the target outside the target region"


def test_release_near_miss_by_a_distractor_is_a_near_miss_not_drift():
    """The near-miss zone is measured to the success region for drift as for near_miss (0.5R beyond it): ending
    within it beside a same-kind object is a near miss, never drift as well."""
    regions = {"final": {"character": [{"outer": square(1450, -150, 1750, 150), "holes": []}],
                         "footprints": [square(1500, -100, 1700, 100)], "z": None, "object": None, "object_z": None},
               "z_tolerance_cm": None, "shortest_path_cm": 1000.0}
    v = {"T_02": SEEN}
    walk = traj(fwd(500, visible=v), fwd(1000, visible=v), fwd(1350, visible=v), ("Finish", 1350, 0, 0))
    # 150 cm from the footprint (in the zone), 250 cm from the target pose, 200 cm from the distractor
    rec = record(walk, targets=(("T", 1600, 0),), regions=regions, distractors=["T_02"],
                 object_locations={"T_02": [1350, -200, 0]})
    assert not rec.success and "spatial_semantic_drift" not in names(rec) and tag(rec, "near_miss")["primary"]


def test_release_multistage_judges_the_last_midway_like_the_scorer():
    """Release tasks judge the LAST MidwayTarget (the release's rule): the tags name that one, not an earlier try."""
    def stage(x0, x1):
        return {"character": [{"outer": square(x0 - 100, -300, x1 + 100, 300), "holes": []}],
                "footprints": [square(x0, -100, x1, 100)], "z": None, "object": None, "object_z": None}
    regions = {"final": stage(950, 1050), "midway": stage(450, 550), "z_tolerance_cm": None}
    rec = record(traj(fwd(100), ("MidwayTarget", 100, 0, 0), fwd(500), ("MidwayTarget", 500, 0, 0), fwd(600),
                      ("Finish", 600, 0, 0)), type_="3", targets=(("A", 500, 0), ("B", 1000, 0)), regions=regions)
    assert not rec.success and rec.gde_cm == 350  # the second MidwayTarget is inside its region
    t = tag(rec, "premature_finish")
    assert t["steps"] == [3, 5] and "MidwayTarget" not in t["reason"]


def test_records_without_poses_get_no_pose_based_tags():
    """Steps with no recorded pose (the schema's default) are scored "no pose recorded", and tagging them must
    not fail (it did: premature_finish indexed the empty final pose)."""
    steps = [StepRecord(index=0, action="MoveForward"), StepRecord(index=1, action="Finish")]
    rec = record(steps)
    assert not rec.success and names(rec) == []
    ms = record([StepRecord(index=0, action="MidwayTarget"), StepRecord(index=1, action="Finish")], type_="3",
                targets=(("A", 500, 0), ("B", 1000, 0)))
    assert names(ms) == []
