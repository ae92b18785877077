"""The oracle: plans with privileged map state (the planner that wrote the demos), so it proves every
task is solvable and that the scorer accepts a correct episode."""
from __future__ import annotations

import json
from functools import lru_cache

from embrace_bench.actions import Action, Magnitudes, format_response
from embrace_bench.models.base import Agent, History, Reply
from embrace_bench.tasks.model import Task
from embrace_bench.tasks.planner import plan_task
from embrace_bench.world.engine import MAPS_DIR
from embrace_bench.world.scene import WorldMap


@lru_cache(maxsize=32)
def _world(name: str) -> WorldMap:
    path = MAPS_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"the oracle needs the embedded map {name} (privileged state), not found at {path}")
    return WorldMap.from_json(json.loads(path.read_text()))


class OracleAgent(Agent):
    name = "oracle"

    def __init__(self, cfg: dict | None = None, seed: int = 0, *, mags: Magnitudes | None = None, **context) -> None:
        super().__init__(cfg, seed)
        self.mags = mags or Magnitudes()  # the env's action magnitudes, so the plan moves as the env does
        self.plan: list[str] = []

    @staticmethod
    def cannot_run(task: Task) -> str | None:
        """Why the oracle cannot plan this task, known before any episode (the run skips it up front)."""
        if not (MAPS_DIR / f"{task.map}.json").exists():
            return "no embedded map to plan on"
        return None

    def reset(self, task: Task) -> None:
        self.plan = plan_task(task, _world(task.map), mags=self.mags)

    def act(self, task: Task, history: History, reask: str | None = None) -> Reply:
        step = len(history.actions)
        action = self.plan[step] if step < len(self.plan) else Action.Finish
        return Reply(format_response(action, f"plan step {step + 1}/{len(self.plan)}"))
