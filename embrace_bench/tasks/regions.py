"""EmbRACE release success regions: read `area.json`, and the XY geometry the scorer needs.

The release publishes, per task and stage (`final`, and `midway` for Multi-stage), the target footprints
and the region the character must stand in (the footprints dilated by 2.2 m, as polygons with holes, in
UE world XY, cm), the expert's reference height, for Pick & Drop the region the object must rest in, and
the task's shortest-path length. Normalised form, stored with each task and copied into every record so
episodes re-score offline:

    {"final": {"character": [POLY, ...], "footprints": [RING, ...], "z": float | None,
               "object": [POLY, ...] | None, "object_z": float | None},
     "midway": {...},                      # Multi-stage only
     "z_tolerance_cm": float | None,       # |z - reference z| allowed (the release scores with 100)
     "shortest_path_cm": float | None}
    POLY = {"outer": RING, "holes": [RING, ...]},  RING = [[x, y], ...]
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

COORDINATES = "UE left-handed world XY (uu)"


class RegionError(ValueError):
    pass


class Unscorable(Exception):
    """The release cannot score this episode (its scorer raises and leaves it out of every mean): the task's
    area.json lacks what the judgement needs (a reference height, the shortest path, a midway stage)."""


# ---- geometry ---------------------------------------------------------------------------------
def _on_segment(px: float, py: float, a, b, eps: float = 1e-6) -> bool:
    return _segment_distance(px, py, a, b) <= eps


def _segment_distance(px: float, py: float, a, b) -> float:
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    if dx == 0 and dy == 0:
        return math.hypot(px - ax, py - ay)
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def in_ring(point, ring) -> bool:
    """Inside or on the boundary of a simple polygon (even-odd rule)."""
    px, py = float(point[0]), float(point[1])
    n = len(ring)
    inside = False
    for i in range(n):
        a, b = ring[i], ring[(i + 1) % n]
        if _on_segment(px, py, a, b):
            return True
        if (a[1] > py) != (b[1] > py):
            x_cross = a[0] + (py - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            if px < x_cross:
                inside = not inside
    return inside


def in_polygons(point, polygons) -> bool:
    """In any polygon's outer ring (boundary included) and in none of its holes (their boundary included),
    as the release's predicate decides."""
    return any(in_ring(point, poly["outer"]) and not any(in_ring(point, h) for h in poly.get("holes", []))
               for poly in polygons)


def distance_to_rings(point, rings) -> float:
    """XY distance (cm) to the nearest ring, 0 inside one: the release's navigation error to a footprint."""
    best = math.inf
    for ring in rings:
        if in_ring(point, ring):
            return 0.0
        best = min(best, min(_segment_distance(point[0], point[1], ring[i], ring[(i + 1) % len(ring)])
                             for i in range(len(ring))))
    return best


def centroid(rings) -> tuple[float, float]:
    """Mean vertex of the rings: a point for planners and displays, never used to score."""
    pts = [p for ring in rings for p in ring]
    return (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))


# ---- area.json -------------------------------------------------------------------------------
def _ring(value, label: str, path: Path) -> list[list[float]]:
    try:
        ring = [[float(p[0]), float(p[1])] for p in value]
    except (TypeError, ValueError, IndexError):
        raise RegionError(f"{path}: {label} must be a list of [x, y] points") from None
    if len(ring) < 3 or not all(math.isfinite(c) for p in ring for c in p):
        raise RegionError(f"{path}: {label} needs at least 3 finite [x, y] points")
    area = sum(ring[i][0] * ring[(i + 1) % len(ring)][1] - ring[(i + 1) % len(ring)][0] * ring[i][1]
               for i in range(len(ring)))
    if area == 0:
        raise RegionError(f"{path}: {label} has zero area")
    return ring


def _polygons(value, label: str, path: Path) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise RegionError(f"{path}: {label} must be a non-empty list of polygons")
    out = []
    for i, poly in enumerate(value):
        if not isinstance(poly, dict) or "Outer_Boundary" not in poly:
            raise RegionError(f"{path}: {label}[{i}] has no Outer_Boundary")
        out.append({"outer": _ring(poly["Outer_Boundary"], f"{label}[{i}].Outer_Boundary", path),
                    "holes": [_ring(h, f"{label}[{i}].Holes[{j}]", path) for j, h in enumerate(poly.get("Holes", []))]})
    return out


def _opt_float(value, label: str, path: Path) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RegionError(f"{path}: {label} must be a number, not {value!r}") from None


def _stage(d: dict, name: str, path: Path) -> dict:
    if not isinstance(d, dict):
        raise RegionError(f"{path}: stage {name!r} must be an object")
    footprints = d.get("target_footprints")
    if not isinstance(footprints, list) or not footprints:
        raise RegionError(f"{path}: stage {name!r} has no target_footprints")
    obj = d.get("pd_object_regions")
    return {"character": _polygons(d.get("character_regions"), f"{name}.character_regions", path),
            "footprints": [_ring(f, f"{name}.target_footprints[{i}]", path) for i, f in enumerate(footprints)],
            "z": _opt_float(d.get("character_reference_z"), f"{name}.character_reference_z", path),
            "object": _polygons(obj, f"{name}.pd_object_regions", path) if obj is not None else None,
            "object_z": _opt_float(d.get("pd_object_reference_z"), f"{name}.pd_object_reference_z", path)}


def read_area(path: Path, z_tolerance_cm: float | None = None) -> dict:
    """Parse one `area.json` (the release's staged form, or its older flat Schema 1/2 form) or fail naming it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RegionError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise RegionError(f"{path}: not a JSON object")
    coords = data.get("coordinate_system", data.get("Coordinate_System"))
    metric = data.get("distance_metric", data.get("Distance_Metric"))
    if coords != COORDINATES or metric != "xy":
        raise RegionError(f"{path}: expected {COORDINATES!r} coordinates and the xy metric, "
                          f"got {coords!r} / {metric!r}")
    if "stages" in data:
        stages = data["stages"]
        if not isinstance(stages, dict) or "final" not in stages:
            raise RegionError(f"{path}: stages has no 'final' stage")
        out: dict[str, Any] = {name: _stage(stages[name], name, path) for name in ("final", "midway") if name in stages}
    else:  # flat form: one stage; Character_Regions (T5) or Regions
        if data.get("Status", "published") != "published":
            raise RegionError(f"{path}: success area is not published ({data.get('Status')!r})")
        obj = data.get("PD_Object_Regions")
        out = {"final": {
            "character": _polygons(data.get("Character_Regions") or data.get("Regions"), "Regions", path),
            "footprints": [_ring(f, f"Target_Footprints[{i}]", path)
                           for i, f in enumerate(data.get("Target_Footprints") or [])],
            "z": _opt_float(data.get("Character_Reference_Z"), "Character_Reference_Z", path),
            "object": _polygons(obj, "PD_Object_Regions", path) if obj is not None else None,
            "object_z": _opt_float(data.get("PD_Object_Reference_Z"), "PD_Object_Reference_Z", path)}}
        if not out["final"]["footprints"]:
            raise RegionError(f"{path}: Target_Footprints is empty")
    out["z_tolerance_cm"] = z_tolerance_cm
    key = "shortest_path_uu" if "stages" in data else "Shortest_Path_UU"  # each form has its own (the release)
    out["shortest_path_cm"] = _opt_float(data.get(key), key, path)
    return out


def stage_reached(pose, stage: dict, z_tolerance_cm: float | None, key: str = "character",
                  strict: bool = False) -> tuple[bool, str]:
    """(inside, why not) for a pose against a stage's character (or object) region and reference height.

    `strict` (the scorer): a pose inside the XY region of a stage without a reference height raises
    Unscorable, as the release's predicate does whenever a z tolerance is set; never judged XY-only. Not
    strict (tags, displays): such a stage is judged in XY.
    """
    polygons = stage[key]
    if not in_polygons(pose, polygons):
        return False, "outside the region"
    ref = stage["z" if key == "character" else "object_z"]
    if z_tolerance_cm is None:
        return True, ""
    if ref is None or len(pose) < 3:
        if strict:
            raise Unscorable(f"area.json gives no reference height for the {key} "
                             f"({'character_reference_z' if key == 'character' else 'pd_object_reference_z'})")
        return True, ""
    if abs(pose[2] - ref) > z_tolerance_cm:
        return False, f"{abs(pose[2] - ref):.0f} cm off the reference height"
    return True, ""


def area_files(region_root: Path, map_name: str, stem: str) -> tuple[Path, Path | None] | None:
    """Where a task's success area lives, as the release resolves it: `<Map>/<task>/area.json` (all stages in
    one file), else its older flat form `<Map>/<task>.json` with the midway stage in `<task>__midway.json`.
    (final file, midway file or None), or None when the task has no success area (not in the scored set)."""
    staged = Path(region_root) / map_name / stem / "area.json"
    if staged.is_file():
        return staged, None
    flat = Path(region_root) / map_name / f"{stem}.json"
    if not flat.is_file():
        return None
    midway = flat.with_name(f"{stem}__midway.json")
    return flat, midway if midway.is_file() else None


def read_task_area(final_file: Path, midway_file: Path | None, z_tolerance_cm: float | None) -> dict:
    """A task's normalised regions from area_files(): the flat form's `__midway` file becomes its midway stage."""
    out = read_area(final_file, z_tolerance_cm)
    if midway_file is not None:
        out["midway"] = read_area(midway_file, z_tolerance_cm)["final"]
    return out
