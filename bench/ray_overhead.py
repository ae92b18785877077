"""Overhead of runner.backend=ray against the local backend on the same run.

The same tasks, workers and fake model (fixed latency) run once per backend; reports the end-to-end wall
time, Ray's own start-up (a local instance), and the steady throughput. With --latency 0 the model is free,
which exposes the per-step cost of the backend (each episode's record and frames travel back through Ray).

    python bench/ray_overhead.py --workers 2 --tasks 8 --latency 0.5
    python bench/ray_overhead.py --latency 0
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import ray.cloudpickle
import runs_common
from rich.console import Console

from embrace_bench.config_schema import embedded_env
from embrace_bench.runner import run

ray.cloudpickle.register_pickle_by_value(runs_common)  # Ray workers cannot import bench/ modules


def once(backend: str, args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{backend}-"))
    spec = runs_common.make_spec(tmp / "run", workers=args.workers, n_tasks=args.tasks, latency_s=args.latency,
                                 width=args.width, height=args.height, renderer=args.renderer,
                                 max_steps=args.max_steps, backend=backend,
                                 ray={"address": None, "num_cpus_per_worker": 1, "num_gpus_per_worker": 0})
    t0 = time.monotonic()
    records = run(spec, Console(stderr=True, quiet=True))
    wall = time.monotonic() - t0
    manifest = json.loads((tmp / "run" / "manifest.json").read_text())
    steps = sum(r.n_steps for r in records)
    shutil.rmtree(tmp, ignore_errors=True)
    return {"wall": wall, "steps": steps, "ray_init": manifest["sessions"][-1].get("ray_init_s", 0.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--width", type=int, default=embedded_env().width)
    ap.add_argument("--height", type=int, default=embedded_env().height)
    ap.add_argument("--renderer", default=embedded_env().renderer)
    ap.add_argument("--max-steps", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    print(f"{args.tasks} tasks, {args.workers} workers, model latency {args.latency} s, "
          f"{args.width}x{args.height}, max_steps {args.max_steps}")
    print("| backend | wall s | of which Ray start-up s | steps | wall per step ms (excl. Ray start-up) |")
    print("|---|---|---|---|---|")
    for _ in range(args.repeats):
        for backend in ("local", "ray"):
            r = once(backend, args)
            per = (r["wall"] - r["ray_init"]) / max(r["steps"], 1) * 1000
            print(f"| {backend} | {r['wall']:.1f} | {r['ray_init']:.1f} | {r['steps']} | {per:.0f} |", flush=True)


if __name__ == "__main__":
    main()
