"""`embrace-bench check-replay`: demos and recorded runs replayed through the engine, deviations reported."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "embrace_bench", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_embedded_demos_reproduce_exactly():
    p = _cli("check-replay", "split=all", "suite.limit=3", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["n"] == 6 and out["failed"] == 0 and out["max_position_cm"] == 0.0
    assert {t["task_id"][:3] for t in out["tasks"]} == {"id-", "ood"}
    assert all(t["position_cm"] == 0.0 and t["yaw_deg"] == 0.0 and t["n_actions"] > 0 for t in out["tasks"])


def test_fixture_demos_in_both_formats_reproduce_exactly():
    p = _cli("check-replay", "suite=embrace_release", f"suite.path={FIX / 'embrace_release'}", "split=ood")
    assert p.returncode == 0, p.stderr
    assert "3/3 recordings reproduced within 0 cm; largest deviation 0.000 cm, 0.000 deg" in p.stdout
    assert "1 task(s) have no recorded trajectory" in p.stdout  # the Pick & Drop task has no demo
    assert "without area.json skipped" in p.stderr
    p = _cli("check-replay", "suite=embrace_v1", f"suite.path={FIX / 'embrace_v1'}")
    assert p.returncode == 0 and "[PASS] door_purple_house  T4.1  9 actions  max_pos_dev=0.000 cm" in p.stdout


def test_a_recording_that_does_not_match_fails(tmp_path):
    v1 = tmp_path / "v1"
    shutil.copytree(FIX / "embrace_v1", v1)
    f = v1 / "Street_25" / "basic_trashcan" / "infos.json"
    d = json.loads(f.read_text())
    d["Trajectory_Pose"][3][0] += 3.0  # 3 cm off after the third action
    f.write_text(json.dumps(d))
    g = v1 / "Street_25" / "door_purple_house" / "infos.json"
    d = json.loads(g.read_text())
    d["Trajectory_Pose"] = d["Trajectory_Pose"][:4]
    g.write_text(json.dumps(d))
    p = _cli("check-replay", "suite=embrace_v1", f"suite.path={v1}")
    assert p.returncode == 1
    assert "[FAIL] basic_trashcan  T0  8 actions  max_pos_dev=3.000 cm" in p.stdout
    assert "[FAIL] door_purple_house  T4.1  9 actions  max_pos_dev=inf cm  max_yaw_dev=inf deg  (4 recorded poses for 9 actions)" in p.stdout
    p = _cli("check-replay", "suite=embrace_v1", f"suite.path={v1}", "--tolerance", "3.5")
    assert p.returncode == 1 and "2/3 recordings reproduced within 3.5 cm" in p.stdout


def test_a_recorded_run_replays_exactly_and_tampering_shows(tmp_path):
    run = tmp_path / "run"
    p = _cli("model=heuristic", "suite.limit=2", "runner.max_steps=6", "env.renderer=numpy", "env.width=64",
             "env.height=48", "runner.save_frames=false", f"hydra.run.dir={run}")
    assert p.returncode == 0, p.stderr[-2000:]
    p = _cli("check-replay", "--run", str(run))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2/2 recordings reproduced within 0 cm" in p.stdout
    lines = (run / "episodes.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    valid = [s for s in rec["steps"] if s["action"]]
    valid[-1]["pose_after"][1] += 10.0
    lines[0] = json.dumps(rec)
    (run / "episodes.jsonl").write_text("\n".join(lines) + "\n")
    p = _cli("check-replay", "--run", str(run))
    assert p.returncode == 1 and f"[FAIL] {rec['task_id']}" in p.stdout and "max_pos_dev=10.000 cm" in p.stdout


def test_bad_input_is_one_line(tmp_path):
    release = tmp_path / "benchmark"  # the release fixture with one map the embedded world does not have
    shutil.copytree(FIX / "embrace_release" / "benchmark", release)
    for part in ("task", "success_region", "trajectory"):
        (release / part / "Street_39").rename(release / part / "Venice_1")
    (release / "task" / "Street_25" / "x000100_y000100_z000090_t0_b.json").unlink()  # no area.json: a note line
    for args, needle in ((["--run", str(tmp_path / "nope")], "no episodes.jsonl in"),
                         (["suite=nope"], "unknown suite 'nope'"),
                         (["suite=embrace_v1"], "needs suite.path="),
                         (["--tolerance", "nan"], "--tolerance: must be a finite number >= 0, not 'nan'"),
                         (["--tolerance", "inf"], "not 'inf'"),
                         (["--tolerance", "-1"], "not '-1'"),
                         (["--tolerance"], "expected one argument"),
                         (["--bogus"], "unrecognized arguments: --bogus"),
                         (["split"], "cannot read 'split': an override is key=value"),
                         # checked before an engine starts, not once per task as "unknown level"
                         (["suite=embrace_release", f"suite.path={release}", "split=ood"],
                          "the embedded world has no map Venice_1; run this suite with env=unrealzoo")):
        p = _cli("check-replay", *args)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and needle in lines[0], p.stderr
