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

import numpy as np

from embrace_bench.records import EpisodeRecord
from embrace_bench.report.runs import Run
from embrace_bench.report.tables import md_cell
from embrace_bench.scoring.failures import TAG_NAMES
from embrace_bench.scoring.metrics import bootstrap_ci
from embrace_bench.tasks.model import TYPE_NAMES, TYPES


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
        return "All" if self.type == "all" else TYPE_NAMES.get(self.type, self.type)


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


def _paired_row(type_: str, pairs: list[tuple[EpisodeRecord, EpisodeRecord]]) -> Paired:
    ok = [(a, b) for a, b in pairs if a.status != "error" and b.status != "error"]
    n = len(ok)
    lost = sum(a.success and not b.success for a, b in ok)
    gained = sum(b.success and not a.success for a, b in ok)
    gde = np.array([b.gde_cm - a.gde_cm for a, b in ok if not (math.isnan(a.gde_cm) or math.isnan(b.gde_cm))])
    sspl = np.array([b.sspl - a.sspl for a, b in ok])
    mean = (lambda v: float(v.mean()) if len(v) else math.nan)
    return Paired(type_, n, len(pairs) - n, sum(a.success for a, _ in ok) / n if n else math.nan,
                  sum(b.success for _, b in ok) / n if n else math.nan, lost, gained, mcnemar_exact(lost, gained),
                  mean(gde), bootstrap_ci(gde), mean(sspl), bootstrap_ci(sspl))


def _same_task(a: EpisodeRecord, b: EpisodeRecord) -> bool:
    ta, tb = a.task, b.task
    return (a.type, ta.instruction, ta.target_objects, ta.target_poses) == \
           (b.type, tb.instruction, tb.target_objects, tb.target_poses)


def check_comparable(base: Run, new: Run) -> None:
    mb, mn = base.manifest, new.manifest
    if mb.get("suite") and mn.get("suite") and mb["suite"] != mn["suite"]:
        raise UnusableInput(f"different suites: {mb['suite']} (base) vs {mn['suite']} (new)")
    if mb.get("split") == mn.get("split") and mb.get("suite_hash") and mn.get("suite_hash") \
            and mb["suite_hash"] != mn["suite_hash"]:
        raise UnusableInput(f"different suites: suite hash {mb['suite_hash']} (base) vs {mn['suite_hash']} (new)")


def compare_runs(base: Run, new: Run, alpha: float = 0.05, min_drop: float = 0.0) -> Comparison:
    check_comparable(base, new)
    b_by, n_by = {r.task_id: r for r in base.records}, {r.task_id: r for r in new.records}
    shared = [t for t in b_by if t in n_by]
    if not shared:
        raise UnusableInput(f"no shared tasks: base has {len(b_by)} task(s), new has {len(n_by)}, none in common")
    differ = [t for t in shared if not _same_task(b_by[t], n_by[t])]
    if differ:
        raise UnusableInput(f"different suites: task {differ[0]} differs between the runs"
                            + (f" (and {len(differ) - 1} more)" if len(differ) > 1 else ""))
    pairs = [(b_by[t], n_by[t]) for t in shared]
    types = [t for t in TYPES if any(a.type == t for a, _ in pairs)]
    types += sorted({a.type for a, _ in pairs} - set(types))
    rows = [_paired_row(t, [p for p in pairs if p[0].type == t]) for t in types] + [_paired_row("all", pairs)]
    if rows[-1].n == 0:
        raise UnusableInput(f"none of the {len(pairs)} shared tasks finished without an error in both runs")
    rates = {}
    for tag in TAG_NAMES:
        rates[tag] = tuple(sum(any(t["name"] == tag for t in r.tags) for r in side) / len(pairs)
                           for side in zip(*pairs))
    c = Comparison(base, new, rows, rates, len(shared), len(b_by) - len(shared), len(n_by) - len(shared),
                   alpha, min_drop)
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
