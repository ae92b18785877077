"""`embrace-bench score RUN_DIR [--json] [--max-steps N]`: re-score a run offline from its records."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from embrace_bench.records import RecordFileError
from embrace_bench.scoring.rescore import format_table, report_to_json, rescore_run


def score_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="embrace-bench score", description=__doc__)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--json", action="store_true", help="print the metrics as JSON")
    ap.add_argument("--max-steps", type=int, default=None, help="override the run's step limit")
    args = ap.parse_args(argv)
    try:
        report, problems = rescore_run(args.run_dir, args.max_steps)
    except RecordFileError as exc:
        print(f"embrace-bench score: error: {exc}", file=sys.stderr)
        return 2
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    if args.json:
        print(json.dumps(report_to_json(report), indent=2))
    else:
        Console().print(format_table(report, title=f"EmbRACE metrics: {args.run_dir}"))
    return 0
