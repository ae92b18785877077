"""Cache-hit speed-up: a run, then the same run again answered from its response cache (a fresh run dir
holding a copy of cache.sqlite), then `model=replay` of its records; wall times of the whole command and
of the run loop (manifest wall_s), and a check that all three recorded the same actions.

Two models: the tiny random Qwen2.5-VL in-process (tests/tiny_qwen.py, constrained so it acts) and GPT-4o's
adapter against the local fake API server (tests/fakeapi.py), whose replies are instant: there the
speed-up is only what the harness saves, a real API's seconds per call come on top.

    python bench/cache_replay.py [--tasks 4] [--steps 8] [--renderer gl]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from embrace_bench.manifest import read_manifest
from embrace_bench.run_dir import RunDir

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def cli(args: list[str], run_dir: Path, env: dict) -> float:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "embrace_bench", *args, f"hydra.run.dir={run_dir}"], cwd=ROOT,
                       env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(p.stderr[-3000:])
    return wall


def summary(run_dir: Path) -> tuple[float, list, float, int]:
    recs = [json.loads(ln) for ln in RunDir(run_dir).episodes.read_text().splitlines()]
    recs.sort(key=lambda r: r["task_id"])
    actions = [[s["action"] for s in r["steps"]] for r in recs]
    model_s = sum(s["latency_s"] for r in recs for s in r["steps"])
    cached = sum(s["cached"] for r in recs for s in r["steps"])
    return read_manifest(run_dir)[0].wall_s, actions, model_s, cached


def bench(label: str, model_args: list[str], common: list[str], tmp: Path, env: dict) -> None:
    slug = label.split()[0]
    a, b, c = tmp / f"{slug}-first", tmp / f"{slug}-cached", tmp / f"{slug}-replay"
    w_a = cli(model_args + common, a, env)
    b.mkdir()
    shutil.copy(RunDir(a).cache, RunDir(b).cache)
    w_b = cli(model_args + common, b, env)
    w_c = cli(["model=replay", f"model.source={a}"] + common, c, env)
    (loop_a, act_a, model_a, _), (loop_b, act_b, _, hit_b), (loop_c, act_c, _, _) = map(summary, (a, b, c))
    steps = sum(len(x) for x in act_a)
    same = act_a == act_b == act_c
    print(f"{label:22} first run {w_a:6.1f} s (loop {loop_a:5.1f} s, model calls {model_a:5.1f} s) | "
          f"from cache {w_b:5.1f} s (loop {loop_b:5.1f} s, {hit_b}/{steps} steps cached) | "
          f"model=replay {w_c:5.1f} s (loop {loop_c:5.1f} s) | loop speed-up x{loop_a / loop_b:.1f} cached, "
          f"x{loop_a / loop_c:.1f} replay | same actions: {same}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--renderer", default="gl", choices=("gl", "numpy"))
    args = ap.parse_args()
    from fakeapi import FakeAPI
    from tiny_qwen import build_tiny_qwen

    common = [f"suite.limit={args.tasks}", f"runner.max_steps={args.steps}", f"env.renderer={args.renderer}"]
    env = dict(os.environ, OPENAI_API_KEY="sk-bench")
    fake = FakeAPI()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        tiny = build_tiny_qwen(tmp / "tiny_qwen")
        print(f"{args.tasks} tasks x {args.steps} steps, 640x480, renderer={args.renderer}")
        bench("transformers (tiny)", ["model=qwen25vl", f"model.path={tiny}", "model.device=cpu",
                                      "model.constrained=true", "model.max_tokens=32"], common, tmp, env)
        bench("openai (fake server)", ["model=gpt4o", f"model.base_url={fake.url}/v1"], common, tmp, env)
    fake.close()


if __name__ == "__main__":
    main()
