"""Which engine a run launches, per worker: `env.kind` -> a factory of unstarted engine handles.

Every engine handle has the same small surface (`start() -> self`, `stop()`, `alive()`, `host`, `port`,
`log_path`), so the runner launches, health-checks and restarts any engine the same way, and builds its
`UnrealEnv` from `env_config` (env/supervisor.py). `start()` waits until the engine answers and raises
EngineStartError (or OSError) when it cannot bring it up; `stop()` must end even a hung engine (escalate
to SIGKILL) and tolerate one that already died.
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Callable, Protocol

from embrace_bench.actions import Magnitudes
from embrace_bench.env.release_env import ReleaseEnv
from embrace_bench.env.unreal_env import EnvConfig, UnrealEnv
from embrace_bench.run_dir import RunDir
from embrace_bench.world.launch import check_renderer

ENGINE_KINDS = ("embedded", "unrealzoo")


class Engine(Protocol):
    host: str
    log_path: Path | None

    @property
    def port(self) -> int:
        """The port it serves; engines that pick a free one at start() raise RuntimeError before then."""
        ...

    def start(self) -> "Engine": ...

    def stop(self) -> None: ...

    def alive(self) -> bool: ...


def _plain(value):
    """OmegaConf containers -> Python lists/dicts (EnvConfig is a plain dataclass)."""
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ListConfig":
        return [_plain(v) for v in value]
    return value


def env_config(env) -> EnvConfig:
    """The `env:` config group as the UnrealEnv settings it implies (keys the group does not set keep their
    defaults, which are the embedded world's)."""
    given = {f.name: _plain(env[f.name]) for f in fields(EnvConfig) if f.name in env and f.name != "mags"}
    for key in ("cam_offset", "setup_commands"):
        if key in given:
            given[key] = tuple(given[key])
    mags = Magnitudes(**_plain(env["magnitudes"])) if "magnitudes" in env else Magnitudes()
    return EnvConfig(**given, mags=mags)


def make_env(client, cfg: EnvConfig) -> UnrealEnv:
    """The env for `cfg.protocol`: the release's command sequences, or one set_move cycle per magnitude."""
    return (ReleaseEnv if cfg.protocol == "release" else UnrealEnv)(client, cfg)


def _gpus(value) -> list[int]:
    values = _plain(value) if isinstance(_plain(value), list) else [value]
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"env.gpu must be a GPU index or a list of them, not {_plain(value)!r}") from None


def engine_factory(env, run_dir: Path, workers: int = 1) -> Callable[[int], Engine]:
    """worker id -> an unstarted engine for the `env:` config group; ValueError names an unusable setting."""
    if env.kind not in ENGINE_KINDS:
        raise ValueError(f"env={env.kind} is not available; use one of: {', '.join(ENGINE_KINDS)}")
    env_config(env)  # unusable adapter settings fail here, before any engine starts
    log = RunDir(run_dir).engine_log
    if env.kind == "unrealzoo":
        return _unrealzoo_factory(env, log, workers)
    check_renderer(env.renderer)
    from embrace_bench.env.launcher import EmbeddedEngineProcess

    def make(wid: int) -> Engine:
        return EmbeddedEngineProcess(renderer=env.renderer, width=env.width, height=env.height, fov=env.fov,
                                     log_path=log(wid), ready_timeout_s=env.ready_timeout_s)

    return make


def _unrealzoo_factory(env, log, workers: int) -> Callable[[int], Engine]:
    from embrace_bench.env.unrealzoo_engines import AttachedEngine, UnrealZooProcess, check_binary, parse_attach

    if env.attach:
        addrs = parse_attach(env.attach)
        if workers > len(addrs):  # UnrealCV serves one client at a time: one engine per worker
            raise ValueError(f"env.attach names {len(addrs)} engine(s) but runner.workers={workers}; "
                             "give one host:port per worker")
        return lambda wid: AttachedEngine(*addrs[wid], ready_timeout_s=env.ready_timeout_s)
    binary = check_binary(env.binary)
    gpus = _gpus(env.gpu)
    ini = Path(env.unrealcv_ini) if env.unrealcv_ini else None

    def make(wid: int) -> Engine:
        return UnrealZooProcess(binary, width=env.width, height=env.height, fov=env.fov, gpu=gpus[wid % len(gpus)],
                                offscreen=env.offscreen, extra_args=list(env.extra_args), unrealcv_ini=ini,
                                log_path=log(wid), ready_timeout_s=env.ready_timeout_s,
                                engine_config=bool(env.get("engine_config", True)))

    return make
