"""Tiny recorded runs built by hand (records + manifest, no engine), for the report commands' tests."""
from __future__ import annotations

import json
from pathlib import Path

from embrace_bench.records import EpisodeRecord, StepRecord, TaskInfo, append_record
from embrace_bench.scoring.failures import tag_episode
from embrace_bench.scoring.metrics import rescore

TARGET = (1000.0, 0.0)


def _step(i, action, x, y, yaw=0.0, **kw) -> StepRecord:
    return StepRecord(index=i, action=action, raw_response=kw.pop("raw", f"<think>go</think><action>{action}</action>"),
                      think=kw.pop("think", "go"), pose_before=[x, y, 90.0, 0.0, yaw, 0.0],
                      pose_after=[x, y, 90.0, 0.0, yaw, 0.0], **kw)


def episode(task_id: str, type_: str = "0", split: str = "id", outcome: str = "success", model: str = "m",
            instruction: str = "Go to the red car.", **step_kw) -> EpisodeRecord:
    """outcome: success (walk to the target, Finish), fail (Finish at the start: premature), timeout (32 turns),
    error (a model API error)."""
    info = TaskInfo(instruction=instruction, target_poses=[[*TARGET, 0, 0, 0, 0]], target_objects=["Car_01"],
                    distractors=["Car_02"], object_locations={"Car_01": [1100.0, 0.0, 0.0], "Car_02": [0.0, 900.0, 0.0]})
    if outcome == "success":
        steps = [_step(0, "MoveForward", 0, 0, **step_kw), _step(1, "Finish", 800, 0)]
        steps[0].pose_after = [800.0, 0.0, 90.0, 0.0, 0.0, 0.0]
        steps[0].visible = {"Car_01": 900}
        steps[1].pose_before = steps[0].pose_after
    elif outcome == "fail":
        steps = [_step(0, "Finish", 0, 0, **step_kw)]
    elif outcome == "timeout":
        steps = [_step(i, "TurnLeft", 0, 0, yaw=-30.0 * ((i + 1) % 12), **step_kw) for i in range(32)]
    else:
        steps = []
    rec = EpisodeRecord(task_id=task_id, type=type_, split=split, map="Nowhere_1", model=model,
                        status="error" if outcome == "error" else "finished", success=False, gde_cm=0.0, sspl=0.0,
                        n_steps=len(steps), s_opt=2, task=info, steps=steps,
                        error="ModelCallError: 503 after 4 retries" if outcome == "error" else "",
                        cost_usd=0.01 * len(steps), tokens_in=1000 * len(steps), tokens_out=50 * len(steps),
                        start_visible={"Car_01": 900})
    for s in steps:
        s.latency_s, s.tokens = 0.5 + 0.1 * s.index, {"in": 1000, "out": 50}
    rec = rescore(rec, 32)
    rec.tags = tag_episode(rec)
    return rec


def write_run(run_dir: Path, records: list[EpisodeRecord], model: str = "m", suite: str = "embedded",
              split: str = "id", suite_hash: str = "h1") -> Path:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for r in records:
        r.model = model
        append_record(run_dir / "episodes.jsonl", r)
    manifest = {"suite": suite, "suite_hash": suite_hash, "split": split, "max_steps": 32,
                "model": {"adapter": "openai", "name": model}, "prompt": {"name": "embrace_v1"},
                "harness_version": "0.1.0", "git_sha": "abc123", "started": "2025-01-01T00:00:00"}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return run_dir


def outcomes_run(run_dir: Path, outcomes: list[str], model: str = "m", types=("0", "1", "2"), **kw) -> Path:
    """A run with one episode per outcome, tasks t000, t001, ... cycling through `types`."""
    recs = [episode(f"t{i:03d}", types[i % len(types)], outcome=o) for i, o in enumerate(outcomes)]
    return write_run(run_dir, recs, model=model, **kw)
