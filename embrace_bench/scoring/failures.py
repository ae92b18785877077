"""Failure tags: why an episode failed, named from the record alone (poses, mask pixels, door and held
states, actions, answers, the task's objects), so the same rules apply to embedded and Unreal runs.

Each tag is `{"name", "steps": [step indices that prove it], "reason": one line}`. Which episodes a tag
can apply to:
- outcome tags, failed episodes only: target_forgetting, short_sighted_exploration,
  spatial_semantic_drift, premature_finish, interaction_failed, timeout;
- behaviour tags, any scored episode (a success can still loop or answer badly): stuck, looping,
  invalid_output;
- api_error: episodes with status `error` whose cause is the model API (after all retries). Engine
  failures are errors too, counted on every leaderboard, but not a model's failure mode.
The tagger looks at the stage the agent failed (subgoal 1 or 2, the object to pick or the drop target).
Thresholds are `TagThresholds` (config group `tags`, recorded in each run's manifest).
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields

from embrace_bench.actions import Magnitudes
from embrace_bench.records import EpisodeRecord
from embrace_bench.scoring.metrics import at_stage, door_reason, pick_drop_reason, stage_distance, xy_dist
from embrace_bench.scoring.trajectory import Trajectory, build, footprint_dist

TAG_NAMES: tuple[str, ...] = (
    "target_forgetting", "short_sighted_exploration", "spatial_semantic_drift", "stuck", "looping",
    "premature_finish", "interaction_failed", "invalid_output", "timeout", "api_error",
)
MOVES = ("MoveForward", "MoveBackward")
_ORDER = {n: i for i, n in enumerate(TAG_NAMES)}


@dataclass(frozen=True)
class TagThresholds:
    """Every threshold the tagger uses (config group `tags`); pixel counts assume 640x480 frames."""

    min_visible_px: int = 50  # an object counts as seen with at least this many mask pixels
    forget_margin_cm: float = 200.0  # "ended farther than its closest approach" by more than this
    forget_min_unseen: int = 3  # "never reacquired": out of view for at least this many frames at the end
    fov_deg: float = 90.0  # horizontal field of view, for the share of the horizon the agent looked at
    min_yaw_coverage: float = 0.75  # exploration looked at less than this share of the horizon ...
    area_cell_cm: float = 250.0  # ... or stood in fewer than `min_area_cells` cells of this size
    min_area_cells: int = 4
    drift_radius_cm: float = 300.0  # "at" a distractor: within this distance of its footprint ...
    drift_min_approach_cm: float = 100.0  # ... having come at least this much closer to it than at the start
    drift_min_px: int = 2000  # no recorded locations: a distractor filling this much of the last frame
    stuck_move_cm: float = 20.0  # a move that displaced the agent less than this went nowhere
    stuck_min_moves: int = 3  # this many moves in a row that went nowhere (turns may come between)
    loop_cell_cm: float = 100.0  # a place: this grid cell ...
    loop_yaw_deg: float = 30.0  # ... and heading bin
    loop_min_revisits: int = 3  # returns to an earlier place and heading, after leaving it
    invalid_min_steps: int = 1  # steps with no valid action after every re-ask
    reach_cm: float = Magnitudes().interact_cm  # interaction reach, only quoted in reasons

    @staticmethod
    def from_config(cfg: dict | None) -> "TagThresholds":
        """From a config mapping; one-line ValueError naming an unknown key or a bad value."""
        cfg = dict(cfg or {})
        known = {f.name: f.type for f in fields(TagThresholds)}
        out = {}
        for key, value in cfg.items():
            if key not in known:
                raise ValueError(f"unknown setting 'tags.{key}'; known: {', '.join(known)}")
            want_int = known[key] in ("int", int)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
            if not ok or (want_int and not float(value).is_integer()) or math.isnan(value):
                kind = "an integer" if want_int else "a number"
                raise ValueError(f"tags.{key} must be {kind} >= 0, not {value!r}")
            out[key] = int(value) if want_int else float(value)
        th = TagThresholds(**out)
        if not 0 <= th.min_yaw_coverage <= 1:
            raise ValueError(f"tags.min_yaw_coverage must be between 0 and 1, not {th.min_yaw_coverage!r}")
        for key in ("area_cell_cm", "loop_cell_cm", "loop_yaw_deg", "fov_deg"):
            if getattr(th, key) <= 0:
                raise ValueError(f"tags.{key} must be > 0, not {getattr(th, key)!r}")
        return th

    def to_json(self) -> dict:
        return asdict(self)


def _tag(name: str, steps, reason: str) -> dict:
    reason = " ".join(str(reason).split())  # one line, whatever the model wrote into it
    return {"name": name, "steps": sorted({int(s) for s in steps}), "reason": reason[:300]}


def _d(x: float) -> str:
    return "?" if x is None or math.isnan(x) else f"{x:.0f} cm"


# ---- outcome tags -----------------------------------------------------------------------------
def target_forgetting(tr: Trajectory, th: TagThresholds) -> dict | None:
    """Saw the stage's goal, lost it from view and never got it back (or ended farther than its closest
    approach); on multi-stage also: subgoal 2 abandoned after a correct MidwayTarget."""
    p = tr.failing_phase()
    if p is None or p.goal_xy is None:
        return None
    d_end = xy_dist(tr.xy[p.last], p.goal_xy)
    if tr.record.type == "3" and p.label == "subgoal 2" and tr.midway is not None:
        d_mid = xy_dist(tr.xy[p.first], p.goal_xy)
        if d_end > d_mid - th.forget_margin_cm:
            return _tag("target_forgetting", [tr.midway, tr.step_of(p.last)],
                        f"subgoal 2 abandoned after the first: {_d(d_mid)} from it at MidwayTarget "
                        f"(step {tr.midway}), {_d(d_end)} at the end")
    if not tr.has_masks:
        return None
    seen = tr.seen(p.goal, p.first, p.last, th.min_visible_px)
    if not seen:
        return None
    unseen = [k for k in range(seen[-1] + 1, p.last + 1) if tr.vis[k] is not None]
    lost = len(unseen) >= max(1, th.forget_min_unseen)
    gx, gy = p.goal_xy
    d_min = min(math.hypot(x - gx, y - gy) for x, y in tr.xy[seen[0]: p.last + 1])
    farther = d_end > d_min + th.forget_margin_cm
    if not (lost or farther):
        return None
    first = f"saw {p.label} {p.goal} at {'the start' if seen[0] == 0 else f'step {tr.step_of(seen[0])}'}"
    if lost:
        gone = unseen[0]
        how = f"lost it at step {tr.step_of(gone)} and never saw it again ({len(unseen)} frames)"
        steps = [tr.step_of(seen[0]), tr.step_of(gone), tr.step_of(p.last)]
    else:
        gone, how = None, "kept it in view but moved away"
        steps = [tr.step_of(seen[0]), tr.step_of(p.last)]
    return _tag("target_forgetting", steps, f"{first}, {how}; ended {_d(d_end)} from it (closest {_d(d_min)})")


def _yaw_coverage(yaws: list[float], fov: float) -> float:
    """Share of the horizon inside the field of view of at least one observation (union of arcs)."""
    a = sorted({round(y % 360.0, 1) for y in yaws})
    if not a:
        return 0.0
    gaps = [b - c for b, c in zip(a[1:] + [a[0] + 360.0], a)]
    return min(1.0, sum(min(g, fov) for g in gaps) / 360.0)


def short_sighted_exploration(tr: Trajectory, th: TagThresholds) -> dict | None:
    """The failed stage's goal was never seen, and the agent looked at little of the horizon or covered
    little ground (either below its threshold)."""
    p = tr.failing_phase()
    if p is None or not p.goal or not tr.has_masks or tr.ever_seen(p.goal, p.last, th.min_visible_px):
        return None
    cover = _yaw_coverage(tr.yaw[: p.last + 1], th.fov_deg)
    c = th.area_cell_cm
    cells = len({(math.floor(x / c), math.floor(y / c)) for x, y in tr.xy[: p.last + 1] if not math.isnan(x)})
    narrow, small = cover < th.min_yaw_coverage, cells < th.min_area_cells
    if not (narrow or small):
        return None
    turns = [s.index for s in tr.steps if s.action in ("TurnLeft", "TurnRight")]
    what = []
    if narrow:
        what.append(f"looked at {100 * cover:.0f}% of the horizon (< {100 * th.min_yaw_coverage:.0f}%)")
    if small:
        what.append(f"stood in {cells} cell(s) of {c:.0f} cm (< {th.min_area_cells})")
    steps = turns or [s.index for s in tr.steps[-1:]]
    return _tag("short_sighted_exploration", steps, f"never saw {p.label} {p.goal}; " + " and ".join(what))


def _stem(name: str) -> str:
    return re.sub(r"[_\-\s]*\d+$", "", name).lower()


def spatial_semantic_drift(tr: Trajectory, th: TagThresholds) -> dict | None:
    """Ended at, or interacted with, an object of the referent's category instead of the referent."""
    rec, t = tr.record, tr.record.task
    found: list[tuple[int, str]] = []
    referent = t.target_objects[-1] if t.target_objects else None
    x, y = tr.xy[-1]
    located = [d for d in t.distractors if d in t.object_locations]
    # Distractors share the final referent's category: ending near one counts in the final stage only
    # (after the MidwayTarget, with the object in hand), and only if the agent walked up to it.
    final_stage = tr.failing_phase() in (None, tr.phases[-1]) and len(tr.phases) == (2 if rec.type in ("3", "4.2") else 1)
    x0, y0 = tr.xy[0]
    if located and final_stage:
        d_ref = footprint_dist(rec, referent, x, y) if referent else None
        if d_ref is None:
            d_ref = xy_dist((x, y), t.target_poses[-1])
        dist, name = min((footprint_dist(rec, d, x, y), d) for d in located)
        if dist <= th.drift_radius_cm and dist < d_ref \
                and dist <= footprint_dist(rec, name, x0, y0) - th.drift_min_approach_cm:
            found.append((tr.step_of(len(tr.xy) - 1), f"ended {_d(dist)} from {name}, {_d(d_ref)} from the referent "
                                                          f"{referent}"))
    elif t.distractors and tr.has_masks and final_stage and not located:  # no places: the last frame instead
        k = tr.last_image(0, len(tr.xy) - 1)
        v = tr.vis[k] if k is not None else {}
        px, name = max(((v.get(d, 0), d) for d in t.distractors), default=(0, ""))
        if px >= th.drift_min_px and px > v.get(referent, 0):
            found.append((tr.step_of(k), f"the last frame shows {name} ({px} px), not the referent {referent}"))
    held_before = None
    doors_before = dict(rec.start_door_state)
    for s in tr.steps if (t.pick_object or t.door or located) else ():
        if s.held_object and s.held_object != held_before and t.pick_object and s.held_object != t.pick_object \
                and _stem(s.held_object) == _stem(t.pick_object):
            found.append((s.index, f"picked up {s.held_object} instead of {t.pick_object}"))
        if s.action == "DropObject" and s.dropped_at and located:
            dd, name = min((footprint_dist(rec, d, s.dropped_at[0], s.dropped_at[1]), d) for d in located)
            if dd <= th.drift_radius_cm and not at_stage(t, s.dropped_at):
                found.append((s.index, f"dropped the object {_d(dd)} from {name}"))
        if s.action == "OpenDoor" and t.door:
            opened = [d for d, v in s.door_state.items() if v == 1 and doors_before.get(d) != 1 and d != t.door]
            found += [(s.index, f"opened {d} instead of {t.door}") for d in opened]
        held_before = s.held_object
        if s.door_state:
            doors_before = dict(s.door_state)
    if rec.success or not found:
        return None
    return _tag("spatial_semantic_drift", [i for i, _ in found], "; ".join(r for _, r in found))


def premature_finish(tr: Trajectory, th: TagThresholds) -> dict | None:
    """Finish issued away from the goal (or, on multi-stage, before a correct MidwayTarget)."""
    if not tr.finished:
        return None
    t, fin = tr.record.task, tr.steps[-1].index
    where = "outside the target region" if t.regions else f"(radius {t.success_radius_cm:.0f})"
    why = []
    final = tr.pose(len(tr.poses) - 1)  # None: no position recorded, nothing to say where Finish was
    if final is not None and not at_stage(t, final):
        why.append(f"Finish at step {fin} {_d(stage_distance(t, final))} from the target {where}")
    if tr.record.type == "3" and len(t.target_poses) > 1:
        m = tr.midway
        at = tr.pose(m + 1) if m is not None else None
        if m is None:
            why.append("no MidwayTarget before Finish")
        elif at is not None and not at_stage(t, at, 0):
            why.append(f"MidwayTarget at step {m} {_d(stage_distance(t, at, 0))} from subgoal 1")
    if not why:
        return None
    midway = tr.midway if tr.record.type == "3" else None
    return _tag("premature_finish", [fin] + ([midway] if midway is not None else []), "; ".join(why))


def _reach(tr: Trajectory, obj: str | None, steps, th: TagThresholds) -> str:
    """' (nearest try 420 cm from Door_04, reach 250 cm)' when the object's place is recorded."""
    dists = [footprint_dist(tr.record, obj, *s.pose_after[:2]) for s in steps if obj and len(s.pose_after) >= 2]
    dists = [d for d in dists if d is not None]
    return f" (nearest try {_d(min(dists))} from {obj}, reach {th.reach_cm:.0f} cm)" if dists else ""


def interaction_failed(tr: Trajectory, th: TagThresholds) -> dict | None:
    """Open Door / Pick & Drop: the interaction the task needs never happened, or happened out of range."""
    rec, t = tr.record, tr.record.task
    last = tr.steps[-1].index if tr.steps else 0
    if rec.type == "4.1":
        if not tr.steps or not door_reason(tr.steps[-1], t.door):
            return None
        door = t.door or "a door"
        tries = [s for s in tr.steps if s.action == "OpenDoor"]
        if not tries:
            return _tag("interaction_failed", [last], f"OpenDoor never issued; {door} stayed closed")
        return _tag("interaction_failed", [s.index for s in tries],
                    f"OpenDoor at step(s) {', '.join(str(s.index) for s in tries)} did not open {door}"
                    + _reach(tr, t.door, tries, th))
    if rec.type == "4.2" and t.pick_object:
        if not any(s.held_object == t.pick_object for s in tr.steps):
            tries = [s for s in tr.steps if s.action == "PickObject"]
            if not tries:
                return _tag("interaction_failed", [last], f"PickObject never issued; {t.pick_object} never picked up")
            return _tag("interaction_failed", [s.index for s in tries],
                        f"PickObject at step(s) {', '.join(str(s.index) for s in tries)} did not pick up "
                        f"{t.pick_object}" + _reach(tr, t.pick_object, tries, th))
        why = pick_drop_reason(tr.steps, t)
        if not why:
            return None
        drops = [s.index for s in tr.steps if s.action == "DropObject"]
        if "never dropped" in why and not drops:
            why = f"DropObject never issued; {why}"
        return _tag("interaction_failed", drops or [last], why)
    return None


def timeout(tr: Trajectory, th: TagThresholds) -> dict | None:
    if tr.record.status != "timeout":
        return None
    n = len(tr.steps)
    return _tag("timeout", [n - 1] if n else [], f"no Finish within {n} steps")


# ---- behaviour tags -----------------------------------------------------------------------------
def stuck(tr: Trajectory, th: TagThresholds) -> dict | None:
    """Moves in a row that went nowhere (blocked), turns and looks in between allowed."""
    run, best = [], []
    for s in tr.steps:
        a, b = s.pose_before, s.pose_after
        if s.action not in MOVES or len(a) < 2 or len(b) < 2:
            continue
        if math.hypot(a[0] - b[0], a[1] - b[1]) >= th.stuck_move_cm:
            run = []
            continue
        run.append(s.index)
        if len(run) > len(best):
            best = list(run)
    if len(best) < th.stuck_min_moves:
        return None
    return _tag("stuck", best, f"{len(best)} moves in a row went nowhere (steps {best[0]}-{best[-1]})")


def looping(tr: Trajectory, th: TagThresholds) -> dict | None:
    """Returns to a place and heading visited before, after having left it."""
    if len(tr.xy) <= th.loop_min_revisits:
        return None
    bins, c, w = max(1, round(360.0 / th.loop_yaw_deg)), th.loop_cell_cm, th.loop_yaw_deg
    visited, prev, revisits = set(), None, []
    for k, ((x, y), yaw) in enumerate(zip(tr.xy, tr.yaw)):
        if x != x:  # nan: no pose
            continue
        key = (x // c, y // c, ((yaw + w / 2) // w) % bins)
        if key == prev:
            continue  # still there (a look, a blocked move, an invalid answer): not a return
        if key in visited:
            revisits.append(tr.step_of(k))
        visited.add(key)
        prev = key
    if len(revisits) < th.loop_min_revisits:
        return None
    return _tag("looping", revisits, f"returned {len(revisits)} times to a place and heading already visited")


def invalid_output(tr: Trajectory, th: TagThresholds) -> dict | None:
    bad = [s for s in tr.steps if not s.valid]
    if len(bad) < max(1, th.invalid_min_steps):
        return None
    reasks = sum(s.reasks for s in tr.steps)
    return _tag("invalid_output", [s.index for s in bad],
                f"{len(bad)} step(s) without a valid action after re-asks ({reasks} re-asks in all); "
                f"first: {bad[0].error[:120]}")


# How an error record names a model failure: worker.py writes "model: <why>"; earlier runners the class name.
API_ERROR_PREFIXES = ("model:", "ModelCallError")


def api_error(record: EpisodeRecord) -> dict | None:
    if record.status != "error" or not record.error.startswith(API_ERROR_PREFIXES):
        return None
    steps = [record.steps[-1].index] if record.steps else []
    return _tag("api_error", steps, record.error.splitlines()[0] if record.error else "model API error")


OUTCOME = (target_forgetting, short_sighted_exploration, spatial_semantic_drift, premature_finish,
           interaction_failed, timeout)
BEHAVIOUR = (stuck, looping, invalid_output)


def tag_episode(record: EpisodeRecord, th: TagThresholds | None = None) -> list[dict]:
    """The tags of one (scored) record, in TAG_NAMES order."""
    th = th or TagThresholds()
    if record.status == "error":
        t = api_error(record)
        return [t] if t else []
    tr = build(record)
    rules = BEHAVIOUR if record.success else OUTCOME + BEHAVIOUR
    tags = [t for t in (rule(tr, th) for rule in rules) if t]
    return sorted(tags, key=lambda t: _ORDER[t["name"]])

