"""The report commands' outputs on the recorded fixture runs (tests/fixtures/report_runs: oracle, heuristic and
random, 24 episodes each; the random run edited to hold API and engine errors, spend, tokens and latency, a
task recorded twice and a truncated last line), and the golden copies of them made by the hand-grouped
reports this package had before its tables were computed with pandas (tests/fixtures/report_golden).

    python -m tests.report_golden --write   # only to re-baseline after an intended change of the outputs
"""
from __future__ import annotations

import contextlib
import gzip
import io
import re
import sys
from pathlib import Path

from embrace_bench.__main__ import main as cli_main

FIXTURES = Path(__file__).parent / "fixtures"
RUNS = FIXTURES / "report_runs"
GOLDEN = FIXTURES / "report_golden"
MODELS = ("oracle", "heuristic", "random")
SVG = re.compile(r"<svg.*?</svg>", re.S)


def materialize(dest: Path) -> dict[str, Path]:
    """Unpack the fixture runs under dest: model -> run dir."""
    out = {}
    for m in MODELS:
        d = dest / m
        d.mkdir(parents=True, exist_ok=True)
        (d / "manifest.json").write_bytes((RUNS / m / "manifest.json").read_bytes())
        with gzip.open(RUNS / m / "episodes.jsonl.gz", "rb") as f:
            (d / "episodes.jsonl").write_bytes(f.read())
        out[m] = d
    return out


def _cli(argv: list[str], root: Path) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main(argv)
        except SystemExit as exc:
            code = exc.code
    text = f"exit {code}\n--- stdout\n{out.getvalue()}--- stderr\n{err.getvalue()}"
    return text.replace(str(root), "<root>")


def outputs(tmp: Path) -> dict[str, str]:
    """name -> text of every output the report commands make on the fixture runs (SVG plots left out)."""
    runs = materialize(tmp / "runs")
    board_dir = tmp / "boards"
    got = {"leaderboard.log": _cli(["leaderboard", *map(str, runs.values()), "--out", str(board_dir)], tmp)}
    for p in sorted(board_dir.iterdir()):
        text = p.read_text(encoding="utf-8")
        got[p.name] = SVG.sub("<svg/>", text) if p.suffix == ".html" else text
    for m, d in runs.items():
        got[f"score-{m}.json"] = _cli(["score", str(d), "--json"], tmp)
    for a, b in (("heuristic", "random"), ("oracle", "heuristic"), ("random", "heuristic")):
        got[f"compare-{a}-{b}.md"] = _cli(["compare", str(runs[a]), str(runs[b])], tmp)
    return got


if __name__ == "__main__":
    import tempfile

    if "--write" not in sys.argv:
        sys.exit(__doc__)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        for name, text in outputs(Path(d)).items():
            (GOLDEN / name).write_text(text, encoding="utf-8")
            print(GOLDEN / name)
