"""Re-score a run directory from its records alone, and render the per type x split table."""
from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

from rich.table import Table

from embrace_bench.records import RecordFileError, read_records
from embrace_bench.scoring.metrics import Report, aggregate, rescore
from embrace_bench.tasks.model import TYPE_NAMES

DEFAULT_MAX_STEPS = 32


def run_max_steps(run_dir: Path) -> int:
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return DEFAULT_MAX_STEPS
    return int(manifest.get("max_steps") or DEFAULT_MAX_STEPS)


def rescore_run(run_dir: Path, max_steps: int | None = None) -> tuple[Report, list[str]]:
    """(report, problems); problems are unreadable lines, reported rather than fatal."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RecordFileError(f"run directory not found: {run_dir}")
    records, problems = read_records(run_dir / "episodes.jsonl")
    max_steps = max_steps or run_max_steps(run_dir)
    return aggregate([rescore(r, max_steps) for r in records]), problems


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f}%"


def _num(x: float, fmt: str = "{:.1f}") -> str:
    return "-" if math.isnan(x) else fmt.format(x)


def format_table(report: Report, title: str = "EmbRACE metrics") -> Table:
    t = Table(title=title)
    for col in ("Split", "Type", "N", "Err", "SR (95% CI)", "GDE (cm)", "SSPL", "Steps", "TR"):
        t.add_column(col, justify="left" if col in ("Split", "Type") else "right")
    for r in report.rows:
        name = "All" if r.type == "all" else TYPE_NAMES[r.type]
        sr = "-" if math.isnan(r.sr) else f"{_pct(r.sr)} ({100 * r.sr_ci[0]:.0f}-{100 * r.sr_ci[1]:.0f})"
        t.add_row(r.split.upper() if r.split != "all" else "ALL", name, str(r.n), str(r.n_errors), sr,
                  _num(r.gde), _num(r.sspl, "{:.3f}"), _num(r.steps), _pct(r.tr),
                  end_section=r.type == "all")
    if report.cost_usd or report.tokens_in:
        t.caption = f"cost ${report.cost_usd:.4f}, tokens in {report.tokens_in}, out {report.tokens_out}"
    return t


def report_to_json(report: Report) -> dict:
    def clean(v):
        if isinstance(v, float) and math.isnan(v):
            return None
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    rows = [{k: clean(v) for k, v in asdict(r).items()} for r in report.rows]
    return {"rows": rows, "cost_usd": report.cost_usd, "tokens_in": report.tokens_in, "tokens_out": report.tokens_out}
