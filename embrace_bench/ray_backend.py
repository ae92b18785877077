"""runner.backend=ray: each worker (engine + env + agent) lives in a Ray actor, on any node of a cluster.

- `ray.address` null starts a local Ray instance (no dashboard, on `ray.node_ip_address`, loopback by
  default: one node needs no network); "auto" or "ray://head:10001" attaches to a running cluster, whose
  nodes must have embrace_bench installed (and, for API models, their keys in the environment: keys are
  never shipped through Ray).
- With model.launch=true Ray is up before `vllm serve` starts, which listens on the driver node's address
  in the cluster (ray_session): the address every worker's node can reach, not each node's own loopback.
- Each worker actor reserves `ray.num_cpus_per_worker` CPUs and `ray.num_gpus_per_worker` GPUs (1 with
  env=unrealzoo: its engine renders there; Ray sets CUDA_VISIBLE_DEVICES for the actor and the engine
  inherits it). The engine binds to loopback on the actor's node and only the actor talks to it.
- The driver alone writes the run dir. Actors keep frames and engine logs in a node-local temp dir and send
  them back with each episode's record; the response cache (cache.sqlite) and the run-wide API limiter live
  in one service actor pinned to the driver's node, which the agents reach through small proxies; so does
  the run's spend ledger, which each paid model call reaches before the actor goes on, so the spend of an
  actor that dies mid-episode is counted.
- An actor that dies (its process killed, its node lost) is replaced and its episode re-run from the start
  on the new one, at most env.max_restarts times, like a crashed engine.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from embrace_bench.config_schema import RaySchema, with_defaults
from embrace_bench.models.limiter import AdaptiveLimiter
from embrace_bench.models.response_cache import SharedResponseCache
from embrace_bench.models.spend import SpendLedger
from embrace_bench.run_dir import FRAME_SUFFIX, RunDir
from embrace_bench.tasks.model import Task
from embrace_bench.worker import EpisodeWorker, Outcome, error_record

log = logging.getLogger(__name__)


class RunServices:
    """The run's response cache, API limiter and spend ledger, in the driver's node (a threaded Ray actor)."""

    def __init__(self, cache_path: str, cap: int, max_wait_s: float) -> None:
        self.cache = SharedResponseCache(Path(cache_path))
        self.limiter = AdaptiveLimiter(cap, max_wait_s=max_wait_s)
        self.spend = SpendLedger()

    def spend_add(self, usd: float) -> None:
        self.spend.add(usd)

    def spent_usd(self) -> float:
        return self.spend.total()

    def cache_get(self, key):
        return self.cache.get(key)

    def cache_put(self, key, model, reply) -> None:
        self.cache.put(key, model, reply)

    def acquire(self):
        return self.limiter.acquire()

    def release(self, lease, outcome: str = "ok", retry_after_s: float | None = None) -> None:
        self.limiter.release(lease, outcome, retry_after_s)

    def limiter_state(self) -> dict:
        return self.limiter.state()

    def close(self) -> None:
        self.cache.shutdown()


class RemoteCache:
    """ResponseCache's get/put, answered by the service actor."""

    def __init__(self, services) -> None:
        self.services = services

    def get(self, key):
        import ray

        return ray.get(self.services.cache_get.remote(key))

    def put(self, key, model, reply) -> None:
        import ray

        ray.get(self.services.cache_put.remote(key, model, reply))

    def close(self) -> None:
        pass


class RemoteLimiter:
    """AdaptiveLimiter's acquire/release, shared by every worker of the run through the service actor."""

    def __init__(self, services, max_wait_s: float) -> None:
        self.services, self.max_wait_s = services, max_wait_s

    def acquire(self):
        import ray

        return ray.get(self.services.acquire.remote())

    def release(self, lease, outcome: str = "ok", retry_after_s: float | None = None) -> None:
        self.services.release.remote(lease, outcome, retry_after_s)  # fire and forget: nothing to wait for


class RemoteSpend:
    """SpendLedger.add, answered by the service actor before the call returns: an actor that dies right after
    a paid call has already had it counted."""

    def __init__(self, services) -> None:
        self.services = services

    def add(self, usd: float) -> None:
        import ray

        ray.get(self.services.spend_add.remote(usd))


def on_assigned_gpus(make_engines, gpu_ids):
    """env=unrealzoo picks its GPU with -graphicsadapter=N, which CUDA_VISIBLE_DEVICES (what Ray sets for an
    actor) does not steer: point the engine factory (app.py's partial over the env group) at the GPUs Ray
    assigned to this actor."""
    env = make_engines.args[0] if isinstance(make_engines, functools.partial) and make_engines.args else None
    if not gpu_ids or env is None or env.get("kind") != "unrealzoo" or env.get("attach"):
        return make_engines
    from omegaconf import OmegaConf

    env = OmegaConf.create(OmegaConf.to_container(env, resolve=True))
    env.gpu = [int(g) for g in gpu_ids]
    return functools.partial(make_engines.func, env, *make_engines.args[1:], **make_engines.keywords)


class WorkerActor:
    """One EpisodeWorker in a Ray actor; frames and engine logs go back to the driver with each record."""

    def __init__(self, wid: int, spec, services) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"embrace_bench-worker{wid}-"))
        settings = replace(spec.settings, frames_dir=RunDir(self.dir).frames if spec.settings.frames_dir else None)
        agent = spec.make_agent(cache=RemoteCache(services), limiter=RemoteLimiter(services, spec.rate_limit_wait_s),
                                spend=RemoteSpend(services))
        import ray

        make_engines = on_assigned_gpus(spec.make_engines, ray.get_gpu_ids())
        self.worker = EpisodeWorker(wid, agent, make_engines(self.dir), spec.env_cfg, settings,
                                    spec.model_name, request_timeout_s=spec.request_timeout_s,
                                    max_restarts=spec.max_restarts)
        self.log_path = RunDir(self.dir).engine_log(wid)
        self.log_sent = 0

    def run_task(self, task: Task) -> Outcome:
        out = self.worker.run_task(task)
        frames_dir = self.worker.settings.frames_dir
        if frames_dir is not None:
            d = frames_dir / task.task_id
            out.frames = {p.name: p.read_bytes() for p in sorted(d.glob(f"*{FRAME_SUFFIX}"))} if d.is_dir() else {}
            shutil.rmtree(d, ignore_errors=True)
        if self.log_path.exists():
            with open(self.log_path, "rb") as f:
                f.seek(self.log_sent)
                out.log = f.read()
            self.log_sent += len(out.log)
        return out

    def node(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    def stop(self) -> None:
        """Called while run_task runs (the actor is threaded): abandon the episode, kill the engine."""
        self.worker.stop.set()
        self.worker.engines.kill()

    def close(self) -> None:
        self.worker.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _last_line(exc: BaseException) -> str:
    """The line of a Ray error that names the original exception (its message ends with the traceback)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1][:300] if lines else exc.__class__.__name__


def init_ray(cfg: dict, n: int) -> bool:
    """Attach to `ray.address` or start a local instance for n workers, unless Ray is up already; True when
    this call started it (its caller shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
    cfg = with_defaults(RaySchema, cfg)
    if cfg["address"]:
        ray.init(address=cfg["address"], **kwargs)
    else:
        per = float(cfg["num_cpus_per_worker"] or 0)
        cpus = cfg["local_num_cpus"] or max(os.cpu_count() or 1, math.ceil(n * per))
        ray.init(num_cpus=cpus, _node_ip_address=cfg["node_ip_address"] or "127.0.0.1", **kwargs)
    return True


@contextlib.contextmanager
def ray_session(cfg: dict, n: int):
    """Ray up around a whole run (a launched vLLM server included); yields the driver node's address in the
    cluster, where a server for every worker listens."""
    import ray

    started = init_ray(cfg, n)
    try:
        yield ray.util.get_node_ip_address()
    finally:
        if started:
            ray.shutdown()


class RayBackend:
    def __init__(self, spec, n: int) -> None:
        self.spec, self.n = spec, n
        self.cfg = with_defaults(RaySchema, dict(spec.ray or {}))
        self.started_ray = False
        self.actors: list = [None] * n
        self.inflight: dict = {}  # ObjectRef -> (worker id, task)
        self.failures: dict[str, list[str]] = {}  # task id -> actor deaths during it
        self.services = None
        self.init_s = 0.0
        self.limiter_at_end: dict | None = None  # the service actor's limiter, read as the run shuts down
        self.spent = 0.0  # the service actor's spend ledger as last read (the last time as the run shuts down)

    def _init_ray(self):
        import ray

        t0 = time.monotonic()
        self.started_ray = init_ray(self.cfg, self.n)
        self.init_s = time.monotonic() - t0
        return ray

    def start(self) -> None:
        ray = self._init_ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()
        services_cls = ray.remote(RunServices).options(
            num_cpus=0, max_concurrency=4 * self.n + 8,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=here, soft=False))
        self.services = services_cls.remote(str(RunDir(self.spec.run_dir).cache),
                                            self.spec.api_concurrency or self.n, self.spec.rate_limit_wait_s)
        for wid in range(self.n):
            self.actors[wid] = self._new_actor(wid)

    def _new_actor(self, wid: int):
        import ray

        gpus = self.cfg["num_gpus_per_worker"] or 0
        cls = ray.remote(WorkerActor).options(num_cpus=float(self.cfg["num_cpus_per_worker"] or 0),
                                              num_gpus=gpus, max_concurrency=2, name=None)
        return cls.remote(wid, replace(self.spec, tasks=[], manifest=None), self.services)

    def submit(self, wid: int, task: Task) -> None:
        ref = self.actors[wid].run_task.remote(task)
        self.inflight[ref] = (wid, task)

    def wait(self, timeout: float) -> list[Outcome]:
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        if not self.inflight:
            time.sleep(timeout)
            return []
        ready, _ = ray.wait(list(self.inflight), num_returns=1, timeout=timeout)
        outs = []
        for ref in ready:
            wid, task = self.inflight.pop(ref)
            try:
                out = ray.get(ref)
            except RayTaskError as exc:  # the worker raised (e.g. its engine never started): the run stops
                # with the worker's own exception, whose message is one line (the RayTaskError's holds the
                # remote traceback; it stays reachable as __cause__)
                cause = getattr(exc, "cause", None)
                raise (cause if isinstance(cause, BaseException) else exc.as_instanceof_cause()) from exc
            except RayActorError as exc:  # the actor process died: replace it, re-run the episode there
                if getattr(exc, "actor_init_failed", False):  # it could not even be built: every actor would fail
                    raise RuntimeError(f"worker {wid} could not start on its Ray node: {_last_line(exc)}") from None
                out = self._actor_died(wid, task, exc)
                if out is None:
                    continue
            outs.append(self._deliver(out))
        return outs

    def _actor_died(self, wid: int, task: Task, exc) -> Outcome | None:
        s = self.spec
        fails = self.failures.setdefault(task.task_id, [])
        fails.append(f"worker actor died: {str(exc).splitlines()[0][:200]}")
        log.warning("worker %d: its Ray actor died during %s; starting a new one", wid, task.task_id)
        self.actors[wid] = self._new_actor(wid)
        if len(fails) <= s.max_restarts:
            self.submit(wid, task)
            return None
        self.failures.pop(task.task_id)
        rec = error_record(task, s.model_name, s.settings, "worker", " | ".join(fails), restarts=s.max_restarts)
        return Outcome(rec, wid)

    def _deliver(self, out: Outcome) -> Outcome:
        """Write what the actor sent back into the run dir (the driver is its only writer)."""
        s = self.spec
        if out.frames is not None and s.settings.frames_dir is not None:
            d = s.settings.frames_dir / out.record.task_id
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True, exist_ok=True)
            for name, png in out.frames.items():
                (d / name).write_bytes(png)
        if out.log:
            log_path = RunDir(s.run_dir).engine_log(out.worker)
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "ab") as f:
                f.write(out.log)
        out.record.restarts += len(self.failures.pop(out.record.task_id, []))
        out.frames, out.log = None, b""
        return out

    def shutdown(self, abort: bool) -> None:
        import ray

        try:
            if abort:
                for a in self.actors:
                    if a is not None:
                        a.stop.remote()
            closing = [a.close.remote() for a in self.actors if a is not None]
            try:
                ray.wait(closing, num_returns=len(closing), timeout=5.0 if abort else 30.0)
            except Exception:
                pass
            if self.services is not None:
                self.spent_usd()
                self.limiter_at_end = ray.get(self.services.limiter_state.remote(), timeout=5)
                ray.get(self.services.close.remote(), timeout=5)
            for a in self.actors + [self.services]:
                if a is not None:
                    ray.kill(a)
        except Exception as exc:  # shutting down must never hide the run's own outcome
            log.warning("ray backend shutdown: %s", exc)
        finally:
            self.services = None  # spent_usd() keeps its last reading from here on
            if self.started_ray:
                ray.shutdown()

    def spent_usd(self) -> float:
        import ray

        if self.services is not None and ray.is_initialized():
            self.spent = ray.get(self.services.spent_usd.remote(), timeout=10)
        return self.spent

    def notes(self) -> dict:
        return {"ray_init_s": round(self.init_s, 2), "api_limiter": self.limiter_at_end}
