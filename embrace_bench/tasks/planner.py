"""Shortest discrete action plans with privileged map state (A* over the real physics).

Used by the task generator to write each task's oracle demo (its length is s_opt) and by the oracle
agent. Plans run on the same WorldState the engine runs, so a plan replays exactly.

EmbRACE release tasks (with success regions) are planned to their regions instead of a radius: a stage is
reached inside its character region; Open Door opens the door nearest the final target (the release names
none); Pick & Drop picks the object the env spawns at PD_Start_Pose and, for PD_Type "pd", drops it where it
lands inside the object region ("p": carries it into the region).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, replace
from typing import Callable

from embrace_bench.actions import MOTIONS, Action, Magnitudes
from embrace_bench.tasks.model import Task, TaskType
from embrace_bench.tasks.regions import in_polygons
from embrace_bench.world.scene import WorldMap, WorldObject, to_world
from embrace_bench.world.sim import AGENT_RADIUS, AGENT_Z, WorldState, bearing_to

GOAL_CM = 220.0  # plan to within this of a target: a margin under the 300 cm success radius
MAX_EXPAND = 40000

Goal = Callable[[float, float, float], bool]


class NoPlan(RuntimeError):
    pass


@dataclass
class _Node:
    x: float
    y: float
    yaw: float


def navigate(state: WorldState, goal: Goal, target_xy: tuple[float, float], radius: float) -> list[str]:
    """Fewest MoveForward/TurnLeft/TurnRight from the agent's pose to a pose satisfying `goal`."""
    a = state._require_agent()
    mags = state.mags
    if goal(a.x, a.y, a.yaw):
        return []

    def h(x: float, y: float) -> float:
        return max(0.0, math.hypot(target_xy[0] - x, target_xy[1] - y) - radius) / mags.forward_cm

    def key(x: float, y: float, yaw: float) -> tuple[int, int, int]:
        if bins:  # turns that divide 360: heading bins (the frozen embedded suite was planned with these)
            return (round(x / 25.0), round(y / 25.0), round(yaw / mags.turn_deg) % bins)
        # 25 deg turns (the release's) reach 72 headings, not round(360 / 25) = 14 bins: key the exact heading
        return (round(x / 25.0), round(y / 25.0), round(yaw % 360.0 * 10.0) % 3600)

    steps = 360.0 / mags.turn_deg
    bins = round(steps) if abs(steps - round(steps)) < 1e-9 else 0

    start = _Node(a.x, a.y, a.yaw)
    tie = 0
    frontier: list[tuple[float, int, int, _Node, tuple[str, ...]]] = [(h(a.x, a.y), 0, tie, start, ())]
    seen = {key(a.x, a.y, a.yaw): 0}
    expanded = 0
    while frontier:
        _, g, _, node, path = heapq.heappop(frontier)
        if goal(node.x, node.y, node.yaw):
            return list(path)
        expanded += 1
        if expanded > MAX_EXPAND:
            break
        for act in (Action.MoveForward, Action.TurnLeft, Action.TurnRight):
            if act == Action.MoveForward:
                nx, ny, _hit = state.grid.sweep(node.x, node.y, node.yaw, mags.forward_cm)
                if math.hypot(nx - node.x, ny - node.y) < 1.0:
                    continue
                nyaw = node.yaw
            else:
                nx, ny = node.x, node.y
                nyaw = node.yaw + (mags.turn_deg if act == Action.TurnRight else -mags.turn_deg)
                nyaw = (nyaw + 180.0) % 360.0 - 180.0
            k = key(nx, ny, nyaw)
            if seen.get(k, 1 << 30) <= g + 1:
                continue
            seen[k] = g + 1
            tie += 1
            heapq.heappush(frontier, (g + 1 + h(nx, ny), g + 1, tie, _Node(nx, ny, nyaw), path + (act,)))
    raise NoPlan(f"no path to {target_xy} within {MAX_EXPAND} expansions")


def _apply(state: WorldState, actions: list[str]) -> None:
    """Advance the state by navigation actions, exactly as the engine would."""
    for act in actions:
        execute(state, act)


def near(tx: float, ty: float, radius: float = GOAL_CM) -> Goal:
    return lambda x, y, yaw: math.hypot(tx - x, ty - y) <= radius


def in_reach(state: WorldState, tx: float, ty: float, also: Goal | None = None, min_cm: float = 0.0) -> Goal:
    """Facing the target within reach (`min_cm`: and not standing on it)."""
    m = state.mags
    margin = 0.9  # plan well inside the reach so the interaction cannot miss

    def goal(x: float, y: float, yaw: float) -> bool:
        d = math.hypot(tx - x, ty - y)
        ok = min_cm <= d <= m.interact_cm * margin and abs(bearing_to(x, y, yaw, tx, ty)) <= m.interact_deg * margin
        return ok and (also is None or also(x, y, yaw))

    return goal


def in_region(polygons: list[dict]) -> Goal:
    return lambda x, y, yaw: in_polygons((x, y), polygons)


def _region_goal(task: Task, stage: int) -> tuple[Goal, tuple[float, float], float]:
    """(goal, heuristic target, heuristic radius) for reaching stage `stage` (0 first, -1 final)."""
    t = task.target_poses[stage]
    if not task.regions:
        return near(t[0], t[1]), (t[0], t[1]), GOAL_CM
    last = stage == -1 or stage == len(task.target_poses) - 1
    polygons = task.regions["final" if last else "midway"]["character"]
    # The farthest region vertex from the target bounds how far inside the region can lie: admissible.
    reach = max(math.hypot(px - t[0], py - t[1]) for poly in polygons for px, py in poly["outer"])
    return in_region(polygons), (t[0], t[1]), reach


def with_spawned_object(world: WorldMap, task: Task) -> WorldMap:
    """The map plus the release's Pick & Drop object where the env spawns it (PD_Start_Pose), pickable and
    without a collision footprint, as the UnrealZoo stand-in spawns it; the map's own pickable objects are
    left out, as the release destroys the pre-placed ones (the task's object is the only one to pick)."""
    if task.pick_start_pose is None or not task.pick_object or any(o.name == task.pick_object for o in world.objects):
        return world
    x, y, z, _, yaw, _ = task.pick_start_pose
    obj = WorldObject(task.pick_object, "object", "", (x, y, z), yaw, [], footprint=None, pickable=True)
    return replace(world, objects=[o for o in world.objects if not o.pickable] + [obj])


def nearest_door(state: WorldState, xy) -> str:
    """The door the release's Open Door task means: it names none, so the one nearest the final target."""
    doors = [n for n in state.door_open]
    if not doors:
        raise NoPlan(f"map {state.world.name} has no door")
    return min(doors, key=lambda n: math.hypot(state.door_center(n)[0] - xy[0], state.door_center(n)[1] - xy[1]))


def plan_task(task: Task, world: WorldMap, state: WorldState | None = None,
              mags: Magnitudes | None = None) -> list[str]:
    """The oracle's full action list for a task, ending with Finish (`mags`: the env's action magnitudes)."""
    state = state or WorldState(with_spawned_object(world, task), mags=mags or Magnitudes())
    sx, sy, _, _, syaw, _ = task.start_pose
    state.place_agent(sx, sy, syaw)
    plan: list[str] = []

    def go(goal: Goal, txy, radius=GOAL_CM) -> None:
        steps = navigate(state, goal, txy, radius)
        _apply(state, steps)
        plan.extend(steps)

    final = task.target_poses[-1]
    at_final, final_xy, final_r = _region_goal(task, -1)
    if task.type == TaskType.MULTI_STAGE and len(task.target_poses) > 1:
        go(*_region_goal(task, 0))
        plan.append(Action.MidwayTarget)
    if task.type == TaskType.OPEN_DOOR:
        door = task.door or nearest_door(state, final_xy)
        dx, dy = state.door_center(door)
        go(in_reach(state, dx, dy, at_final), (dx, dy))
        if state.open_door() != door:
            raise NoPlan(f"{task.task_id}: OpenDoor would not open {door}")
        plan.append(Action.OpenDoor)
    elif task.type == TaskType.PICK_DROP:
        spawn = task.pick_start_pose or task.pick_pose
        if spawn is None:
            raise ValueError(f"{task.task_id}: a Pick & Drop task without the object's pose")
        px, py = spawn[:2]
        # Not on top of it: the release's Pick acts only on an object some way off (its reach is the env's
        # interact_cm: its magnitudes say what a Pick reaches there).
        go(in_reach(state, px, py, min_cm=AGENT_RADIUS if task.regions else 0.0), (px, py))
        if state.pickup() != task.pick_object:
            raise NoPlan(f"{task.task_id}: PickObject would not pick {task.pick_object}")
        plan.append(Action.PickObject)
        if task.pd_type == "p":  # carried into both regions and held at Finish
            go(_lands_in(task, state.mags.drop_cm, at_final, final, behind=False), final_xy, final_r)
        else:
            go(_lands_in(task, state.mags.drop_cm, at_final, final), final[:2])
            state.drop()
            plan.append(Action.DropObject)
    else:
        go(at_final, final_xy, final_r)
    plan.append(Action.Finish)
    return plan


def _lands_in(task: Task, drop: float, at_final: Goal, final, behind: bool = True) -> Goal:
    """Where to stand so the object ends at the target: within the radius of the point `drop` ahead, or for a
    release task in its regions under either model of the object's place: the embedded world's (`drop` ahead,
    or in the hand), or the release's Drop by reset (the character steps back, the object is placed about
    where it stood) -- the object region holds both the spot and the point `drop` ahead, and the character
    region the spot and (`behind`, for a drop) the point `drop` back."""
    obj = task.regions["final"]["object"] if task.regions else None

    def goal(x, y, yaw):
        lx, ly = to_world((x, y), yaw, drop, 0.0)
        if obj is None:
            return (math.hypot(final[0] - lx, final[1] - ly) <= GOAL_CM
                    and math.hypot(final[0] - x, final[1] - y) <= GOAL_CM)
        bx, by = to_world((x, y), yaw, -drop, 0.0)
        return (at_final(x, y, yaw) and in_polygons((x, y), obj) and in_polygons((lx, ly), obj)
                and (not behind or at_final(bx, by, yaw)))

    return goal


def execute(state: WorldState, action: str) -> None:
    """Advance the state by one action exactly as the engine does when UnrealEnv sends it."""
    m = state.mags
    if action in MOTIONS:
        moves: dict[str, tuple[float, float]] = {
            Action.MoveForward: (0.0, m.forward_cm), Action.MoveBackward: (0.0, -m.backward_cm),
            Action.TurnLeft: (-m.turn_deg, 0.0), Action.TurnRight: (m.turn_deg, 0.0)}
        turn, dist = moves[action]
        state.move(turn, dist)
    elif action == Action.OpenDoor:
        state.open_door()
    elif action == Action.PickObject and state.held is None:
        state.pickup()
    elif action == Action.DropObject and state.held is not None:
        state.drop()


def _reported(state: WorldState) -> list[float]:
    """The pose as the engine reports it (3 decimals) and UnrealEnv records it: [x, y, z, pitch, yaw, roll]."""
    a = state._require_agent()
    return [float(f"{a.x:.3f}"), float(f"{a.y:.3f}"), AGENT_Z, 0.0, float(f"{a.yaw:.3f}"), 0.0]


def demo_poses(task: Task, world: WorldMap) -> list[list[float]]:
    """The demo's trajectory: the start pose, then the pose after each of its actions (Trajectory_Pose)."""
    state = WorldState(world)
    sx, sy, _, _, syaw, _ = task.start_pose
    state.place_agent(sx, sy, syaw)
    poses = [_reported(state)]
    for action in task.demo_actions:
        execute(state, action)
        poses.append(_reported(state))
    return poses
