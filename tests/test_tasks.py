import collections
import json
from pathlib import Path

import pytest

from embrace_bench.tasks.embrace_v1 import load_v1
from embrace_bench.tasks.generator import DATA_DIR, QUOTAS, dump, generate
from embrace_bench.tasks.model import TYPES, Task
from embrace_bench.tasks.references import Reference, resolve
from embrace_bench.tasks.suite import SuiteError, load_embedded, select
from embrace_bench.world.scene import WorldMap


def test_regeneration_reproduces_the_frozen_suite(tmp_path):
    maps, suites = generate()
    dump(maps, suites, tmp_path)
    frozen = sorted(p.relative_to(DATA_DIR) for p in DATA_DIR.rglob("*.json"))
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.json"))
    assert fresh == frozen
    for rel in frozen:
        assert (tmp_path / rel).read_bytes() == (DATA_DIR / rel).read_bytes(), rel


def test_split_sizes_match_embrace_v1():
    suite = load_embedded(("id", "ood"))
    counts = collections.Counter((t.split, t.type) for t in suite.tasks)
    for split, quota in QUOTAS.items():
        for t in TYPES:
            assert counts[(split, t)] == quota[t]
    assert sum(QUOTAS["id"].values()) == 350 and sum(QUOTAS["ood"].values()) == 457


def test_ood_maps_use_layouts_never_seen_in_domain():
    maps = [json.loads(p.read_text()) for p in (DATA_DIR / "maps").glob("*.json")]
    fam = {s: {m["family"] for m in maps if m["split"] == s} for s in ("id", "ood")}
    assert fam["id"] and fam["ood"] and not fam["id"] & fam["ood"]
    assert len(fam["id"] | fam["ood"]) >= 4


def test_every_task_has_a_demo_under_the_limit_and_a_description():
    for t in load_embedded(("id", "ood")).tasks:
        assert t.demo_actions and t.demo_actions[-1] == "Finish" and t.s_opt <= 31
        assert t.scene_description and t.instruction
        if t.type == "3":
            assert "MidwayTarget" in t.demo_actions and len(t.target_poses) == 2
        if t.type == "4.1":
            assert "OpenDoor" in t.demo_actions and t.door
        if t.type == "4.2":
            assert t.demo_actions.index("PickObject") < t.demo_actions.index("DropObject") and t.pick_object


def test_spatial_references_resolve_to_exactly_the_target():
    suite = load_embedded(("id",))
    maps = {p.stem: WorldMap.from_json(json.loads(p.read_text())) for p in (DATA_DIR / "maps").glob("*.json")}
    dss = [t for t in suite.tasks if t.type == "2"]
    assert dss
    for t in dss:
        # The label alone is ambiguous for these tasks: other objects share the category.
        assert t.distractors
    w = maps[dss[0].map]
    target = w.obj(dss[0].target_objects[0])
    assert len(resolve(Reference("label", target.category, target.color), w, None)) >= 1


def test_instructions_are_varied():
    tasks = load_embedded(("id", "ood")).tasks
    openings = {" ".join(t.instruction.split()[:2]) for t in tasks}
    assert len(openings) >= 20


def test_limit_cycles_through_types_and_errors_name_the_problem():
    tasks = load_embedded(("id",)).tasks
    first = select(tasks, limit=6)
    assert [t.type for t in first] == list(TYPES)
    with pytest.raises(SuiteError, match="unknown task ids: nope"):
        select(tasks, ids=["nope"])
    with pytest.raises(SuiteError, match="task file not found"):
        load_embedded(("id",), Path("/nonexistent"))


def test_task_model_rejects_bad_type():
    with pytest.raises(ValueError, match="unknown task Type '7'"):
        Task(task_id="x", map="m", split="id", type="7", instruction="", start_pose=[0] * 6, target_poses=[[0] * 6])


def test_v1_loader_reads_infos_json(tmp_path):
    d = tmp_path / "Map_A" / "task_001"
    d.mkdir(parents=True)
    (d / "infos.json").write_text(json.dumps({
        "Instruction": "Open the door of the red house.", "Reason": "door", "Type": 4.1,
        "GenAI_Target_Object": "Door_3", "Start_Pose": [100, 200, 90, 0, 45, 0],
        "Action": ["MoveForward", "OpenDoor", "Finish"], "Target_Pose": [500, 600, 90, 0, 0, 0],
        "Trajectory_Pose": [[100, 200, 90, 0, 45, 0]], "Target_Door_Name": "Door_3"}))
    suite = load_v1(tmp_path, "id")
    t = suite.tasks[0]
    assert (t.task_id, t.map, t.type, t.s_opt) == ("task_001", "Map_A", "4.1", 3)
    assert t.target_poses == [[500.0, 600.0, 90.0, 0.0, 0.0, 0.0]] and t.target_objects == ["Door_3"]
    (d / "infos.json").write_text(json.dumps({"Instruction": "x"}))
    with pytest.raises(SuiteError, match="missing fields Type, Start_Pose, Target_Pose"):
        load_v1(tmp_path, "id")
