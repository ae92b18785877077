"""`model.adapter` -> agent class, imported lazily so a missing SDK never breaks the other adapters."""
from __future__ import annotations

import importlib

ADAPTERS: dict[str, str] = {
    "oracle": "embrace_bench.models.oracle:OracleAgent",
    "random": "embrace_bench.models.random_agent:RandomAgent",
    "heuristic": "embrace_bench.models.heuristic:HeuristicAgent",
}


class UnknownAdapter(ValueError):
    pass


def agent_class(adapter: str):
    if adapter not in ADAPTERS:
        raise UnknownAdapter(f"unknown model adapter {adapter!r}; known: {', '.join(sorted(ADAPTERS))}")
    module, cls = ADAPTERS[adapter].split(":")
    return getattr(importlib.import_module(module), cls)


def make_agent(model_cfg: dict, seed: int = 0):
    """Build the agent a `model:` config group describes."""
    cfg = dict(model_cfg)
    return agent_class(cfg.pop("adapter"))(cfg, seed=seed)
