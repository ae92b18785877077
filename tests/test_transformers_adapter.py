"""The transformers adapter on a tiny random Qwen2.5-VL built here (real model classes, real generate(),
no download): full episodes on the embedded world, token and image-token counts, re-asks, the cache,
and constrained decoding that turns the model's garbage into valid actions."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fakes import InProcessClient, history

from embrace_bench.actions import ACTIONS, parse_response
from embrace_bench.env.unreal_env import EnvConfig, UnrealEnv
from embrace_bench.episode import EpisodeSettings, run_episode
from embrace_bench.models.hf_loading import check
from embrace_bench.models.prompts import PromptConfig
from embrace_bench.tasks.maps import EMBEDDED_MAPS_DIR
from embrace_bench.tasks.suite import load_embedded
from embrace_bench.world.engine import EmbeddedEngine

pytest.importorskip("torch")
pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parent.parent
TASKS = load_embedded(("id",)).tasks
IMAGE_TOKENS = 4  # a 64x48 frame: resized to 56x56 by the tiny processor = 2x2 merged patches


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tiny_qwen import build_tiny_qwen

    return build_tiny_qwen(tmp_path_factory.mktemp("tiny_qwen"))


def _agent(tiny, tmp_path=None, prompt=None, **cfg):
    from embrace_bench.models.transformers_adapter import TransformersAgent

    c = dict(name="tiny-qwen", path=str(tiny), device="cpu", dtype="float32", max_tokens=40, temperature=0.0)
    c.update(cfg)
    return TransformersAgent(c, prompt=prompt or PromptConfig(),
                             cache_path=tmp_path / "cache.sqlite" if tmp_path else None)


def _env():
    return UnrealEnv(InProcessClient(EmbeddedEngine("numpy", maps_dir=EMBEDDED_MAPS_DIR, width=64, height=48)), EnvConfig(width=64, height=48))


def _records(run_dir):
    return [json.loads(ln) for ln in (run_dir / "episodes.jsonl").read_text().splitlines()]


def test_cli_runs_full_episodes_and_records_every_try(tiny, tmp_path):
    run_dir = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "embrace_bench", "model=qwen25vl", f"model.path={tiny}",
                        "model.device=cpu", "model.max_tokens=24", "suite.limit=2", "runner.max_steps=3",
                        "runner.reask=1", "env.renderer=numpy", "env.width=64", "env.height=48",
                        f"hydra.run.dir={run_dir}"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    recs = _records(run_dir)
    assert len(recs) == 2 and all(r["status"] in ("timeout", "finished") for r in recs)
    for r in recs:
        seen = 1  # observations so far: the initial one plus one per executed (valid) action
        assert r["model"] == "Qwen/Qwen2.5-VL-7B-Instruct" and r["tokens_in"] > 0 and r["tokens_out"] > 0
        for s in r["steps"]:
            tries = [*s["reask_responses"], s["raw_response"]]
            assert len(tries) == s["reasks"] + 1 and s["reasks"] <= 1
            # The random model emits garbage: each invalid answer is re-asked once, every try is recorded.
            assert s["valid"] == (parse_response(s["raw_response"]).action is not None)
            if not s["valid"]:
                assert s["reasks"] == 1 and s["error"]
            # embrace_v1 shows up to 7 of the observations so far; each try shows them all again.
            assert s["tokens"]["image"] == IMAGE_TOKENS * min(seen, 7) * len(tries)
            seen += s["valid"]
            assert s["tokens"]["in"] > s["tokens"]["image"] and 0 < s["tokens"]["out"] <= 24 * len(tries)
            # A step whose world did not move asks exactly what the step before asked: a cache hit.
            assert (s["latency_s"] > 0) != s["cached"]
        assert not r["steps"][0]["cached"]
    assert sum(not s["valid"] for r in recs for s in r["steps"]) > 0  # the re-ask path really ran
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["tokens_in"] == sum(r["tokens_in"] for r in recs)
    assert manifest["model"]["adapter"] == "transformers"


def test_constrained_decoding_gives_only_valid_actions_over_full_episodes(tiny):
    agent = _agent(tiny, constrained=True, max_tokens=48)
    free = _agent(tiny, max_tokens=48)
    env = _env()
    settings = EpisodeSettings(max_steps=3, reask=0)
    for task in TASKS[:2]:
        rec = run_episode(env, agent, task, "tiny", settings)
        assert all(s.valid and s.action in ACTIONS and s.reasks == 0 for s in rec.steps), \
            [s.raw_response for s in rec.steps]
        assert all(s.raw_response.startswith("<think>") for s in rec.steps)
        assert all(s.tokens["out"] <= 48 for s in rec.steps)
    # The same model unconstrained does not manage a single valid answer.
    rec = run_episode(env, free, TASKS[0], "tiny", settings)
    assert not any(s.valid for s in rec.steps)


def test_constrained_without_think_and_a_tight_budget(tiny):
    agent = _agent(tiny, constrained=True, max_tokens=12, prompt=PromptConfig(think=False))
    frames = [np.full((48, 64, 3), 40 * k, np.uint8) for k in range(3)]
    for n in range(1, 4):
        reply = agent.act(TASKS[1], history(frames[:n]))
        p = parse_response(reply.text)
        assert p.action in ACTIONS and reply.text.startswith("<action>") and reply.tokens["out"] <= 12


def test_cache_hit_and_per_request_seed(tiny, tmp_path):
    frames = [np.full((48, 64, 3), 30 * k, np.uint8) for k in range(2)]
    a = _agent(tiny, tmp_path, temperature=0.9, top_p=0.95, seed=7)
    first = a.act(TASKS[2], history(frames))
    again = a.act(TASKS[2], history(frames))
    assert again.cached and again.text == first.text and again.tokens == first.tokens
    # A re-run whose answers are all cached never loads the weights.
    rerun = _agent(tiny, tmp_path, temperature=0.9, top_p=0.95, seed=7)
    assert rerun.act(TASKS[2], history(frames)).cached and rerun._lm is None
    # Sampling is seeded per request: a fresh agent without the cache samples the same answer.
    b = _agent(tiny, temperature=0.9, top_p=0.95, seed=7)
    assert b.act(TASKS[2], history(frames)).text == first.text
    assert a.cache_model_id() != _agent(tiny, temperature=0.9, seed=8).cache_model_id()
    assert _agent(tiny).cache_model_id() == _agent(tiny, seed=8).cache_model_id()  # greedy: the seed is moot


def test_check_names_the_problem_in_one_line(tmp_path, monkeypatch):
    assert check({"name": "q", "path": str(tmp_path)}) is None
    assert check({"name": "q", "path": "Qwen/Qwen2.5-VL-7B-Instruct"}) is None  # a hub id: loaded later
    assert "is not a folder" in check({"name": "q", "path": str(tmp_path / "nope")})
    assert "is not a folder" in check({"name": "q", "path": "./models/qwen"})
    assert "model.dtype must be" in check({"name": "q", "path": str(tmp_path), "dtype": "int3"})
    assert "model.device must be" in check({"name": "q", "path": str(tmp_path), "device": "gpu0"})
    assert "set model.path" in check({"name": "q", "path": None})
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "transformers" else real(n, *a))
    assert check({"name": "q", "path": str(tmp_path)}) == \
        "model=q runs in-process and needs transformers: pip install 'embrace_bench[qwen]'"


def test_a_model_that_cannot_load_stops_the_run_not_the_episode(tmp_path):
    from embrace_bench.models.hf_loading import ModelLoadError

    (tmp_path / "empty").mkdir()
    agent = _agent(tmp_path / "empty")
    with pytest.raises(ModelLoadError, match="could not load model.path=.*empty"):
        agent.act(TASKS[0], history([np.zeros((48, 64, 3), np.uint8)]))


def test_a_load_failure_without_a_message_still_stops_the_run(tmp_path, monkeypatch):
    from embrace_bench.models import hf_loading

    def bare_assert(cfg):
        raise AssertionError()

    monkeypatch.setattr(hf_loading, "load", bare_assert)
    with pytest.raises(hf_loading.ModelLoadError, match="could not load model.path=.*: AssertionError$"):
        _agent(tmp_path).act(TASKS[0], history([np.zeros((48, 64, 3), np.uint8)]))


def test_cli_model_that_cannot_load_stops_with_one_line_and_no_records(tmp_path):
    (tmp_path / "empty").mkdir()
    run_dir = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "embrace_bench", "model=qwen25vl", f"model.path={tmp_path / 'empty'}",
                        "model.device=cpu", "suite.limit=3", "env.renderer=numpy", "env.width=64", "env.height=48",
                        f"hydra.run.dir={run_dir}"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 1, p.stderr[-2000:]
    assert "embrace-bench: error: could not load model.path=" in p.stderr and "Traceback" not in p.stderr
    episodes = run_dir / "episodes.jsonl"
    assert not episodes.exists() or episodes.read_text() == ""  # not one error record per task


def test_cli_missing_model_folder_fails_before_any_engine(tmp_path):
    p = subprocess.run([sys.executable, "-m", "embrace_bench", "model=qwen25vl", f"model.path={tmp_path}/none",
                        f"hydra.run.dir={tmp_path / 'r'}"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2
    err = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and "is not a folder" in err[0], p.stderr
    assert not (tmp_path / "r" / "logs").exists()
