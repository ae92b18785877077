"""Parallel workers give the records of a serial run; API trouble (a 429 storm, a hanging server, dropped
connections, malformed replies) never changes them, never records a task twice and never crashes a run."""
import hashlib
import json

import pytest
from fakeapi import FakeAPI
from runs import REPLAY, TASKS, TIMING, by_task, lines, run_quiet, spec

pytest.importorskip("openai")
MOVES = ["MoveForward", "TurnLeft", "TurnRight", "MoveForward", "LookUp", "Dance"]  # Dance is invalid: re-asks


def respond(route, body):
    """A deterministic model: its answer depends on the whole request (frames, history, re-ask text)."""
    h = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()
    return f"<think>step</think><action>{MOVES[h[3] % len(MOVES)]}</action>"


def test_parallel_workers_match_a_serial_run(tmp_path, reference_run):
    run_quiet(spec(tmp_path / "run", workers=3))
    recs = lines(tmp_path / "run")
    assert by_task(recs) == by_task(lines(reference_run[0]))  # everything but wall_s / latency_s
    logs = sorted(p.name for p in (tmp_path / "run" / "logs").iterdir())
    assert logs == ["engine-0.log", "engine-1.log", "engine-2.log"]  # one engine (process and port) per worker
    ports = {ln.split("127.0.0.1:")[1].split()[0] for p in (tmp_path / "run" / "logs").iterdir()
             for ln in p.read_text().splitlines() if "embedded engine on" in ln}
    assert len(ports) == 3


@pytest.fixture(scope="module")
def fake():
    f = FakeAPI(responder=respond)
    yield f
    f.close()


def _model(fake, **kw):
    m = dict(adapter="openai", name="fake-model", base_url=f"{fake.url}/v1", timeout_s=0.5, max_retries=3,
             backoff_s=0.02, backoff_cap_s=0.2, price_per_mtok_in=2.5, price_per_mtok_out=10.0, cache=True)
    m.update(kw)
    return m


@pytest.fixture(scope="module")
def api_reference(fake, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("api_ref")
    run_quiet(spec(run_dir, model=_model(fake), tasks=TASKS[:2]))
    recs = lines(run_dir)
    assert all(r["status"] == "timeout" for r in recs) and any(s["reasks"] for r in recs for s in r["steps"])
    return by_task(recs)  # without timing fields only


@pytest.mark.parametrize("trouble, seconds, model_kw", [
    (("status", (429, {"retry-after": "0.1"})), 1.0, {}),  # a rate-limit storm
    (("slow", 3.0), 1.0, {"max_retries": 8}),  # the server hangs past model.timeout_s
    (("close", None), 0.3, {"max_retries": 10}),  # connections dropped without a reply
], ids=["429-storm", "hanging", "dropped-connections"])
def test_api_trouble_in_parallel_changes_nothing(trouble, seconds, model_kw, fake, api_reference, tmp_path):
    before = fake.troubled
    fake.trouble(seconds, trouble)
    run_quiet(spec(tmp_path / "run", model=_model(fake, **model_kw), tasks=TASKS[:2], workers=2))
    assert fake.troubled > before  # the trouble really happened
    recs = lines(tmp_path / "run")
    assert all(r["status"] != "error" for r in recs)
    assert by_task(recs) == api_reference  # cost and tokens too: no call was billed twice
    limiter = json.loads((tmp_path / "run" / "manifest.json").read_text())["sessions"][-1]["api_limiter"]
    if trouble[0] == "status":
        assert limiter["decreases"] >= 1 and limiter["window"] == 2  # lowered on 429s, recovered after
    else:
        assert limiter["decreases"] == 0  # timeouts and dropped connections are not rate limits


def test_malformed_model_replies_end_in_an_error_record_then_resume(fake, api_reference, tmp_path):
    fake.trouble(600, ("malformed", None))
    run_dir = tmp_path / "run"
    try:
        run_quiet(spec(run_dir, model=_model(fake, max_retries=1), tasks=TASKS[:2]))
    finally:
        fake.trouble(0, None)
    recs = lines(run_dir)
    assert [r["status"] for r in recs] == ["error", "error"] and "malformed reply" in recs[0]["error"]
    run_quiet(spec(run_dir, model=_model(fake), tasks=TASKS[:2]))
    assert by_task(lines(run_dir)) == api_reference


def test_an_episode_rerun_after_an_engine_crash_pays_nothing_twice(fake, api_reference, tmp_path, monkeypatch):
    """With model.cache=false the agent's per-episode memo replays the answers of the crashed attempt."""
    from embrace_bench.world.faults import ENV_VAR

    monkeypatch.setenv(ENV_VAR, f"kill@110:{tmp_path / 'once'}")
    n0 = len(fake.requests)
    run_quiet(spec(tmp_path / "run", model=_model(fake, cache=False), tasks=TASKS[:1]))
    recs = lines(tmp_path / "run")
    assert recs[0]["restarts"] == 1 and not (tmp_path / "run" / "cache.sqlite").exists()
    ref = by_task([api_reference[TASKS[0].task_id]], TIMING + REPLAY)
    assert by_task(recs, TIMING + REPLAY) == ref  # the same episode, part of it replayed
    steps = recs[0]["steps"]
    replayed = [s for s in steps if s["cached"]]
    assert replayed and replayed == steps[:len(replayed)]  # the steps before the crash came from the memo
    calls = len(fake.requests) - n0
    asked = sum(1 + s["reasks"] for s in steps)
    assert calls == asked  # every answer was paid for exactly once
    assert recs[0]["cost_usd"] == pytest.approx(sum(s["cost_usd"] for s in steps))
