"""The main command end to end on the embedded world, and its one-line errors."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parent.parent


def _run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "embrace_bench", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_oracle_run_writes_records_that_score_to_success(tmp_path):
    run_dir = tmp_path / "run"
    p = _run("model=oracle", "split=all", "suite.limit=6", "env.renderer=numpy", "env.width=160",
             "env.height=120", "runner.workers=2", f"hydra.run.dir={run_dir}")
    assert p.returncode == 0, p.stderr[-2000:]
    lines = (run_dir / "episodes.jsonl").read_text().splitlines()
    recs = [json.loads(ln) for ln in lines]
    assert len(recs) == 12 and {r["split"] for r in recs} == {"id", "ood"}
    assert {r["type"] for r in recs} == {"0", "1", "2", "3", "4.1", "4.2"}
    assert all(r["success"] and r["status"] == "finished" and r["sspl"] == 1.0 for r in recs)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["suite"] == "embedded" and manifest["ended"] and manifest["episodes_recorded"] == 12
    first = recs[0]
    assert (run_dir / "frames" / first["task_id"] / "000.png").exists()
    assert len(first["steps"]) == first["n_steps"] == first["s_opt"]
    assert (run_dir / ".hydra" / "config.yaml").exists()
    # Re-scoring from the records alone agrees.
    s = subprocess.run([sys.executable, "-m", "embrace_bench", "score", str(run_dir), "--json"],
                       capture_output=True, text=True, cwd=ROOT)
    assert s.returncode == 0, s.stderr
    assert "1.0" in s.stdout or "100" in s.stdout
    # Running again into the same dir resumes: nothing left to do, nothing recorded twice.
    p2 = _run("model=oracle", "split=all", "suite.limit=6", "env.renderer=numpy", "env.width=160",
              "env.height=120", f"hydra.run.dir={run_dir}")
    assert p2.returncode == 0, p2.stderr[-2000:]
    assert len((run_dir / "episodes.jsonl").read_text().splitlines()) == 12


@pytest.mark.parametrize("args, needle", [
    (["model=gpt5000"], "unknown model 'gpt5000'; choose one of:"),
    (["split=train"], "unknown split 'train'"),
    (["suite.ids=[nope]"], "unknown task ids: nope"),
    (["runner.foo=1"], "unknown setting 'runner.foo' for runner=default"),
    (["model=oracle", "model.bar=2"], "unknown setting 'model.bar' for model=oracle"),
    (["runner.workers=abc"], "runner.workers must be an integer >= 1, not 'abc'"),
    (["env.renderer=vulkan"], "env.renderer must be one of auto, gl, numpy, not 'vulkan'"),
    (["suite.limit=0"], "suite.limit must be a positive number, not 0"),
    (["tags.nope=1"], "unknown setting 'tags.nope' for tags=default"),
    (["tags.stuck_min_moves=-1"], "tags.stuck_min_moves must be an integer >= 0, not -1"),
    (["runner.backend=spark"], "runner.backend must be one of local, ray, not 'spark'"),
    (["env.max_restarts=-1"], "env.max_restarts must be an integer >= 0, not -1"),
    (["runner.api_concurrency=0"], "runner.api_concurrency must be an integer >= 1 or null, not 0"),
    (["runner.max_cost_usd=lots"], "runner.max_cost_usd must be a non-negative number or null, not 'lots'"),
    (["runner.success_radius_cm=-3"], "runner.success_radius_cm must be a positive number, not -3"),
    (["ray.adress=auto"], "unknown setting 'ray.adress' for ray=default"),
    (["runner.resume=maybe"], "runner.resume must be true or false, not 'maybe'"),
    (["tags.stuck_min_moves=2.5"], "tags.stuck_min_moves must be an integer >= 0, not 2.5"),
    (["model=gpt4o", "model.launch=true"], "unknown setting 'model.launch' for model=gpt4o; known: adapter, name,"),
    (["+model.backoff_s=1"], "unknown setting 'model.backoff_s' for model=heuristic; known: adapter, name"),
    (["-m", "runner.workers=1,x"], "runner.workers must be an integer >= 1, not 'x'"),
    (["+foo=1"], "unknown setting 'foo'; the top level has only model, env, suite, split, prompt, runner, tags, ray, hydra"),
    (["suite.ids=id-0-001"], "suite.ids must be a list such as [id-0-001] or null, not 'id-0-001'"),
    (["suite.types=3"], "suite.types must be a list such as [3] or null, not 3"),
    (["--bogus"], "unknown option '--bogus'; see python -m embrace_bench --help"),
    (["suite.limit=2", "model"], "cannot read 'model': an override is key=value (or ~key to remove a key)"),
    (["--cfg", "jobs"], "option --cfg takes one of job, hydra, all, not 'jobs'"),
    (["--info", "-m"], "only one of --info, --multirun can be given"),
    (["~suite.limit"], "cannot remove 'suite.limit': every setting has a schema; set it instead"),
])
def test_bad_input_is_one_clear_line(args, needle, tmp_path):
    p = _run(*args, f"hydra.run.dir={tmp_path / 'r'}")
    assert p.returncode == 2
    err = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and needle in err[0], p.stderr


def test_cfg_job_shows_the_embedded_values_its_yaml_states(tmp_path):
    """env=embedded's values come from conf/env/embedded.yaml alone: a copy of the config folder with one value
    changed there (and nowhere else) changes what --cfg job shows; the schema supplies no value of its own."""
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "embrace_bench" / "conf", conf)
    yaml = conf / "env" / "embedded.yaml"
    yaml.write_text(yaml.read_text().replace("\nagent_name: EmbraceAgent", "\nagent_name: OtherAgent"))
    shown = {}
    for name, args in (("package", []), ("copy", ["-cp", str(conf)])):
        p = _run(*args, "--cfg", "job", "hydra/job_logging=disabled", "+hydra.job.env_set.EMBRACE_X=1")
        assert p.returncode == 0, p.stderr
        shown[name] = OmegaConf.create(p.stdout).env
    assert (shown["package"].agent_name, shown["copy"].agent_name) == ("EmbraceAgent", "OtherAgent")
    assert {k: v for k, v in shown["copy"].items() if k != "agent_name"} == \
        {k: v for k, v in shown["package"].items() if k != "agent_name"}


def test_missing_task_file_is_one_line(tmp_path):
    p = _run(f"suite.path={tmp_path}", f"hydra.run.dir={tmp_path / 'r'}")
    assert p.returncode == 2 and "task file not found" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_multirun_sweeps_models_into_one_dir_per_job(tmp_path):
    p = _run("-m", "model=oracle,random", "suite.limit=2", "env.renderer=numpy", "env.width=64", "env.height=48",
             f"hydra.sweep.dir={tmp_path}")
    assert p.returncode == 0, p.stderr[-2000:]
    jobs = sorted(d.name for d in tmp_path.iterdir() if d.is_dir() and d.name != "leaderboards")
    assert jobs == ["0_oracle_id", "1_random_id"]
    assert all(len((tmp_path / j / "episodes.jsonl").read_text().splitlines()) == 2 for j in jobs)
    # The end-of-sweep callback wrote one board with both models.
    md = (tmp_path / "leaderboards" / "embedded-id.md").read_text()
    assert "| oracle | 2 | 0 | 100.0 (34–100) |" in md and "| random | 2 |" in md
    assert {p.suffix for p in (tmp_path / "leaderboards").iterdir()} == {".md", ".csv", ".tex", ".html"}


def test_score_missing_dir_is_one_line(tmp_path):
    p = subprocess.run([sys.executable, "-m", "embrace_bench", "score", str(tmp_path / "nope")],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1


def test_score_and_fetch_data_usage_errors_are_one_line(tmp_path, capsys):
    from embrace_bench.report.cli import view_main
    from embrace_bench.scoring.cli import score_main
    from embrace_bench.tasks.fetch import main as fetch_main

    cases = ((score_main, [], "embrace-bench score: error: the following arguments are required: run_dir"),
             (score_main, [str(tmp_path), "--max-steps", "0"], "--max-steps: must be an integer >= 1, not '0'"),
             (score_main, [str(tmp_path), "--bogus"], "unrecognized arguments: --bogus"),
             (view_main, [str(tmp_path), "--offset", "-1"], "argument --offset: must be an integer >= 0, not '-1'"),
             (view_main, [str(tmp_path), "--limit", "x"], "argument --limit: must be an integer >= 1, not 'x'"),
             (fetch_main, ["--part", "x"], "embrace-bench fetch-data: error: argument --part: invalid choice: 'x'"))
    for fn, argv, needle in cases:
        assert fn(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err  # no argparse usage block
    assert score_main(["--help"]) == 0 and "--max-steps" in capsys.readouterr().out


def test_replay_reproduces_a_recorded_run_exactly(tmp_path):
    src, rep = tmp_path / "src", tmp_path / "rep"
    common = ["suite.limit=2", "env.renderer=numpy", "env.width=96", "env.height=72", "runner.max_steps=12"]
    assert _run("model=heuristic", *common, f"hydra.run.dir={src}").returncode == 0
    p = _run("model=replay", f"model.source={src}", *common, f"hydra.run.dir={rep}")
    assert p.returncode == 0, p.stderr[-2000:]
    keep = ("task_id", "success", "gde_cm", "sspl", "n_steps", "status")
    a = [json.loads(ln) for ln in (src / "episodes.jsonl").read_text().splitlines()]
    b = [json.loads(ln) for ln in (rep / "episodes.jsonl").read_text().splitlines()]
    assert [{k: r[k] for k in keep} for r in a] == [{k: r[k] for k in keep} for r in b]
    for ra, rb in zip(a, b):
        for sa, sb in zip(ra["steps"], rb["steps"]):
            assert (sa["action"], sa["pose_after"], sa["visible"], sa["raw_response"]) == \
                   (sb["action"], sb["pose_after"], sb["visible"], sb["raw_response"])
