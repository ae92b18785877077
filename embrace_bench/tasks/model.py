"""The Task model: an EmbRACE-3K task in snake_case fields plus where it lives (map, split, id), the TaskType codes,
and EMBEDDED_KEYS, the one table mapping the frozen embedded suite's JSON keys (the EmbRACE names) to the fields."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


class TaskType(StrEnum):
    """EmbRACE-3K's task type codes, as its files and our records write them. A StrEnum, so str(), f-strings,
    json and pandas see the bare code ("4.1"); task and record fields keep plain strings, compared with these."""

    BASIC = "0"
    EXPLORATION = "1"
    SPATIAL_SEMANTIC = "2"
    MULTI_STAGE = "3"
    OPEN_DOOR = "4.1"
    PICK_DROP = "4.2"

    @property
    def paper_name(self) -> str:
        return _PAPER_NAMES[self]


_PAPER_NAMES = {
    TaskType.BASIC: "Basic",
    TaskType.EXPLORATION: "Exploration",
    TaskType.SPATIAL_SEMANTIC: "Dynamic Spatial-Semantic",
    TaskType.MULTI_STAGE: "Multi-stage",
    TaskType.OPEN_DOOR: "Open Door",
    TaskType.PICK_DROP: "Pick & Drop",
}
# The navigation types (one goal, no interaction), grouped apart in tables.
NAVIGATION_TYPES: tuple[TaskType, ...] = (TaskType.BASIC, TaskType.EXPLORATION, TaskType.SPATIAL_SEMANTIC)
# Type codes (plain strings) and the names tables use.
TYPE_NAMES: dict[str, str] = {t.value: t.paper_name for t in TaskType}
TYPES: tuple[str, ...] = tuple(TYPE_NAMES)
SPLITS: tuple[str, ...] = ("id", "ood")
# The fields only release tasks have; the embedded files leave them out when unset.
RELEASE_FIELDS = ("pd_type", "pick_start_pose", "pick_size", "pick_appearance", "regions", "exposure")


def type_code(value) -> str:
    """'0', 0, 0.0, '4.1', 4.1 -> canonical type string; anything else is an error naming the value."""
    s = str(value).strip()
    if s.endswith(".0"):
        s = s[:-2]
    if s not in TYPE_NAMES:
        raise ValueError(f"unknown task Type {value!r}; expected one of {', '.join(TYPES)}")
    return s  # the plain string, so that records and task files keep it byte for byte


@dataclass
class Task:
    """One task, in Python names. The EmbRACE JSON keys are mapped to these once, where a format is read or
    written: EMBEDDED_KEYS below (the frozen embedded suite), tasks/embrace_v1.py (v1 `infos.json`) and
    tasks/embrace_release.py (the public release's task files)."""

    task_id: str
    map: str
    split: str  # "id" | "ood"
    type: str  # a TaskType code: "0" "1" "2" "3" "4.1" "4.2"
    instruction: str
    start_pose: list[float]  # [x, y, z, pitch, yaw, roll]
    target_poses: list[list[float]]  # one [x, y, z, pitch, yaw, roll] per stage (multi-stage: two)
    target_objects: list[str] = field(default_factory=list)  # actor names, one per stage
    demo_actions: list[str] = field(default_factory=list)  # oracle demo; len == s_opt
    reason: str = ""
    door: str | None = None  # 4.1: the door to open
    pick_pose: list[float] | None = None  # 4.2: pose of the object to pick up
    pick_object: str | None = None  # 4.2: actor name of the object to pick up
    demo_poses: list[list[float]] | None = None  # the demo's poses: start, then after each action
    distractors: list[str] = field(default_factory=list)  # same-category objects that are not the referent
    scene_description: str = ""
    # The public release (suite=embrace_release) adds these; absent from the v1 and embedded formats.
    pd_type: str | None = None  # 4.2: "p" pick up and hold at Finish, "pd" pick up then drop in the region
    pick_start_pose: list[float] | None = None  # 4.2: where the object is spawned for the task
    pick_size: float | None = None  # 4.2: the spawned object's scale
    pick_appearance: int | None = None  # 4.2: the release's PD_ID, an appearance index of the spawned object
    regions: dict | None = None  # success regions (tasks/regions.py); when set they decide success, not radii
    exposure: float | None = None  # the task's exposure offset, replacing its map's (the release's `Exposure`)

    def __post_init__(self) -> None:
        self.type = type_code(self.type)
        if self.split not in SPLITS:
            raise ValueError(f"task {self.task_id}: split must be one of {SPLITS}, not {self.split!r}")
        if len(self.start_pose) != 6:
            raise ValueError(f"task {self.task_id}: Start_Pose needs 6 numbers, got {self.start_pose!r}")
        if not self.target_poses:
            raise ValueError(f"task {self.task_id}: Target_Pose is empty")
        if self.pd_type not in (None, "p", "pd"):
            raise ValueError(f"task {self.task_id}: PD_Type must be p or pd, not {self.pd_type!r}")

    @property
    def type_name(self) -> str:
        return TYPE_NAMES[self.type]

    @property
    def s_opt(self) -> int:
        return len(self.demo_actions)

    def to_json(self) -> dict:
        """The task as an entry of the embedded suite's files (EMBEDDED_KEYS, in field order)."""
        return {EMBEDDED_KEYS[k]: v for k, v in asdict(self).items()
                if not (k in RELEASE_FIELDS and v is None)}  # keep the v1-shaped files free of fields they never use

    @staticmethod
    def from_json(d: dict) -> "Task":
        unknown = set(d) - set(_EMBEDDED_FIELDS)
        if unknown:
            raise ValueError(f"task {d.get('task_id', '?')}: unknown fields {sorted(unknown)}")
        return Task(**{_EMBEDDED_FIELDS[k]: v for k, v in d.items()})


# The frozen embedded suite's JSON key of each Task field, in field order: the EmbRACE v1 `infos.json` names
# where v1 has the field, then the release's names for its fields; task_id, map, split and ours are as is.
EMBEDDED_KEYS: dict[str, str] = {
    "task_id": "task_id", "map": "map", "split": "split", "type": "Type", "instruction": "Instruction",
    "start_pose": "Start_Pose", "target_poses": "Target_Pose", "target_objects": "GenAI_Target_Object",
    "demo_actions": "Action", "reason": "Reason", "door": "Target_Door_Name", "pick_pose": "PD_Pose",
    "pick_object": "PD_ID", "demo_poses": "Trajectory_Pose", "distractors": "distractors",
    "scene_description": "scene_description", "pd_type": "PD_Type", "pick_start_pose": "PD_Start_Pose",
    "pick_size": "PD_Size", "pick_appearance": "PD_Appearance", "regions": "regions", "exposure": "Exposure",
}
_EMBEDDED_FIELDS = {key: name for name, key in EMBEDDED_KEYS.items()}
