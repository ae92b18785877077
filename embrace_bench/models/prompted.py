"""What every model adapter that reads a prompt shares: prompt building, the response cache, accounting.

An adapter only turns a provider-neutral Request into a RawReply (`_complete`): the API adapters through
their SDK with bounded retries (api.py), the transformers adapter by running generate() in-process. Both
then go through the same cache lookup, token and latency bookkeeping and cost formula here.
"""
from __future__ import annotations

import hashlib
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from embrace_bench.config_schema import SAMPLING_KEYS, ApiModelSchema, with_defaults
from embrace_bench.models.base import Agent, Reply
from embrace_bench.models.messages import Request
from embrace_bench.models.prompts import ImageEncoder, PromptConfig, build_request
from embrace_bench.models.response_cache import CachedReply, ResponseCache
from embrace_bench.observation import History
from embrace_bench.tasks.model import Task


class ModelCallError(RuntimeError):
    """The model could not answer (after every retry, or the local model failed): the episode ends with
    status `error` and the run goes on."""


@dataclass
class RawReply:
    text: str | None
    tokens_in: int = 0
    tokens_out: int = 0
    image_tokens: int | None = None  # only where the model reports (or the adapter counts) them


class PromptedAgent(Agent):
    schema: type = ApiModelSchema  # the model group's schema: its defaults fill what a cfg built by hand lacks

    def __init__(self, cfg: dict | None = None, seed: int = 0, *, prompt: PromptConfig | None = None,
                 cache_path: Path | None = None, cache=None, spend=None, **context) -> None:
        super().__init__(cfg, seed)
        self.cfg = with_defaults(self.schema, self.cfg)  # built without Hydra (tests, bench): the schema's defaults
        self.spend = spend  # the run's SpendLedger (or its Ray proxy): each paid call is added as it returns
        c = self.cfg
        self.model = c.get("name", "")
        self.sampling = {k: c[k] for k in SAMPLING_KEYS}
        self.price_in = float(c["price_per_mtok_in"])
        self.price_out = float(c["price_per_mtok_out"])
        self.prompt = prompt or PromptConfig()
        self.encoder = ImageEncoder(self.prompt)
        # `cache` (any object with get/put/close) is the run's one cache: SharedResponseCache in the local
        # backend, a proxy to the driver's in the Ray backend. `cache_path` opens a private one (tests, bench).
        if not c["cache"]:
            self.cache = None
        else:
            self.cache = cache if cache is not None else ResponseCache(cache_path) if cache_path else None
        # The answers of this episode's attempt, replayed in order when the episode is re-run from its start
        # after an engine restart: a re-run never pays twice, even with model.cache=false.
        self._answers: dict[str, list[CachedReply]] = {}
        self._replay: dict[str, deque[CachedReply]] = {}
        self._task_id: str | None = None

    def cache_model_id(self) -> str:
        """What identifies the answering model in cache keys (the API model name by default)."""
        return self.model

    def reset(self, task: Task) -> None:
        self.encoder.reset()
        same = task.task_id == self._task_id  # a re-run of the same episode replays the previous attempt
        self._replay = {k: deque(v) for k, v in self._answers.items()} if same else {}
        self._answers, self._task_id = {}, task.task_id

    def act(self, task: Task, history: History, reask: str | None = None) -> Reply:
        request = build_request(self.prompt, self.encoder, task, history, reask, self.sampling)
        key = request.cache_key(self.cache_model_id())
        if reask and not any(reask in p.text for m in request.messages for p in m.parts if p.kind == "text"):
            # A template's re-ask may leave out the complaint and its attempt number: the key still tells the
            # re-asks apart, so each is a fresh sample and no cache replays the previous bad answer.
            key = hashlib.sha256(f"{key}\x00{reask}".encode()).hexdigest()
        hit = self._replay[key].popleft() if self._replay.get(key) else None
        if hit is None and self.cache is not None:
            hit = self.cache.get(key)
        if hit is not None:
            self._answers.setdefault(key, []).append(hit)
            return Reply(hit.text, dict(hit.tokens), 0.0, 0.0, cached=True)
        t0 = time.monotonic()
        raw = self._complete(request, key)
        latency = time.monotonic() - t0
        tokens = {"in": raw.tokens_in, "out": raw.tokens_out}
        if raw.image_tokens is not None:
            tokens["image"] = raw.image_tokens
        cost = (raw.tokens_in * self.price_in + raw.tokens_out * self.price_out) / 1e6
        text = raw.text or ""  # no text is an invalid answer, never a made-up one
        answer = CachedReply(text, tokens, latency, cost)
        if self.spend is not None and cost:
            self.spend.add(cost)
        self._answers.setdefault(key, []).append(answer)
        if self.cache is not None and text:
            self.cache.put(key, self.model, answer)
        return Reply(text, tokens, latency, cost)

    def _complete(self, request: Request, key: str) -> RawReply:
        """The model's answer to one request; `key` is the request's cache key (a stable per-request seed)."""
        raise NotImplementedError

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
