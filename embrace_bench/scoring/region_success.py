"""Success and GDE of tasks with success regions (EmbRACE release), judged in the release's order, with its
SPL and OS (scoring/release.py) or the reason its scorer cannot score the episode. The rules are stated in
scoring/metrics.py (region rules); metrics.score_episode sends region tasks here.
"""
from __future__ import annotations

from typing import cast

from embrace_bench.records import StepRecord, TaskInfo
from embrace_bench.scoring.metrics import Counted, EpisodeScore, door_reason, finish_reason
from embrace_bench.scoring.release import object_track, oracle_success, path_length_cm, pd_at, release_spl, trajectory
from embrace_bench.tasks.model import TaskType
from embrace_bench.tasks.regions import Unscorable, distance_to_rings, stage_reached


def pick_region_reason(used: list[StepRecord], task: TaskInfo, final, zt, strict: bool = False) -> str:
    """The release's Pick & Drop rule, in its order: held at some step; held at Finish ("p") or not ("pd");
    then the character and the object (its pose at Finish, else where it was last held or dropped) each in
    its region (the character's reason is left to the caller)."""
    track = object_track(used, task.pick_object)
    name = task.pick_object or "the object"
    pd_type = task.pd_type or "pd"
    if not any(held for held, _ in track):
        return f"{name} never picked up"
    held, rest = track[-1] if track else (False, None)
    if held != (pd_type == "p"):
        return f"{name} not held at Finish" if pd_type == "p" else f"{name} still held at Finish"
    if rest is None:
        return f"{name} never dropped"
    assert task.regions is not None  # asked only for tasks with success regions
    stage = task.regions["final"]
    if pd_at(final, rest, stage, zt, strict):
        return ""
    ok, why = stage_reached(rest, stage, zt, key="object")
    return "" if ok else f"{name} rests {why} of its target area"


def _score_regions(counted: Counted, task: TaskInfo, kind: str, start, final, timed_out: bool, max_steps: int,
                   strict: bool) -> EpisodeScore:
    """Success and GDE from the release's success regions (rules in the module docstring). The conditions
    are judged in the release's order; `strict` (see regions.stage_reached) holds only until one fails,
    as the release stops there: later ones are judged in XY only for the reason text."""
    used, finished, midway_i = counted.steps, counted.finished, counted.midway
    reg, n = task.regions, len(used)
    assert reg is not None  # only tasks with success regions are scored here
    zt = reg.get("z_tolerance_cm")
    gde = distance_to_rings(final, reg["final"]["footprints"])
    if kind == TaskType.MULTI_STAGE and "midway" in reg:
        at = used[midway_i].pose_after if midway_i is not None else start
        gde += distance_to_rings(at, reg["midway"]["footprints"]) if at else float("nan")
    reasons: list[str] = []

    def check(pose, stage: str, label: str, at: int | None = None) -> None:
        ok, why = stage_reached(pose, reg[stage], zt, strict=strict and not reasons)
        if not ok:
            reasons.insert(len(reasons) if at is None else at, label.format(why=why))

    if not finished:
        reasons.append(finish_reason(n, timed_out, max_steps))
    else:
        if kind == TaskType.MULTI_STAGE:
            if midway_i is None or "midway" not in reg:
                reasons.append("no MidwayTarget before Finish")
            else:
                check(used[midway_i].pose_after, "midway", "MidwayTarget {why} of subgoal 1")
        elif kind == TaskType.OPEN_DOOR:
            reasons.append(door_reason(used[-1], task.door))
        elif kind == TaskType.PICK_DROP:
            reasons.append(pick_region_reason(used, task, final, zt, strict))
        reasons = [r for r in reasons if r]
        check(final, "final", "finished {why} of the target", at=0)  # judged last, listed first
    reasons = [r for r in reasons if r]
    return EpisodeScore(not reasons, gde, n, finished, timed_out, "; ".join(reasons), final, midway_i)


def score_release(counted: Counted, task: TaskInfo, kind: str, start, final, timed_out: bool, max_steps: int,
                  start_door: dict | None) -> EpisodeScore:
    """_score_regions plus the release's OS and SPL, or the reason its scorer could not score the episode
    (then success is False and the episode counts in no mean)."""
    used = counted.steps
    try:
        os_ = oracle_success(used, task, kind, start, start_door)  # first, as the release judges it
        sc = _score_regions(counted, task, kind, start, final, timed_out, max_steps, strict=True)
        sc.os = os_
        sc.spl = release_spl(sc.success, cast(dict, task.regions).get("shortest_path_cm"),  # set: scored above
                             path_length_cm(trajectory(used, start)))
        return sc
    except Unscorable as exc:
        sc = _score_regions(counted, task, kind, start, final, timed_out, max_steps, strict=False)
        sc.success, sc.unscorable = False, str(exc)
        sc.reason = f"unscorable: {exc}"
        return sc
