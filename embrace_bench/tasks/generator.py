"""The seeded generator of the bundled embedded suite.

`python -m embrace_bench.tasks.generator` rewrites the frozen files under tasks/data/embedded/; a test
regenerates them and compares bytes. Each task passes three checks before it is kept: its reference
resolves to exactly one object from the start pose, its type's visibility condition holds (the target in
view for Basic and ordinal references, out of view for Exploration), and the planner finds a demo that
fits the step limit.
"""
from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path
from typing import Callable

from embrace_bench.tasks.model import TYPES, Task, TaskType
from embrace_bench.tasks.planner import NoPlan, demo_poses, plan_task
from embrace_bench.tasks.references import Reference, is_unique_label, resolve, side_candidates, targetable
from embrace_bench.tasks.suite import embedded_json
from embrace_bench.world.mapgen import FAMILIES, generate_map
from embrace_bench.world.scene import WorldMap, WorldObject, to_world
from embrace_bench.world.sim import AGENT_Z, OccupancyGrid, WorldState, bearing_to

DATA_DIR = Path(__file__).parent / "data" / "embedded"
SEED = 3042025
MAPS_PER_FAMILY = {"id": 4, "ood": 5}
QUOTAS: dict[str, dict[str, int]] = {  # tasks per type, the EmbRACE-3K v1 test split sizes
    "id": {TaskType.BASIC: 140, TaskType.EXPLORATION: 28, TaskType.SPATIAL_SEMANTIC: 35, TaskType.MULTI_STAGE: 22,
           TaskType.OPEN_DOOR: 91, TaskType.PICK_DROP: 34},
    "ood": {TaskType.BASIC: 216, TaskType.EXPLORATION: 55, TaskType.SPATIAL_SEMANTIC: 59, TaskType.MULTI_STAGE: 37,
            TaskType.OPEN_DOOR: 66, TaskType.PICK_DROP: 24},
}
MAX_DEMO = 31  # the demo (Finish included) must leave room under the 32-step limit
VIEW_HALF_DEG = 38.0  # "in view" for the generator: well inside the 45 degree half-FOV
OUT_OF_VIEW_DEG = 75.0
OCCLUDER_CM = 120.0  # objects at least this tall hide what is behind them

TEMPLATES: dict[str, list[str]] = {
    TaskType.BASIC: ["Walk to {t}.", "Go to {t} in front of you.", "Head over to {t} and stop next to it.",
          "Can you get close to {t}?", "Approach {t} and finish there.", "Move to {t}."],
    TaskType.EXPLORATION: ["Find {t} and go to it; it is not in view right now.",
          "Look around for {t} and walk up to it.",
          "Somewhere nearby there is {t}. Locate it and stand next to it.",
          "Turn around and search for {t}, then go there.", "{T} is out of sight. Find it and walk over."],
    TaskType.SPATIAL_SEMANTIC: ["Go to {t}.", "Walk over to {t}.", "Your target is {t}; go and stand next to it.",
          "Make your way to {t}.", "Please move to {t}."],
    TaskType.MULTI_STAGE: ["First go to {a}, then walk to {b}.", "Go to {a}; after that, head to {b}.",
          "Visit {a} first and then continue to {b}.", "Walk to {a}, and once there, move on to {b}."],
    TaskType.OPEN_DOOR: ["Go to {h} and open its door.", "Open the front door of {h}.",
            "Walk up to {h} and open the door.", "Head to {h}, then open its door."],
    TaskType.PICK_DROP: ["Pick up {o} and drop it next to {l}.", "Take {o} to {l} and put it down there.",
            "Carry {o} over to {l} and drop it.", "Grab {o}, bring it to {l} and set it down."],
}


def _height(o: WorldObject) -> float:
    return max(p.center[2] + p.size[2] / 2 for p in o.parts)


class MapTasks:
    """Generates the tasks of one map."""

    def __init__(self, world: WorldMap, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.state = WorldState(world)
        self.occluders = {o.name: o for o in world.objects if _height(o) >= OCCLUDER_CM}
        self._occlusion: dict[str, OccupancyGrid] = {}

    # ---- geometry ----------------------------------------------------------------------------
    def visible(self, start, obj: WorldObject, max_cm: float = 3500.0) -> bool:
        x, y, yaw = start[0], start[1], start[4]
        tx, ty = obj.location[:2]
        d = math.hypot(tx - x, ty - y)
        if d > max_cm or abs(bearing_to(x, y, yaw, tx, ty)) > VIEW_HALF_DEG:
            return False
        grid = self._occlusion.get(obj.name)
        if grid is None:  # what can hide this object: every tall object but itself
            grid = self._occlusion[obj.name] = OccupancyGrid(self.world.bounds, radius=0.0)
            for o in self.occluders.values():
                if o.name != obj.name:
                    grid.add(o, o.location, o.yaw)
        n = int((d - 120.0) // 25.0)
        return all(grid.free(x + (tx - x) * k * 25.0 / d, y + (ty - y) * k * 25.0 / d) for k in range(1, max(n, 1)))

    def free_start(self, near_xy=None, dist=(600.0, 2000.0), tries: int = 200):
        """A free start position (optionally at a distance band from a point)."""
        x0, y0, x1, y1 = self.world.bounds
        for _ in range(tries):
            if near_xy is None:
                x, y = self.rng.uniform(x0 + 300, x1 - 300), self.rng.uniform(y0 + 300, y1 - 300)
            else:
                a, r = self.rng.uniform(0, 2 * math.pi), self.rng.uniform(*dist)
                x, y = near_xy[0] + r * math.cos(a), near_xy[1] + r * math.sin(a)
            if self.state.grid.free(x, y):
                return round(x, 1), round(y, 1)
        return None

    def facing(self, xy, target_xy, offset: float) -> list[float]:
        yaw = math.degrees(math.atan2(target_xy[1] - xy[1], target_xy[0] - xy[0])) + offset
        yaw = round((yaw + 180.0) % 360.0 - 180.0, 1)
        return [xy[0], xy[1], AGENT_Z, 0.0, yaw, 0.0]

    @staticmethod
    def pose(o: WorldObject) -> list[float]:
        return [o.location[0], o.location[1], o.location[2], 0.0, o.yaw, 0.0]

    def unique_targets(self, pred=lambda o: True) -> list[WorldObject]:
        return [o for o in targetable(self.world) if is_unique_label(self.world, o) and pred(o)]

    # ---- one candidate per type; None when this draw does not make a valid task --------------
    def basic(self):
        t = self.rng.choice(self.unique_targets(
            lambda o: not o.pickable and o.category not in ("house", "kiosk", "office")))
        xy = self.free_start(t.location, (600.0, 2200.0))
        if xy is None:
            return None
        start = self.facing(xy, t.location, self.rng.uniform(-25, 25))
        if not self.visible(start, t):
            return None
        return dict(start=start, targets=[t], ref=[Reference("label", t.category, t.color)])

    def exploration(self):
        t = self.rng.choice(self.unique_targets(
            lambda o: not o.pickable and o.category not in ("house", "kiosk", "office")))
        xy = self.free_start(t.location, (800.0, 3000.0))
        if xy is None:
            return None
        start = self.facing(xy, t.location, self.rng.choice((-1, 1)) * self.rng.uniform(OUT_OF_VIEW_DEG + 10, 180))
        return dict(start=start, targets=[t], ref=[Reference("label", t.category, t.color)])

    def spatial(self):
        cats = sorted({o.category for o in targetable(self.world) if not o.pickable
                       and sum(p.category == o.category for p in targetable(self.world)) >= 2
                       and o.category not in ("house", "kiosk", "office")})
        if not cats:
            return None
        cat = self.rng.choice(cats)
        if self.rng.random() < 0.5:  # "the second trash can on your left"
            target = self.rng.choice([o for o in targetable(self.world) if o.category == cat])
            xy = self.free_start(target.location, (700.0, 2200.0))
            if xy is None:
                return None
            side = self.rng.choice(("left", "right"))
            offset = self.rng.uniform(15.0, 35.0)  # the target sits this far to one side of the view
            start = self.facing(xy, target.location, -offset if side == "right" else offset)
            cands = side_candidates(self.world, cat, start, side)
            if len(cands) < 2 or target not in cands or cands.index(target) > 3:
                return None
            ref = Reference("ordinal", cat, ordinal=cands.index(target), side=side)
        else:  # "the bench closest to the red car"
            anchors = self.unique_targets(lambda o: o.category != cat)
            anchor = self.rng.choice(anchors)
            ref = Reference("anchor", cat, anchor=anchor.name)
            found = resolve(ref, self.world, None)
            if len(found) != 1:
                return None
            target = found[0]
            xy = self.free_start(target.location, (700.0, 2500.0))
            if xy is None:
                return None
            start = self.facing(xy, target.location, self.rng.uniform(-40, 40))
        return dict(start=start, targets=[target], ref=[ref])

    def multistage(self):
        pool = self.unique_targets(lambda o: not o.pickable and o.category not in ("house", "kiosk", "office"))
        a = self.rng.choice(pool)
        seconds = [b for b in pool if 800 <= math.dist(a.location[:2], b.location[:2]) <= 2200]
        if not seconds:
            return None
        b = self.rng.choice(seconds)
        xy = self.free_start(a.location, (600.0, 1800.0))
        if xy is None:
            return None
        start = self.facing(xy, a.location, self.rng.uniform(-60, 60))
        return dict(start=start, targets=[a, b],
                    ref=[Reference("label", a.category, a.color), Reference("label", b.category, b.color)])

    def door(self):
        doors = [o for o in self.world.objects if o.door]
        d = self.rng.choice(doors)
        house = self.world.obj(d.house)
        front = to_world(d.location, d.yaw, 150.0, 60.0)
        xy = self.free_start(front, (600.0, 2200.0))
        if xy is None:
            return None
        start = self.facing(xy, front, self.rng.uniform(-60, 60))
        target = [round(front[0], 1), round(front[1], 1), 0.0, 0.0, round(d.yaw + 180.0, 1), 0.0]
        return dict(start=start, targets=[d], ref=[Reference("label", house.category, house.color)],
                    target_poses=[target])

    def pick_drop(self):
        picks = [o for o in self.unique_targets(lambda o: o.pickable)
                 if all(p.name == o.name or math.dist(p.location[:2], o.location[:2]) > 500
                        for p in self.world.objects if p.pickable)]
        marks = self.unique_targets(lambda o: not o.pickable and o.category not in ("house", "kiosk", "office"))
        if not picks:
            return None
        o = self.rng.choice(picks)
        marks = [m for m in marks if 600 <= math.dist(o.location[:2], m.location[:2]) <= 2000]
        if not marks:
            return None
        lm = self.rng.choice(marks)
        xy = self.free_start(o.location, (500.0, 1500.0))
        if xy is None:
            return None
        start = self.facing(xy, o.location, self.rng.uniform(-60, 60))
        return dict(start=start, targets=[o, lm],
                    ref=[Reference("label", o.category, o.color), Reference("label", lm.category, lm.color)])

    def make(self, type_code: str, task_id: str) -> Task | None:
        draws: dict[str, Callable[[], dict | None]] = {
            TaskType.BASIC: self.basic, TaskType.EXPLORATION: self.exploration,
            TaskType.SPATIAL_SEMANTIC: self.spatial, TaskType.MULTI_STAGE: self.multistage,
            TaskType.OPEN_DOOR: self.door, TaskType.PICK_DROP: self.pick_drop}
        draw = draws[type_code]()
        if draw is None:
            return None
        start, targets, refs = draw["start"], draw["targets"], draw["ref"]
        for ref, obj in zip(refs, targets if type_code != TaskType.OPEN_DOOR else [self.world.obj(targets[0].house)]):
            if [o.name for o in resolve(ref, self.world, start)] != [obj.name]:
                return None  # ambiguous from here: reject
        phrases = [r.phrase(self.world) for r in refs]
        tmpl = self.rng.choice(TEMPLATES[type_code])
        fill = {"t": phrases[0], "T": phrases[0][:1].upper() + phrases[0][1:], "a": phrases[0],
                "b": phrases[-1], "h": phrases[0], "o": phrases[0], "l": phrases[-1]}
        target_poses = draw.get("target_poses") or [self.pose(o) for o in targets]
        task = Task(
            task_id=task_id, map=self.world.name, split=self.world.split, type=type_code,
            instruction=tmpl.format(**fill), start_pose=start,
            target_poses=target_poses if type_code == TaskType.MULTI_STAGE else target_poses[-1:],
            target_objects=[o.name for o in targets],
            reason=f"reference kinds: {', '.join(r.kind for r in refs)}",
            door=targets[0].name if type_code == TaskType.OPEN_DOOR else None,
            pick_pose=self.pose(targets[0]) if type_code == TaskType.PICK_DROP else None,
            pick_object=targets[0].name if type_code == TaskType.PICK_DROP else None,
            distractors=sorted(o.name for o in targetable(self.world)
                               if o.category == targets[-1].category and o.name != targets[-1].name),
            scene_description=self.world.description,
        )
        if type_code == TaskType.EXPLORATION and self.visible(start, targets[0], max_cm=1e9):
            return None
        if type_code == TaskType.BASIC or refs[0].kind == "ordinal":
            if not self.visible(start, targets[0]):
                return None
        try:
            task.demo_actions = plan_task(task, self.world)
        except NoPlan:
            return None
        if len(task.demo_actions) > MAX_DEMO:
            return None
        task.demo_poses = demo_poses(task, self.world)  # what check-replay compares a replay with
        return task


def build_maps(seed: int = SEED) -> list[WorldMap]:
    maps = []
    for split, fams in FAMILIES.items():
        for fam in fams:
            for k in range(MAPS_PER_FAMILY[split]):
                maps.append(generate_map(fam, seed % 1000 + k * 7 + (100 if split == "ood" else 0), split))
    return maps


def describe(world: WorldMap) -> str:
    counts: dict[str, int] = {}
    for o in world.objects:
        if o.color and o.category != "door":
            counts[o.category] = counts.get(o.category, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    return f"{world.description} Around you: " + ", ".join(f"{n} {c}{'s' if n > 1 else ''}" for c, n in top) + "."


def generate(seed: int = SEED) -> tuple[list[WorldMap], dict[str, list[Task]]]:
    maps = build_maps(seed)
    for m in maps:
        m.description = describe(m)
    suites: dict[str, list[Task]] = {}
    for split in ("id", "ood"):
        split_maps = [m for m in maps if m.split == split]
        makers = [MapTasks(m, random.Random(f"{seed}:{m.name}")) for m in split_maps]
        tasks: list[Task] = []
        for t in TYPES:
            for n in range(QUOTAS[split][t]):
                task_id = f"{split}-{t.replace('.', '_')}-{n:03d}"
                for attempt in range(400):  # a map that keeps failing hands the task to the next map
                    task = makers[(n + attempt // 50) % len(makers)].make(t, task_id)
                    if task is not None:
                        break
                else:
                    raise RuntimeError(f"could not generate {task_id}")
                tasks.append(task)
        suites[split] = tasks
    return maps, suites


def dump(maps: list[WorldMap], suites: dict[str, list[Task]], out: Path = DATA_DIR) -> None:
    (out / "maps").mkdir(parents=True, exist_ok=True)
    for m in maps:
        (out / "maps" / f"{m.name}.json").write_text(json.dumps(m.to_json(), separators=(",", ":")) + "\n")
    for split, tasks in suites.items():
        (out / f"tasks_{split}.json").write_text(embedded_json(tasks))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m embrace_bench.tasks.generator", description=__doc__)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, default=DATA_DIR)
    args = ap.parse_args(argv)
    maps, suites = generate(args.seed)
    dump(maps, suites, args.out)
    print(f"wrote {len(maps)} maps and {sum(map(len, suites.values()))} tasks to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
