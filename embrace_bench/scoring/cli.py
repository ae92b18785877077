"""`embrace-bench score RUN_DIR [--json] [--max-steps N]`: re-score a run offline from its records."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console

from embrace_bench.cli_args import OneLineParser, int_at_least, parse
from embrace_bench.records import RecordFileError
from embrace_bench.scoring.rescore import format_table, report_to_json, rescore_run

PROG = "embrace-bench score"


def score_main(argv: list[str]) -> int:
    """0 on success; 2 (one `embrace-bench score: error: ...` line on stderr) on bad input or a missing run."""
    ap = OneLineParser(prog=PROG, description=__doc__)
    ap.add_argument("run_dir", type=Path, help="a run directory holding episodes.jsonl (and manifest.json)")
    ap.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a table")
    ap.add_argument("--max-steps", type=int_at_least(1), default=None,
                    help="step limit for timeouts (default: the run's manifest, else 32)")
    args, code = parse(ap, argv)
    if args is None:
        return code
    try:
        report = rescore_run(args.run_dir, args.max_steps)
    except (RecordFileError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    for w in report.warnings:  # stderr, so --json stdout stays parseable
        print(f"{PROG}: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(report_to_json(report), indent=2, allow_nan=False))
    else:
        Console().print(format_table(report, title=f"EmbRACE metrics: {args.run_dir}"))
    return 0
