"""Re-score a run directory from its records alone, and render the per type x split table."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import fields
from pathlib import Path

from rich import box
from rich.table import Table

from embrace_bench.defaults import MAX_STEPS
from embrace_bench.manifest import Manifest, read_manifest
from embrace_bench.records import RecordFileError
from embrace_bench.run_dir import MANIFEST, RunDir
from embrace_bench.scoring.aggregate import Report, Row, aggregate_frame
from embrace_bench.scoring.scan import disagreements, scan_run

JSON_SCHEMA = 1


def run_max_steps(run_dir: Path) -> tuple[int, str]:
    """(max_steps, warning): from the manifest's "max_steps", else its config.runner.max_steps, else 32."""
    manifest, why = read_manifest(run_dir)
    if manifest is None:
        return MAX_STEPS, f"{why}; assuming max_steps={MAX_STEPS}"
    return manifest_max_steps(manifest, RunDir(run_dir).manifest)


def manifest_max_steps(manifest: Manifest | dict | None, path: Path | str = MANIFEST) -> tuple[int, str]:
    """(max_steps, warning) from a loaded manifest: its "max_steps", else config.runner.max_steps, else 32."""
    manifest = Manifest.of(manifest)
    value = manifest.max_steps
    if value is None:
        runner = manifest.group("config").get("runner")
        value = runner.get("max_steps") if isinstance(runner, dict) else None
    try:
        if value is not None and int(value) >= 1:
            return int(value), ""
    except (TypeError, ValueError):
        pass
    return MAX_STEPS, f"{path} gives no usable max_steps ({value!r}); assuming max_steps={MAX_STEPS}"


def unscorable_summary(episodes) -> str:
    """One line counting the episodes (a frame of them: scan.Scan.frame) the release's scorer cannot score,
    by reason ("" when none)."""
    pairs = zip(episodes["status"], episodes["unscorable"])
    reasons = Counter(why for status, why in pairs if why and status != "error")
    if not reasons:
        return ""
    parts = "; ".join(f"{n} x {why}" for why, n in reasons.most_common())
    return f"{sum(reasons.values())} episode(s) unscorable by the release's rules, left out of every mean: {parts}"


def rescore_run(run_dir: Path, max_steps: int | None = None, workers: int | None = None) -> Report:
    """Recompute every episode's metrics from run_dir/episodes.jsonl (streamed: one row per task is kept);
    problems go to `report.warnings`. Raises RecordFileError (naming the path) when the directory or its
    episodes file is missing."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RecordFileError(f"run directory not found: {run_dir}")
    if not RunDir(run_dir).episodes.exists():
        raise RecordFileError(f"no episodes file at {RunDir(run_dir).episodes}")
    warnings = []
    if max_steps is None:
        max_steps, w = run_max_steps(run_dir)
        warnings += [w] if w else []
    elif max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, not {max_steps}")
    scan = scan_run(run_dir, max_steps, None, workers=workers)
    frame = scan.frame()
    found = [disagreements(scan, "metrics_differ", "metrics"), unscorable_summary(frame)]
    report = aggregate_frame(frame)
    report.warnings = scan.problems + warnings + [w for w in found if w]
    return report


# ---- rendering --------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f}%"


def _num(x: float, fmt: str = "{:.1f}") -> str:
    return "-" if math.isnan(x) else fmt.format(x)


def _sr_cell(r: Row) -> str:
    if math.isnan(r.sr):
        return "-"
    return f"{_pct(r.sr)} [{100 * r.sr_ci[0]:.0f}, {100 * r.sr_ci[1]:.0f}]"  # whole percents: fits 80 columns


def has_release_metrics(rows) -> bool:
    """Whether any row carries the release's SPL / OS (tasks with success regions) or unscorable episodes."""
    return any(not math.isnan(r.spl) or not math.isnan(r.os) or r.n_unscorable for r in rows)


def format_table(report: Report, title: str = "EmbRACE metrics") -> Table:
    """One table: split x type rows in paper order, each split closed by its "All" row (overall if 2+ splits).
    Release tasks add the release's SPL and OS, and Unsc. (episodes its scorer cannot score)."""
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    release = has_release_metrics(report.rows)
    for col in ("Split", "Type", "N", "Err", "SR [95% CI]", "GDE (cm)", "SSPL", "Steps", "TR",
                *(("SPL", "OS", "Unsc.") if release else ())):
        text = col in ("Split", "Type")  # only the type name may wrap; numbers stay on one line
        t.add_column(col, justify="left" if text else "right", no_wrap=not text,
                     min_width=11 if col == "Type" else None)
    n_splits = len({r.split for r in report.rows if r.split != "all"})
    for r in report.rows:
        if r.split == "all" and n_splits < 2:
            continue  # with one split the overall row repeats that split's "All" row
        extra = (_num(r.spl, "{:.3f}"), _pct(r.os), str(r.n_unscorable)) if release else ()
        t.add_row(r.split.upper(), r.type_name, str(r.n), str(r.n_errors), _sr_cell(r), _num(r.gde),
                  _num(r.sspl, "{:.3f}"), _num(r.steps), _pct(r.tr), *extra, end_section=r.type == "all")
    caption = [f"{report.n_records} episodes", f"cost ${report.cost_usd:.4f}",
               f"tokens in {report.tokens_in:,} / out {report.tokens_out:,}"]
    if report.warnings:
        caption.append(f"{len(report.warnings)} warning(s)")
    t.caption = ", ".join(caption) + ". Err: errors, excluded from every other column." + (
        " Unsc.: episodes the release's scorer cannot score, excluded likewise." if release else "")
    return t


def _clean(v):
    """JSON-safe: nan -> None, tuples -> lists."""
    if isinstance(v, float):
        return None if math.isnan(v) else v
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def _row_json(r: Row) -> dict:
    keys = [f.name for f in fields(Row) if f.name not in ("split", "type")]  # every metric a Row defines
    return {"split": r.split, "type": r.type, "type_name": r.type_name, **{k: _clean(getattr(r, k)) for k in keys}}


def report_to_json(report: Report) -> dict:
    """JSON-serialisable report with stable keys; missing values (nan) are null."""
    return {"schema": JSON_SCHEMA, "n_records": report.n_records, "rows": [_row_json(r) for r in report.rows],
            "cost_usd": report.cost_usd, "tokens_in": report.tokens_in, "tokens_out": report.tokens_out,
            "warnings": list(report.warnings)}
