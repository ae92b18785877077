"""What every model adapter and baseline agent is: reset per episode, one reply per step."""
from __future__ import annotations

from dataclasses import dataclass, field

from embrace_bench.observation import History
from embrace_bench.tasks.model import Task


@dataclass
class Reply:
    text: str  # the raw response; the runner parses <think>/<action> out of it, for every agent alike
    tokens: dict[str, int] = field(default_factory=dict)
    latency_s: float = 0.0
    cost_usd: float = 0.0
    cached: bool = False


class AgentUnusable(RuntimeError):
    """The agent cannot answer at all (weights that do not load, ...): every episode would fail alike, so
    the run stops with this message instead of recording each episode as an error."""


class Agent:
    name = "agent"

    def __init__(self, cfg: dict | None = None, seed: int = 0, **context) -> None:
        """`context` carries run-level services an adapter may use (prompt config, the run's response cache
        and API limiter: see PromptedAgent and APIAgent)."""
        self.cfg = dict(cfg or {})
        self.seed = seed

    def reset(self, task: Task) -> None:
        """Start an episode. Baselines may read the task; model adapters see only what the prompt shows."""

    def act(self, task: Task, history: History, reask: str | None = None) -> Reply:
        """Answer for the latest observation; `reask` carries the parser's complaint on a re-ask."""
        raise NotImplementedError

    def close(self) -> None:
        pass
