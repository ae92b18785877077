"""Harness overhead per step, excluding the model: engine render + mask + PNG encode + transport +
decode + visibility count + frame write. Prints median and p95 in ms.

    python bench/step_overhead.py --renderer gl --steps 300
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from embrace_bench.actions import Action
from embrace_bench.config_schema import embedded_env
from embrace_bench.env.client import UnrealCVClient
from embrace_bench.env.launcher import EmbeddedEngineProcess
from embrace_bench.env.unreal_env import EnvConfig, UnrealEnv
from embrace_bench.tasks.suite import load_embedded

CYCLE = [Action.MoveForward, Action.TurnLeft, Action.MoveForward, Action.TurnRight,
         Action.TurnRight, Action.MoveForward, Action.LookDown, Action.TurnLeft]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--renderer", default="gl", choices=("gl", "numpy"))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--width", type=int, default=embedded_env().width)
    ap.add_argument("--height", type=int, default=embedded_env().height)
    args = ap.parse_args()
    tasks = load_embedded(("id",)).tasks
    times = []
    with EmbeddedEngineProcess(renderer=args.renderer, width=args.width, height=args.height) as eng, \
            tempfile.TemporaryDirectory() as tmp:
        env = UnrealEnv(UnrealCVClient(port=eng.port, timeout=60).connect(),
                        EnvConfig(width=args.width, height=args.height))
        k = 0
        while len(times) < args.steps:
            task = tasks[k % len(tasks)]
            env.reset(task)
            for i, a in enumerate(CYCLE * 2):
                t0 = time.perf_counter()
                r = env.step(a)
                (Path(tmp) / f"{k}_{i}.png").write_bytes(r.obs.png)
                times.append((time.perf_counter() - t0) * 1000)
            k += 1
        env.close()
    times = sorted(times[: args.steps])
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"renderer={args.renderer} {args.width}x{args.height} steps={len(times)} "
          f"median={statistics.median(times):.1f} ms p95={p95:.1f} ms")


if __name__ == "__main__":
    main()
