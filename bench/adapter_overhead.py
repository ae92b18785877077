"""Harness time per step outside the model call, per adapter: the real openai / anthropic / google-genai
SDKs against the local fake API server (tests/fakeapi.py), and the transformers adapter on the tiny
random Qwen2.5-VL (tests/tiny_qwen.py, constrained decoding on), on the embedded world at 640x480 over the real wire.

Per step (steps after the first of each episode): wall time between two recorded steps, minus the
engine step (UnrealEnv.step: render, encode, transport, decode) and minus the model call (the adapter's
measured latency: SDK call and HTTP round trip, or preprocessing + generate()). What is left is the
harness: prompt building, image parts, request hashing, cache lookup and write, parsing, the step
record and the frame file.

    python bench/adapter_overhead.py [--episodes 3] [--steps 12] [--renderer gl] [--adapters openai,...]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from embrace_bench.actions import Action
from embrace_bench.env.client import UnrealCVClient
from embrace_bench.env.launcher import EmbeddedEngineProcess
from embrace_bench.env.unreal_env import EnvConfig, UnrealEnv
from embrace_bench.episode import EpisodeSettings, run_episode
from embrace_bench.models.prompts import PromptConfig
from embrace_bench.tasks.suite import load_embedded

CYCLE = [Action.MoveForward, Action.TurnLeft, Action.MoveForward, Action.TurnRight,
         Action.TurnRight, Action.MoveForward, Action.TurnLeft]


class TimedEnv:
    """UnrealEnv with its step() time accumulated."""

    def __init__(self, env: UnrealEnv) -> None:
        self.env, self.step_s = env, 0.0

    def __getattr__(self, name):  # reset, locate, close, ...: the wrapped env's own
        return getattr(self.env, name)

    def step(self, action):
        t0 = time.perf_counter()
        try:
            return self.env.step(action)
        finally:
            self.step_s += time.perf_counter() - t0


def make_agent(kind: str, fake, tmp: Path, tiny_dir: Path | None):
    cache = tmp / f"{kind}.sqlite"
    common = dict(name="fake-model", timeout_s=30, max_retries=0, max_tokens=64)
    if kind == "openai":
        from embrace_bench.models.openai_adapter import OpenAIAgent as A
        cfg = dict(common, base_url=f"{fake.url}/v1")
    elif kind == "anthropic":
        from embrace_bench.models.anthropic_adapter import AnthropicAgent as A
        cfg = dict(common, base_url=fake.url)
    elif kind == "gemini":
        from embrace_bench.models.gemini_adapter import GeminiAgent as A
        cfg = dict(common, base_url=fake.url)
    else:
        from embrace_bench.models.transformers_adapter import TransformersAgent as A
        # Constrained, so the random model's answers are valid and every step asks something new.
        cfg = dict(name="tiny-qwen", path=str(tiny_dir), device="cpu", max_tokens=32, constrained=True)
    return A(cfg, prompt=PromptConfig(), cache_path=cache)


def measure(kind: str, env: UnrealEnv, fake, tmp: Path, tiny_dir, episodes: int, steps: int) -> dict:
    agent = make_agent(kind, fake, tmp, tiny_dir)
    route = {"transformers": None}.get(kind, kind)
    harness, engine, model = [], [], []
    timed = TimedEnv(env)
    for task in load_embedded(("id",)).tasks[:episodes]:
        if route:
            fake.script[route].clear()
            fake.queue(route, *[("text", f"<think>ok</think><action>{a}</action>") for a in CYCLE * 8])
        marks = []

        def on_step(step, marks=marks):
            marks.append((time.perf_counter(), timed.step_s, step.latency_s, step.cached))

        run_episode(timed, agent, task, kind, EpisodeSettings(max_steps=steps, reask=1,
                                                               frames_dir=tmp / "frames" / kind), on_step)
        for (t0, e0, _, _), (t1, e1, lat, cached) in zip(marks, marks[1:]):
            if cached:
                continue  # a repeated request answered from the cache is not a model call
            wall, env_s = t1 - t0, e1 - e0
            harness.append((wall - env_s - lat) * 1000)
            engine.append(env_s * 1000)
            model.append(lat * 1000)
    agent.close()
    h = sorted(harness)
    return dict(n=len(h), harness_median=statistics.median(h), harness_p95=h[int(0.95 * (len(h) - 1))],
                engine_median=statistics.median(engine), model_median=statistics.median(model))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--renderer", default="gl", choices=("gl", "numpy"))
    ap.add_argument("--adapters", default="openai,anthropic,gemini,transformers")
    args = ap.parse_args()
    for k, v in dict(OPENAI_API_KEY="sk-bench", ANTHROPIC_API_KEY="sk-bench", GEMINI_API_KEY="bench").items():
        os.environ.setdefault(k, v)
    from fakeapi import FakeAPI

    kinds = args.adapters.split(",")
    fake = FakeAPI()
    with tempfile.TemporaryDirectory() as tmp_s, EmbeddedEngineProcess(renderer=args.renderer) as eng:
        tmp = Path(tmp_s)
        tiny_dir = None
        if "transformers" in kinds:
            from tiny_qwen import build_tiny_qwen

            tiny_dir = build_tiny_qwen(tmp / "tiny_qwen")
        env = UnrealEnv(UnrealCVClient(port=eng.port, timeout=60).connect(), EnvConfig())
        print(f"640x480, renderer={args.renderer}, embrace_v1 PNG, {args.episodes} episodes x {args.steps} steps "
              f"per adapter (ms per step)")
        print(f"{'adapter':14} {'steps':>5} {'harness median':>14} {'harness p95':>11} {'engine step':>11} "
              f"{'model call':>10}")
        for kind in kinds:
            r = measure(kind, env, fake, tmp, tiny_dir, args.episodes, args.steps)
            print(f"{kind:14} {r['n']:>5} {r['harness_median']:>14.1f} {r['harness_p95']:>11.1f} "
                  f"{r['engine_median']:>11.1f} {r['model_median']:>10.1f}")
        env.close()
    fake.close()


if __name__ == "__main__":
    main()
