"""Read the EmbRACE public release's benchmark layout into the Task model (suite=embrace_release).

    <root>/task/<Map>/<task>.json                  Instruction, Type (0-5), Start_Pose [, PD_* for Pick & Drop]
    <root>/success_region/<Map>/<task>/area.json   success regions (tasks/regions.py); or the release's older
                                                   flat form <Map>/<task>.json [+ <task>__midway.json]
    <root>/trajectory/<Map>/<task>/infos.json      the reference human demo (Action, Pose_Trajectory), optional

`<root>` is the release's `datas/benchmark` (or `datas`, or what `embrace-bench fetch-data` wrote). The
release's types 4 and 5 are our 4.1 (Open Door) and 4.2 (Pick & Drop). A task without `area.json` is not
part of the scored set (the release runs but does not score it); it is skipped and counted in the notes.
A Multi-stage task whose area has no midway stage is loaded and run, and its episodes are reported as
unscorable (the release's scorer fails on exactly that task, not on the suite).
The benchmark's maps are all held out from the release's training data, so its tasks are split "ood".
Assumptions where the release is silent, all documented in the README: Target_Pose (which our Task
requires, and the oracle and the displays use) is the centroid of each stage's target footprints; s_opt is
the reference demo's length (0 when the task has no demo, which makes its SSPL 0).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from embrace_bench.tasks.embrace_v1 import _pose, demo, read_json
from embrace_bench.tasks.model import Task, TaskType
from embrace_bench.tasks.regions import RegionError, area_files, centroid, read_task_area
from embrace_bench.tasks.suite import Suite, SuiteError, _hash_files

RELEASE_TYPES = {0: TaskType.BASIC, 1: TaskType.EXPLORATION, 2: TaskType.SPATIAL_SEMANTIC, 3: TaskType.MULTI_STAGE,
                 4: TaskType.OPEN_DOOR, 5: TaskType.PICK_DROP}
# A release task file's keys for the Task fields it holds, in the order the release writes them (its PD_ID is
# the spawned object's appearance; the object's actor name is PD_ACTOR). read_release_task and
# release_task_json are the one place these keys become Task fields and back.
RELEASE_KEYS = {"instruction": "Instruction", "type": "Type", "start_pose": "Start_Pose",
                "pick_appearance": "PD_ID", "pick_size": "PD_Size", "pd_type": "PD_Type",
                "pick_start_pose": "PD_Start_Pose", "exposure": "Exposure"}
PD_ACTOR = "BP_GrabMoveDrop_C_1"  # the name the release gives the Pick & Drop object it spawns
SPLIT = "ood"


def benchmark_root(root: Path) -> Path:
    root = Path(root)
    for candidate in (root, root / "benchmark", root / "datas" / "benchmark"):
        if (candidate / "task").is_dir():
            return candidate
    raise SuiteError(f"no EmbRACE release benchmark under {root} (expected task/<Map>/<task>.json there, "
                     "or in benchmark/; `embrace-bench fetch-data` downloads it)")


def read_release_task(task_file: Path, area_file: Path, demo_file: Path | None,
                      z_tolerance_cm: float | None, midway_file: Path | None = None) -> Task:
    raw = read_json(task_file)
    missing = [RELEASE_KEYS[k] for k in ("instruction", "type", "start_pose") if RELEASE_KEYS[k] not in raw]
    if missing:
        raise SuiteError(f"{task_file}: missing fields {', '.join(missing)}")
    d = {name: raw[key] for name, key in RELEASE_KEYS.items() if key in raw}
    try:
        type_ = RELEASE_TYPES[int(d["type"])]
    except (KeyError, TypeError, ValueError):
        raise SuiteError(f"{task_file}: unknown Type {d['type']!r}; the release uses 0-5") from None
    try:
        regions = read_task_area(area_file, midway_file, z_tolerance_cm)
    except RegionError as exc:
        raise SuiteError(str(exc)) from None
    start = _pose(d["start_pose"], "Start_Pose", task_file)
    targets = []
    for stage in ("midway", "final") if type_ == TaskType.MULTI_STAGE and "midway" in regions else ("final",):
        x, y = centroid(regions[stage]["footprints"])
        z = regions[stage]["z"]
        targets.append([round(x, 3), round(y, 3), start[2] if z is None else z, 0.0, 0.0, 0.0])
    actions, poses = demo(read_json(demo_file), demo_file) if demo_file else ([], None)
    pd: dict[str, Any] = {}  # the Pick & Drop fields of Task
    if type_ == TaskType.PICK_DROP:
        pd_type = str(d.get("pd_type", "")).lower()
        if pd_type not in ("p", "pd"):
            raise SuiteError(f"{task_file}: PD_Type must be p or pd, not {d.get('pd_type')!r}")
        if regions["final"]["object"] is None:
            raise SuiteError(f"{area_file}: a Pick & Drop task needs pd_object_regions")
        raw_start = d.get("pick_start_pose") or d["start_pose"]
        if isinstance(raw_start, list) and len(raw_start) == 3:  # a location only: the release then leaves the
            raw_start = [*raw_start, 0.0, 0.0, 0.0]  # object's spawn rotation, 0 0 0
        pd_start = _pose(raw_start, "PD_Start_Pose", task_file)
        pd = dict(pick_object=PD_ACTOR, pd_type=pd_type, pick_start_pose=pd_start, pick_pose=pd_start,
                  pick_size=float(d["pick_size"]) if d.get("pick_size") is not None else None,
                  pick_appearance=int(d["pick_appearance"]) if d.get("pick_appearance") is not None else None)
    return Task(task_id=f"{task_file.parent.name}/{task_file.stem}", map=task_file.parent.name, split=SPLIT,
                type=type_, instruction=str(d["instruction"]), start_pose=start, target_poses=targets,
                demo_actions=actions, demo_poses=poses, regions=regions, exposure=_exposure(d, task_file), **pd)


def release_task_json(task: Task) -> dict:
    """The task as its release task file (task/<Map>/<task>.json): unset fields left out. Its success regions
    and reference demo live in files of their own (success_region/, trajectory/), not written here."""
    d = {"instruction": task.instruction, "type": _RELEASE_CODES[task.type], "start_pose": task.start_pose,
         "pick_appearance": task.pick_appearance, "pick_size": task.pick_size, "pd_type": task.pd_type,
         "pick_start_pose": task.pick_start_pose, "exposure": task.exposure}
    return {RELEASE_KEYS[name]: value for name, value in d.items() if value is not None}


_RELEASE_CODES: dict[str, int] = {ours: theirs for theirs, ours in RELEASE_TYPES.items()}


def _exposure(d: dict, task_file: Path) -> float | None:
    """The task's optional `Exposure`: an absolute exposure offset that replaces its map's (null: the map's)."""
    value = d.get("exposure")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -10 <= value <= 10:
        raise SuiteError(f"{task_file}: Exposure must be a number from -10 to 10 or null, not {value!r}")
    return float(value)


def load_release(root: Path, z_tolerance_cm: float | None = 100.0) -> Suite:
    root = benchmark_root(root)
    task_files = sorted((root / "task").glob("*/*.json"))
    if not task_files:
        raise SuiteError(f"no task files under {root / 'task'}")
    tasks, used, skipped = [], [], []
    for f in task_files:
        found = area_files(root / "success_region", f.parent.name, f.stem)
        if found is None:
            skipped.append(f"{f.parent.name}/{f.stem}")
            continue
        area, midway = found
        infos = root / "trajectory" / f.parent.name / f.stem / "infos.json"
        demo_file = infos if infos.is_file() else None
        tasks.append(read_release_task(f, area, demo_file, z_tolerance_cm, midway))
        used += [f, area] + [x for x in (midway, demo_file) if x]
    if not tasks:
        raise SuiteError(f"no task under {root / 'task'} has a success region "
                         "(success_region/<Map>/<task>/area.json or success_region/<Map>/<task>.json)")
    notes = [f"{len(skipped)} task(s) without area.json skipped (no success area, flat or staged: not scored "
             "by the release): "
             f"{', '.join(skipped[:3])}{' ...' if len(skipped) > 3 else ''}"] if skipped else []
    return Suite("embrace_release", tasks, _hash_files(used), notes)
