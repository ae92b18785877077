"""What every API adapter adds to a prompted agent: keys from the environment and bounded retries.

A provider module only translates a neutral Request into its SDK call (`_call`) and maps the SDK's
errors onto RetryableError (429, 5xx, timeouts, dropped connections) or FatalModelError (anything a
retry cannot fix). All three SDKs get the same policy because their own retries are switched off.
"""
from __future__ import annotations

import os
import random
import time

from embrace_bench.config_schema import with_defaults
from embrace_bench.extras import install_hint
from embrace_bench.models.messages import Request
from embrace_bench.models.prompted import ModelCallError, PromptedAgent, RawReply


class RetryableError(Exception):
    def __init__(self, message: str, retry_after_s: float | None = None, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.rate_limited = rate_limited  # the provider refused for load (429, 503, 529): the limiter backs off


RATE_LIMIT_STATUSES = (429, 503, 529)  # 529 = Anthropic overloaded


class FatalModelError(Exception):
    pass


def retry_after_seconds(headers) -> float | None:
    """`retry-after` as seconds (numeric form; the HTTP-date form is rare from these APIs)."""
    if not headers:
        return None
    for name in ("retry-after-ms", "retry-after"):
        value = headers.get(name)
        if value:
            try:
                return float(value) / (1000.0 if name.endswith("ms") else 1.0)
            except ValueError:
                return None
    return None


def call_stainless(sdk, fn, timeout_s: float):
    """Run an openai or anthropic SDK call, mapping their shared error classes (both SDKs come from the
    same generator) onto retryable and fatal errors."""
    try:
        return fn()
    except sdk.RateLimitError as exc:
        raise RetryableError(f"429 rate limited: {exc.message}", retry_after_seconds(exc.response.headers),
                             rate_limited=True) from None
    except sdk.APITimeoutError:
        raise RetryableError(f"no answer within {timeout_s:g} s") from None
    except sdk.APIConnectionError as exc:
        raise RetryableError(f"connection failed: {exc}") from None
    except sdk.APIStatusError as exc:
        if exc.status_code >= 500 or exc.status_code in (408, 409):
            raise RetryableError(f"{exc.status_code}: {exc.message}", retry_after_seconds(exc.response.headers),
                                 rate_limited=exc.status_code in RATE_LIMIT_STATUSES) from None
        raise FatalModelError(f"{exc.status_code}: {exc.message}") from None
    except ValueError as exc:  # a body that is not the JSON it claims to be (JSONDecodeError included)
        raise RetryableError(f"malformed reply: {exc}") from None


class APIAgent(PromptedAgent):
    key_env: tuple[str, ...] = ()  # environment variables that may hold the key, first one wins
    sdk_module = ""  # what must be importable
    pip_name = ""

    def __init__(self, cfg: dict | None = None, seed: int = 0, *, sleep=time.sleep, limiter=None, **context) -> None:
        super().__init__(cfg, seed, **context)
        self.limiter = limiter  # the run-wide AdaptiveLimiter (models/limiter.py), or None
        c = self.cfg
        self.timeout_s = float(c["timeout_s"])
        self.max_retries = int(c["max_retries"])
        self.backoff_s = float(c.get("backoff_s", 1.0))
        self.backoff_cap_s = float(c.get("backoff_cap_s", 60.0))
        self._sleep = sleep
        self._rng = random.Random(f"retry:{seed}")

    @classmethod
    def check_environment(cls, cfg: dict) -> str | None:
        """One line saying what to install or set, or None when the adapter can run."""
        import importlib.util

        try:  # the whole dotted name: another package may provide the `google` namespace without google.genai
            installed = not cls.sdk_module or importlib.util.find_spec(cls.sdk_module) is not None
        except ModuleNotFoundError:  # its parent package is missing
            installed = False
        cfg = with_defaults(cls.schema, cfg)
        if not installed:
            return f"model={cfg.get('name')} needs the {cls.pip_name} SDK: {install_hint('api')}"
        if cls.key_env and not cfg.get("base_url") and not cfg.get("launch") \
                and not any(os.environ.get(k) for k in cls.key_env):
            return f"set {' or '.join(cls.key_env)} in the environment to use model={cfg.get('name')}"
        return None

    def api_key(self) -> str | None:
        return next((os.environ[k] for k in self.key_env if os.environ.get(k)), None)

    def _complete(self, request: Request, key: str) -> RawReply:
        return self.call_with_retries(request)

    def call_with_retries(self, request: Request) -> RawReply:
        """Exponential backoff with full jitter, at least `retry-after`; max_retries + 1 tries in all.

        With a run-wide limiter, rate-limit refusals do not spend tries while this call has waited them out
        for less than `limiter.max_wait_s` (the limiter lowers the run's concurrency meanwhile)."""
        last, failures, rl_signals, rl_waited = "", 0, 0, 0.0
        while True:
            try:
                return self._limited_call(request)
            except RetryableError as exc:
                last = str(exc)
                if exc.rate_limited and self.limiter is not None and rl_waited < self.limiter.max_wait_s:
                    rl_signals += 1
                    delay = self._backoff(rl_signals - 1, exc.retry_after_s)
                    rl_waited += delay
                    self._sleep(delay)
                    continue
                if failures == self.max_retries:
                    break
                self._sleep(self._backoff(failures, exc.retry_after_s))
                failures += 1
            except FatalModelError as exc:
                raise ModelCallError(f"{self.model}: {exc}") from None
        raise ModelCallError(f"{self.model}: gave up after {self.max_retries + 1} tries: {last}")

    def _backoff(self, n: int, retry_after_s: float | None) -> float:
        """Full jitter over backoff_s * 2^n (capped), never shorter than the provider's retry-after."""
        delay = self._rng.uniform(0, min(self.backoff_cap_s, self.backoff_s * 2 ** min(n, 30)))
        return max(delay, retry_after_s or 0.0)

    def _limited_call(self, request: Request) -> RawReply:
        if self.limiter is None:
            return self._call(request)
        lease = self.limiter.acquire()
        try:
            raw = self._call(request)
        except RetryableError as exc:
            self.limiter.release(lease, "rate_limited" if exc.rate_limited else "failed", exc.retry_after_s)
            raise
        except BaseException:
            self.limiter.release(lease, "failed")
            raise
        self.limiter.release(lease)
        return raw

    def _call(self, request: Request) -> RawReply:
        raise NotImplementedError
