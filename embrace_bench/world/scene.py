"""The embedded world's scene model: named objects built from simple primitives.

Coordinates follow Unreal: centimetres, X forward, Y right, Z up (left-handed);
yaw is degrees about Z, positive yaw turns right (from +X toward +Y).
Everything here is plain data so a map can be frozen to JSON and rebuilt bit-identically.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from embrace_bench.colours import COLOURS

# Named colours the generator and the instructions use (the shared vocabulary the heuristic matches too).
PALETTE: dict[str, tuple[int, int, int]] = COLOURS

# Colours of parts that are not the object's named colour (trunks, windows, tyres).
TRUNK = (95, 65, 40)
DARK = (40, 40, 45)
GLASS = (120, 160, 190)
METAL = (150, 150, 155)


@dataclass(frozen=True)
class Part:
    """One primitive in the object's local frame (origin at the object's ground point)."""

    shape: str  # "box" | "cylinder" | "sphere"
    center: tuple[float, float, float]  # cm, local frame
    size: tuple[float, float, float]  # box: full extents; cylinder: (2r, 2r, height); sphere: (2r, 2r, 2r)
    color: tuple[int, int, int]  # RGB 0..255


@dataclass
class WorldObject:
    name: str  # actor name, unique in the map ("Car_03")
    category: str  # "car", "trash can", ...
    color: str  # named colour from PALETTE ("" for untargetable structure)
    location: tuple[float, float, float]
    yaw: float
    parts: list[Part]
    # Collision footprint in the local frame: ("box", hx, hy) half extents, ("circle", r), or None.
    footprint: tuple | None = None
    pickable: bool = False
    door: bool = False  # a hinged door: origin at the hinge, opening adds `open_yaw` to yaw
    open_yaw: float = -90.0
    house: str = ""  # for doors: the building they belong to
    mask_color: tuple[int, int, int] = (0, 0, 0)  # set by WorldMap; the object's colour in object_mask

    def to_json(self) -> dict:
        d = asdict(self)
        d["parts"] = [asdict(p) for p in self.parts]
        return d

    @staticmethod
    def from_json(d: dict) -> "WorldObject":
        d = dict(d)
        d["parts"] = [Part(p["shape"], tuple(p["center"]), tuple(p["size"]), tuple(p["color"])) for p in d["parts"]]
        d["location"] = tuple(d["location"])
        d["footprint"] = tuple(d["footprint"]) if d["footprint"] else None
        d["mask_color"] = tuple(d["mask_color"])
        return WorldObject(**d)

    @property
    def label(self) -> str:
        """How instructions name it: "red car"."""
        return f"{self.color} {self.category}".strip()


@dataclass
class WorldMap:
    name: str
    family: str  # layout family: street, yard, park, warehouse, plaza
    split: str  # "id" or "ood"
    seed: int
    bounds: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax (cm)
    ground_color: tuple[int, int, int]
    sky_color: tuple[int, int, int]  # sky outdoors, ceiling indoors
    description: str
    objects: list[WorldObject] = field(default_factory=list)

    def __post_init__(self) -> None:
        for i, o in enumerate(self.objects):
            if o.mask_color == (0, 0, 0):
                o.mask_color = mask_color_for(i)

    def obj(self, name: str) -> WorldObject:
        for o in self.objects:
            if o.name == name:
                return o
        raise KeyError(f"no object named {name!r} in map {self.name}")

    def to_json(self) -> dict:
        return {
            "name": self.name, "family": self.family, "split": self.split, "seed": self.seed,
            "bounds": list(self.bounds), "ground_color": list(self.ground_color),
            "sky_color": list(self.sky_color), "description": self.description,
            "objects": [o.to_json() for o in self.objects],
        }

    @staticmethod
    def from_json(d: dict) -> "WorldMap":
        return WorldMap(
            name=d["name"], family=d["family"], split=d["split"], seed=d["seed"],
            bounds=tuple(d["bounds"]), ground_color=tuple(d["ground_color"]),
            sky_color=tuple(d["sky_color"]), description=d["description"],
            objects=[WorldObject.from_json(o) for o in d["objects"]],
        )


def mask_color_for(index: int) -> tuple[int, int, int]:
    """A distinct, never-black mask colour per object index (deterministic)."""
    h = (index * 2654435761 + 0x9E3779B9) & 0xFFFFFF
    r, g, b = (h >> 16) & 0xFF, (h >> 8) & 0xFF, h & 0xFF
    return (r | 0x20, g | 0x10, b | 0x08)


def to_world(obj_loc, obj_yaw: float, lx: float, ly: float) -> tuple[float, float]:
    c, s = math.cos(math.radians(obj_yaw)), math.sin(math.radians(obj_yaw))
    return (obj_loc[0] + c * lx - s * ly, obj_loc[1] + s * lx + c * ly)


# ---- category builders: parts and footprint for each kind of object -------------------------

def _box(cx, cy, cz, sx, sy, sz, color) -> Part:
    return Part("box", (cx, cy, cz), (sx, sy, sz), color)


def _cyl(cx, cy, z0, r, h, color) -> Part:
    return Part("cylinder", (cx, cy, z0 + h / 2), (2 * r, 2 * r, h), color)


def _sph(cx, cy, cz, r, color) -> Part:
    return Part("sphere", (cx, cy, cz), (2 * r, 2 * r, 2 * r), color)


def build_parts(category: str, color: str) -> tuple[list[Part], tuple | None, bool]:
    """(parts, footprint, pickable) for a category in a named colour."""
    c = PALETTE.get(color, METAL)
    if category == "car":
        return ([_box(0, 0, 55, 450, 180, 70, c), _box(-20, 0, 115, 240, 160, 55, c),
                 _box(60, 0, 115, 10, 150, 45, GLASS),
                 _cyl(140, -90, 0, 35, 35, DARK), _cyl(140, 90, 0, 35, 35, DARK),
                 _cyl(-140, -90, 0, 35, 35, DARK), _cyl(-140, 90, 0, 35, 35, DARK)],
                ("box", 225, 90), False)
    if category == "trash can":
        return [_cyl(0, 0, 0, 35, 100, c), _cyl(0, 0, 100, 38, 8, DARK)], ("circle", 38), False
    if category == "tree":
        return [_cyl(0, 0, 0, 22, 260, TRUNK), _sph(0, 0, 360, 150, c)], ("circle", 30), False
    if category == "bench":
        return ([_box(0, 0, 45, 60, 180, 10, c), _box(-28, 0, 80, 8, 180, 55, c),
                 _box(0, -80, 20, 50, 8, 40, DARK), _box(0, 80, 20, 50, 8, 40, DARK)],
                ("box", 32, 92), False)
    if category == "lamp post":
        return [_cyl(0, 0, 0, 12, 430, c), _sph(0, 0, 450, 32, (250, 245, 200))], ("circle", 15), False
    if category == "barrel":
        return [_cyl(0, 0, 0, 40, 110, c), _cyl(0, 0, 50, 42, 8, DARK)], ("circle", 42), False
    if category == "traffic cone":
        return [_cyl(0, 0, 0, 25, 10, DARK), _cyl(0, 0, 10, 15, 60, c)], ("circle", 25), False
    if category == "mailbox":
        return [_cyl(0, 0, 0, 6, 100, DARK), _box(0, 0, 120, 50, 30, 40, c)], ("circle", 20), False
    if category == "crate":
        return [_box(0, 0, 60, 120, 120, 120, c)], ("box", 60, 60), False
    if category == "shelf":
        return ([_box(0, 0, 100, 80, 300, 200, c), _box(0, 0, 70, 84, 300, 6, DARK),
                 _box(0, 0, 140, 84, 300, 6, DARK)], ("box", 40, 150), False)
    if category == "bag":
        return [_box(0, 0, 20, 45, 30, 40, c), _box(0, 0, 45, 8, 20, 10, DARK)], None, True
    if category == "basket":
        return [_cyl(0, 0, 0, 28, 30, c)], None, True
    if category == "box":
        return [_box(0, 0, 20, 40, 40, 40, c)], None, True
    if category == "door":
        # Origin at the hinge; the panel extends along +Y.
        return [_box(0, 60, 110, 10, 120, 220, c), _box(6, 100, 110, 4, 6, 6, METAL)], ("box", 6, 60), False
    if category in ("house", "kiosk", "office"):
        w, d, h = {"house": (800, 800, 450), "kiosk": (400, 400, 300), "office": (600, 500, 320)}[category]
        roof = {"house": (150, 40, 35), "kiosk": (60, 60, 70), "office": (90, 90, 95)}[category]
        return ([_box(0, 0, h / 2, w, d, h, c), _box(0, 0, h + 25, w + 60, d + 60, 50, roof),
                 _box(w / 2 + 1, -d / 4, h * 0.6, 4, 100, 90, GLASS)], ("box", w / 2, d / 2), False)
    raise ValueError(f"unknown object category {category!r}")


def make_object(name: str, category: str, color: str, x: float, y: float, yaw: float = 0.0) -> WorldObject:
    parts, footprint, pickable = build_parts(category, color)
    return WorldObject(name=name, category=category, color=color, location=(round(x, 1), round(y, 1), 0.0),
                       yaw=round(yaw, 1), parts=parts, footprint=footprint, pickable=pickable,
                       door=category == "door")


def wall(name: str, x0: float, y0: float, x1: float, y1: float, height: float, color) -> WorldObject:
    """An axis-aligned boundary wall or fence between two corners; never a target."""
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    sx, sy = abs(x1 - x0), abs(y1 - y0)
    return WorldObject(name=name, category="wall", color="", location=(cx, cy, 0.0), yaw=0.0,
                       parts=[_box(0, 0, height / 2, sx, sy, height, color)], footprint=("box", sx / 2, sy / 2))
