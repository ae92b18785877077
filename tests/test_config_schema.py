"""The structured config schemas: every group option composes through its schema, holds only what differs from
it, and the schema refuses unknown keys and wrong types; defaults shared with the code are defined once."""
import shutil
import subprocess
import sys
from dataclasses import fields

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from embrace_bench.__main__ import CONF_DIR, GROUPS, _option, _schema
from embrace_bench.config_checks import type_problem
from embrace_bench.config_schema import SCHEMAS, ConfigSchema, RunnerSchema, TagsSchema, register
from embrace_bench.defaults import MAX_STEPS, SUCCESS_RADIUS_CM
from embrace_bench.env.engines import env_config
from embrace_bench.env.unreal_env import EnvConfig
from embrace_bench.episode import EpisodeSettings
from embrace_bench.records import TaskInfo
from embrace_bench.scoring.tagset import TagThresholds

OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF_DIR / g).glob("*.yaml"))]


@pytest.fixture
def composed():
    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        yield lambda *overrides: compose(config_name="config", overrides=list(overrides))


@pytest.mark.parametrize("group, option", OPTIONS)
def test_every_option_composes_to_exactly_its_schemas_keys(composed, group, option):
    schema = _schema(group, option)
    assert schema is not None, f"{group}/{option}.yaml names no schema in its defaults list"
    node = composed(f"{group}={option}", "suite.path=/x")[group]
    assert list(node.keys()) == [f.name for f in fields(schema)]  # the order the manifest records


@pytest.mark.parametrize("group, option", OPTIONS)
def test_options_hold_only_what_differs_from_their_schema(group, option):
    own, _ = _option(group, option)
    defaults = OmegaConf.structured(_schema(group, option))
    values = OmegaConf.load(CONF_DIR / group / f"{option}.yaml")
    same = [k for k in own if not OmegaConf.is_missing(defaults, k) and k in values and values[k] == defaults[k]]
    assert not same, f"{group}/{option}.yaml restates schema defaults: {same}"


def test_every_schema_is_used_by_an_option():
    used = {_schema(g, o) for g, o in OPTIONS}
    assert set(SCHEMAS.values()) <= used


@pytest.mark.parametrize("overrides", [["runner.foo=1"], ["env.width=wide"], ["runner.resume=maybe"],
                                       ["model=gpt4o", "model.launch=true"], ["model=oracle", "model.temperature=0"]])
def test_hydra_itself_refuses_unknown_keys_and_bad_types(composed, overrides):
    with pytest.raises(ConfigCompositionException):
        composed(*overrides)


def test_a_yaml_option_with_a_misspelt_key_does_not_compose(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    (conf / "runner" / "typo.yaml").write_text("defaults:\n  - /schema_runner_default@_here_\n  - _self_\n\nmax_step: 40\n")
    register()
    with initialize_config_dir(config_dir=str(conf), version_base=None):
        assert compose(config_name="config", overrides=["runner=embrace_release"]).runner.max_steps == 60
        with pytest.raises(ConfigCompositionException, match="max_step"):
            compose(config_name="config", overrides=["runner=typo"])


def test_tag_thresholds_are_the_tags_schema(composed):
    assert [(f.name, f.default) for f in fields(TagsSchema)] == [(f.name, f.default) for f in fields(TagThresholds)]
    assert TagThresholds.from_config(OmegaConf.to_container(composed().tags)) == TagThresholds()


def test_shared_defaults_are_defined_once(composed):
    cfg = composed()
    assert cfg.runner.max_steps == EpisodeSettings().max_steps == RunnerSchema.max_steps == MAX_STEPS
    assert cfg.runner.success_radius_cm == EpisodeSettings().success_radius_cm == SUCCESS_RADIUS_CM
    assert TaskInfo("", [], []).success_radius_cm == SUCCESS_RADIUS_CM
    assert (cfg.env.width, cfg.env.height, cfg.env.fov) == (EnvConfig().width, EnvConfig().height, EnvConfig().fov)
    assert composed("runner=embrace_release").runner.max_steps == 60


def test_env_embedded_states_every_adapter_setting_and_envconfig_takes_them(composed):
    """env=embedded's group names every setting EnvConfig reads from a config (the manifest records them), and
    EnvConfig built from it is EnvConfig's default: the embedded world's values are written once."""
    env = composed().env
    adapter_keys = {f.name for f in fields(EnvConfig)} - {"capture", "min_visible_px", "mags"}
    assert adapter_keys <= set(env.keys())
    assert env_config(env) == EnvConfig()
    assert env_config(composed("env.step_s=0.5").env).step_s == 0.5


def test_the_embedded_env_schema_gives_types_and_no_values():
    """env=embedded's values are stated once, in conf/env/embedded.yaml: its schema has none to fall back on."""
    from embrace_bench.config_schema import EmbeddedEnvSchema

    node = OmegaConf.structured(EmbeddedEnvSchema)
    assert [f.name for f in fields(EmbeddedEnvSchema) if not OmegaConf.is_missing(node, f.name)] == []


def test_embedded_env_reads_the_yaml_and_envconfig_takes_its_values(tmp_path):
    from embrace_bench.config_schema import EMBEDDED_ENV_YAML, embedded_env

    assert EMBEDDED_ENV_YAML == CONF_DIR / "env" / "embedded.yaml"
    stated = OmegaConf.load(EMBEDDED_ENV_YAML)
    loaded = embedded_env()
    assert [f.name for f in fields(loaded)] == [k for k in stated if k != "defaults"]
    assert all(getattr(loaded, k) == stated[k] for k in stated if k != "defaults")
    assert (type(loaded.ready_timeout_s), type(loaded.level_timeout_s)) == (int, float)  # as written: the manifest
    loaded.cam_offset.append(1.0)
    assert embedded_env().cam_offset == [0.0, 0.0, 160.0]  # each call its own copy of the file's values
    # A changed file changes what EnvConfig gives (its defaults are bound at import: a fresh interpreter).
    changed = tmp_path / "embedded.yaml"
    changed.write_text(EMBEDDED_ENV_YAML.read_text().replace("\nstep_s: 1.0", "\nstep_s: 0.25")
                       .replace("\nagent_name: EmbraceAgent", "\nagent_name: OtherAgent"))
    assert (embedded_env(changed).step_s, embedded_env(changed).agent_name) == (0.25, "OtherAgent")
    code = ("import sys\nfrom pathlib import Path\nimport embrace_bench.config_schema as cs\n"
            "cs.EMBEDDED_ENV_YAML = Path(sys.argv[1])\nfrom embrace_bench.env.unreal_env import EnvConfig\n"
            "from embrace_bench.env.launcher import EmbeddedEngineProcess\n"
            "print(EnvConfig().step_s, EnvConfig().agent_name, EnvConfig().width)")
    for path, want in ((EMBEDDED_ENV_YAML, "1.0 EmbraceAgent 640"), (changed, "0.25 OtherAgent 640")):
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and out.stdout.split() == want.split(), out.stderr


@pytest.mark.parametrize("edit, want", [
    (("\nmoves: null", "\nmoves: null\nmove: 3"), "Key 'move' not in 'EmbeddedEnvSchema'"),
    (("\nwidth: 640", "\nwidth: wide"), "Value 'wide' of type 'str' could not be converted to Integer"),
    (("\nheight: 480", ""), "states no value for height"),
])
def test_embedded_env_refuses_a_file_its_schema_does_not_fit(tmp_path, edit, want):
    from embrace_bench.config_schema import EMBEDDED_ENV_YAML, embedded_env

    bad = tmp_path / "embedded.yaml"
    bad.write_text(EMBEDDED_ENV_YAML.read_text().replace(*edit))
    with pytest.raises(ValueError) as exc:
        embedded_env(bad)
    assert want in str(exc.value) and str(bad) in str(exc.value) and "\n" not in str(exc.value)


def test_the_cli_groups_are_the_top_level_schema():
    # __main__ decides the common case from GROUPS without importing the schemas: the two must name the same keys.
    assert set(GROUPS) == {f.name for f in fields(ConfigSchema)}


@pytest.mark.parametrize("argv, want", [
    (["+foo=1"], "unknown setting 'foo'; the top level has only model, env, suite, split, prompt, runner, tags, "
                 "ray, hydra"),
    (["foo.bar=1"], "unknown setting 'foo.bar'"),
    (["++foo=1"], "unknown setting 'foo'"),
    (["~foo"], "unknown setting 'foo'"),
    (["+model@extra=oracle"], "unknown setting 'model@extra'"),
    (["moddel=oracle"], "unknown setting 'moddel'"),
    (["hydra.run.dir=/tmp/x", "+hydra.job.env_set.A=1", "hydra/job_logging=disabled", "model=oracle"], None),
])
def test_keys_outside_the_top_level_schema_are_refused(argv, want):
    from embrace_bench.__main__ import check_overrides

    got = check_overrides(argv)
    if want is None:
        assert got is None
    else:
        assert got is not None and got.startswith(want)


@pytest.mark.parametrize("group, option, leaf, value, want", [
    ("runner", "default", "workers", "abc", "runner.workers must be an integer >= 1, not 'abc'"),
    ("runner", "default", "resume", "maybe", "runner.resume must be true or false, not 'maybe'"),
    ("env", "embedded", "width", "wide", "env.width must be an integer >= 1, not 'wide'"),
    ("env", "unrealzoo", "magnitudes.forward_cm", "far", "env.magnitudes.forward_cm must be a number, not 'far'"),
    ("tags", "default", "stuck_min_moves", 2.5, "tags.stuck_min_moves must be an integer >= 0, not 2.5"),
    ("suite", "embedded", "ids", "id-0-001", "suite.ids must be a list such as [id-0-001] or null, not 'id-0-001'"),
    ("suite", "embrace_release", "types", 3, "suite.types must be a list such as [3] or null, not 3"),
    ("env", "embedded", "moves", 3, "env.moves must be a mapping such as {name: value} or null, not 3"),
    ("env", "unrealzoo", "magnitudes", 3,
     "env.magnitudes must be a mapping of forward_cm, backward_cm, turn_deg, look_deg, interact_cm, not 3"),
    ("env", "unrealzoo", "extra_args", "-log", "env.extra_args must be a list such as [-log], not '-log'"),
    ("suite", "embedded", "ids", ["id-0-001"], None),
    ("runner", "default", "workers", 4, None),
    ("runner", "default", "max_cost_usd", 2, None),  # number-or-null: checked by config_checks.RULES at run time
])
def test_type_problem_is_one_line_naming_the_setting(group, option, leaf, value, want):
    assert type_problem(group, _schema(group, option), leaf, value) == want


def test_prompt_config_defaults_are_the_prompt_schemas():
    """PromptConfig (the prompt builder's own settings, also built without Hydra) is the schema plus the wording."""
    from embrace_bench.config_schema import PromptSchema
    from embrace_bench.models.prompts import PromptConfig

    assert issubclass(PromptConfig, PromptSchema)
    built = PromptConfig()
    assert {f.name: f.default for f in fields(PromptSchema)} == {f.name: getattr(built, f.name) for f in fields(PromptSchema)}


def test_adapters_built_by_hand_take_the_model_schemas_defaults(tmp_path):
    """A model cfg written by hand (tests, bench scripts) lacks keys a composed one has: the adapter fills them
    from its schema, so the fallback values are the schema's and written nowhere else."""
    from embrace_bench.config_schema import (
        SAMPLING_KEYS,
        ApiModelSchema,
        TransformersModelSchema,
        VllmModelSchema,
        schema_defaults,
        with_defaults,
    )
    from embrace_bench.models.prompted import PromptedAgent

    api = schema_defaults(ApiModelSchema)
    assert "adapter" not in api and api["temperature"] == 0.0 and api["cache"] is True
    assert {k: schema_defaults(TransformersModelSchema)[k] for k in SAMPLING_KEYS} == {k: api[k] for k in SAMPLING_KEYS}
    assert schema_defaults(VllmModelSchema)["launch_args"] == []
    assert with_defaults(VllmModelSchema, {"top_p": 0.5})["top_p"] == 0.5
    agent = PromptedAgent({"name": "m", "temperature": 0.7})
    assert agent.sampling == {"temperature": 0.7, "max_tokens": api["max_tokens"], "top_p": api["top_p"],
                              "constrained": api["constrained"]}
    assert (agent.price_in, agent.cache) == (api["price_per_mtok_in"], None)


@pytest.mark.parametrize("override, want", [
    ("env.width=0", "env.width must be an integer >= 1, not 0"),
    ("env.height=-5", "env.height must be an integer >= 1, not -5"),
    ("env.fov=0", "env.fov must be a positive number, not 0.0"),
    ("env=unrealzoo", None),
])
def test_frame_size_and_fov_are_checked_before_any_engine_starts(composed, override, want):
    # A zero or negative frame size used to start the engine anyway and record every episode as an error.
    from embrace_bench.config_checks import ConfigError, check_config

    cfg = composed(override, "suite.path=/x")
    if want is None:
        check_config(cfg)
        return
    with pytest.raises(ConfigError) as exc:
        check_config(cfg)
    assert str(exc.value) == want
