"""Engine faults mid-episode (offline, real engine processes): every task ends with exactly one record and
the records match an undisturbed run. Faults come from outside (kill -9) or from the engine's test-only
fault hook (world/faults.py: self-SIGKILL, SIGSTOP, bad frames, dropped connections)."""
import functools
import os
import signal

import pytest
from runs import REPLAY, TASKS, TIMING, by_task, lines, run_quiet, spec

from embrace_bench.baselines.heuristic import HeuristicAgent
from embrace_bench.world.faults import ENV_VAR


def _check(run_dir, reference, restarted=("id-0-000",)):
    recs = lines(run_dir)
    assert by_task(recs, TIMING + REPLAY) == reference[1]  # one record per task, same results
    assert {r["task_id"]: r["restarts"] for r in recs} == {t.task_id: int(t.task_id in restarted) for t in TASKS}
    return recs


@pytest.mark.parametrize("kind", ["badmagic", "garbage", "hugelen", "badid", "close", "kill"])
def test_engine_fault_mid_episode_relaunches_and_reruns(kind, tmp_path, monkeypatch, reference_run):
    # Request 100 falls in the first episode's third step (the launch probe and reset take about 70).
    monkeypatch.setenv(ENV_VAR, f"{kind}@100:{tmp_path / 'fault.once'}")
    out = run_quiet(spec(tmp_path / "run"))
    assert (tmp_path / "fault.once").exists()  # the fault really fired
    assert "restarts 1" in out
    _check(tmp_path / "run", reference_run)
    log = (tmp_path / "run" / "logs" / "engine-0.log").read_text()
    assert log.count("embrace_bench embedded engine on 127.0.0.1:") == 2  # launched, then relaunched


def test_engine_that_stops_answering_is_killed_after_timeout(tmp_path, monkeypatch, reference_run):
    monkeypatch.setenv(ENV_VAR, f"stop@100:{tmp_path / 'fault.once'}")  # the engine SIGSTOPs itself
    run_quiet(spec(tmp_path / "run", env={"timeout_s": 1.5}))
    recs = _check(tmp_path / "run", reference_run)
    assert recs[0]["restarts"] == 1


class _KillsItsEngine(HeuristicAgent):
    """Sends SIGKILL to its worker's engine process from outside at the 3rd step of the first attempt."""

    engines: list = []

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.calls = 0

    def act(self, task, history, reask=None):
        self.calls += 1
        if self.calls == 3:
            os.kill(self.engines[-1].proc.pid, signal.SIGKILL)
        return super().act(task, history, reask)


def test_engine_killed_with_sigkill_from_outside(tmp_path, reference_run):
    s = spec(tmp_path / "run")
    make = s.make_engines

    def make_engines(root):
        factory = make(root)

        def recorded(wid):
            e = factory(wid)
            _KillsItsEngine.engines.append(e)
            return e
        return recorded

    s.make_engines = make_engines
    s.make_agent = functools.partial(_KillsItsEngine, {"name": "heuristic"})
    run_quiet(s)
    _check(tmp_path / "run", reference_run)
    assert len(_KillsItsEngine.engines) == 2 and not any(e.alive() for e in _KillsItsEngine.engines)


def test_max_restarts_then_error_record_and_resume_reruns_it_once(tmp_path, monkeypatch, reference_run):
    # No once-file: every engine dies at its 100th request, so each episode fails on every relaunch.
    monkeypatch.setenv(ENV_VAR, "kill@100")
    run_dir = tmp_path / "run"
    two = TASKS[:2]
    run_quiet(spec(run_dir, tasks=two, env={"max_restarts": 1}))
    recs = lines(run_dir)
    assert [r["task_id"] for r in recs] == [t.task_id for t in two]  # the run went on after the first error
    assert all(r["status"] == "error" and r["restarts"] == 1 for r in recs)
    assert all("engine failed 2 times (env.max_restarts=1)" in r["error"] and r["error_kind"] == "engine"
               for r in recs)
    assert all(0 < r["n_steps"] < 8 for r in recs)  # the steps of the last attempt are kept as evidence

    monkeypatch.delenv(ENV_VAR)
    out = run_quiet(spec(run_dir, tasks=two))
    assert out.count("error record for") == 2
    after = by_task(lines(run_dir), TIMING + REPLAY)  # exactly one record per task
    assert after == {t.task_id: reference_run[1][t.task_id] for t in two}
    side = (run_dir / "episodes.superseded.jsonl").read_text().splitlines()
    assert len(side) == 2 and all('\\"status\\":\\"error\\"' in ln for ln in side)  # nothing recorded is lost


class _Broken(HeuristicAgent):
    def act(self, task, history, reask=None):
        if task.task_id == "id-1-000" and len(history.actions) == 2:
            return None.text  # an adapter bug: AttributeError mid-episode
        return super().act(task, history, reask)


def test_agent_bug_is_an_error_record_not_a_crash(tmp_path, reference_run):
    s = spec(tmp_path / "run")
    s.make_agent = functools.partial(_Broken, {"name": "heuristic"})
    run_quiet(s)
    recs = {r["task_id"]: r for r in lines(tmp_path / "run")}
    assert len(recs) == 4 and recs["id-1-000"]["status"] == "error"
    assert recs["id-1-000"]["error"].startswith("internal: AttributeError")
    assert recs["id-1-000"]["error_kind"] == "internal"
    assert all("error_kind" not in r for k, r in recs.items() if k != "id-1-000")  # only error records hold it
    others = {k: v for k, v in by_task(list(recs.values()), TIMING + REPLAY).items() if k != "id-1-000"}
    assert others == {k: v for k, v in reference_run[1].items() if k != "id-1-000"}
