"""Recorded runs whose answers imitate model mistakes, for labelling failure tags (issue 13).

Each chosen task gets one scripted mistake built from its oracle demo and the map (privileged state, only
to write the answers): heading for a distractor of the wrong colour, mirrored turns (the wrong side),
giving up early, stopping one step short, turning away after coming close (forgetting), walking into an
obstacle, circling, skipping or stopping at a multi-stage subgoal, interactions left out, tried out of
reach or dropped elsewhere, and unparseable answers. The answers are written as a replay source
(`<out>/source/episodes.jsonl`) and run through the real harness with `model=replay`, so the records,
frames and tags come from the embedded world exactly as a model's would.

    python bench/mistake_runs.py --out /tmp/mistakes --per-type 6 [--seed 0] [--skip-ids FILE] [--dry-run]
"""
from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
from pathlib import Path

from embrace_bench.actions import INTERACTIONS, OPPOSITE_TURN, TURNS, Action, format_response
from embrace_bench.records import EpisodeRecord, StepRecord, TaskInfo, record_line
from embrace_bench.run_dir import RunDir
from embrace_bench.tasks.maps import load_map
from embrace_bench.tasks.model import NAVIGATION_TYPES, Task, TaskType
from embrace_bench.tasks.planner import GOAL_CM, NoPlan, execute, navigate, near
from embrace_bench.tasks.suite import load_embedded
from embrace_bench.world.sim import WorldState

MAX_STEPS = 32
GARBAGE = ("I am not sure where to go. Maybe left?", "<think>the target is ahead</think> go forward",
           "<action>Jump</action>", "Action: walk to the red car")
NAV = NAVIGATION_TYPES
MODES: dict[str, tuple[str, ...]] = {  # mistake -> task types it applies to
    "wrong_colour": NAV + (TaskType.MULTI_STAGE,),
    "wrong_side": NAV + (TaskType.MULTI_STAGE, TaskType.OPEN_DOOR, TaskType.PICK_DROP),
    "give_up": NAV + (TaskType.MULTI_STAGE, TaskType.OPEN_DOOR, TaskType.PICK_DROP),
    "near_miss": NAV + (TaskType.MULTI_STAGE,),
    "forget_after_turn": NAV + (TaskType.MULTI_STAGE, TaskType.OPEN_DOOR, TaskType.PICK_DROP),
    "stuck": NAV + (TaskType.MULTI_STAGE, TaskType.OPEN_DOOR, TaskType.PICK_DROP),
    "looping": NAV + (TaskType.MULTI_STAGE,),
    "skip_midway": (TaskType.MULTI_STAGE,),
    "midway_then_stop": (TaskType.MULTI_STAGE,),
    "no_interaction": (TaskType.OPEN_DOOR, TaskType.PICK_DROP),
    "interact_early": (TaskType.OPEN_DOOR, TaskType.PICK_DROP),
    "drop_elsewhere": (TaskType.PICK_DROP,),
    "invalid_answers": NAV + (TaskType.MULTI_STAGE, TaskType.OPEN_DOOR, TaskType.PICK_DROP),
}


def _state(task: Task) -> WorldState:
    s = WorldState(load_map(task.map))
    x, y, _, _, yaw, _ = task.start_pose
    s.place_agent(x, y, yaw)
    return s


def _poses(task: Task, actions: list[str]) -> list[tuple[float, float]]:
    """Agent XY before the first action and after each one."""
    s = _state(task)
    out = [(s.agent.x, s.agent.y)]
    for a in actions:
        execute(s, a)
        out.append((s.agent.x, s.agent.y))
    return out


def _dist(p, q) -> float:
    return math.hypot(p[0] - q[0], p[1] - q[1])


def _demo_nav(task: Task) -> list[str]:
    return [a for a in task.demo_actions if a != Action.Finish]


def wrong_colour(task: Task, rng: random.Random) -> list[str] | None:
    """Walk to the nearest same-category distractor instead of the referent, then Finish there."""
    world = load_map(task.map)
    prefix = []
    if task.type == TaskType.MULTI_STAGE:  # the first stage right, the wrong object at the second
        prefix = task.demo_actions[: task.demo_actions.index(Action.MidwayTarget) + 1]
    s = _state(task)
    for a in prefix:
        execute(s, a)
    final = task.target_poses[-1][:2]
    for name in sorted(task.distractors, key=lambda n: _dist(world.obj(n).location, (s.agent.x, s.agent.y))):
        loc = world.obj(name).location[:2]
        if _dist(loc, final) < 450:  # too close to the referent to be a clear mistake
            continue
        try:
            return prefix + navigate(s, near(*loc), loc, GOAL_CM) + [Action.Finish]
        except NoPlan:
            continue
    return None


def wrong_side(task: Task, rng: random.Random) -> list[str]:
    return [OPPOSITE_TURN.get(a, a) for a in task.demo_actions]


def give_up(task: Task, rng: random.Random) -> list[str]:
    nav = _demo_nav(task)
    k = max(1, int(len(nav) * rng.uniform(0.25, 0.55)))
    return nav[:k] + [Action.Finish]


def near_miss(task: Task, rng: random.Random) -> list[str] | None:
    """Stop where the goal is 300-460 cm away on the way in (after the MidwayTarget on multi-stage)."""
    nav = _demo_nav(task)
    start = nav.index(Action.MidwayTarget) + 1 if Action.MidwayTarget in nav else 0
    xy, goal = _poses(task, nav), task.target_poses[-1][:2]
    for k in range(len(nav), start, -1):
        d = _dist(xy[k], goal)
        if 310 < d <= 460:
            return nav[:k] + [Action.Finish]
    return None


def forget_after_turn(task: Task, rng: random.Random) -> list[str]:
    """Come most of the way, then turn away and walk off (or keep wandering until the step limit)."""
    nav = _demo_nav(task)
    k = max(1, int(len(nav) * rng.uniform(0.6, 0.85)))
    turn = rng.choice(TURNS)
    tail = [turn] * rng.randint(3, 6) + [Action.MoveForward] * rng.randint(2, 4)
    wander = (Action.TurnLeft, Action.MoveForward)
    end = [Action.Finish] if rng.random() < 0.6 else [rng.choice(wander) for _ in range(MAX_STEPS)]
    return nav[:k] + tail + end


def stuck(task: Task, rng: random.Random) -> list[str]:
    """Walk ahead until blocked, then keep pushing into the obstacle, now and then turning a little."""
    s, out = _state(task), []
    while len(out) < 14:
        execute(s, Action.MoveForward)
        out.append(Action.MoveForward)
        if s.last_hit:
            break
    side = rng.choice(TURNS)
    push = [Action.MoveForward, Action.MoveForward, side, Action.MoveForward, Action.MoveForward,
            OPPOSITE_TURN[side], Action.MoveForward, Action.MoveForward]
    out += push
    return out + ([Action.Finish] if rng.random() < 0.5 else [Action.MoveForward] * MAX_STEPS)


def looping(task: Task, rng: random.Random) -> list[str]:
    """Go round a triangle (forward, then four 30-degree turns) until the step limit or a Finish."""
    turn = rng.choice(TURNS)
    lap = ([Action.MoveForward] + [turn] * 4) * 3
    out = _demo_nav(task)[: rng.randint(0, 3)] + lap * 2
    return out + ([Action.Finish] if rng.random() < 0.5 else lap * 3)


def skip_midway(task: Task, rng: random.Random) -> list[str] | None:
    s = _state(task)
    goal = task.target_poses[-1][:2]
    try:
        return navigate(s, near(*goal), goal, GOAL_CM) + [Action.Finish]
    except NoPlan:
        return None


def midway_then_stop(task: Task, rng: random.Random) -> list[str]:
    """Right subgoal 1, then a little way towards subgoal 2 (or away) and Finish."""
    nav = _demo_nav(task)
    m = nav.index(Action.MidwayTarget)
    rest = nav[m + 1:]
    tail = rest[: rng.randint(0, max(0, len(rest) // 3))]
    if rng.random() < 0.4:
        tail = [rng.choice(TURNS)] * 3 + [Action.MoveForward] * 2
    return nav[: m + 1] + tail + [Action.Finish]


def no_interaction(task: Task, rng: random.Random) -> list[str]:
    return [a for a in task.demo_actions if a not in INTERACTIONS]


def interact_early(task: Task, rng: random.Random) -> list[str]:
    """Issue the interaction halfway there (out of reach), then walk on and finish without it."""
    key = Action.OpenDoor if task.type == TaskType.OPEN_DOOR else Action.PickObject
    nav = _demo_nav(task)
    i = nav.index(key)
    k = max(1, int(i * rng.uniform(0.3, 0.6)))
    return nav[:k] + [key] + [a for a in nav[k:] if a != key] + [Action.Finish]


def drop_elsewhere(task: Task, rng: random.Random) -> list[str]:
    """Pick the object up correctly, then drop it after a few steps in the wrong direction."""
    nav = _demo_nav(task)
    i = nav.index(Action.PickObject)
    turn = rng.choice(TURNS)
    return nav[: i + 1] + [turn] * 3 + [Action.MoveForward] * rng.randint(1, 3) + [Action.DropObject, Action.Finish]


def invalid_answers(task: Task, rng: random.Random) -> list[str]:
    """Part of the way with unparseable answers mixed in (None marks one), then Finish."""
    nav = _demo_nav(task)
    out = list(nav[: max(1, int(len(nav) * rng.uniform(0.3, 0.7)))])
    for _ in range(rng.randint(2, 4)):
        out.insert(rng.randint(0, len(out)), None)
    return out + [Action.Finish]


def answers(task: Task, mode: str, seed: int) -> list[str | None] | None:
    rng = random.Random(f"{seed}:{task.task_id}:{mode}")
    acts = globals()[mode](task, rng)
    return acts[:MAX_STEPS] if acts else None


def source_record(task: Task, acts: list[str | None], mode: str, seed: int) -> EpisodeRecord:
    """A replay source record: only the answers matter to model=replay."""
    rng = random.Random(f"{seed}:{task.task_id}:text")
    steps = []
    for i, a in enumerate(acts):
        if a is None:
            bad = rng.choice(GARBAGE)
            steps.append(StepRecord(i, None, raw_response=bad, reask_responses=[bad] * 3, valid=False))
        else:
            steps.append(StepRecord(i, a, raw_response=format_response(a, f"scripted mistake: {mode}")))
    info = TaskInfo(task.instruction, task.target_poses, task.target_objects)
    return EpisodeRecord(task.task_id, task.type, task.split, task.map, "mistakes", "finished", False, 0.0, 0.0,
                         len(steps), task.s_opt, info, steps=steps)


def choose(per_type: int, seed: int, skip: set[str]) -> list[tuple[Task, str]]:
    """`per_type` tasks per split and type (not in `skip`), each with a mistake cycling over its modes."""
    rng = random.Random(seed)
    chosen, used = [], {m: 0 for m in MODES}
    for split in ("id", "ood"):
        tasks = [t for t in load_embedded((split,)).tasks if t.task_id not in skip]
        for typ in TaskType:
            pool = [t for t in tasks if t.type == typ]
            rng.shuffle(pool)
            modes = [m for m, types in MODES.items() if typ in types]
            rng.shuffle(modes)  # ties among equally used mistakes go in a seeded order
            n = 0
            for t in pool:
                if n >= per_type:
                    break
                for mode in sorted(modes, key=lambda m: used[m]):  # the least used mistake that applies
                    if answers(t, mode, seed) is not None:
                        chosen.append((t, mode))
                        used[mode] += 1
                        n += 1
                        break
    return chosen


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--per-type", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-first", type=int, default=40, help="leave out the first N tasks of each split")
    ap.add_argument("--skip-ids", type=Path, action="append", default=[],
                    help="a file of task ids or episode names (<run>/<task_id>) to leave out, e.g. a labelled set")
    ap.add_argument("--dry-run", action="store_true", help="write the source only")
    ap.add_argument("overrides", nargs="*", help="extra harness overrides, e.g. env.width=320")
    a = ap.parse_args(argv)
    from embrace_bench.tasks.suite import interleave_types
    skip = set()
    for split in ("id", "ood"):
        skip |= {t.task_id for t in interleave_types(load_embedded((split,)).tasks)[: a.skip_first]}
    for path in a.skip_ids:
        skip |= {name.rsplit("/", 1)[-1] for name in path.read_text().split()}
    chosen = choose(a.per_type, a.seed, skip)
    src = a.out / "source"
    src.mkdir(parents=True, exist_ok=True)
    RunDir(src).episodes.write_text("".join(record_line(source_record(t, answers(t, m, a.seed), m, a.seed)) + "\n"
                                        for t, m in chosen))
    (a.out / "modes.json").write_text(json.dumps({t.task_id: m for t, m in chosen}, indent=1))
    print(f"{len(chosen)} scripted episodes -> {RunDir(src).episodes}")
    if a.dry_run:
        return 0
    ids = "[" + ",".join(t.task_id for t, _ in chosen) + "]"
    cmd = [sys.executable, "-m", "embrace_bench", "model=replay", f"model.source={src}", "model.name=mistakes",
           "split=all", f"suite.ids={ids}", f"hydra.run.dir={a.out / 'run'}", *a.overrides]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
