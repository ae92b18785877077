"""The record schema: one definition of what an episode and a step write to `episodes.jsonl`.

Scoring and tagging read only these records, so every fact they need (targets, poses, visibility,
door and held states) is stored here, and any run can be re-scored offline.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from embrace_bench.defaults import SUCCESS_RADIUS_CM
from embrace_bench.redact import redact

SCHEMA_VERSION = 1
STATUSES = ("finished", "timeout", "error")
# What ended an episode in an error record (`error_kind`): its model or API after every retry, its engine
# after env.max_restarts relaunches, the Ray actor that ran it (runner.backend=ray), or a bug (internal).
ERROR_KINDS = ("model", "engine", "worker", "internal")
# How records written before `error_kind` existed say the kind: the start of their message (worker.py's
# "model: ..." and "internal: ...", earlier runners' exception class name, the engine and Ray messages).
_LEGACY_ERROR_PREFIXES = (("model:", "model"), ("ModelCallError", "model"), ("engine failed", "engine"),
                          ("worker actor died", "worker"), ("internal:", "internal"))


def legacy_error_kind(message: str) -> str:
    """The error kind of an error record written without `error_kind` ("" when the message does not say)."""
    return next((kind for prefix, kind in _LEGACY_ERROR_PREFIXES if message.startswith(prefix)), "")


@dataclass
class StepRecord:
    index: int
    action: str | None  # the executed action; None when the response stayed invalid after re-asks
    raw_response: str = ""  # the answer the step was decided on (the last try)
    reask_responses: list[str] = field(default_factory=list)  # earlier, invalid tries at this step
    think: str = ""
    valid: bool = True
    reasks: int = 0
    pose_before: list[float] = field(default_factory=list)  # [x, y, z, pitch, yaw, roll]
    pose_after: list[float] = field(default_factory=list)
    collided: bool = False
    visible: dict[str, int] = field(default_factory=dict)  # object name -> pixels in the object mask
    door_state: dict[str, int] = field(default_factory=dict)  # door name -> 1 open / 0 closed
    held_object: str | None = None  # after the action
    dropped_at: list[float] | None = None  # where a DropObject put the held object
    object_pose: list[float] | None = None  # location of the task's pick-and-drop object after the action
    tokens: dict[str, int] = field(default_factory=dict)  # {"in": .., "out": .., "image": ..}
    latency_s: float = 0.0
    cost_usd: float = 0.0
    cached: bool = False
    error: str = ""


@dataclass
class TaskInfo:
    """What of the task the scorer and tagger need, copied into each record (episode.task_info copies the
    fields Task has under the same names)."""

    instruction: str
    target_poses: list[list[float]]
    target_objects: list[str]
    distractors: list[str] = field(default_factory=list)
    door: str | None = None
    pick_object: str | None = None
    success_radius_cm: float = SUCCESS_RADIUS_CM
    # Where the task's objects (targets, distractors, door, object to pick) stood at reset, read from the
    # engine: name -> [x, y, z]; and their axis-aligned bounds [min x, y, z, max x, y, z] when the engine
    # gives them. The failure tagger and the viewer place targets and distractors from these alone.
    object_locations: dict[str, list[float]] = field(default_factory=dict)
    object_bounds: dict[str, list[float]] = field(default_factory=dict)
    # EmbRACE release tasks: success regions (tasks/regions.py) decide "at the target" instead of the radius;
    # pd_type "p" means the object must still be held at Finish, "pd" that it was dropped in its region.
    regions: dict | None = None
    pd_type: str | None = None


@dataclass
class EpisodeRecord:
    task_id: str
    type: str  # a TaskType code (tasks/model.py): "0" "1" "2" "3" "4.1" "4.2"
    split: str
    map: str
    model: str
    status: str  # finished | timeout | error
    success: bool
    gde_cm: float
    sspl: float
    n_steps: int
    s_opt: int
    task: TaskInfo
    tags: list[dict] = field(default_factory=list)
    cost_usd: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    wall_s: float = 0.0
    error: str = ""
    error_kind: str = ""  # error records only: one of ERROR_KINDS (left out of the JSON of other records)
    restarts: int = 0  # engine relaunches this episode needed (each re-ran it from its start)
    # Tasks with success regions (EmbRACE release) only, None elsewhere: the release's SPL and oracle success;
    # `unscorable` says why its scorer cannot score the episode (then it counts in no mean).
    spl: float | None = None
    os: bool | None = None
    unscorable: str = ""
    # The first observation, before any step (each step records the observation after its action).
    start_visible: dict[str, int] = field(default_factory=dict)
    start_door_state: dict[str, int] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    schema: int = SCHEMA_VERSION

    def to_json(self) -> dict:
        d = asdict(self)
        if not d["error_kind"]:  # records without an error are as they were before the field existed
            del d["error_kind"]
        return d

    @staticmethod
    def from_json(d: dict) -> "EpisodeRecord":
        d = {k: v for k, v in d.items() if k in _EPISODE_FIELDS}
        if d.get("status") == "error" and "error_kind" not in d:  # written before error_kind existed
            d["error_kind"] = legacy_error_kind(str(d.get("error") or ""))
        d["task"] = TaskInfo(**{k: v for k, v in d["task"].items() if k in _TASK_FIELDS})
        d["steps"] = [_step(s) for s in d.get("steps", [])]
        return EpisodeRecord(**d)


def _step(s: dict) -> StepRecord:
    if s.keys() == _STEP_FIELDS:  # every field, nothing else (as written): adopt the dict, the fast way
        step = object.__new__(StepRecord)
        step.__dict__ = s
        return step
    return StepRecord(**{k: v for k, v in s.items() if k in _STEP_FIELDS})


_EPISODE_FIELDS = {f.name for f in fields(EpisodeRecord)}
_TASK_FIELDS = {f.name for f in fields(TaskInfo)}
_STEP_FIELDS = {f.name for f in fields(StepRecord)}


class RecordFileError(ValueError):
    pass


# What `EpisodeRecord.from_json(json.loads(line))` raises on a line that is no record (bad JSON, a JSON value
# that is not an object, missing or mistyped fields): every reader reports such a line instead of failing.
UNREADABLE_RECORD = (ValueError, KeyError, TypeError, AttributeError)


def record_line(record: EpisodeRecord) -> str:
    """One episode as its `episodes.jsonl` line (no newline). Secrets are blanked."""
    return redact(json.dumps(record.to_json(), separators=(",", ":"), allow_nan=False))


def append_record(path: Path, record: EpisodeRecord) -> None:
    """Append one episode and fsync, so a crash never loses a finished episode."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(record_line(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_records(path: Path) -> tuple[list[EpisodeRecord], list[str]]:
    """All complete records, plus problems found (a truncated last line is reported, not fatal)."""
    path = Path(path)
    if not path.exists():
        raise RecordFileError(f"no episodes file at {path}")
    records, problems = [], []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(EpisodeRecord.from_json(json.loads(line)))
        except UNREADABLE_RECORD as exc:
            problems.append(f"{path}:{n}: unreadable record ({exc.__class__.__name__}: {exc})")
    return records, problems
