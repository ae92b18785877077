"""What an env is to the episode loop: the Env protocol that UnrealEnv (and ReleaseEnv), the supervisor's
GuardedEnv and run_episode share, and the StepResult one step returns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from embrace_bench.observation import Observation
from embrace_bench.tasks.model import Task


@dataclass
class StepResult:
    obs: Observation
    pose_before: list[float]
    pose_after: list[float]
    collided: bool
    dropped_at: list[float] | None = None
    done: bool = False


@runtime_checkable
class Env(Protocol):
    def reset(self, task: Task) -> Observation:
        """Load the task's map, place the character and return the first observation."""

    def step(self, action: str) -> StepResult:
        """Execute one action of the vocabulary (actions.py) and observe the world after it."""

    def locate(self, names: list[str]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        """(locations, bounds) of the named objects now, for the record; unanswered ones are left out."""

    def close(self) -> None:
        """Let go of the engine connection."""
