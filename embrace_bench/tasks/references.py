"""How instructions refer to objects, and the check that a reference names exactly one object.

A reference is structured (label, ordinal-on-a-side, or nearest-to-an-anchor); the generator only
keeps a task when `resolve` returns exactly its target, so every instruction is unambiguous.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from embrace_bench.world.scene import WorldMap, WorldObject
from embrace_bench.world.sim import bearing_to

ORDINALS = ("first", "second", "third", "fourth")
SIDE_BEARING = (8.0, 60.0)  # |bearing| band that counts as "on your left/right" from the start pose
ORDINAL_GAP_CM = 200.0  # consecutive objects in an ordinal reference must differ this much in distance
ANCHOR_RATIO = 1.6  # the referent must be this much closer to the anchor than any other candidate
ANCHOR_MAX_CM = 900.0


@dataclass(frozen=True)
class Reference:
    kind: str  # "label" | "ordinal" | "anchor"
    category: str
    color: str = ""  # label references
    ordinal: int = 0  # ordinal: 0-based index by distance among the side's candidates
    side: str = ""  # ordinal: "left" | "right"
    anchor: str = ""  # anchor: actor name of a uniquely-labelled landmark

    def phrase(self, world: WorldMap) -> str:
        if self.kind == "label":
            return f"the {self.color} {self.category}"
        if self.kind == "ordinal":
            return f"the {ORDINALS[self.ordinal]} {self.category} on your {self.side}"
        return f"the {self.category} closest to the {world.obj(self.anchor).label}"


def targetable(world: WorldMap) -> list[WorldObject]:
    return [o for o in world.objects if o.color and o.category not in ("door", "wall")]


def _dist(a: WorldObject, b: WorldObject) -> float:
    return math.hypot(a.location[0] - b.location[0], a.location[1] - b.location[1])


def side_candidates(world: WorldMap, category: str, start, side: str) -> list[WorldObject]:
    """Objects of a category on one side of the start view, nearest first."""
    x, y, yaw = start[0], start[1], start[4]
    lo, hi = SIDE_BEARING
    out = []
    for o in targetable(world):
        if o.category != category:
            continue
        b = bearing_to(x, y, yaw, o.location[0], o.location[1])
        if lo <= (b if side == "right" else -b) <= hi:
            out.append((math.hypot(o.location[0] - x, o.location[1] - y), o.name, o))
    out.sort()
    return [o for _, _, o in out]


def resolve(ref: Reference, world: WorldMap, start) -> list[WorldObject]:
    """Every object the reference could mean; an unambiguous reference gives exactly one."""
    objs = targetable(world)
    if ref.kind == "label":
        return [o for o in objs if o.category == ref.category and o.color == ref.color]
    if ref.kind == "ordinal":
        cands = side_candidates(world, ref.category, start, ref.side)
        if ref.ordinal >= len(cands):
            return []
        x, y = start[0], start[1]
        d = [math.hypot(o.location[0] - x, o.location[1] - y) for o in cands]
        k = ref.ordinal
        # Two objects at nearly the same distance make "the second" a matter of opinion: both match.
        close = [cands[i] for i in range(len(cands)) if abs(d[i] - d[k]) < ORDINAL_GAP_CM]
        return close
    anchor = world.obj(ref.anchor)
    ranked = sorted((_dist(o, anchor), o.name, o) for o in objs if o.category == ref.category and o.name != anchor.name)
    if not ranked or ranked[0][0] > ANCHOR_MAX_CM:
        return []
    best = ranked[0][0]
    return [o for d, _, o in ranked if d <= max(best * ANCHOR_RATIO, best + 150.0)]


def is_unique_label(world: WorldMap, obj: WorldObject) -> bool:
    return len(resolve(Reference("label", obj.category, obj.color), world, None)) == 1
