"""What the config schemas (config_schema.py) cannot say: value ranges and rules across settings, in one place,
and the one-line message for an override of the wrong type (instead of Hydra's multi-line composition error).

Every problem is one line naming the setting; the CLI prints it as `embrace-bench: error: <line>` (exit 2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from embrace_bench.extras import install_hint


@dataclass(frozen=True)
class Rule:
    kind: str  # "int" or "number"
    lowest: float = 0  # the smallest value allowed (int: inclusive; number: see positive)
    positive: bool = False  # number: > 0 instead of >= 0
    optional: bool = False  # null is allowed

    def describe(self) -> str:
        if self.kind == "int":
            text = f"an integer >= {self.lowest}"
        else:
            text = f"a {'positive' if self.positive else 'non-negative'} number"
        return text + (" or null" if self.optional else "")

    def accepts(self, v) -> bool:
        if v is None:
            return self.optional
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (self.kind == "int" and not isinstance(v, int)):
            return False
        return not math.isnan(v) and (v > 0 if self.positive else v >= self.lowest)


RULES: dict[str, Rule] = {
    "runner.max_steps": Rule("int", 1),
    "runner.workers": Rule("int", 1),
    "runner.reask": Rule("int", 0),
    "runner.seed": Rule("int", 0),
    "runner.api_concurrency": Rule("int", 1, optional=True),
    "runner.rate_limit_wait_s": Rule("number"),
    "runner.success_radius_cm": Rule("number", positive=True),
    "runner.max_cost_usd": Rule("number", optional=True),
    "env.max_restarts": Rule("int", 0),
    "env.timeout_s": Rule("number", positive=True),
    "env.ready_timeout_s": Rule("number", positive=True),
    "env.width": Rule("int", 1),  # a zero frame would start the engine and fail every episode
    "env.height": Rule("int", 1),
    "env.fov": Rule("number", positive=True),
}
RAY_RULES: dict[str, Rule] = {  # checked with runner.backend=ray only
    "ray.num_cpus_per_worker": Rule("number"),
    "ray.num_gpus_per_worker": Rule("number", optional=True),
}


class ConfigError(ValueError):
    """A setting a run cannot use; the message is one line naming it."""


def _get(cfg, key: str):
    group, leaf = key.split(".", 1)
    return cfg[group][leaf]


def _check(cfg, rules: dict[str, Rule]) -> None:
    for key, rule in rules.items():
        v = _get(cfg, key)
        if not rule.accepts(v):
            raise ConfigError(f"{key} must be {rule.describe()}, not {v!r}")


def check_config(cfg) -> None:
    """Values the schemas accept but a run cannot use (ConfigError). The tags group's ranges are
    TagThresholds.from_config's; the env and prompt groups' choices are checked where they are built."""
    from embrace_bench.runner import BACKENDS

    _check(cfg, RULES)
    backend = cfg.runner.backend
    if backend not in BACKENDS:
        raise ConfigError(f"runner.backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise ConfigError(f"runner.backend=ray needs Ray: {install_hint('ray')}")
        _check(cfg, RAY_RULES)


TYPE_WORDS = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false", "String": "a string"}


def container_words(schema: type, leaf: str, value) -> str | None:
    """When the schema's field at `leaf` (dotted through nested schemas) is a list or a mapping: what it takes,
    in words for a message, with `value` as the example ("a list such as [3] or null"); else None."""
    import typing
    from dataclasses import fields, is_dataclass

    hint: Any = schema
    for part in leaf.split("."):
        if not (isinstance(hint, type) and is_dataclass(hint)):
            return None
        hint = typing.get_type_hints(hint).get(part)
    args = typing.get_args(hint)
    optional = typing.get_origin(hint) is typing.Union and type(None) in args
    inner = next(a for a in args if a is not type(None)) if optional else hint
    if isinstance(inner, type) and is_dataclass(inner):  # a nested schema (env.magnitudes)
        return f"a mapping of {', '.join(f.name for f in fields(inner))}"
    words = {list: f"a list such as [{value}]", dict: "a mapping such as {name: value}"}.get(typing.get_origin(inner))
    return words and words + (" or null" if optional else "")


def type_problem(group: str, schema: type, leaf: str, value) -> str | None:
    """The one line for an override of a type `schema` refuses (None: it fits). Ranges stay with the run's own
    checks; a key with a range rule is described by it, so the message says what is allowed."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    node = OmegaConf.structured(schema)
    try:
        OmegaConf.update(node, leaf, value, merge=True)
        return None
    except OmegaConfBaseException as exc:
        key = f"{group}.{leaf}"
        if key in RULES:
            return f"{key} must be {RULES[key].describe()}, not {value!r}"
        if group == "tags":  # TagThresholds.from_config words the tags group's rules
            from embrace_bench.scoring.tagset import TagThresholds

            try:
                TagThresholds.from_config({leaf: value})
            except ValueError as tag_exc:
                return str(tag_exc)
        container = None if isinstance(value, (list, dict)) else container_words(schema, leaf, value)
        if container:  # a single value where the schema wants a list (suite.ids=id-0-001) or a mapping
            return f"{key} must be {container}, not {value!r}"
        text = str(exc).splitlines()[0]
        if "is not a valid bool" in text:
            return f"{key} must be true or false, not {value!r}"
        words = [w for word, w in TYPE_WORDS.items() if text.rstrip().endswith(word)]
        if words:
            return f"{key} must be {words[0]}, not {value!r}"
        return f"{key}: {text}"
