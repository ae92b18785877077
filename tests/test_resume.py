"""Resume: finished episodes are skipped, truncated or error records are re-run, no task is ever recorded
twice, nothing recorded is lost, Ctrl-C stops cleanly with a resume hint (exit 130)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runs import REPLAY, TIMING, by_task, lines, run_quiet, spec

from embrace_bench import resume
from embrace_bench.run_dir import RunDir
from embrace_bench.runner import RunDirLock, RunError
from embrace_bench.world.faults import ENV_VAR

ROOT = Path(__file__).resolve().parent.parent


def _rec(task_id, status="finished"):
    from embrace_bench.records import EpisodeRecord, TaskInfo

    r = EpisodeRecord(task_id=task_id, type="0", split="id", map="m", model="x", status=status, success=False,
                      gde_cm=1.0, sspl=0.0, n_steps=0, s_opt=1, task=TaskInfo("go", [[0] * 6], ["a"]), cost_usd=0.5)
    return json.dumps(r.to_json())


def test_prepare_keeps_one_record_per_task_and_loses_nothing(tmp_path):
    path = tmp_path / "episodes.jsonl"
    text = "\n".join([_rec("a"), _rec("b", "error"), '{"task_id": "c", "garb', _rec("a"), _rec("d", "error"),
                      _rec("c")])  # no trailing newline: the last record is complete all the same
    path.write_text(text)
    state = resume.prepare(tmp_path, attempt={"a", "b", "c"})
    # b's error record stays until its re-run replaces it; its cost is not counted as kept
    assert state.done == {"a", "c"} and state.kept == 4 and state.kept_cost == 1.5 and set(state.rerun) == {"b"}
    assert len(state.superseded) == 2  # the garbage line, a's second record
    assert state.totals_in_file()[0] == 2.0  # until b's re-run replaces it, its record is in the file's totals
    kept = [json.loads(ln)["task_id"] for ln in path.read_text().splitlines()]
    assert kept == ["a", "b", "d", "c"]  # d's error stays too: this run does not attempt d
    assert path.read_text().endswith("\n")
    side = [json.loads(ln) for ln in RunDir(tmp_path).superseded.read_text().splitlines()]
    assert [s["line_no"] for s in side] == [3, 4] and side[0]["line"] == '{"task_id": "c", "garb'
    assert "unreadable record" in side[0]["reason"] and "second record for a" in side[1]["reason"]
    before = path.read_bytes()
    again = resume.prepare(tmp_path, attempt={"a", "b", "c"})  # idempotent: nothing more to supersede
    assert again.superseded == [] and path.read_bytes() == before

    from embrace_bench.records import EpisodeRecord
    b_error = path.read_text().splitlines()[1]
    resume.replace_record(path, EpisodeRecord.from_json(json.loads(_rec("b"))), state.rerun.pop("b"))
    assert state.totals_in_file()[0] == 1.5  # the runner pops a replaced record; the new one is counted as new
    after = [json.loads(ln) for ln in path.read_text().splitlines()]
    assert [(r["task_id"], r["status"]) for r in after] == [("a", "finished"), ("d", "error"), ("c", "finished"),
                                                            ("b", "finished")]
    side = [json.loads(ln) for ln in RunDir(tmp_path).superseded.read_text().splitlines()]
    assert side[-1]["line"] == b_error and "replaced by its re-run" in side[-1]["reason"]  # nothing is lost


def test_a_real_record_after_an_error_record_wins(tmp_path):
    path = tmp_path / "episodes.jsonl"
    path.write_text("\n".join([_rec("a", "error"), _rec("b"), _rec("a"), _rec("b", "error")]) + "\n")
    state = resume.prepare(tmp_path, attempt={"a", "b"})
    assert state.done == {"a", "b"} and state.rerun == {} and state.kept == 2  # nothing to re-run
    assert [(json.loads(ln)["task_id"], json.loads(ln)["status"]) for ln in path.read_text().splitlines()] == [
        ("b", "finished"), ("a", "finished")]
    side = [json.loads(ln) for ln in RunDir(tmp_path).superseded.read_text().splitlines()]
    assert [(s["line_no"], s["reason"]) for s in side] == [(1, "error record for a"), (4, "second record for b")]


def test_truncated_last_line_is_reported_and_rerun(tmp_path, reference_run):
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run[0], run_dir)
    path = run_dir / "episodes.jsonl"
    data = path.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    cut = last_start + (len(data) - last_start) // 2
    path.write_bytes(data[:cut])  # a crash in the middle of writing the last record
    lost = json.loads(data[last_start:])["task_id"]
    out = run_quiet(spec(run_dir))
    assert "truncated record" in out and "3 episodes already recorded, 1 to run" in out
    recs = lines(run_dir)
    assert recs[-1]["task_id"] == lost
    assert by_task(recs, TIMING + REPLAY) == reference_run[1]
    side = json.loads((run_dir / resume.SUPERSEDED).read_text())
    assert side["line"].encode() == data[last_start:cut] and side["reason"].startswith("truncated")


def test_finished_run_resumes_to_nothing(tmp_path, reference_run):
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run[0], run_dir)
    before = (run_dir / "episodes.jsonl").read_bytes()
    out = run_quiet(spec(run_dir))
    assert "4 episodes already recorded, 0 to run" in out
    assert (run_dir / "episodes.jsonl").read_bytes() == before
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["episodes_recorded"] == 4 and len(manifest["sessions"]) == 2


def test_a_run_dir_is_never_shared_or_mixed(tmp_path, reference_run):
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run[0], run_dir)
    with RunDirLock(run_dir), pytest.raises(RunError, match="in use by another run"):
        run_quiet(spec(run_dir))
    with pytest.raises(RunError, match="runner.resume=false"):
        run_quiet(spec(run_dir, resume=False))
    old = json.loads((run_dir / "manifest.json").read_text())
    new = {"resume_key": {**old.get("resume_key", {}), "model": {"adapter": "random", "name": "random"}}}
    old["resume_key"] = {"model": {"adapter": "heuristic", "name": "heuristic"}, "max_steps": 8}
    new["resume_key"]["max_steps"] = 8
    assert resume.incompatibility(old["resume_key"], new["resume_key"]) == "model.adapter was 'heuristic' there and is 'random' now"


def _engines_logging_to(run_dir) -> list[int]:
    """Live processes whose stdout is an engine log of `run_dir`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/fd/1").startswith(str(run_dir / "logs")):
                found.append(int(pid))
        except OSError:
            pass
    return found


def _cli(run_dir, env=None, limit=4):
    args = [sys.executable, "-m", "embrace_bench", f"suite.limit={limit}", "env.renderer=numpy", "env.width=96",
            "env.height=72", "runner.max_steps=8", f"hydra.run.dir={run_dir}"]
    return subprocess.Popen(args, cwd=ROOT, env=env or dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_ctrl_c_mid_run_then_resume(tmp_path, reference_run):
    run_dir = tmp_path / "run"
    # The engine hangs (SIGSTOP) in the second episode, so Ctrl-C lands while a request is in flight.
    env = dict(os.environ, **{ENV_VAR: f"stop@220:{tmp_path / 'once'}"})
    p = _cli(run_dir, env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (tmp_path / "once").exists():
        time.sleep(0.1)
    assert (tmp_path / "once").exists(), "the engine never reached the fault"
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err[-2000:]
    assert "interrupted" in err and "python -m embrace_bench suite.limit=4" in err
    assert f"hydra.run.dir={run_dir}" in err
    assert _engines_logging_to(run_dir) == []  # the hung engine was killed, none left behind
    done = lines(run_dir)
    assert len(done) == 1  # the finished episode was kept; the one in flight was not recorded
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["sessions"][-1]["interrupted"] is True

    p = _cli(run_dir)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err[-2000:]
    assert "1 episodes already recorded, 3 to run" in err
    assert by_task(lines(run_dir), TIMING + REPLAY) == reference_run[1]


def test_a_manifest_from_before_the_embedded_env_keys_still_resumes(tmp_path):
    """Runs recorded before env=embedded stated the adapter's settings (agent_name, step_s, ...) have a shorter
    `env` in their manifest: resuming one is not refused, runs nothing twice, and keeps the old sessions."""
    run_dir = tmp_path / "run"
    _, err = (p := _cli(run_dir, limit=2)).communicate(timeout=300)
    assert p.returncode == 0, err[-2000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["env"]["agent_name"] == "EmbraceAgent" and manifest["env"]["protocol"] == "magnitudes"
    old_keys = ("kind", "renderer", "width", "height", "fov", "ready_timeout_s", "timeout_s", "max_restarts")
    for node in (manifest["env"], manifest["config"]["env"]):
        for k in set(node) - set(old_keys):
            del node[k]
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    before = (run_dir / "episodes.jsonl").read_bytes()
    _, err = (p := _cli(run_dir, limit=2)).communicate(timeout=300)
    assert p.returncode == 0, err[-2000:]
    assert "2 episodes already recorded, 0 to run" in err
    assert (run_dir / "episodes.jsonl").read_bytes() == before
    after = json.loads((run_dir / "manifest.json").read_text())
    assert len(after["sessions"]) == 2 and after["episodes_recorded"] == 2


def test_how_a_server_is_reached_or_launched_does_not_block_a_resume():
    from omegaconf import OmegaConf

    from embrace_bench.resume import resume_key
    from embrace_bench.tasks.suite import load_embedded

    cfg = OmegaConf.create({"prompt": {}, "runner": {"max_steps": 8, "reask": 3, "success_radius_cm": 300.0,
                                                     "seed": 0}, "env": {"kind": "embedded"}})
    suite = load_embedded(("id",))
    model = {"adapter": "openai", "name": "q", "launch": True, "launch_args": ["--max-model-len", "4096"]}
    old = {"resume_key": resume_key(cfg, {**model, "launch_port": None, "launch_timeout_s": 900}, suite)}
    new = {"resume_key": resume_key(cfg, {**model, "launch_port": 8001, "launch_timeout_s": 1800,
                                          "vllm_executable": "/opt/vllm/bin/vllm", "base_url": "http://x/v1"}, suite)}
    assert resume.incompatibility(old["resume_key"], new["resume_key"]) is None
    other = {"resume_key": resume_key(cfg, {**model, "launch_args": ["--dtype", "float16"]}, suite)}
    assert "model.launch_args" in resume.incompatibility(old["resume_key"], other["resume_key"])
