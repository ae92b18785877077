"""The provider-neutral request every prompt protocol builds and every API adapter translates."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Part:
    kind: str  # "text" | "image"
    text: str = ""
    image: bytes = b""  # encoded PNG or JPEG bytes, exactly as sent
    mime: str = ""  # "image/png" | "image/jpeg" for images


@dataclass
class Message:
    role: str  # "system" | "user" | "assistant"
    parts: list[Part] = field(default_factory=list)

    @staticmethod
    def text(role: str, text: str) -> "Message":
        return Message(role, [Part("text", text)])


@dataclass
class Request:
    messages: list[Message]
    # The sampling settings (their defaults: config_schema.ApiModelSchema, filled in by build_request)
    temperature: float
    max_tokens: int
    top_p: float
    constrained: bool  # compile the action space into the provider's structured-output form

    def cache_key(self, model: str) -> str:
        """sha256 over the model, the sampling and every message part, image bytes included."""
        h = hashlib.sha256()
        h.update(json.dumps([model, self.temperature, self.max_tokens, self.top_p, self.constrained]).encode())
        for m in self.messages:
            h.update(f"\x00{m.role}".encode())
            for p in m.parts:
                h.update(f"\x01{p.kind}\x02{p.mime}\x03".encode())
                h.update(p.image if p.kind == "image" else p.text.encode())
        return h.hexdigest()

    def n_images(self) -> int:
        return sum(p.kind == "image" for m in self.messages for p in m.parts)
