import math

from embrace_bench.tasks.planner import plan_task
from embrace_bench.tasks.suite import load_embedded
from embrace_bench.world.mapgen import FAMILIES, generate_map
from embrace_bench.world.scene import WorldMap, make_object
from embrace_bench.world.sim import AGENT_RADIUS, WorldState


def _world(*objs):
    return WorldMap("T", "street", "id", 0, (0.0, 0.0, 3000.0, 3000.0), (90, 90, 90), (150, 190, 235), "test",
                    list(objs))


def test_walk_stops_at_a_footprint_and_reports_the_hit():
    st = WorldState(_world(make_object("Barrel_01", "barrel", "red", 1500, 1000)))
    st.place_agent(1000, 1000, 0)
    assert st.move(0, 235) is False and math.isclose(st.agent.x, 1235, abs_tol=0.01)
    assert st.move(0, 235) is True
    assert st.agent.x <= 1500 - 42 - AGENT_RADIUS + 10  # stopped before the barrel
    st.move(180, 0)
    assert st.last_hit is False and math.isclose(abs(st.agent.yaw), 180)


def test_map_bounds_block():
    st = WorldState(_world())
    st.place_agent(100, 100, 180)
    assert st.move(0, 235) is True and st.agent.x >= 0


def test_door_opens_only_in_reach_and_in_front():
    door = make_object("Door_01", "door", "brown", 1000, 1000, 0)  # panel along +Y from the hinge
    st = WorldState(_world(door))
    st.place_agent(800, 1060, 180)  # facing away
    assert st.open_door() is None
    st.place_agent(600, 1060, 0)  # facing it, out of reach
    assert st.open_door() is None
    st.place_agent(800, 1060, 0)
    assert st.open_door() == "Door_01" and st.door_open["Door_01"]
    assert st.poses["Door_01"][1] == -90.0
    assert st.open_door() is None  # already open


def test_pick_carry_drop():
    st = WorldState(_world(make_object("Bag_01", "bag", "red", 1200, 1000)))
    st.place_agent(1000, 1000, 0)
    assert st.pickup() == "Bag_01" and "Bag_01" in st.hidden()
    st.move(0, 235)
    name, loc = st.drop()
    assert name == "Bag_01" and math.isclose(loc[0], 1235 + st.mags.drop_cm, abs_tol=0.01)
    assert st.held is None and st.drop() is None


def test_maps_are_deterministic_per_seed_and_differ_across_seeds():
    for split, fams in FAMILIES.items():
        for fam in fams:
            a, b = generate_map(fam, 3, split), generate_map(fam, 3, split)
            assert a.to_json() == b.to_json()
            assert a.to_json() != generate_map(fam, 4, split).to_json()


def test_planner_reproduces_the_frozen_demos():
    from embrace_bench.tasks.maps import load_map

    tasks = load_embedded(("id", "ood")).tasks[::40]
    for t in tasks:
        world = load_map(t.map)
        assert plan_task(t, world) == t.demo_actions, t.task_id
