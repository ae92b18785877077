"""`embrace-bench leaderboard | view | compare`: offline commands over recorded runs.

Exit codes: 0 done; 2 unusable input (one `embrace-bench <cmd>: error: ...` line on stderr);
compare also exits 1 when the success rate dropped significantly.
"""
from __future__ import annotations

import sys
from pathlib import Path

from embrace_bench.cli_args import OneLineParser as _Parser
from embrace_bench.cli_args import fraction, int_at_least
from embrace_bench.cli_args import parse as _parse
from embrace_bench.records import RecordFileError


def _error(prog: str, msg) -> int:
    print(f"{prog}: error: {msg}", file=sys.stderr)
    return 2


def leaderboard_main(argv: list[str]) -> int:
    prog = "embrace-bench leaderboard"
    ap = _Parser(prog=prog, description="Write leaderboards/<suite>-<split>.{md,csv,tex,html} "
                                 "from run directories (a multirun or results/<date> folder stands for its runs).")
    ap.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    ap.add_argument("--out", type=Path, default=Path("leaderboards"), help="output folder (default ./leaderboards)")
    args, code = _parse(ap, argv)
    if args is None:
        return code
    from embrace_bench.report.publish import leaderboards_for

    try:
        written, warnings = leaderboards_for(args.runs, args.out)
    except (RecordFileError, OSError) as exc:
        return _error(prog, exc)
    if any(p.suffix == ".html" for p in written):
        from embrace_bench.report.plots import unavailable

        why = unavailable()
        if why:
            warnings = [*warnings, f"HTML written without plots; {why}"]
    for w in warnings:
        print(f"{prog}: warning: {w}", file=sys.stderr)
    for p in written:
        print(p)
    return 0


VIEW_LIMIT = 1000  # episodes per viewer page: a 100,000-episode run would make a gigabyte page


def compare_main(argv: list[str]) -> int:
    prog = "embrace-bench compare"
    ap = _Parser(prog=prog, description="Paired regression check of NEW_RUN against BASE_RUN. "
                                 "Exit 1 when the overall SR dropped significantly, 0 otherwise, 2 on unusable input.")
    ap.add_argument("base", type=Path, metavar="BASE_RUN")
    ap.add_argument("new", type=Path, metavar="NEW_RUN")
    ap.add_argument("--alpha", type=fraction(lo_open=True), default=0.05,
                    help="significance level of the exact McNemar test (default 0.05)")
    ap.add_argument("--min-drop", type=fraction(), default=0.0,
                    help="ignore SR drops of at most this much, as a fraction (0.05 = 5 points; default 0)")
    ap.add_argument("--out", type=Path, help="also write the Markdown summary to this file")
    args, code = _parse(ap, argv)
    if args is None:
        return code
    from embrace_bench.report.compare import UnusableInput, compare_runs, to_markdown
    from embrace_bench.report.runs import label_runs, load_run

    try:
        base, new = load_run(args.base), load_run(args.new)
        label_runs([base, new])
        comparison = compare_runs(base, new, args.alpha, args.min_drop)
        text = to_markdown(comparison)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
    except (RecordFileError, UnusableInput, OSError) as exc:
        return _error(prog, exc)
    sys.stdout.write(text)
    return 1 if comparison.regressed else 0


def view_main(argv: list[str]) -> int:
    prog = "embrace-bench view"
    ap = _Parser(prog=prog, description="Write a static, offline HTML trajectory viewer for a run.")
    ap.add_argument("run", type=Path, metavar="RUN_DIR")
    ap.add_argument("--out", type=Path, help="output file (default RUN_DIR/viewer.html)")
    ap.add_argument("--embed-frames", action="store_true",
                    help="inline the frames as data URIs (one self-contained file; large for big runs). "
                         "Default: reference frames/<task_id>/<k>.png relative to the output file")
    ap.add_argument("--offset", type=int_at_least(0), default=0,
                    help="first episode to show, counted from 0 in record order (default 0)")
    ap.add_argument("--limit", type=int_at_least(1), default=VIEW_LIMIT,
                    help=f"most episodes one page shows (default {VIEW_LIMIT}; the summary counts them all)")
    args, code = _parse(ap, argv)
    if args is None:
        return code
    from embrace_bench.report.runs import load_run
    from embrace_bench.report.viewer import write_viewer
    from embrace_bench.run_dir import RunDir

    try:
        run = load_run(args.run, keep=lambda i: args.offset <= i < args.offset + args.limit)
        if not len(run.frame):
            return _error(prog, f"no episodes recorded in {RunDir(args.run).episodes}")
        if not run.records:
            return _error(prog, f"--offset {args.offset} is past the last of the {len(run.frame)} episodes")
        out = write_viewer(run, args.out or RunDir(args.run).viewer, args.embed_frames)
    except (RecordFileError, OSError) as exc:
        return _error(prog, exc)
    for w in run.warnings:
        print(f"{prog}: warning: {w}", file=sys.stderr)
    if len(run.records) < len(run.frame):
        end = args.offset + len(run.records)
        more = f"; --offset {end} shows the next" if end < len(run.frame) else ""
        print(f"{prog}: note: the page shows episodes {args.offset + 1}-{end} of {len(run.frame)} "
              f"(--limit {args.limit}){more}", file=sys.stderr)
    print(out)
    return 0
