"""Paired regression check of two runs on the same suite: episodes paired by task_id; per type and overall
the SR change with an exact McNemar test, GDE/SSPL changes with paired bootstrap intervals, tag-rate
changes; a Markdown summary fit for a pull-request comment.

Verdict (the exit code): 1 when the overall SR dropped, the two-sided exact McNemar p-value is below
`alpha`, and the drop exceeds `min_drop` (SR as a fraction: 0.05 = 5 points); 0 otherwise. Per-type rows
are reported (a significant per-type drop is marked) but do not decide the exit code: six more tests at
the same alpha would raise false alarms. Pairs where either episode ended in an error are excluded from
SR/GDE/SSPL and counted; tag rates count every shared pair.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import pandas as pd

from embrace_bench.report.runs import Run
from embrace_bench.report.tables import md_cell
from embrace_bench.scoring.aggregate import bootstrap_ci, ordered, type_name
from embrace_bench.scoring.failures import TAG_NAMES
from embrace_bench.scoring.scan import TAG_COLUMNS
from embrace_bench.tasks.model import TYPES


class UnusableInput(ValueError):
    """The two runs cannot be compared (different suites, nothing shared)."""


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of b successes in b + c discordant pairs at 1/2."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2 ** n)  # exact: no underflow for large n
    return float(min(Fraction(1), 2 * tail))


@dataclass
class Paired:
    """One row of the comparison: a type (or "all") over the episodes paired by task."""

    type: str
    n: int  # usable pairs (neither episode an error)
    n_excluded: int  # pairs with an error on either side
    base_sr: float
    new_sr: float
    lost: int  # base succeeded, new failed
    gained: int  # base failed, new succeeded
    p_value: float
    gde_delta: float
    gde_ci: tuple[float, float]
    sspl_delta: float
    sspl_ci: tuple[float, float]

    @property
    def sr_delta(self) -> float:
        return self.new_sr - self.base_sr

    def dropped(self, alpha: float, min_drop: float) -> bool:
        return self.n > 0 and self.sr_delta < 0 and self.p_value < alpha and -self.sr_delta > min_drop

    @property
    def type_name(self) -> str:
        return type_name(self.type)


@dataclass
class Comparison:
    base: Run
    new: Run
    rows: list[Paired]
    tag_rates: dict[str, tuple[float, float]]  # tag -> (base rate, new rate) over every shared pair
    n_shared: int
    only_base: int
    only_new: int
    alpha: float
    min_drop: float
    notes: list[str] = field(default_factory=list)

    def overall(self) -> Paired:
        return next(r for r in self.rows if r.type == "all")

    @property
    def regressed(self) -> bool:
        return self.overall().dropped(self.alpha, self.min_drop)


def _paired_row(type_: str, pairs: pd.DataFrame) -> Paired:
    """`pairs`: one row per shared task, base columns `<name>_b`, new columns `<name>_n`, in base order."""
    ok = pairs[(pairs["status_b"] != "error") & (pairs["status_n"] != "error")]
    n = len(ok)
    a, b = ok["success_b"].astype(bool), ok["success_n"].astype(bool)
    lost, gained = int((a & ~b).sum()), int((b & ~a).sum())
    gde = (ok["gde_cm_n"].astype("float64") - ok["gde_cm_b"].astype("float64")).dropna().to_numpy()
    sspl = (ok["sspl_n"] - ok["sspl_b"]).to_numpy(dtype="float64")

    def mean(v):
        return float(v.mean()) if len(v) else math.nan
    return Paired(type_, n, len(pairs) - n, int(a.sum()) / n if n else math.nan, int(b.sum()) / n if n else math.nan,
                  lost, gained, mcnemar_exact(lost, gained), mean(gde), bootstrap_ci(gde), mean(sspl),
                  bootstrap_ci(sspl))


def check_comparable(base: Run, new: Run) -> None:
    mb, mn = base.manifest, new.manifest
    if mb.suite and mn.suite and mb.suite != mn.suite:
        raise UnusableInput(f"different suites: {mb.suite} (base) vs {mn.suite} (new)")
    if mb.split == mn.split and mb.suite_hash and mn.suite_hash and mb.suite_hash != mn.suite_hash:
        raise UnusableInput(f"different suites: suite hash {mb.suite_hash} (base) vs {mn.suite_hash} (new)")


PAIR_COLUMNS = ["task_id", "type", "task_key", "status", "success", "gde_cm", "sspl", *TAG_COLUMNS]


def compare_runs(base: Run, new: Run, alpha: float = 0.05, min_drop: float = 0.0) -> Comparison:
    check_comparable(base, new)
    b, n = base.frame[PAIR_COLUMNS], new.frame[PAIR_COLUMNS]
    pairs = b.merge(n, on="task_id", how="inner", suffixes=("_b", "_n"))  # inner: in base order
    if not len(pairs):
        raise UnusableInput(f"no shared tasks: base has {len(b)} task(s), new has {len(n)}, none in common")
    differ = pairs.loc[pairs["task_key_b"] != pairs["task_key_n"], "task_id"].tolist()
    if differ:
        raise UnusableInput(f"different suites: task {differ[0]} differs between the runs"
                            + (f" (and {len(differ) - 1} more)" if len(differ) > 1 else ""))
    by_type = dict(tuple(pairs.groupby("type_b", sort=False)))
    types = ordered(TYPES, by_type)
    rows = [_paired_row(t, by_type[t]) for t in types] + [_paired_row("all", pairs)]
    if rows[-1].n == 0:
        raise UnusableInput(f"none of the {len(pairs)} shared tasks finished without an error in both runs")
    rates = {tag: (int(pairs[f"tag_{tag}_b"].sum()) / len(pairs), int(pairs[f"tag_{tag}_n"].sum()) / len(pairs))
             for tag in TAG_NAMES}
    c = Comparison(base, new, rows, rates, len(pairs), len(b) - len(pairs), len(n) - len(pairs), alpha, min_drop)
    if c.only_base or c.only_new:
        c.notes.append(f"{c.only_base} task(s) only in base and {c.only_new} only in new are left out")
    if rows[-1].n_excluded:
        c.notes.append(f"{rows[-1].n_excluded} shared task(s) ended in an error in either run: excluded from SR, "
                       "GDE and SSPL")
    c.notes += [f"base: {w}" for w in base.warnings] + [f"new: {w}" for w in new.warnings]
    return c


# ---- Markdown ---------------------------------------------------------------------------------------
def _pts(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:+.1f}"


def _ci(mean: float, ci: tuple[float, float], fmt: str) -> str:
    if math.isnan(mean):
        return "-"
    return f"{fmt.format(mean)} [{fmt.format(ci[0])}, {fmt.format(ci[1])}]"


def to_markdown(c: Comparison) -> str:
    o = c.overall()
    verdict = (f"**SR dropped significantly**: {100 * o.base_sr:.1f}% -> {100 * o.new_sr:.1f}% "
               f"({_pts(o.sr_delta)} points, McNemar p = {o.p_value:.3g})" if c.regressed else
               f"No significant SR drop: {100 * o.base_sr:.1f}% -> {100 * o.new_sr:.1f}% "
               f"({_pts(o.sr_delta)} points, McNemar p = {o.p_value:.3g})")
    lines = [f"### embrace-bench compare: {'❌' if c.regressed else '✅'} {verdict}", "",
             f"Base `{md_cell(c.base.label or c.base.model)}` ({md_cell(c.base.run_dir)}) vs new "
             f"`{md_cell(c.new.label or c.new.model)}` ({md_cell(c.new.run_dir)}): {c.n_shared} tasks paired by id; "
             f"alpha = {c.alpha:g}, minimum drop {100 * c.min_drop:g} points. Exact two-sided McNemar test on the "
             "discordant pairs; paired bootstrap 95% intervals on the mean differences (new - base).", "",
             "| Type | Pairs | SR base % | SR new % | ΔSR (points) | Lost / gained | McNemar p | ΔGDE cm [95% CI] "
             "| ΔSSPL [95% CI] |", "|---|---|---|---|---|---|---|---|---|"]
    for r in c.rows:
        mark = " ▼" if r.dropped(c.alpha, c.min_drop) else ""
        name = f"**{r.type_name}**" if r.type == "all" else r.type_name
        sr = ("-", "-") if math.isnan(r.base_sr) else (f"{100 * r.base_sr:.1f}", f"{100 * r.new_sr:.1f}")
        lines.append(f"| {name} | {r.n} | {sr[0]} | {sr[1]} | {_pts(r.sr_delta)}{mark} | {r.lost} / {r.gained} | "
                     f"{r.p_value:.3g} | {_ci(r.gde_delta, r.gde_ci, '{:+.0f}')} | "
                     f"{_ci(r.sspl_delta, r.sspl_ci, '{:+.3f}')} |")
    lines += ["", "▼: significant drop at this alpha (per-type rows do not decide the verdict).", "",
              "| Failure tag | Base % | New % | Δ (points) |", "|---|---|---|---|"]
    for tag, (b, n) in c.tag_rates.items():
        if b or n:
            lines.append(f"| {tag} | {100 * b:.1f} | {100 * n:.1f} | {100 * (n - b):+.1f} |")
    if c.notes:
        lines += [""] + [f"- {md_cell(n)}" for n in c.notes]
    return "\n".join(lines) + "\n"
