"""Anthropic messages API (Claude)."""
from __future__ import annotations

import base64

from embrace_bench.actions import action_json_schema, from_structured
from embrace_bench.config_schema import AnthropicModelSchema
from embrace_bench.models.api import APIAgent, RawReply, call_stainless
from embrace_bench.models.messages import Request

TOOL = "choose_action"


def to_anthropic(request: Request) -> tuple[str, list[dict]]:
    """(system, messages) with same-role neighbours merged: the API requires alternating roles."""
    system = "\n".join(p.text for m in request.messages if m.role == "system" for p in m.parts)
    out: list[dict] = []
    for m in request.messages:
        if m.role == "system":
            continue
        blocks: list[dict] = []
        for p in m.parts:
            if p.kind == "text":
                blocks.append({"type": "text", "text": p.text})
            else:
                blocks.append({"type": "image", "source": {"type": "base64", "media_type": p.mime,
                                                           "data": base64.b64encode(p.image).decode()}})
        if out and out[-1]["role"] == m.role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": m.role, "content": blocks})
    return system, out


class AnthropicAgent(APIAgent):
    schema = AnthropicModelSchema
    key_env = ("ANTHROPIC_API_KEY",)
    sdk_module = "anthropic"
    pip_name = "anthropic"

    def __init__(self, cfg: dict | None = None, seed: int = 0, **context) -> None:
        super().__init__(cfg, seed, **context)
        import anthropic

        self._sdk = anthropic
        self.client = anthropic.Anthropic(api_key=self.api_key(), base_url=self.cfg.get("base_url"),
                                          timeout=self.timeout_s, max_retries=0)

    def _call(self, request: Request) -> RawReply:
        system, messages = to_anthropic(request)
        kwargs = dict(model=self.model, system=system, messages=messages, max_tokens=request.max_tokens)
        # This SDK generation no longer names the sampling fields; the API still reads them from the body.
        # top_p only when set, since recent models refuse temperature and top_p together.
        sampling = {"temperature": request.temperature}
        if request.top_p < 1.0:
            sampling["top_p"] = request.top_p
        kwargs["extra_body"] = sampling
        if request.constrained:
            kwargs["tools"] = [{"name": TOOL, "description": "Choose the next action.",
                                "input_schema": action_json_schema()}]
            kwargs["tool_choice"] = {"type": "tool", "name": TOOL}
        resp = call_stainless(self._sdk, lambda: self.client.messages.create(**kwargs), self.timeout_s)
        text = None
        for block in resp.content or []:
            if block.type == "tool_use" and request.constrained:
                text = from_structured(block.input)
            elif block.type == "text":
                text = (text or "") + block.text
        u = resp.usage
        return RawReply(text, getattr(u, "input_tokens", 0) or 0, getattr(u, "output_tokens", 0) or 0)
