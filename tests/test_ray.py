"""runner.backend=ray on a local Ray instance: engines inside actors, records and frames streamed back to the
driver (the only writer of the run dir), an engine crash inside an actor recovered the same way."""
import pytest

from embrace_bench.world.faults import ENV_VAR
from runs import REPLAY, TIMING, by_task, lines, run_quiet, spec

ray = pytest.importorskip("ray")


def test_ray_backend_matches_local_and_recovers_an_engine_crash(tmp_path, monkeypatch, reference_run):
    monkeypatch.setenv(ENV_VAR, f"kill@100:{tmp_path / 'once'}")  # one engine, in one actor, dies mid-episode
    run_dir = tmp_path / "run"
    s = spec(run_dir, workers=2, backend="ray", ray={"address": None, "num_cpus_per_worker": 1, "local_num_cpus": 2})
    run_quiet(s)
    assert not ray.is_initialized()  # the local instance it started is shut down again
    recs = lines(run_dir)
    assert by_task(recs, TIMING + REPLAY) == reference_run[1]
    assert sum(r["restarts"] for r in recs) == 1 and (tmp_path / "once").exists()
    for r in recs:  # frames came back with each record; the driver wrote them
        frames = sorted(p.name for p in (run_dir / "frames" / r["task_id"]).iterdir())
        assert frames == [f"{i:03d}.png" for i in range(r["n_steps"] + 1)]
        ref_frames = sorted(p.name for p in (reference_run[0] / "frames" / r["task_id"]).iterdir())
        assert frames == ref_frames
        for f in frames:
            assert (run_dir / "frames" / r["task_id"] / f).read_bytes() == \
                (reference_run[0] / "frames" / r["task_id"] / f).read_bytes()
    logs = {p.name: p.read_text() for p in (run_dir / "logs").iterdir()}
    assert set(logs) == {"engine-0.log", "engine-1.log"}
    assert sum(t.count("embedded engine on 127.0.0.1:") for t in logs.values()) == 3  # 2 launches + 1 relaunch
    assert not (run_dir / "cache.sqlite").exists()  # a baseline agent never opens the run's response cache
