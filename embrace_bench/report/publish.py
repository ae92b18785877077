"""Run directories -> leaderboards/<suite>-<split>.{md,csv,tex,html}: the one entry point the CLI and the
Hydra end-of-sweep callback share."""
from __future__ import annotations

from pathlib import Path

from embrace_bench.report.html import to_html
from embrace_bench.report.leaderboard import build_boards
from embrace_bench.report.runs import Run, load_run
from embrace_bench.report.tables import to_csv, to_latex, to_markdown
from embrace_bench.run_dir import RunDir

WRITERS = {".md": to_markdown, ".csv": to_csv, ".tex": to_latex, ".html": to_html}


def write_leaderboards(runs: list[Run], out_dir: Path) -> list[Path]:
    """Write every board the runs make; each file is written whole, then moved into place."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for board in build_boards(runs):
        for ext, render in WRITERS.items():
            path = out_dir / f"{board.name}{ext}"
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(render(board), encoding="utf-8")
            tmp.replace(path)
            written.append(path)
    return written


def find_runs(paths: list[Path]) -> list[Path]:
    """Run directories among `paths`: each path itself if it holds episodes.jsonl, else its subdirectories
    that do (a Hydra multirun directory, or results/<date>/)."""
    out = []
    for p in map(Path, paths):
        inner = [] if RunDir(p).episodes.exists() or not p.is_dir() else \
            sorted(d for d in p.iterdir() if RunDir(d).episodes.exists())
        out += inner or [p]  # a path that is no run is kept, so loading it names the problem
    return out


def leaderboards_for(paths: list[Path], out_dir: Path) -> tuple[list[Path], list[str]]:
    """(files written, warnings); raises RecordFileError for a path that is no run at all."""
    runs = [load_run(p) for p in find_runs(paths)]
    warnings = [f"{r.run_dir}: {w}" for r in runs for w in r.warnings]
    return write_leaderboards(runs, out_dir), warnings
