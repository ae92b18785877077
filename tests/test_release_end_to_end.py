"""`model=demo` on the release fixtures reproduces their demos through `env=unrealzoo` (its defaults: the release's
command sequences) and the stand-in package, Pick & Drop included.

The fixtures' own demos were planned at the v1 magnitudes (235 cm, 30 deg) for the embedded world; the release's
demos are recorded on UnrealZoo under its own cycles (125.9 uu, 25 deg). tests/fixtures/unrealzoo_demos holds demos
recorded that way on the stand-in (tests/record_release_demos.py), laid over a copy of the release fixtures here.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from embrace_bench.__main__ import CONF_DIR
from embrace_bench.actions import data_action
from embrace_bench.env.engines import env_config, make_env
from embrace_bench.env.release_env import ReleaseEnv
from embrace_bench.tasks.embrace_release import PD_ACTOR, RELEASE_TYPES
from embrace_bench.tasks.model import Task
from embrace_bench.world.unrealzoo import UnrealZooEngine

from fakes import InProcessClient

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"


def test_demo_reproduces_the_release_fixtures_through_env_unrealzoo(tmp_path):
    bench = tmp_path / "benchmark"
    shutil.copytree(FIX / "embrace_release" / "benchmark", bench)
    shutil.rmtree(bench / "trajectory")
    demos = {}
    for f in sorted((FIX / "unrealzoo_demos").glob("*/*/infos.json")):
        dst = bench / "trajectory" / f.parent.parent.name / f.parent.name / "infos.json"
        dst.parent.mkdir(parents=True)
        shutil.copy(f, dst)
        demos[f"{f.parent.parent.name}/{f.parent.name}"] = json.loads(f.read_text())
    pkg = tmp_path / "UnrealZoo"
    shutil.copytree(FIX / "unrealzoo_pkg", pkg)
    run = tmp_path / "run"
    # The release's timing five times faster, with the same game time per engine tick: 0.05 s of wall clock per
    # cycle under slomo 30 in 0.01 s ticks is, for the stand-in, what 0.25 s under slomo 6 in 0.05 s ticks is.
    env = {**os.environ, "PYTHON": sys.executable, "FAKE_UNREALZOO_LOAD_S": "0.2", "FAKE_UNREALZOO_TICK_S": "0.01"}
    p = subprocess.run([sys.executable, "-m", "embrace_bench", "env=unrealzoo", f"env.binary={pkg / 'UnrealZoo.sh'}",
                        "env.width=64", "env.height=48", "env.step_s=0.05", "env.slomo=30",
                        "env.settle_s=0", "env.destroy_wait_s=0",  # no real UE to wait for
                        "model=demo", "suite=embrace_release", f"suite.path={bench}", "split=ood",
                        "runner=embrace_release", "runner.save_frames=false", f"hydra.run.dir={run}"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    recs = {r["task_id"]: r for r in map(json.loads, (run / "episodes.jsonl").read_text().splitlines())}
    assert sorted(recs) == sorted(demos) and any(t.endswith("_pd") for t in recs)  # Pick & Drop included
    for task_id, rec in recs.items():
        demo = demos[task_id]
        assert rec["status"] == "finished" and rec["success"], (task_id, rec.get("status"), rec.get("error"))
        acts = [s["action"] for s in rec["steps"]]
        assert acts == [data_action(a) for a in demo["Action"]]
        poses = [rec["steps"][0]["pose_before"]] + [s["pose_after"] for s in rec["steps"]]
        for i, (got, want) in enumerate(zip(poses, demo["Pose_Trajectory"])):
            assert math.dist(got[:3], want[:3]) < 1.0 and abs((got[4] - want[4] + 180) % 360 - 180) < 0.01, \
                (task_id, i, got, want)
        if "PD_Pose_Trajectory" in demo:  # the object was picked, carried and dropped where the demo left it
            assert math.dist(rec["steps"][-1]["object_pose"][:2], demo["PD_Pose_Trajectory"][-1][:2]) < 1.0


REPRO = FIX / "release_repro"


@pytest.mark.parametrize("key", sorted(json.loads((REPRO / "demos.json").read_text())))
def test_env_unrealzoo_replays_the_releases_recorded_demos_on_the_standin(key, monkeypatch):
    """ReleaseEnv itself (env=unrealzoo's defaults, not a test driver) replays the flat-ground prefix of each of the
    release's three recorded reproducibility demos on the stand-in's flat level, on a virtual clock that every wait
    of the release's advances: the poses read back match the recorded ones within 1 uu and 0.01 deg."""
    demo = json.loads((REPRO / "demos.json").read_text())[key]
    now = [1000.0]
    eng = UnrealZooEngine("numpy", maps_dir=REPRO / "maps", width=64, height=48, load_s=0.0, spawn_s=0.0,
                          clock=lambda: now[0])
    cfg = OmegaConf.load(CONF_DIR / "env" / "unrealzoo.yaml")
    cfg.gpu = 0
    env = make_env(InProcessClient(eng), replace(env_config(cfg), width=64, height=48))
    monkeypatch.setattr(ReleaseEnv, "_sleep", lambda self, s: now.__setitem__(0, now[0] + s))
    map_name, name = key.split("/")
    pd = dict(PD_ID=PD_ACTOR, PD_Type="p", PD_Appearance=demo["PD_ID"], PD_Size=demo["PD_Size"],
              PD_Start_Pose=demo["PD_Start_Pose"]) if demo["Type"] == 5 else {}
    task = Task(task_id=key, map=map_name, split="ood", Type=RELEASE_TYPES[demo["Type"]],
                Instruction="-", Start_Pose=[float(v) for v in demo["Start_Pose"]], Target_Pose=[[0.0] * 6], **pd)
    poses = [env.reset(task).pose]
    poses += [env.step(data_action(a)).obs.pose for a in demo["Action"]]
    assert len(poses) == len(demo["Pose"])
    for i, (got, want) in enumerate(zip(poses, demo["Pose"])):
        assert math.dist(got[:2], want[:2]) <= 1.0 and abs((got[4] - want[2] + 180) % 360 - 180) <= 0.01, (i, got, want)
    assert eng.slomo == 6 and eng.interval_s == 1.0 and eng.view_actor == "spawned_char_0"
