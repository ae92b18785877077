"""The EmbRACE task formats: v1 infos.json folders and the public release's layout (task JSON, area.json
success regions, reference demos), read from the hand-written fixtures in tests/fixtures/; fetch-data."""
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from embrace_bench.tasks.embrace_release import PD_ACTOR, load_release
from embrace_bench.tasks.embrace_v1 import load_v1
from embrace_bench.tasks.fetch import patterns, unpack, verify
from embrace_bench.tasks.model import Task
from embrace_bench.tasks.regions import RegionError, distance_to_rings, in_polygons, in_ring, read_area
from embrace_bench.tasks.suite import SuiteError

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
SQUARE = [[0, 0], [10, 0], [10, 10], [0, 10]]


def test_region_geometry():
    assert in_ring((5, 5), SQUARE) and in_ring((10, 5), SQUARE) and in_ring((0, 0), SQUARE)  # boundary is inside
    assert not in_ring((10.01, 5), SQUARE) and not in_ring((-1, -1), SQUARE)
    donut = [{"outer": SQUARE, "holes": [[[4, 4], [6, 4], [6, 6], [4, 6]]]}]
    assert in_polygons((2, 2), donut) and not in_polygons((5, 5), donut) and not in_polygons((4, 5), donut)
    assert distance_to_rings((13, 14), [SQUARE]) == 5.0 and distance_to_rings((5, 5), [SQUARE]) == 0.0
    assert distance_to_rings((5, -2), [SQUARE, [[20, 20], [30, 20], [30, 30]]]) == 2.0


def test_release_layout_is_read_into_tasks():
    suite = load_release(FIX / "embrace_release", z_tolerance_cm=100.0)
    assert suite.name == "embrace_release" and len(suite.content_hash) == 16
    tasks = {t.task_id: t for t in suite.tasks}
    assert sorted(t.type for t in tasks.values()) == ["0", "3", "4.1", "4.2"]  # release 4 -> 4.1, 5 -> 4.2
    assert suite.notes and "x000100_y000100_z000090_t0_b" in suite.notes[0]  # no area.json: not scored
    basic = tasks["Street_25/x001753_y002542_z000090_t0_a"]
    assert basic.map == "Street_25" and basic.split == "ood" and basic.s_opt == 8
    assert len(basic.demo_poses) == 9 and basic.target_poses == [[456.1, 2205.1, 90.0, 0.0, 0.0, 0.0]]  # footprint centroid
    reg = basic.regions
    assert reg["z_tolerance_cm"] == 100.0 and reg["shortest_path_cm"] == 1150.0
    assert reg["final"]["character"][0]["holes"] == [[[300.0, 2300.0], [400.0, 2300.0], [400.0, 2400.0], [300.0, 2400.0]]]
    assert reg["final"]["z"] == 90.0 and reg["final"]["footprints"][0][0] == [418.1, 2167.1]
    ms = tasks["Street_39/x002712_y001932_z000090_t3_a"]
    assert len(ms.target_poses) == 2 and set(ms.regions) >= {"final", "midway"}
    pd = tasks["Street_25/x004964_y002399_z000090_t5_a_pd"]
    assert (pd.pick_object, pd.pd_type, pd.pick_appearance, pd.pick_size) == (PD_ACTOR, "pd", 2, 1.0)
    assert pd.pick_start_pose == [5435.1, 3130.5, 0.0, 0.0, 181.8, 0.0] and pd.regions["final"]["object"]
    assert pd.demo_actions == [] and pd.s_opt == 0  # no reference demo in the fixture
    # The release-only fields survive a JSON round trip; the v1-shaped files stay without them.
    assert Task.from_json(json.loads(json.dumps(pd.to_json()))) == pd
    assert "regions" not in Task.from_json(tasks["Street_25/x001753_y002542_z000090_t0_a"].to_json() | {"regions": None}).to_json()


def _copy_release(tmp_path):
    import shutil

    dst = tmp_path / "benchmark"
    shutil.copytree(FIX / "embrace_release" / "benchmark", dst)
    return dst


def test_release_errors_name_the_file(tmp_path):
    root = _copy_release(tmp_path)
    area = next(root.glob("success_region/Street_39/*/area.json"))
    d = json.loads(area.read_text())
    d["stages"]["final"]["character_regions"][0]["Outer_Boundary"] = [[0, 0], [1, 1]]
    area.write_text(json.dumps(d))
    with pytest.raises(SuiteError, match=r"area.json: final.character_regions\[0\].Outer_Boundary needs at least 3"):
        load_release(root)
    d["coordinate_system"] = "lat/lon"
    area.write_text(json.dumps(d))
    with pytest.raises(RegionError, match="expected 'UE left-handed world XY"):
        read_area(area)
    task = next(root.glob("task/Street_25/*t0_a.json"))
    task.write_text(json.dumps({"Instruction": "x", "Type": 9, "Start_Pose": [0] * 6}))
    with pytest.raises(SuiteError, match="unknown Type 9; the release uses 0-5"):
        load_release(root)
    with pytest.raises(SuiteError, match="no EmbRACE release benchmark under"):
        load_release(tmp_path / "nowhere")


def test_v1_folders_are_read_with_their_demos():
    suite = load_v1(FIX / "embrace_v1", "id")
    tasks = {t.task_id: t for t in suite.tasks}
    assert sorted(tasks) == ["basic_trashcan", "door_purple_house", "multistage_trashcan_car"]
    door = tasks["door_purple_house"]
    assert (door.map, door.type, door.door, door.s_opt) == ("Street_25", "4.1", "Door_04", 9)
    assert door.target_objects == ["Door_04"] and len(door.demo_poses) == 10
    assert len(tasks["multistage_trashcan_car"].target_poses) == 2


def test_v1_demo_names_are_mapped_and_unknown_ones_rejected(tmp_path):
    d = tmp_path / "M" / "t"
    d.mkdir(parents=True)
    base = {"Instruction": "Pick up the bag.", "Type": "4.2", "Start_Pose": [0, 0, 90, 0, 0, 0],
            "Target_Pose": [100, 0, 0, 0, 0, 0], "PD_ID": "Bag_01"}
    (d / "infos.json").write_text(json.dumps({**base, "Action": ["Pick", "Drop", "Finish"]}))
    assert load_v1(tmp_path, "ood").tasks[0].demo_actions == ["PickObject", "DropObject", "Finish"]
    (d / "infos.json").write_text(json.dumps({**base, "Action": ["Jump"]}))
    with pytest.raises(SuiteError, match="unknown action 'Jump' in the recorded demo"):
        load_v1(tmp_path, "ood")
    (d / "infos.json").write_text(json.dumps({**base, "Start_Pose": [0, 0, 90]}))
    with pytest.raises(SuiteError, match="Start_Pose must be 6 finite numbers"):
        load_v1(tmp_path, "ood")


def test_cli_suites_and_their_one_line_errors(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "embrace_bench", *args, f"hydra.run.dir={tmp_path / 'r'}"],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)

    p = run("suite=embrace_release")
    assert p.returncode == 2 and "suite=embrace_release needs suite.path=" in p.stderr
    p = run("suite=embrace_release", f"suite.path={FIX / 'embrace_release'}")
    assert p.returncode == 2 and "holds only held-out maps: use split=ood" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    task = tmp_path / "v1" / "IndustrialArea" / "t1" / "infos.json"  # a map only UnrealZoo has
    task.parent.mkdir(parents=True)
    task.write_text(json.dumps({"Instruction": "x", "Type": 0, "Start_Pose": [0, 0, 90, 0, 0, 0],
                                "Target_Pose": [1, 1, 0, 0, 0, 0]}))
    p = run("suite=embrace_v1", f"suite.path={tmp_path / 'v1'}")
    assert p.returncode == 2 and p.stderr.strip() == ("embrace-bench: error: the embedded world has no map "
                                                      "IndustrialArea; run this suite with env=unrealzoo")


# ---- fetch-data --------------------------------------------------------------------------------
def _archive(path: Path, files: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_fetch_unpacks_archives_and_checks_them_against_sha256sums(tmp_path):
    cache, dest = tmp_path / "dest" / ".hf", tmp_path / "dest"
    task = b'{"Instruction": "x", "Type": 0, "Start_Pose": [0, 0, 0, 0, 0, 0]}'
    _archive(cache / "packed" / "benchmark" / "EnvA.tar", {"benchmark/task/EnvA/t.json": task})
    _archive(cache / "packed" / "benchmark" / "EnvB.tar", {"benchmark/task/EnvB/u.json": b"{}"})
    (cache / "SHA256SUMS").write_text(f"{hashlib.sha256(task).hexdigest()}  benchmark/task/EnvA/t.json\n"
                                      f"{'0' * 64}  dataset/task/EnvC/v.json\n")
    assert patterns(["benchmark"], ["EnvA"]) == ["SHA256SUMS", "environments.json", "pd_objects.json",
                                                 "packed/benchmark/EnvA.tar"]
    assert [a.name for a in unpack(cache, dest, ["benchmark"], ["EnvA"])] == ["EnvA.tar"]
    assert (dest / "benchmark" / "task" / "EnvA" / "t.json").read_bytes() == task
    assert verify(cache / "SHA256SUMS", dest) == (1, [])  # EnvC was not fetched: not checked
    (dest / "benchmark" / "task" / "EnvA" / "t.json").write_bytes(b"tampered")
    assert verify(cache / "SHA256SUMS", dest) == (1, ["benchmark/task/EnvA/t.json"])
    with pytest.raises(ValueError, match="no environment EnvZ in the benchmark part"):
        unpack(cache, dest, ["benchmark"], ["EnvZ"])
    _archive(cache / "packed" / "benchmark" / "Evil.tar", {"../escape.json": b"{}"})
    with pytest.raises(ValueError, match="unsafe entry"):
        unpack(cache, dest, ["benchmark"], ["Evil"])
    assert not (tmp_path / "escape.json").exists()


def test_fetch_without_network_or_package_is_one_line(tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on: the Hub is unreachable
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HUB_OFFLINE": "0", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}
    p = subprocess.run([sys.executable, "-m", "embrace_bench", "fetch-data", "--dest", str(tmp_path / "d")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 1 and len(lines) == 1, p.stderr
    assert lines[0].startswith(f"embrace-bench fetch-data: error: cannot download mxlin043/EmbRACE from http://127.0.0.1:{port}")
    block = "import sys; sys.modules['huggingface_hub'] = None; from embrace_bench.tasks.fetch import main; sys.exit(main([]))"
    p = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert p.returncode == 2 and "pip install 'embrace_bench[data]'" in p.stderr
