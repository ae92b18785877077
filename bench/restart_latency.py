"""Time from an engine crash to its episode running again, through the real runner.

A worker's agent kills its own engine (SIGKILL from outside, as `kill -9`) at the 3rd step of the first
attempt; the figure is the time from the kill to the first model call of the re-run (engine relaunched
with its readiness probe, reconnected, level reloaded, first observation taken). With --hang the engine
is SIGSTOPped instead, so the time includes noticing it (env.timeout_s) and killing it.

    python bench/restart_latency.py --repeats 5
    python bench/restart_latency.py --hang --timeout 5
"""
from __future__ import annotations

import argparse
import functools
import os
import shutil
import signal
import statistics
import tempfile
import time
from pathlib import Path

import runs_common
from rich.console import Console

from embrace_bench.config_schema import embedded_env
from embrace_bench.runner import run


class Saboteur(runs_common.FixedLatencyAgent):
    engines: list = []
    kill_sig = signal.SIGKILL
    t_kill: float | None = None
    t_back: float | None = None

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.calls = 0

    def act(self, task, history, reask=None):
        self.calls += 1
        cls = type(self)
        if self.calls == 3:
            cls.t_kill = time.monotonic()
            os.kill(self.engines[-1].proc.pid, self.kill_sig)
        elif self.calls > 3 and cls.t_back is None:
            cls.t_back = time.monotonic()
        return super().act(task, history, reask)


def one(args) -> float:
    tmp = Path(tempfile.mkdtemp(prefix="bench-restart-"))
    spec = runs_common.make_spec(tmp / "run", workers=1, n_tasks=1, latency_s=0.0, width=args.width,
                                 height=args.height, renderer=args.renderer, max_steps=6)
    spec.request_timeout_s = args.timeout
    make = spec.make_engines

    def make_engines(root):
        factory = make(root)

        def recorded(wid):
            e = factory(wid)
            Saboteur.engines.append(e)
            return e
        return recorded

    spec.make_engines = make_engines
    spec.make_agent = functools.partial(Saboteur, {"name": "saboteur", "latency_s": 0.0})
    Saboteur.t_kill = Saboteur.t_back = None
    Saboteur.kill_sig = signal.SIGSTOP if args.hang else signal.SIGKILL
    records = run(spec, Console(stderr=True, quiet=True))
    assert records[0].restarts == 1, records[0]
    shutil.rmtree(tmp, ignore_errors=True)
    return Saboteur.t_back - Saboteur.t_kill


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--width", type=int, default=embedded_env().width)
    ap.add_argument("--height", type=int, default=embedded_env().height)
    ap.add_argument("--renderer", default=embedded_env().renderer)
    ap.add_argument("--hang", action="store_true", help="SIGSTOP the engine instead of SIGKILL")
    ap.add_argument("--timeout", type=float, default=30.0, help="env.timeout_s")
    args = ap.parse_args()
    times = [one(args) for _ in range(args.repeats)]
    what = f"SIGSTOP, env.timeout_s={args.timeout:g}" if args.hang else "SIGKILL"
    print(f"engine {what} -> episode running again ({args.width}x{args.height}, renderer {args.renderer}, "
          f"{args.repeats} runs): median {statistics.median(times):.2f} s, max {max(times):.2f} s, "
          f"all {[round(t, 2) for t in times]}")


if __name__ == "__main__":
    main()
