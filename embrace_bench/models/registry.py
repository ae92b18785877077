"""`model.adapter` -> agent class, imported lazily so a missing SDK never breaks the other adapters."""
from __future__ import annotations

import importlib

ADAPTERS: dict[str, str] = {
    "oracle": "embrace_bench.models.oracle:OracleAgent",
    "random": "embrace_bench.models.random_agent:RandomAgent",
    "heuristic": "embrace_bench.models.heuristic:HeuristicAgent",
    "openai": "embrace_bench.models.openai_adapter:OpenAIAgent",
    "anthropic": "embrace_bench.models.anthropic_adapter:AnthropicAgent",
    "gemini": "embrace_bench.models.gemini_adapter:GeminiAgent",
    "transformers": "embrace_bench.models.transformers_adapter:TransformersAgent",
    "replay": "embrace_bench.models.replay:ReplayAgent",
    "demo": "embrace_bench.models.demo:DemoAgent",
}


class UnknownAdapter(ValueError):
    pass


def agent_class(adapter: str):
    if adapter not in ADAPTERS:
        raise UnknownAdapter(f"unknown model adapter {adapter!r}; known: {', '.join(sorted(ADAPTERS))}")
    module, cls = ADAPTERS[adapter].split(":")
    return getattr(importlib.import_module(module), cls)


def check_model(model_cfg: dict) -> str | None:
    """What stops this model from running (unknown adapter, missing SDK or key), as one line; else None."""
    try:
        cls = agent_class(model_cfg.get("adapter", ""))
    except (UnknownAdapter, ImportError) as exc:
        return str(exc)
    check = getattr(cls, "check_environment", None)
    return check(model_cfg) if check else None


def make_agent(model_cfg: dict, seed: int = 0, **context):
    """Build the agent a `model:` config group describes; `context` carries the prompt config and the run's
    services (cache, limiter)."""
    cfg = dict(model_cfg)
    return agent_class(cfg.pop("adapter"))(cfg, seed=seed, **context)
