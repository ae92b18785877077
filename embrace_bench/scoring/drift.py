"""spatial_semantic_drift: the agent went to an object of the stage goal's kind instead of it (or picked up,
dropped at or opened the wrong one); and the near-miss zone the outcome rules share."""
from __future__ import annotations

import re
from typing import cast

from embrace_bench.actions import Action
from embrace_bench.records import TaskInfo
from embrace_bench.scoring.behaviour_tags import blocked_at_end
from embrace_bench.scoring.metrics import at_stage, stage_distance, xy_dist
from embrace_bench.scoring.tagset import Tag, TagThresholds
from embrace_bench.scoring.tagset import cm as _d
from embrace_bench.scoring.tagset import make_tag as _tag
from embrace_bench.scoring.trajectory import Trajectory, footprint_dist, location_xy, off_heading
from embrace_bench.tasks.model import TaskType


def _stem(name: str) -> str:
    return re.sub(r"[_\-\s]*\d+$", "", name).lower()


def spatial_semantic_drift(tr: Trajectory, th: TagThresholds) -> dict | None:
    """Ended at, or interacted with, an object of the referent's category instead of the referent."""
    rec, t = tr.record, tr.record.task
    found: list[tuple[int, str]] = []
    referent = t.target_objects[-1] if t.target_objects else None
    x, y = tr.xy[-1]
    distractors = [d for d in t.distractors if d not in t.target_objects]  # a subgoal is never a distractor
    located = [d for d in distractors if d in t.object_locations]
    # Distractors share the final referent's category: ending near one counts in the final stage only
    # (after the MidwayTarget, with the object in hand), and only if the agent walked up to it.
    failing = tr.failing_phase()  # `is`: comparing Phase dataclasses field by field is slow
    final_stage = (failing is None or failing is tr.phases[-1]) \
        and len(tr.phases) == (2 if rec.type in (TaskType.MULTI_STAGE, TaskType.PICK_DROP) else 1)
    stage = -1
    if located and not final_stage and rec.type == TaskType.MULTI_STAGE and failing is tr.phases[0] \
            and len(t.target_poses) > 1 and t.target_objects:
        # Subgoal 1 failed (its stage runs to the end): the listed objects of subgoal 1's own kind are its
        # distractors (none when subgoal 1 is of another kind than the final referent).
        referent, stage = t.target_objects[0], 0
        located = [d for d in located if _stem(d) == _stem(referent)]
        final_stage = bool(located)
    x0, y0 = tr.xy[0]
    if located and final_stage:
        d_ref = footprint_dist(rec, referent, x, y) if referent else None
        if d_ref is None:
            d_ref = xy_dist((x, y), t.target_poses[stage])
        d_sub2 = footprint_dist(rec, t.target_objects[-1], x, y) if stage == 0 else None
        if d_sub2 is not None:  # ending by subgoal 2 (a subgoal, never a distractor) is a skipped stage, not drift
            d_ref = min(d_ref, d_sub2)
        # `located` objects have a recorded place, so their distances are numbers
        dist, name = min((cast(float, footprint_dist(rec, d, x, y)), d) for d in located)
        # ... not within the near-miss zone of the referent (it got there, whatever else was near)
        # (measured as near_miss measures it: to the stage's success region where the task has them)
        in_zone = bool(t.target_poses) and near_zone(t, stage_distance(t, (x, y), stage), th)
        if dist <= th.drift_radius_cm and dist < d_ref and not in_zone \
                and dist <= cast(float, footprint_dist(rec, name, x0, y0)) - th.drift_min_approach_cm \
                and not (blocked_at_end(tr, th) and not (_ahead(tr, name, th) and not _ahead(tr, referent, th))) \
                and dist <= min(cast(float, footprint_dist(rec, name, *xy)) for xy in tr.xy if xy[0] == xy[0]) \
                + th.closest_slack_cm and _went_for(tr, name, referent, th):
            # ... not blocked at the end unless it faced the distractor and not the referent (pressed against it on
            # the way to the referent, or blocked heading elsewhere: stuck), at its closest approach (went to it,
            # not past it), and heading for it (_went_for: last, it projects boxes)
            found.append((tr.step_of(len(tr.xy) - 1), f"ended {_d(dist)} from {name}, {_d(d_ref)} from the referent "
                                                          f"{referent}"))
    elif distractors and tr.has_masks and final_stage and not located:  # no places: the last frame instead
        k = tr.last_image(0, len(tr.xy) - 1)
        v = (tr.vis[k] or {}) if k is not None else {}  # last_image's frame is never None
        px, name = max(((v.get(d, 0), d) for d in distractors), default=(0, ""))
        if px >= th.drift_min_px and px > (v.get(referent, 0) if referent is not None else 0):
            found.append((tr.step_of(cast(int, k)),  # px > 0 here: a frame was found
                          f"the last frame shows {name} ({px} px), not the referent {referent}"))
    held_before = None
    doors_before = dict(rec.start_door_state)
    # Without an object to pick or a door only drops can show drift: scan those steps alone.
    scan = (tr.steps if t.pick_object or t.door
            else [s for s in tr.steps if s.action == Action.DropObject] if located else ())
    for s in scan:
        if s.held_object and s.held_object != held_before and t.pick_object and s.held_object != t.pick_object \
                and _stem(s.held_object) == _stem(t.pick_object):
            found.append((s.index, f"picked up {s.held_object} instead of {t.pick_object}"))
        if s.action == Action.DropObject and s.dropped_at and located:
            dd, name = min((cast(float, footprint_dist(rec, d, s.dropped_at[0], s.dropped_at[1])), d) for d in located)
            if dd <= th.drift_radius_cm and not at_stage(t, s.dropped_at):
                found.append((s.index, f"dropped the object {_d(dd)} from {name}"))
        if s.action == Action.OpenDoor and t.door:
            opened = [d for d, v in s.door_state.items() if v == 1 and doors_before.get(d) != 1 and d != t.door]
            found += [(s.index, f"opened {d} instead of {t.door}") for d in opened]
        held_before = s.held_object
        if s.door_state:
            doors_before = s.door_state  # read, never changed: no copy
    if rec.success or not found:
        return None
    return _tag(Tag.spatial_semantic_drift, [i for i, _ in found], "; ".join(r for _, r in found))


def _went_for(tr: Trajectory, name: str, referent: str | None, th: TagThresholds) -> bool:
    """It went to something it saw, and did not end aiming at the referent: the referent seen in the last frame
    and nearer its centre than the distractor means it was heading there, not drifting."""
    if not tr.has_masks:
        return True
    k = tr.last_image(0, len(tr.xy) - 1)
    aiming = k is not None and referent is not None and k in tr.seen(referent, k, th) \
        and _off(tr, referent) < _off(tr, name)
    return bool(tr.seen(name, len(tr.xy) - 1, th)) and not aiming


def _off(tr: Trajectory, name: str | None) -> float:
    """Degrees between the agent's last heading and the object (inf: no recorded place)."""
    loc = location_xy(tr.record, name)
    return abs(off_heading(tr.xy[-1], tr.yaw[-1], loc)) if loc is not None else float("inf")


def _ahead(tr: Trajectory, name: str | None, th: TagThresholds) -> bool:
    """The object lies within `seen_max_off_deg` of the agent's last heading (it faced it at the end)."""
    return _off(tr, name) <= th.seen_max_off_deg


def near_zone(t: TaskInfo, d: float, th: TagThresholds) -> bool:
    """Within the near-miss zone: `near_miss_factor` times the radius from the goal, or with success regions
    (`d` measured to the region) `near_miss_factor` - 1 times the radius beyond it (the region stands in for R)."""
    limit = (th.near_miss_factor - (1.0 if t.regions else 0.0)) * t.success_radius_cm
    return d <= limit
