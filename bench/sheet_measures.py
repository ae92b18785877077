"""What the review sheets measure, with no output of the failure tagger (issue 13, round-4 definitions): the
geometry they share with it (the 640x480 scale, the horizon share) comes from one definition in scoring/.

Goal outlines: each observation's object mask is re-rendered with the embedded world itself, driven by its
UnrealCV commands as the embedded env drives it (level, character, pose, camera size and fov, `set_cam` with
the recorded look pitch), with the world as it was then (doors opened per `door_state`, the task's object
where `object_pose` says, hidden while held). The goal's pixels in that mask give its box and count; the
record's own `visible` count (the env counted the same masks) checks them.

Search: how much of the horizon the 90-degree view covered and how far the agent's positions spread.

    python bench/sheet_measures.py RUN_DIR...   # the acceptance check: re-rendered counts vs the records
"""
from __future__ import annotations

import argparse
import io
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from embrace_bench.config_schema import embedded_env
from embrace_bench.manifest import Manifest, read_manifest
from embrace_bench.records import EpisodeRecord, read_records
from embrace_bench.run_dir import RunDir
from embrace_bench.scoring.metrics import count_steps, counted_steps
from embrace_bench.scoring.tagset import REFERENCE_HEIGHT_PX as REF_H
from embrace_bench.scoring.tagset import REFERENCE_WIDTH_PX as REF_W
from embrace_bench.scoring.tagset import TagThresholds
from embrace_bench.scoring.trajectory import horizon_coverage
from embrace_bench.tasks.maps import EMBEDDED_MAPS_DIR, has_map
from embrace_bench.tasks.model import TaskType
from embrace_bench.unrealcv.protocol import is_error_reply
from embrace_bench.world.engine import AGENT_CAMERA, AGENT_CLASS, EmbeddedEngine
from embrace_bench.world.launch import RENDERERS

APPROX = 0.10  # a re-rendered count off the record's by more than this share is marked "~"
# The numbers on the sheet are in the tag thresholds' 640x480 scale (REF_W x REF_H); frames are re-rendered
# with the run's view, or env=embedded's where its manifest does not say; the horizon share is the one
# `short_sighted_exploration` compares with its threshold (its `fov_deg`).
EMBEDDED = embedded_env()
HORIZON_FOV_DEG = TagThresholds().fov_deg
_COLOR_RE = re.compile(r"R=(\d+),G=(\d+),B=(\d+)")
AGENT = "sheet_agent"


def goal_roles(rec: EpisodeRecord) -> list[tuple[str, str]]:
    """(role, object name) of each goal object of the task, in the sheet's role names."""
    t = rec.task
    if rec.type == TaskType.MULTI_STAGE and len(t.target_objects) >= 2:
        roles = [("sub1", t.target_objects[0]), ("sub2", t.target_objects[1])]
    elif rec.type == TaskType.PICK_DROP:
        roles = [("pick", t.pick_object or (t.target_objects[0] if t.target_objects else "")),
                 ("drop", t.target_objects[-1] if t.target_objects else "")]
    elif rec.type == TaskType.OPEN_DOOR:
        roles = [("door", t.door or "")]
    else:
        roles = [("target", t.target_objects[0] if t.target_objects else "")]
    return [(r, n) for r, n in roles if n]


@dataclass
class Outline:
    """One goal's visible pixels in one frame (box inclusive, in frame pixels at the run's size)."""

    role: str
    name: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1
    pixels: int  # re-rendered, at the run's frame size
    recorded: int  # the record's visible count (0: none recorded)
    frame_size: tuple[int, int]

    @property
    def approx(self) -> bool:
        return abs(self.pixels - self.recorded) > APPROX * max(self.recorded, 1)

    def label(self) -> str:
        w, h = self.frame_size
        sx, sy = REF_W / w, REF_H / h
        bw, bh = round((self.box[2] - self.box[0] + 1) * sx), round((self.box[3] - self.box[1] + 1) * sy)
        return f"{'~' if self.approx else ''}{self.role} {bw}x{bh} / {round(self.pixels * sx * sy)} px"


@dataclass
class ObsState:
    """The world as one observation saw it: frame k (0 the start, k the view after step k-1)."""

    k: int
    pose: list[float]  # x y z pitch yaw roll
    visible: dict[str, int]
    doors: dict[str, int]
    held: str | None
    object_pose: list[float] | None  # the task's pick-and-drop object
    object_yaw: float | None  # its yaw once dropped (the character's yaw at the drop)


def observations(rec: EpisodeRecord) -> list[ObsState]:
    steps = counted_steps(rec.steps)
    if not steps:
        return []
    out = [ObsState(0, list(steps[0].pose_before), dict(rec.start_visible), dict(rec.start_door_state), None,
                    None, None)]
    yaw, held = None, None
    for k, s in enumerate(steps, start=1):
        if held and not s.held_object:  # dropped: the engine lays it down turned as the character was
            yaw = s.pose_after[4]
        held = s.held_object
        out.append(ObsState(k, list(s.pose_after), dict(s.visible), dict(s.door_state), s.held_object,
                            list(s.object_pose) if s.object_pose else None, yaw))
    return out


class EngineError(RuntimeError):
    pass


class GoalRenderer:
    """One embedded engine, reused for every episode (maps and their GPU scenes stay loaded)."""

    def __init__(self, renderer: str = "auto") -> None:
        self.engine = EmbeddedEngine(renderer, maps_dir=EMBEDDED_MAPS_DIR)

    def _h(self, cmd: str):
        reply = self.engine.handle(cmd)
        if is_error_reply(reply):
            raise EngineError(f"{cmd!r} -> {reply}")
        return reply

    def _png(self, cmd: str) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(self._h(cmd))).convert("RGB"))

    def episode(self, rec: EpisodeRecord, size: tuple[int, int], fov: float = EMBEDDED.fov,
                cam_offset=tuple(EMBEDDED.cam_offset), lit: bool = False):
        """[(ObsState, [Outline...], lit frame or None)] for every observation of the episode."""
        w, h = size
        roles = goal_roles(rec)
        self._h(f"vset /action/game/level {rec.map}")
        self._h(f"vset /objects/spawn_from_path /Game/{AGENT_CLASS} {AGENT}")
        self._h(f"vset /camera/{AGENT_CAMERA}/size {w} {h}")
        self._h(f"vset /camera/{AGENT_CAMERA}/fov {fov}")
        colours = {}
        for _, n in roles:
            m = _COLOR_RE.search(str(self._h(f"vget /object/{n}/color")))
            if m:
                colours[n] = tuple(int(v) for v in m.groups())
        st = self.engine.state
        assert st is not None  # the level just loaded
        door_yaw = {o.name: (o.yaw, o.open_yaw) for o in st.world.objects if o.door}
        pick = rec.task.pick_object
        pick_yaw = st.poses[pick][1] if pick and pick in st.poses else 0.0
        out, doors_now, placed = [], {n: 0 for n in door_yaw}, None
        ox, oy, oz = cam_offset
        for ob in observations(rec):
            for n, (yaw0, open_yaw) in door_yaw.items():
                want = ob.doors.get(n, 0)
                if want != doors_now[n]:
                    self._h(f"vset /object/{n}/rotation 0 {yaw0 + (open_yaw if want else 0.0)} 0")
                    doors_now[n] = want
            if pick and pick in st.poses and ob.object_pose and (ob.object_pose, ob.object_yaw) != placed:
                x, y, z = ob.object_pose[:3]
                self._h(f"vset /object/{pick}/location {x} {y} {z}")
                self._h(f"vset /object/{pick}/rotation 0 {pick_yaw if ob.object_yaw is None else ob.object_yaw} 0")
                placed = (ob.object_pose, ob.object_yaw)  # each set rebuilds the occupancy grid: only on change
            # No command hides an object: the engine hides what its character carries, so say what that is.
            st.held = ob.held if ob.held in st.poses else None
            x, y, z, pitch, yaw = ob.pose[:5]
            self._h(f"vset /object/{AGENT}/location {x} {y} {z}")
            self._h(f"vset /object/{AGENT}/rotation 0 {yaw} 0")
            self._h(f"vbp {AGENT} set_cam {ox} {oy} {oz} 0 {pitch} 0")
            mask = self._png(f"vget /camera/{AGENT_CAMERA}/object_mask png")
            outlines = []
            for role, n in roles:
                if n not in colours:
                    continue
                ys, xs = np.nonzero((mask == colours[n]).all(-1))
                if len(xs):
                    outlines.append(Outline(role, n, (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())),
                                            len(xs), ob.visible.get(n, 0), (w, h)))
            out.append((ob, outlines, self._png(f"vget /camera/{AGENT_CAMERA}/lit png") if lit else None))
        st.held = None
        return out


def run_view(run: Path) -> tuple[float, tuple[float, float, float]]:
    """(fov, set_cam offset) the run's env used, from its manifest (the embedded defaults when not written)."""
    env = Manifest.of(read_manifest(run)[0]).group("env")  # {} with no readable manifest
    off = env.get("cam_offset") or EMBEDDED.cam_offset
    return float(env.get("fov", EMBEDDED.fov)), (float(off[0]), float(off[1]), float(off[2]))


def frame_files(run: Path, task_id: str) -> dict[int, Path]:
    d = RunDir(run).task_frames(task_id)
    return {int(f.stem): f for f in sorted(d.glob("*.png"))} if d.exists() else {}


def recorded_frames(run: Path, rec: EpisodeRecord) -> tuple[dict[int, Path], tuple[int, int]]:
    """Frame k -> its file, and the frames' size; no files when there are none or the map is not an embedded one
    (nothing to re-render)."""
    files = frame_files(run, rec.task_id)
    if not files or not has_map(rec.map):
        return {}, (0, 0)
    with Image.open(next(iter(files.values()))) as im:
        return files, im.size


def goal_outlines(gr: GoalRenderer | None, rec: EpisodeRecord, run: Path) -> dict[int, list[Outline]] | None:
    """Frame k -> its goal outlines; None when they cannot be re-rendered (no renderer, not an embedded map)."""
    files, size = recorded_frames(run, rec)
    if gr is None or not files:
        return None
    fov, off = run_view(run)
    return {ob.k: outlines for ob, outlines, _ in gr.episode(rec, size, fov, off) if ob.k in files}


# ---- search: horizon covered by the view (scoring's horizon_coverage), spread of positions ---------------------
def search_line(poses: list[list[float]], what: str) -> str:
    xs, ys = [p[0] for p in poses], [p[1] for p in poses]
    diag = math.hypot(max(xs) - min(xs), max(ys) - min(ys)) / 100.0
    cov = horizon_coverage([p[4] for p in poses], HORIZON_FOV_DEG)
    return (f"search{what}: view covered {cov * 100:.0f}% of the horizon; "
            f"positions within a box of {diag:.1f} m diagonal")


def search_facts(rec: EpisodeRecord) -> list[str]:
    """The whole episode (start observation included), and up to the end of stage 1 where the type has one."""
    counted = count_steps(rec.steps, rec.task)
    steps = counted.steps
    # one per observation, so that stage 1 is a prefix; a pose without a heading is left out afterwards
    per_obs = [steps[0].pose_before] + [s.pose_after for s in steps] if steps else []
    poses = [p for p in per_obs if len(p) >= 5]
    if not poses:
        return []
    out = [search_line(poses, "")]
    end = None
    if rec.type == TaskType.MULTI_STAGE and counted.midway is not None:
        end, what = counted.midway, "the MidwayTarget"
    elif rec.type == TaskType.PICK_DROP and rec.task.pick_object:
        end = next((i for i, s in enumerate(steps) if s.held_object == rec.task.pick_object), None)
        what = "the pick"
    stage1 = [p for p in per_obs[: end + 2] if len(p) >= 5] if end is not None else []
    if end is not None and stage1:  # observations 0 .. end + 1: the view after that step included
        out.append(search_line(stage1, f" up to {what} (step {steps[end].index})"))
    return out


# ---- the acceptance check ---------------------------------------------------------------------------
def check(runs: list[Path], renderer: str = "auto") -> int:
    gr = GoalRenderer(renderer)
    pairs = exact = approx = frames = lit_same = in_view = 0
    worst: tuple[float, str] = (0.0, "none")
    lit_max = lit_px = 0
    t0 = time.monotonic()
    for run in runs:
        records, _ = read_records(RunDir(run).episodes)
        fov, off = run_view(run)
        for rec in [r for r in records if not r.success]:
            files, size = recorded_frames(run, rec)
            if not files:
                continue
            for ob, outlines, lit in gr.episode(rec, size, fov, off, lit=True):
                if ob.k not in files:
                    continue
                frames += 1
                shown = {o.name: o.pixels for o in outlines}
                for _, n in goal_roles(rec):
                    mine, theirs = shown.get(n, 0), ob.visible.get(n, 0)
                    pairs += 1
                    in_view += theirs > 0
                    exact += mine == theirs
                    err = abs(mine - theirs) / max(theirs, 1)
                    approx += err > APPROX
                    if mine != theirs and err >= worst[0]:
                        worst = (err, f"{run.name}/{rec.task_id} frame {ob.k} {n}: {mine} vs recorded {theirs}")
                diff = np.abs(np.asarray(Image.open(files[ob.k]).convert("RGB"), np.int16) - lit).max(-1)
                lit_same += not diff.any()
                lit_max, lit_px = max(lit_max, int(diff.max())), max(lit_px, int((diff > 0).sum()))
    print(f"{frames} frames, {pairs} (observation, goal) pairs ({in_view} with the goal in view): {exact} exact, "
          f"{approx} off by more than {APPROX:.0%}; worst: {worst[1]} ({worst[0]:.1%})")
    print(f"lit frames re-rendered identical: {lit_same}/{frames}; the others differ in at most {lit_px} pixels "
          f"(largest channel difference {lit_max})")
    print(f"{time.monotonic() - t0:.1f} s")
    return 0 if approx == 0 else 1  # 1: some outline is marked "~" (off the record by more than APPROX)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="compare re-rendered goal pixel counts with the records' visible counts")
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--renderer", default="auto", choices=RENDERERS)
    a = ap.parse_args(argv)
    return check(a.runs, a.renderer)


if __name__ == "__main__":
    sys.exit(main())
