"""The uniform random baseline: a floor every model must clear."""
from __future__ import annotations

import random

from embrace_bench.actions import ACTIONS, format_response
from embrace_bench.models.base import Agent, Reply
from embrace_bench.observation import History
from embrace_bench.tasks.model import Task


class RandomAgent(Agent):
    name = "random"

    def __init__(self, cfg: dict | None = None, seed: int = 0, **context) -> None:
        super().__init__(cfg, seed)
        self.rng = random.Random(seed)

    def reset(self, task: Task) -> None:
        # Seeded per task, so results do not depend on episode order or worker count.
        self.rng = random.Random(f"{self.seed}:{task.task_id}")

    def act(self, task: Task, history: History, reask: str | None = None) -> Reply:
        return Reply(format_response(self.rng.choice(ACTIONS), "random choice"))
