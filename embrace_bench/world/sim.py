"""The embedded world's physics and state: agent pose, collision, doors, carried objects.

Collision uses an occupancy grid of "forbidden agent centres" (object footprints dilated by the agent
radius) at GRID_CM resolution: exact enough for 235 cm steps, deterministic, and cheap enough for the
task generator's planner to call thousands of times.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from embrace_bench.actions import Magnitudes
from embrace_bench.world.scene import WorldMap, WorldObject, to_world

AGENT_RADIUS = 35.0
AGENT_Z = 90.0  # the character's location z (its centre), as Unreal reports it
EYE_HEIGHT = 160.0  # camera height above the ground
HAND_Z = 60.0  # a carried object rides at hand height, 30 cm below the character's centre (as in EmbRACE's data)
GRID_CM = 10.0
SWEEP_CM = 5.0


@dataclass
class AgentPose:
    x: float
    y: float
    yaw: float


def wrap_deg(a: float) -> float:
    """Angle in (-180, 180]."""
    a = math.fmod(a, 360.0)
    if a <= -180.0:
        a += 360.0
    elif a > 180.0:
        a -= 360.0
    return a


def bearing_to(x: float, y: float, yaw: float, tx: float, ty: float) -> float:
    """Signed angle (deg) from the agent's heading to the target; positive = to the right."""
    return wrap_deg(math.degrees(math.atan2(ty - y, tx - x)) - yaw)


class OccupancyGrid:
    def __init__(self, bounds: tuple[float, float, float, float], radius: float = AGENT_RADIUS) -> None:
        self.x0, self.y0, x1, y1 = bounds
        self.nx = int(math.ceil((x1 - self.x0) / GRID_CM))
        self.ny = int(math.ceil((y1 - self.y0) / GRID_CM))
        self.radius = radius
        self.blocked = np.zeros((self.nx, self.ny), dtype=bool)
        self._cx = self.x0 + (np.arange(self.nx) + 0.5) * GRID_CM
        self._cy = self.y0 + (np.arange(self.ny) + 0.5) * GRID_CM

    def add(self, obj: WorldObject, loc, yaw: float) -> None:
        fp = obj.footprint
        if fp is None:
            return
        reach = (math.hypot(fp[1], fp[2]) if fp[0] == "box" else fp[1]) + self.radius
        i0 = max(0, int((loc[0] - reach - self.x0) // GRID_CM))
        i1 = min(self.nx, int((loc[0] + reach - self.x0) // GRID_CM) + 1)
        j0 = max(0, int((loc[1] - reach - self.y0) // GRID_CM))
        j1 = min(self.ny, int((loc[1] + reach - self.y0) // GRID_CM) + 1)
        if i0 >= i1 or j0 >= j1:
            return
        gx, gy = np.meshgrid(self._cx[i0:i1] - loc[0], self._cy[j0:j1] - loc[1], indexing="ij")
        if fp[0] == "circle":
            hit = gx * gx + gy * gy <= (fp[1] + self.radius) ** 2
        else:
            c, s = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
            lx, ly = c * gx + s * gy, -s * gx + c * gy
            # Distance from a point to the box: rounded corners, like a circle swept around the box.
            dx = np.maximum(np.abs(lx) - fp[1], 0.0)
            dy = np.maximum(np.abs(ly) - fp[2], 0.0)
            hit = dx * dx + dy * dy <= self.radius ** 2
        self.blocked[i0:i1, j0:j1] |= hit

    def free(self, x: float, y: float) -> bool:
        i = int((x - self.x0) // GRID_CM)
        j = int((y - self.y0) // GRID_CM)
        if i < 0 or j < 0 or i >= self.nx or j >= self.ny:
            return False
        return not self.blocked[i, j]

    def sweep(self, x: float, y: float, yaw: float, distance: float) -> tuple[float, float, bool]:
        """Walk `distance` (negative = backwards) from (x, y); stop before the first blocked cell."""
        n = max(1, int(math.ceil(abs(distance) / SWEEP_CM)))
        step = distance / n
        dx, dy = math.cos(math.radians(yaw)) * step, math.sin(math.radians(yaw)) * step
        for k in range(1, n + 1):
            nx_, ny_ = x + dx * k, y + dy * k
            if not self.free(nx_, ny_):
                return x + dx * (k - 1), y + dy * (k - 1), True
        return x + dx * n, y + dy * n, False


@dataclass
class WorldState:
    """Mutable state of one loaded map: what moves, opens and gets carried."""

    world: WorldMap
    mags: Magnitudes = field(default_factory=Magnitudes)
    agent: AgentPose | None = None
    held: str | None = None
    last_hit: bool = False
    door_open: dict[str, bool] = field(default_factory=dict)
    poses: dict[str, tuple[tuple[float, float, float], float]] = field(default_factory=dict)
    # Where a carried object rides, (forward, right, z) from the character; None: at its centre, HAND_Z high.
    hand: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        self._by_name = {o.name: o for o in self.world.objects}
        self.door_open = {o.name: False for o in self.world.objects if o.door}
        self.poses = {o.name: (o.location, o.yaw) for o in self.world.objects}
        self.rebuild_grid()

    def obj(self, name: str) -> WorldObject:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no object named {name!r}") from None

    def rebuild_grid(self) -> None:
        """Occupancy for the current poses: the map's static part is cached on the map, doors added on top."""
        moved = [o for o in self.world.objects if not o.door and self.poses[o.name] != (o.location, o.yaw)]
        if moved:  # something was teleported: no cache applies
            self.grid = OccupancyGrid(self.world.bounds)
            for o in self.world.objects:
                self.grid.add(o, *self.poses[o.name])
            return
        static = self.world.__dict__.get("_static_grid")
        if static is None:
            static = OccupancyGrid(self.world.bounds)
            for o in self.world.objects:
                if not o.door:
                    static.add(o, o.location, o.yaw)
            self.world.__dict__["_static_grid"] = static
        self.grid = copy.copy(static)
        self.grid.blocked = static.blocked.copy()
        for o in self.world.objects:
            if o.door:
                self.grid.add(o, *self.poses[o.name])

    # ---- agent ---------------------------------------------------------------------------
    def place_agent(self, x: float, y: float, yaw: float) -> None:
        self.agent = AgentPose(x, y, wrap_deg(yaw))
        self.last_hit = False

    def move(self, turn_deg: float, distance: float) -> bool:
        """One integrated step: turn, then walk; returns whether the walk was blocked."""
        a = self._require_agent()
        a.yaw = wrap_deg(a.yaw + turn_deg)
        if distance:
            a.x, a.y, self.last_hit = self.grid.sweep(a.x, a.y, a.yaw, distance)
        else:
            self.last_hit = False
        if self.held:
            self.poses[self.held] = self.hand_pose()
        return self.last_hit

    def hand_pose(self) -> tuple[tuple[float, float, float], float]:
        a = self._require_agent()
        if self.hand is None:
            return (a.x, a.y, HAND_Z), a.yaw
        x, y = to_world((a.x, a.y), a.yaw, self.hand[0], self.hand[1])
        return (x, y, self.hand[2]), a.yaw

    def _require_agent(self) -> AgentPose:
        if self.agent is None:
            raise RuntimeError("no character spawned")
        return self.agent

    def _in_reach(self, x: float, y: float) -> bool:
        a = self._require_agent()
        d = math.hypot(x - a.x, y - a.y)
        return d <= self.mags.interact_cm and abs(bearing_to(a.x, a.y, a.yaw, x, y)) <= self.mags.interact_deg

    def door_center(self, name: str) -> tuple[float, float]:
        loc, yaw = self.poses[name]
        return to_world(loc, yaw, 0.0, 60.0)

    def nearest(self, names, pred) -> str | None:
        a = self._require_agent()
        best = None
        for n in names:
            x, y = pred(n)
            d = math.hypot(x - a.x, y - a.y)
            if self._in_reach(x, y) and (best is None or d < best[0]):
                best = (d, n)
        return best[1] if best else None

    def open_door(self) -> str | None:
        """Open the nearest closed door within reach in front of the agent; its name, or None."""
        closed = [n for n, is_open in self.door_open.items() if not is_open]
        name = self.nearest(closed, self.door_center)
        if name:
            loc, yaw = self.poses[name]
            self.door_open[name] = True
            self.poses[name] = (loc, wrap_deg(yaw + self.obj(name).open_yaw))
            self.rebuild_grid()
        return name

    def pickup(self) -> str | None:
        if self.held:
            return None
        pick = [o.name for o in self.world.objects if o.pickable]
        name = self.nearest(pick, lambda n: self.poses[n][0][:2])
        if name:
            self.held = name
            self.poses[name] = self.hand_pose()
        return name

    def drop(self) -> tuple[str, tuple[float, float, float]] | None:
        if not self.held:
            return None
        a = self._require_agent()
        x, y = to_world((a.x, a.y), a.yaw, self.mags.drop_cm, 0.0)
        name, self.held = self.held, None
        loc = (round(x, 2), round(y, 2), 0.0)
        self.poses[name] = (loc, a.yaw)
        return name, loc

    def hidden(self) -> frozenset[str]:
        return frozenset([self.held]) if self.held else frozenset()
