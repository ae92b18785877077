"""Read EmbRACE-3K v1 task folders (one `infos.json` per task) into the Task model."""
from __future__ import annotations

import json
import math
from pathlib import Path

from embrace_bench.actions import data_action
from embrace_bench.tasks.model import Task, type_code
from embrace_bench.tasks.suite import Suite, SuiteError, _hash_files

REQUIRED = ("Instruction", "Type", "Start_Pose", "Target_Pose")


def _pose(value, what: str, path: Path) -> list[float]:
    try:
        pose = [float(v) for v in value]
    except (TypeError, ValueError):
        raise SuiteError(f"{path}: {what} must be numbers, not {value!r}") from None
    if len(pose) != 6 or not all(math.isfinite(v) for v in pose):
        raise SuiteError(f"{path}: {what} must be 6 finite numbers [x, y, z, pitch, yaw, roll], got {value!r}")
    return pose


def _poses(value, what: str, path: Path) -> list[list[float]]:
    """One pose or a list of poses (one per stage); always a list of poses."""
    if not isinstance(value, list) or not value:
        raise SuiteError(f"{path}: {what} must be a non-empty list")
    if all(isinstance(v, (int, float)) for v in value):
        return [_pose(value, what, path)]
    return [_pose(p, f"{what}[{i}]", path) for i, p in enumerate(value)]


def read_json(path: Path) -> dict:
    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SuiteError(f"cannot read {path}: {exc}") from None
    if not isinstance(d, dict):
        raise SuiteError(f"{path}: not a JSON object")
    return d


def demo(d: dict, path: Path) -> tuple[list[str], list[list[float]] | None]:
    """The recorded demo: its actions in our names, and its poses (normally the start, then one per action)."""
    actions = []
    for a in d.get("Action") or []:
        name = data_action(a)
        if name is None:
            raise SuiteError(f"{path}: unknown action {a!r} in the recorded demo")
        actions.append(name)
    poses = d.get("Trajectory_Pose", d.get("Pose_Trajectory"))
    if poses is None:
        return actions, None
    # Kept as recorded: the release writes the start plus one pose per action, v1 data may differ, and
    # check-replay says when a recording does not line up with its actions.
    return actions, (_poses(poses, "Trajectory_Pose", path) if poses else None)


def read_infos(path: Path, split: str, map_name: str | None = None) -> Task:
    path = Path(path)
    d = read_json(path)
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
    actions, poses = demo(d, path)
    pd_pose = d.get("PD_Pose")
    return Task(
        task_id=d.get("task_id") or path.parent.name,
        map=map_name or d.get("map") or d.get("Map") or path.parent.parent.name,
        split=split, type=t, instruction=str(d["Instruction"]),
        start_pose=_pose(d["Start_Pose"], "Start_Pose", path),
        target_poses=_poses(d["Target_Pose"], "Target_Pose", path),
        target_objects=[str(x) for x in targets],
        demo_actions=actions,
        reason=str(d.get("Reason", "")),
        door=d.get("Target_Door_Name") or None,
        pick_pose=_poses(pd_pose, "PD_Pose", path)[0] if pd_pose else None,
        pick_object=str(d["PD_ID"]) if d.get("PD_ID") not in (None, "") else None,
        demo_poses=poses,
    )


def load_v1(root: Path, split: str) -> Suite:
    """Every `infos.json` under `root` (recursively), sorted by path; task ids must be unique."""
    root = Path(root)
    if not root.is_dir():
        raise SuiteError(f"EmbRACE v1 task folder not found: {root}")
    files = sorted(root.rglob("infos.json"))
    if not files:
        raise SuiteError(f"no infos.json files under {root}")
    tasks = [read_infos(f, split) for f in files]
    seen: dict[str, Path] = {}
    for t, f in zip(tasks, files):
        if t.task_id in seen:
            raise SuiteError(f"task id {t.task_id!r} appears twice ({seen[t.task_id]} and {f})")
        seen[t.task_id] = f
    return Suite("embrace_v1", tasks, _hash_files(files))
