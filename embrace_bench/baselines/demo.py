"""Demo: plays each task's recorded demo (`Action`: the embedded oracle's plan, a v1 expert demo, or the
release's reference human demonstration), then Finish. No model, no keys. On a correct engine set-up the
demos succeed, which checks the engine, the adapter and the scorer together (and gives s_opt's SR)."""
from __future__ import annotations

from embrace_bench.actions import Action, format_response
from embrace_bench.models.api import ModelCallError
from embrace_bench.models.base import Agent, Reply
from embrace_bench.observation import History
from embrace_bench.tasks.model import Task


class DemoAgent(Agent):
    name = "demo"

    def reset(self, task: Task) -> None:
        if not task.demo_actions:  # recorded as an error episode, like a model that cannot answer
            raise ModelCallError(f"model=demo: task {task.task_id} has no recorded demo")

    def act(self, task: Task, history: History, reask: str | None = None) -> Reply:
        step = len(history.turns)
        action = task.demo_actions[step] if step < len(task.demo_actions) else Action.Finish
        return Reply(format_response(action, f"demo step {step + 1}/{len(task.demo_actions)}"))
