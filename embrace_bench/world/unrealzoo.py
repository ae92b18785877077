"""The embedded world with UnrealZoo's semantics, so the `env=unrealzoo` path runs in tests without Unreal.

Same maps, physics and renderer as EmbeddedEngine; what changes is what a packaged UnrealZoo build does
differently from our deterministic stand-in:

- `vset /action/game/level` returns at once and the level loads in the background: world queries
  (objects, cameras, actors, `vbp`) answer `error ...` until it is up (`load_s`).
- A fresh level has no character: it must be spawned with `spawn_from_path`, and it becomes queryable a
  moment later (`spawn_s`); `vbp` calls before that are errors.
- Game time runs on the wall clock while resumed: `set_move <yaw rate deg/s> <speed cm/s>` is integrated
  over the real resume..pause interval, in fixed simulation ticks (`tick_s`, 20 Hz as in EmbRACE's engine
  config; the interval is rounded to whole ticks). A late `pause` means a longer move, so clients must
  read poses back instead of assuming magnitudes.
- UE5's stale frame: after the world moved, the first capture of a view returns the previous frame; the
  next capture, or any capture after an idle tick (resumed, nothing moving), shows the current one.
- UnrealZoo's character calls only: `get_door_state` on the character reports the door it last opened as
  `{"door_state": "0|1"}`, `set_pickup` toggles, there is no `get_pickup`; `vrun` console commands are
  accepted (and have no effect on this world).
"""
from __future__ import annotations

import json
import math
import time
from typing import Callable

from embrace_bench.world.engine import EmbeddedEngine

HEAD_Z = 210.0  # set_cam z is relative to the character's head socket: EmbRACE's -50 puts the eye at 160 cm


class UnrealZooEngine(EmbeddedEngine):
    def __init__(self, *args, load_s: float = 1.0, spawn_s: float = 0.2, tick_s: float = 0.05,
                 stale_frame: bool = True, clock: Callable[[], float] = time.perf_counter, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.load_s, self.spawn_s, self.tick_s, self.stale_frame = load_s, spawn_s, tick_s, stale_frame
        self.clock = clock
        self._level_ready_at = 0.0
        self._agent_ready_at = 0.0
        self._resumed_at = 0.0
        self._pending = 0.0  # game time not yet integrated into whole ticks
        self._shown: dict[tuple[int, str], bytes] = {}  # what each view's capture buffer holds
        self._last_door: str | None = None
        self.console: list[str] = []  # vrun commands received
        self.ticks = 0  # simulation ticks run so far (for tests and logs)

    # ---- dispatch: wall clock first, then the loading gate ---------------------------------
    def handle(self, command: str) -> str | bytes:
        parts = command.strip().split()
        if parts and parts[0] == "vrun":
            self.console.append(" ".join(parts[1:]))
            return "ok"
        if not self.paused:
            self._advance(final=False)
        if self._loading() and not self._allowed_while_loading(parts):
            return "error level is still loading"
        return super().handle(command)

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
        return reply

    def _spawn(self, path: str, name: str) -> str:
        reply = super()._spawn(path, name)
        if reply == "ok":
            self._agent_ready_at = self.clock() + self.spawn_s
        return reply

    def _is_agent(self, name: str) -> bool:
        return super()._is_agent(name) and self.clock() >= self._agent_ready_at

    @staticmethod
    def _eye_z(z: float) -> float:
        return HEAD_Z + z

    # ---- game time -------------------------------------------------------------------------
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
        return super()._vset(path, args)

    def _advance(self, final: bool) -> None:
        """Run the simulation ticks the wall clock has covered since the last call (rounded at pause)."""
        now = self.clock()
        self._pending += now - self._resumed_at
        self._resumed_at = now
        if self.tick_s <= 0:  # continuous time: integrate the interval as it is
            seconds, self._pending = self._pending, 0.0
            self._simulate(seconds, 1 if seconds > 0 else 0)
            return
        n = math.floor(self._pending / self.tick_s)
        self._pending -= n * self.tick_s
        if final:
            n += self._pending >= self.tick_s / 2
            self._pending = 0.0
        self._simulate(self.tick_s, n)

    def _simulate(self, seconds: float, n: int) -> None:
        for _ in range(n):
            self.ticks += 1
            if self.state is None or self.state.agent is None or not self.moving or self._loading():
                self._shown.clear()  # an idle tick lets every capture buffer catch up
                continue
            self._integrate(seconds)

    # ---- UE5's stale capture buffer ------------------------------------------------------------
    def _camera_get(self, cam: int, mode: str, args: list[str]) -> str | bytes:
        fresh = super()._camera_get(cam, mode, args)
        if not self.stale_frame or mode not in ("lit", "object_mask") or not isinstance(fresh, bytes):
            return fresh
        shown = self._shown.get((cam, mode))
        self._shown[(cam, mode)] = fresh  # this capture brings the buffer up to date for the next one
        return shown if shown is not None else fresh

    # ---- UnrealZoo's character calls ---------------------------------------------------------
    def _vbp(self, args: list[str]) -> str:
        if len(args) >= 2 and self.state is not None and self._is_agent(args[0]):
            fn = args[1]
            if fn == "get_pickup":
                return f"error unknown function {fn}"
            if fn == "get_door_state":
                is_open = self._last_door is not None and self.state.door_open.get(self._last_door, False)
                return json.dumps({"door_state": str(int(is_open))})
            if fn == "set_open_door":
                name = self.state.open_door()
                if name:
                    self._last_door = name
                return "{}"
        return super()._vbp(args)
