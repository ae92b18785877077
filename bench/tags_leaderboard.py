"""Time failure tagging and leaderboard building on many synthetic episodes; report peak memory.

    python bench/tags_leaderboard.py                  # 100,000 episodes: 4 models x 25,000, both splits
    python bench/tags_leaderboard.py --episodes 20000 --models 2 --repeat 3

Episodes are random walks with the shape of real records (5 to 32 steps, poses, ~8 visible objects per
step, door states, a few invalid answers), built in memory: the timings are for the tagger and the
leaderboard code (boards, Markdown, CSV, LaTeX, HTML with its two plots), not for JSON parsing, which is
reported separately (--io) because it depends on the disk and the file size.
"""
from __future__ import annotations

import argparse
import gc
import math
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from embrace_bench.records import EpisodeRecord, StepRecord, TaskInfo, append_record, read_records
from embrace_bench.report.leaderboard import build_boards
from embrace_bench.report.runs import Run
from embrace_bench.report.html import to_html
from embrace_bench.report.tables import to_csv, to_latex, to_markdown
from embrace_bench.scoring.failures import tag_episode
from embrace_bench.tasks.model import TYPES

ACTIONS = ["MoveForward"] * 4 + ["TurnLeft", "TurnRight"] * 2 + ["LookUp", "OpenDoor", "PickObject", "DropObject",
                                                                  "MidwayTarget"]
OBJECTS = [f"Obj_{i:02d}" for i in range(30)]


def synthetic(i: int, rng: random.Random, model: str) -> EpisodeRecord:
    type_ = TYPES[i % len(TYPES)]
    split = "id" if i % 2 else "ood"
    goals = [[rng.uniform(0, 6000), rng.uniform(0, 6000), 0, 0, 0, 0] for _ in range(2 if type_ == "3" else 1)]
    info = TaskInfo(instruction="Go to the red car.", target_poses=goals,
                    target_objects=["Car_01", "Car_02"][: len(goals)] if type_ != "4.2" else ["Bag_01", "Car_01"],
                    distractors=["Car_03", "Car_04"], door="Door_01" if type_ == "4.1" else None,
                    pick_object="Bag_01" if type_ == "4.2" else None,
                    object_locations={"Car_01": goals[-1][:3], "Car_03": [3000, 3000, 0], "Car_04": [100, 100, 0]})
    x, y, yaw = rng.uniform(0, 6000), rng.uniform(0, 6000), rng.choice(range(-180, 180, 30))
    steps, n = [], rng.randint(5, 32)
    for k in range(n):
        a = "Finish" if k == n - 1 and n < 32 else rng.choice(ACTIONS)
        before = [x, y, 90.0, 0.0, float(yaw), 0.0]
        if a == "MoveForward" and rng.random() < 0.8:
            x, y = x + 235 * math.cos(math.radians(yaw)), y + 235 * math.sin(math.radians(yaw))
        elif a in ("TurnLeft", "TurnRight"):
            yaw = (yaw + (30 if a == "TurnRight" else -30) + 180) % 360 - 180
        valid = rng.random() > 0.03
        vis = {o: rng.randint(1, 5000) for o in rng.sample(OBJECTS, 6)}
        if rng.random() < 0.3:
            vis["Car_01"] = rng.randint(10, 3000)
        steps.append(StepRecord(index=k, action=a if valid else None, raw_response="<think>x</think>", valid=valid,
                                pose_before=before, pose_after=[x, y, 90.0, 0.0, float(yaw), 0.0], visible=vis,
                                door_state={"Door_01": int(a == "OpenDoor" and rng.random() < 0.5)},
                                latency_s=rng.uniform(0.5, 3), tokens={"in": 1500, "out": 80}))
    success = rng.random() < 0.3
    return EpisodeRecord(task_id=f"{split}-{type_}-{i:06d}", type=type_, split=split, map="Street_25", model=model,
                         status="finished" if n < 32 else "timeout", success=success, gde_cm=rng.uniform(0, 3000),
                         sspl=0.5 * success, n_steps=n, s_opt=10, task=info, steps=steps, cost_usd=0.01 * n,
                         tokens_in=1500 * n, tokens_out=80 * n, start_visible={"Car_01": 200})


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=100_000)
    ap.add_argument("--models", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--io", action="store_true", help="also time writing and reading the records as JSONL")
    args = ap.parse_args()
    rng = random.Random(0)
    per = args.episodes // args.models
    t0 = time.perf_counter()
    runs = [Run(Path(f"model_{m}"), {"suite": "synthetic", "model": {"name": f"model_{m}"}},
                [synthetic(i, rng, f"model_{m}") for i in range(per)]) for m in range(args.models)]
    records = [r for run in runs for r in run.records]
    gc.freeze()  # as the report commands do once runs are loaded: no GC passes over every record
    print(f"built {len(records):,} synthetic episodes ({sum(len(r.steps) for r in records):,} steps) in "
          f"{time.perf_counter() - t0:.1f} s; peak RSS so far {peak_rss_mb():.0f} MB", file=sys.stderr)
    tag_t, board_t = [], []  # (wall, cpu) per repeat; cpu time is what a quiet machine's wall time would be
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        for r in records:
            r.tags = tag_episode(r)
        tag_t.append((time.perf_counter() - t, time.process_time() - c))
        t, c = time.perf_counter(), time.process_time()
        for board in build_boards(runs):
            for render in (to_markdown, to_csv, to_latex, to_html):
                render(board)
        board_t.append((time.perf_counter() - t, time.process_time() - c))
    tagged = sum(bool(r.tags) for r in records)
    med = (lambda xs, k: statistics.median(x[k] for x in xs))
    print(f"tagging:     median wall {med(tag_t, 0):.2f} s, cpu {med(tag_t, 1):.2f} s over {args.repeat} runs "
          f"({1e6 * med(tag_t, 1) / len(records):.0f} us cpu/episode; {tagged:,} episodes tagged)")
    print(f"leaderboard: median wall {med(board_t, 0):.2f} s, cpu {med(board_t, 1):.2f} s "
          "(boards + md/csv/tex/html with 2 plots each)")
    print(f"together:    wall {med(tag_t, 0) + med(board_t, 0):.2f} s, cpu {med(tag_t, 1) + med(board_t, 1):.2f} s; "
          f"peak RSS {peak_rss_mb():.0f} MB")
    if args.io:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "episodes.jsonl"
            t = time.perf_counter()
            for r in records:
                append_record(path, r)  # fsync per record, as the runner does
            w = time.perf_counter() - t
            t = time.perf_counter()
            read_records(path)
            print(f"io: write {w:.1f} s (fsync per record), read {time.perf_counter() - t:.1f} s, "
                  f"{path.stat().st_size / 1e6:.0f} MB; peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
