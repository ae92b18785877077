"""The real openai / anthropic / google-genai SDKs against a local fake server speaking their wire formats."""
import base64
import io
import time

import numpy as np
import pytest
from fakeapi import FakeAPI
from fakes import history
from PIL import Image

from embrace_bench.models.api import ModelCallError
from embrace_bench.models.prompts import PromptConfig
from embrace_bench.tasks.suite import load_embedded

pytest.importorskip("openai")
pytest.importorskip("anthropic")
pytest.importorskip("google.genai")

TASK = load_embedded(("id",)).tasks[0]


def _frame(k):
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[..., 0] = k * 20  # frames differ, so their order can be checked
    return rgb


def _history(n):
    return history([_frame(k) for k in range(n + 1)])


@pytest.fixture()
def fake():
    f = FakeAPI()
    yield f
    f.close()


def _agent(provider, fake, monkeypatch, tmp_path=None, **cfg):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-anthropic")
    monkeypatch.setenv("GEMINI_API_KEY", "test-gemini")
    base = {"openai": f"{fake.url}/v1", "anthropic": fake.url, "gemini": fake.url}[provider]
    c = dict(name="fake-model", base_url=base, timeout_s=2.0, max_retries=2, temperature=0.2, max_tokens=300,
             top_p=0.9, price_per_mtok_in=2.5, price_per_mtok_out=10.0, backoff_s=0.01)
    c.update(cfg)
    if provider == "openai":
        from embrace_bench.models.openai_adapter import OpenAIAgent as A
    elif provider == "anthropic":
        from embrace_bench.models.anthropic_adapter import AnthropicAgent as A
    else:
        from embrace_bench.models.gemini_adapter import GeminiAgent as A
    sleeps = []
    agent = A(c, prompt=PromptConfig(), cache_path=(tmp_path / "cache.sqlite") if tmp_path else None,
              sleep=sleeps.append)
    return agent, sleeps


def _images(provider, body):
    """Decoded images from a request body, in order, as the provider sends them."""
    out = []
    if provider == "openai":
        for m in body["messages"]:
            for p in m["content"] if isinstance(m["content"], list) else []:
                if p["type"] == "image_url":
                    out.append(base64.b64decode(p["image_url"]["url"].split(",", 1)[1]))
    elif provider == "anthropic":
        for m in body["messages"]:
            for p in m["content"]:
                if p["type"] == "image":
                    out.append(base64.b64decode(p["source"]["data"]))
    else:
        for c in body["contents"]:
            for p in c["parts"]:
                if "inlineData" in p:
                    out.append(base64.urlsafe_b64decode(p["inlineData"]["data"]))
    return [np.asarray(Image.open(io.BytesIO(b))) for b in out]


def _texts(provider, body):
    if provider == "openai":
        return " ".join(p.get("text", "") if isinstance(p, dict) else "" for m in body["messages"]
                        for p in (m["content"] if isinstance(m["content"], list) else [{"text": m["content"]}]))
    if provider == "anthropic":
        return body["system"] + " ".join(p.get("text", "") for m in body["messages"] for p in m["content"])
    return (" ".join(p.get("text", "") for p in body["systemInstruction"]["parts"]) + " " +
            " ".join(p.get("text", "") for c in body["contents"] for p in c["parts"]))


PROVIDERS = ["openai", "anthropic", "gemini"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_request_carries_images_texts_and_sampling(provider, fake, monkeypatch):
    agent, _ = _agent(provider, fake, monkeypatch)
    reply = agent.act(TASK, _history(8))
    assert reply.text.endswith("<action>MoveForward</action>") and not reply.cached
    body = fake.bodies(provider)[-1]
    imgs = _images(provider, body)
    # initial + 5 most recent earlier frames + current, in order (frame k has red = 20k)
    assert [int(i[0, 0, 0]) for i in imgs] == [0, 60, 80, 100, 120, 140, 160]
    assert all(i.shape[:2] == (48, 64) for i in imgs)
    text = _texts(provider, body)
    assert TASK.instruction in text and "MoveForward" in text and "Executed actions" in text
    if provider == "openai":
        assert (body["temperature"], body["max_tokens"], body["top_p"]) == (0.2, 300, 0.9)
        assert body["messages"][0]["role"] == "system"
    elif provider == "anthropic":
        assert (body["temperature"], body["max_tokens"], body["top_p"]) == (0.2, 300, 0.9)
        assert "embodied agent" in body["system"]
    else:
        g = body["generationConfig"]
        assert (g["temperature"], g["maxOutputTokens"], g["topP"]) == (0.2, 300, 0.9)
    assert reply.tokens["in"] > 0 and reply.tokens["out"] > 0
    # Image tokens where the API reports them: Gemini per modality; Anthropic never; OpenAI's usage has none.
    assert reply.tokens.get("image") == (774 if provider == "gemini" else None)
    assert reply.cost_usd == pytest.approx((reply.tokens["in"] * 2.5 + reply.tokens["out"] * 10.0) / 1e6)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_with_retry_after_then_success_is_bounded(provider, fake, monkeypatch):
    agent, sleeps = _agent(provider, fake, monkeypatch)
    fake.queue(provider, ("status", (429, {"retry-after": "1.5"})), ("status", (500, {})))
    assert agent.act(TASK, _history(0)).text.endswith("</action>")
    assert len(fake.bodies(provider)) == 3
    assert sleeps[0] >= 1.5  # retry-after honoured for every provider
    fake.queue(provider, *[("status", (500, {}))] * 3)
    with pytest.raises(ModelCallError, match="gave up after 3 tries"):
        agent.act(TASK, _history(0))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_slow_reply_times_out_quickly(provider, fake, monkeypatch):
    agent, _ = _agent(provider, fake, monkeypatch, timeout_s=0.5, max_retries=0)
    fake.queue(provider, ("slow", 2.0))
    t0 = time.monotonic()
    with pytest.raises(ModelCallError):
        agent.act(TASK, _history(0))
    assert time.monotonic() - t0 < 1.9


@pytest.mark.parametrize("provider", PROVIDERS)
def test_malformed_and_empty_replies(provider, fake, monkeypatch):
    agent, _ = _agent(provider, fake, monkeypatch, max_retries=0)
    fake.queue(provider, ("malformed", None))
    with pytest.raises(ModelCallError):
        agent.act(TASK, _history(0))
    fake.queue(provider, ("empty", None))
    assert agent.act(TASK, _history(0)).text == ""  # counted invalid by the parser, never invented


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cache_hit_skips_the_call(provider, fake, monkeypatch, tmp_path):
    agent, _ = _agent(provider, fake, monkeypatch, tmp_path)
    first = agent.act(TASK, _history(2))
    n = len(fake.requests)
    again = agent.act(TASK, _history(2))
    assert again.cached and again.text == first.text and len(fake.requests) == n


def test_gemini_api_version_selects_the_path(fake, monkeypatch):
    agent, _ = _agent("gemini", fake, monkeypatch, api_version="v1beta")
    agent.act(TASK, _history(0))
    assert fake.requests[-1][1].startswith("/v1beta/models/fake-model:generateContent")


def test_missing_key_is_reported_up_front(monkeypatch):
    from embrace_bench.models.gemini_adapter import GeminiAgent
    from embrace_bench.models.openai_adapter import OpenAIAgent

    for k in ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(k, raising=False)
    assert OpenAIAgent.check_environment({"name": "gpt-4o"}) == "set OPENAI_API_KEY in the environment to use model=gpt-4o"
    assert OpenAIAgent.check_environment({"name": "q", "base_url": "http://127.0.0.1:8000/v1"}) is None
    assert "GEMINI_API_KEY or GOOGLE_API_KEY" in GeminiAgent.check_environment({"name": "g"})


@pytest.mark.parametrize("provider, model", [("openai", "gpt4o"), ("anthropic", "claude"), ("gemini", "gemini")])
def test_end_to_end_run_per_provider(provider, model, fake, tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    base = {"openai": f"{fake.url}/v1", "anthropic": fake.url, "gemini": fake.url}[provider]
    env = dict(os.environ, OPENAI_API_KEY="sk-e2e", ANTHROPIC_API_KEY="sk-e2e", GEMINI_API_KEY="e2e")
    fake.queue(provider, ("status", (429, {"retry-after": "0"})), ("text", "I think I'll <action>Dance</action>"))
    run_dir = tmp_path / "run"
    args = [sys.executable, "-m", "embrace_bench", f"model={model}", f"model.base_url={base}", "suite.limit=2",
            "runner.max_steps=3", "env.renderer=numpy", "env.width=64", "env.height=48", f"hydra.run.dir={run_dir}"]
    root = Path(__file__).resolve().parent.parent
    p = subprocess.run(args, capture_output=True, text=True, env=env, cwd=root, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    recs = [json.loads(ln) for ln in (run_dir / "episodes.jsonl").read_text().splitlines()]
    assert len(recs) == 2 and all(r["status"] == "timeout" for r in recs)
    first = recs[0]["steps"][0]
    assert first["reasks"] == 1 and "Dance" in first["reask_responses"][0] and first["valid"]
    assert recs[0]["tokens_in"] > 0 and recs[0]["cost_usd"] > 0
    assert (run_dir / "cache.sqlite").exists()
    n_calls = len(fake.requests)
    manifest = (run_dir / "manifest.json").read_text()
    assert "sk-e2e" not in manifest and "sk-e2e" not in (run_dir / "episodes.jsonl").read_text()
    assert n_calls >= 2 * 3 + 2


def test_cost_budget_stops_the_run_cleanly(fake, tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, OPENAI_API_KEY="sk-budget")
    run_dir = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "embrace_bench", "model=gpt4o", f"model.base_url={fake.url}/v1",
                        "suite.limit=4", "runner.max_steps=2", "runner.max_cost_usd=0.001", "env.renderer=numpy",
                        "env.width=64", "env.height=48", f"hydra.run.dir={run_dir}"],
                       capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "budget reached" in p.stderr
    recs = (run_dir / "episodes.jsonl").read_text().splitlines()
    # each step costs 1200 * 2.5e-6 + 30 * 1e-5 = $0.0033 > budget: the first episode is the only one
    assert len(recs) == 1 and json.loads((run_dir / "manifest.json").read_text())["stopped_by_budget"]
