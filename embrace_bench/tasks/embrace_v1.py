"""Read EmbRACE-3K v1 task folders (one `infos.json` per task) into the Task model."""
from __future__ import annotations

import json
from pathlib import Path

from embrace_bench.tasks.model import Task, type_code
from embrace_bench.tasks.suite import Suite, SuiteError, _hash_files

REQUIRED = ("Instruction", "Type", "Start_Pose", "Target_Pose")


def _poses(value, what: str, path: Path) -> list[list[float]]:
    """Target_Pose is one pose or a list of poses (one per stage); always return a list of poses."""
    if not isinstance(value, list) or not value:
        raise SuiteError(f"{path}: {what} must be a non-empty list")
    if all(isinstance(v, (int, float)) for v in value):
        return [[float(v) for v in value]]
    return [[float(v) for v in p] for p in value]


def read_infos(path: Path, split: str, map_name: str | None = None) -> Task:
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SuiteError(f"cannot read {path}: {exc}") from None
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        raise SuiteError(f"{path}: missing fields {', '.join(missing)}")
    try:
        t = type_code(d["Type"])
    except ValueError as exc:
        raise SuiteError(f"{path}: {exc}") from None
    targets = d.get("GenAI_Target_Object") or []
    if isinstance(targets, str):
        targets = [targets]
    actions = d.get("Action") or []
    pd_pose = d.get("PD_Pose")
    return Task(
        task_id=d.get("task_id") or path.parent.name,
        map=map_name or d.get("map") or d.get("Map") or path.parent.parent.name,
        split=split, Type=t, Instruction=str(d["Instruction"]),
        Start_Pose=[float(v) for v in d["Start_Pose"]],
        Target_Pose=_poses(d["Target_Pose"], "Target_Pose", path),
        GenAI_Target_Object=[str(x) for x in targets],
        Action=[str(a) for a in actions],
        Reason=str(d.get("Reason", "")),
        Target_Door_Name=d.get("Target_Door_Name") or None,
        PD_Pose=_poses(pd_pose, "PD_Pose", path)[0] if pd_pose else None,
        PD_ID=str(d["PD_ID"]) if d.get("PD_ID") not in (None, "") else None,
        Trajectory_Pose=d.get("Trajectory_Pose"),
    )


def load_v1(root: Path, split: str) -> Suite:
    """Every `infos.json` under `root` (recursively), sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise SuiteError(f"EmbRACE v1 task folder not found: {root}")
    files = sorted(root.rglob("infos.json"))
    if not files:
        raise SuiteError(f"no infos.json files under {root}")
    return Suite("embrace_v1", [read_infos(f, split) for f in files], _hash_files(files))
