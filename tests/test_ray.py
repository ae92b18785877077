"""runner.backend=ray on a local Ray instance: engines inside actors, records and frames streamed back to the
driver (the only writer of the run dir); an engine crash inside an actor and the death of an actor itself
are both recovered by re-running the episode, and what a dead actor paid for is still counted."""
import functools
import json
import os
import sys
from pathlib import Path

import pytest
from runs import REPLAY, TASKS, TIMING, by_task, lines, run_quiet, spec

from embrace_bench.baselines.heuristic import HeuristicAgent
from embrace_bench.models.prompted import PromptedAgent, RawReply
from embrace_bench.world.faults import ENV_VAR

ray = pytest.importorskip("ray")
LOCAL_RAY = {"address": None, "num_cpus_per_worker": 1, "local_num_cpus": 2}  # a local instance per run


class _ActorDiesOnce(HeuristicAgent):
    """Ends its own (actor) process mid-episode once, as a lost node would."""

    def __init__(self, cfg=None, seed=0, once="", **context):
        super().__init__(cfg, seed)
        self.once = once

    def act(self, task, history, reask=None):
        if task.task_id == "id-2-000" and len(history.actions) == 2 and not os.path.exists(self.once):
            open(self.once, "w").close()
            os._exit(1)
        return super().act(task, history, reask)


def test_ray_backend_matches_local_and_recovers_crashes(tmp_path, monkeypatch, reference_run):
    monkeypatch.setenv(ENV_VAR, f"kill@100:{tmp_path / 'once'}")  # one engine, in one actor, dies mid-episode
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # actors cannot import the tests folder
    run_dir = tmp_path / "run"
    s = spec(run_dir, workers=2, backend="ray", ray=LOCAL_RAY)
    s.make_agent = functools.partial(_ActorDiesOnce, {"name": "heuristic"}, once=str(tmp_path / "actor.once"))
    run_quiet(s)
    assert not ray.is_initialized()  # the local instance it started is shut down again
    recs = lines(run_dir)
    assert by_task(recs, TIMING + REPLAY) == reference_run[1]
    assert (tmp_path / "once").exists() and (tmp_path / "actor.once").exists()
    assert {r["task_id"]: r["restarts"] for r in recs}["id-2-000"] == 1 and sum(r["restarts"] for r in recs) == 2
    for r in recs:  # frames came back with each record; the driver wrote them
        frames = sorted(p.name for p in (run_dir / "frames" / r["task_id"]).iterdir())
        assert frames == [f"{i:03d}.png" for i in range(r["n_steps"] + 1)]
        for f in frames:
            assert (run_dir / "frames" / r["task_id"] / f).read_bytes() == \
                (reference_run[0] / "frames" / r["task_id"] / f).read_bytes()
    logs = {p.name: p.read_text() for p in (run_dir / "logs").iterdir()}
    assert set(logs) == {"engine-0.log", "engine-1.log"}
    assert sum(t.count("embedded engine on 127.0.0.1:") for t in logs.values()) >= 3  # launches + relaunch
    assert not (run_dir / "cache.sqlite").exists()  # a baseline agent never opens the run's response cache


def test_unrealzoo_engines_in_ray_actors_use_the_gpu_ray_assigned(tmp_path):
    from omegaconf import OmegaConf

    from embrace_bench.env.engines import engine_factory
    from embrace_bench.ray_backend import on_assigned_gpus

    binary = tmp_path / "UnrealZoo.sh"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    env = OmegaConf.load(Path(__file__).parent.parent / "embrace_bench" / "conf" / "env" / "unrealzoo.yaml")
    env.binary, env.gpu, env.unrealcv_ini = str(binary), 0, str(tmp_path / "unrealcv.ini")
    make = on_assigned_gpus(functools.partial(engine_factory, env, workers=2), ["3"])
    assert make(tmp_path)(1).gpu == 3  # -graphicsadapter=3 whatever the worker id
    embedded = functools.partial(engine_factory, OmegaConf.create({"kind": "embedded"}))
    assert on_assigned_gpus(embedded, ["3"]) is embedded


class _NoKeyOnThisNode(HeuristicAgent):
    def __init__(self, cfg=None, seed=0, **context):
        raise ValueError("OPENAI_API_KEY is not set on this node")


def test_a_worker_actor_that_cannot_be_built_stops_the_run(tmp_path):
    # As with local workers: a set-up problem stops the run, not one error record per task after retries.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    s = spec(tmp_path / "run", backend="ray", ray=LOCAL_RAY)
    s.make_agent = functools.partial(_NoKeyOnThisNode, {"name": "heuristic"})
    with pytest.raises(RuntimeError, match="worker 0 could not start on its Ray node: ValueError: OPENAI_API_KEY"):
        run_quiet(s)
    assert not (tmp_path / "run" / "episodes.jsonl").exists() and not ray.is_initialized()


class _WeightsMissing(HeuristicAgent):
    def act(self, task, history, reask=None):
        from embrace_bench.models.base import AgentUnusable

        raise AgentUnusable("could not load model.path=/nowhere: no weights")


def test_a_worker_error_in_an_actor_reaches_the_driver_as_itself(tmp_path):
    # The CLI prints the run's error as one line: the worker's own exception, not Ray's remote traceback.
    from embrace_bench.models.base import AgentUnusable

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    s = spec(tmp_path / "run", backend="ray", ray=LOCAL_RAY)
    s.make_agent = functools.partial(_WeightsMissing, {"name": "heuristic"})
    with pytest.raises(AgentUnusable) as info:
        run_quiet(s)
    assert str(info.value) == "could not load model.path=/nowhere: no weights"


class _PaidDiesOnce(PromptedAgent):
    """A paid model ($0.001 a call: 1000 tokens in at $1/Mtok) that notes each call it pays for in a file and
    ends its actor process once, in the middle of the first task, after two paid calls."""

    def __init__(self, cfg=None, seed=0, calls="", once="", die_in="", **context):
        super().__init__({"name": "paid", "price_per_mtok_in": 1.0}, seed, **context)
        self.calls, self.once, self.die_in = calls, once, die_in

    def act(self, task, history, reask=None):
        if task.task_id == self.die_in and len(history.actions) == 2 and not os.path.exists(self.once):
            open(self.once, "w").close()
            os._exit(1)
        return super().act(task, history, reask)

    def _complete(self, request, key):
        with open(self.calls, "a") as f:
            f.write(f"{key}\n")
        return RawReply("<think>go</think><action>MoveForward</action>", tokens_in=1000)


def test_the_spend_of_a_ray_actor_that_dies_is_counted(tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    run_dir, calls = tmp_path / "run", tmp_path / "calls"
    s = spec(run_dir, backend="ray", ray=LOCAL_RAY, tasks=TASKS[:2])
    s.make_agent = functools.partial(_PaidDiesOnce, calls=str(calls), once=str(tmp_path / "once"),
                                     die_in=TASKS[0].task_id)
    run_quiet(s)
    paid = len(calls.read_text().splitlines())
    recs = lines(run_dir)
    assert (tmp_path / "once").exists() and [r["restarts"] for r in recs] == [1, 0]
    # The re-run on a new actor replayed the dead one's two answers from the run's cache, at no cost: the
    # records hold every paid call but those two, and the manifest's spend holds them all.
    assert round(sum(r["cost_usd"] for r in recs), 6) == round((paid - 2) * 0.001, 6)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["spent_usd"] == manifest["sessions"][-1]["spent_usd"] == round(paid * 0.001, 6)
