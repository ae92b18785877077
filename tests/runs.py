"""Small in-process runs for the runner tests: real engine processes (numpy renderer, tiny frames), a few
tasks, and a view of records that ignores what legitimately differs between two runs (timing, replays)."""
from __future__ import annotations

import functools
import json
from pathlib import Path

from omegaconf import OmegaConf
from rich.console import Console

from embrace_bench.env.engines import engine_factory, env_config
from embrace_bench.episode import EpisodeSettings
from embrace_bench.models.prompts import PromptConfig
from embrace_bench.models.registry import make_agent
from embrace_bench.runner import RunSpec, run
from embrace_bench.tasks.suite import load_embedded, select

TASKS = select(load_embedded(("id",)).tasks, limit=4)
ENV = {"kind": "embedded", "renderer": "numpy", "width": 96, "height": 72, "fov": 90.0, "ready_timeout_s": 30,
       "timeout_s": 10, "max_restarts": 2}
MAX_STEPS = 8
TIMING = ("wall_s", "latency_s")  # differ from run to run
REPLAY = ("cached", "cost_usd", "restarts")  # differ when an episode was re-run on cached answers


def spec(run_dir: Path, *, model: dict | None = None, tasks=TASKS, workers: int = 1, env: dict | None = None,
         max_steps: int = MAX_STEPS, **kw) -> RunSpec:
    env_group = OmegaConf.create({**ENV, **(env or {})})
    model = model or {"adapter": "heuristic", "name": "heuristic"}
    return RunSpec(run_dir=Path(run_dir), tasks=list(tasks), model_name=model["name"],
                   make_agent=functools.partial(make_agent, model, seed=0, prompt=PromptConfig()),
                   make_engines=functools.partial(engine_factory, env_group), workers=workers,
                   settings=EpisodeSettings(max_steps=max_steps, frames_dir=Path(run_dir) / "frames"),
                   env_cfg=env_config(env_group), request_timeout_s=env_group.timeout_s,
                   max_restarts=env_group.max_restarts, **kw)


def run_quiet(s: RunSpec) -> str:
    """Run and return what the console printed."""
    console = Console(stderr=False, record=True, width=200, force_terminal=False, quiet=False,
                      file=open("/dev/null", "w"))
    run(s, console)
    return console.export_text()


def lines(run_dir: Path) -> list[dict]:
    return [json.loads(ln) for ln in (Path(run_dir) / "episodes.jsonl").read_text().splitlines()]


def _strip(d, drop):
    if isinstance(d, dict):
        return {k: _strip(v, drop) for k, v in d.items() if k not in drop}
    if isinstance(d, list):
        return [_strip(v, drop) for v in d]
    return d


def by_task(records: list[dict], drop=TIMING) -> dict[str, dict]:
    """task id -> record without the fields in `drop` (at every level); asserts one record per task."""
    ids = [r["task_id"] for r in records]
    assert len(ids) == len(set(ids)), f"a task was recorded twice: {sorted(ids)}"
    return {r["task_id"]: _strip(r, set(drop)) for r in records}
