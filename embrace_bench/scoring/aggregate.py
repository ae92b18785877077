"""Aggregation of scored episodes (scoring/metrics.py scores each one): rows per split x type with their means,
rates and 95% intervals (Wilson for rates, a seeded percentile bootstrap for means), the costs and token counts.
Denominators: the scored episodes; errors and the release's unscorable episodes are counted apart.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embrace_bench.records import EpisodeRecord
from embrace_bench.scoring.scan import records_frame
from embrace_bench.tasks.model import SPLITS, TYPE_NAMES, TYPES


# ---- intervals ------------------------------------------------------------------------------
def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (nan, nan for n = 0)."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


EXACT_BOOTSTRAP_MAX_N = 2000  # more values than this: the fast, equivalent forms in bootstrap_ci
DISTINCT_MAX = 1000


def bootstrap_ci(values, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean; seeded, so the same values always give the same interval.

    Up to EXACT_BOOTSTRAP_MAX_N values, indices are resampled (drawn in chunks of replicates so memory
    stays small: the same numbers as one big draw). Larger groups (10^5 episodes would take n_boot x n =
    10^8 draws and ~1 GB): the same bootstrap distribution is drawn from the counts of the distinct values
    (multinomial) when there are at most DISTINCT_MAX of them (TR, Steps, SSPL), else its normal limit
    mean +- z * sd / sqrt(n) (sd with ddof=0, the bootstrap distribution's own spread), which at that size
    differs from the percentile bootstrap by less than the bootstrap's own Monte Carlo error.
    """
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    if n <= EXACT_BOOTSTRAP_MAX_N:
        rows = max(1, 2_000_000 // n)
        means = np.concatenate([v[rng.integers(0, n, size=(min(rows, n_boot - i), n))].mean(axis=1)
                                for i in range(0, n_boot, rows)])
    else:
        uniq, counts = np.unique(v, return_counts=True)
        if len(uniq) > DISTINCT_MAX:
            z = statistics.NormalDist().inv_cdf(1 - alpha / 2)
            half = z * float(v.std()) / math.sqrt(n)
            return (float(v.mean()) - half, float(v.mean()) + half)
        means = rng.multinomial(n, counts / n, size=n_boot) @ uniq / n
    return (float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2)))


# ---- aggregation ----------------------------------------------------------------------------
@dataclass
class Row:
    split: str  # "id" | "ood" | "all"
    type: str  # a type code, or "all"
    n: int  # scored episodes (errors excluded): the denominator of every column below
    n_errors: int
    sr: float
    sr_ci: tuple[float, float]  # Wilson 95%
    gde: float
    gde_ci: tuple[float, float]  # bootstrap 95% on every mean
    sspl: float
    sspl_ci: tuple[float, float]
    steps: float
    steps_ci: tuple[float, float]
    tr: float
    tr_ci: tuple[float, float]
    n_success: int = 0
    # Tasks with success regions (nan elsewhere): the release's SPL and OS over the same episodes, and the
    # episodes its scorer cannot score (left out of every column, like errors).
    n_unscorable: int = 0
    spl: float = math.nan
    spl_ci: tuple[float, float] = (math.nan, math.nan)
    os: float = math.nan
    os_ci: tuple[float, float] = (math.nan, math.nan)

    @property
    def type_name(self) -> str:
        return type_name(self.type)


def type_name(code: str) -> str:
    """The paper's name of a type code; "All" for the rows over every type ("all")."""
    return "All" if code == "all" else TYPE_NAMES.get(code, code)


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    cost_usd: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    n_records: int = 0
    warnings: list[str] = field(default_factory=list)  # problems found reading or re-scoring the records

    def row(self, split: str, type_: str) -> Row | None:
        return next((r for r in self.rows if r.split == split and r.type == type_), None)


# Row field -> episode column averaged into it over the scored episodes (missing values, None or nan, left
# out; bootstrap interval), or whose share of true values it is (Wilson interval): adding a metric is one
# line here (and its two Row fields).
MEAN_METRICS = {"gde": "gde_cm", "sspl": "sspl", "steps": "n_steps", "tr": "timed_out", "spl": "spl"}
RATE_METRICS = {"os": "os"}


def _total(column) -> float:
    return sum(column.tolist())  # left to right, as the records were always summed (the same last digit)


def _row(split: str, type_: str, group) -> Row:
    scored = group[group["status"] != "error"]
    ok = scored[scored["unscorable"].fillna("") == ""]  # the release's unscorable episodes count apart
    k = int(ok["success"].sum())
    values = {f: ok[c].dropna().to_numpy(dtype=np.float64) for f, c in MEAN_METRICS.items()}
    means: dict[str, Any] = {f: float(v.mean()) if len(v) else math.nan for f, v in values.items()}
    cis: dict[str, Any] = {f"{f}_ci": bootstrap_ci(v) for f, v in values.items()}
    rates: dict[str, Any] = {}
    for f, c in RATE_METRICS.items():
        v = ok[c].dropna().astype(bool)
        rates.update({f: int(v.sum()) / len(v) if len(v) else math.nan,
                      f"{f}_ci": wilson_interval(int(v.sum()), len(v))})
    return Row(split, type_, len(ok), len(group) - len(scored), k / len(ok) if len(ok) else math.nan,
               wilson_interval(k, len(ok)), n_success=k, n_unscorable=len(scored) - len(ok), **means, **cis, **rates)


def ordered(known: tuple[str, ...], present) -> list[str]:
    """The codes in `present` (split or type codes): those `known` in their (paper) order, then the rest sorted."""
    return [x for x in known if x in present] + sorted(set(present) - set(known))


def aggregate_frame(episodes) -> Report:
    """Rows per split x type (paper order), per split ("all" type), and overall ("all", "all"), from a frame
    of episodes with scan.py's columns (one row per episode, in record order: the bootstrap is seeded): these
    metrics' columns, split, type, status, success, unscorable, cost_usd and the token counts."""
    rep = Report(cost_usd=_total(episodes["cost_usd"]), tokens_in=int(episodes["tokens_in"].sum()),
                 tokens_out=int(episodes["tokens_out"].sum()), n_records=len(episodes))
    splits = dict(tuple(episodes.groupby("split", sort=False)))
    for s in ordered(SPLITS, splits):
        types = dict(tuple(splits[s].groupby("type", sort=False)))
        rep.rows += [_row(s, t, types[t]) for t in ordered(TYPES, types)]
        rep.rows.append(_row(s, "all", splits[s]))
    if len(episodes):
        rep.rows.append(_row("all", "all", episodes))
    return rep


def aggregate(records: list[EpisodeRecord]) -> Report:
    """aggregate_frame over records in memory, as they are (not re-scored)."""
    return aggregate_frame(records_frame(records))
