"""Replay: answers a previous run's recorded responses, step by step and re-ask by re-ask, with no model.

On the embedded world, where the engine is deterministic, replaying a run reproduces its records exactly;
it is how CI checks a recorded model run with no keys.
"""
from __future__ import annotations

from embrace_bench.models.base import Agent, Reply
from embrace_bench.observation import History
from embrace_bench.records import read_records
from embrace_bench.run_dir import RunDir
from embrace_bench.tasks.model import Task


class ReplayAgent(Agent):
    name = "replay"

    def __init__(self, cfg: dict | None = None, seed: int = 0, **context) -> None:
        super().__init__(cfg, seed)
        source = self.cfg.get("source")
        if not source:
            raise ValueError("model=replay needs model.source=<a previous run dir>")
        records, _ = read_records(RunDir(source).episodes)
        # task -> per step, every try in order (earlier invalid tries, then the answer the step used)
        self.answers = {r.task_id: [list(s.reask_responses) + [s.raw_response] for s in r.steps] for r in records}
        self.task_id = ""
        self.tries: dict[int, int] = {}

    def reset(self, task: Task) -> None:
        if task.task_id not in self.answers:
            raise ValueError(f"model=replay: task {task.task_id} is not in {self.cfg.get('source')}")
        self.task_id = task.task_id
        self.tries = {}

    def act(self, task: Task, history: History, reask: str | None = None) -> Reply:
        step = len(history.turns)
        steps = self.answers[self.task_id]
        if step >= len(steps):
            return Reply("")  # the recording ended here; an empty answer is invalid, never invented
        k = self.tries.get(step, 0)
        self.tries[step] = k + 1
        tries = steps[step]
        return Reply(tries[min(k, len(tries) - 1)], cached=True)
