"""`embrace-bench view RUN_DIR`: one static, offline HTML file to browse a run's episodes.

Everything the page shows comes from the records (re-scored and re-tagged like every report); the
embedded world's map files add object footprints under the path when the map is one of them, and the
page works without them (Unreal runs). Frames are referenced relatively (frames/<task_id>/<k>.png next to
the run, so the file stays small) or, with `--embed-frames`, inlined as data URIs (one self-contained file).

All model text is untrusted. The data travels as JSON inside <script type="application/json"> with every
`<`, `>` and `&` written as a \\u escape, so nothing in it can close the element; the page's script puts
text into the DOM with textContent only, never innerHTML; a Content-Security-Policy forbids any network
load, so even a mistake could not call out.
"""
from __future__ import annotations

import base64
import json
import math
import os
from html import escape
from pathlib import Path

from embrace_bench.records import EpisodeRecord
from embrace_bench.report.runs import Run
from embrace_bench.run_dir import RunDir, frame_index
from embrace_bench.scoring.aggregate import aggregate_frame
from embrace_bench.scoring.failures import TAG_NAMES
from embrace_bench.scoring.primary import primary_first
from embrace_bench.tasks.model import TYPE_NAMES
from embrace_bench.tasks.suite import EMBEDDED_DIR

ASSETS = Path(__file__).parent / "viewer_assets"
CSP = ("default-src 'none'; img-src 'self' data: file:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'")


def _r(x, nd: int = 1):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), nd)


def _pose(p) -> list | None:
    return [_r(p[0]), _r(p[1]), _r(p[4] if len(p) > 4 else 0.0), _r(p[3] if len(p) > 3 else 0.0)] if p and len(p) >= 2 \
        else None


def map_footprints(name: str, maps_dir: Path = EMBEDDED_DIR / "maps") -> dict | None:
    """Object footprints of an embedded map: [kind, x, y, yaw, a, b, name, category]; None for other maps."""
    path = Path(maps_dir) / f"{name}.json"
    if not name or "/" in name or "\\" in name or not path.is_file():
        return None
    m = json.loads(path.read_text(encoding="utf-8"))
    objs = []
    for o in m.get("objects", []):
        fp = o.get("footprint") or ["circle", 25.0]  # small things (bags) have no collision footprint
        a, b = (fp[1], fp[2]) if fp[0] == "box" else (fp[1], fp[1])
        objs.append([fp[0], _r(o["location"][0]), _r(o["location"][1]), _r(o.get("yaw", 0.0)), _r(a), _r(b),
                     o["name"], o.get("category", "")])
    return {"bounds": m.get("bounds"), "objects": objs}


def _frames(run_dir: Path, task_id: str, out_dir: Path, embed: bool) -> list[str | None]:
    """Frame k (k = 0 the start, k = after step k-1) as a relative URL or data URI; None where missing."""
    d = RunDir(run_dir).task_frames(task_id)
    try:
        frames = sorted((i, n) for n in os.listdir(d) if (i := frame_index(n)) is not None)
    except OSError:
        return []
    out: list[str | None] = [None] * (frames[-1][0] + 1) if frames else []
    for i, n in frames:
        p = d / n
        if embed:
            out[i] = "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode("ascii")
        else:
            out[i] = Path(os.path.relpath(p, out_dir)).as_posix()
    return out


def _steps(rec: EpisodeRecord) -> list[dict]:
    out, before = [], dict(rec.start_door_state)
    for s in rec.steps:
        opened = sorted(d for d, v in s.door_state.items() if v == 1)
        changed = sorted(d for d, v in s.door_state.items() if v != before.get(d))
        before = dict(s.door_state) if s.door_state else before
        out.append({"i": s.index, "a": s.action, "think": s.think, "raw": s.raw_response, "reask": s.reask_responses,
                    "valid": s.valid, "reasks": s.reasks, "err": s.error, "p": _pose(s.pose_after),
                    "col": s.collided, "vis": s.visible, "open": opened, "changed": changed, "held": s.held_object,
                    "drop": _pose(s.dropped_at) if s.dropped_at else None, "tok": s.tokens, "lat": _r(s.latency_s, 3),
                    "cost": s.cost_usd, "cached": s.cached})
    return out


def _places(rec: EpisodeRecord, names) -> list[list]:
    t = rec.task
    return [[n, *(t.object_locations[n][:2] if n in t.object_locations else [None, None]), t.object_bounds.get(n)]
            for n in names if n]


def episode_payload(rec: EpisodeRecord, frames: list) -> dict:
    t = rec.task
    return {
        "id": rec.task_id, "type": rec.type, "split": rec.split, "map": rec.map, "model": rec.model,
        "status": rec.status, "success": rec.success, "gde": _r(rec.gde_cm), "sspl": _r(rec.sspl, 3),
        "n": rec.n_steps, "s_opt": rec.s_opt, "error": rec.error, "tags": primary_first(rec.tags), "cost": rec.cost_usd,
        "instruction": t.instruction, "radius": t.success_radius_cm,
        "goals": [[_r(p[0]), _r(p[1])] for p in t.target_poses], "targets": _places(rec, t.target_objects),
        "distractors": _places(rec, t.distractors), "door": t.door, "pick": t.pick_object,
        "pick_place": _places(rec, [t.pick_object])[0] if t.pick_object else None,
        "start": _pose(rec.steps[0].pose_before) if rec.steps else None, "start_vis": rec.start_visible,
        "steps": _steps(rec), "frames": frames,
    }


def _json_for_script(data) -> str:
    """JSON that cannot end its <script> element or open a comment, whatever the strings hold."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def build_viewer(run: Run, out_file: Path, embed_frames: bool = False) -> str:
    """The page for `run`: its summary over every episode, and the episodes whose full records the run holds
    (`run.records`, load_run's `keep`; a window of a large run)."""
    out_dir = Path(out_file).resolve().parent
    run_dir = run.run_dir.resolve()
    rep = aggregate_frame(run.frame)
    overall = next((r for r in rep.rows if r.type == "all" and r.split == "all"), None)
    maps = {}
    for name in sorted(set(run.frame["map"])):
        fp = map_footprints(name)
        if fp:
            maps[name] = fp
    facts = run.facts()
    shown = [run.records[i] for i in sorted(run.records)]
    window = f"{min(run.records) + 1}-{max(run.records) + 1}" if shown and len(shown) < len(run.frame) else ""
    data = {
        "run": {**facts, "dir": str(run.run_dir), "n": len(run.frame), "shown": window,
                "sr": _r(overall.sr, 4) if overall else None, "n_errors": overall.n_errors if overall else 0,
                "warnings": run.warnings},
        "tag_names": list(TAG_NAMES), "type_names": TYPE_NAMES, "maps": maps,
        "episodes": [episode_payload(r, _frames(run_dir, r.task_id, out_dir, embed_frames)) for r in shown],
    }
    css = (ASSETS / "viewer.css").read_text(encoding="utf-8")
    js = (ASSETS / "viewer.js").read_text(encoding="utf-8")
    title = f"{facts['model']} on {facts['suite']} ({facts['split'] or 'run'}): {run.run_dir.name}"
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{css}</style></head>\n<body>\n"
            "<noscript>This viewer needs JavaScript (it runs offline; nothing is loaded from the network).</noscript>\n"
            f"<script type=\"application/json\" id=\"run-data\">{_json_for_script(data)}</script>\n"
            f"<script>{js}</script>\n</body></html>\n")


def write_viewer(run: Run, out_file: Path, embed_frames: bool = False) -> Path:
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(out_file.name + ".tmp")
    tmp.write_text(build_viewer(run, out_file, embed_frames), encoding="utf-8")
    tmp.replace(out_file)
    return out_file
