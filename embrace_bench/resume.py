"""Resuming a run dir: which tasks are done, and a records file that holds exactly one record per task.

While a run goes, `episodes.jsonl` only grows by whole, fsynced lines. When a run starts in a dir that
already has records, every line is classified:

- a readable record with status finished or timeout: that task is done and is skipped;
- a readable record with status error, for a task this run attempts: kept until the re-run's record
  replaces it (`replace_record`), so a run stopped before the re-run (Ctrl-C, budget) still shows it;
- a line that does not parse (a truncated last line after a crash, or garbage): superseded and reported;
- a second record for a task: superseded (the first one stays, except that a finished or timeout record
  wins over an earlier error record of the task).

Superseded lines go first to `episodes.superseded.jsonl` (appended and fsynced: each with the reason, the
time and the line exactly as it was), then `episodes.jsonl` is rewritten atomically (temp file, fsync,
rename) with the kept lines only. So each task has at most one record at any moment, a finished run has
exactly one per task, and nothing ever recorded is lost.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

from embrace_bench.records import UNREADABLE_RECORD, EpisodeRecord, record_line
from embrace_bench.run_dir import SUPERSEDED, RunDir


@dataclass
class ResumeState:
    done: set[str] = field(default_factory=set)  # tasks with a final record: skipped
    kept: int = 0  # records left in episodes.jsonl
    kept_cost: float = 0.0  # their cost and tokens, for the manifest's run totals
    kept_tokens_in: int = 0
    kept_tokens_out: int = 0
    superseded: list[str] = field(default_factory=list)  # one line per superseded record, for the console
    rerun: dict[str, str] = field(default_factory=dict)  # task id -> why its kept error record is re-run
    rerun_totals: dict[str, tuple[float, int, int]] = field(default_factory=dict)  # their cost, tokens in/out

    def totals_in_file(self) -> tuple[float, int, int]:
        """Cost and tokens of the old records still in the file: the kept ones, plus the error records in
        `rerun` (the runner pops each one its re-run replaced), so a stopped run's totals match its records."""
        left = [self.rerun_totals[t] for t in self.rerun]
        return (self.kept_cost + sum(c for c, _, _ in left), self.kept_tokens_in + sum(i for _, i, _ in left),
                self.kept_tokens_out + sum(o for _, _, o in left))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def prepare(run_dir: Path, attempt: set[str]) -> ResumeState:
    """Classify `run_dir/episodes.jsonl` for a run that will attempt the task ids in `attempt`."""
    path = RunDir(run_dir).episodes
    state = ResumeState()
    if not path.exists():
        return state
    raw = path.read_bytes()
    lines = raw.decode("utf-8", errors="replace").split("\n")
    dropped: list[tuple[int, str, str]] = []  # (line number, reason, text)
    parsed: list[tuple[int, str, EpisodeRecord]] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            parsed.append((n, line, EpisodeRecord.from_json(json.loads(line))))
        except UNREADABLE_RECORD as exc:
            what = "truncated" if n == len(lines) and not raw.endswith(b"\n") else "unreadable"
            dropped.append((n, f"{what} record ({exc.__class__.__name__}: {str(exc)[:80]})", line))
    # One record per task: its first, unless an error record is followed by a real one (a re-run appended by
    # an older runner): then the real one, as the reports count it.
    chosen: dict[str, tuple[int, EpisodeRecord]] = {}
    for n, _, rec in parsed:
        c = chosen.get(rec.task_id)
        if c is None or (c[1].status == "error" and rec.status != "error"):
            chosen[rec.task_id] = (n, rec)
    kept: list[str] = []
    for n, line, rec in parsed:
        if chosen[rec.task_id][0] != n:
            why = "error record" if rec.status == "error" and n < chosen[rec.task_id][0] else "second record"
            dropped.append((n, f"{why} for {rec.task_id}", line))
            continue
        kept.append(line)
        if rec.status == "error" and rec.task_id in attempt:
            state.rerun[rec.task_id] = f"error record for {rec.task_id} ({rec.error[:80]})"
            state.rerun_totals[rec.task_id] = (rec.cost_usd, rec.tokens_in, rec.tokens_out)
        else:
            state.kept_cost += rec.cost_usd
            state.kept_tokens_in += rec.tokens_in
            state.kept_tokens_out += rec.tokens_out
            if rec.status != "error":
                state.done.add(rec.task_id)
    dropped.sort()
    state.kept = len(kept)
    if not dropped and (not raw or raw.endswith(b"\n")):
        return state
    _supersede(path, dropped, kept)
    state.superseded = [f"{path.name}:{n}: {reason}; moved to {SUPERSEDED}" for n, reason, _ in dropped]
    return state


def _supersede(path: Path, dropped: list[tuple[int, str, str]], kept: list[str]) -> None:
    """Set `dropped` lines aside (fsynced first), then atomically rewrite `path` with the `kept` lines."""
    if dropped:
        now = datetime.now(timezone.utc).isoformat()
        with open(path.parent / SUPERSEDED, "a", encoding="utf-8") as f:
            for n, reason, text in dropped:
                f.write(json.dumps({"superseded_at": now, "line_no": n, "reason": reason, "line": text}) + "\n")
            f.flush()
            os.fsync(f.fileno())
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("".join(k + "\n" for k in kept))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def replace_record(path: Path, record: EpisodeRecord, reason: str) -> None:
    """Write the re-run's `record` in place of the task's kept error record (set aside with `reason`)."""
    lines = [ln for ln in path.read_text(encoding="utf-8").split("\n") if ln.strip()]
    dropped, kept = [], []
    for n, line in enumerate(lines, 1):
        try:
            mine = json.loads(line).get("task_id") == record.task_id
        except (json.JSONDecodeError, AttributeError):
            mine = False
        if mine:
            dropped.append((n, f"{reason}, replaced by its re-run", line))
        else:
            kept.append(line)
    _supersede(path, dropped, kept + [record_line(record)])


@dataclass
class ResumeKey:
    """What a run dir's records depend on (the manifest's `resume_key`): resuming with any of these changed
    would mix incomparable episodes."""

    model: dict  # the model group without OPERATIONAL_MODEL_KEYS
    prompt: dict
    suite: str
    suite_hash: str
    max_steps: int
    reask: int
    success_radius_cm: float
    env: dict  # kind, width, height, fov
    seed: int


RESUME_KEYS = tuple(f.name for f in fields(ResumeKey))
# Model settings that do not change what the model answers; a resume may change them.
OPERATIONAL_MODEL_KEYS = {"base_url", "timeout_s", "max_retries", "backoff_s", "backoff_cap_s", "cache",
                          "price_per_mtok_in", "price_per_mtok_out", "api_version", "launch", "launch_port",
                          "launch_host", "launch_timeout_s", "vllm_executable"}


def resume_key(cfg, model_cfg: dict, suite) -> dict:
    """The run's ResumeKey (as stored in the manifest) from its composed config, model group and suite."""
    from embrace_bench.config_schema import group_dict

    return asdict(ResumeKey(
        model={k: v for k, v in model_cfg.items() if k not in OPERATIONAL_MODEL_KEYS},
        prompt=group_dict(cfg.prompt),
        suite=suite.name, suite_hash=suite.content_hash,
        max_steps=cfg.runner.max_steps, reask=cfg.runner.reask, success_radius_cm=cfg.runner.success_radius_cm,
        seed=cfg.runner.seed, env={k: cfg.env.get(k) for k in ("kind", "width", "height", "fov")}))


def incompatibility(a: dict | None, b: dict | None) -> str | None:
    """Why records in a run dir (resume key `a`, from its manifest) cannot be continued by this run (resume
    key `b`), or None."""
    if not a or not b:
        return None
    for k in RESUME_KEYS:
        if k in a and a.get(k) != b.get(k):
            if isinstance(a[k], dict) and isinstance(b.get(k), dict):
                diff = sorted(x for x in set(a[k]) | set(b[k]) if a[k].get(x) != b[k].get(x))
                if not diff:
                    continue  # only options added since, absent there and null here (prompt.template_file)
                return (f"{k}.{diff[0]} was {a[k].get(diff[0])!r} there and is {b[k].get(diff[0])!r} now")
            return f"{k} was {a[k]!r} there and is {b.get(k)!r} now"
    return None
