"""Which engine a run launches, per worker: `env.kind` -> a factory of unstarted engine handles.

Every engine handle has the same small surface (`start() -> self`, `stop()`, `alive()`, `host`, `port`,
`log_path`), so the runner launches, health-checks and restarts any engine the same way, and builds its
`UnrealEnv` from `env_config` (env/supervisor.py). `start()` waits until the engine answers and raises
EngineStartError (or OSError) when it cannot bring it up; `stop()` must end even a hung engine (escalate
to SIGKILL) and tolerate one that already died.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

from embrace_bench.actions import Magnitudes
from embrace_bench.env.unreal_env import EnvConfig

ENGINE_KINDS = ("embedded",)


class Engine(Protocol):
    host: str
    port: int
    log_path: Path | None

    def start(self) -> "Engine": ...

    def stop(self) -> None: ...

    def alive(self) -> bool: ...


def env_config(env) -> EnvConfig:
    """The `env:` config group as the UnrealEnv settings it implies."""
    return EnvConfig(width=env.width, height=env.height, fov=env.fov, mags=Magnitudes())


def engine_factory(env, run_dir: Path) -> Callable[[int], Engine]:
    """worker id -> an unstarted engine for the `env:` config group; ValueError names an unusable setting."""
    from embrace_bench.world.render import RENDERERS

    if env.kind not in ENGINE_KINDS:
        raise ValueError(f"env={env.kind} is not available yet; use one of: {', '.join(ENGINE_KINDS)}")
    if env.renderer not in RENDERERS:
        raise ValueError(f"env.renderer must be one of {', '.join(RENDERERS)}, not {env.renderer!r}")
    from embrace_bench.env.launcher import EmbeddedEngineProcess

    def make(wid: int) -> Engine:
        return EmbeddedEngineProcess(renderer=env.renderer, width=env.width, height=env.height, fov=env.fov,
                                     log_path=Path(run_dir) / "logs" / f"engine-{wid}.log",
                                     ready_timeout_s=env.ready_timeout_s)

    return make
