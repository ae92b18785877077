"""The run manifest (`<run>/manifest.json`): one typed definition, one reader, one writer.

The app fills in what the run is (suite, split, model, prompt, env, tags, resume key, the whole config); the
runner adds what this machine and session are when a session starts, and the totals when it ends. A resumed
run keeps the manifest's earlier sessions and adds one. Keys this version does not know (an older or newer
harness wrote them) are kept as they were.

On disk: sorted keys, indent 2, secrets blanked. A fact not known yet (None) is left out, except `ended`,
which is null while a session runs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from embrace_bench.redact import redact
from embrace_bench.run_dir import RunDir


@dataclass
class Session:
    """One session of a run (a start, or a resume, of the runner in the run dir)."""
    # At its start
    started: str | None = None  # UTC, ISO 8601
    backend: str | None = None
    workers: int | None = None
    resumed_with: int | None = None  # records already in the run dir
    tagger: str | None = None  # scoring/fingerprint.py: which tagger and thresholds tagged its records
    # At its end
    ended: str | None = None  # null while it runs (or when it never ended)
    wall_s: float | None = None
    episodes_run: int | None = None
    spent_usd: float | None = None  # billed in this session
    interrupted: bool | None = None
    stopped_by_budget: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # the backend's notes (e.g. api_limiter), unknown keys

    def to_json(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**self.extra, **{k: v for k, v in d.items() if v is not None or k == "ended"}}

    @staticmethod
    def from_json(d: dict) -> "Session":
        return Session(**{k: v for k, v in d.items() if k in _SESSION_FIELDS},
                       extra={k: v for k, v in d.items() if k not in _SESSION_FIELDS})


_SESSION_FIELDS = {f.name for f in fields(Session)} - {"extra"}


@dataclass
class Manifest:
    # What the run is (app.py)
    suite: str | None = None
    suite_hash: str | None = None
    split: str | None = None
    model: dict | None = None
    prompt: dict | None = None
    seed: int | None = None
    env: dict | None = None
    tags: dict | None = None  # the tag thresholds as configured (for 640x480 frames)
    resume_key: dict | None = None  # resume.ResumeKey: what the records depend on
    config: dict | None = None  # the whole composed config
    # This machine and session (runner.py, at each session's start)
    harness_version: str | None = None
    git_sha: str | None = None
    host: str | None = None
    python: str | None = None
    started: str | None = None  # the first session's start (UTC, ISO 8601)
    ended: str | None = None  # the last session's end; null while a session runs
    n_tasks: int | None = None
    max_steps: int | None = None
    sessions: list[Session] = field(default_factory=list)  # one per session, the first first
    # Totals over the whole run dir (runner.py, at each session's end)
    wall_s: float | None = None  # the last session's
    stopped_by_budget: bool | None = None
    episodes_recorded: int | None = None
    cost_usd: float | None = None  # of the records
    spent_usd: float | None = None  # billed, over every session
    tokens_in: int | None = None
    tokens_out: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, kept as they were

    def to_json(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        d = {k: v for k, v in d.items() if v is not None or k in ALWAYS_WRITTEN}
        return {**self.extra, **d, "sessions": [s.to_json() for s in self.sessions]}

    @staticmethod
    def from_json(d: dict) -> "Manifest":
        known = {k: v for k, v in d.items() if k in _FIELDS}
        sessions = known.get("sessions")
        known["sessions"] = [Session.from_json(s) for s in sessions if isinstance(s, dict)] \
            if isinstance(sessions, list) else []
        return Manifest(**known, extra={k: v for k, v in d.items() if k not in _FIELDS})

    @staticmethod
    def of(value: "Manifest | dict | None") -> "Manifest":
        """A manifest as is; a dict (a manifest file's content) read as one; anything else as an empty one."""
        if isinstance(value, Manifest):
            return value
        return Manifest.from_json(value) if isinstance(value, dict) else Manifest()

    def group(self, name: str) -> dict:
        """A recorded config group (model, prompt, env, tags, config) as a dict; {} where absent or not a dict."""
        value = getattr(self, name)
        return value if isinstance(value, dict) else {}


ALWAYS_WRITTEN = {"ended", "sessions"}
_FIELDS = {f.name for f in fields(Manifest)} - {"extra"}


def read_manifest(run_dir: Path | str) -> tuple[Manifest | None, str]:
    """(the run dir's manifest, "") or (None, a one-line reason: missing, unreadable, not a JSON object)."""
    path = RunDir(Path(run_dir)).manifest
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"no manifest in {path.parent}"
    except (OSError, ValueError) as exc:
        return None, f"unreadable manifest in {path.parent} ({exc})"
    if not isinstance(data, dict):
        return None, f"{path} is not a JSON object"
    return Manifest.from_json(data), ""


def write_manifest(run_dir: Path | str, manifest: Manifest) -> None:
    path = RunDir(Path(run_dir)).manifest
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(redact(json.dumps(manifest.to_json(), indent=2, sort_keys=True, default=str)) + "\n")
    tmp.replace(path)  # atomic: a crash never leaves half a manifest
