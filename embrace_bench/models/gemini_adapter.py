"""Google Gemini through google-genai. Its own retries are off (one attempt); ours apply, as for the others."""
from __future__ import annotations

import json

from embrace_bench.actions import action_json_schema, from_structured
from embrace_bench.config_schema import GeminiModelSchema
from embrace_bench.models.api import (
    RATE_LIMIT_STATUSES,
    APIAgent,
    FatalModelError,
    RawReply,
    RetryableError,
    retry_after_seconds,
)
from embrace_bench.models.messages import Request


def _schema_for_gemini() -> dict:
    s = dict(action_json_schema())
    s.pop("additionalProperties", None)  # not part of Gemini's schema subset
    return s


class GeminiAgent(APIAgent):
    schema = GeminiModelSchema
    key_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    sdk_module = "google.genai"
    pip_name = "google-genai"

    def __init__(self, cfg: dict | None = None, seed: int = 0, **context) -> None:
        super().__init__(cfg, seed, **context)
        from google import genai
        from google.genai import types

        self._types = types
        # api_version: this SDK defaults to v1; some features (e.g. response_schema on older models) need v1beta.
        http = types.HttpOptions(base_url=self.cfg.get("base_url"), timeout=int(self.timeout_s * 1000),
                                 api_version=self.cfg.get("api_version") or None,
                                 retry_options=types.HttpRetryOptions(attempts=1))
        self.client = genai.Client(api_key=self.api_key() or "unset", http_options=http)

    def _contents(self, request: Request):
        t = self._types
        contents = []
        for m in request.messages:
            if m.role == "system":
                continue
            parts = [t.Part.from_text(text=p.text) if p.kind == "text" else
                     t.Part.from_bytes(data=p.image, mime_type=p.mime) for p in m.parts]
            contents.append(t.Content(role="model" if m.role == "assistant" else "user", parts=parts))
        return contents

    def _call(self, request: Request) -> RawReply:
        from google.genai import errors

        t = self._types
        system = "\n".join(p.text for m in request.messages if m.role == "system" for p in m.parts)
        config = t.GenerateContentConfig(system_instruction=system or None, temperature=request.temperature,
                                         max_output_tokens=request.max_tokens, top_p=request.top_p)
        if request.constrained:
            config.response_mime_type = "application/json"
            config.response_schema = _schema_for_gemini()
        try:
            resp = self.client.models.generate_content(model=self.model, contents=self._contents(request),
                                                       config=config)
        except errors.APIError as exc:
            code = getattr(exc, "code", 0) or 0
            if code == 429 or code >= 500 or code in (408, 409):
                headers = getattr(getattr(exc, "response", None), "headers", None)
                raise RetryableError(f"{code}: {exc.message}", retry_after_seconds(headers),
                                     rate_limited=code in RATE_LIMIT_STATUSES) from None
            raise FatalModelError(f"{code}: {exc.message}") from None
        except ValueError as exc:  # includes JSON decode errors of a malformed body
            raise RetryableError(f"malformed reply: {exc}") from None
        except Exception as exc:  # httpx2 timeouts and dropped connections surface with their own classes
            name = type(exc).__name__
            if "Timeout" in name or "Connect" in name or "Network" in name or "Protocol" in name:
                raise RetryableError(f"{name}: {exc}") from None
            raise
        text = None
        try:
            text = resp.text
        except (ValueError, AttributeError):
            text = None
        if request.constrained and text:
            try:
                text = from_structured(json.loads(text))
            except json.JSONDecodeError:
                pass
        u = resp.usage_metadata
        return RawReply(text, getattr(u, "prompt_token_count", 0) or 0, getattr(u, "candidates_token_count", 0) or 0,
                        image_tokens(u))


def image_tokens(usage) -> int | None:
    """The prompt's image tokens from usage_metadata.prompt_tokens_details (per modality), when reported."""
    details = getattr(usage, "prompt_tokens_details", None) if usage else None
    if not details:
        return None
    return sum(d.token_count or 0 for d in details if str(getattr(d.modality, "value", d.modality)) == "IMAGE")
