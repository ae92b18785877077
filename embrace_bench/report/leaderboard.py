"""Leaderboards: runs grouped into one board per suite x split, each run a row with the paper's metrics
per type (from scoring/metrics.py), tag rates, cost, tokens, latency and its manifest facts; the paper's
published rows join boards of the EmbRACE suites as marked references.

Denominators: every metric column, as in metrics.aggregate, counts scored episodes (errors excluded);
tag rates count every episode of the group (an api_error is an episode too); cost per success divides
the run's whole spend in that split by its successes.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embrace_bench.records import EpisodeRecord
from embrace_bench.report.runs import Run, label_runs
from embrace_bench.scoring.metrics import Report, Row, aggregate
from embrace_bench.scoring.primary import primary_of
from embrace_bench.tasks.model import SPLITS, TYPES

EMBRACE_SUITES = ("embrace_v1", "embrace_release")  # boards that carry the paper's rows
PUBLISHED = Path(__file__).parent / "data" / "embrace3k_v1_published.json"
SPLIT_NAMES = {"id": "in-domain", "ood": "out-of-domain"}


@dataclass
class Entry:
    """One run's results on one split."""

    run: Run
    split: str
    records: list[EpisodeRecord]
    report: Report
    tag_counts: dict[str, Counter]  # type code or "all" -> tag name -> episodes carrying it
    n_by_type: dict[str, int]  # type code or "all" -> episodes (errors included)
    primary_counts: dict[str, Counter] = field(default_factory=dict)  # ... -> primary cause -> episodes
    cost_usd: float = 0.0
    cost_per_success: float = math.nan
    tokens_in_per_step: float = math.nan
    tokens_out_per_step: float = math.nan
    latency_p50: float = math.nan
    latency_p95: float = math.nan

    @property
    def label(self) -> str:
        return self.run.label

    def row(self, type_: str) -> Row | None:
        return self.report.row(self.split, type_)

    def tag_rate(self, type_: str, tag: str) -> float:
        n = self.n_by_type.get(type_, 0)
        return self.tag_counts.get(type_, Counter())[tag] / n if n else math.nan

    def primary_rate(self, type_: str, tag: str) -> float:
        """Share of the type's episodes whose primary failure cause is `tag`."""
        n = self.n_by_type.get(type_, 0)
        return self.primary_counts.get(type_, Counter())[tag] / n if n else math.nan


@dataclass
class Reference:
    """A published row: per type SR, GDE, SSPL, Steps, TR (no intervals, no overall)."""

    label: str
    by_type: dict[str, dict[str, float]]


@dataclass
class Board:
    suite: str
    split: str
    entries: list[Entry]
    references: list[Reference] = field(default_factory=list)
    reference_note: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.suite}-{self.split}"

    @property
    def title(self) -> str:
        return f"{self.suite}, {SPLIT_NAMES.get(self.split, self.split)} ({self.split})"

    def types(self) -> list[str]:
        present = {t for e in self.entries for t in e.n_by_type if t != "all"}
        return [t for t in TYPES if t in present] + sorted(present - set(TYPES) - {"all"})


def make_entry(run: Run, split: str, records: list[EpisodeRecord]) -> Entry:
    tag_counts: dict[str, Counter] = {}
    n_by_type = Counter(r.type for r in records)
    for r in records:
        if r.tags:
            tag_counts.setdefault(r.type, Counter()).update({t["name"] for t in r.tags})
    tag_counts["all"] = sum(tag_counts.values(), Counter())
    primary_counts: dict[str, Counter] = {}
    for r in records:
        if primary_of(r.tags):
            primary_counts.setdefault(r.type, Counter())[primary_of(r.tags)] += 1
    primary_counts["all"] = sum(primary_counts.values(), Counter())
    n_by_type["all"] = len(records)
    e = Entry(run, split, records, aggregate(records), tag_counts, dict(n_by_type), primary_counts)
    e.cost_usd = sum(r.cost_usd for r in records)
    n_success = sum(bool(r.success) for r in records if r.status != "error")
    if n_success:
        e.cost_per_success = e.cost_usd / n_success
    n_steps = sum(len(r.steps) for r in records)
    if n_steps:
        e.tokens_in_per_step = sum(r.tokens_in for r in records) / n_steps
        e.tokens_out_per_step = sum(r.tokens_out for r in records) / n_steps
    # Model latency per answered step: cached replies and baselines (no model call) carry no latency.
    lat = np.fromiter((s.latency_s for r in records for s in r.steps if not s.cached), dtype=np.float64)
    lat = lat[lat > 0]
    if len(lat):
        e.latency_p50, e.latency_p95 = (float(x) for x in np.percentile(lat, [50, 95]))
    return e


def published_references(split: str) -> tuple[list[Reference], str]:
    data = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    refs = [Reference(f"{model} ({data['label']})", by_type) for model, by_type in data["splits"].get(split, {}).items()]
    return refs, f"{data['source']}. {data['note']}"


def _board_notes(board: Board) -> list[str]:
    notes = []
    task_sets = {e.label: {r.task_id for r in e.records} for e in board.entries}
    union = set().union(*task_sets.values()) if task_sets else set()
    for label, ids in task_sets.items():
        if len(task_sets) > 1 and ids != union:
            notes.append(f"{label} covers {len(ids)} of the {len(union)} tasks on this board")
    hashes = {e.run.manifest.get("suite_hash") for e in board.entries if e.run.manifest.get("suite_hash")}
    splits = {e.run.manifest.get("split") for e in board.entries}
    if len(hashes) > 1 and len(splits) == 1:
        notes.append(f"runs were made on different versions of the suite (hashes {', '.join(sorted(hashes))})")
    for e in board.entries:
        n_err = sum(r.status == "error" for r in e.records)
        if n_err:
            notes.append(f"{e.label}: {n_err} episode(s) ended in an error and are excluded from every metric")
    return notes


def build_boards(runs: list[Run]) -> list[Board]:
    """One board per (suite, split) found in the runs' records, rows in the order the runs were given."""
    label_runs(runs)
    boards: dict[tuple[str, str], Board] = {}
    for run in runs:
        splits = {r.split for r in run.records}
        for split in [s for s in SPLITS if s in splits] + sorted(splits - set(SPLITS)):
            recs = [r for r in run.records if r.split == split]
            board = boards.setdefault((run.suite, split), Board(run.suite, split, []))
            board.entries.append(make_entry(run, split, recs))
    for board in boards.values():
        if board.suite in EMBRACE_SUITES:
            board.references, board.reference_note = published_references(board.split)
        board.notes = _board_notes(board)
    return list(boards.values())

