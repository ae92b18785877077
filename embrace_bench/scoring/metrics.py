"""THE metric definitions (EmbRACE-3K): success per type, GDE, SSPL, Steps, TR, and their intervals.

Everything here reads only records (steps + TaskInfo), never the simulator, so any run can be re-scored.

Rules (also in README):
- An episode ends at its first `Finish`; steps after it are ignored. n_steps counts every step taken,
  invalid ones too (an invalid answer still spends one of the `max_steps`).
- Success: `Finish` issued within `success_radius_cm` (XY) of the final target, plus per type:
  Multi-stage (3): the first `MidwayTarget` was issued within radius of subgoal 1, before `Finish`;
  Open Door (4.1): the named door is open (door_state == 1) at the `Finish` step;
  Pick & Drop (4.2): the named object was held, then a `DropObject` put it down (`dropped_at`) within radius
  of the target, before `Finish`.
- GDE: XY distance from the final position to the final target. Multi-stage: distance at the first
  `MidwayTarget` to subgoal 1 plus the final distance to subgoal 2. With no `MidwayTarget`, the first term
  is the distance from the START pose to subgoal 1: an undeclared subgoal earns no progress credit.
- SSPL = S * s_opt / max(s, s_opt), s = n_steps.
- TR: share of episodes with status `timeout` (hit max_steps without `Finish`).
- Episodes with status `error` are counted separately and excluded from every other mean.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from embrace_bench.records import EpisodeRecord, StepRecord, TaskInfo
from embrace_bench.tasks.model import SPLITS, TYPES


@dataclass
class EpisodeScore:
    success: bool
    gde_cm: float
    n_steps: int
    finished: bool
    reason: str  # why it failed ("" on success)


def _xy_dist(pose, target) -> float:
    return math.hypot(pose[0] - target[0], pose[1] - target[1])


def sspl(success: bool, s_opt: int, n_steps: int) -> float:
    return float(success) * s_opt / max(n_steps, s_opt, 1)


def score_episode(steps: list[StepRecord], task: TaskInfo, max_steps: int, start_pose=None) -> EpisodeScore:
    radius = task.success_radius_cm
    end = next((i for i, s in enumerate(steps) if s.action == "Finish"), None)
    used = steps if end is None else steps[: end + 1]
    n = len(used)
    start = start_pose or (used[0].pose_before if used else None)
    final_pose = used[-1].pose_after if used else start
    final_target = task.target_poses[-1]
    if final_pose is None:
        return EpisodeScore(False, float("nan"), 0, False, "no steps recorded")
    gde = _xy_dist(final_pose, final_target)
    reason = ""
    midway = next((s for s in used if s.action == "MidwayTarget"), None)
    if len(task.target_poses) > 1:  # multi-stage: the GDE sums over both subgoals
        first = task.target_poses[0]
        gde += _xy_dist(midway.pose_after if midway else start, first)
    if end is None:
        reason = "no Finish within the step limit" if n >= max_steps else "no Finish"
    elif _xy_dist(final_pose, final_target) > radius:
        reason = f"finished {_xy_dist(final_pose, final_target):.0f} cm from the target"
    elif len(task.target_poses) > 1:
        if midway is None:
            reason = "no MidwayTarget before Finish"
        elif _xy_dist(midway.pose_after, task.target_poses[0]) > radius:
            reason = f"MidwayTarget {_xy_dist(midway.pose_after, task.target_poses[0]):.0f} cm from subgoal 1"
    if not reason and task.door:
        if used[-1].door_state.get(task.door) != 1:
            reason = f"door {task.door} closed at Finish"
    if not reason and task.pick_object:
        picked = next((i for i, s in enumerate(used) if s.held_object == task.pick_object), None)
        drop = None if picked is None else next(
            (s for s in used[picked + 1:] if s.action == "DropObject" and s.dropped_at), None)
        if picked is None:
            reason = f"{task.pick_object} never picked up"
        elif drop is None:
            reason = f"{task.pick_object} never dropped"
        elif _xy_dist(drop.dropped_at, final_target) > radius:
            reason = f"{task.pick_object} dropped {_xy_dist(drop.dropped_at, final_target):.0f} cm from the target"
    return EpisodeScore(not reason, gde, n, end is not None, reason)


def rescore(record: EpisodeRecord, max_steps: int) -> EpisodeRecord:
    """The record with success/gde/sspl/n_steps recomputed from its steps (errors stay errors)."""
    if record.status == "error":
        return record
    sc = score_episode(record.steps, record.task, max_steps)
    record.success, record.gde_cm, record.n_steps = sc.success, round(sc.gde_cm, 2), sc.n_steps
    record.sspl = round(sspl(sc.success, record.s_opt, sc.n_steps), 4)
    return record


# ---- intervals ------------------------------------------------------------------------------
def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_ci(values, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    return (float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2)))


# ---- aggregation ----------------------------------------------------------------------------
@dataclass
class Row:
    split: str  # "id" | "ood" | "all"
    type: str  # a type code, or "all"
    n: int  # scored episodes (errors excluded)
    n_errors: int
    sr: float
    sr_ci: tuple[float, float]
    gde: float
    gde_ci: tuple[float, float]
    sspl: float
    sspl_ci: tuple[float, float]
    steps: float
    tr: float


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    cost_usd: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0

    def row(self, split: str, type_: str) -> Row | None:
        return next((r for r in self.rows if r.split == split and r.type == type_), None)


def _row(split: str, type_: str, recs: list[EpisodeRecord]) -> Row:
    ok = [r for r in recs if r.status != "error"]
    k = sum(r.success for r in ok)
    nan = float("nan")
    mean = (lambda xs: float(np.mean(xs)) if len(xs) else nan)
    gdes = [r.gde_cm for r in ok if not math.isnan(r.gde_cm)]
    spls = [r.sspl for r in ok]
    return Row(split, type_, len(ok), len(recs) - len(ok), k / len(ok) if ok else nan, wilson_interval(k, len(ok)),
               mean(gdes), bootstrap_ci(gdes), mean(spls), bootstrap_ci(spls), mean([r.n_steps for r in ok]),
               mean([r.status == "timeout" for r in ok]))


def aggregate(records: list[EpisodeRecord]) -> Report:
    """Rows per split x type (paper order), per split overall, and overall when both splits are present."""
    rep = Report(cost_usd=sum(r.cost_usd for r in records), tokens_in=sum(r.tokens_in for r in records),
                 tokens_out=sum(r.tokens_out for r in records))
    splits = [s for s in SPLITS if any(r.split == s for r in records)]
    for s in splits:
        in_split = [r for r in records if r.split == s]
        for t in TYPES:
            recs = [r for r in in_split if r.type == t]
            if recs:
                rep.rows.append(_row(s, t, recs))
        rep.rows.append(_row(s, "all", in_split))
    if len(splits) > 1:
        rep.rows.append(_row("all", "all", records))
    return rep
