"""`embrace-bench check-replay [--run RUN_DIR] [--tolerance CM] [--json] [group=option ...]`: determinism check.

Replays recorded action lists through the configured engine (the same UnrealEnv a run uses) and reports, per
task, the largest deviation of the replayed poses from the recorded ones: position (cm, 3D, as EmbRACE's own
check measures it) and yaw (degrees). Without --run the recordings are the suite's demos (`Action` with their
`Trajectory_Pose`: the bundled embedded suite, v1 infos.json folders, the release's reference demos); with
--run they are the episodes of a run (each valid step's action and pose_after, from the recorded start).
The embedded world is deterministic, so it must reproduce every recording exactly (the default tolerance 0).
Exit 0 when every task is within tolerance, 1 when one is not, 2 on bad input.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from embrace_bench.cli_args import OneLineParser, finite_at_least, parse
from embrace_bench.run_dir import EPISODES, RunDir

if TYPE_CHECKING:
    from embrace_bench.tasks.model import Task

PROG = "embrace-bench check-replay"


@dataclass
class Demo:
    task: Task  # to reset with
    actions: list[str]
    poses: list[list[float]]  # recorded: start, then after each action (or before each action)


@dataclass
class Deviation:
    task_id: str
    type: str
    n_actions: int
    position_cm: float  # inf: the recording does not line up with its actions, or the replay failed
    yaw_deg: float
    error: str = ""


def _yaw_diff(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def compare(replayed: list[list[float]], recorded: list[list[float]]) -> tuple[float, float, str]:
    """(max position deviation, max yaw deviation, problem) of two pose lists; recordings hold the start plus
    one pose per action, or one pose per action taken before it (the final pose unrecorded)."""
    n = len(replayed) - 1
    if len(recorded) not in (n, n + 1):
        return math.inf, math.inf, f"{len(recorded)} recorded poses for {n} actions"
    pairs = list(zip(replayed, recorded))
    pos = max((math.dist(a[:3], b[:3]) for a, b in pairs), default=0.0)
    yaw = max((_yaw_diff(a[4], b[4]) for a, b in pairs), default=0.0)
    return pos, yaw, ""


def demos_from_suite(tasks) -> tuple[list[Demo], list[str]]:
    demos, missing = [], []
    for t in tasks:
        if t.demo_poses and t.demo_actions:
            demos.append(Demo(t, list(t.demo_actions), [list(p) for p in t.demo_poses]))
        else:
            missing.append(t.task_id)
    return demos, missing


def demos_from_run(run_dir: Path) -> list[Demo]:
    """Each finished episode as a demo: its valid actions from its recorded start, and the poses it recorded."""
    from embrace_bench.records import read_records
    from embrace_bench.tasks.model import Task

    records, _ = read_records(RunDir(run_dir).episodes)
    demos = []
    for r in records:
        steps = [s for s in r.steps if s.action]
        if r.status == "error" or not r.steps or not r.steps[0].pose_before:
            continue
        start = list(r.steps[0].pose_before)
        start[3] = 0.0  # pitch there is the camera's look, not part of where the character stands
        task = Task(task_id=r.task_id, map=r.map, split=r.split, type=r.type, instruction=r.task.instruction,
                    start_pose=start, target_poses=r.task.target_poses, target_objects=r.task.target_objects,
                    door=r.task.door, pick_object=r.task.pick_object, distractors=r.task.distractors)
        demos.append(Demo(task, [s.action for s in steps if s.action], [start] + [list(s.pose_after) for s in steps]))
    return demos


def replay(env, demo: Demo) -> Deviation:
    from embrace_bench.env.unreal_env import EnvError
    from embrace_bench.unrealcv.protocol import EngineError

    t = demo.task
    try:
        poses = [env.reset(t).pose]
        for a in demo.actions:
            poses.append(env.step(a).pose_after)
    except (EngineError, EnvError, OSError, ValueError) as exc:
        return Deviation(t.task_id, t.type, len(demo.actions), math.inf, math.inf, f"{exc.__class__.__name__}: {exc}")
    pos, yaw, problem = compare(poses, demo.poses)
    return Deviation(t.task_id, t.type, len(demo.actions), pos, yaw, problem)


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from embrace_bench.__main__ import CONF_DIR
    from embrace_bench.config_schema import register

    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return compose(config_name="config", overrides=overrides)


def _run_overrides(run_dir: Path) -> list[str]:
    """The overrides a run was started with (its .hydra/overrides.yaml), so its engine is set up the same way."""
    path = Path(run_dir) / ".hydra" / "overrides.yaml"
    if not path.exists():
        return []
    from omegaconf import OmegaConf

    keep = ("env", "suite", "split")  # what the replay needs; model and prompt play no part
    return [str(o) for o in OmegaConf.load(path) if str(o).split("=")[0].split(".")[0].lstrip("+~") in keep]


def check(demos: list[Demo], cfg, log_dir: Path, progress=None) -> list[Deviation]:
    from embrace_bench.env.client import UnrealCVClient
    from embrace_bench.env.engines import engine_factory, env_config, make_env

    engine = engine_factory(cfg.env, log_dir)(0).start()
    try:
        client = UnrealCVClient(engine.host, engine.port, timeout=cfg.env.timeout_s).connect()
        env = make_env(client, replace(env_config(cfg.env), capture=False))  # poses and states, no frames
        out = []
        for d in demos:
            out.append(replay(env, d))
            if progress:
                progress(out[-1])
        env.close()
        return out
    finally:
        engine.stop()


def _fmt(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.3f}"


def main(argv: list[str]) -> int:
    ap = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, help="replay this run's episodes instead of the suite's demos")
    ap.add_argument("--tolerance", type=finite_at_least(0.0), default=0.0,
                    help="largest accepted position deviation, cm (default 0)")
    ap.add_argument("--json", action="store_true", help="print the per-task deviations as JSON")
    ap.add_argument("overrides", nargs="*", help="config overrides, as for a run: suite=..., split=..., env=...")
    args, code = parse(ap, argv)
    if args is None:
        return code

    def fail(msg: str) -> int:
        print(f"{PROG}: error: {msg}", file=sys.stderr)
        return 2

    from embrace_bench.__main__ import check_arguments, check_overrides

    overrides = list(args.overrides)
    if args.run:
        if not RunDir(args.run).episodes.exists():
            return fail(f"no {EPISODES} in {args.run}")
        overrides = _run_overrides(args.run) + overrides
    problem = check_arguments(overrides) or check_overrides(overrides)
    if problem:
        return fail(problem)
    from embrace_bench.app import check_maps, load_suite
    from embrace_bench.tasks.suite import Suite, SuiteError

    try:
        cfg = _compose(overrides)
        if args.run:
            missing: list[str] = []
            demos = demos_from_run(args.run)
        else:
            suite = load_suite(cfg)
            for note in suite.notes:
                print(f"note: {note}", file=sys.stderr)
            demos, missing = demos_from_suite(suite.tasks)
        # Before any engine starts: a map the engine lacks would fail every one of its tasks, one by one.
        check_maps(Suite("replay", [d.task for d in demos], ""), cfg.env.kind)
    except (SuiteError, ValueError, OSError) as exc:
        return fail(str(exc))
    except Exception as exc:  # Hydra's own errors for values it cannot compose
        return fail(f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    if not demos:
        return fail(f"nothing to replay: none of the {len(missing)} selected task(s) has a recorded trajectory")
    quiet = args.json

    def show(d: Deviation) -> None:
        if not quiet:
            ok = d.position_cm <= args.tolerance
            print(f"[{'PASS' if ok else 'FAIL'}] {d.task_id}  T{d.type}  {d.n_actions} actions  "
                  f"max_pos_dev={_fmt(d.position_cm)} cm  max_yaw_dev={_fmt(d.yaw_deg)} deg"
                  + (f"  ({d.error})" if d.error else ""), flush=True)

    try:
        with tempfile.TemporaryDirectory(prefix="check-replay-") as tmp:
            results = check(demos, cfg, Path(args.run or tmp), progress=show)
    except Exception as exc:  # the engine would not start: one line, like a run
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    bad = [d for d in results if not d.position_cm <= args.tolerance]
    worst = max((d.position_cm for d in results), default=0.0)
    worst_yaw = max((d.yaw_deg for d in results), default=0.0)
    if args.json:
        print(json.dumps({"tolerance_cm": args.tolerance, "n": len(results), "failed": len(bad),
                          "no_recording": missing, "max_position_cm": None if math.isinf(worst) else worst,
                          "tasks": [{**d.__dict__, "position_cm": None if math.isinf(d.position_cm) else d.position_cm,
                                     "yaw_deg": None if math.isinf(d.yaw_deg) else d.yaw_deg} for d in results]},
                         indent=1))
    else:
        if missing:
            print(f"{len(missing)} task(s) have no recorded trajectory and were skipped")
        print(f"{len(results) - len(bad)}/{len(results)} recordings reproduced within {args.tolerance:g} cm; "
              f"largest deviation {_fmt(worst)} cm, {_fmt(worst_yaw)} deg")
    return 1 if bad else 0
