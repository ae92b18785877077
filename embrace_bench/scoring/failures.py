"""Failure tags: why an episode failed, named from the record alone (poses, mask pixels, door and held
states, actions, answers, the task's objects), so the same rules apply to embedded and Unreal runs.

Each tag is `{"name", "steps": [step indices that prove it], "reason": one line}`. Which episodes a tag
can apply to:
- outcome tags, failed episodes only: target_forgetting, short_sighted_exploration,
  spatial_semantic_drift (scoring/drift.py), near_miss, premature_finish, interaction_failed, timeout;
- behaviour tags, any scored episode (a success can still loop or answer badly): stuck, looping,
  invalid_output;
- api_error: episodes with status `error` whose cause is the model API (after all retries). Engine
  failures are errors too, counted on every leaderboard, but not a model's failure mode.
The tagger looks at the stage the agent failed (subgoal 1 or 2, the object to pick or the drop target).
Thresholds are `TagThresholds` (config group `tags`, recorded in each run's manifest).
"""
from __future__ import annotations

import math

from embrace_bench.actions import TURNS, Action
from embrace_bench.records import EpisodeRecord
from embrace_bench.scoring.behaviour_tags import BEHAVIOUR, api_error, blocked_at_end, blocked_runs
from embrace_bench.scoring.drift import near_zone, spatial_semantic_drift
from embrace_bench.scoring.metrics import at_stage, door_reason, pick_drop_reason, stage_distance, xy_dist
from embrace_bench.scoring.primary import mark_primary
from embrace_bench.scoring.tagset import ORDER, TAG_NAMES, Tag, TagThresholds
from embrace_bench.scoring.tagset import cm as _d
from embrace_bench.scoring.tagset import make_tag as _tag
from embrace_bench.scoring.trajectory import (
    Phase,
    Trajectory,
    build,
    footprint_dist,
    horizon_coverage,
    location_xy,
    off_heading,
)
from embrace_bench.tasks.model import TaskType

__all__ = ["TAG_NAMES", "Tag", "TagThresholds", "tag_episode"]


# ---- outcome tags -----------------------------------------------------------------------------
def _zone(tr: Trajectory, p: Phase, th: TagThresholds) -> float:
    """How near the stage's goal counts as "got there" for forgetting and reaching: the reach band around a
    door or an object to pick up, else `near_miss_factor` times the success radius."""
    if p.goal and p.goal in (tr.record.task.door, tr.record.task.pick_object):
        return th.reached_factor * th.reach_cm
    return th.near_miss_factor * tr.record.task.success_radius_cm


def _lost_while_blocked(tr: Trajectory, th: TagThresholds, gone_step: int | None,
                        goal_xy: tuple[float, float]) -> bool:
    """Still blocked at the end, and the goal left the view during that final blocked spell (turning against
    an obstacle), or the agent was heading for it when the spell began (the goal within `seen_max_off_deg` of
    its heading: blocked on its way there), or it had not walked anywhere since it lost the goal (blocked where
    it turned): being blocked, not forgetting. Blocked somewhere else after turning away from the goal (a scan,
    or walking past it) is forgetting, with stuck as evidence."""
    if gone_step is None or not blocked_at_end(tr, th):
        return False
    start = blocked_runs(tr, th)[-1][0]  # a step index: its observation is the pose before that step
    if gone_step >= start or abs(off_heading(tr.xy[start], tr.yaw[start], goal_xy)) <= th.seen_max_off_deg:
        return True
    return not xy_dist(tr.xy[gone_step], tr.xy[start]) >= th.stuck_move_cm  # no pose: nan, judged not walked


def target_forgetting(tr: Trajectory, th: TagThresholds) -> dict | None:
    """Saw the stage's goal, then turned or walked away and never came back: out of view for the last frames
    while not near it, or ended well farther than its closest approach. Not when still blocked on its way
    there, nor when it came within the near-miss zone and ended in it (circling near the goal)."""
    p = tr.failing_phase()
    if p is None or p.goal_xy is None or not tr.has_masks:
        return None
    # Seen at any time up to the end of the stage (the drop target in view on the way to the object counts),
    # but subgoal 2 only after the MidwayTarget (round 4's "subgoal 2 abandoned"); the closest approach is
    # measured within the stage, where walking towards it was the task.
    since = p.first if tr.record.type == TaskType.MULTI_STAGE else 0
    seen = [k for k in tr.seen(p.goal, p.last, th) if k >= since]
    if not seen:
        return None
    d_end = xy_dist(tr.xy[p.last], p.goal_xy)
    gx, gy = p.goal_xy
    d_min = min(math.hypot(x - gx, y - gy) for x, y in tr.xy[max(seen[0], p.first): p.last + 1])
    unseen = [k for k in range(seen[-1] + 1, p.last + 1) if tr.vis[k] is not None]
    zone = _zone(tr, p, th)
    lost = len(unseen) >= max(1, th.forget_min_unseen) and d_end > zone \
        and not _lost_while_blocked(tr, th, tr.step_of(unseen[0]) if unseen else None, p.goal_xy)
    farther = d_end > d_min + th.forget_margin_cm  # circling back and leaving again: still left it
    # Circling near the goal: having come within the zone, only leaving it (ending outside the zone and well
    # farther than the closest approach) is forgetting; ending in it is a near miss.
    if not (lost or farther) or (d_min <= zone and not (d_end > zone and d_end > d_min + th.forget_margin_cm)):
        return None
    first = f"saw {p.label} {p.goal} at {'the start' if seen[0] == 0 else f'step {tr.step_of(seen[0])}'}"
    if lost:
        gone = unseen[0]
        how = f"lost it at step {tr.step_of(gone)} and never saw it again ({len(unseen)} frames)"
        steps = [tr.step_of(seen[0]), tr.step_of(gone), tr.step_of(p.last)]
    else:
        how = "kept it in view but moved away"
        steps = [tr.step_of(seen[0]), tr.step_of(p.last)]
    return _tag(Tag.target_forgetting, steps, f"{first}, {how}; ended {_d(d_end)} from it (closest {_d(d_min)})")


def short_sighted_exploration(tr: Trajectory, th: TagThresholds) -> dict | None:
    """The failed stage's goal was never seen, and the agent looked at little of the horizon or stayed in a
    small area (either below its threshold)."""
    p = tr.failing_phase()
    if p is None or not p.goal or not tr.has_masks or tr.seen(p.goal, p.last, th):
        return None
    cover = horizon_coverage(tr.yaw[: p.last + 1], th.fov_deg)
    xs, ys = zip(*tr.xy[: p.last + 1])
    if math.isnan(sum(xs)):  # some observation without a position: leave it out
        xs, ys = tuple(x for x in xs if not math.isnan(x)), tuple(y for x, y in zip(xs, ys) if not math.isnan(x))
    span = math.hypot(max(xs) - min(xs), max(ys) - min(ys)) if xs else 0.0
    narrow, small = cover < th.min_yaw_coverage, span < th.explore_min_span_cm
    if not (narrow or small):
        return None
    turns = [s.index for s in tr.steps if s.action in TURNS]
    what = []
    if narrow:
        what.append(f"looked at {100 * cover:.0f}% of the horizon (< {100 * th.min_yaw_coverage:.0f}%)")
    if small:
        what.append(f"stayed within {span:.0f} cm (< {th.explore_min_span_cm:.0f})")
    steps = turns or [s.index for s in tr.steps[-1:]]
    return _tag(Tag.short_sighted_exploration, steps, f"never saw {p.label} {p.goal}; " + " and ".join(what))


def _object_rest(tr: Trajectory) -> list | None:
    """Where the object to pick up lies at the end, if it was dropped (not held again) after being picked."""
    obj, rest, prev = tr.record.task.pick_object, None, None
    for s in tr.steps:
        if s.action == Action.DropObject and s.dropped_at and prev == obj:
            rest = s.dropped_at
        if s.held_object == obj:
            rest = None
        prev = s.held_object
    return rest


def _stage_end(tr: Trajectory) -> tuple[int, list, int, int] | None:
    """(stage, end pose, first obs, last obs) for the stage a near miss is judged on; None where none applies:
    Open Door, a Multi-stage run without MidwayTarget, a Pick & Drop object never dropped."""
    rec, t = tr.record, tr.record.task
    end = len(tr.poses) - 1
    end_pose = tr.pose(end)
    if rec.type == TaskType.OPEN_DOOR or not t.target_poses or end_pose is None:
        return None
    if rec.type == TaskType.MULTI_STAGE and len(t.target_poses) > 1:
        m = tr.midway
        at = tr.pose(m + 1) if m is not None else None
        if m is None or at is None:
            return None
        if not at_stage(t, at, 0):
            return 0, at, 0, m + 1
        return -1, end_pose, m + 1, end
    if rec.type == TaskType.PICK_DROP:
        rest = _object_rest(tr)
        return (-1, rest, end, end) if rest is not None else None
    return -1, end_pose, 0, end


def _near_object(tr: Trajectory, p: Phase, th: TagThresholds) -> dict | None:
    r = tr.record.task.success_radius_cm
    ds = [xy_dist(xy, p.goal_xy) for xy in tr.xy[p.first: p.last + 1] if xy[0] == xy[0]]
    if not ds or not r < ds[-1] <= th.near_miss_factor * r or ds[-1] > min(ds) + th.closest_slack_cm:
        return None
    return _tag(Tag.near_miss, [tr.step_of(p.last)], f"ended {_d(ds[-1])} from {p.label} {p.goal} (radius {r:.0f}), "
                f"closest {_d(min(ds))}")


def near_miss(tr: Trajectory, th: TagThresholds) -> dict | None:
    """Ended just outside the goal (within `near_miss_factor` x radius) at or near its closest approach."""
    t, p = tr.record.task, tr.failing_phase()
    if tr.record.type == TaskType.PICK_DROP and p is not None and p.goal == t.pick_object and p.goal_xy is not None:
        return _near_object(tr, p, th)  # the object to pick up: where the agent ended, from the object
    se = _stage_end(tr)
    if se is None:
        return None
    stage, pose, first, last = se
    d = stage_distance(t, pose, stage)
    if at_stage(t, pose, stage) or not near_zone(t, d, th):
        return None
    what = "subgoal 1" if stage == 0 and len(t.target_poses) > 1 else "the target"
    if tr.record.type == TaskType.PICK_DROP:
        return _tag(Tag.near_miss, [tr.steps[-1].index], f"the object lies {_d(d)} from the drop target "
                    f"(radius {t.success_radius_cm:.0f})")
    dists = [stage_distance(t, tr.pose(k), stage) for k in range(first, last + 1) if tr.pose(k) is not None]
    d_min = min(dists)
    # Stopped well past its closest approach: a near miss only if it stayed near the goal since (circling it).
    if d > d_min + th.closest_slack_cm and not all(near_zone(t, x, th) for x in dists[dists.index(d_min):]):
        return None
    return _tag(Tag.near_miss, [tr.step_of(last)], f"ended {_d(d)} from {what} (radius {t.success_radius_cm:.0f}), "
                f"closest {_d(d_min)}")


def _came_within(tr: Trajectory, name: str | None, limit: float, first: int = 0) -> bool | None:
    """Whether the agent came within `limit` of the object's centre (a door's marker, as a person measures on the
    map; not its footprint); None when its place is unrecorded."""
    c = location_xy(tr.record, name)
    if c is None:
        return None
    return any(math.hypot(x - c[0], y - c[1]) <= limit for x, y in tr.xy[first:])


def _drop_stage_reached(tr: Trajectory, th: TagThresholds) -> bool:
    """The object, in hand, came within the near-miss zone of the drop target, or landed in it when dropped."""
    t, p = tr.record.task, tr.failing_phase() or tr.phases[-1]
    rest = _object_rest(tr)
    return (rest is not None and near_zone(t, stage_distance(t, rest), th)) or any(
        tr.pose(k) is not None and near_zone(t, stage_distance(t, tr.pose(k)), th) for k in range(p.first, p.last + 1))


def premature_finish(tr: Trajectory, th: TagThresholds) -> dict | None:
    """Finish (or the judged MidwayTarget, whatever followed it) declared far from the stage's goal (beyond the
    near-miss zone), a Multi-stage Finish without MidwayTarget, or an Open Door / Pick & Drop Finish before
    even reaching the door or object."""
    rec, t, fin = tr.record, tr.record.task, tr.steps[-1].index if tr.steps else 0
    if not tr.finished:  # a MidwayTarget far from subgoal 1 declared a stage done, whatever followed
        return _far_midway(tr, th) if rec.type == TaskType.MULTI_STAGE and len(t.target_poses) > 1 else None
    final = tr.pose(len(tr.poses) - 1)  # None: no position recorded, nothing to say where Finish was
    reach = th.reached_factor * th.reach_cm
    why = []
    if rec.type == TaskType.OPEN_DOOR:
        if door_reason(tr.steps[-1], t.door) and _came_within(tr, t.door, reach) is False:
            why.append(f"Finish at step {fin} with {t.door} closed, never within {reach:.0f} cm of it")
    elif rec.type == TaskType.PICK_DROP and t.pick_object:
        # The object, wherever it ended (dropped, in hand, or never picked up), far from the drop target.
        held = any(s.held_object == t.pick_object for s in tr.steps)
        rest = _object_rest(tr) or (final if held else t.object_locations.get(t.pick_object))
        if pick_drop_reason(tr.steps, t) and rest is not None and not near_zone(t, stage_distance(t, rest), th):
            what = "" if held else f" without ever holding {t.pick_object};"
            why.append(f"Finish at step {fin}{what} the object is {_d(stage_distance(t, rest))} from the drop target")
    elif rec.type == TaskType.MULTI_STAGE and len(t.target_poses) > 1:
        m = tr.midway
        at = tr.pose(m + 1) if m is not None else None
        if m is None:
            why.append("no MidwayTarget before Finish")
        elif at is not None and not at_stage(t, at, 0):
            if not near_zone(t, stage_distance(t, at, 0), th):
                why.append(f"MidwayTarget at step {m} {_d(stage_distance(t, at, 0))} from subgoal 1")
        elif final is not None and not at_stage(t, final) and not near_zone(t, stage_distance(t, final), th):
            why.append(f"Finish at step {fin} {_d(stage_distance(t, final))} from subgoal 2")
    elif final is not None and not at_stage(t, final) and not near_zone(t, stage_distance(t, final), th):
        where = "outside the target region" if t.regions else f"(radius {t.success_radius_cm:.0f})"
        why.append(f"Finish at step {fin} {_d(stage_distance(t, final))} from the target {where}")
    if not why:
        return None
    midway = tr.midway if rec.type == TaskType.MULTI_STAGE else None
    return _tag(Tag.premature_finish, [fin] + ([midway] if midway is not None else []), "; ".join(why))


def _far_midway(tr: Trajectory, th: TagThresholds) -> dict | None:
    """The judged MidwayTarget issued beyond the near-miss zone of subgoal 1 (the stage declared done far from it)."""
    t, m = tr.record.task, tr.midway
    at = tr.pose(m + 1) if m is not None else None
    if at is None or near_zone(t, stage_distance(t, at, 0), th):
        return None
    return _tag(Tag.premature_finish, [m], f"MidwayTarget at step {m} {_d(stage_distance(t, at, 0))} from subgoal 1")


def _reach(tr: Trajectory, obj: str | None, steps, th: TagThresholds) -> str:
    """' (nearest try 420 cm from Door_04, reach 250 cm)' when the object's place is recorded."""
    dists = [footprint_dist(tr.record, obj, *s.pose_after[:2]) for s in steps if obj and len(s.pose_after) >= 2]
    known = [d for d in dists if d is not None]
    return f" (nearest try {_d(min(known))} from {obj}, reach {th.reach_cm:.0f} cm)" if known else ""


def interaction_failed(tr: Trajectory, th: TagThresholds) -> dict | None:
    """Open Door / Pick & Drop, once the agent reached the door or object (came within `reached_factor` x
    reach of it; for the drop, carried the object into the near-miss zone): the interaction the task needs
    never happened, happened out of range, or the object landed outside the radius."""
    rec, t = tr.record, tr.record.task
    last = tr.steps[-1].index if tr.steps else 0
    reach = th.reached_factor * th.reach_cm
    if rec.type == TaskType.OPEN_DOOR:
        if not tr.steps or not door_reason(tr.steps[-1], t.door) or _came_within(tr, t.door, reach) is False:
            return None
        door = t.door or "a door"
        tries = [s for s in tr.steps if s.action == Action.OpenDoor]
        if not tries:
            return _tag(Tag.interaction_failed, [last], f"OpenDoor never issued; {door} stayed closed")
        return _tag(Tag.interaction_failed, [s.index for s in tries],
                    f"OpenDoor at step(s) {', '.join(str(s.index) for s in tries)} did not open {door}"
                    + _reach(tr, t.door, tries, th))
    if rec.type == TaskType.PICK_DROP and t.pick_object:
        if not any(s.held_object == t.pick_object for s in tr.steps):
            if _came_within(tr, t.pick_object, reach) is False:
                return None
            tries = [s for s in tr.steps if s.action == Action.PickObject]
            if not tries:
                return _tag(Tag.interaction_failed, [last], f"PickObject never issued; {t.pick_object} never picked up")
            return _tag(Tag.interaction_failed, [s.index for s in tries],
                        f"PickObject at step(s) {', '.join(str(s.index) for s in tries)} did not pick up "
                        f"{t.pick_object}" + _reach(tr, t.pick_object, tries, th))
        why = pick_drop_reason(tr.steps, t)
        if not why or not _drop_stage_reached(tr, th):
            return None
        drops = [s.index for s in tr.steps if s.action == Action.DropObject]
        if "never dropped" in why and not drops:
            why = f"DropObject never issued; {why}"
        return _tag(Tag.interaction_failed, drops or [last], why)
    return None


def timeout(tr: Trajectory, th: TagThresholds) -> dict | None:
    if tr.record.status != "timeout":
        return None
    n = len(tr.steps)
    return _tag(Tag.timeout, [n - 1] if n else [], f"no Finish within {n} steps")


OUTCOME = (target_forgetting, short_sighted_exploration, spatial_semantic_drift, near_miss, premature_finish,
           interaction_failed, timeout)


def tag_episode(record: EpisodeRecord, th: TagThresholds | None = None) -> list[dict]:
    """The tags of one (scored) record, in TAG_NAMES order; a failure's primary cause marked (primary.py)."""
    th = th or TagThresholds()
    if record.status == "error":
        t = api_error(record)
        return mark_primary([t], None, th) if t else []
    tr = build(record)
    rules = BEHAVIOUR if record.success else OUTCOME + BEHAVIOUR
    tags = sorted((t for t in (rule(tr, th) for rule in rules) if t), key=lambda t: ORDER[t["name"]])
    if any(t["name"] == Tag.spatial_semantic_drift for t in tags):  # it found one of the referent's kind and went
        tags = [t for t in tags if t["name"] != Tag.short_sighted_exploration]  # there: drift, not a narrow search
    return tags if record.success else mark_primary(tags, tr, th)
