"""The Task model: EmbRACE-3K's `infos.json` fields plus where the task lives (map, split, id)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Type codes as EmbRACE writes them, and the names tables use.
TYPE_NAMES: dict[str, str] = {
    "0": "Basic",
    "1": "Exploration",
    "2": "Dynamic Spatial-Semantic",
    "3": "Multi-stage",
    "4.1": "Open Door",
    "4.2": "Pick & Drop",
}
TYPES: tuple[str, ...] = tuple(TYPE_NAMES)
SPLITS: tuple[str, ...] = ("id", "ood")


def type_code(value) -> str:
    """'0', 0, 0.0, '4.1', 4.1 -> canonical type string; anything else is an error naming the value."""
    s = str(value).strip()
    if s.endswith(".0"):
        s = s[:-2]
    if s not in TYPE_NAMES:
        raise ValueError(f"unknown task Type {value!r}; expected one of {', '.join(TYPES)}")
    return s


@dataclass
class Task:
    task_id: str
    map: str
    split: str  # "id" | "ood"
    Type: str  # "0" "1" "2" "3" "4.1" "4.2"
    Instruction: str
    Start_Pose: list[float]  # [x, y, z, pitch, yaw, roll]
    Target_Pose: list[list[float]]  # one [x, y, z, pitch, yaw, roll] per stage (multi-stage: two)
    GenAI_Target_Object: list[str] = field(default_factory=list)  # actor names, one per stage
    Action: list[str] = field(default_factory=list)  # oracle demo; len == s_opt
    Reason: str = ""
    Target_Door_Name: str | None = None  # 4.1
    PD_Pose: list[float] | None = None  # 4.2: pose of the object to pick up
    PD_ID: str | None = None  # 4.2: actor name of the object to pick up
    Trajectory_Pose: list[list[float]] | None = None
    distractors: list[str] = field(default_factory=list)  # same-category objects that are not the referent
    scene_description: str = ""

    def __post_init__(self) -> None:
        self.Type = type_code(self.Type)
        if self.split not in SPLITS:
            raise ValueError(f"task {self.task_id}: split must be one of {SPLITS}, not {self.split!r}")
        if len(self.Start_Pose) != 6:
            raise ValueError(f"task {self.task_id}: Start_Pose needs 6 numbers, got {self.Start_Pose!r}")
        if not self.Target_Pose:
            raise ValueError(f"task {self.task_id}: Target_Pose is empty")

    @property
    def type_name(self) -> str:
        return TYPE_NAMES[self.Type]

    @property
    def s_opt(self) -> int:
        return len(self.Action)

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(d: dict) -> "Task":
        known = Task.__dataclass_fields__
        unknown = set(d) - set(known)
        if unknown:
            raise ValueError(f"task {d.get('task_id', '?')}: unknown fields {sorted(unknown)}")
        return Task(**d)
