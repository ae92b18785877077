"""Secrets never reach a written file: which environment values are secrets, and how they are blanked.

API keys come only from the environment. Engines are launched without them (`scrubbed_environ`), and
everything the harness writes (records, manifest, its log file) passes through `redact`, so even a key
echoed back inside a provider's error message is stored as `***`.
"""
from __future__ import annotations

import logging
import os
import re

# OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, GOOGLE_API_KEY, HF_TOKEN, AWS_SECRET_ACCESS_KEY, ...
SECRET_NAME = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|ACCESS_KEY)(_ID)?$", re.IGNORECASE)
MIN_SECRET_LEN = 8  # shorter values ("1", "true") would blank ordinary text
MASK = "***"


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def secret_values(environ=None) -> list[str]:
    """The values of secret-named environment variables, longest first (so no key is half-blanked)."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if is_secret_name(k) and len(v) >= MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: list[str] | None = None) -> str:
    for s in secret_values() if secrets is None else secrets:
        if s in text:
            text = text.replace(s, MASK)
    return text


def scrubbed_environ(environ=None) -> dict[str, str]:
    """The environment minus secrets: what an engine process (which never calls a model) is given."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if not is_secret_name(k)}


class RedactingFilter(logging.Filter):
    """Formats each log record and blanks secrets in it before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = secret_values()
        if secrets:
            msg = record.getMessage()
            clean = redact(msg, secrets)
            if clean != msg:
                record.msg, record.args = clean, None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text, secrets)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Put the filter on every handler of `logger` (root by default): Hydra's job log file included."""
    logger = logger or logging.getLogger()
    for h in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in h.filters):
            h.addFilter(RedactingFilter())
