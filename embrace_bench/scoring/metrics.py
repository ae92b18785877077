"""THE metric definitions (EmbRACE-3K): success per type, GDE, SSPL, Steps, TR, scored per episode here and
aggregated with their intervals in scoring/aggregate.py.

Everything here reads only records (steps + TaskInfo), never the simulator, so any run can be re-scored.
Distances are XY (cm): the paper's poses are [x, y, z, pitch, yaw, roll] and height does not count.

Rules (cite these in the README):
- An episode ends at its first `Finish`; steps after it are ignored. n_steps counts every step record up to
  and including that `Finish`, invalid ones too: an invalid answer still spends one of the `max_steps`.
- The final position is `pose_after` of the last counted step (the start pose when there is no step).
- Success: `Finish` issued within `success_radius_cm` of the final target (`target_poses[-1]`), plus per type:
  Multi-stage (3): the first `MidwayTarget` (pose_after of that step) is within radius of subgoal 1
  (`target_poses[0]`), before `Finish`;
  Open Door (4.1): the named door is open (door_state == 1) at the `Finish` step;
  Pick & Drop (4.2): the named object was held, then put down by a `DropObject` (`dropped_at`) within radius of
  the final target, and is not held again at `Finish` (the last drop of that object is where it rests).
- GDE: distance from the final position to the final target. Multi-stage: distance at the first
  `MidwayTarget` to subgoal 1 plus the final distance to subgoal 2. With no `MidwayTarget` (before `Finish`),
  the first term is the distance from the START pose to subgoal 1: an undeclared subgoal earns no progress
  credit, and the term is still a fixed, measurable quantity (not a penalty constant, not the trajectory's
  closest approach, which would reward wandering past the goal without declaring it).
- SSPL = S * s_opt / max(s, s_opt), s = n_steps.
- TR: share of episodes with status `timeout` (no `Finish` and n_steps >= max_steps).
- Episodes with status `error` (engine/API failure) are counted (`n_errors`) and excluded from every
  denominator: an outage is neither the model's failure nor its success.

Region rules (EmbRACE public release tasks, whose TaskInfo carries `regions` from `area.json`; the rest of
the rules above apply unchanged):
- "At the target" = the final pose inside the final stage's character region (XY polygons with holes, the
  target footprint dilated by 2.2 m), and within `z_tolerance_cm` of its reference height when both are
  given; this replaces the radius test.
- GDE: XY distance to the nearest target footprint (0 inside it), the release's navigation error;
  Multi-stage adds the distance at the MidwayTarget to the midway footprints (START pose when there is none).
- Multi-stage: the LAST MidwayTarget before Finish must be inside the midway region (the release's rule).
- Open Door: the named door open at Finish; with no door name (the release's tasks) the character's door
  state (UnrealZoo's `get_door_state` reports the door it interacts with).
- Pick & Drop, pd_type "p": the object held at Finish; "pd" (and the default): held at some step, not held
  at Finish, and resting (its pose at Finish, else its last drop) inside the object region.
- Besides these, the release's own SPL and OS (scoring/release.py), and its unscorable episodes: where its
  scorer fails (no shortest path, no midway stage, no reference height where one is needed) the episode
  gets `unscorable` (the reason) and is left out of every mean, counted apart like errors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from embrace_bench.actions import Action
from embrace_bench.records import EpisodeRecord, StepRecord, TaskInfo
from embrace_bench.scoring.release import door_open
from embrace_bench.tasks.model import TaskType
from embrace_bench.tasks.regions import distance_to_rings, stage_reached


@dataclass
class EpisodeScore:
    success: bool
    gde_cm: float  # nan when the record holds no pose at all
    n_steps: int  # s in SSPL
    finished: bool  # a `Finish` was issued
    timed_out: bool  # no `Finish` and n_steps >= max_steps
    reason: str  # why it failed, "; "-joined when several conditions fail ("" on success)
    final_pose: list[float] | None = None
    midway_index: int | None = None  # step index of the MidwayTarget judged (`Counted.midway`), if any
    # Tasks with success regions only (None otherwise): the release's SPL and oracle success.
    spl: float | None = None
    os: bool | None = None
    unscorable: str = ""  # why the release cannot score this episode ("" when it can)

    def sspl(self, s_opt: int) -> float:
        return sspl(self.success, s_opt, self.n_steps)


def xy_dist(pose, target) -> float:
    return math.hypot(pose[0] - target[0], pose[1] - target[1])


def _stage_region(task: TaskInfo, stage: int) -> dict:
    last = stage in (-1, len(task.target_poses) - 1)
    assert task.regions is not None  # callers ask only for tasks with success regions
    return task.regions["final" if last or "midway" not in task.regions else "midway"]


def at_stage(task: TaskInfo, pose, stage: int = -1) -> bool:
    """Whether `pose` counts as at stage `stage` (0 = subgoal 1, -1 = the final target) by the rules the
    scorer applies: within the success radius of the target pose, or inside the release's region."""
    if task.regions:
        return stage_reached(pose, _stage_region(task, stage), task.regions.get("z_tolerance_cm"))[0]
    return xy_dist(pose, task.target_poses[stage]) <= task.success_radius_cm


def stage_distance(task: TaskInfo, pose, stage: int = -1) -> float:
    """XY distance (cm) from `pose` to stage `stage` as GDE measures it: to the target pose, or for release
    tasks to the nearest target footprint."""
    if task.regions:
        return distance_to_rings(pose, _stage_region(task, stage)["footprints"])
    return xy_dist(pose, task.target_poses[stage])


def sspl(success: bool, s_opt: int, n_steps: int) -> float:
    # max(.., 1) only guards a degenerate s_opt = 0 task from dividing by zero.
    return float(success) * s_opt / max(n_steps, s_opt, 1)


def _kind(task: TaskInfo, type_: str | None) -> str:
    """The type whose condition applies; inferred from the TaskInfo fields when the caller has no type."""
    if type_ is not None:
        return type_
    if len(task.target_poses) > 1:
        return TaskType.MULTI_STAGE.value
    if task.door:
        return TaskType.OPEN_DOOR.value
    if task.pick_object:
        return TaskType.PICK_DROP.value
    return TaskType.BASIC.value


def drop_reason(used: list[StepRecord], obj: str | None, target, radius: float) -> str:
    """Pick & Drop: "" when `obj` was picked, then rests (last drop, not re-held) within radius of target."""
    if not obj:
        return "task names no object to pick up"
    picked, rest, prev_held = False, None, None
    for s in used:
        if s.action == Action.DropObject and s.dropped_at and prev_held == obj:
            rest = s.dropped_at  # dropped the named object: this is where it lies now
        if s.held_object == obj:
            picked, rest = True, None  # in hand (again): any earlier drop no longer counts
        prev_held = s.held_object
    if not picked:
        return f"{obj} never picked up"
    if rest is None:
        return f"{obj} never dropped"
    d = xy_dist(rest, target)
    return f"{obj} dropped {d:.0f} cm from the target" if d > radius else ""


def first_index(steps: list[StepRecord], action: str) -> int | None:
    for i, s in enumerate(steps):  # a plain loop: the tagger calls this for every record
        if s.action == action:
            return i
    return None


def _midway_index(used: list[StepRecord], task: TaskInfo) -> int | None:
    """The MidwayTarget step the scorer judges among the counted steps: the first (the paper's rule), the last
    for tasks with success regions (the release's rule)."""
    if task.regions:
        return next((i for i in range(len(used) - 1, -1, -1) if used[i].action == Action.MidwayTarget), None)
    return first_index(used, Action.MidwayTarget)


def counted_steps(steps: list[StepRecord]) -> list[StepRecord]:
    """The steps an episode counts: up to and including its first `Finish` (all of them without one)."""
    end = first_index(steps, Action.Finish)
    return steps if end is None else steps[: end + 1]


@dataclass(frozen=True)
class Counted:
    """What the scorer and the failure tagger both judge of an episode (one definition for both)."""

    steps: list[StepRecord]  # counted_steps: up to and including the first `Finish`
    finished: bool  # they end with that `Finish`
    midway: int | None  # index (in `steps`) of the MidwayTarget judged: the first, the last for region tasks


def count_steps(steps: list[StepRecord], task: TaskInfo) -> Counted:
    used = counted_steps(steps)
    return Counted(used, bool(used) and used[-1].action == Action.Finish, _midway_index(used, task))


def score_episode(steps: list[StepRecord], task: TaskInfo, max_steps: int, start_pose=None,
                  type_: str | None = None, start_door_state: dict | None = None) -> EpisodeScore:
    """Success, GDE and step count of one episode from its step records (rules in the module docstring).

    `start_pose` defaults to the first step's pose_before; `type_` (a type code) picks the type condition,
    inferred from the TaskInfo fields when None (several targets: 3, a door: 4.1, an object: 4.2);
    `start_door_state` (the record's) is the door state at the start pose, for the release's OS.
    """
    radius = task.success_radius_cm
    counted = count_steps(steps, task)
    used, finished, midway_i = counted.steps, counted.finished, counted.midway
    n = len(used)
    start = start_pose if start_pose is not None else (used[0].pose_before if used else None)
    final = used[-1].pose_after if used else start
    timed_out = not finished and n >= max_steps
    if not final:
        return EpisodeScore(False, float("nan"), n, finished, timed_out, "no pose recorded")
    kind = _kind(task, type_)
    if task.regions:
        from embrace_bench.scoring.region_success import score_release  # built on this module

        return score_release(counted, task, kind, start or final, list(final), timed_out, max_steps,
                             start_door_state)
    target = task.target_poses[-1]
    final_d = xy_dist(final, target)
    gde = final_d
    if kind == TaskType.MULTI_STAGE:  # GDE sums over both subgoals; an undeclared subgoal 1 is measured from the start
        at = used[midway_i].pose_after if midway_i is not None else start
        gde += xy_dist(at, task.target_poses[0]) if at else float("nan")

    reasons: list[str] = []
    if not finished:
        reasons.append(finish_reason(n, timed_out, max_steps))
    elif final_d > radius:
        reasons.append(f"finished {final_d:.0f} cm from the target")
    if finished and kind == TaskType.MULTI_STAGE:
        if midway_i is None:
            reasons.append("no MidwayTarget before Finish")
        else:
            d1 = xy_dist(used[midway_i].pose_after, task.target_poses[0])
            if d1 > radius:
                reasons.append(f"MidwayTarget {d1:.0f} cm from subgoal 1")
    elif finished and kind == TaskType.OPEN_DOOR:
        if not task.door:
            reasons.append("task names no door")
        elif door_reason(used[-1], task.door):
            reasons.append(door_reason(used[-1], task.door))
    elif finished and kind == TaskType.PICK_DROP:
        r = drop_reason(used, task.pick_object, target, radius)
        if r:
            reasons.append(r)
    return EpisodeScore(not reasons, gde, n, finished, timed_out, "; ".join(reasons), list(final), midway_i)


def finish_reason(n: int, timed_out: bool, max_steps: int) -> str:
    return f"no Finish in {n} steps (limit {max_steps})" if timed_out else f"no Finish after {n} steps"


def door_reason(last: StepRecord, door: str | None) -> str:
    if door_open(last.door_state, door):
        return ""
    return "no door open at Finish" if door is None else f"door {door} closed at Finish"


def pick_drop_reason(used: list[StepRecord], task: TaskInfo) -> str:
    """Why a Pick & Drop condition is not met ("" when it is), by the rules score_episode applies."""
    if task.regions:
        from embrace_bench.scoring.region_success import pick_region_reason  # built on this module

        final = used[-1].pose_after if used else None
        return pick_region_reason(used, task, final, task.regions.get("z_tolerance_cm"))
    return drop_reason(used, task.pick_object, task.target_poses[-1], task.success_radius_cm)


def rescore(record: EpisodeRecord, max_steps: int) -> EpisodeRecord:
    """A copy of the record with success/gde/sspl/n_steps/status recomputed from its steps.

    Error episodes are returned unchanged: they stay errors, whatever their partial steps say.
    """
    if record.status == "error":
        return record
    sc = score_episode(record.steps, record.task, max_steps, type_=record.type,
                       start_door_state=record.start_door_state)
    status = "timeout" if sc.timed_out else "finished" if sc.finished else record.status
    return EpisodeRecord(**{**record.__dict__, "success": sc.success, "gde_cm": round(sc.gde_cm, 2),
                            "n_steps": sc.n_steps, "sspl": round(sc.sspl(record.s_opt), 4), "status": status,
                            **release_fields(sc)})


def release_fields(sc: EpisodeScore) -> dict:
    """The record's fields for the release's metrics (None / "" for tasks without success regions)."""
    return {"spl": None if sc.spl is None else round(sc.spl, 4), "os": sc.os, "unscorable": sc.unscorable}
