"""Behaviour tags: how the agent moved or answered, for any scored episode (a success can still loop or
answer badly): stuck, looping, invalid_output; and api_error for episodes the model API ended."""
from __future__ import annotations

import math
import operator

from embrace_bench.actions import TRANSLATIONS
from embrace_bench.records import EpisodeRecord
from embrace_bench.scoring.tagset import Tag, TagThresholds, make_tag
from embrace_bench.scoring.trajectory import Trajectory


def blocked_runs(tr: Trajectory, th: TagThresholds) -> list[list[int]]:
    """Runs of moves in a row that went nowhere (turns and looks in between allowed), as step indices. A move
    went nowhere when the env reported it blocked (`collided`: it fell short, the review sheet's "blocked")
    or it displaced the agent less than `stuck_move_cm` (records without the flag)."""
    key = ("blocked_runs", th.stuck_move_cm)
    if key not in tr.cache:
        tr.cache[key] = _blocked_runs(tr, th)
    return tr.cache[key]


def _blocked_runs(tr: Trajectory, th: TagThresholds) -> list[list[int]]:
    runs: list[list[int]] = []
    run: list[int] = []
    hypot, limit = math.hypot, th.stuck_move_cm
    for s in tr.steps:
        if s.action not in TRANSLATIONS:
            continue
        a, b = s.pose_before, s.pose_after
        if len(a) < 2 or len(b) < 2:
            continue
        if not s.collided and hypot(a[0] - b[0], a[1] - b[1]) >= limit:
            if run:
                runs.append(run)
            run = []
            continue
        run.append(s.index)
    return runs + ([run] if run else [])


def stuck(tr: Trajectory, th: TagThresholds) -> dict | None:
    """Moves in a row that went nowhere (blocked: `blocked_runs`), turns and looks in between allowed."""
    best = max(blocked_runs(tr, th), key=len, default=[])
    if len(best) < th.stuck_min_moves:
        return None
    return make_tag(Tag.stuck, best, f"{len(best)} moves in a row went nowhere (steps {best[0]}-{best[-1]})")


def blocked_at_end(tr: Trajectory, th: TagThresholds) -> bool:
    """Still blocked when the episode ended: the last move went nowhere, in a run long enough to be stuck."""
    runs = blocked_runs(tr, th)
    moves = [s.index for s in tr.steps if s.action in TRANSLATIONS]
    return bool(runs and moves) and runs[-1][-1] == moves[-1] and len(runs[-1]) >= th.stuck_min_moves


def blocked_share(tr: Trajectory, th: TagThresholds) -> float:
    """Share of the counted steps spent in stuck-long runs of blocked moves (from the run's first to last move)."""
    runs = [r for r in blocked_runs(tr, th) if len(r) >= th.stuck_min_moves]
    return sum(r[-1] - r[0] + 1 for r in runs) / max(1, len(tr.steps))


def looping(tr: Trajectory, th: TagThresholds) -> dict | None:
    """Walks back to a place and heading it had been at before: arrivals by a move (not turns in place, not
    blocked moves) at a grid cell and heading bin already visited."""
    bins, c, w = max(1, round(360.0 / th.loop_yaw_deg)), th.loop_cell_cm, th.loop_yaw_deg
    h = w / 2
    cells = [(x // c, y // c) for x, y in tr.xy]
    # Returns are arrivals at a cell entered before: at most the cell changes less the first entries.
    if sum(map(operator.ne, cells, cells[1:])) - len(set(cells)) + 1 < th.loop_min_revisits:
        return None
    keys = [(cx, cy, ((yaw + h) // w) % bins) for (cx, cy), yaw in zip(cells, tr.yaw)]
    visited, prev, revisits = set(), None, []
    for k, key in enumerate(keys):
        if key[0] != key[0]:  # nan: no pose
            continue
        if key in visited and prev is not None and (key[0] != prev[0] or key[1] != prev[1]):
            revisits.append(tr.step_of(k))
        visited.add(key)
        prev = key
    if len(revisits) < th.loop_min_revisits:
        return None
    return make_tag(Tag.looping, revisits,
                    f"walked back {len(revisits)} times to a place and heading already visited")


def invalid_output(tr: Trajectory, th: TagThresholds) -> dict | None:
    bad = [s for s in tr.steps if not s.valid]
    if len(bad) < max(1, th.invalid_min_steps):
        return None
    reasks = sum(s.reasks for s in tr.steps)
    return make_tag(Tag.invalid_output, [s.index for s in bad],
                    f"{len(bad)} step(s) without a valid action after re-asks ({reasks} re-asks in all); "
                    f"first: {bad[0].error[:120]}")


def api_error(record: EpisodeRecord) -> dict | None:
    if record.status != "error" or record.error_kind != "model":
        return None
    steps = [record.steps[-1].index] if record.steps else []
    return make_tag(Tag.api_error, steps, record.error.splitlines()[0] if record.error else "model API error")


BEHAVIOUR = (stuck, looping, invalid_output)
