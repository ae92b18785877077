"""Time failure tagging and leaderboard building on many real-shaped episodes; report peak memory.

    python -m embrace_bench model=random split=all env.renderer=numpy env.width=160 env.height=120 \\
        runner.save_frames=false hydra.run.dir=/tmp/random_all          # real records, every type
    python bench/tags_leaderboard.py /tmp/random_all                    # 100,000 episodes: 4 models x 25,000
    python bench/tags_leaderboard.py /tmp/random_all --episodes 20000 --models 2 --repeat 3

The episodes are a recorded run's records (a random agent's: every type, both splits, real poses, masks,
door and held states), replicated under new task ids and parsed once into memory: the timings are for
re-scoring + tagging, and for the leaderboard code (episode frames, boards, Markdown, CSV, LaTeX, HTML with
its two plots), not for reading the file (bench/report_scale.py times the commands end to end).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from embrace_bench.manifest import read_manifest
from embrace_bench.records import EpisodeRecord
from embrace_bench.report.html import to_html
from embrace_bench.report.leaderboard import build_boards
from embrace_bench.report.runs import Run
from embrace_bench.report.tables import to_csv, to_latex, to_markdown
from embrace_bench.run_dir import RunDir
from embrace_bench.scoring.failures import TagThresholds
from embrace_bench.scoring.rescore import manifest_max_steps
from embrace_bench.scoring.scan import Scan, rescored_row


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="a recorded run to replicate (model=random, split=all)")
    ap.add_argument("--episodes", type=int, default=100_000)
    ap.add_argument("--models", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    lines = [ln for ln in RunDir(args.source).episodes.read_text(encoding="utf-8").splitlines() if ln.strip()]
    manifest, why = read_manifest(args.source)
    if manifest is None:
        raise SystemExit(why)
    per = args.episodes // args.models
    t0 = time.perf_counter()
    records = {}
    for m in range(args.models):
        recs = []
        for i in range(per):
            d = json.loads(lines[i % len(lines)])
            d["task_id"], d["model"] = f"{d['task_id']}~r{i // len(lines)}", f"model_{m}"
            recs.append(EpisodeRecord.from_json(d))
        records[f"model_{m}"] = recs
    n_steps = sum(len(r.steps) for recs in records.values() for r in recs)
    print(f"parsed {per * args.models:,} real-shaped episodes ({n_steps:,} steps) in {time.perf_counter() - t0:.1f} s;"
          f" peak RSS so far {peak_rss_mb():.0f} MB", file=sys.stderr)
    max_steps, _ = manifest_max_steps(manifest)
    tag_t, board_t = [], []  # (wall, cpu) per repeat; cpu time is what a quiet machine's wall time would be
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        scans = {}
        for name, recs in records.items():
            scan = scans[name] = Scan()
            for r in recs:
                scan.add(rescored_row(r, max_steps, TagThresholds())[0])
        tag_t.append((time.perf_counter() - t, time.process_time() - c))
        t, c = time.perf_counter(), time.process_time()
        runs = [Run(Path(name), replace(manifest, model={"name": name}), scan.frame()) for name, scan in scans.items()]
        for board in build_boards(runs):
            for render in (to_markdown, to_csv, to_latex, to_html):
                render(board)
        board_t.append((time.perf_counter() - t, time.process_time() - c))
    tagged = sum(sum(run.frame.filter(like="tag_").any(axis=1)) for run in runs)

    def med(xs, k):
        return statistics.median(x[k] for x in xs)
    n = per * args.models
    print(f"re-score + tag: median wall {med(tag_t, 0):.2f} s, cpu {med(tag_t, 1):.2f} s over {args.repeat} runs "
          f"({1e6 * med(tag_t, 1) / n:.0f} us cpu/episode; {tagged:,} episodes tagged)")
    print(f"leaderboard:    median wall {med(board_t, 0):.2f} s, cpu {med(board_t, 1):.2f} s "
          "(frames, boards + md/csv/tex/html with 2 plots each)")
    print(f"together:       wall {med(tag_t, 0) + med(board_t, 0):.2f} s, cpu {med(tag_t, 1) + med(board_t, 1):.2f} s;"
          f" peak RSS {peak_rss_mb():.0f} MB (the parsed records are held in memory for the repeats)")


if __name__ == "__main__":
    main()
