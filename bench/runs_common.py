"""What the run benchmarks share: a fake model of fixed latency (the heuristic's answers after a sleep, so
trajectories are real), a RunSpec builder over the real runner, and steady-state throughput from the
agents' own call times."""
from __future__ import annotations

import functools
import threading
import time
from pathlib import Path

from omegaconf import OmegaConf

from embrace_bench.actions import Action, format_response
from embrace_bench.env.engines import engine_factory, env_config
from embrace_bench.episode import EpisodeSettings
from embrace_bench.models.base import Reply
from embrace_bench.models.heuristic import HeuristicAgent
from embrace_bench.runner import RunSpec
from embrace_bench.tasks.suite import load_embedded, select

# (worker thread, time.monotonic()) of every model call made in this process (list.append is atomic; no lock,
# which also keeps this module picklable by value for Ray's workers)
CALLS: list[tuple[str, float]] = []


class FixedLatencyAgent(HeuristicAgent):
    """A model that takes exactly `latency_s` per call (sleeping, as a remote API leaves the CPU idle) and
    never finishes early, so every episode is max_steps calls long."""

    def __init__(self, cfg=None, seed=0, **context):
        super().__init__(cfg, seed)
        self.latency_s = float(self.cfg.get("latency_s", 0.5))

    def act(self, task, history, reask=None):
        time.sleep(self.latency_s)
        CALLS.append((threading.current_thread().name, time.monotonic()))
        reply = super().act(task, history, reask)
        if "<action>Finish</action>" in reply.text:  # every episode runs to max_steps: equal work per episode
            reply = Reply(format_response(Action.TurnLeft, "keep looking"))
        return reply


def make_spec(run_dir: Path, *, workers: int, n_tasks: int, latency_s: float, width: int, height: int,
              renderer: str = "auto", max_steps: int = 32, save_frames: bool = True, **kw) -> RunSpec:
    env = OmegaConf.create({"kind": "embedded", "renderer": renderer, "width": width, "height": height,
                            "fov": 90.0, "ready_timeout_s": 120, "timeout_s": 60, "max_restarts": 2})
    tasks = select(load_embedded(("id",)).tasks, limit=n_tasks)
    return RunSpec(run_dir=Path(run_dir), tasks=tasks, model_name="fixed-latency",
                   make_agent=functools.partial(FixedLatencyAgent, {"name": "fixed-latency", "latency_s": latency_s}),
                   make_engines=functools.partial(engine_factory, env), workers=workers,
                   settings=EpisodeSettings(max_steps=max_steps,
                                            frames_dir=Path(run_dir) / "frames" if save_frames else None),
                   env_cfg=env_config(env), request_timeout_s=60, **kw)


def steady_throughput(calls: list[tuple[str, float]]) -> tuple[float, float]:
    """Model calls per second while every worker was busy: from the moment the last worker made its first
    call to the moment the first worker made its last one (engine start-up and the tail excluded).
    Returns (calls/s, window seconds)."""
    by_worker: dict[str, list[float]] = {}
    for name, t in calls:
        by_worker.setdefault(name, []).append(t)
    start = max(min(ts) for ts in by_worker.values())
    end = min(max(ts) for ts in by_worker.values())
    n = sum(start < t <= end for _, t in calls)
    return (n / (end - start) if end > start else float("nan")), end - start
