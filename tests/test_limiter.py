"""The run-wide API limiter (AIMD) on its own, and with a real SDK against the fake server."""
import threading
import time

import numpy as np
import pytest
from fakeapi import FakeAPI
from fakes import history

from embrace_bench.models.api import ModelCallError
from embrace_bench.models.limiter import AdaptiveLimiter
from embrace_bench.models.prompts import PromptConfig
from embrace_bench.tasks.suite import load_embedded


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_rate_limits_halve_the_window_once_per_epoch_and_successes_regrow_it():
    lim = AdaptiveLimiter(8, clock=Clock())
    leases = [lim.acquire() for _ in range(4)]
    for lease in leases[:3]:  # one overload, three refusals: the window halves once
        lim.release(lease, "rate_limited", retry_after_s=0)
    assert lim.window == 4 and lim.decreases == 1
    lim.release(lim.acquire(), "rate_limited", retry_after_s=0)  # a call sent after the decrease: halves again
    assert lim.window == 2 and lim.decreases == 2
    lim.release(leases[3], "failed")  # a 500 or a timeout says nothing about load
    assert lim.limit == 2
    for _ in range(2):
        lim.release(lim.acquire())
    assert lim.limit == pytest.approx(2 + 1 / 2 + 1 / 2.5) and lim.window == 2  # +1/limit per success
    lim.release(lim.acquire())
    assert lim.window == 3  # about one more slot per window of successes
    for _ in range(40):
        lim.release(lim.acquire())
    assert lim.window == 8 and lim.limit == 8  # back to the cap, never past it


def test_pause_honours_retry_after_else_doubles():
    clock = Clock()
    lim = AdaptiveLimiter(4, backoff_s=1.0, backoff_cap_s=3.0, clock=clock)
    lim.release(lim.acquire(), "rate_limited", retry_after_s=7.0)
    assert lim.pause_until == 107.0
    clock.t = 108.0
    pauses = []
    for _ in range(4):
        lim.release(lim.acquire(), "rate_limited")
        pauses.append(lim.pause_until - clock.t)
        clock.t = lim.pause_until
    assert pauses == [2.0, 3.0, 3.0, 3.0]  # 2nd, 3rd... consecutive signal, capped at backoff_cap_s


def test_callers_wait_out_the_pause_and_never_exceed_the_window():
    lim = AdaptiveLimiter(4)
    lim.release(lim.acquire(), "rate_limited", retry_after_s=0.3)  # window 2, everyone paused 0.3 s
    t0 = time.monotonic()
    waited = []

    def call():
        lease = lim.acquire()
        waited.append(time.monotonic() - t0)
        time.sleep(0.05)
        lim.release(lease, "failed")

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert min(waited) >= 0.25 and lim.peak_in_flight <= 4
    assert lim.state()["window"] == 2 and lim.in_flight == 0


def test_bad_outcome_and_cap():
    with pytest.raises(ValueError):
        AdaptiveLimiter(0)
    lim = AdaptiveLimiter(1)
    with pytest.raises(ValueError, match="outcome must be one of"):
        lim.release(lim.acquire(), "weird")


@pytest.fixture()
def fake():
    f = FakeAPI()
    yield f
    f.close()


def _agent(fake, limiter, max_retries):
    from embrace_bench.models.openai_adapter import OpenAIAgent

    sleeps = []
    cfg = dict(name="fake-model", base_url=f"{fake.url}/v1", timeout_s=2.0, max_retries=max_retries, backoff_s=0.01)
    return OpenAIAgent(cfg, prompt=PromptConfig(), limiter=limiter, sleep=sleeps.append), sleeps


def test_rate_limits_do_not_spend_retries_while_the_run_waits_them_out(fake):
    pytest.importorskip("openai")
    task = load_embedded(("id",)).tasks[0]
    h = history([np.zeros((24, 32, 3), np.uint8)])
    lim = AdaptiveLimiter(4, max_wait_s=100)
    agent, sleeps = _agent(fake, lim, max_retries=1)
    fake.queue("openai", *[("status", (429, {"retry-after": "0"}))] * 5)
    assert agent.act(task, h).text.endswith("</action>")  # 5 refusals, 1 retry allowed: still answered
    assert len(fake.requests) == 6 and lim.decreases >= 1 and lim.in_flight == 0
    assert lim.window < 4  # lowered; regrows with later successes
    strict = AdaptiveLimiter(4, max_wait_s=0)  # no patience: 429s count as ordinary retries
    agent, _ = _agent(fake, strict, max_retries=1)
    fake.queue("openai", *[("status", (429, {"retry-after": "0"}))] * 5)
    with pytest.raises(ModelCallError, match="gave up after 2 tries"):
        agent.act(task, history([np.ones((24, 32, 3), np.uint8)]))
