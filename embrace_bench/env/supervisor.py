"""One worker's engine kept usable: launched with the bounded readiness probe, health-checked between
episodes, killed and relaunched when it crashes, hangs or talks nonsense. Engine-agnostic: it only uses the
handle surface of env/engines.py (`start`, `stop`, `alive`, `host`, `port`, `log_path`)."""
from __future__ import annotations

import logging
import time
from typing import Callable

from embrace_bench.env.base import StepResult
from embrace_bench.env.client import UnrealCVClient
from embrace_bench.env.engines import Engine, make_env
from embrace_bench.env.launcher import EngineStartError
from embrace_bench.env.unreal_env import EnvConfig, EnvError, UnrealEnv
from embrace_bench.observation import Observation
from embrace_bench.tasks.model import Task
from embrace_bench.unrealcv.protocol import EngineError, is_error_reply

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 5.0  # a status request between episodes; an idle engine answers in milliseconds


class GuardedEnv:
    """An Env (env/base.py) around an UnrealEnv, whose every failure is an EnvError or EngineError: a malformed
    reply that trips the parsing deep inside (a ValueError, an IndexError) means a broken engine, never a
    crashed runner."""

    def __init__(self, env: UnrealEnv) -> None:
        self.inner = env

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except (EngineError, EnvError):
            raise
        except Exception as exc:
            raise EnvError(f"unusable engine reply ({exc.__class__.__name__}: {exc})") from exc

    def reset(self, task: Task) -> Observation:
        return self._call(self.inner.reset, task)

    def step(self, action: str) -> StepResult:
        return self._call(self.inner.step, action)

    def locate(self, names: list[str]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        return self._call(self.inner.locate, names)

    @property
    def client(self) -> UnrealCVClient:
        return self.inner.client

    def close(self) -> None:
        self.inner.close()


class EngineSupervisor:
    def __init__(self, make_engine: Callable[[int], Engine], wid: int, env_cfg: EnvConfig,
                 request_timeout_s: float = 30.0) -> None:
        self.make_engine, self.wid, self.env_cfg = make_engine, wid, env_cfg
        self.request_timeout_s = request_timeout_s
        self.engine: Engine | None = None
        self.env: GuardedEnv | None = None
        self.launches = 0  # engines that came up
        self.last_launch_s = 0.0  # how long the last launch took, readiness probe and connect included

    def ensure(self) -> GuardedEnv:
        """A usable env: launch the engine if there is none; otherwise check it and relaunch it if unhealthy."""
        if self.env is not None:
            problem = self.health()
            if problem is None:
                return self.env
            log.warning("worker %d: engine unhealthy between episodes (%s); relaunching", self.wid, problem)
            self.discard()
        return self._launch()

    def health(self) -> str | None:
        """None when the engine process is alive and answers a status request in time, else what is wrong."""
        if self.engine is None or self.env is None:
            return "no engine"
        if not self.engine.alive():
            return "the engine process has exited"
        try:
            timeout = min(HEALTH_TIMEOUT_S, self.request_timeout_s)
            reply = self.env.client.request("vget /unrealcv/status", timeout=timeout)
        except EngineError as exc:
            return f"no answer to a status request ({exc})"
        if not isinstance(reply, str) or is_error_reply(reply):
            return f"status request answered {str(reply)[:60]!r}"
        return None

    def _launch(self) -> GuardedEnv:
        t0 = time.monotonic()
        engine = self.make_engine(self.wid)
        try:
            self.engine = engine.start()  # a start that fails cleans up after itself (EngineStartError)
        except OSError as exc:  # no such binary, no log file, ...
            raise EngineStartError(f"cannot launch the engine: {exc}") from exc
        try:
            client = UnrealCVClient(engine.host, engine.port, timeout=self.request_timeout_s).connect()
        except BaseException:
            self.discard()
            raise
        self.env = GuardedEnv(make_env(client, self.env_cfg))
        self.launches += 1
        self.last_launch_s = time.monotonic() - t0
        return self.env

    def discard(self) -> None:
        """Close the connection and stop the engine (a hung one is killed: stop escalates to SIGKILL)."""
        env, engine, self.env, self.engine = self.env, self.engine, None, None
        if env is not None:
            env.close()
        if engine is not None:
            try:
                engine.stop()
            except Exception as exc:  # best effort: the process may already be gone
                log.warning("worker %d: stopping the engine failed: %s", self.wid, exc)

    def kill(self) -> None:
        """From another thread (Ctrl-C): stop the engine process without touching the connection, which the
        worker thread may be using; its request then fails at once and the worker winds down."""
        engine = self.engine
        if engine is not None:
            try:
                engine.stop()
            except Exception:
                pass
