"""Steps per second through the embedded adapter settings vs env=unrealzoo_v1's, both on the embedded world:
the embedded adapter against `serve` (fixed game time per cycle), the unrealzoo_v1 adapter (the release's mechanics
with the v1 cycles: real-time 0.25 s cycles, five per MoveForward, the release's capture) against
`serve --unrealzoo` (wall-clock game time, async levels, stale frames, Unix socket after the first TCP client).
A step is env.step(action), frames included; resets are not timed. The unrealzoo rate is bounded by the release's
waits (env.step_s per cycle). bench/release_actions.py gives the same per action type for env=unrealzoo.

    python bench/unrealzoo_steps.py --steps 120 --renderer gl
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

from omegaconf import OmegaConf

from embrace_bench.actions import Action
from embrace_bench.config_schema import embedded_env
from embrace_bench.env.client import UnrealCVClient
from embrace_bench.env.engines import env_config, make_env
from embrace_bench.env.launcher import EmbeddedEngineProcess
from embrace_bench.env.unreal_env import EnvConfig
from embrace_bench.tasks.suite import load_embedded

CYCLE = [Action.MoveForward, Action.TurnLeft, Action.MoveForward, Action.TurnRight,
         Action.TurnRight, Action.MoveForward, Action.LookDown, Action.TurnLeft]
CONF = Path(__file__).resolve().parent.parent / "embrace_bench" / "conf" / "env"


def measure(cfg: EnvConfig, extra_args: tuple, steps: int, renderer: str) -> tuple[float, float]:
    """(steps per second, median step ms) over `steps` steps, cycling through the in-domain tasks."""
    tasks = load_embedded(("id",)).tasks
    times: list[float] = []
    with EmbeddedEngineProcess(renderer=renderer, width=cfg.width, height=cfg.height, extra_args=extra_args) as eng:
        env = make_env(UnrealCVClient(port=eng.port, timeout=60).connect(), cfg)
        k = 0
        while len(times) < steps:
            env.reset(tasks[k % len(tasks)])
            for a in CYCLE:
                t0 = time.perf_counter()
                env.step(a)
                times.append(time.perf_counter() - t0)
            k += 1
        env.close()
    times = times[:steps]
    return len(times) / sum(times), 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--renderer", default="gl", choices=("gl", "numpy"))
    ap.add_argument("--width", type=int, default=embedded_env().width)
    ap.add_argument("--height", type=int, default=embedded_env().height)
    args = ap.parse_args()
    # env=unrealzoo_v1: the release's mechanics with the v1 cycles (bench/release_actions.py: the release's own)
    zoo_yaml = OmegaConf.merge(OmegaConf.load(CONF / "unrealzoo.yaml"), OmegaConf.load(CONF / "unrealzoo_v1.yaml"))
    del zoo_yaml["defaults"]
    zoo_yaml.gpu = 0
    zoo = replace(env_config(zoo_yaml), width=args.width, height=args.height)
    rows = [
        ("embedded adapter, embedded server", EnvConfig(width=args.width, height=args.height), ()),
        (f"unrealzoo adapter, UnrealZoo-mode server (step_s={zoo.step_s})", zoo, ("--unrealzoo",)),
    ]
    print(f"{args.steps} steps per row, {args.width}x{args.height}, renderer={args.renderer}")
    for name, cfg, extra in rows:
        rate, median = measure(cfg, extra, args.steps, args.renderer)
        print(f"{name:70s} {rate:6.1f} steps/s  (median {median:.1f} ms/step)")


if __name__ == "__main__":
    main()
