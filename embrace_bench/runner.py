"""The closed-loop runner: one engine per worker, one task queue, records appended as episodes end."""
from __future__ import annotations

import json
import logging
import platform
import queue
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from embrace_bench import __version__
from embrace_bench.env.client import UnrealCVClient
from embrace_bench.env.engines import Engine
from embrace_bench.env.protocol import EngineError
from embrace_bench.env.unreal_env import EnvConfig, EnvError, UnrealEnv
from embrace_bench.episode import EpisodeSettings, run_episode, task_info, with_tags
from embrace_bench.models.api import ModelCallError
from embrace_bench.models.base import Agent
from embrace_bench.records import EpisodeRecord, append_record, read_records
from embrace_bench.tasks.model import Task

log = logging.getLogger(__name__)
EPISODES = "episodes.jsonl"


@dataclass
class RunSpec:
    run_dir: Path
    tasks: list[Task]
    model_name: str
    make_agent: callable  # () -> Agent, one per worker
    make_engine: callable  # worker id -> an unstarted Engine (env/engines.py)
    workers: int = 1
    settings: EpisodeSettings = None
    env_cfg: EnvConfig = None
    request_timeout_s: float = 30.0
    max_cost_usd: float | None = None  # stop starting episodes once the run has spent this much
    manifest: dict | None = None


def git_sha() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def write_manifest(run_dir: Path, manifest: dict) -> None:
    tmp = run_dir / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    tmp.replace(run_dir / "manifest.json")  # atomic: a crash never leaves half a manifest


class _Budget:
    """Spend shared by the workers, checked before each new episode so a run never starts one past it."""

    def __init__(self, limit: float | None) -> None:
        self.limit, self.spent = limit, 0.0
        self._lock = threading.Lock()

    def add(self, usd: float) -> None:
        with self._lock:
            self.spent += usd

    def exceeded(self) -> bool:
        with self._lock:
            return self.limit is not None and self.spent >= self.limit


class _Worker(threading.Thread):
    """Owns one engine process, its client and env, and one agent; pulls tasks until the queue is empty."""

    def __init__(self, wid: int, spec: RunSpec, tasks: queue.Queue, results: queue.Queue, budget: _Budget) -> None:
        super().__init__(name=f"worker-{wid}", daemon=True)
        self.wid, self.spec, self.tasks, self.results, self.budget = wid, spec, tasks, results, budget
        self.engine: Engine | None = None
        self.env: UnrealEnv | None = None
        self.stop = threading.Event()

    def _start_engine(self) -> None:
        s = self.spec
        self.engine = s.make_engine(self.wid).start()
        client = UnrealCVClient(self.engine.host, self.engine.port, timeout=s.request_timeout_s).connect()
        self.env = UnrealEnv(client, s.env_cfg)

    def _stop_engine(self) -> None:
        if self.env:
            self.env.close()
        if self.engine:
            self.engine.stop()
        self.env = self.engine = None

    def run(self) -> None:
        agent: Agent | None = None
        try:
            agent = self.spec.make_agent()
            while not self.stop.is_set() and not self.budget.exceeded():
                try:
                    task = self.tasks.get_nowait()
                except queue.Empty:
                    return
                record = self._episode(agent, task)
                self.budget.add(record.cost_usd)
                self.results.put(record)
        except BaseException as exc:  # a worker that cannot start reports it instead of dying silently
            self.results.put(exc)
        finally:
            self._stop_engine()
            if agent:
                agent.close()

    def _episode(self, agent: Agent, task: Task) -> EpisodeRecord:
        s = self.spec
        try:
            if self.env is None:
                self._start_engine()
            return run_episode(self.env, agent, task, s.model_name, s.settings)
        except (EngineError, EnvError, OSError, ModelCallError) as exc:
            # The engine or the model failed for good: record the error (a resume retries it) and go on,
            # with a fresh engine in case the old one is the culprit.
            log.warning("episode %s failed: %s", task.task_id, exc)
            if not isinstance(exc, ModelCallError):
                self._stop_engine()
            return with_tags(EpisodeRecord(
                task_id=task.task_id, type=task.Type, split=task.split, map=task.map, model=s.model_name,
                status="error", success=False, gde_cm=0.0, sspl=0.0, n_steps=0, s_opt=task.s_opt,
                task=task_info(task, s.settings.success_radius_cm), error=f"{exc.__class__.__name__}: {exc}"),
                s.settings.tags)


def finished_ids(run_dir: Path, console: Console) -> set[str]:
    path = run_dir / EPISODES
    if not path.exists():
        return set()
    records, problems = read_records(path)
    for p in problems:
        console.print(f"[yellow]warning:[/] {p}; that episode will be run again")
    return {r.task_id for r in records if r.status != "error"}


def run(spec: RunSpec, console: Console | None = None) -> list[EpisodeRecord]:
    console = console or Console(stderr=True)
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    done = finished_ids(spec.run_dir, console)
    todo = [t for t in spec.tasks if t.task_id not in done]
    if done:
        console.print(f"resuming {spec.run_dir}: {len(done)} episodes already recorded, {len(todo)} to run")
    manifest = dict(spec.manifest or {})
    manifest.update(harness_version=__version__, git_sha=git_sha(), host=platform.node(),
                    python=platform.python_version(), started=datetime.now(timezone.utc).isoformat(),
                    n_tasks=len(spec.tasks), max_steps=spec.settings.max_steps, ended=None)
    write_manifest(spec.run_dir, manifest)

    tasks: queue.Queue = queue.Queue()
    for t in todo:
        tasks.put(t)
    results: queue.Queue = queue.Queue()
    budget = _Budget(spec.max_cost_usd)
    workers = [_Worker(i, spec, tasks, results, budget) for i in range(max(1, min(spec.workers, len(todo) or 1)))]
    new: list[EpisodeRecord] = []
    n_success = 0
    budget_hit = False
    t0 = time.monotonic()
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("SR {task.fields[sr]}"), TextColumn("err {task.fields[err]}"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task(spec.model_name, total=len(todo), sr="-", err=0)
            for w in workers:
                w.start()
            while any(w.is_alive() for w in workers) or not results.empty():
                try:
                    item = results.get(timeout=0.2)
                except queue.Empty:
                    continue
                if isinstance(item, BaseException):
                    raise item
                append_record(spec.run_dir / EPISODES, item)
                new.append(item)
                n_success += item.success
                n_err = sum(r.status == "error" for r in new)
                scored = len(new) - n_err
                progress.update(bar, advance=1, sr=f"{n_success / scored:.1%}" if scored else "-", err=n_err)
                if budget.exceeded() and not budget_hit:
                    budget_hit = True  # workers start no new episode; those in flight finish and are recorded
                    console.print(f"budget reached: ${budget.spent:.4f} >= runner.max_cost_usd="
                                  f"{spec.max_cost_usd}; stopping after the episodes in flight (run again to resume)")
    finally:
        for w in workers:
            w.stop.set()
        for w in workers:
            w.join(timeout=10)
        manifest.update(ended=datetime.now(timezone.utc).isoformat(), wall_s=round(time.monotonic() - t0, 2),
                        stopped_by_budget=budget_hit,
                        episodes_recorded=len(done) + len(new),
                        cost_usd=round(sum(r.cost_usd for r in new), 6),
                        tokens_in=sum(r.tokens_in for r in new), tokens_out=sum(r.tokens_out for r in new))
        write_manifest(spec.run_dir, manifest)
    return new
