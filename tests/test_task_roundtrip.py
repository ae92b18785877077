"""Task's Python field names never reach the disk: each format (the frozen embedded suite, v1 `infos.json`
folders, the release's task files) is read into Task and written back byte for byte, through its one key
table (tasks/model.py EMBEDDED_KEYS, embrace_v1.V1_KEYS, embrace_release.RELEASE_KEYS)."""
import json
from dataclasses import fields
from pathlib import Path

import pytest

from embrace_bench.tasks.embrace_release import RELEASE_KEYS, load_release, release_task_json
from embrace_bench.tasks.embrace_v1 import V1_KEYS, infos_json, load_v1, write_v1
from embrace_bench.tasks.model import EMBEDDED_KEYS, Task
from embrace_bench.tasks.suite import EMBEDDED_DIR, SPLITS, embedded_json, load_embedded

FIX = Path(__file__).resolve().parent / "fixtures"
FIELDS = [f.name for f in fields(Task)]


def test_key_tables_name_task_fields():
    assert list(EMBEDDED_KEYS) == FIELDS  # every field, in field order (the embedded files' key order)
    for table in (EMBEDDED_KEYS, V1_KEYS, RELEASE_KEYS):
        assert set(table) <= set(FIELDS) and len(set(table.values())) == len(table)
    assert all(name == name.lower() for name in FIELDS)  # Python names; the EmbRACE ones stay on disk
    assert {"Instruction", "Type", "Start_Pose", "PD_ID"} <= set(EMBEDDED_KEYS.values())


@pytest.mark.parametrize("split", SPLITS)
def test_embedded_suite_round_trip(split):
    f = EMBEDDED_DIR / f"tasks_{split}.json"
    tasks = load_embedded((split,)).tasks
    assert tasks and embedded_json(tasks) == f.read_text()
    first = json.loads(f.read_text())[0]
    assert list(first)[:5] == ["task_id", "map", "split", "Type", "Instruction"]
    assert tasks[0].instruction == first["Instruction"] and tasks[0].start_pose == first["Start_Pose"]


def test_embedded_entry_with_python_names_is_rejected():
    entry = json.loads((EMBEDDED_DIR / "tasks_id.json").read_text())[0]
    entry["instruction"] = entry.pop("Instruction")
    with pytest.raises(ValueError, match=r"unknown fields \['instruction'\]"):
        Task.from_json(entry)


def test_v1_folder_round_trip(tmp_path):
    src = FIX / "embrace_v1"
    tasks = load_v1(src, "id").tasks
    written = write_v1(tasks, tmp_path)
    assert len(written) == len(tasks) == 3
    for f in written:
        assert f.read_bytes() == (src / f.relative_to(tmp_path)).read_bytes(), f
    assert load_v1(tmp_path, "id").tasks == tasks
    door = infos_json(next(t for t in tasks if t.door))
    assert door["Target_Door_Name"] == "Door_04" and door["Type"] == 4.1 and "door" not in door


def test_release_task_files_round_trip():
    root = FIX / "embrace_release" / "benchmark"
    tasks = load_release(root).tasks
    assert len(tasks) == 4
    for t in tasks:
        f = root / "task" / f"{t.task_id}.json"
        assert json.dumps(release_task_json(t), indent=2) + "\n" == f.read_text(), f
    pd = release_task_json(next(t for t in tasks if t.pick_object))
    assert (pd["PD_ID"], pd["PD_Type"], pd["Type"]) == (2, "pd", 5)  # the release's PD_ID: an appearance index
