"""What every API adapter adds to a prompted agent: keys from the environment and bounded retries.

A provider module only translates a neutral Request into its SDK call (`_call`) and maps the SDK's
errors onto RetryableError (429, 5xx, timeouts, dropped connections) or FatalModelError (anything a
retry cannot fix). All three SDKs get the same policy because their own retries are switched off.
"""
from __future__ import annotations

import os
import random
import time

from embrace_bench.models.messages import Request
from embrace_bench.models.prompted import ModelCallError, PromptedAgent, RawReply  # noqa: F401 (re-exported)


class RetryableError(Exception):
    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


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
        raise RetryableError(f"429 rate limited: {exc.message}", retry_after_seconds(exc.response.headers)) from None
    except sdk.APITimeoutError:
        raise RetryableError(f"no answer within {timeout_s:g} s") from None
    except sdk.APIConnectionError as exc:
        raise RetryableError(f"connection failed: {exc}") from None
    except sdk.APIStatusError as exc:
        if exc.status_code >= 500 or exc.status_code in (408, 409):  # 529 = Anthropic overloaded
            raise RetryableError(f"{exc.status_code}: {exc.message}", retry_after_seconds(exc.response.headers)) from None
        raise FatalModelError(f"{exc.status_code}: {exc.message}") from None
    except ValueError as exc:  # a body that is not the JSON it claims to be (JSONDecodeError included)
        raise RetryableError(f"malformed reply: {exc}") from None


class APIAgent(PromptedAgent):
    key_env: tuple[str, ...] = ()  # environment variables that may hold the key, first one wins
    sdk_module = ""  # what must be importable
    pip_name = ""

    def __init__(self, cfg: dict | None = None, seed: int = 0, *, sleep=time.sleep, **context) -> None:
        super().__init__(cfg, seed, **context)
        c = self.cfg
        self.timeout_s = float(c.get("timeout_s", 60.0))
        self.max_retries = int(c.get("max_retries", 4))
        self.backoff_s = float(c.get("backoff_s", 1.0))
        self.backoff_cap_s = float(c.get("backoff_cap_s", 60.0))
        self._sleep = sleep
        self._rng = random.Random(f"retry:{seed}")

    @classmethod
    def check_environment(cls, cfg: dict) -> str | None:
        """One line saying what to install or set, or None when the adapter can run."""
        import importlib.util

        if cls.sdk_module and importlib.util.find_spec(cls.sdk_module.split(".")[0]) is None:
            return f"model={cfg.get('name')} needs the {cls.pip_name} SDK: pip install {cls.pip_name}"
        if cls.key_env and not cfg.get("base_url") and not cfg.get("launch") \
                and not any(os.environ.get(k) for k in cls.key_env):
            return f"set {' or '.join(cls.key_env)} in the environment to use model={cfg.get('name')}"
        return None

    def api_key(self) -> str | None:
        return next((os.environ[k] for k in self.key_env if os.environ.get(k)), None)

    def _complete(self, request: Request, key: str) -> RawReply:
        return self.call_with_retries(request)

    def call_with_retries(self, request: Request) -> RawReply:
        """Exponential backoff with full jitter, at least `retry-after`; max_retries + 1 tries in all."""
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                return self._call(request)
            except RetryableError as exc:
                last = str(exc)
                if attempt == self.max_retries:
                    break
                delay = self._rng.uniform(0, min(self.backoff_cap_s, self.backoff_s * 2 ** attempt))
                self._sleep(max(delay, exc.retry_after_s or 0.0))
            except FatalModelError as exc:
                raise ModelCallError(f"{self.model}: {exc}") from None
        raise ModelCallError(f"{self.model}: gave up after {self.max_retries + 1} tries: {last}")

    def _call(self, request: Request) -> RawReply:
        raise NotImplementedError
