"""Suites: which tasks a run evaluates, in a fixed order, and the content hash the manifest records."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

from embrace_bench.tasks.model import SPLITS, TYPES, Task, type_code

EMBEDDED_DIR = Path(__file__).parent / "data" / "embedded"


class SuiteError(ValueError):
    pass


@dataclass
class Suite:
    name: str
    tasks: list[Task]
    content_hash: str  # sha256 of the task files this suite was read from
    notes: list[str] = field(default_factory=list)  # what the loader skipped, and why (shown at start)


def _hash_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def load_embedded(splits: tuple[str, ...], data_dir: Path = EMBEDDED_DIR) -> Suite:
    files = [Path(data_dir) / f"tasks_{s}.json" for s in splits]
    tasks: list[Task] = []
    for f in files:
        if not f.exists():
            raise SuiteError(f"task file not found: {f}")
        try:
            tasks += [Task.from_json(d) for d in json.loads(f.read_text())]
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise SuiteError(f"cannot read tasks from {f}: {exc}") from None
    return Suite("embedded", tasks, _hash_files(files))


def embedded_json(tasks: list[Task]) -> str:
    """One split's file of the embedded suite (tasks_<split>.json), as the generator writes it and
    load_embedded reads it: Task.to_json per task (EMBEDDED_KEYS), one space of indent."""
    return json.dumps([t.to_json() for t in tasks], indent=1) + "\n"


def split_names(split: str) -> tuple[str, ...]:
    if split == "all":
        return SPLITS
    if split not in SPLITS:
        raise SuiteError(f"unknown split {split!r}; choose id, ood or all")
    return (split,)


def interleave_types(tasks: list[Task]) -> list[Task]:
    """Round-robin over types (in TYPES order), so the first N tasks cover every type."""
    by_type = [[t for t in tasks if t.type == ty] for ty in TYPES]
    return [t for group in zip_longest(*by_type) for t in group if t is not None]


def select(tasks: list[Task], *, limit: int | None = None, types=None, ids=None) -> list[Task]:
    if types:
        wanted = {type_code(t) for t in types}
        tasks = [t for t in tasks if t.type in wanted]
    if ids:
        known = {t.task_id for t in tasks}
        missing = [i for i in ids if i not in known]
        if missing:
            raise SuiteError(f"unknown task ids: {', '.join(map(str, missing[:5]))}")
        wanted_ids = set(ids)
        tasks = [t for t in tasks if t.task_id in wanted_ids]
    ordered = []
    for split in SPLITS:  # splits one after another, types interleaved within each
        ordered += interleave_types([t for t in tasks if t.split == split])
    if limit is not None:
        if limit < 1:
            raise SuiteError(f"suite.limit must be a positive number, not {limit}")
        ordered = ordered[:limit] if len({t.split for t in ordered}) <= 1 else _limit_per_split(ordered, limit)
    return ordered


def _limit_per_split(tasks: list[Task], limit: int) -> list[Task]:
    """With split=all, suite.limit applies to each split so both are covered."""
    out = []
    for split in SPLITS:
        out += [t for t in tasks if t.split == split][:limit]
    return out
