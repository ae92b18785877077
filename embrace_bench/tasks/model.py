"""The Task model: EmbRACE-3K's `infos.json` fields plus where the task lives (map, split, id)."""
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
RELEASE_FIELDS = ("PD_Type", "PD_Start_Pose", "PD_Size", "PD_Appearance", "regions", "Exposure")


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
    task_id: str
    map: str
    split: str  # "id" | "ood"
    Type: str  # a TaskType code: "0" "1" "2" "3" "4.1" "4.2"
    Instruction: str
    Start_Pose: list[float]  # [x, y, z, pitch, yaw, roll]
    Target_Pose: list[list[float]]  # one [x, y, z, pitch, yaw, roll] per stage (multi-stage: two)
    GenAI_Target_Object: list[str] = field(default_factory=list)  # actor names, one per stage
    Action: list[str] = field(default_factory=list)  # oracle demo; len == s_opt
    Reason: str = ""
    Target_Door_Name: str | None = None  # 4.1
    PD_Pose: list[float] | None = None  # 4.2: pose of the object to pick up
    PD_ID: str | None = None  # 4.2: actor name of the object to pick up
    Trajectory_Pose: list[list[float]] | None = None  # the demo's poses: start, then after each action
    distractors: list[str] = field(default_factory=list)  # same-category objects that are not the referent
    scene_description: str = ""
    # The public release (suite=embrace_release) adds these; absent from the v1 and embedded formats.
    PD_Type: str | None = None  # 4.2: "p" pick up and hold at Finish, "pd" pick up then drop in the region
    PD_Start_Pose: list[float] | None = None  # 4.2: where the object is spawned for the task
    PD_Size: float | None = None  # 4.2: the spawned object's scale
    PD_Appearance: int | None = None  # 4.2: the release's PD_ID, an appearance index of the spawned object
    regions: dict | None = None  # success regions (tasks/regions.py); when set they decide success, not radii
    Exposure: float | None = None  # the task's exposure offset, replacing its map's (the release's `Exposure`)

    def __post_init__(self) -> None:
        self.Type = type_code(self.Type)
        if self.split not in SPLITS:
            raise ValueError(f"task {self.task_id}: split must be one of {SPLITS}, not {self.split!r}")
        if len(self.Start_Pose) != 6:
            raise ValueError(f"task {self.task_id}: Start_Pose needs 6 numbers, got {self.Start_Pose!r}")
        if not self.Target_Pose:
            raise ValueError(f"task {self.task_id}: Target_Pose is empty")
        if self.PD_Type not in (None, "p", "pd"):
            raise ValueError(f"task {self.task_id}: PD_Type must be p or pd, not {self.PD_Type!r}")

    @property
    def type_name(self) -> str:
        return TYPE_NAMES[self.Type]

    @property
    def s_opt(self) -> int:
        return len(self.Action)

    def to_json(self) -> dict:
        d = asdict(self)
        for k in RELEASE_FIELDS:  # keep the v1-shaped files free of fields they never use
            if d[k] is None:
                del d[k]
        return d

    @staticmethod
    def from_json(d: dict) -> "Task":
        known = Task.__dataclass_fields__
        unknown = set(d) - set(known)
        if unknown:
            raise ValueError(f"task {d.get('task_id', '?')}: unknown fields {sorted(unknown)}")
        return Task(**d)
