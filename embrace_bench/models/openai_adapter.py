"""OpenAI chat completions: GPT-4o, and any OpenAI-compatible server (vLLM, SGLang, LMDeploy) via base_url."""
from __future__ import annotations

import base64
import json

from embrace_bench.actions import action_json_schema, action_regex, from_structured
from embrace_bench.config_schema import OpenAIModelSchema, with_defaults
from embrace_bench.models.api import APIAgent, RawReply, RetryableError, call_stainless
from embrace_bench.models.messages import Request


def to_openai_messages(request: Request) -> list[dict]:
    out: list[dict] = []
    for m in request.messages:
        if all(p.kind == "text" for p in m.parts) and m.role != "user":
            out.append({"role": m.role, "content": "\n".join(p.text for p in m.parts)})
            continue
        content: list[dict] = []
        for p in m.parts:
            if p.kind == "text":
                content.append({"type": "text", "text": p.text})
            else:
                url = f"data:{p.mime};base64,{base64.b64encode(p.image).decode()}"
                content.append({"type": "image_url", "image_url": {"url": url}})
        out.append({"role": m.role, "content": content})
    return out


# How model.constrained=true reaches the server: OpenAI's structured outputs (a JSON answer), or the
# answer regex through vLLM's extra body fields (`structured_outputs` since vLLM 0.12, which removed the
# older `guided_regex`).
CONSTRAINED_FORMATS = ("json_schema", "structured_outputs", "guided_regex")


class OpenAIAgent(APIAgent):
    schema = OpenAIModelSchema
    key_env = ("OPENAI_API_KEY",)
    sdk_module = "openai"
    pip_name = "openai"

    @classmethod
    def check_environment(cls, cfg: dict) -> str | None:
        cfg = with_defaults(cls.schema, cfg)
        form = cfg["constrained_format"]
        if form not in CONSTRAINED_FORMATS:
            return f"model.constrained_format must be one of {', '.join(CONSTRAINED_FORMATS)}, not {form!r}"
        if cfg.get("launch"):
            from embrace_bench.models.vllm_server import check_launch

            problem = check_launch(cfg)
            if problem:
                return problem
        return super().check_environment(cfg)

    def __init__(self, cfg: dict | None = None, seed: int = 0, **context) -> None:
        super().__init__(cfg, seed, **context)
        import openai

        self.constrained_format = self.cfg["constrained_format"]
        self._sdk = openai
        # Local OpenAI-compatible servers take any key; the SDK insists on one being set.
        key = self.api_key() or ("EMPTY" if self.cfg.get("base_url") else None)
        self.client = openai.OpenAI(api_key=key, base_url=self.cfg.get("base_url"), timeout=self.timeout_s,
                                    max_retries=0)

    def _call(self, request: Request) -> RawReply:
        kwargs = dict(model=self.model, messages=to_openai_messages(request), temperature=request.temperature,
                      max_tokens=request.max_tokens, top_p=request.top_p)
        extra_body = dict(self.cfg.get("extra_body") or {})
        as_json = request.constrained and self.constrained_format == "json_schema"
        if as_json:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "embrace_action", "schema": action_json_schema(), "strict": True}}
        elif request.constrained and self.constrained_format == "structured_outputs":
            extra_body["structured_outputs"] = {"regex": action_regex(self.prompt.think)}
        elif request.constrained:
            extra_body["guided_regex"] = action_regex(self.prompt.think)
        if extra_body:
            kwargs["extra_body"] = extra_body
        resp = call_stainless(self._sdk, lambda: self.client.chat.completions.create(**kwargs), self.timeout_s)
        if not getattr(resp, "choices", None):
            raise RetryableError("reply without choices")
        text = resp.choices[0].message.content
        if as_json and text:
            try:
                text = from_structured(json.loads(text))
            except json.JSONDecodeError:
                pass  # leave it as it came; the parser will call it invalid and re-ask
        u = resp.usage
        details = getattr(u, "prompt_tokens_details", None) if u else None
        return RawReply(text, getattr(u, "prompt_tokens", 0) or 0, getattr(u, "completion_tokens", 0) or 0,
                        getattr(details, "image_tokens", None) if details else None)
