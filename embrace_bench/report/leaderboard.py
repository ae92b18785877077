"""Leaderboards: runs grouped into one board per suite x split, each run a row with the paper's metrics
per type (from scoring/aggregate.py), tag rates, cost, tokens, latency and its manifest facts; the paper's
published rows join boards of the EmbRACE suites as marked references.

Denominators: every metric column, as in aggregate.aggregate, counts scored episodes (errors excluded);
tag rates count every episode of the group (an api_error is an episode too); cost per success divides
the run's whole spend in that split by its successes.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from embrace_bench.report.runs import Run, label_runs
from embrace_bench.scoring.aggregate import Report, Row, aggregate_frame, ordered
from embrace_bench.scoring.failures import TAG_NAMES
from embrace_bench.scoring.scan import TAG_COLUMNS
from embrace_bench.tasks.model import SPLITS, TYPES

EMBRACE_SUITES = ("embrace_v1", "embrace_release")  # boards that carry the paper's rows
PUBLISHED = Path(__file__).parent / "data" / "embrace3k_v1_published.json"
SPLIT_NAMES = {"id": "in-domain", "ood": "out-of-domain"}


@dataclass
class Entry:
    """One run's results on one split."""

    run: Run
    split: str
    frame: pd.DataFrame  # the run's episodes on this split (Run.frame rows)
    report: Report
    tag_rates: pd.DataFrame  # index: type codes + "all"; per tag: share of episodes carrying it (tag_<name>),
    # and share whose primary failure cause it is (primary_<name>)
    n_by_type: dict[str, int]  # type code or "all" -> episodes (errors included)
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
        return float(self.tag_rates.at[type_, f"tag_{tag}"]) if type_ in self.tag_rates.index else math.nan

    def primary_rate(self, type_: str, tag: str) -> float:
        """Share of the type's episodes whose primary failure cause is `tag`."""
        return float(self.tag_rates.at[type_, f"primary_{tag}"]) if type_ in self.tag_rates.index else math.nan


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
        return ordered(TYPES, {t for e in self.entries for t in e.n_by_type if t != "all"})


def tag_rates(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """(share of the episodes carrying each tag (`tag_<name>`) and whose primary failure cause it is
    (`primary_<name>`), per type and overall ("all"); episodes per type and overall). Every episode counts,
    errors included (an api_error is an episode too)."""
    counts = frame.groupby("type", sort=False)[list(TAG_COLUMNS)].sum()
    primary = pd.crosstab(frame["type"], frame["primary_tag"]) if frame["primary_tag"].notna().any() else None
    primary = (primary if primary is not None else pd.DataFrame(index=counts.index)) \
        .reindex(index=counts.index, columns=list(TAG_NAMES), fill_value=0).add_prefix("primary_")
    counts = counts.join(primary)
    counts.loc["all"] = counts.sum()
    n = frame.groupby("type", sort=False).size()
    n.loc["all"] = len(frame)
    return counts.div(n, axis=0), {str(t): int(k) for t, k in n.items()}


def make_entry(run: Run, split: str, frame: pd.DataFrame) -> Entry:
    rates, n_by_type = tag_rates(frame)
    e = Entry(run, split, frame, aggregate_frame(frame), rates, n_by_type)
    e.cost_usd = sum(frame["cost_usd"].tolist())  # left to right, as always (the same last digit)
    n_success = int(frame.loc[frame["status"] != "error", "success"].sum())
    if n_success:
        e.cost_per_success = e.cost_usd / n_success
    n_steps = int(frame["n_step_records"].sum())
    if n_steps:
        e.tokens_in_per_step = int(frame["tokens_in"].sum()) / n_steps
        e.tokens_out_per_step = int(frame["tokens_out"].sum()) / n_steps
    # Model latency per answered step (the scan keeps those of steps with a model call).
    lat = np.concatenate([np.zeros(0), *frame["latencies"]])
    if len(lat):
        e.latency_p50, e.latency_p95 = (float(x) for x in np.percentile(lat, [50, 95]))
    return e


def published_references(split: str) -> tuple[list[Reference], str]:
    data = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    refs = [Reference(f"{model} ({data['label']})", by_type)
            for model, by_type in data["splits"].get(split, {}).items()]
    return refs, f"{data['source']}. {data['note']}"


def _board_notes(board: Board) -> list[str]:
    notes = []
    task_sets = {e.label: set(e.frame["task_id"]) for e in board.entries}
    union = set().union(*task_sets.values()) if task_sets else set()
    for label, ids in task_sets.items():
        if len(task_sets) > 1 and ids != union:
            notes.append(f"{label} covers {len(ids)} of the {len(union)} tasks on this board")
    hashes = {e.run.manifest.suite_hash for e in board.entries if e.run.manifest.suite_hash}
    splits = {e.run.manifest.split for e in board.entries}
    if len(hashes) > 1 and len(splits) == 1:
        notes.append(f"runs were made on different versions of the suite "
                     f"(hashes {', '.join(sorted(str(h) for h in hashes))})")
    for e in board.entries:
        n_err = int((e.frame["status"] == "error").sum())
        if n_err:
            notes.append(f"{e.label}: {n_err} episode(s) ended in an error and are excluded from every metric")
    return notes


def build_boards(runs: list[Run]) -> list[Board]:
    """One board per (suite, split) found in the runs' records, rows in the order the runs were given."""
    label_runs(runs)
    boards: dict[tuple[str, str], Board] = {}
    for run in runs:
        by_split = dict(tuple(run.frame.groupby("split", sort=False)))
        for split in ordered(SPLITS, by_split):
            board = boards.setdefault((run.suite, split), Board(run.suite, split, []))
            board.entries.append(make_entry(run, split, by_split[split]))
    for board in boards.values():
        if board.suite in EMBRACE_SUITES:
            board.references, board.reference_note = published_references(board.split)
        board.notes = _board_notes(board)
    return list(boards.values())
