"""Reading UnrealCV answers: numbers, JSON objects, the hit flag, PNG frames (as RGB, without alpha)."""
from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image

from embrace_bench import png
from embrace_bench.unrealcv.protocol import is_error_reply


class EnvError(RuntimeError):
    """The engine answered something the env cannot use (the message names the command)."""


def _floats(reply, what: str) -> list[float]:
    try:
        return [float(v) for v in str(reply).split()]
    except ValueError:
        raise EnvError(f"{what}: expected numbers, got {str(reply)[:80]!r}") from None


def _json(reply, what: str) -> dict:
    if isinstance(reply, bytes) or is_error_reply(reply):
        raise EnvError(f"{what}: {str(reply)[:120]}")
    try:
        value = json.loads(reply)
    except json.JSONDecodeError:
        raise EnvError(f"{what}: not a JSON object: {str(reply)[:80]!r}") from None
    if not isinstance(value, dict):
        raise EnvError(f"{what}: not a JSON object: {str(reply)[:80]!r}")
    return value


def _hit(reply) -> bool:
    """get_hit: {"hit": "1"} (vbp replies carry strings); tolerate a bare 0/1 as EmbRACE's client does."""
    try:
        return str(_json(reply, "get_hit").get("hit", "0")).strip().lower() in ("1", "true")
    except EnvError:
        return "1" in str(reply)


def decode_png(data, what: str) -> np.ndarray:
    """A captured frame (UnrealCV's `png`, or its `bmp` as the release captures) as RGB pixels."""
    if not isinstance(data, bytes) or not data.startswith((b"\x89PNG", b"BM")):
        raise EnvError(f"{what}: expected a PNG or BMP image, got {str(data[:40])!r}")
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def rgb_png(data: bytes, rgb: np.ndarray) -> bytes:
    """The frame as an RGB PNG (what is saved and sent to the model): UnrealCV's PNG carries an alpha channel,
    which a model must not get (the release drops it too), and its BMP is re-encoded. An RGB PNG passes as is."""
    return data if png.is_rgb(data) else png.encode(rgb)
