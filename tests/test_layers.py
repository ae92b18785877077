"""Imports point down: every `import` under embrace_bench/ (in functions too) against the layer order.

LAYERS is the one definition of the order that embrace_bench/__init__.py's docstring describes in words; the
last test keeps the two in step. A unit is a top-level module or a subpackage of embrace_bench. A unit may
import its own modules and any unit on a lower line; on its own line only the units before it in a shared
`<` chain (`a < b`: b may import a, never the reverse).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import embrace_bench

PACKAGE = Path(embrace_bench.__file__).parent

# Line number of the docstring -> chains on that line. A chain of one unit imports nothing else on its line.
LAYERS: dict[int, list[tuple[str, ...]]] = {
    1: [("embrace_bench",), ("unrealcv",), ("actions",), ("colours",), ("observation",), ("png",), ("procs",),
        ("redact",), ("interrupts",), ("cli_args",), ("defaults",), ("run_dir",), ("extras",)],
    2: [("records",), ("manifest",)],
    3: [("world",)],
    4: [("tasks",)],
    5: [("scoring", "config_schema")],
    6: [("env",), ("models",)],
    7: [("baselines",)],
    8: [("episode",)],
    9: [("worker", "ray_backend", "runner"), ("resume", "runner")],
    10: [("report", "results")],
    11: [("config_checks", "app", "__main__", "replay_check")],
}

# A unit that reaches into a lower unit only through the modules named here.
ONLY_THROUGH = {("env", "world"): {"embrace_bench.world.launch"}}

# Single upward imports the docstring names, with the reason it gives.
ALLOWED_UP = {
    ("embrace_bench.world.serve", "embrace_bench.tasks.maps"):
        "a process entry point: the default maps folder of the frozen suite",
}


def _unit_line() -> dict[str, int]:
    return {unit: line for line, chains in LAYERS.items() for chain in chains for unit in chain}


def _module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "embrace_bench"


def _is_module(dotted: str, root: Path) -> bool:
    rel = Path(*dotted.split(".")[1:]) if "." in dotted else Path()
    return (root / rel).with_suffix(".py").is_file() or (root / rel / "__init__.py").is_file()


def imports_of(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, imported module) for every import of embrace_bench in a file; `from a import b` names a.b when
    b is a module, else a."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((node.lineno, sub if _is_module(sub, root) else base))
    return [(line, name) for line, name in found if name.split(".")[0] == "embrace_bench"]


def _chain_allows(source: str, target: str) -> bool:
    for chains in LAYERS.values():
        for chain in chains:
            if source in chain and target in chain and chain.index(target) < chain.index(source):
                return True
    return False


def violation(module: str, target: str) -> str | None:
    """Why `module` may not import `target`, or None when it may."""
    if (module, target) in ALLOWED_UP:
        return None
    source_unit, target_unit = _unit(module), _unit(target)
    if source_unit == target_unit:
        return None
    line = _unit_line()
    if source_unit not in line:
        return f"{source_unit} has no line in LAYERS (tests/test_layers.py); place it"
    if target_unit not in line:
        return f"{target_unit} has no line in LAYERS (tests/test_layers.py); place it"
    through = ONLY_THROUGH.get((source_unit, target_unit))
    if through is not None and target not in through:
        return f"{source_unit} may import {target_unit} only through {', '.join(sorted(through))}"
    if line[target_unit] < line[source_unit] or _chain_allows(source_unit, target_unit):
        return None
    if line[target_unit] > line[source_unit]:
        return f"upward: {source_unit} (line {line[source_unit]}) imports {target_unit} (line {line[target_unit]})"
    return f"sideways: {source_unit} and {target_unit} share line {line[source_unit]} without `{target_unit} < " \
           f"{source_unit}`"


def layer_violations(root: Path = PACKAGE) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        for lineno, target in imports_of(path, root):
            why = violation(module, target)
            if why:
                problems.append(f"{path.relative_to(root.parent)}:{lineno}: {module} imports {target}: {why}")
    return problems


def test_every_import_points_down():
    problems = layer_violations()
    assert not problems, "imports against the layer order in embrace_bench/__init__.py:\n" + "\n".join(problems)


def test_every_unit_has_a_line():
    units = {_unit(_module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert units - set(_unit_line()) == set(), "modules with no line in LAYERS"
    assert set(_unit_line()) - units == set(), "LAYERS names units that do not exist"


def test_rule_catches_upward_sideways_and_the_narrow_door():
    assert "upward: actions" in violation("embrace_bench.actions", "embrace_bench.episode")
    assert "upward: models" in violation("embrace_bench.models.base", "embrace_bench.episode")
    assert "sideways: models and env" in violation("embrace_bench.models.base", "embrace_bench.env.base")
    assert "sideways: env and models" in violation("embrace_bench.env.unreal_env", "embrace_bench.models.api")
    assert "sideways: ray_backend and runner" in violation("embrace_bench.ray_backend", "embrace_bench.runner")
    assert "only through embrace_bench.world.launch" in violation("embrace_bench.env.x", "embrace_bench.world.sim")
    assert violation("embrace_bench.env.engines", "embrace_bench.world.launch") is None
    assert violation("embrace_bench.runner", "embrace_bench.ray_backend") is None
    assert violation("embrace_bench.world.serve", "embrace_bench.tasks.maps") is None
    assert "upward: world" in violation("embrace_bench.world.engine", "embrace_bench.tasks.maps")


def test_a_function_level_upward_import_fails(tmp_path):
    # the scan reads imports inside functions and relative imports as well as top-level ones
    src = PACKAGE / "png.py"
    fake = tmp_path / "embrace_bench"
    fake.mkdir()
    (fake / "png.py").write_text(src.read_text(encoding="utf-8") + "\n\ndef _late():\n    from . import runner\n")
    (fake / "runner.py").write_text("")
    problems = layer_violations(fake)
    assert len(problems) == 1 and "png.py:" in problems[0] and "upward: png (line 1) imports runner" in problems[0]


def test_docstring_lists_each_line_as_the_table_does():
    doc = embrace_bench.__doc__ or ""
    items = dict(re.findall(r"^(\d+)\. (.*?)(?=^\d+\. |\Z)", doc, flags=re.M | re.S))
    assert sorted(int(k) for k in items) == sorted(LAYERS), "docstring lines differ from LAYERS"
    for line, chains in LAYERS.items():
        text = items[str(line)]
        for chain in chains:
            for unit in chain:
                name = "the package root" if unit == "embrace_bench" else unit
                assert re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", text), f"line {line} omits {unit}"
            if len(chain) > 1:
                assert " < ".join(chain) in text or all(
                    f"{a} < {b}" in text for a, b in zip(chain, chain[1:], strict=False)), f"line {line}: {chain}"
