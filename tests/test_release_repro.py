"""`env=unrealzoo` (ReleaseEnv with its defaults: the release's command sequences) against the EmbRACE release's
recorded reproducibility demos, on the stand-in (`serve --unrealzoo`).

Each demo's flat-ground prefix (tests/fixtures/release_repro/demos.json, written from the release's
reproducibility/trajectory/*/infos.json) is replayed on a flat, empty stand-in level of the same name, on a virtual
clock that every wait of the release's advances (the stand-in's game time sees exactly the release's timing, and the
test takes no wall time). The poses read back must match the recorded ones within 1 uu and 0.01 deg, and the door
state and the Pick & Drop object's distance as the release records them. What ReleaseEnv sends is checked command for
command against the golden transcripts in tests/test_release_protocol.py; this file checks what it does.

`python tests/test_release_repro.py` prints the pose error of each demo (commands and wall time per action:
bench/release_actions.py).
"""
from __future__ import annotations

import json
import math
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from embrace_bench.__main__ import CONF_DIR
from embrace_bench.actions import data_action
from embrace_bench.env.engines import env_config, make_env
from embrace_bench.env.release_env import ReleaseEnv
from embrace_bench.tasks.embrace_release import PD_ACTOR, RELEASE_TYPES
from embrace_bench.tasks.model import Task
from embrace_bench.world.unrealzoo import UnrealZooEngine

sys.path.insert(0, str(Path(__file__).parent))
from fakes import InProcessClient

FIX = Path(__file__).parent / "fixtures" / "release_repro"
DEMOS = json.loads((FIX / "demos.json").read_text())


def release_task(key: str, demo: dict) -> Task:
    map_name = key.split("/")[0]
    pd = dict(pick_object=PD_ACTOR, pd_type="p", pick_appearance=demo["PD_ID"], pick_size=demo["PD_Size"],
              pick_start_pose=demo["PD_Start_Pose"]) if demo["Type"] == 5 else {}
    return Task(task_id=key, map=map_name, split="ood", type=RELEASE_TYPES[demo["Type"]], instruction="-",
                start_pose=[float(v) for v in demo["Start_Pose"]], target_poses=[[0.0] * 6], **pd)


def standin_env() -> tuple[UnrealZooEngine, ReleaseEnv]:
    """The stand-in on a flat level and ReleaseEnv with env=unrealzoo's defaults, on a virtual clock that
    ReleaseEnv's waits advance."""
    now = [1000.0]
    eng = UnrealZooEngine("numpy", maps_dir=FIX / "maps", width=64, height=48, load_s=0.0, spawn_s=0.0,
                          clock=lambda: now[0])
    cfg = OmegaConf.load(CONF_DIR / "env" / "unrealzoo.yaml")
    cfg.gpu = 0
    env = make_env(InProcessClient(eng), replace(env_config(cfg), width=64, height=48))
    env._sleep = lambda s: now.__setitem__(0, now[0] + s)
    return eng, env


def xy_dist(a, b) -> float:
    return math.dist(a[:2], b[:2])


def yaw_diff(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def replay(key: str) -> tuple[list, UnrealZooEngine, ReleaseEnv]:
    """The observation after reset and after each of the demo's actions."""
    demo = DEMOS[key]
    eng, env = standin_env()
    obs = [env.reset(release_task(key, demo))] + [env.step(data_action(a)).obs for a in demo["Action"]]
    return obs, eng, env


@pytest.mark.parametrize("key", sorted(DEMOS))
def test_env_unrealzoo_replays_the_releases_recorded_demos_within_1uu_and_a_hundredth_degree(key):
    demo = DEMOS[key]
    obs, eng, env = replay(key)
    assert len(obs) == len(demo["Pose"])
    for i, (o, want) in enumerate(zip(obs, demo["Pose"])):
        assert xy_dist(o.pose, want) <= 1.0 and yaw_diff(o.pose[4], want[2]) <= 0.01, (i, o.pose, want)
    # The release's settings reached the stand-in and shaped the motion.
    assert eng.slomo == 6 and eng.interval_s == 1.0 and eng.view_actor == "spawned_char_0"
    assert eng.camera_settings[(env.camera_id, "lit_source")] == "ldr"
    if demo["Type"] == 4:  # no door on the flat level: every OpenDoor leaves the state at 0, as recorded
        assert [o.door_state["door_state"] for o in obs] == demo["Door_State"]
    if demo["Type"] == 5:  # Pick by reset: the object rides in the hand, within the release's 30 uu drop gate
        dists = [xy_dist(o.pose, o.object_pose) for o in obs]
        assert dists[:-1] == pytest.approx(demo["PD_Dist_2D"][:-1], abs=1.0)
        assert dists[-1] == pytest.approx(demo["PD_Dist_2D"][-1], abs=0.1)
        assert eng.state.held == PD_ACTOR and obs[-1].held_object == PD_ACTOR


def test_drop_by_reset_after_the_pick_demo_lands_as_the_release_notes():
    # Not recorded in the demo: the release's note on its Drop says two `0 -43` back-steps move about 72 uu, so the
    # object, respawned 70 uu ahead at the bucket's pd_config height, lands about 2 uu behind where the character stood.
    key = "VictorianTrainStation/x003143_y-002450_z000142_t5_a_p"
    obs, eng, env = replay(key)
    held = obs[-1]
    assert xy_dist(held.pose, held.object_pose) < 30  # held
    step = env.step("DropObject")
    dropped = step.obs
    x, y, _, _, yaw, _ = held.pose
    assert xy_dist(dropped.pose, (x, y)) == pytest.approx(71.67, abs=0.01)
    assert dropped.pose[4] == pytest.approx(yaw)
    pd = dropped.object_pose
    behind = (x - pd[0]) * math.cos(math.radians(yaw)) + (y - pd[1]) * math.sin(math.radians(yaw))
    assert behind == pytest.approx(1.67, abs=0.01) and xy_dist(pd, (x, y)) == pytest.approx(1.67, abs=0.01)
    assert pd[2] == pytest.approx(dropped.pose[2] - 40)  # pd_config: the bucket (id 18) 40 uu below the centre
    rot = [float(v) for v in env.client.request(f"vget /object/{PD_ACTOR}/rotation").split()]
    assert rot[1] == pytest.approx(yaw)  # turned with the character (the bucket's relative rotation is 0)
    assert eng.state.held is None and dropped.held_object is None and step.dropped_at == pd
    assert xy_dist(dropped.pose, pd) == pytest.approx(70.0, abs=0.01)


if __name__ == "__main__":
    for key in sorted(DEMOS):
        obs = replay(key)[0]
        pos = [xy_dist(o.pose, p) for o, p in zip(obs, DEMOS[key]["Pose"])]
        yaw = [yaw_diff(o.pose[4], p[2]) for o, p in zip(obs, DEMOS[key]["Pose"])]
        print(f"{key}: {len(pos)} poses; position error max {max(pos):.4f} mean {statistics.fmean(pos):.4f} uu; "
              f"yaw error max {max(yaw):.4f} mean {statistics.fmean(yaw):.4f} deg")
