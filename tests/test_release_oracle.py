"""The oracle on EmbRACE release tasks: it plans Open Door and Pick & Drop (to the success regions), and
tasks it has no map for are skipped up front with one line, never an error record each."""
import dataclasses

import pytest
from test_fixture_scores import FIX

from embrace_bench.actions import Magnitudes
from embrace_bench.episode import task_info
from embrace_bench.models.registry import skipped_up_front
from embrace_bench.records import StepRecord
from embrace_bench.scoring.metrics import score_episode
from embrace_bench.tasks.embrace_release import load_release
from embrace_bench.tasks.maps import load_map
from embrace_bench.tasks.planner import execute, plan_task, with_spawned_object
from embrace_bench.world.sim import AGENT_Z, WorldState

TASKS = load_release(FIX / "embrace_release").tasks
RELEASE_MAGS = Magnitudes(forward_cm=125.9, turn_deg=25.0)  # env=unrealzoo's, as the release's demos move


def _replay(task, plan, mags):
    """The plan stepped through the planner's own world, recorded as the env would record it."""
    state = WorldState(with_spawned_object(load_map(task.map), task), mags=mags)
    sx, sy, _, _, syaw, _ = task.start_pose
    state.place_agent(sx, sy, syaw)
    steps, before = [], list(task.start_pose)
    for i, action in enumerate(plan):
        execute(state, action)
        a = state.agent
        after = [a.x, a.y, AGENT_Z, 0.0, a.yaw, 0.0]
        s = StepRecord(index=i, action=action, pose_before=before, pose_after=after,
                       door_state={"door_state": int(any(state.door_open.values()))}, held_object=state.held)
        if task.pick_object:
            s.object_pose = list(state.poses[task.pick_object][0])
        steps.append(s)
        before = after
    return steps


@pytest.mark.parametrize("mags", [Magnitudes(), RELEASE_MAGS], ids=["embedded", "release"])
@pytest.mark.parametrize("task, pd_type", [(t, p) for t in TASKS for p in (("pd", "p") if t.type == "4.2" else (None,))],
                         ids=lambda x: getattr(x, "task_id", str(x)))
def test_the_oracle_plans_every_release_type_to_success(task, pd_type, mags):
    task = dataclasses.replace(task, pd_type=pd_type) if pd_type else task
    plan = plan_task(task, load_map(task.map), mags=mags)
    assert plan[-1] == "Finish" and ("OpenDoor" in plan) == (task.type == "4.1")
    assert ("DropObject" in plan) == (pd_type == "pd") and ("PickObject" in plan) == (task.type == "4.2")
    sc = score_episode(_replay(task, plan, mags), task_info(task, 300.0), 60, start_pose=task.start_pose,
                       type_=task.type, start_door_state={"door_state": 0})
    assert sc.success and sc.os and sc.reason == "" and sc.unscorable == ""


def test_release_pick_and_drop_plans_pick_the_spawned_object():
    """The map's own pickables are left out (the release destroys the pre-placed ones): the fixture's object
    is spawned exactly where the map's Bag_01 stands, and the oracle must carry the task's object."""
    task = next(t for t in TASKS if t.type == "4.2")
    world = with_spawned_object(load_map(task.map), task)
    assert [o.name for o in world.objects if o.pickable] == [task.pick_object]
    assert any(o.name == "Bag_01" for o in load_map(task.map).objects)  # untouched: the cached map is not edited


def test_tasks_without_a_map_are_skipped_up_front_in_one_line():
    elsewhere = [dataclasses.replace(t, map="Nowhere_1") for t in TASKS[:2]]
    kept, note = skipped_up_front({"adapter": "oracle", "name": "oracle"}, TASKS[2:] + elsewhere)
    assert kept == TASKS[2:]
    assert note == "model oracle: 2 task(s) skipped up front: no embedded map to plan on (Nowhere_1)"
    assert skipped_up_front({"adapter": "random", "name": "random"}, elsewhere) == (elsewhere, "")
