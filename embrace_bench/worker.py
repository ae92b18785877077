"""One worker: an engine (supervised), an env and an agent, running tasks one at a time.

The same class runs in a thread of the local backend and inside a Ray actor. Each task ends in exactly one
record: an engine that crashes, hangs or answers nonsense mid-episode is killed and relaunched and the
episode re-run from its start, at most `max_restarts` times; the agent replays the answers it already got
(response cache, or its per-episode memo with model.cache=false), so a re-run costs no second API call.
"""
from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass, replace
from typing import Callable

from embrace_bench.env.engines import Engine
from embrace_bench.env.launcher import EngineStartError
from embrace_bench.env.supervisor import EngineSupervisor
from embrace_bench.env.unreal_env import EnvConfig, EnvError
from embrace_bench.episode import EpisodeSettings, episode_record, run_episode
from embrace_bench.models.api import ModelCallError
from embrace_bench.models.base import Agent, AgentUnusable
from embrace_bench.records import ERROR_KINDS, EpisodeRecord, StepRecord
from embrace_bench.tasks.model import Task
from embrace_bench.unrealcv.protocol import EngineError

log = logging.getLogger(__name__)

# What a broken engine raises (GuardedEnv turns anything else from an env call into EnvError): the episode
# is re-run on a relaunched engine.
ENGINE_FAULTS = (EngineError, EnvError, EngineStartError)


class RunStopped(BaseException):
    """The run is being stopped (Ctrl-C): abandon the episode in flight; it is re-run on resume."""


@dataclass
class Outcome:
    """A task's one record (what the run spent is counted apart, as each call is paid: models/spend.py)."""

    record: EpisodeRecord
    worker: int = 0
    frames: dict[str, bytes] | None = None  # Ray backend: the episode's frames, for the driver to write
    log: bytes = b""  # Ray backend: engine log written since the last episode


def error_record(task: Task, model_name: str, s: EpisodeSettings, kind: str, message: str, *,
                 steps: list[StepRecord] | None = None, restarts: int = 0) -> EpisodeRecord:
    """The record of an episode that ended in an error of `kind` (records.ERROR_KINDS)."""
    if kind not in ERROR_KINDS:
        raise ValueError(f"error kind must be one of {', '.join(ERROR_KINDS)}, not {kind!r}")
    steps = steps or []
    return episode_record(task, model_name, s, steps, status="error", success=False, gde_cm=0.0, sspl=0.0,
                          n_steps=len(steps), error=message, error_kind=kind, restarts=restarts)


class EpisodeWorker:
    def __init__(self, wid: int, agent: Agent, make_engine: Callable[[int], Engine], env_cfg: EnvConfig,
                 settings: EpisodeSettings, model_name: str, *, request_timeout_s: float = 30.0,
                 max_restarts: int = 2, stop: threading.Event | None = None) -> None:
        # Tag pixel thresholds are given for 640x480 frames: scaled here, where every run path (CLI, in-process
        # spec, Ray actor) meets the frame size it renders at.
        settings = replace(settings, tags=settings.tags.for_frame(env_cfg.width, env_cfg.height))
        self.wid, self.agent, self.settings, self.model_name = wid, agent, settings, model_name
        self.max_restarts = max_restarts
        self.stop = stop or threading.Event()
        self.engines = EngineSupervisor(make_engine, wid, env_cfg, request_timeout_s)

    def run_task(self, task: Task) -> Outcome:
        s = self.settings
        failures: list[str] = []
        while True:
            if self.stop.is_set():
                raise RunStopped()
            steps: list[StepRecord] = []

            def on_step(step: StepRecord) -> None:
                steps.append(step)  # noqa: B023 -- called only within this attempt
                if self.stop.is_set():
                    raise RunStopped()

            if s.frames_dir is not None:  # frames of an abandoned attempt must not outlive it
                shutil.rmtree(s.frames_dir / task.task_id, ignore_errors=True)
            try:
                env = self.engines.ensure()
                record = run_episode(env, self.agent, task, self.model_name, s, on_step=on_step)
                record.restarts = len(failures)
            except ModelCallError as exc:  # the engine is fine; the model failed after all its retries
                log.warning("worker %d: %s ends with an error: %s", self.wid, task.task_id, exc)
                record = error_record(task, self.model_name, s, "model", f"model: {exc}", steps=steps,
                                      restarts=len(failures))
            except ENGINE_FAULTS as exc:
                if self.stop.is_set():
                    raise RunStopped() from None
                if isinstance(exc, EngineStartError) and self.engines.launches == 0:
                    raise  # this worker's engine never came up: a set-up problem, not a flaky engine
                failures.append(f"{exc.__class__.__name__}: {exc}")
                self.engines.discard()
                if len(failures) <= self.max_restarts:
                    log.warning("worker %d: engine failed during %s (%s); relaunching it and re-running the "
                                "episode from its start (restart %d of %d)", self.wid, task.task_id, failures[-1],
                                len(failures), self.max_restarts)
                    continue
                record = error_record(task, self.model_name, s, "engine",
                                      f"engine failed {len(failures)} times (env.max_restarts={self.max_restarts}): "
                                      + " | ".join(failures), steps=steps, restarts=self.max_restarts)
            except (RunStopped, KeyboardInterrupt, AgentUnusable):
                raise  # AgentUnusable: a set-up problem that would fail every episode; the run stops
            except Exception as exc:  # an adapter or agent bug: this episode is lost, the run is not
                log.exception("worker %d: %s failed", self.wid, task.task_id)
                record = error_record(task, self.model_name, s, "internal",
                                      f"internal: {exc.__class__.__name__}: {exc}",
                                      steps=steps, restarts=len(failures))
            return Outcome(record, self.wid)

    def close(self) -> None:
        self.engines.discard()
        self.agent.close()
