"""The optional extras of pyproject.toml that a message may name, and the one way it names the install."""
from __future__ import annotations

DIST = "embrace_bench"  # pyproject.toml's [project] name
EXTRAS = ("api", "report", "data", "qwen", "ray")  # [project.optional-dependencies] (tests/test_extras.py checks)


def install_hint(extra: str) -> str:
    """`pip install 'embrace_bench[<extra>]'`, the command that adds an extra's packages."""
    if extra not in EXTRAS:
        raise ValueError(f"no extra {extra!r} in pyproject.toml")
    return f"pip install '{DIST}[{extra}]'"
