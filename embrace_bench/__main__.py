"""`python -m embrace_bench [overrides]` runs a benchmark (a Hydra app); `embrace-bench score|... RUN_DIR`
are offline sub-commands over recorded runs. Heavy imports stay inside functions so start-up is fast."""
from __future__ import annotations

import importlib
import re
import sys

from embrace_bench import CONF_DIR

GROUPS = ("model", "env", "suite", "split", "prompt", "runner", "ray", "tags")
SUBCOMMANDS = {
    "score": "embrace_bench.scoring.cli:score_main",
    "leaderboard": "embrace_bench.report.cli:leaderboard_main",
    "view": "embrace_bench.report.cli:view_main",
    "compare": "embrace_bench.report.cli:compare_main",
    "check-replay": "embrace_bench.replay_check:main",
    "fetch-data": "embrace_bench.tasks.fetch:main",
}


# Hydra's own flags (hydra/_internal/utils.py: get_args_parser), listed here to keep Hydra off this path.
FLAGS = {"--help", "-h", "--hydra-help", "--version", "--resolve", "--run", "-r", "--multirun", "-m",
         "--shell-completion", "-sc"}
CFG = ("job", "hydra", "all")
INFO = ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath")
FLAGS_WITH_VALUE = {"--cfg": CFG, "-c": CFG, "--package": None, "-p": None, "--config-path": None, "-cp": None,
                    "--config-name": None, "-cn": None, "--config-dir": None, "-cd": None,
                    "--experimental-rerun": None}  # flag -> the values it takes (None: any)
FLAGS_WITH_OPTIONAL_VALUE = {"--info": INFO, "-i": INFO}
MODES = {"--run": "--run", "-r": "--run", "--multirun": "--multirun", "-m": "--multirun", "--cfg": "--cfg",
         "-c": "--cfg", "--info": "--info", "-i": "--info", "--shell-completion": "--shell-completion",
         "-sc": "--shell-completion"}  # Hydra takes one at most


def _fail(msg: str, code: int = 2) -> int:
    print(f"embrace-bench: error: {msg}", file=sys.stderr)
    return code


def _defaults() -> dict[str, str]:
    """The group defaults listed in embrace_bench/conf/config.yaml (read as text: no Hydra import on this path)."""
    out = {}
    for line in (CONF_DIR / "config.yaml").read_text().splitlines():
        line = line.strip()
        if line.startswith("- ") and ":" in line:
            group, option = (x.strip() for x in line[2:].split(":", 1))
            if group in GROUPS:
                out[group] = option
    return out


def check_arguments(argv: list[str]) -> str | None:
    """One-line complaint for an option Hydra does not know or a word that is no override (instead of
    argparse's usage block or Hydra's grammar error)."""
    flag, optional = None, False  # the previous flag, when it takes a value
    modes = {MODES[a.split("=", 1)[0]] for a in argv if a.split("=", 1)[0] in MODES}
    if len(modes) > 1:
        return f"only one of {', '.join(sorted(modes))} can be given"
    for arg in argv:
        if flag and not (optional and arg.startswith("-")):  # the flag's value, as argparse reads it
            choices = (FLAGS_WITH_VALUE | FLAGS_WITH_OPTIONAL_VALUE)[flag]
            if choices and arg not in choices:
                return f"option {flag} takes one of {', '.join(choices)}, not {arg!r}"
            flag = None
            continue
        flag = None
        name, has_value = arg.split("=", 1)[0], "=" in arg
        if arg.startswith("-"):
            if name in FLAGS_WITH_VALUE or name in FLAGS_WITH_OPTIONAL_VALUE:
                flag, optional = (None if has_value else name), name in FLAGS_WITH_OPTIONAL_VALUE
            elif name not in FLAGS:
                return f"unknown option {arg!r}; see python -m embrace_bench --help"
        elif not has_value and not arg.startswith("~"):
            return f"cannot read {arg!r}: an override is key=value (or ~key to remove a key)"
    if flag and not optional:
        return f"option {flag} needs a value"
    return None


def _option(group: str, option: str) -> tuple[list[str], list[str]]:
    """(its own top-level keys, its `defaults:` entries) of a group option's YAML, read as text."""
    lines = (CONF_DIR / group / f"{option}.yaml").read_text().splitlines()
    own = [ln.split(":", 1)[0] for ln in lines if ln and not ln[0].isspace() and ":" in ln and not ln.startswith("#")]
    base = []
    if "defaults" in own:
        own.remove("defaults")
        for ln in lines[lines.index("defaults:") + 1:]:
            if not ln.startswith("  - "):
                break
            base.append(ln.strip()[2:].split("#")[0].strip())
    return own, base


def _schema(group: str, option: str):
    """The schema dataclass a group option names (directly or through the same-group option it extends)."""
    from embrace_bench.config_schema import schema_of

    _, base = _option(group, option)
    found = schema_of(group, base)
    for name in base:
        if found is None and name != "_self_" and (CONF_DIR / group / f"{name}.yaml").is_file():
            found = _schema(group, name)
    return found


def _keys(group: str, option: str) -> list[str]:
    """The settings a group option has: its schema's fields (config_schema.py), else its YAML's own keys."""
    from dataclasses import fields

    schema = _schema(group, option)
    return [f.name for f in fields(schema)] if schema else _option(group, option)[0]


def _unknown_top_level(keys: list[str]) -> str | None:
    """A key (`+foo=1`, `++foo.bar=2`, `~foo`, `+model@foo=oracle`) whose top level is neither a field of the
    top-level schema (config_schema.ConfigSchema: the groups) nor Hydra's own `hydra.*` / `hydra/<group>`."""
    names = {key: re.split(r"[./]", key.lstrip("+~").rpartition("@")[2])[0] for key in keys}
    if all(name in GROUPS or name == "hydra" for name in names.values()):
        return None  # the common case, decided without importing the schemas
    from dataclasses import fields

    from embrace_bench.config_schema import ConfigSchema

    known = [f.name for f in fields(ConfigSchema)] + ["hydra"]
    for key, name in names.items():
        if name not in known:
            return f"unknown setting {key.lstrip('+~')!r}; the top level has only {', '.join(known)}"
    return None


def check_overrides(argv: list[str]) -> str | None:
    """One-line complaint for a group option or a key that does not exist, or a value of a type its schema
    refuses (before Hydra's multi-line composition error)."""
    chosen = _defaults()
    for arg in argv:  # removing a schema's key fails Hydra's composition with a multi-line error
        key = arg.split("=", 1)[0]
        if key.startswith("~") and key[1:].partition(".")[0] in GROUPS:
            return f"cannot remove {key[1:]!r}: every setting has a schema; set it instead ({key[1:]}=...)"
    pairs = [a.split("=", 1) for a in argv if not a.startswith("-") and "=" in a]
    problem = _unknown_top_level([key for key, _ in pairs] + [a for a in argv if a.startswith("~") and "=" not in a])
    if problem:
        return problem
    for key, value in pairs:
        if key not in GROUPS:
            continue
        for choice in value.split(","):
            if not (CONF_DIR / key / f"{choice}.yaml").exists():
                known = sorted(p.stem for p in (CONF_DIR / key).glob("*.yaml"))
                return f"unknown {key} {choice!r}; choose one of: {', '.join(known)}"
        chosen[key] = value.split(",")[0]
    settings = []
    for key, _ in pairs:
        group, _, leaf = key.lstrip("+").partition(".")
        if group not in GROUPS or not leaf or key.startswith("~"):
            continue
        known = _keys(group, chosen[group])
        if leaf.split(".")[0] not in known:
            return f"unknown setting {key.lstrip('+')!r} for {group}={chosen[group]}; known: {', '.join(known)}"
        settings.append(key)
    return _type_problem(argv, settings, chosen)


def _type_problem(argv: list[str], settings: list[str], chosen: dict[str, str]) -> str | None:
    """The first override whose value (each value of a sweep) its group's schema refuses."""
    if not settings:
        return None
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    from embrace_bench.config_checks import type_problem

    wanted = [a for a in argv if a.split("=", 1)[0] in settings]
    try:
        overrides = OverridesParser.create().parse_overrides(wanted)
    except HydraException as exc:
        return " ".join(str(exc).split())
    for o in overrides:
        group, leaf = o.key_or_group.split(".", 1)
        schema = _schema(group, chosen[group])
        values = list(o.sweep_iterator()) if o.is_sweep_override() else [o.value()]
        for value in values if schema else []:
            problem = type_problem(group, schema, leaf, value)
            if problem:
                return problem
    return None


def _hydra_app() -> int:
    import hydra

    from embrace_bench.app import run_from_config
    from embrace_bench.config_schema import register

    register()

    @hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")
    def _app(cfg) -> None:
        code = run_from_config(cfg)
        if code:
            sys.exit(code)

    _app()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        module, fn = SUBCOMMANDS[argv[0]].split(":")
        return getattr(importlib.import_module(module), fn)(argv[1:])
    if not CONF_DIR.is_dir():
        return _fail(f"config folder not found at {CONF_DIR}; reinstall the package (`pip install -e .`)")
    problem = check_arguments(argv) or check_overrides(argv)
    if problem:
        return _fail(problem)
    sys.argv = [sys.argv[0]] + argv
    return _hydra_app()


if __name__ == "__main__":
    raise SystemExit(main())
