"""Procedural maps in five layout families. In-domain maps use street, yard and park; out-of-domain
maps use warehouse and plaza, layouts the in-domain split never shows.

Every map is a pure function of (family, seed): the same inputs build the same objects in the same order.
"""
from __future__ import annotations

import math
import random

from embrace_bench.world.scene import DARK, PALETTE, Part, WorldMap, WorldObject, make_object, to_world, wall

FAMILIES = {"id": ("street", "yard", "park"), "ood": ("warehouse", "plaza")}
SIZE = 6000.0  # every map is 60 m x 60 m
CLEARANCE = 110.0  # free gap between footprints, so the agent (r = 35 cm) can pass

GROUND = {"street": (95, 95, 100), "yard": (90, 140, 70), "park": (80, 150, 75),
          "warehouse": (165, 160, 150), "plaza": (185, 170, 150)}
SKY = {"street": (150, 190, 235), "yard": (160, 200, 240), "park": (140, 185, 235),
       "warehouse": (200, 200, 205), "plaza": (170, 200, 230)}
WALL = {"street": (170, 160, 150), "yard": (200, 190, 160), "park": (60, 110, 60),
        "warehouse": (140, 145, 150), "plaza": (190, 180, 170)}
SCENE = {
    "street": "A residential street: a road with houses on both sides, parked cars, trash cans, lamp posts and trees.",
    "yard": "A fenced yard surrounded by houses, with lawn, trees, benches, barrels and things left on the grass.",
    "park": "A city park with lawns, trees, benches, lamp posts, trash cans and a small kiosk.",
    "warehouse": "The inside of a large warehouse hall: rows of shelves, crates, barrels and offices along the walls.",
    "plaza": "An open paved plaza with kiosks, benches, lamp posts, trash cans, traffic cones and parked cars.",
}
BUILDING_COLORS = ("red", "blue", "yellow", "white", "green", "orange", "purple", "pink", "brown")
DOOR_COLORS = ("brown", "white", "black", "red", "blue", "green")


class _Builder:
    def __init__(self, family: str, seed: int) -> None:
        self.family = family
        self.rng = random.Random(f"{family}:{seed}")
        self.objects: list[WorldObject] = []
        self.counts: dict[str, int] = {}
        # Building colours are drawn without replacement, so "the red house" names one building.
        self.building_colors = list(BUILDING_COLORS)
        self.rng.shuffle(self.building_colors)

    def _name(self, category: str) -> str:
        key = category.title().replace(" ", "")
        self.counts[key] = self.counts.get(key, 0) + 1
        return f"{key}_{self.counts[key]:02d}"

    def _reach(self, o: WorldObject) -> float:
        fp = o.footprint
        if fp is None:
            return 30.0
        return math.hypot(fp[1], fp[2]) if fp[0] == "box" else fp[1]

    def fits(self, cand: WorldObject, clearance: float = CLEARANCE) -> bool:
        x, y = cand.location[:2]
        r = self._reach(cand)
        margin = 150.0
        if not (margin + r <= x <= SIZE - margin - r and margin + r <= y <= SIZE - margin - r):
            return False
        for o in self.objects:
            if o.category == "wall":
                continue
            d = math.hypot(o.location[0] - x, o.location[1] - y)
            if d < r + self._reach(o) + clearance:
                return False
        return True

    def put(self, category: str, color: str, x: float, y: float, yaw: float = 0.0,
            force: bool = False) -> WorldObject | None:
        cand = make_object(self._name(category), category, color, x, y, yaw)
        if not force and not self.fits(cand):
            key = category.title().replace(" ", "")
            self.counts[key] -= 1
            return None
        self.objects.append(cand)
        return cand

    def scatter(self, category: str, colors, n: int, area, tries: int = 60) -> None:
        x0, y0, x1, y1 = area
        for _ in range(n):
            for _ in range(tries):
                x, y = self.rng.uniform(x0, x1), self.rng.uniform(y0, y1)
                yaw = self.rng.choice((0, 90, 180, 270)) + self.rng.uniform(-10, 10)
                if self.put(category, self.rng.choice(colors), x, y, yaw):
                    break

    def building(self, category: str, x: float, y: float, yaw: float) -> None:
        """A building facing local +X, with a hinged door on its front face."""
        color = self.building_colors.pop()
        b = self.put(category, color, x, y, yaw, force=True)
        assert b is not None and b.footprint is not None  # forced, so placed; buildings have a box footprint
        half_w = b.footprint[1]
        b.parts.append(Part("box", (half_w + 1, 0.0, 110.0), (4.0, 124.0, 224.0), DARK))  # the doorway
        hx, hy = to_world((x, y), yaw, half_w + 6.0, -60.0)
        door = make_object(self._name("door"), "door", self.rng.choice(DOOR_COLORS), hx, hy, yaw)
        door.house = b.name
        self.objects.append(door)

    def boundary(self) -> None:
        c, h, t = WALL[self.family], 300.0 if self.family != "warehouse" else 600.0, 40.0
        for name, (x0, y0, x1, y1) in (("Wall_N", (0, 0, SIZE, t)), ("Wall_S", (0, SIZE - t, SIZE, SIZE)),
                                       ("Wall_W", (0, 0, t, SIZE)), ("Wall_E", (SIZE - t, 0, SIZE, SIZE))):
            self.objects.append(wall(name, x0, y0, x1, y1, height=h, color=c))


def _street(b: _Builder) -> None:
    mid = SIZE / 2
    for i in range(4):  # houses on both sides, doors facing the road
        x = 900 + i * 1350 + b.rng.uniform(-100, 100)
        b.building("house", x, mid - 1700, 90)
        b.building("house", x, mid + 1700, -90)
    for side in (-1, 1):
        y = mid + side * 420
        b.scatter("car", ("red", "blue", "white", "black", "yellow", "green"), 4, (500, y - 20, SIZE - 500, y + 20))
        yy = mid + side * 800
        b.scatter("lamp post", ("black", "white"), 3, (400, yy - 30, SIZE - 400, yy + 30))
        b.scatter("trash can", ("green", "blue", "black", "orange"), 3, (400, yy - 80, SIZE - 400, yy + 80))
        b.scatter("tree", ("green",), 2, (400, yy - 100, SIZE - 400, yy + 100))
        b.scatter("mailbox", ("blue", "red"), 1, (400, yy - 100, SIZE - 400, yy + 100))
    b.scatter("bag", ("red", "blue", "yellow", "black"), 3, (400, mid - 1100, SIZE - 400, mid + 1100))
    b.scatter("basket", ("brown", "orange"), 2, (400, mid - 1100, SIZE - 400, mid + 1100))


def _yard(b: _Builder) -> None:
    b.building("house", SIZE / 2, 700, 90)
    b.building("house", 700, SIZE / 2 + b.rng.uniform(-600, 600), 0)
    b.building("house", SIZE - 700, SIZE / 2 + b.rng.uniform(-600, 600), 180)
    inner = (1300, 1500, SIZE - 1300, SIZE - 400)
    b.scatter("tree", ("green", "orange", "yellow"), 6, inner)
    b.scatter("bench", ("brown", "white", "green", "blue"), 3, inner)
    b.scatter("barrel", ("blue", "red", "yellow", "green"), 4, inner)
    b.scatter("trash can", ("green", "black", "blue"), 2, inner)
    b.scatter("bag", ("red", "blue", "yellow", "purple"), 2, inner)
    b.scatter("basket", ("brown", "orange", "white"), 2, inner)
    b.scatter("box", ("brown", "white"), 1, inner)


def _park(b: _Builder) -> None:
    b.building("kiosk", 900, 900, 45)
    area = (500, 500, SIZE - 500, SIZE - 500)
    b.scatter("tree", ("green", "orange", "yellow"), 12, area)
    b.scatter("bench", ("brown", "green", "white", "red"), 5, area)
    b.scatter("lamp post", ("black", "white"), 4, area)
    b.scatter("trash can", ("green", "blue", "black"), 4, area)
    b.scatter("bag", ("red", "blue", "yellow"), 2, area)
    b.scatter("basket", ("brown", "orange"), 2, area)


def _warehouse(b: _Builder) -> None:
    for i in range(3):
        b.building("office", 500, 1200 + i * 1700, 0)
    for row in range(3):
        x = 2100 + row * 1200
        for k in range(3):
            colour = b.rng.choice(("blue", "orange", "yellow", "green"))
            b.put("shelf", colour, x, 900 + k * 1700 + b.rng.uniform(-150, 150), 0)
    area = (1500, 400, SIZE - 400, SIZE - 400)
    b.scatter("crate", ("brown", "white", "green"), 6, area)
    b.scatter("barrel", ("blue", "red", "yellow", "black"), 6, area)
    b.scatter("traffic cone", ("orange", "yellow"), 3, area)
    b.scatter("box", ("brown", "white", "red"), 3, area)
    b.scatter("bag", ("black", "blue", "red"), 2, area)


def _plaza(b: _Builder) -> None:
    b.building("kiosk", 1200, SIZE / 2, 0)
    b.building("kiosk", SIZE - 1200, SIZE / 2, 180)
    mid = SIZE / 2
    for k in range(8):  # benches in a ring around the centre
        a = math.radians(k * 45 + b.rng.uniform(-8, 8))
        colour = b.rng.choice(("brown", "white", "blue", "green"))
        b.put("bench", colour, mid + 900 * math.cos(a), mid + 900 * math.sin(a), math.degrees(a) + 180)
    b.scatter("car", ("red", "blue", "white", "black", "yellow"), 4, (600, 500, SIZE - 600, 900))
    area = (500, 1100, SIZE - 500, SIZE - 500)
    b.scatter("lamp post", ("black", "white"), 4, area)
    b.scatter("trash can", ("green", "blue", "black", "orange"), 4, area)
    b.scatter("traffic cone", ("orange",), 3, area)
    b.scatter("tree", ("green",), 4, area)
    b.scatter("bag", ("red", "blue", "yellow", "purple"), 2, area)
    b.scatter("basket", ("brown", "orange"), 2, area)


_LAYOUTS = {"street": _street, "yard": _yard, "park": _park, "warehouse": _warehouse, "plaza": _plaza}


def generate_map(family: str, seed: int, split: str) -> WorldMap:
    if family not in _LAYOUTS:
        raise ValueError(f"unknown layout family {family!r}; choose from {', '.join(_LAYOUTS)}")
    b = _Builder(family, seed)
    b.boundary()
    _LAYOUTS[family](b)
    assert all(c in PALETTE for o in b.objects for c in ([o.color] if o.color else []))
    return WorldMap(name=f"{family.title()}_{seed:02d}", family=family, split=split, seed=seed,
                    bounds=(0.0, 0.0, SIZE, SIZE), ground_color=GROUND[family], sky_color=SKY[family],
                    description=SCENE[family], objects=b.objects)
