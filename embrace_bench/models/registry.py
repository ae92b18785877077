"""`model.adapter` -> agent class, imported lazily so a missing SDK never breaks the other adapters."""
from __future__ import annotations

import importlib

ADAPTERS: dict[str, str] = {
    "oracle": "embrace_bench.baselines.oracle:OracleAgent",
    "random": "embrace_bench.baselines.random_agent:RandomAgent",
    "heuristic": "embrace_bench.baselines.heuristic:HeuristicAgent",
    "openai": "embrace_bench.models.openai_adapter:OpenAIAgent",
    "anthropic": "embrace_bench.models.anthropic_adapter:AnthropicAgent",
    "gemini": "embrace_bench.models.gemini_adapter:GeminiAgent",
    "transformers": "embrace_bench.models.transformers_adapter:TransformersAgent",
    "replay": "embrace_bench.baselines.replay:ReplayAgent",
    "demo": "embrace_bench.baselines.demo:DemoAgent",
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


def skipped_up_front(model_cfg: dict, tasks: list) -> tuple[list, str]:
    """(the tasks this agent can run, one line on the rest): an agent class may say before any episode why
    it cannot run a task (`cannot_run(task) -> reason | None`, the oracle without a map to plan on), so such
    tasks are left out with a note instead of each ending in an error record."""
    check = getattr(agent_class(model_cfg.get("adapter", "")), "cannot_run", None)
    if check is None:
        return tasks, ""
    why = {t.task_id: check(t) for t in tasks}
    skipped = [t for t in tasks if why[t.task_id]]
    if not skipped:
        return tasks, ""
    reasons = sorted({f"{why[t.task_id]} ({t.map})" for t in skipped})
    return ([t for t in tasks if not why[t.task_id]],
            f"model {model_cfg.get('name', model_cfg.get('adapter'))}: {len(skipped)} task(s) skipped up front: "
            f"{'; '.join(reasons[:3])}{' ...' if len(reasons) > 3 else ''}")
