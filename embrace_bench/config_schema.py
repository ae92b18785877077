"""The typed schema of every config group (Hydra structured configs, registered in its ConfigStore).

Each YAML option in embrace_bench/conf names its schema in its `defaults:` list (`- /schema_<group>_<name>@_here_`)
and holds only what differs from it, so each default lives once: here, or for the env groups in their YAML files
(conf/env/*.yaml state an engine's values with the reasons for them; the env schemas give only the types, and
`embedded_env()` reads the embedded world's values for code that runs without Hydra). Hydra rejects an unknown key
or a value of the wrong type while composing. Field order is the order the run manifest records, so keep it.

Fields typed `Any` take an integer or a float and keep the one given (a timeout of 60 is recorded as 60, not
60.0): OmegaConf has no int-or-float type, and config_checks.RULES checks them. Value ranges and rules across
fields, which a schema cannot express, are in config_checks.py. Light imports only: `__main__` reads the
field names before Hydra starts.
"""
from __future__ import annotations

import copy
import functools
from dataclasses import MISSING as MISSING_FACTORY
from dataclasses import dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, cast

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from embrace_bench import CONF_DIR
from embrace_bench.defaults import MAX_STEPS, SUCCESS_RADIUS_CM
from embrace_bench.scoring.tagset import TagThresholds


@dataclass
class RunnerSchema:
    max_steps: int = MAX_STEPS
    workers: int = 1  # engines (each its own process and port) running episodes in parallel
    backend: str = "local"  # local (threads) | ray (actors; see the ray group)
    reask: int = 3
    resume: bool = True  # running again into the same run dir skips finished episodes
    seed: int = 0
    save_frames: bool = True
    success_radius_cm: float = SUCCESS_RADIUS_CM
    max_cost_usd: Any = None  # stop starting new episodes once the run has spent this much (USD)
    api_concurrency: Optional[int] = None  # model calls in flight run-wide (null: one per worker)
    rate_limit_wait_s: Any = 600  # a call may wait out rate limits this long before they count as retries


@dataclass
class SplitSchema:
    name: str = MISSING  # id | ood | all


@dataclass
class SuiteSchema:
    name: str = "embedded"
    path: Optional[str] = MISSING  # the folder holding the suite's tasks (embedded: null, the bundled suite)
    limit: Optional[int] = None  # first N tasks of each split, cycling through the types
    types: Optional[List[str]] = None  # e.g. ["0", "4.1"]
    ids: Optional[List[str]] = None  # e.g. [id-0-000, id-3-004]


@dataclass
class ReleaseSuiteSchema:
    name: str = "embrace_release"
    path: Optional[str] = MISSING  # the release's datas/benchmark folder (or the folder fetch-data wrote)
    z_tolerance_cm: Optional[float] = 100.0  # |z - reference z| allowed at the target (null: XY only)
    limit: Optional[int] = None
    types: Optional[List[str]] = None
    ids: Optional[List[str]] = None


@dataclass
class PromptSchema:
    name: str = "embrace_v1"  # embrace_v1 | embrace_release
    recent_frames: int = 5  # embrace_v1: earlier frames between the initial and the current one
    think: bool = True
    window: int = 13  # embrace_release: recent observations kept besides the initial one
    image_width: Optional[int] = None  # resize before encoding; null keeps the captured size
    image_height: Optional[int] = None
    image_format: str = "png"  # png | jpeg
    jpeg_quality: int = 90
    template_file: Optional[str] = None  # a YAML/JSON file of your own prompt wording (README: Prompt wording)


@dataclass
class RaySchema:
    address: Optional[str] = None  # null: start a local Ray instance; "auto" or "ray://head:10001": a cluster
    num_cpus_per_worker: Any = 1  # Ray resources each worker actor reserves
    num_gpus_per_worker: Any = None  # null: 1 with env=unrealzoo (the engine renders on it), 0 embedded
    local_num_cpus: Optional[int] = None  # CPUs a local instance declares (null: enough for every worker)
    node_ip_address: Optional[str] = None  # the address a local instance runs on (null: 127.0.0.1)


@dataclass
class MagnitudesSchema:
    forward_cm: float = MISSING
    backward_cm: float = MISSING
    turn_deg: float = MISSING
    look_deg: float = MISSING
    interact_cm: float = MISSING


# The keys every engine kind's env group has after its own: the UnrealEnv adapter's settings and the engine's
# supervision (EnvConfig reads them). Typed once, here, in manifest order and without values: each env YAML
# states the values with the reasons for them.
ENGINE_KEYS: list[tuple[str, Any]] = [
    ("width", int), ("height", int), ("fov", float), ("ready_timeout_s", Any), ("timeout_s", Any),
    ("max_restarts", int), ("level_timeout_s", Any), ("spawn_timeout_s", Any), ("agent_name", str),
    ("agent_blueprint", str), ("camera_id", Optional[int]), ("cam_offset", List[Any]), ("protocol", str),
    ("step_s", float), ("realtime", bool), ("slomo", Any), ("interval_ms", int), ("destroy_wait_s", float),
    ("settle_s", float), ("stale_frame", str), ("tick_s", float), ("collision", str), ("collision_frac", float),
    ("setup_commands", List[str]), ("visible_objects", str), ("pd_class", str), ("held_cm", Any),
    ("held_z_cm", Any), ("moves", Optional[Dict[str, Any]]),
]


def _env_schema(name: str, doc: str, own: list[tuple[str, Any]], last: tuple[Any, ...] = ()) -> type:
    """An env group's schema: its engine's own keys, then ENGINE_KEYS, then `last` (full field specs)."""
    spec = [(key, kind, field(default=MISSING)) for key, kind in own + ENGINE_KEYS] + list(last)
    return make_dataclass(name, spec, namespace={"__doc__": doc, "__module__": __name__})


EmbeddedEnvSchema = _env_schema(
    "EmbeddedEnvSchema", """Every key of env=embedded and its type; the values, and why each is what it is, are in
    conf/env/embedded.yaml, which `embedded_env()` reads for code that runs without Hydra (EnvConfig's defaults).""",
    [("kind", str), ("renderer", str)])
UnrealZooEnvSchema = _env_schema(
    "UnrealZooEnvSchema", """Every key of env=unrealzoo and its type; the values, and what each means, are in
    conf/env/unrealzoo.yaml (one engine kind, one set of values: no second copy here).""",
    [("kind", str), ("binary", Optional[str]), ("attach", Optional[str]), ("unrealcv_ini", Optional[str]),
     ("engine_config", bool), ("gpu", Any), ("offscreen", bool), ("extra_args", List[str])],
    last=(("magnitudes", MagnitudesSchema, field(default_factory=MagnitudesSchema)),))


@dataclass
class BaselineModelSchema:
    """oracle, heuristic, random, demo: no settings besides which one."""
    adapter: str = MISSING
    name: str = MISSING


@dataclass
class ReplayModelSchema:
    adapter: str = "replay"
    name: str = "replay"
    source: Optional[str] = None  # the run dir whose answers are replayed


@dataclass
class ApiModelSchema:
    """What every model behind an HTTP API has (the adapter kinds below add theirs, in manifest order)."""
    adapter: str = MISSING
    name: str = MISSING
    base_url: Optional[str] = None
    temperature: float = 0.0
    max_tokens: int = 1024
    top_p: float = 1.0
    timeout_s: Any = 60
    max_retries: int = 4
    price_per_mtok_in: float = 0.0  # USD per million tokens
    price_per_mtok_out: float = 0.0
    image_format: str = "png"
    constrained: bool = False
    cache: bool = True


@dataclass
class AnthropicModelSchema(ApiModelSchema):
    adapter: str = "anthropic"


@dataclass
class GeminiModelSchema(AnthropicModelSchema):
    adapter: str = "gemini"
    api_version: Optional[str] = None  # google-genai defaults to v1; set v1beta where a feature needs it


@dataclass
class OpenAIModelSchema(ApiModelSchema):
    adapter: str = "openai"
    constrained_format: str = "json_schema"  # json_schema | structured_outputs (vLLM >= 0.12) | guided_regex


@dataclass
class VllmModelSchema(OpenAIModelSchema):
    """An OpenAI-compatible vLLM server the harness may launch itself (model.launch=true)."""
    base_url: Optional[str] = "http://127.0.0.1:8000/v1"
    constrained_format: str = "structured_outputs"
    launch: bool = False
    path: Optional[str] = None  # what `vllm serve` loads (a folder or hub id); null = name
    launch_args: List[str] = field(default_factory=list)
    launch_port: Optional[int] = None  # null = a free port
    launch_host: Optional[str] = None  # null = 127.0.0.1, or the driver node's Ray address with runner.backend=ray
    launch_timeout_s: Any = 900  # loading a 7B model, compiling and capturing CUDA graphs takes minutes
    vllm_executable: str = "vllm"


@dataclass
class TransformersModelSchema:
    adapter: str = "transformers"
    name: str = MISSING
    path: Optional[str] = None  # a local model folder or a Hugging Face id
    device: str = "auto"  # auto | cpu | cuda | cuda:N   (auto: every visible GPU via accelerate, else CPU)
    dtype: str = "auto"  # auto (checkpoint dtype on GPU, float32 on CPU) | float32 | bfloat16 | float16
    attn_implementation: Optional[str] = None  # e.g. sdpa or flash_attention_2; null = transformers' default
    min_pixels: Optional[int] = None  # image resize bounds for the processor; null = the checkpoint's
    max_pixels: Optional[int] = None
    temperature: float = ApiModelSchema.temperature  # 0 = greedy decoding
    max_tokens: int = ApiModelSchema.max_tokens
    top_p: float = ApiModelSchema.top_p
    top_k: int = 0  # with sampling only; 0 = no top-k cut
    seed: Optional[int] = None  # per-request sampling seed base; null = runner.seed
    price_per_mtok_in: float = ApiModelSchema.price_per_mtok_in
    price_per_mtok_out: float = ApiModelSchema.price_per_mtok_out
    image_format: str = ApiModelSchema.image_format
    constrained: bool = ApiModelSchema.constrained  # true: only <think>...</think><action>Name</action>
    cache: bool = ApiModelSchema.cache


# The tags schema is TagThresholds itself, field for field (a threshold is changed there only); a mutable
# copy, as Hydra merges overrides into it.
TagsSchema = make_dataclass("TagsSchema", [(f.name, {"int": int, "float": float}.get(str(f.type), f.type),
                                            field(default=f.default)) for f in fields(TagThresholds)])
TagsSchema.__module__ = __name__


@dataclass
class ConfigSchema:
    """The top level: one node per group (each typed by the schema its option names) and Hydra's own."""
    model: Any = None
    env: Any = None
    suite: Any = None
    split: Any = None
    prompt: Any = None
    runner: Any = None
    tags: Any = None
    ray: Any = None


# <group>/<name> -> schema, stored as schema_<group>_<name>; the YAML options name these in their defaults lists.
SCHEMAS: dict[str, type] = {
    "runner/default": RunnerSchema, "split/default": SplitSchema, "suite/default": SuiteSchema,
    "suite/release": ReleaseSuiteSchema, "prompt/default": PromptSchema, "ray/default": RaySchema,
    "tags/default": TagsSchema, "env/embedded": EmbeddedEnvSchema, "env/unrealzoo": UnrealZooEnvSchema,
    "model/baseline": BaselineModelSchema, "model/replay": ReplayModelSchema,
    "model/anthropic": AnthropicModelSchema, "model/gemini": GeminiModelSchema,
    "model/openai": OpenAIModelSchema, "model/vllm": VllmModelSchema,
    "model/transformers": TransformersModelSchema,
}


def register() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent): before composing a config. Stored at the top
    level as `schema_<group>_<name>`, not as groups, so `--help` lists only the groups a user chooses from."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="schema", node=ConfigSchema)
    for key, schema in SCHEMAS.items():
        cs.store(name="schema_" + key.replace("/", "_"), node=schema)


SAMPLING_KEYS = ("temperature", "max_tokens", "top_p", "constrained")  # what a Request carries besides messages


def schema_defaults(schema: type) -> dict[str, Any]:
    """The schema's defaults (fields without one left out): what code building a group's object without Hydra
    (an adapter in a test or bench script) falls back to, so a default is written once, here."""
    out = {}
    for f in fields(schema):
        value = f.default_factory() if f.default_factory is not MISSING_FACTORY else f.default
        if value is not MISSING and value is not MISSING_FACTORY:
            out[f.name] = value
    return out


def with_defaults(schema: type, cfg: dict) -> dict:
    """`cfg` with the keys it lacks filled in from the schema's defaults (a composed config lacks none)."""
    return {**schema_defaults(schema), **cfg}


EMBEDDED_ENV_YAML = CONF_DIR / "env" / "embedded.yaml"


@functools.cache
def _load_embedded_env(path: Path) -> Any:
    values = OmegaConf.load(path)
    if not isinstance(values, DictConfig):
        raise ValueError(f"{path}: not a mapping of settings")
    values.pop("defaults", None)  # Hydra's: the schema it names is the one merged into here
    try:
        node = OmegaConf.merge(OmegaConf.structured(EmbeddedEnvSchema), values)
    except OmegaConfBaseException as exc:
        raise ValueError(f"{path}: {str(exc).splitlines()[0]}") from None
    missing = sorted(OmegaConf.missing_keys(node))
    if missing:
        raise ValueError(f"{path} states no value for {', '.join(missing)}")
    return OmegaConf.to_object(node)  # an EmbeddedEnvSchema


def embedded_env(path: Path | None = None) -> Any:
    """The embedded world's settings (env=embedded) as conf/env/embedded.yaml states them, checked by
    EmbeddedEnvSchema (ValueError names an unknown key, a wrong type or a key without a value): what code that
    builds env settings without Hydra reads (EnvConfig's defaults, the engine launcher, bench scripts). The file
    is read once; each call returns a fresh copy."""
    return copy.deepcopy(_load_embedded_env(path or EMBEDDED_ENV_YAML))


def schema_of(group: str, option_defaults: list[str]) -> type | None:
    """The schema a group option names in its defaults list (`/schema_<group>_<name>@_here_`), if any."""
    for entry in option_defaults:
        key = f"{group}/" + entry.strip().split("@")[0].removeprefix(f"/schema_{group}_")
        if key in SCHEMAS:
            return SCHEMAS[key]
    return None


def group_dict(node: DictConfig, resolve: bool = True) -> dict:
    """A config group (a DictConfig) as a plain dict; to_container of a DictConfig is always a dict."""
    return cast(dict, OmegaConf.to_container(node, resolve=resolve))
