"""The run: resume what the run dir holds, hand tasks to workers, write each record as it arrives.

The driver (this module) alone writes `episodes.jsonl` and the manifest. Workers (worker.py) run in threads
here (`runner.backend=local`) or in Ray actors (`runner.backend=ray`, ray_backend.py); both get one task at a
time from the driver, which checks the cost budget before handing out the next one.
"""
from __future__ import annotations

import fcntl
import logging
import os
import platform
import queue
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from embrace_bench import __version__, resume
from embrace_bench.env.engines import Engine
from embrace_bench.env.unreal_env import EnvConfig
from embrace_bench.episode import EpisodeSettings
from embrace_bench.interrupts import sigterm_as_interrupt
from embrace_bench.manifest import Manifest, Session, read_manifest, write_manifest
from embrace_bench.models.base import Agent
from embrace_bench.models.limiter import AdaptiveLimiter
from embrace_bench.models.response_cache import SharedResponseCache
from embrace_bench.models.spend import SpendLedger
from embrace_bench.records import EpisodeRecord, append_record
from embrace_bench.run_dir import RunDir
from embrace_bench.scoring.fingerprint import tagger_fingerprint
from embrace_bench.tasks.model import Task
from embrace_bench.worker import EpisodeWorker, Outcome

log = logging.getLogger(__name__)
BACKENDS = ("local", "ray")


class RunError(RuntimeError):
    """The run cannot start as asked (run dir in use, records it may not resume, an unknown backend): the CLI
    exits 2. A worker that cannot start raises its own error, which ends the run (exit 1)."""


@dataclass
class RunSpec:
    run_dir: Path
    tasks: list[Task]
    model_name: str
    make_agent: Callable[..., Agent]  # (**services) -> Agent; services: cache (the run's), limiter
    make_engines: Callable[[Path], Callable[[int], Engine]]  # dir for logs/ -> (worker id -> unstarted engine)
    workers: int = 1
    settings: EpisodeSettings = field(default_factory=EpisodeSettings)
    env_cfg: EnvConfig = field(default_factory=EnvConfig)
    request_timeout_s: float = 30.0  # env.timeout_s: an engine silent this long is relaunched
    max_restarts: int = 2  # env.max_restarts: relaunches per episode before it is recorded as an error
    max_cost_usd: float | None = None  # stop starting episodes once the run has spent this much
    api_concurrency: int | None = None  # run-wide cap on model calls in flight (None: one per worker)
    rate_limit_wait_s: float = 600.0  # how long one call may wait out rate limits before they count as retries
    backend: str = "local"
    ray: dict = field(default_factory=dict)  # address, num_cpus_per_worker, num_gpus_per_worker (ray_backend.py)
    resume: bool = True
    manifest: Manifest | None = None  # what the run is (app.py); the runner adds the session facts


def git_sha() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


class RunDirLock:
    """One run at a time per run dir: two writers would record episodes twice."""

    def __init__(self, run_dir: Path) -> None:
        self.path = RunDir(run_dir).lock
        self._f: IO[str] | None = None

    def __enter__(self) -> "RunDirLock":
        f = open(self.path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            f.close()
            raise RunError(f"{self.path.parent} is in use by another run (pid {holder}); wait for it or pick "
                           "another hydra.run.dir") from None
        f.truncate(0)
        f.write(str(os.getpid()))
        f.flush()
        self._f = f
        return self

    def __exit__(self, *exc) -> None:
        if self._f:
            fcntl.flock(self._f, fcntl.LOCK_UN)
            self._f.close()


class LocalBackend:
    """Workers as threads of this process; each owns its engine process, its env and its agent."""

    def __init__(self, spec: RunSpec, n: int) -> None:
        self.spec, self.n = spec, n
        self.stop = threading.Event()
        self.limiter = AdaptiveLimiter(spec.api_concurrency or n, max_wait_s=spec.rate_limit_wait_s)
        self.cache = SharedResponseCache(RunDir(spec.run_dir).cache)
        self.spend = SpendLedger()
        self.results: queue.Queue = queue.Queue()
        self.inboxes: list[queue.Queue] = [queue.Queue() for _ in range(n)]
        self.workers: list[EpisodeWorker | None] = [None] * n
        self.threads = [threading.Thread(target=self._loop, args=(i,), name=f"worker-{i}", daemon=True)
                        for i in range(n)]
        self.make_engine = spec.make_engines(spec.run_dir)

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def submit(self, wid: int, task: Task) -> None:
        self.inboxes[wid].put(task)

    def wait(self, timeout: float) -> list[Outcome]:
        try:
            item = self.results.get(timeout=timeout)
        except queue.Empty:
            return []
        if isinstance(item, BaseException):
            raise item
        return [item]

    def _loop(self, wid: int) -> None:
        s = self.spec
        worker = None
        try:
            agent = s.make_agent(cache=self.cache, limiter=self.limiter, spend=self.spend)
            worker = self.workers[wid] = EpisodeWorker(
                wid, agent, self.make_engine, s.env_cfg, s.settings, s.model_name,
                request_timeout_s=s.request_timeout_s, max_restarts=s.max_restarts, stop=self.stop)
            while True:
                task = self.inboxes[wid].get()
                if task is None or self.stop.is_set():
                    return
                self.results.put(worker.run_task(task))
        except BaseException as exc:  # a worker that cannot go on reports it instead of dying silently
            if not self.stop.is_set():
                self.results.put(exc)
        finally:
            if worker is not None:
                worker.close()

    def shutdown(self, abort: bool) -> None:
        """Finish: tell the workers to stop; on abort (Ctrl-C) kill their engines so they stop at once."""
        if abort:
            self.stop.set()
            for w in self.workers:
                if w is not None:
                    w.engines.kill()
        for box in self.inboxes:
            box.put(None)
        deadline = time.monotonic() + (5.0 if abort else 30.0)
        for t in self.threads:  # a thread stuck in a model call is a daemon: it dies with the process
            t.join(timeout=max(0.1, deadline - time.monotonic()))
        if not any(t.is_alive() for t in self.threads):
            self.cache.shutdown()

    def spent_usd(self) -> float:
        return self.spend.total()

    def notes(self) -> dict:
        return {"api_limiter": self.limiter.state()}


def make_backend(spec: RunSpec, n: int):
    if spec.backend == "ray":
        from embrace_bench.ray_backend import RayBackend

        return RayBackend(spec, n)
    if spec.backend != "local":
        raise RunError(f"runner.backend must be one of {', '.join(BACKENDS)}, not {spec.backend!r}")
    return LocalBackend(spec, n)


def _session_manifest(spec: RunSpec, state: resume.ResumeState, old: Manifest | None) -> Manifest:
    """The manifest for a session starting now: the run dir's (if any), updated with this run's facts."""
    now = datetime.now(timezone.utc).isoformat()
    manifest = old or Manifest()
    if spec.manifest is not None:  # this run's facts (app.py) replace the stored ones; unknown keys are kept
        manifest.extra.update(spec.manifest.extra)
        for f in fields(Manifest):
            value = getattr(spec.manifest, f.name)
            if f.name not in ("extra", "sessions") and value is not None:
                setattr(manifest, f.name, value)
    manifest = replace(manifest, harness_version=__version__, git_sha=git_sha(), host=platform.node(),
                       python=platform.python_version(), started=manifest.started or now,
                       n_tasks=len(spec.tasks), max_steps=spec.settings.max_steps, ended=None)
    manifest.sessions = list(manifest.sessions) + [Session(
        started=now, backend=spec.backend, workers=spec.workers, resumed_with=state.kept,
        # which tagger and thresholds tag this session's records (the workers scale them to the frame size)
        tagger=tagger_fingerprint(spec.settings.tags.for_frame(spec.env_cfg.width, spec.env_cfg.height)))]
    return manifest


def run(spec: RunSpec, console: Console | None = None) -> list[EpisodeRecord]:
    """Run every task of `spec` not yet recorded in its run dir; returns the records written now.

    Raises RunError for a run that cannot start, KeyboardInterrupt after a clean stop on Ctrl-C/SIGTERM."""
    console = console or Console(stderr=True)
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    with RunDirLock(spec.run_dir):
        return _run_locked(spec, console)


def _run_locked(spec: RunSpec, console: Console) -> list[EpisodeRecord]:
    path = RunDir(spec.run_dir).episodes
    old_manifest, _ = read_manifest(spec.run_dir)
    if path.exists() and path.stat().st_size and not spec.resume:
        raise RunError(f"{spec.run_dir} already holds records and runner.resume=false; pick another hydra.run.dir")
    why = resume.incompatibility(old_manifest.resume_key if old_manifest else None,
                                 spec.manifest.resume_key if spec.manifest else None) if path.exists() else None
    if why:
        raise RunError(f"cannot resume {spec.run_dir}: {why}; pick another hydra.run.dir")
    state = resume.prepare(spec.run_dir, {t.task_id for t in spec.tasks})
    for line in state.superseded:
        console.print(f"[yellow]warning:[/] {line}; that task will be run again", soft_wrap=True)
    for line in state.rerun.values():
        console.print(f"{line}: run again; the new record will replace it", soft_wrap=True)
    todo = [t for t in spec.tasks if t.task_id not in state.done]
    if state.kept or state.superseded:
        console.print(f"resuming {spec.run_dir}: {len(state.done)} episodes already recorded, {len(todo)} to run",
                      soft_wrap=True)
    manifest = _session_manifest(spec, state, old_manifest)
    write_manifest(spec.run_dir, manifest)

    n = max(1, min(spec.workers, len(todo) or 1))
    new: list[EpisodeRecord] = []
    spent, budget_hit, interrupted, failed = 0.0, False, False, False
    replaced = 0  # kept error records replaced by their re-run's record
    errors = successes = restarts = 0  # running totals for the progress bar (no rescan per episode)
    t0 = time.monotonic()
    backend = make_backend(spec, n) if todo else None
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("SR {task.fields[sr]}"), TextColumn("err {task.fields[err]}"),
               TextColumn("restarts {task.fields[restarts]}"), TimeElapsedColumn())
    try:
        with sigterm_as_interrupt(), Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task(spec.model_name, total=len(todo), sr="-", err=0, restarts=0)
            pending = deque(todo)
            busy: set[int] = set()
            if backend is not None:
                backend.start()
                for wid in range(n):
                    if pending:
                        backend.submit(wid, pending.popleft())
                        busy.add(wid)
            while busy:
                assert backend is not None  # busy only holds workers of a started backend
                for out in backend.wait(0.2):
                    busy.discard(out.worker)
                    why = state.rerun.pop(out.record.task_id, None)
                    if why:
                        resume.replace_record(path, out.record, why)
                        replaced += 1
                    else:
                        append_record(path, out.record)
                    new.append(out.record)
                    spent = backend.spent_usd()  # every paid call so far, episodes in flight included
                    errors += out.record.status == "error"
                    successes += out.record.success
                    restarts += out.record.restarts
                    scored = len(new) - errors
                    progress.update(bar, advance=1, err=errors, restarts=restarts,
                                    sr=f"{successes / scored:.1%}" if scored else "-")
                    over = spec.max_cost_usd is not None and spent >= spec.max_cost_usd
                    if over and not budget_hit:
                        budget_hit = True  # no new episode starts; those in flight finish and are recorded
                        console.print(f"budget reached: ${spent:.4f} >= runner.max_cost_usd={spec.max_cost_usd}; "
                                      "stopping after the episodes in flight (run again to resume)")
                    if pending and not budget_hit:
                        backend.submit(out.worker, pending.popleft())
                        busy.add(out.worker)
    except KeyboardInterrupt:
        interrupted = True
        raise
    except BaseException:
        failed = True
        raise
    finally:
        notes = {}
        if backend is not None:
            backend.shutdown(abort=interrupted or failed)
            notes = backend.notes()
            spent = backend.spent_usd()  # also what episodes abandoned by Ctrl-C or a dead actor paid
        wall = round(time.monotonic() - t0, 2)
        old_cost, old_in, old_out = state.totals_in_file()
        session = replace(manifest.sessions[-1], ended=datetime.now(timezone.utc).isoformat(), wall_s=wall,
                          episodes_run=len(new), spent_usd=round(spent, 6), interrupted=interrupted,
                          stopped_by_budget=budget_hit)
        session.extra = {**session.extra, **notes}
        manifest.sessions[-1] = session
        manifest = replace(manifest, ended=session.ended, wall_s=wall,
                           stopped_by_budget=budget_hit, episodes_recorded=state.kept - replaced + len(new),
                           cost_usd=round(old_cost + sum(r.cost_usd for r in new), 6),
                           spent_usd=round(sum(s.spent_usd or 0.0 for s in manifest.sessions), 6),
                           tokens_in=old_in + sum(r.tokens_in for r in new),
                           tokens_out=old_out + sum(r.tokens_out for r in new))
        write_manifest(spec.run_dir, manifest)
    return new
