"""Read EmbRACE-3K v1 task folders (one `infos.json` per task) into the Task model."""
from __future__ import annotations

import json
import math
from pathlib import Path

from embrace_bench.actions import data_action
from embrace_bench.tasks.model import EMBEDDED_KEYS, Task, type_code
from embrace_bench.tasks.suite import Suite, SuiteError, _hash_files

# The fields a v1 `infos.json` holds, in the order v1 writes them, under the embedded suite's key names (the
# same EmbRACE names); the folders give task_id and map: <map>/<task_id>/infos.json. read_infos and
# infos_json are the one place these keys become Task fields and back.
V1_KEYS = {name: EMBEDDED_KEYS[name] for name in (
    "instruction", "reason", "type", "target_objects", "start_pose", "demo_actions", "target_poses", "demo_poses",
    "door", "pick_pose", "pick_object")}
REQUIRED = tuple(V1_KEYS[name] for name in ("instruction", "type", "start_pose", "target_poses"))


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
    for a in d.get(V1_KEYS["demo_actions"]) or []:
        name = data_action(a)
        if name is None:
            raise SuiteError(f"{path}: unknown action {a!r} in the recorded demo")
        actions.append(name)
    poses = d.get(V1_KEYS["demo_poses"], d.get("Pose_Trajectory"))  # the release's name for them
    if poses is None:
        return actions, None
    # Kept as recorded: the release writes the start plus one pose per action, v1 data may differ, and
    # check-replay says when a recording does not line up with its actions.
    return actions, (_poses(poses, V1_KEYS["demo_poses"], path) if poses else None)


def read_infos(path: Path, split: str, map_name: str | None = None) -> Task:
    path = Path(path)
    raw = read_json(path)
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise SuiteError(f"{path}: missing fields {', '.join(missing)}")
    d = {name: raw[key] for name, key in V1_KEYS.items() if key in raw}
    try:
        t = type_code(d["type"])
    except ValueError as exc:
        raise SuiteError(f"{path}: {exc}") from None
    targets = d.get("target_objects") or []
    if isinstance(targets, str):
        targets = [targets]
    actions, poses = demo(raw, path)
    pd_pose = d.get("pick_pose")
    return Task(
        task_id=raw.get("task_id") or path.parent.name,
        map=map_name or raw.get("map") or raw.get("Map") or path.parent.parent.name,
        split=split, type=t, instruction=str(d["instruction"]),
        start_pose=_pose(d["start_pose"], V1_KEYS["start_pose"], path),
        target_poses=_poses(d["target_poses"], V1_KEYS["target_poses"], path),
        target_objects=[str(x) for x in targets],
        demo_actions=actions,
        reason=str(d.get("reason", "")),
        door=d.get("door") or None,
        pick_pose=_poses(pd_pose, V1_KEYS["pick_pose"], path)[0] if pd_pose else None,
        pick_object=str(d["pick_object"]) if d.get("pick_object") not in (None, "") else None,
        demo_poses=poses,
    )


def _one_or_list(values: list) -> object:
    return values[0] if len(values) == 1 else values


def infos_json(task: Task) -> dict:
    """The task as its v1 `infos.json`, as v1 writes it: Type as a number, a single target object or pose
    bare (several as a list), unset fields left out. read_infos reads it back to the same task."""
    d = {"instruction": task.instruction, "reason": task.reason, "type": float(task.type),
         "target_objects": _one_or_list(task.target_objects), "start_pose": task.start_pose,
         "demo_actions": task.demo_actions, "target_poses": _one_or_list(task.target_poses),
         "demo_poses": task.demo_poses, "door": task.door, "pick_pose": task.pick_pose,
         "pick_object": task.pick_object}
    return {V1_KEYS[name]: value for name, value in d.items() if value is not None}


def write_v1(tasks: list[Task], root: Path) -> list[Path]:
    """Each task as <root>/<map>/<task_id>/infos.json (the layout load_v1 reads); the files written."""
    files = []
    for t in tasks:
        f = Path(root) / t.map / t.task_id / "infos.json"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(infos_json(t), indent=2) + "\n", encoding="utf-8")
        files.append(f)
    return files


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
