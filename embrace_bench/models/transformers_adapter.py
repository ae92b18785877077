"""Qwen2.5-VL (or another chat vision-language model) in-process through transformers.

The same prompt protocols, response cache, token accounting and re-ask path as the API adapters
(PromptedAgent); only the answer comes from generate() instead of an HTTP call. The chat template is the
processor's own, so the model sees exactly the format it was trained on.
"""
from __future__ import annotations

import copy
import hashlib
import io

from embrace_bench.config_schema import TransformersModelSchema
from embrace_bench.models import hf_loading
from embrace_bench.models.messages import Request
from embrace_bench.models.prompted import ModelCallError, PromptedAgent, RawReply


def to_chat(request: Request) -> tuple[list[dict], list]:
    """(chat messages in the transformers format, the PIL images in the order they appear)."""
    from PIL import Image

    messages: list[dict] = []
    images: list = []
    for m in request.messages:
        if all(p.kind == "text" for p in m.parts):
            messages.append({"role": m.role, "content": "\n".join(p.text for p in m.parts)})
            continue
        content: list[dict] = []
        for k, p in enumerate(m.parts):
            if p.kind == "image":
                content.append({"type": "image"})
                # Decoded from the bytes an API would get, so JPEG settings affect every adapter alike.
                images.append(Image.open(io.BytesIO(p.image)).convert("RGB"))
            else:
                # Chat templates join a message's parts with nothing between them.
                content.append({"type": "text", "text": p.text + ("\n" if k + 1 < len(m.parts) else "")})
        messages.append({"role": m.role, "content": content})
    return messages, images


def _first_line(exc: BaseException) -> str:
    """One line saying what went wrong (an exception with no message, e.g. a bare assert, gives its class)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


class TransformersAgent(PromptedAgent):
    name = "transformers"
    schema = TransformersModelSchema

    @classmethod
    def check_environment(cls, cfg: dict) -> str | None:
        return hf_loading.check(cfg)

    def __init__(self, cfg: dict | None = None, seed: int = 0, **context) -> None:
        super().__init__(cfg, seed, **context)
        c = self.cfg
        self.path = str(c.get("path") or self.model)
        self.top_k = int(c["top_k"])  # 0: no top-k cut, as the API adapters' nucleus sampling
        self.gen_seed = int(c["seed"]) if c.get("seed") is not None else int(seed)
        self._lm: hf_loading.LoadedModel | None = None

    @property
    def lm(self) -> hf_loading.LoadedModel:
        """Loaded on the first request the cache cannot answer: a resumed or re-run run whose answers are
        all cached never loads the weights (nor needs the GPU)."""
        if self._lm is None:
            try:
                self._lm = hf_loading.load(dict(self.cfg, path=self.path))
            except Exception as exc:  # not an episode error: nothing can run without the model
                raise hf_loading.ModelLoadError(f"could not load model.path={self.path}: {_first_line(exc)}") \
                    from exc
        return self._lm

    def cache_model_id(self) -> str:
        # The weights and their precision setting decide the answer; with sampling, so does the seed.
        sampled = float(self.sampling["temperature"]) > 0
        dtype = self.cfg["dtype"]
        return f"transformers:{self.path}:{dtype}" + (f":seed={self.gen_seed}" if sampled else "")

    def _generation_config(self, request: Request):
        gc = copy.deepcopy(self.lm.model.generation_config)  # the checkpoint's defaults (e.g. repetition penalty)
        gc.max_new_tokens = request.max_tokens
        gc.do_sample = request.temperature > 0  # temperature 0 is greedy decoding
        gc.temperature = request.temperature if gc.do_sample else 1.0
        gc.top_p = request.top_p if gc.do_sample else 1.0
        gc.top_k = self.top_k if gc.do_sample else None
        return gc

    def _eos_ids(self, gc) -> list[int]:
        eos = gc.eos_token_id
        ids = list(eos) if isinstance(eos, (list, tuple)) else [eos] if eos is not None else []
        tok_eos = self.lm.tokenizer.eos_token_id
        return sorted({i for i in ids + [tok_eos] if i is not None})

    def _constraint(self):
        from embrace_bench.models.action_constraint import ActionGrammar, CompiledConstraint, Vocabulary

        think = self.prompt.think
        if think not in self.lm.constraints:  # compiled once per model and answer format
            vocab = self.lm.constraints.get("vocab") or Vocabulary.from_tokenizer(self.lm.tokenizer)
            self.lm.constraints["vocab"] = vocab
            self.lm.constraints[think] = CompiledConstraint(ActionGrammar(think), vocab)
        return self.lm.constraints[think]

    def _complete(self, request: Request, key: str) -> RawReply:
        import torch
        from transformers import LogitsProcessorList

        lm = self.lm
        messages, images = to_chat(request)
        text = lm.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = lm.processor(text=[text], images=images or None, return_tensors="pt").to(lm.device)
        ids = inputs["input_ids"]
        n_in = int(ids.shape[1])
        n_image = int((ids == lm.image_token_id).sum()) if lm.image_token_id is not None else None
        gc = self._generation_config(request)
        extra = {}
        with lm.lock:  # one generate() at a time on a shared model; seeding under the same lock
            if request.constrained:
                from embrace_bench.models.action_constraint import ActionLogitsProcessor

                extra["logits_processor"] = LogitsProcessorList([ActionLogitsProcessor(
                    self._constraint(), self._eos_ids(gc), n_in, request.max_tokens)])
            if gc.do_sample:
                # A seed per request, not per run: a resumed or re-ordered run samples the same answers.
                torch.manual_seed(int(hashlib.sha256(f"{self.gen_seed}:{key}".encode()).hexdigest()[:15], 16))
            try:
                with torch.inference_mode():
                    out = lm.model.generate(**inputs, generation_config=gc, **extra)
            except (RuntimeError, ValueError) as exc:  # CUDA out of memory, a context too long, ...
                raise ModelCallError(f"{self.model}: generate() failed: {_first_line(exc)}") from None
        new = out[0, n_in:].tolist()
        pad = gc.pad_token_id
        while new and pad is not None and new[-1] == pad and pad not in self._eos_ids(gc):
            new.pop()
        answer = lm.tokenizer.decode(new, skip_special_tokens=True)
        return RawReply(answer, n_in, len(new), n_image)
