"""The oracle: plans with privileged map state (the planner that wrote the demos), so it proves every
task is solvable and that the scorer accepts a correct episode."""
from __future__ import annotations

from embrace_bench.actions import Action, Magnitudes, format_response
from embrace_bench.models.base import Agent, Reply
from embrace_bench.observation import History
from embrace_bench.tasks.maps import has_map, load_map, map_path
from embrace_bench.tasks.model import Task
from embrace_bench.tasks.planner import plan_task
from embrace_bench.world.scene import WorldMap


def _world(name: str) -> WorldMap:
    """The embedded map the task runs on, read through the tasks package (privileged state)."""
    if not has_map(name):
        raise FileNotFoundError(f"the oracle needs the embedded map {name} (privileged state), "
                                f"not found at {map_path(name)}")
    return load_map(name)


class OracleAgent(Agent):
    name = "oracle"

    def __init__(self, cfg: dict | None = None, seed: int = 0, *, mags: Magnitudes | None = None, **context) -> None:
        super().__init__(cfg, seed)
        self.mags = mags or Magnitudes()  # the env's action magnitudes, so the plan moves as the env does
        self.plan: list[str] = []

    @staticmethod
    def cannot_run(task: Task) -> str | None:
        """Why the oracle cannot plan this task, known before any episode (the run skips it up front)."""
        if not has_map(task.map):
            return "no embedded map to plan on"
        return None

    def reset(self, task: Task) -> None:
        self.plan = plan_task(task, _world(task.map), mags=self.mags)

    def act(self, task: Task, history: History, reask: str | None = None) -> Reply:
        step = len(history.actions)
        action = self.plan[step] if step < len(self.plan) else Action.Finish
        return Reply(format_response(action, f"plan step {step + 1}/{len(self.plan)}"))
