"""The embedded world with UnrealZoo's semantics, so the `env=unrealzoo` path runs in tests without Unreal.

Same maps, physics and renderer as EmbeddedEngine; what changes is what a packaged UnrealZoo (UE5.6) build
does differently from our deterministic stand-in:

- `vset /action/game/level` returns at once and the level loads in the background: world queries
  (objects, cameras, actors, `vbp`) answer `error ...` until it is up (`load_s`).
- A fresh level has no character: it must be spawned with `spawn_from_path`, and it becomes queryable a
  moment later (`spawn_s`); `vbp` calls before that are errors. `vset /objects/spawn` makes the release's
  Pick & Drop object; `vset /object/<name>/destroy` removes any actor (world/zoo_scene.py).
- Game time runs while resumed, `slomo` (`vrun slomo N`) times faster than the wall clock, in fixed 20 Hz
  engine ticks (`tick_s` of wall time each, as the release's engine config fixes the frame rate; the
  resumed interval is rounded to whole ticks).
- The character's `set_move <angle> <speed>` (the model below is fitted to the EmbRACE release's recorded
  demos, not measured on a build): `angle` is a yaw step in degrees applied when the call arrives (the
  demos turn exactly 25.000 deg per `set_move 25 0`); `speed` (cm/s) walks the character at
  min(|speed|, WALK_MAX_CMS) from START_S after the call until `set_interval` ms of game time have passed
  since it (no interval set: until the next set_move). Under the release's MoveForward (`vrun slomo 6`,
  `set_interval 1000`, cycles `0 200`, `0 200`, `0 0` of 0.25 s wall each, i.e. 1.5 s of game time, so each
  interval runs out inside its cycle) that is 2 x 62.93 = 125.86 uu, what all three demos record per step;
  the release's own note that two `0 -43` cycles move "about 72 uu" fixes the start-up (2 x 43 x 5/6 = 71.7).
- UE5's stale frame: after the world moved, the first capture of a view returns the previous frame; the
  next capture, or any capture after an idle tick (resumed, nothing moving), shows the current one.
- UnrealZoo's character calls only: `get_door_state` on the character reports the door it last opened as
  `{"door_state": "0|1"}`, `set_pickup` toggles and the object rides in the right hand, `set_interval`,
  `set_app`, `set_phy`, `set_standup` are accepted; `get_pickup` and `get_hit` (which the UE5.6 character
  may not have) answer `error ...`. `vrun` console commands are accepted and recorded (`slomo` and
  `ViewActor` act; cvars are kept in `cvars`); captures come as png or as UnrealCV's bmp.
"""
from __future__ import annotations

import dataclasses
import json
import math
import struct
import time
from typing import Callable

import numpy as np

from embrace_bench.world.engine import AGENT_CAMERA, COMMANDS, EmbeddedEngine
from embrace_bench.world.zoo_scene import CAMERA_SETTINGS, HAND, ZooScene

HEAD_Z = 210.0  # set_cam z is relative to the character's head socket: EmbRACE's -50 puts the eye at 160 cm
STEP_CM = 125.859  # the release demos' MoveForward: all 39 unobstructed ones: 125.858-125.860 uu
START_S = 1.0 / 6.0  # game seconds from a set_move to walking (fitted: two 0 -43 cycles move about 72 uu)
WALK_MAX_CMS = STEP_CM / 2 / (1.0 - START_S)  # the character's top walking speed: 75.5 cm/s
VBP_UNKNOWN = ("get_pickup", "get_hit")  # calls our embedded character has and UnrealZoo's may not
ZOO_COMMANDS = [
    "vrun slomo [n]", "vrun ViewActor [name]", "vrun [cvar] [value]", "vrun set [actor] [property] [value]",
    "vbp [agent] set_pickup", "vset /objects/spawn [class] [name]", "vset /object/[name]/destroy",
    "vget /object/[name]/scale", "vset /object/[name]/scale [x] [y] [z]", "vset /camera/[id]/location [x] [y] [z]",
    "vset /camera/[id]/lit_source [ldr|hdr]", "vset /camera/[id]/reflection [none]",
    "vset /camera/[id]/illumination [none]", "vset /camera/[id]/exposure_bias [f]", "vget /camera/[id]/lit bmp",
    "vbp [agent] set_interval [ms]", "vbp [actor] set_app [id]", "vbp [actor] set_phy [0|1]", "vbp [agent] set_standup",
]


def encode_bmp(rgb: np.ndarray) -> bytes:
    """UnrealCV's bmp capture: a 32-bit top-down BMP whose pixel bytes are BGRA, the last H*W*4 bytes."""
    h, w, _ = rgb.shape
    px = np.empty((h, w, 4), dtype=np.uint8)
    px[..., :3] = rgb[..., ::-1]
    px[..., 3] = 255
    info = struct.pack("<IiiHHIIiiII", 40, w, -h, 1, 32, 0, h * w * 4, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + h * w * 4, 0, 0, 54) + info + px.tobytes()


@dataclasses.dataclass
class Walk:
    """The character's current set_move: walking at `speed` over game time [start, end)."""

    speed: float
    start: float
    end: float


class UnrealZooEngine(ZooScene, EmbeddedEngine):
    def __init__(self, *args, load_s: float = 1.0, spawn_s: float = 0.2, tick_s: float = 0.05,
                 stale_frame: bool = True, clock: Callable[[], float] = time.perf_counter, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.load_s, self.spawn_s, self.tick_s, self.stale_frame = load_s, spawn_s, tick_s, stale_frame
        self.clock = clock
        self._level_ready_at = 0.0
        self._agent_ready_at = 0.0
        self._resumed_at = 0.0
        self._pending = 0.0  # wall time not yet integrated into whole ticks
        self._shown: dict[tuple[int, str, str], bytes] = {}  # what each view's capture buffer holds
        self._last_door: str | None = None
        self.console: list[str] = []  # vrun commands received
        self.cvars: dict[str, str] = {}
        self.slomo = 1.0
        self.interval_s: float | None = None  # set_interval, in game seconds
        self.walk: Walk | None = None
        self.game_t = 0.0  # game seconds simulated so far
        self.view_actor: str | None = None
        self.ticks = 0  # simulation ticks run so far (for tests and logs)
        self._init_scene()

    # ---- dispatch: wall clock first, then the loading gate ---------------------------------
    def handle(self, command: str) -> str | bytes:
        parts = command.strip().split()
        if parts and parts[0] == "vrun":
            return self._console(parts[1:])
        if not self.paused:
            self._advance(final=False)
        if self._loading() and not self._allowed_while_loading(parts):
            return "error level is still loading"
        return super().handle(command)

    def _console(self, words: list[str]) -> str:
        """`vrun <console command>`: UE runs any console command; slomo, ViewActor and cvars matter here."""
        self.console.append(" ".join(words))
        if len(words) >= 2 and words[0].lower() == "slomo":
            if not self.paused:
                self._advance(final=False)  # the time already run keeps its old speed
            try:
                self.slomo = max(0.0001, float(words[1]))
            except ValueError:
                pass  # UE ignores a bad value
        elif len(words) >= 2 and words[0].lower() == "viewactor":
            self.view_actor = words[1]
        elif len(words) >= 2 and "." in words[0]:
            self.cvars[words[0]] = " ".join(words[1:])
        return "ok"

    def _loading(self) -> bool:
        return self.state is not None and self.clock() < self._level_ready_at

    @staticmethod
    def _allowed_while_loading(parts: list[str]) -> bool:
        path = parts[1] if len(parts) > 1 else ""
        return path.startswith("/unrealcv/") or path.startswith("/action/game/")

    def _load_level(self, name: str) -> str:
        reply = super()._load_level(name)
        if reply == "ok":
            self._level_ready_at = self.clock() + self.load_s
            self._shown.clear()
            self._last_door = None
            self.cam_offset = (0.0, 0.0, -50.0, 0.0, 0.0, 0.0)
            self.walk, self.interval_s, self.cam_override, self.view_actor = None, None, None, None
            self.spawned.clear()
            self._need_level().hand = HAND
        return reply

    def _spawn(self, path: str, name: str) -> str:
        if self.state is not None and (name in self.state.poses or name == self.agent_name):
            return f"error an actor named {name} exists"
        if self.state is not None and self.agent_name is not None:
            return f"error {self.agent_name} is this stand-in's only character; destroy it first"
        reply = super()._spawn(path, name)
        if reply == "ok":
            self._agent_ready_at = self.clock() + self.spawn_s
            self.walk, self.interval_s, self.cam_override = None, None, None
        return reply

    def _is_agent(self, name: str) -> bool:
        return super()._is_agent(name) and self.clock() >= self._agent_ready_at

    @staticmethod
    def _eye_z(z: float) -> float:
        return HEAD_Z + z

    def _hidden(self) -> frozenset[str]:
        return frozenset()  # UnrealZoo's character carries the object in its hand, in view of LookHand

    def _vget(self, path: list[str], args: list[str]) -> str | bytes:
        if len(path) == 3 and path[0] == "object" and path[2] == "scale":
            return self._scale(path[1], None)
        if path == ["unrealcv", "commands"]:
            return "\n".join(COMMANDS + ZOO_COMMANDS)
        return super()._vget(path, args)

    def _vset(self, path: list[str], args: list[str]) -> str:
        if path == ["action", "game", "resume"]:
            if self.paused:
                self.paused, self._resumed_at, self._pending = False, self.clock(), 0.0
            return "ok"
        if path == ["action", "game", "pause"]:
            if not self.paused:
                self._advance(final=True)
                self.paused = True
            return "ok"
        if path == ["objects", "spawn"]:
            return self._spawn_actor(args[0], args[1])
        if len(path) == 3 and path[0] == "object" and path[2] in ("destroy", "scale"):
            return self._destroy(path[1]) if path[2] == "destroy" else self._scale(path[1], args)
        if len(path) == 3 and path[0] == "camera":
            if path[2] in CAMERA_SETTINGS or path[2] == "exposure_bias":
                return self._camera_setting(int(path[1]), path[2], args)
            if path[2] == "location" and int(path[1]) == AGENT_CAMERA:
                return self._move_ego_camera(args)
        return super()._vset(path, args)

    def _object_set(self, name: str, prop: str, vals: list[float]) -> str:
        reply = super()._object_set(name, prop, vals)
        if self._is_agent(name):
            self.cam_override = None
            st = self._need_level()
            if st.held:  # a teleported character takes what it holds along
                st.poses[st.held] = st.hand_pose()
        return reply

    # ---- game time -------------------------------------------------------------------------
    def _now(self) -> float:
        """Game time now, including the part of a tick already under way."""
        return self.game_t + (0.0 if self.paused else self._pending * self.slomo)

    def _advance(self, final: bool) -> None:
        """Run the simulation ticks the wall clock has covered since the last call (rounded at pause)."""
        now = self.clock()
        self._pending += now - self._resumed_at
        self._resumed_at = now
        if self.tick_s <= 0:  # continuous time: integrate the interval as it is
            seconds, self._pending = self._pending, 0.0
            self._simulate(seconds * self.slomo, 1 if seconds > 0 else 0)
            return
        n = math.floor(self._pending / self.tick_s)
        self._pending -= n * self.tick_s
        if final:
            n += self._pending >= self.tick_s / 2
            self._pending = 0.0
        self._simulate(self.tick_s * self.slomo, n)

    def _simulate(self, seconds: float, n: int) -> None:
        for _ in range(n):
            self.ticks += 1
            t0, self.game_t = self.game_t, self.game_t + seconds
            if self.walk is not None and t0 >= self.walk.end:
                self.walk = None
            st, w = self.state, self.walk
            if w is None or st is None or st.agent is None or self._loading():
                self._shown.clear()  # an idle tick lets every capture buffer catch up
                continue
            walked = w.speed * max(0.0, min(self.game_t, w.end) - max(t0, w.start))
            if walked:  # (a walk still starting up is not idle: the character is getting under way)
                st.move(0.0, walked)
                self.cam_override = None

    def _set_move(self, rest: list[str]) -> str:
        angle, speed = float(rest[0]), float(rest[1])
        if not (math.isfinite(angle) and math.isfinite(speed)):
            return "error set_move needs finite numbers"
        if angle:
            self._need_level().move(angle, 0.0)
            self.cam_override = None
        now = self._now()
        end = now + self.interval_s if self.interval_s is not None else math.inf
        self.walk = Walk(math.copysign(min(abs(speed), WALK_MAX_CMS), speed), now + START_S, end) if speed else None
        return "{}"

    # ---- UE5's stale capture buffer ------------------------------------------------------------
    def _camera(self, cam: int):
        c = super()._camera(cam)
        if cam == AGENT_CAMERA and self.cam_override is not None:
            return dataclasses.replace(c, location=self.cam_override)
        return c

    def _camera_get(self, cam: int, mode: str, args: list[str]) -> str | bytes:
        fmt = args[0] if args else "png"
        fresh: str | bytes
        if fmt == "bmp" and mode in ("lit", "object_mask"):
            frame = self._frame(self._camera(cam))[0]
            fresh = encode_bmp(frame.rgb if mode == "lit" else frame.mask)
        else:
            fresh = super()._camera_get(cam, mode, args)
        if not self.stale_frame or mode not in ("lit", "object_mask") or not isinstance(fresh, bytes):
            return fresh
        key = (cam, mode, fmt)
        shown = self._shown.get(key)
        self._shown[key] = fresh  # this capture brings the buffer up to date for the next one
        return shown if shown is not None else fresh

    # ---- UnrealZoo's character calls ---------------------------------------------------------
    def _vbp(self, args: list[str]) -> str:
        if len(args) < 2:
            return super()._vbp(args)
        actor, fn, rest = args[0], args[1], args[2:]
        try:
            reply = self._actor_call(actor, fn, rest)
            if reply is not None:
                return reply
            if self.state is None or not self._is_agent(actor):
                return super()._vbp(args)
            if fn in VBP_UNKNOWN:
                return f"error unknown function {fn}"
            if fn == "set_move":
                return self._set_move(rest)
            if fn == "set_interval":
                ms = float(rest[0])
                if not (math.isfinite(ms) and ms > 0):
                    return "error set_interval needs a positive number of milliseconds"
                self.interval_s = ms / 1000.0
                return "{}"
            if fn == "set_standup":
                return "{}"
            if fn == "set_cam":
                self.cam_override = None
            if fn == "get_door_state":
                is_open = self._last_door is not None and self.state.door_open.get(self._last_door, False)
                return json.dumps({"door_state": str(int(is_open))})
            if fn == "set_open_door":
                name = self.state.open_door()
                if name:
                    self._last_door = name
                return "{}"
        except (ValueError, IndexError) as exc:
            return f"error {exc}"
        return super()._vbp(args)
