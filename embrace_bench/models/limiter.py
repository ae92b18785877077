"""Run-wide API concurrency that adapts to rate limits (AIMD, as TCP does for congestion).

Every API agent of a run (one per worker) takes a slot before each model call and gives it back with the
outcome. The limiter keeps a concurrency window `limit` between 1 and `cap`:

- a rate-limit signal (HTTP 429, or 503/529 "overloaded") halves the window (multiplicative decrease), at
  most once per window epoch: calls already in flight when the window shrank cannot shrink it again, so a
  burst of 429s from one overload counts once;
- it also pauses every caller: for `retry-after` when the provider sent one, else for `backoff_s` doubled
  per consecutive signal (capped at `backoff_cap_s`);
- each success grows the window by 1/limit (additive increase: +1 per window of successes), back up to
  `cap`, so throughput recovers once the provider stops refusing.

A call that hit a rate limit is retried without spending `model.max_retries` for as long as the run has
waited out rate limits for it less than `max_wait_s` (`runner.rate_limit_wait_s`); then ordinary retries
apply, so nothing waits forever.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

OUTCOMES = ("ok", "rate_limited", "failed")


@dataclass(frozen=True)
class Lease:
    epoch: int  # the window epoch when the slot was granted


class AdaptiveLimiter:
    def __init__(self, cap: int, *, backoff_s: float = 1.0, backoff_cap_s: float = 30.0, max_wait_s: float = 600.0,
                 clock=time.monotonic) -> None:
        if cap < 1:
            raise ValueError(f"API concurrency must be at least 1, not {cap}")
        self.cap, self.backoff_s, self.backoff_cap_s, self.max_wait_s = cap, backoff_s, backoff_cap_s, max_wait_s
        self.limit = float(cap)
        self.in_flight = 0
        self.epoch = 0
        self.pause_until = 0.0
        self.signals = 0  # consecutive rate-limit signals, reset by a success
        self.decreases = 0  # for reports and tests
        self.peak_in_flight = 0
        self._clock = clock
        self._cond = threading.Condition()

    @property
    def window(self) -> int:
        return max(1, math.floor(self.limit))

    def acquire(self) -> Lease:
        """Block until a slot is free and no run-wide pause is in force."""
        with self._cond:
            while True:
                wait = self.pause_until - self._clock()
                if wait <= 0 and self.in_flight < self.window:
                    self.in_flight += 1
                    self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                    return Lease(self.epoch)
                self._cond.wait(timeout=wait if wait > 0 else None)

    def release(self, lease: Lease, outcome: str = "ok", retry_after_s: float | None = None) -> None:
        """Give the slot back. outcome: "ok" (answered), "rate_limited" (429/503/529: refused for load), or
        "failed" (any other error: says nothing about load, the window stays as it is)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        with self._cond:
            self.in_flight -= 1
            if outcome == "rate_limited":
                self.signals += 1
                if lease.epoch == self.epoch:
                    self.limit = max(1.0, self.limit / 2)
                    self.epoch += 1
                    self.decreases += 1
                pause = retry_after_s if retry_after_s is not None else \
                    min(self.backoff_cap_s, self.backoff_s * 2 ** (self.signals - 1))
                self.pause_until = max(self.pause_until, self._clock() + pause)
            elif outcome == "ok":
                self.signals = 0
                self.limit = min(float(self.cap), self.limit + 1.0 / self.limit)
            self._cond.notify_all()

    def state(self) -> dict:
        with self._cond:
            return {"window": self.window, "limit": round(self.limit, 3), "cap": self.cap,
                    "in_flight": self.in_flight, "decreases": self.decreases, "peak_in_flight": self.peak_in_flight}
