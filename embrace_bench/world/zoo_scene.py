"""UnrealZoo's scene-side commands for the stand-in (world/unrealzoo.py): actors spawned and destroyed at
run time, object scale, appearance and physics flags, the ego camera's capture settings, and the UE5
capture nudge the release's `get_image_safe` does (move the camera 1 cm, capture, move it back).

A spawned or destroyed actor changes the map's object list, so the world is rebuilt around the live state
(agent, carried object, doors, moved objects) and the renderer reloads it: the embedded world's maps stay
immutable and its own mode never takes this path.
"""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from embrace_bench.world.engine import AGENT_CAMERA, parse_xyz
from embrace_bench.world.scene import PALETTE, Part, WorldObject, build_parts
from embrace_bench.world.sim import HAND_Z, WorldState

GRAB_CLASS = "BP_GrabMoveDrop_C"  # the release's Pick & Drop object, spawned with `vset /objects/spawn`
# Where UnrealZoo's character holds it, (forward, right, z): the VictorianTrainStation demo's bucket after
# Pick sits 21.35 cm right of and 0.61 cm behind the character's centre, 30 cm below it (PD_Dist_2D 21.4).
HAND = (-0.61, 21.35, HAND_Z)
# The capture settings the release sets on the ego camera, and the values each accepts.
CAMERA_SETTINGS = {"lit_source": ("ldr", "hdr"), "reflection": ("none", "lumen", "ssr"),
                   "illumination": ("none", "lumen")}
_COLOURS = list(PALETTE)

if TYPE_CHECKING:  # what the mixin relies on, for the type checker; at run time a plain mixin
    from embrace_bench.world.engine import EmbeddedEngine as _EngineBase
else:
    _EngineBase = object


@dataclasses.dataclass
class Spawned:
    """What the stand-in knows about a run-time actor: its appearance id, scale and physics flag."""

    app: int = 0
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    physics: bool = False


def grab_object(name: str, info: Spawned, location, yaw: float) -> WorldObject:
    """The Pick & Drop object as a pickable basket, coloured by its appearance id and scaled."""
    parts, _, _ = build_parts("basket", _COLOURS[info.app % len(_COLOURS)])
    sx, sy, sz = info.scale
    parts = [Part(p.shape, (p.center[0] * sx, p.center[1] * sy, p.center[2] * sz),
                  (p.size[0] * sx, p.size[1] * sy, p.size[2] * sz), p.color) for p in parts]
    return WorldObject(name=name, category="basket", color=_COLOURS[info.app % len(_COLOURS)],
                       location=tuple(location), yaw=yaw, parts=parts, footprint=None, pickable=True)


class ZooScene(_EngineBase):
    """Mixin for UnrealZooEngine (an EmbeddedEngine): needs `state`, `renderer`, `agent_name`, `_is_agent`."""

    def _init_scene(self) -> None:
        self.spawned: dict[str, Spawned] = {}
        self.camera_settings: dict[tuple[int, str], str] = {}
        self.cam_override: tuple[float, float, float] | None = None  # the ego camera moved by `vset .../location`

    # ---- the object list changes: rebuild the world around the live state ----------------------
    def _rebuild(self, objects: list[WorldObject]) -> None:
        old = self._need_level()  # every caller has checked a level is loaded
        world = dataclasses.replace(old.world, objects=objects)
        st = WorldState(world, mags=old.mags, hand=old.hand)
        st.agent, st.held, st.last_hit = old.agent, old.held, old.last_hit
        st.poses.update({n: p for n, p in old.poses.items() if n in st.poses})
        st.door_open.update({n: v for n, v in old.door_open.items() if n in st.door_open})
        st.rebuild_grid()
        self.state = st
        self.renderer.load(world)
        if old.world is not self._maps.get(old.world.name):  # a rebuilt world: nothing draws it again
            self.renderer.unload(old.world)
        self._last_frame = None

    def _spawn_actor(self, cls: str, name: str) -> str:
        st = self._need_level()
        if cls != GRAB_CLASS:  # UE5.6 maps need spawn_from_path for anything they do not reference
            return f"error cannot spawn class {cls}"
        if name in st.poses or name == self.agent_name:
            return f"error an actor named {name} exists"
        self.spawned[name] = Spawned()
        self._rebuild(st.world.objects + [grab_object(name, self.spawned[name], (0.0, 0.0, 0.0), 0.0)])
        return "ok"

    def _destroy(self, name: str) -> str:
        st = self._need_level()
        if self._is_agent(name):
            self.agent_name, st.agent, st.held = None, None, None
            return "ok"
        st.obj(name)  # KeyError: no such actor
        if st.held == name:
            st.held = None
        self.spawned.pop(name, None)
        self._rebuild([o for o in st.world.objects if o.name != name])
        return "ok"

    def _restyle(self, name: str, **change) -> None:
        """Apply an appearance or scale change to a spawned actor (others keep their look)."""
        info = self.spawned.get(name)
        if info is None:
            return
        for k, v in change.items():
            setattr(info, k, v)
        st = self._need_level()
        loc, yaw = st.poses[name]
        self._rebuild([grab_object(name, info, loc, yaw) if o.name == name else o for o in st.world.objects])

    def _scale(self, name: str, args: list[str] | None) -> str:
        st = self._need_level()
        if not self._is_agent(name):
            st.obj(name)
        if args is None:
            info = self.spawned.get(name, Spawned())
            return " ".join(f"{v:.3f}" for v in info.scale)
        vals = tuple(float(a) for a in args[:3])
        if len(vals) != 3 or not all(math.isfinite(v) and v > 0 for v in vals):
            return "error scale needs three positive numbers"
        if name in self.spawned:
            self._restyle(name, scale=vals)
        return "ok"

    def _actor_call(self, actor: str, fn: str, rest: list[str]) -> str | None:
        """vbp calls UnrealZoo answers for any actor (None: not one of them)."""
        st = self.state
        if st is None or not (self._is_agent(actor) or actor in st.poses):
            return None
        if fn == "set_phy":
            if not rest or rest[0] not in ("0", "1"):
                return "error set_phy needs 0 or 1"
            self.spawned.setdefault(actor, Spawned()).physics = rest[0] == "1"
            return "{}"
        if fn == "set_app":
            try:
                app = int(rest[0])
            except (IndexError, ValueError):
                return "error set_app needs an integer appearance id"
            if actor in self.spawned:
                self._restyle(actor, app=app)
            return "{}"
        return None

    # ---- the ego camera ---------------------------------------------------------------------------
    def _camera_setting(self, cam: int, prop: str, args: list[str]) -> str:
        self._camera(cam)  # ValueError: no such camera
        if not args:
            return f"error {prop} needs a value"
        if prop == "exposure_bias":
            value = float(args[0])
            if not math.isfinite(value):
                return "error exposure_bias must be finite"
        elif args[0].lower() not in CAMERA_SETTINGS[prop]:
            return f"error {prop} must be one of {', '.join(CAMERA_SETTINGS[prop])}"
        self.camera_settings[(cam, prop)] = args[0].lower()
        return "ok"

    def _move_ego_camera(self, args: list[str]) -> str:
        """`vset /camera/<ego>/location`: the camera leaves its socket until it is put back (within 1 mm)."""
        loc = parse_xyz(args)
        self.cam_override = None
        attached = self._camera(AGENT_CAMERA).location
        if math.dist(loc, attached) > 1e-3:
            self.cam_override = loc
        return "ok"
