"""A fingerprint of the failure tagger: what decides a record's tags, so a report can tell whether the tags a
run stored were computed by the code and thresholds it would use itself, and reuse them instead of re-tagging.

It hashes the source of every embrace_bench module the tagger imports (found by reading the import statements
from scoring/failures.py on, so a new rule module counts without anyone listing it or bumping a version) and
the thresholds (pixel counts already scaled to the frame size). The runner writes it into each session of the
run's manifest (`sessions[i]["tagger"]`); a run whose every session carries today's fingerprint for the
thresholds its manifest gives stored tags the report can reuse.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json

from embrace_bench.manifest import Manifest
from embrace_bench.scoring.tagset import TagThresholds

TAGGER = "embrace_bench.scoring.failures"  # tag_episode: every rule and the primary cause are reached from it


def _imports(path: str) -> list[str]:
    """The embrace_bench modules a source file imports (relative imports are not used in the package)."""
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), path)
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module and n.module.split(".")[0] == "embrace_bench":
            out.append(n.module)
            out += [f"{n.module}.{a.name}" for a in n.names]  # `from embrace_bench.x import module`
        elif isinstance(n, ast.Import):
            out += [a.name for a in n.names if a.name.split(".")[0] == "embrace_bench"]
    return out


def tagger_modules() -> dict[str, str]:
    """name -> source file of the tagger's module and of every embrace_bench module it imports, transitively."""
    seen: dict[str, str] = {}
    todo = [TAGGER]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):  # `from pkg import function`: not a module
            spec = None
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        seen[name] = spec.origin
        todo += _imports(spec.origin)
    return seen


@functools.lru_cache(maxsize=1)
def source_digest() -> str:
    """sha256 over the tagger's modules (name and bytes of each, in name order)."""
    seen = tagger_modules()
    h = hashlib.sha256()
    for name in sorted(seen):
        with open(seen[name], "rb") as f:
            h.update(name.encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()


def tagger_fingerprint(th: TagThresholds) -> str:
    """The tagger's source digest and the thresholds (numbers as floats: 600 and 600.0 are one threshold)."""
    values = {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
              for k, v in th.to_json().items()}
    h = hashlib.sha256(source_digest().encode())
    h.update(json.dumps(values, sort_keys=True).encode())
    return h.hexdigest()[:32]


def stored_tags_current(manifest: Manifest | dict, th: TagThresholds) -> bool:
    """Whether every session of the run stored tags by today's tagger with thresholds `th` (those the report
    derives from the manifest). False for a run without sessions or fingerprints (written before them)."""
    sessions = Manifest.of(manifest).sessions
    if not sessions:
        return False
    want = tagger_fingerprint(th)
    return all(s.tagger == want for s in sessions)
