"""Recorded runs as pandas DataFrames, for notebooks.

    from embrace_bench import results
    ep = results.episodes(["results/2026-11-26/07-30-57_oracle_all", "results/2026-11-26/07-34-52_heuristic_all"])
    ep.groupby(["run_model", "type"]).success.mean().unstack()
    ep.filter(like="tag_").mean()                      # failure-tag rates
    st = results.steps("results/2026-11-26/07-34-52_heuristic_all")

`episodes` gives one row per episode with the metrics and failure tags recomputed from the steps (as every
report command does; the same rows the leaderboards are built from), `steps` one row per step as recorded.
A folder of runs (a multirun or results/<date>) stands for its runs. Plain pandas reads the records too:
`pd.read_json("<run>/episodes.jsonl", lines=True)` (stored values, nested fields as objects).
"""
from __future__ import annotations

import os
from pathlib import Path

import orjson
import pandas as pd

from embrace_bench.records import RecordFileError
from embrace_bench.report.publish import find_runs
from embrace_bench.report.runs import Run, label_runs, load_run
from embrace_bench.run_dir import RunDir
from embrace_bench.scoring.scan import PRIVATE_COLUMNS, replaces

# Manifest facts on every row (Run.facts, renamed where a record field has the name).
FACTS = {"run": "run", "model": "run_model", "snapshot": "snapshot", "prompt": "prompt", "suite": "suite",
         "suite_hash": "suite_hash", "split": "run_split", "harness": "harness", "git_sha": "git_sha",
         "started": "started"}
STEP_FIELDS = ("index", "action", "valid", "reasks", "collided", "held_object", "latency_s", "cost_usd", "cached",
               "error", "think", "raw_response")
POSE = ("x", "y", "z", "pitch", "yaw", "roll")
Paths = str | os.PathLike | list


def _dirs(run_dirs: Paths) -> list[Path]:
    return find_runs([Path(run_dirs)] if isinstance(run_dirs, (str, os.PathLike)) else [Path(d) for d in run_dirs])


def _with_facts(run: Run, frame: pd.DataFrame) -> pd.DataFrame:
    facts = run.facts()
    return frame.assign(**{col: facts[k] for k, col in FACTS.items()}, run_dir=str(run.run_dir))


def episodes(run_dirs: Paths) -> pd.DataFrame:
    """One row per episode of every run: every scalar field of the record (metrics re-scored), the task's
    scalar fields (`task_<name>`), `timed_out`, `n_step_records`, one boolean `tag_<name>` column per failure
    tag (re-tagged with the run's thresholds, or the stored tags where today's tagger made them: report/runs.py)
    and `primary_tag`, and the run's manifest facts (`run`,
    `run_model`, `snapshot`, `prompt`, `suite`, `suite_hash`, `run_split`, `harness`, `git_sha`, `started`,
    `run_dir`). A task recorded twice counts once, as in the reports. Warnings (unreadable lines, stored
    values that differ) are in `frame.attrs["warnings"]`. Raises RecordFileError for a path that is no run."""
    runs = [load_run(d) for d in _dirs(run_dirs)]
    label_runs(runs)
    frames = [_with_facts(r, r.frame.drop(columns=list(PRIVATE_COLUMNS))) for r in runs]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out.attrs["warnings"] = [f"{r.run_dir}: {w}" for r in runs for w in r.warnings]
    return out


def _step_rows(run_dir: Path) -> list[list]:
    """The step rows of the records that count (one record per task, the reports' rule), in task order."""
    path = RunDir(run_dir).episodes
    if not path.exists():
        raise RecordFileError(f"no episodes file at {path}")
    by_task: dict[str, tuple[str, list]] = {}
    with open(path, "rb") as f:
        for line in f:
            try:
                rec = orjson.loads(line)
                head = [rec["task_id"], rec["type"], rec["split"], rec["model"], rec["status"]]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue  # episodes() reports unreadable lines
            if head[0] in by_task and not replaces(by_task[head[0]][0], head[4]):
                continue
            rows = []
            for s in rec.get("steps") or []:
                tok = s.get("tokens") or {}
                pose = list(s.get("pose_after") or [])[:6]
                rows.append([*head, *[s.get(k) for k in STEP_FIELDS], tok.get("in"), tok.get("out"), tok.get("image"),
                             len(s.get("visible") or {}), *(pose + [None] * (6 - len(pose)))])
            by_task[head[0]] = (head[4], rows)
    return [row for _, rows in by_task.values() for row in rows]


def steps(run_dirs: Paths) -> pd.DataFrame:
    """One row per step of every episode that counts: `task_id`, `type`, `split`, `model`, `status` of the
    episode, the step's scalar fields, `tokens_in/out/image`, `n_visible` (objects in view) and the pose
    after the step (`x`, `y`, `z` in cm, `pitch`, `yaw`, `roll` in degrees), then `run` and `run_dir`."""
    cols = ["task_id", "type", "split", "model", "status", *STEP_FIELDS, "tokens_in", "tokens_out",
            "tokens_image", "n_visible", *POSE]
    frames = []
    for d in _dirs(run_dirs):
        if not d.is_dir():
            raise RecordFileError(f"run directory not found: {d}")
        frames.append(pd.DataFrame(_step_rows(d), columns=cols).assign(run=d.name, run_dir=str(d)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*cols, "run", "run_dir"])
