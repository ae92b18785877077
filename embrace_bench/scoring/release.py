"""The EmbRACE release's own episode metrics for tasks with success regions: OS and SPL, and when its scorer
cannot score an episode at all. Rules restated from the release's `embrace/eval/score_metrics.py` (9f54184):

- The trajectory is the start pose, then the pose after each counted step (the release's Pose_Trajectory).
- SPL = S * L / max(P, L): S the success, L the task's shortest path (area.json `shortest_path_uu`), P the
  XY length of the walked trajectory; when max(P, L) <= 1 cm, SPL = S (the release's degenerate guard).
- OS (oracle success): the goal state held at some pose, whatever the model declared:
  Basic / Exploration / Spatial-Semantic: a pose inside the final region;
  Multi-stage: a pose inside the midway region, then one (that pose or later) inside the final region;
  Open Door: a pose inside the final region with the door open at that same pose;
  Pick & Drop "p": a pose with the object held, the character in its region and the object in its own;
  "pd": after the object was first held, a pose where it is not held and both are in their regions.
- Unscorable (the release's scorer raises; the episode is left out of every mean and counted apart): the
  area has no shortest path; a Multi-stage task's area has no midway stage; a judged pose lies inside the
  XY region of a stage that gives no reference height (with a z tolerance set, as the release's 100 cm).
  Checks run in the release's order and stop where it stops, so an episode is unscorable exactly when the
  release's scorer fails on it.
"""
from __future__ import annotations

import math

from embrace_bench.records import StepRecord, TaskInfo
from embrace_bench.tasks.model import TaskType
from embrace_bench.tasks.regions import Unscorable, in_polygons, stage_reached

DEGENERATE_CM = 1.0  # the release's guard on SPL's denominator


def trajectory(used: list[StepRecord], start) -> list[list[float]]:
    """The poses the release scores: the start, then each counted step's pose_after."""
    return [list(start)] + [list(s.pose_after) for s in used]


def path_length_cm(poses) -> float:
    """XY length of a pose sequence (height does not count)."""
    return sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(poses, poses[1:]))


def release_spl(success: bool, shortest_cm: float | None, walked_cm: float) -> float:
    if shortest_cm is None:
        raise Unscorable("area.json gives no shortest path (shortest_path_uu), which SPL needs")
    denominator = max(walked_cm, shortest_cm)
    if denominator <= DEGENERATE_CM:
        return float(success)
    return float(success) * shortest_cm / denominator


def door_open(state: dict, door: str | None) -> bool:
    """The named door open in a door_state dict; with no name (the release's tasks), any door the character
    reports open (UnrealZoo's `get_door_state` answers for the door it interacts with)."""
    if door is None:
        return 1 in state.values()
    return state.get(door, state.get("door_state")) == 1


def object_track(used: list[StepRecord], obj: str | None) -> list[tuple[bool, list[float] | None]]:
    """Per counted step: (the task's object held after it, where the object is then). Older records without
    `object_pose`: a held object is where the character is, a dropped one where its last drop put it."""
    out, dropped = [], None
    for s in used:
        held = s.held_object is not None and (obj is None or s.held_object == obj)
        if s.dropped_at:
            dropped = s.dropped_at
        pose = s.object_pose if s.object_pose is not None else s.pose_after if held else dropped
        out.append((held, pose))
    return out


def pd_at(char_pose, obj_pose, stage: dict, zt: float | None, strict: bool = True) -> bool:
    """The release's Pick & Drop predicate, in its order: both XY regions first, then both reference heights."""
    if obj_pose is None or not (in_polygons(char_pose, stage["character"]) and in_polygons(obj_pose, stage["object"])):
        return False
    return (stage_reached(char_pose, stage, zt, strict=strict)[0]
            and stage_reached(obj_pose, stage, zt, key="object", strict=strict)[0])


def oracle_success(used: list[StepRecord], task: TaskInfo, kind: str, start, start_door: dict | None) -> bool:
    """OS by the rules above; raises Unscorable where the release's scorer fails."""
    reg = task.regions
    assert reg is not None  # only tasks with success regions are scored here
    zt = reg.get("z_tolerance_cm")
    poses = trajectory(used, start)
    final = reg["final"]

    def at(pose, stage=final) -> bool:
        return stage_reached(pose, stage, zt, strict=True)[0]

    if kind == TaskType.MULTI_STAGE:
        if "midway" not in reg:
            raise Unscorable("a Multi-stage task's area.json has no midway stage")
        first = next((i for i, p in enumerate(poses) if at(p, reg["midway"])), None)
        return first is not None and any(at(p) for p in poses[first:])
    if kind == TaskType.OPEN_DOOR:
        doors = [start_door or {}] + [s.door_state for s in used]
        return any(at(p) and door_open(d, task.door) for p, d in zip(poses, doors))
    if kind == TaskType.PICK_DROP:
        track = [(False, None)] + object_track(used, task.pick_object)  # nothing is held at the start
        if (task.pd_type or "pd") == "p":
            return any(held and pd_at(p, o, final, zt) for p, (held, o) in zip(poses, track))
        picked = False
        for p, (held, o) in zip(poses, track):
            if held:
                picked = True
            elif picked and pd_at(p, o, final, zt):
                return True
        return False
    return any(at(p) for p in poses)
