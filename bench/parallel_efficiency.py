"""Parallel efficiency of runner.workers=N with a fake model of fixed latency (default 0.5 s per call).

Each worker owns a real engine process; the model sleeps (as a remote API leaves the CPU idle) and then
answers as the heuristic would, so trajectories, frames and records are real. Reports, per N, the steady
throughput (model calls/s while all N workers are busy; engine start-up excluded), its efficiency against
N x the 1-worker figure, the end-to-end wall time, and the CPU the run used.

    python bench/parallel_efficiency.py                          # 160x120 frames, N = 1 2 4 8 16
    python bench/parallel_efficiency.py --width 640 --height 480
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import runs_common
from rich.console import Console

from embrace_bench.config_schema import embedded_env
from embrace_bench.runner import run


def cpu_s() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", default="1,2,4,8,16")
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--height", type=int, default=120)
    ap.add_argument("--renderer", default=embedded_env().renderer)
    ap.add_argument("--episodes-per-worker", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=32)
    args = ap.parse_args()
    console = Console(stderr=True, quiet=True)
    rows, base = [], None
    print(f"fixed model latency {args.latency} s, {args.width}x{args.height}, renderer {args.renderer}, "
          f"{os.cpu_count()} cores, max_steps {args.max_steps}, {args.episodes_per_worker} episodes per worker")
    print("| workers | steady calls/s | efficiency | window s | episodes | wall s (incl. start-up) | CPU s |")
    print("|---|---|---|---|---|---|---|")
    for n in [int(x) for x in args.workers.split(",")]:
        tmp = Path(tempfile.mkdtemp(prefix=f"bench-par{n}-"))
        spec = runs_common.make_spec(tmp / "run", workers=n, n_tasks=n * args.episodes_per_worker,
                                     latency_s=args.latency, width=args.width, height=args.height,
                                     renderer=args.renderer, max_steps=args.max_steps)
        runs_common.CALLS.clear()
        c0, t0 = cpu_s(), time.monotonic()
        records = run(spec, console)
        wall, cpu = time.monotonic() - t0, cpu_s() - c0
        thr, window = runs_common.steady_throughput(runs_common.CALLS)
        base = base or thr
        eff = thr / (n * base)
        rows.append((n, thr, eff))
        print(f"| {n} | {thr:.2f} | {eff:.0%} | {window:.1f} | {len(records)} | {wall:.1f} | {cpu:.1f} |", flush=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
