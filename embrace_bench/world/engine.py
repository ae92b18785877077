"""The embedded engine: answers the UnrealCV / UnrealZoo command subset over a WorldState.

Replies follow Unreal's formats: `ok`, `error <why>`, `X Y Z` / `P Y R` text, RGBA PNG for `lit` and
`object_mask`, `.npy` for depth, `(R=..,G=..,B=..,A=255)` for object colours, and JSON objects with
string values for `vbp` calls. Movement uses UnrealZoo's stepping protocol: `vbp <agent> set_move
<angle> <speed>` sets the motion (yaw rate in deg/s, speed in cm/s), and one `resume` ... `pause` cycle
integrates it for STEP_S seconds of game time (a fixed tick, so runs are deterministic whatever the wall
clock does). world/unrealzoo.py is the same world with UnrealZoo's wall-clock timing instead.
"""
from __future__ import annotations

import io
import json
import math
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from embrace_bench import png
from embrace_bench.world.render import Camera, Frame, Renderer, make_renderer
from embrace_bench.world.scene import WorldMap
from embrace_bench.world.sim import AGENT_Z, EYE_HEIGHT, WorldState

STEP_S = 1.0
AGENT_CLASS = "BP_Character_C"  # what spawn_from_path must name (any path ending in it)
AGENT_CAMERA = 1  # camera 0 is the free spectator, camera 1 rides on the spawned character


def encode_png(rgb: np.ndarray, level: int = 1) -> bytes:
    """RGBA PNG as Unreal sends it (runs twice on every step's hot path)."""
    return png.encode(rgb, alpha=True, level=level)


def encode_npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _fmt(vals) -> str:
    return " ".join(f"{v:.3f}" for v in vals)


def parse_xyz(args: list[str]) -> tuple[float, float, float]:
    """The first three arguments as an (x, y, z) of floats (IndexError or ValueError when they are not)."""
    return float(args[0]), float(args[1]), float(args[2])


# One render's frame and its PNGs being encoded ({"lit": ..., "object_mask": ...}).
RenderedFrame = tuple[Frame, dict[str, Future[bytes]]]


class EmbeddedEngine:
    """Command handler for UnrealCVServer: `handle(command) -> str | bytes`. `maps_dir` holds the levels
    (<name>.json): the world keeps no data of its own; whoever starts it names the folder (tasks/maps.py)."""

    def __init__(self, renderer: str | Renderer = "auto", *, maps_dir: Path, width: int = Camera.width,
                 height: int = Camera.height, fov: float = Camera.fov, port: int = 9000) -> None:
        self.renderer = make_renderer(renderer) if isinstance(renderer, str) else renderer
        self.maps_dir = Path(maps_dir)
        self.size = (width, height)
        self.fov = fov
        self.port = port
        self.state: WorldState | None = None
        self._maps: dict[str, WorldMap] = {}
        self._last_frame: tuple[tuple[object, ...], RenderedFrame] | None = None  # (camera, poses, hidden) key
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="png")
        self.agent_name: str | None = None
        self.paused = True
        self.motion = (0.0, 0.0)  # set_move (angle deg, speed cm/s)
        self.moving = False
        self.cam_offset = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # set_cam x y z roll pitch yaw (z 0: eye height)
        self.spectator: tuple[tuple[float, float, float], tuple[float, float, float]] = (
            (0.0, 0.0, 300.0), (0.0, 0.0, 0.0))

    # ---- dispatch ---------------------------------------------------------------------------
    def handle(self, command: str) -> str | bytes:
        parts = command.strip().split()
        if not parts:
            return "error empty command"
        verb, args = parts[0], parts[1:]
        if verb == "vbp":
            return self._vbp(args)
        if verb not in ("vget", "vset") or not args:
            return f"error unknown command {command[:80]!r}"
        path = [p for p in args[0].split("/") if p]
        try:
            return getattr(self, f"_{verb}")(path, args[1:])
        except (KeyError, ValueError, IndexError) as exc:
            return f"error {exc}"

    def _need_level(self) -> WorldState:
        if self.state is None:
            raise ValueError("no level loaded")
        return self.state

    def _vget(self, path: list[str], args: list[str]) -> str | bytes:
        head = path[0]
        if path == ["unrealcv", "status"]:
            w, h = self.size
            return (f"Is Listening\nClient Connected\n{self.port}\nConfiguration\nConfig file: embedded\n"
                    f"Port: {self.port}\nWidth: {w}\nHeight: {h}\nFOV: {self.fov:.6f}\nEnableInput: true\n")
        if path == ["unrealcv", "version"]:
            return "v1.1.1"
        if path == ["unrealcv", "commands"]:
            return "\n".join(COMMANDS)
        if path == ["objects"]:
            st = self._need_level()
            names = [o.name for o in st.world.objects] + ([self.agent_name] if self.agent_name else [])
            return " ".join(names)
        if path == ["cameras"]:
            return "cam0 cam1" if self.agent_name else "cam0"
        if path == ["level"] or path == ["action", "game", "level"]:
            return self.state.world.name if self.state else "None"
        if head == "camera":
            return self._camera_get(int(path[1]), path[2], args)
        if head == "object":
            return self._object_get(path[1], path[2])
        raise ValueError(f"unknown vget path /{'/'.join(path)}")

    def _vset(self, path: list[str], args: list[str]) -> str:
        if path == ["action", "game", "level"]:
            return self._load_level(args[0])
        if path == ["action", "game", "pause"]:
            if not self.paused and self.state is not None and self.moving:
                self._integrate(STEP_S)  # a fixed amount of game time per cycle: deterministic
            self.paused = True
            return "ok"
        if path == ["action", "game", "resume"]:
            self.paused = False
            return "ok"
        if path == ["objects", "spawn_from_path"]:
            return self._spawn(args[0], args[1])
        if path[0] == "camera":
            return self._camera_set(int(path[1]), path[2], args)
        if path[0] == "object":
            return self._object_set(path[1], path[2], [float(a) for a in args])
        raise ValueError(f"unknown vset path /{'/'.join(path)}")

    # ---- level and spawning -----------------------------------------------------------------
    def _load_level(self, name: str) -> str:
        world = self._maps.get(name)
        if world is None:
            f = self.maps_dir / f"{Path(name).name}.json"
            if not f.exists():
                return f"error unknown level {name}"
            # Maps are immutable data (all state lives in WorldState), so reloading a level reuses them.
            world = self._maps[name] = WorldMap.from_json(json.loads(f.read_text()))
        self.state = WorldState(world)
        self.renderer.load(world)
        self._last_frame = None
        self.agent_name = None
        self.motion, self.moving, self.paused = (0.0, 0.0), False, True
        self.cam_offset = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        return "ok"

    def _spawn(self, path: str, name: str) -> str:
        st = self._need_level()
        if not path.endswith(AGENT_CLASS):
            return f"error can only spawn {AGENT_CLASS}, not {path}"
        self.agent_name = name
        x0, y0, x1, y1 = st.world.bounds
        st.place_agent((x0 + x1) / 2, (y0 + y1) / 2, 0.0)
        return "ok"

    def _is_agent(self, name: str) -> bool:
        return self.agent_name is not None and name == self.agent_name

    # ---- objects ----------------------------------------------------------------------------
    def _object_get(self, name: str, prop: str) -> str:
        st = self._need_level()
        if self._is_agent(name):
            a = st.agent
            assert a is not None  # the agent is named only by _spawn, which places it
            if prop == "location":
                return _fmt((a.x, a.y, AGENT_Z))
            if prop == "rotation":
                return _fmt((0.0, a.yaw, 0.0))
            if prop == "color":
                return "(R=0,G=0,B=0,A=255)"
            if prop == "bounds":
                return _fmt((a.x - 35, a.y - 35, 0.0, a.x + 35, a.y + 35, 180.0))
            raise ValueError(f"unknown object property {prop}")
        obj = st.obj(name)
        loc, yaw = st.poses[name]
        if prop == "location":
            return _fmt(loc)
        if prop == "rotation":
            return _fmt((0.0, yaw, 0.0))
        if prop == "color":
            r, g, b = obj.mask_color
            return f"(R={r},G={g},B={b},A=255)"
        if prop == "bounds":
            reach = max(max(abs(p.center[0]) + p.size[0] / 2, abs(p.center[1]) + p.size[1] / 2) for p in obj.parts)
            top = max(p.center[2] + p.size[2] / 2 for p in obj.parts)
            return _fmt((loc[0] - reach, loc[1] - reach, 0.0, loc[0] + reach, loc[1] + reach, top))
        raise ValueError(f"unknown object property {prop}")

    def _object_set(self, name: str, prop: str, vals: list[float]) -> str:
        st = self._need_level()
        if self._is_agent(name):
            a = st.agent
            assert a is not None  # the agent is named only by _spawn, which places it
            if prop == "location":
                st.place_agent(vals[0], vals[1], a.yaw)
            elif prop == "rotation":
                st.place_agent(a.x, a.y, vals[1])
            else:
                raise ValueError(f"cannot set {prop} on {name}")
            return "ok"
        loc, yaw = st.poses[st.obj(name).name]
        if prop == "location":
            st.poses[name] = ((vals[0], vals[1], vals[2]), yaw)
        elif prop == "rotation":
            st.poses[name] = (loc, vals[1])
        else:
            raise ValueError(f"cannot set {prop} on {name}")
        st.rebuild_grid()
        return "ok"

    # ---- cameras ----------------------------------------------------------------------------
    def _camera(self, cam: int) -> Camera:
        w, h = self.size
        if cam == AGENT_CAMERA:
            st = self._need_level()
            if st.agent is None:
                raise ValueError("camera 1 needs a spawned character")
            a = st.agent
            ox, oy, oz, _roll, pitch, yaw = self.cam_offset
            c, s = math.cos(math.radians(a.yaw)), math.sin(math.radians(a.yaw))  # offsets are in the agent's frame
            return Camera((a.x + c * ox - s * oy, a.y + s * ox + c * oy, self._eye_z(oz)), pitch, a.yaw + yaw, 0.0,
                          self.fov, w, h)
        if cam == 0:
            loc, (p, y, r) = self.spectator
            return Camera(loc, p, y, r, self.fov, w, h)
        raise ValueError(f"no camera {cam}")

    @staticmethod
    def _eye_z(z: float) -> float:
        """Camera height above the ground for a set_cam z (here: the height itself; 0 means the default)."""
        return z or EYE_HEIGHT

    def _camera_get(self, cam: int, mode: str, args: list[str]) -> str | bytes:
        c = self._camera(cam)
        if mode == "location":
            return _fmt(c.location)
        if mode == "rotation":
            return _fmt((c.pitch, c.yaw, c.roll))
        if mode == "fov":
            return f"{c.fov:.3f}"
        if mode not in ("lit", "object_mask", "depth"):
            raise ValueError(f"unknown viewmode {mode}")
        fmt = args[0] if args else "png"
        if mode == "depth":
            if fmt != "npy":
                raise ValueError("depth is served as npy")
            return encode_npy(self._frame(c)[0].depth)
        if fmt != "png":
            raise ValueError(f"{mode} is served as png")
        return self._frame(c)[1][mode].result()

    def _frame(self, cam: Camera) -> RenderedFrame:
        """(frame, {"lit": png future, "object_mask": png future}) rendered once per (camera, world state).

        Clients ask for lit and mask of the same step back to back, so one render serves both, and both
        PNGs are encoded at once on two threads (zlib releases the GIL)."""
        st = self._need_level()
        hidden = self._hidden()
        key = (cam, tuple(st.poses.items()), hidden)
        if self._last_frame is None or self._last_frame[0] != key:
            frame = self.renderer.render(cam, st.poses, hidden)
            pngs = {"lit": self._pool.submit(encode_png, frame.rgb),
                    "object_mask": self._pool.submit(encode_png, frame.mask)}
            self._last_frame = (key, (frame, pngs))
        return self._last_frame[1]

    def _hidden(self) -> frozenset[str]:
        """Objects not drawn: here the carried one (the embedded character has no hands to show it in)."""
        return self._need_level().hidden()

    def _camera_set(self, cam: int, prop: str, args: list[str]) -> str:
        if prop == "fov":
            self.fov = float(args[0])
        elif prop == "size":
            self.size = (int(args[0]), int(args[1]))
        elif cam == 0 and prop == "location":
            self.spectator = (parse_xyz(args), self.spectator[1])
        elif cam == 0 and prop == "rotation":
            self.spectator = (self.spectator[0], parse_xyz(args))
        else:
            raise ValueError(f"cannot set {prop} on camera {cam}")
        return "ok"

    # ---- UnrealZoo character blueprint calls ------------------------------------------------
    def _vbp(self, args: list[str]) -> str:
        if len(args) < 2:
            return "error vbp needs <actor> <function> [args]"
        actor, fn, rest = args[0], args[1], args[2:]
        try:
            st = self._need_level()
            if fn == "get_door_state" and not self._is_agent(actor):
                if actor not in st.door_open:
                    return f"error {actor} is not a door"
                return json.dumps({"door_state": str(int(st.door_open[actor]))})
            if not self._is_agent(actor):
                return f"error no character named {actor}"
            if fn == "set_move":
                self.motion = (float(rest[0]), float(rest[1]))
                self.moving = self.motion != (0.0, 0.0)
                return "{}"
            if fn == "set_cam":
                vals = [float(v) for v in rest[:6]]
                self.cam_offset = (vals[0], vals[1], vals[2], vals[3], vals[4], vals[5])
                return "{}"
            if fn == "set_open_door":
                name = st.open_door()
                return json.dumps({"door": name or "", "door_state": "1" if name else "0"})
            if fn == "get_door_state":
                return json.dumps({n: str(int(v)) for n, v in sorted(st.door_open.items())})
            if fn == "set_pickup":  # "1" picks, "0" drops, no argument toggles (UnrealZoo's form)
                if (rest[0] == "0") if rest else st.held is not None:
                    dropped = st.drop()
                    return json.dumps({"held_object": "", "dropped": dropped[0] if dropped else "",
                                       "location": _fmt(dropped[1]) if dropped else ""})
                name = st.pickup()
                return json.dumps({"held_object": st.held or "", "picked": name or ""})
            if fn == "get_pickup":
                return json.dumps({"held_object": st.held or ""})
            if fn == "get_hit":
                return json.dumps({"hit": str(int(st.last_hit))})
            return f"error unknown function {fn}"
        except (ValueError, IndexError) as exc:
            return f"error {exc}"

    def _integrate(self, seconds: float) -> None:
        rate, speed = self.motion
        self._need_level().move(rate * seconds, speed * seconds)


COMMANDS = [
    "vget /unrealcv/status", "vget /unrealcv/version", "vget /unrealcv/commands", "vget /objects", "vget /cameras",
    "vset /action/game/level [map]", "vset /action/game/pause", "vset /action/game/resume",
    "vget /camera/[id]/lit png", "vget /camera/[id]/object_mask png", "vget /camera/[id]/depth npy",
    "vget /camera/[id]/location", "vget /camera/[id]/rotation", "vget /camera/[id]/fov", "vset /camera/[id]/fov [f]",
    "vset /camera/[id]/size [w] [h]", "vget /object/[name]/location", "vget /object/[name]/rotation",
    "vget /object/[name]/color", "vget /object/[name]/bounds", "vset /object/[name]/location [x] [y] [z]",
    "vset /object/[name]/rotation [p] [y] [r]", "vset /objects/spawn_from_path [path] [name]",
    "vbp [agent] set_move [angle] [speed]", "vbp [agent] set_cam [x] [y] [z] [roll] [pitch] [yaw]",
    "vbp [agent] set_open_door 1", "vbp [agent|door] get_door_state", "vbp [agent] set_pickup [1|0]",
    "vbp [agent] get_pickup", "vbp [agent] get_hit",
]
