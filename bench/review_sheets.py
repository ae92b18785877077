"""Review sheets for labelling failure tags by eye (issue 13): one PNG per failed episode.

Each sheet shows the top-down map around the episode (object footprints in their colours, the task's
targets, distractors, door and object to pick up labelled; circles at the success radius R and 1.5R), the
trajectory with step numbers, headings and blocked moves, the instruction and type, the action list, a few
plain distances, how widely the agent searched, and every frame the agent saw with its step number, each goal
object outlined with its measured size (bench/sheet_measures.py re-renders the masks with the embedded world).
It never shows a failure tag or anything the tagger computed, so labels stay blind to it.

    python bench/review_sheets.py RUN_DIR... --out SHEETS_DIR [--list episodes.txt] [--renderer auto|gl|numpy]

Episodes are named `<run dir name>/<task_id>`; the sheet is `<run dir name>__<task_id>.png`.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from sheet_measures import APPROX, GoalRenderer, Outline, frame_files, goal_outlines, search_facts

from embrace_bench.actions import TRANSLATIONS, Action
from embrace_bench.records import EpisodeRecord, read_records
from embrace_bench.run_dir import RunDir
from embrace_bench.scoring.metrics import count_steps, counted_steps
from embrace_bench.tasks.maps import load_map
from embrace_bench.tasks.model import TYPE_NAMES, TaskType
from embrace_bench.world.launch import RENDERERS
from embrace_bench.world.scene import PALETTE, WorldObject

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
MAP_PX = 900
THUMB = (320, 240)  # the runs' frame size: outlines and labels stay readable
COLS = 5
SIDE_W = 900
# one colour per goal role for the outlines in the frames
ROLE_COLOURS = {"target": (255, 40, 200), "sub1": (0, 220, 255), "sub2": (255, 150, 0), "pick": (255, 255, 0),
                "drop": (0, 255, 100), "door": (255, 255, 255)}


def font(size: int):
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default()


def footprint(o: WorldObject) -> list[tuple[float, float]] | None:
    """The object's footprint polygon in world XY."""
    fp = o.footprint
    if not fp:
        return None
    if fp[0] == "circle":
        pts = [(fp[1] * math.cos(a), fp[1] * math.sin(a)) for a in [i * math.pi / 8 for i in range(16)]]
    else:
        hx, hy = fp[1], fp[2]
        pts = [(-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy)]
    c, s = math.cos(math.radians(o.yaw)), math.sin(math.radians(o.yaw))
    x0, y0 = o.location[0], o.location[1]
    return [(x0 + x * c - y * s, y0 + x * s + y * c) for x, y in pts]


class MapView:
    """World XY (cm) -> pixels: x to the right, y down, so a right turn looks clockwise as in Unreal."""

    def __init__(self, box: tuple[float, float, float, float], px: int) -> None:
        x0, y0, x1, y1 = box
        self.scale = px / max(x1 - x0, y1 - y0)
        self.x0, self.y0 = x0, y0

    def __call__(self, x: float, y: float) -> tuple[float, float]:
        return ((x - self.x0) * self.scale, (y - self.y0) * self.scale)


def _box(rec: EpisodeRecord, world) -> tuple[float, float, float, float]:
    pts = [tuple(p[:2]) for s in rec.steps for p in (s.pose_before, s.pose_after) if len(p) >= 2]
    pts += [tuple(p[:2]) for p in rec.task.target_poses]
    pts += [tuple(v[:2]) for v in rec.task.object_locations.values()]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    m = 600.0
    x0, y0, x1, y1 = min(xs) - m, min(ys) - m, max(xs) + m, max(ys) + m
    side = max(x1 - x0, y1 - y0, 2000.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def _circle(d: ImageDraw.ImageDraw, xy, r: float, colour, width=2, dash=False) -> None:
    x, y = xy
    if not dash:
        d.ellipse([x - r, y - r, x + r, y + r], outline=colour, width=width)
        return
    for i in range(0, 72, 2):
        d.arc([x - r, y - r, x + r, y + r], i * 5, i * 5 + 5, fill=colour, width=width)


def draw_map(rec: EpisodeRecord) -> Image.Image:
    world = load_map(rec.map)
    view = MapView(_box(rec, world), MAP_PX)
    img = Image.new("RGB", (MAP_PX, MAP_PX), (236, 236, 228))
    d = ImageDraw.Draw(img)
    t = rec.task
    roles = {n: ("TARGET" if len(t.target_objects) == 1 else f"SUBGOAL {i + 1}" if rec.type == TaskType.MULTI_STAGE else
                 ("PICK" if i == 0 and rec.type == TaskType.PICK_DROP else "DROP AT")
                 if rec.type == TaskType.PICK_DROP else "TARGET")
             for i, n in enumerate(t.target_objects)}
    for n in t.distractors:
        roles.setdefault(n, "distractor")
    if t.door:
        roles[t.door] = "DOOR"
    if t.pick_object:
        roles.setdefault(t.pick_object, "PICK")
    small, big = font(11), font(14)
    # grid lines every 5 m, to read distances
    for gx in range(int(view.x0 // 500) * 500, int(view.x0 + MAP_PX / view.scale) + 500, 500):
        d.line([view(gx, view.y0), view(gx, view.y0 + MAP_PX / view.scale)], fill=(222, 222, 214))
    for gy in range(int(view.y0 // 500) * 500, int(view.y0 + MAP_PX / view.scale) + 500, 500):
        d.line([view(view.x0, gy), view(view.x0 + MAP_PX / view.scale, gy)], fill=(222, 222, 214))
    labels = []
    for o in world.objects:
        poly = footprint(o)
        if not poly:
            continue
        pix = [view(x, y) for x, y in poly]
        if all(not (0 <= px <= MAP_PX and 0 <= py <= MAP_PX) for px, py in pix):
            continue
        fill = PALETTE.get(o.color, (170, 170, 170)) if o.color else (150, 150, 150)
        role = roles.get(o.name)
        outline = {"distractor": (230, 120, 0), None: (90, 90, 90)}.get(role, (0, 160, 0))
        d.polygon(pix, fill=fill, outline=outline, width=4 if role else 1)
        cx, cy = sum(p[0] for p in pix) / len(pix), sum(p[1] for p in pix) / len(pix)
        if role:
            labels.append((cx, cy, f"{role}: {o.label} ({o.name})", outline))
        elif o.color and o.category not in ("wall",):
            labels.append((cx, cy, o.label, (60, 60, 60)))
    drawn = {o.name for o in world.objects if o.footprint}
    for name, role in roles.items():
        if name not in drawn and name in t.object_locations:
            cx, cy = view(*t.object_locations[name][:2])
            col = (230, 120, 0) if role == "distractor" else (0, 160, 0)
            d.rectangle([cx - 6, cy - 6, cx + 6, cy + 6], fill=PALETTE.get(world.obj(name).color, (170, 170, 170)),
                        outline=col, width=3)
            labels.append((cx, cy, f"{role}: {world.obj(name).label} ({name})", col))
    # success circles: R and 1.5R around each target pose (drop target for Pick & Drop), reach around door/pick
    r = t.success_radius_cm * view.scale
    for i, p in enumerate(t.target_poses):
        c = view(p[0], p[1])
        _circle(d, c, r, (0, 140, 0), 2, dash=True)
        _circle(d, c, 1.5 * r, (0, 140, 0), 1)
        d.text((c[0] + 4, c[1] - r - 16), f"goal {i + 1}: R / 1.5R" if len(t.target_poses) > 1 else "goal: R / 1.5R",
               fill=(0, 110, 0), font=small)
    for name in (t.door, t.pick_object):
        if name and name in t.object_locations:
            c = view(*t.object_locations[name][:2])
            _circle(d, c, 250 * view.scale, (120, 0, 160), 1, dash=True)
            _circle(d, c, 375 * view.scale, (120, 0, 160), 1)
    # trajectory
    steps = counted_steps(rec.steps)
    pts = [steps[0].pose_before] + [s.pose_after for s in steps] if steps else []
    pix = [view(p[0], p[1]) for p in pts if len(p) >= 2]
    if len(pix) > 1:
        d.line(pix, fill=(30, 60, 220), width=3)
    at: dict[tuple[int, int], list[tuple[int, bool]]] = {}  # pixel cell -> (step, blocked) ending there
    for k, p in enumerate(pts):
        if len(p) < 5:
            continue
        x, y = view(p[0], p[1])
        yaw = math.radians(p[4])
        d.line([(x, y), (x + 16 * math.cos(yaw), y + 16 * math.sin(yaw))], fill=(30, 60, 220), width=2)
        d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(30, 60, 220))
        if k > 0:  # the position after step k-1
            at.setdefault((round(x / 10), round(y / 10)), []).append((k - 1, steps[k - 1].collided))
    for (cx, cy), here in at.items():  # one label per spot: "3-9,14" (red if a move there was blocked)
        col = (200, 0, 0) if any(b for _, b in here) else (20, 20, 120)
        d.text((cx * 10 + 5, cy * 10 + 3), _ranges([k for k, _ in here]), fill=col, font=small)
    if pix:
        sx, sy = pix[0]
        d.polygon([(sx, sy - 10), (sx - 9, sy + 8), (sx + 9, sy + 8)], outline=(0, 120, 0), width=3)
        d.text((sx - 30, sy - 26), "START", fill=(0, 120, 0), font=big)
        ex, ey = pix[-1]
        d.rectangle([ex - 8, ey - 8, ex + 8, ey + 8], outline=(200, 0, 0), width=3)
        d.text((ex + 10, ey - 24), "END", fill=(200, 0, 0), font=big)
    for s in steps:  # drops: where the object landed
        if s.dropped_at:
            x, y = view(*s.dropped_at[:2])
            d.line([(x - 8, y - 8), (x + 8, y + 8)], fill=(120, 0, 160), width=3)
            d.line([(x - 8, y + 8), (x + 8, y - 8)], fill=(120, 0, 160), width=3)
            d.text((x + 8, y + 6), f"dropped (step {s.index})", fill=(120, 0, 160), font=small)
    for cx, cy, text, col in labels:
        d.text((cx + 6, cy - 6), text, fill=col, font=small if col == (60, 60, 60) else big)
    bar = 500 * view.scale
    d.line([(20, MAP_PX - 20), (20 + bar, MAP_PX - 20)], fill=(0, 0, 0), width=3)
    d.text((20, MAP_PX - 40), "5 m (grid 5 m)", fill=(0, 0, 0), font=small)
    d.rectangle([0, 0, MAP_PX - 1, MAP_PX - 1], outline=(0, 0, 0))
    return img


def _ranges(ks: list[int]) -> str:
    out, i = [], 0
    while i < len(ks):
        j = i
        while j + 1 < len(ks) and ks[j + 1] == ks[j] + 1:
            j += 1
        out.append(str(ks[i]) if i == j else f"{ks[i]}-{ks[j]}")
        i = j + 1
    return ",".join(out)


def _dist(a, b) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def facts(rec: EpisodeRecord) -> list[str]:
    """Plain distances a labeller needs (no judgement): end and closest approach to each goal."""
    t, counted = rec.task, count_steps(rec.steps, rec.task)
    steps = counted.steps
    pts = [steps[0].pose_before] + [s.pose_after for s in steps] if steps else []
    out = []
    for i, p in enumerate(t.target_poses):
        ds = [_dist(q, p) for q in pts if len(q) >= 2]
        if ds:
            k = min(range(len(ds)), key=ds.__getitem__)
            label = f"goal {i + 1}" if len(t.target_poses) > 1 else "goal"
            out.append(f"{label}: {ds[-1]:.0f} cm at the end, closest {ds[k]:.0f} cm "
                       f"({'at the start' if k == 0 else f'after step {k - 1}'}); R = {t.success_radius_cm:.0f}")
    for s in steps:
        if s.action == Action.MidwayTarget and len(t.target_poses) > 1:
            out.append(f"MidwayTarget at step {s.index}: {_dist(s.pose_after, t.target_poses[0]):.0f} cm from goal 1")
    for name, what in ((t.door, "door"), (t.pick_object, "object to pick up")):
        if name and name in t.object_locations:
            ds = [_dist(q, t.object_locations[name]) for q in pts if len(q) >= 2]
            if ds:
                out.append(f"{what} {name}: closest {min(ds):.0f} cm (centre; reach 250 cm)")
    for s in steps:
        if s.dropped_at and t.target_poses:
            out.append(f"dropped at step {s.index}: {_dist(s.dropped_at, t.target_poses[-1]):.0f} cm "
                       "from the drop goal")
    if counted.finished:
        out.append(f"ended with Finish at step {steps[-1].index}")
    else:
        out.append(f"no Finish: {len(steps)} steps (limit 32)")
    return out + search_facts(rec)


def action_lines(rec: EpisodeRecord) -> list[str]:
    lines = []
    held = None
    doors = dict(rec.start_door_state)
    for s in counted_steps(rec.steps):
        a = s.action if s.valid and s.action else f"INVALID ({' '.join(s.raw_response.split())[:28]!r})"
        extra = []
        if s.held_object != held:
            extra.append(f"holding {s.held_object}" if s.held_object else "hands empty")
            held = s.held_object
        opened = [n for n, v in s.door_state.items() if v == 1 and doors.get(n) != 1]
        if opened:
            extra.append("opened " + ",".join(opened))
        if s.door_state:
            doors = dict(s.door_state)
        if s.collided and s.action in TRANSLATIONS:
            extra.append("blocked")
        lines.append(f"{s.index:2d} {a}" + (f"  [{'; '.join(extra)}]" if extra else ""))
    return lines


def _wrap(text: str, n: int) -> list[str]:
    words, out, cur = text.split(), [], ""
    for w in words:
        if len(cur) + len(w) + 1 > n:
            out.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return out + [cur] if cur else out


def draw_outlines(thumb: Image.Image, outlines: list[Outline], frame_size: tuple[int, int]) -> None:
    """Each goal's box on the thumbnail (black rim for contrast) and its label on a dark strip beside it."""
    d = ImageDraw.Draw(thumb)
    f = font(12)
    sx, sy = thumb.width / frame_size[0], thumb.height / frame_size[1]
    taken: list[tuple[float, float, float, float]] = []
    for o in outlines:
        col = ROLE_COLOURS.get(o.role, (255, 255, 255))
        x0, y0, x1, y1 = o.box[0] * sx, o.box[1] * sy, (o.box[2] + 1) * sx - 1, (o.box[3] + 1) * sy - 1
        d.rectangle([x0 - 3, y0 - 3, x1 + 3, y1 + 3], outline=(0, 0, 0), width=1)
        d.rectangle([x0 - 2, y0 - 2, x1 + 2, y1 + 2], outline=col, width=2)
        text = o.label()
        tw, th = d.textlength(text, font=f), 14
        tx = min(max(0.0, x0), thumb.width - tw - 2)
        ty = y0 - th - 3 if y0 - th - 3 >= 0 else min(y1 + 3, thumb.height - th)
        while any(tx < b[2] and b[0] < tx + tw and ty < b[3] and b[1] < ty + th for b in taken):
            ty = ty + th + 1 if ty + 2 * th < thumb.height else 0  # another goal's label is there: move down
        taken.append((tx, ty, tx + tw + 2, ty + th))
        d.rectangle([tx, ty, tx + tw + 2, ty + th], fill=(0, 0, 0))
        d.text((tx + 1, ty), text, fill=col, font=f)


def sheet(rec: EpisodeRecord, run: Path, name: str, goals: GoalRenderer | None = None) -> Image.Image:
    """The sheet; `goals` re-renders the goal outlines (without it, or off the embedded world, none are drawn)."""
    frames = frame_files(run, rec.task_id)
    outlines = goal_outlines(goals, rec, run)
    rows = max(1, math.ceil(len(frames) / COLS))
    tw, th = THUMB
    W = MAP_PX + SIDE_W + 30
    H = MAP_PX + 30 + rows * (th + 22) + 20
    img = Image.new("RGB", (W, H), (255, 255, 255))
    img.paste(draw_map(rec), (10, 10))
    d = ImageDraw.Draw(img)
    f16, f13, mono = font(18), font(14), ImageFont.truetype(FONT.replace("Sans.ttf", "SansMono.ttf"), 13)
    x, y = MAP_PX + 25, 12
    d.text((x, y), name, fill=(0, 0, 0), font=f16)
    y += 28
    head = f"type {rec.type} {TYPE_NAMES.get(rec.type, '')} | split {rec.split} | map {rec.map}"
    d.text((x, y), head, fill=(0, 0, 0), font=f13)
    y += 22
    for line in _wrap("Instruction: " + rec.task.instruction, 95):
        d.text((x, y), line, fill=(0, 0, 120), font=f13)
        y += 18
    y += 6
    for line in facts(rec):
        d.text((x, y), line, fill=(60, 60, 60), font=f13)
        y += 18
    legend = ("Map: green dashed circle = R around each goal pose, green solid = 1.5R; purple dashed / solid = "
              "2.5 m reach / 3.75 m around the door or object to pick up; blue ticks = heading; numbers = the "
              "position after that step (red: a move there was blocked); grid 5 m. Frames: a box around each goal "
              "object's visible pixels, labelled role (target, sub1/sub2, pick/drop, door) width x height / pixel "
              f"count, measured in a 640x480 frame (~: the re-rendered count is more than {APPROX:.0%} off the "
              "recorded one).")
    y += 4
    for line in _wrap(legend, 110):
        d.text((x, y), line, fill=(90, 90, 90), font=font(12))
        y += 15
    y += 8
    d.text((x, y), "Actions (step: action):", fill=(0, 0, 0), font=f13)
    y += 20
    lines = action_lines(rec)
    per_col = max(1, math.ceil(len(lines) / 2))
    for i, line in enumerate(lines):
        col, row = divmod(i, per_col)
        d.text((x + col * 440, y + row * 17), line[:60], fill=(0, 0, 0), font=mono)
    steps = counted_steps(rec.steps)
    y0 = MAP_PX + 25
    for i, (k, f) in enumerate(frames.items()):
        with Image.open(f) as im:
            frame_size = im.size
            thumb = im.convert("RGB").resize(THUMB)
        if outlines is not None:
            draw_outlines(thumb, outlines.get(k, []), frame_size)
        cx, cy = 10 + (i % COLS) * (tw + 8), y0 + (i // COLS) * (th + 22)
        img.paste(thumb, (cx, cy + 18))
        cap = ("start" if k == 0 else f"after step {k - 1}: {steps[k - 1].action or 'INVALID'}" if k - 1 < len(steps)
               else f"frame {k}")
        d.text((cx, cy), cap, fill=(0, 0, 0), font=f13)
    if frames and outlines is None:
        d.text((MAP_PX + 25, MAP_PX - 10), "goal outlines: not available (no embedded map or renderer for this run)",
               fill=(200, 0, 0), font=f13)
    return img


def failed(run: Path) -> list[EpisodeRecord]:
    records, _ = read_records(RunDir(run).episodes)
    return [r for r in records if not r.success]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--list", type=Path, help="also write the episode names, one a line")
    ap.add_argument("--renderer", default="auto", choices=RENDERERS,
                    help="re-renders the goal outlines: use the run's own (its logs/engine-*.log says which)")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    goals = GoalRenderer(a.renderer)
    names = []
    for run in a.runs:
        for rec in failed(run):
            name = f"{run.name}/{rec.task_id}"
            sheet(rec, run, name, goals).save(a.out / f"{run.name}__{rec.task_id}.png", optimize=True)
            names.append(name)
    if a.list:
        a.list.write_text("".join(n + "\n" for n in names))
    print(f"{len(names)} sheets -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
