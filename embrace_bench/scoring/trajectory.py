"""A compact view of one episode record for the failure tagger: where the agent was at each observation,
what it saw, and the stages of its task (subgoals, pick then drop), all read from the record alone.

Observation k is the start observation for k = 0 and the observation after step k-1 otherwise; the
evidence for something seen in observation k is the step that produced it, `step_of(k)`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import cast

from embrace_bench.actions import Action
from embrace_bench.records import EpisodeRecord, StepRecord
from embrace_bench.scoring.metrics import at_stage, count_steps
from embrace_bench.scoring.tagset import REFERENCE_HEIGHT_PX, REFERENCE_WIDTH_PX
from embrace_bench.tasks.model import TaskType

EYE_HEIGHT_CM = 160.0  # the camera above the ground (the embedded world's; the Unreal character's is close)


@dataclass
class Phase:
    """One stage of a task: the object the agent should be looking for and where it counts as reached."""

    label: str  # "the target", "subgoal 1", "the object to pick up", ...
    goal: str | None  # object name whose mask pixels say it was seen
    goal_xy: tuple[float, float] | None  # where the stage counts as reached (None: unknown)
    first: int  # first observation index of the stage
    last: int  # last observation index (inclusive)
    reached: bool


@dataclass
class Trajectory:
    record: EpisodeRecord
    finished: bool  # a Finish was issued
    midway: int | None  # step index of the MidwayTarget the scorer judges (metrics.Counted.midway)
    steps: list[StepRecord]  # counted steps: up to and including the first Finish
    poses: list  # per observation: the full [x, y, z, pitch, yaw, roll] (None where unrecorded)
    xy: list[tuple[float, float]]  # per observation
    yaw: list[float]
    vis: list[dict[str, int] | None]  # per observation; None when it carried no image (the Finish step)
    has_masks: bool  # any observation reported object pixels (older or foreign records may have none)
    phases: list[Phase] = field(default_factory=list)
    cache: dict = field(default_factory=dict)  # facts several rules ask for (blocked runs), computed once

    @staticmethod
    def step_of(obs: int) -> int:
        return max(obs - 1, 0)

    def pose(self, obs: int) -> list | None:
        """The pose at observation `obs`, or None where the record holds no position for it."""
        p = self.poses[obs]
        return p if p and len(p) >= 2 else None

    def failing_phase(self) -> Phase | None:
        """The first stage not reached (None: all were); every outcome rule asks, so it is kept."""
        if "failing" not in self.cache:
            self.cache["failing"] = next((p for p in self.phases if not p.reached), None)
        return self.cache["failing"]

    def seen(self, name: str | None, last: int, th) -> list[int]:
        """Observation indices up to `last` where `name` was seen (`th`: the TagThresholds), by the rule a person
        reads off the review sheet's outline of the object: at least `min_visible_px` mask pixels, and its box
        at least `seen_min_extent_px` on its smaller side (`box_side`: its bounds projected into the frame at
        the recorded pose), with its centre no more than `seen_max_off_deg` off the heading (mostly inside the
        frame, not a sliver at its edge); an object of unknown place or size by its pixels alone. In an
        observation without a recorded position a sized object is not seen (its box cannot be measured: `box_side`
        gives 0). Computed once per trajectory."""
        limits = (th.min_visible_px, th.seen_min_extent_px, th.seen_max_off_deg, th.fov_deg, th.frame_scale)
        key = ("seen", name, last, limits)
        if key not in self.cache:
            self.cache[key] = self._seen(name, last, *limits)
        return self.cache[key]

    def _seen(self, name: str | None, last: int, min_px: int, min_extent: float, max_off: float,
              fov: float, scale: float) -> list[int]:
        if not name:
            return []
        near = [k for k, v in enumerate(self.vis[: last + 1]) if v and v.get(name, 0) >= min_px]
        loc = self.record.task.object_locations.get(name) if near else None
        if loc is None:  # the common case, none: the cheap test settles it
            return near
        b = self.record.task.object_bounds.get(name)
        sized = bool(b and len(b) >= 6 and min_extent > 0)
        out = []
        for k in near:
            if abs(off_heading(self.xy[k], self.yaw[k], loc)) > max_off:  # no pose: nan, not > max_off (box: 0)
                continue
            p = self.poses[k]
            pitch = float(p[3]) if p and len(p) > 3 else 0.0
            side = box_side(self.xy[k], self.yaw[k], pitch, b, fov) if sized else math.inf
            if sized and name == self.record.task.door:  # edge-on or half behind its wall: a door is narrower
                px = (self.vis[k] or {}).get(name, 0) / scale  # in a 640x480 frame
                side = min(side, panel_width(px, self.xy[k], self.yaw[k], b, fov))
            # The box of the pixels it covers is about a pixel wider than its exact projection.
            if side + 1.0 < min_extent:
                continue
            out.append(k)
        return out

    def last_image(self, first: int, last: int) -> int | None:
        return next((k for k in range(last, first - 1, -1) if self.vis[k] is not None), None)


def off_heading(xy: tuple[float, float], yaw: float, loc) -> float:
    """Degrees from the heading `yaw` at `xy` to the point `loc` (-180..180; positive: to the right, as yaw)."""
    bearing = math.degrees(math.atan2(loc[1] - xy[1], loc[0] - xy[0]))
    return (bearing - yaw + 180.0) % 360.0 - 180.0


def horizon_coverage(yaws: list[float], fov: float) -> float:
    """Share of the horizon inside a `fov`-degree view from at least one of the headings `yaws` (union of arcs)."""
    a = sorted({y % 360.0 for y in yaws})  # near-equal headings leave near-zero gaps: no rounding needed
    if not a:
        return 0.0
    gaps = [b - c for b, c in zip(a[1:] + [a[0] + 360.0], a)]
    return min(1.0, sum(min(g, fov) for g in gaps) / 360.0)


def _focal(fov: float) -> float:
    """Focal length, in pixels of a 640x480 frame, of a pinhole camera `fov` degrees across."""
    return REFERENCE_WIDTH_PX / 2 / math.tan(math.radians(fov) / 2)


def box_side(xy: tuple[float, float], yaw: float, pitch: float, b, fov: float) -> float:
    """The smaller side, in pixels of a 640x480 frame, of the box an object with bounds `b` ([xmin, ymin, zmin,
    xmax, ymax, zmax], cm) fills in a camera at `xy`, EYE_HEIGHT_CM high, turned to `yaw` and pitched by `pitch`
    (degrees, up positive), clipped to the frame. The object is taken as the upright cylinder inside its bounds
    (engines give a square around any orientation): its outline's left, right, near and far sides at its bottom
    and top. Projection makes an object off the frame's centre look wider; a camera inside it sees it whole."""
    ox, oy, r = (b[0] + b[3]) / 2, (b[1] + b[4]) / 2, min(b[3] - b[0], b[4] - b[1]) / 2
    dx, dy = ox - xy[0], oy - xy[1]
    dc = math.hypot(dx, dy)
    if not dc > r + 1.0:  # standing in it (or no position: nan)
        return math.inf if dc == dc else 0.0
    y = math.radians(yaw)
    ahead, right, k = dx * math.cos(y) + dy * math.sin(y), dy * math.cos(y) - dx * math.sin(y), r / dc
    # (ahead, right) of the outline's left, right, near and far sides
    pts = ((ahead - k * right, right + k * ahead), (ahead + k * right, right - k * ahead),
           (ahead * (1 - k), right * (1 - k)), (ahead * (1 + k), right * (1 + k)))
    focal = _focal(fov)
    bottom, top = b[2] - EYE_HEIGHT_CM, b[5] - EYE_HEIGHT_CM
    if pitch == 0:  # the common case, in closed form: nearest and farthest sides bound the height
        hs = [focal * rt / max(a, 1.0) for a, rt in pts]  # a point behind the camera: far off the frame's edge
        near, far = max(min(a for a, _ in pts), 1.0), max(max(a for a, _ in pts), 1.0)
        vs = [focal * top / (near if top > 0 else far), focal * bottom / (far if bottom > 0 else near)]
    else:
        p = math.radians(pitch)
        cp, sp = math.cos(p), math.sin(p)
        hs, vs = [], []
        for a, rt in pts:
            for z in (bottom, top):
                depth = max(cp * a + sp * z, 1.0)
                hs.append(focal * rt / depth)
                vs.append(focal * (cp * z - sp * a) / depth)
    half_w, half_h = REFERENCE_WIDTH_PX / 2, REFERENCE_HEIGHT_PX / 2
    w = min(max(hs), half_w) - max(min(hs), -half_w)
    h = min(max(vs), half_h) - max(min(vs), -half_h)
    return max(0.0, min(w, h))


def panel_width(px: float, xy: tuple[float, float], yaw: float, b, fov: float) -> float:
    """The width, in pixels of a 640x480 frame, of the box `px` pixels (at that frame size) of a flat upright
    panel (a door) fill: a panel fills its box, so its pixels over the height it spans at the distance of its
    bounds' centre (a door seen edge-on, or half behind its wall, is as narrow as its pixels say)."""
    ox, oy = (b[0] + b[3]) / 2, (b[1] + b[4]) / 2
    depth = max(math.hypot(ox - xy[0], oy - xy[1]) * math.cos(math.radians(off_heading(xy, yaw, (ox, oy)))), 1.0)
    focal = _focal(fov)
    return px / max(min(focal * (b[5] - b[2]) / depth, REFERENCE_HEIGHT_PX), 1.0)


def location_xy(record: EpisodeRecord, name: str | None) -> tuple[float, float] | None:
    loc = record.task.object_locations.get(name) if name else None
    return (loc[0], loc[1]) if loc else None


def footprint_dist(record: EpisodeRecord, name: str, x: float, y: float) -> float | None:
    """XY distance from (x, y) to the object's recorded bounds (or its location point); None if unrecorded."""
    b = record.task.object_bounds.get(name)
    if b and len(b) >= 6:
        dx = max(b[0] - x, 0.0, x - b[3])
        dy = max(b[1] - y, 0.0, y - b[4])
        return math.hypot(dx, dy)
    loc = record.task.object_locations.get(name)
    return math.hypot(loc[0] - x, loc[1] - y) if loc else None


def _pose_xy(pose) -> tuple[float, float]:
    return (float(pose[0]), float(pose[1])) if pose and len(pose) >= 2 else (math.nan, math.nan)


def build(record: EpisodeRecord) -> Trajectory:
    """The trajectory view of a scored (non-error) record."""
    counted = count_steps(record.steps, record.task)
    steps = counted.steps
    poses = [steps[0].pose_before if steps else None] + [s.pose_after for s in steps]
    try:  # the common case, fast: every pose has all six numbers
        full = cast("list[list[float]]", poses)  # a None or short pose raises below, handled there
        xy, yaw = [(p[0], p[1]) for p in full], [p[4] for p in full]
    except (TypeError, IndexError):
        xy = [_pose_xy(p) for p in poses]
        yaw = [float(p[4]) if p and len(p) > 4 else 0.0 for p in poses]
    vis = [record.start_visible] + [None if s.action == Action.Finish else s.visible for s in steps]
    has_masks = any(vis)
    tr = Trajectory(record, counted.finished, counted.midway, steps, poses, xy, yaw, vis, has_masks)
    tr.phases = _phases(tr)
    return tr


def _near(tr: Trajectory, k: int, stage: int) -> bool:
    p = tr.pose(k)
    return p is not None and bool(tr.record.task.target_poses) and at_stage(tr.record.task, p, stage)


def _phases(tr: Trajectory) -> list[Phase]:
    rec, t, end = tr.record, tr.record.task, len(tr.xy) - 1
    targets, poses = t.target_objects, t.target_poses
    final_xy = (poses[-1][0], poses[-1][1]) if poses else None
    if rec.type == TaskType.MULTI_STAGE and len(poses) >= 2:
        sub1 = (poses[0][0], poses[0][1])
        m = tr.midway
        if m is None:
            return [Phase("subgoal 1", targets[0] if targets else None, sub1, 0, end, False)]
        k = m + 1  # the observation after the MidwayTarget step
        if not _near(tr, k, 0):  # declared far from subgoal 1: it stays the stage goal to the end
            return [Phase("subgoal 1", targets[0] if targets else None, sub1, 0, end, False)]
        return [Phase("subgoal 1", targets[0] if targets else None, sub1, 0, k, True),
                Phase("subgoal 2", targets[1] if len(targets) > 1 else None, final_xy, k, end, _near(tr, end, -1))]
    if rec.type == TaskType.PICK_DROP and t.pick_object:
        pick = next((i + 1 for i, s in enumerate(tr.steps) if s.held_object == t.pick_object), None)
        phase1 = Phase("the object to pick up", t.pick_object, location_xy(rec, t.pick_object), 0,
                       end if pick is None else pick, pick is not None)
        if pick is None:
            return [phase1]
        drop = targets[-1] if len(targets) > 1 else None
        return [phase1, Phase("the drop target", drop, final_xy, pick, end, _near(tr, end, -1))]
    goal = t.door if rec.type == TaskType.OPEN_DOOR and t.door else (targets[0] if targets else None)
    label = "the door" if rec.type == TaskType.OPEN_DOOR else "the target"
    return [Phase(label, goal, final_xy, 0, end, _near(tr, end, -1))]
