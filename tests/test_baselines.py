"""Baselines: the oracle solves every bundled task through the real env/engine code, random is seeded,
the heuristic acts on pixels and words only."""
import collections

import numpy as np
from fakes import InProcessClient, observation

from embrace_bench.actions import parse_response
from embrace_bench.baselines.heuristic import HeuristicAgent, colour_mask
from embrace_bench.baselines.oracle import OracleAgent
from embrace_bench.baselines.random_agent import RandomAgent
from embrace_bench.colours import COLOURS as PALETTE
from embrace_bench.env.unreal_env import EnvConfig, UnrealEnv
from embrace_bench.episode import EpisodeSettings, run_episode
from embrace_bench.observation import History
from embrace_bench.tasks.maps import EMBEDDED_MAPS_DIR
from embrace_bench.tasks.model import TYPES
from embrace_bench.tasks.suite import load_embedded
from embrace_bench.world.engine import EmbeddedEngine
from embrace_bench.world.render import Frame, Renderer


class _BlankRenderer(Renderer):
    """Frames are irrelevant to the oracle; a blank one keeps 807 episodes fast."""

    kind = "blank"

    def load(self, world):
        pass

    def render(self, camera, poses=None, hidden=frozenset()):
        z = np.zeros((camera.height, camera.width, 3), np.uint8)
        return Frame(z, z, np.zeros(z.shape[:2], np.float32))


def test_oracle_succeeds_on_every_task_of_every_type_in_both_splits():
    env = UnrealEnv(InProcessClient(EmbeddedEngine(_BlankRenderer(), maps_dir=EMBEDDED_MAPS_DIR, width=8, height=6)),
                    EnvConfig(width=8, height=6))
    agent = OracleAgent()
    wins = collections.Counter()
    totals = collections.Counter()
    for task in load_embedded(("id", "ood")).tasks:
        rec = run_episode(env, agent, task, "oracle", EpisodeSettings())
        totals[(task.split, task.type)] += 1
        wins[(task.split, task.type)] += rec.success
        assert rec.n_steps == task.s_opt
        assert rec.tags == [] or not rec.success, (task.task_id, rec.tags)  # a solved demo shows no failure mode
    for split in ("id", "ood"):
        for t in TYPES:
            assert wins[(split, t)] / totals[(split, t)] >= 0.99, (split, t)


def _task(instruction):
    t = load_embedded(("id",)).tasks[0]
    t.instruction = instruction
    return t


def test_random_is_seeded_per_task():
    t = _task("Walk to the red car.")
    a, b = RandomAgent(seed=1), RandomAgent(seed=1)
    a.reset(t)
    b.reset(t)
    h = History()
    assert [a.act(t, h).text for _ in range(10)] == [b.act(t, h).text for _ in range(10)]


def test_colour_mask_survives_shading():
    rgb = np.zeros((10, 10, 3), np.uint8)
    rgb[2:5, 2:5] = (np.array(PALETTE["red"]) * 0.6).astype(np.uint8)
    m = colour_mask(rgb, "red")
    assert m.sum() == 9 and not colour_mask(rgb, "blue").any()


def test_heuristic_turns_toward_then_walks_then_finishes():
    t = _task("Walk to the red car.")
    agent = HeuristicAgent()
    agent.reset(t)
    frame = np.full((120, 160, 3), 90, np.uint8)
    frame[40:60, 130:150] = PALETTE["red"]  # on the right
    h = History(observations=[observation(frame, png=False)])
    assert parse_response(agent.act(t, h).text).action == "TurnRight"
    centred = np.full((120, 160, 3), 90, np.uint8)
    centred[40:60, 70:90] = PALETTE["red"]
    h.observations.append(observation(centred, png=False))
    assert parse_response(agent.act(t, h).text).action == "MoveForward"
    near = np.full((120, 160, 3), 90, np.uint8)
    near[60:120, 60:100] = PALETTE["red"]  # reaches the bottom of the image: close
    h.observations.append(observation(near, png=False))
    assert parse_response(agent.act(t, h).text).action == "Finish"


def test_heuristic_scans_when_nothing_matches():
    t = _task("Find the purple barrel.")
    agent = HeuristicAgent()
    agent.reset(t)
    h = History(observations=[observation(np.full((120, 160, 3), 90, np.uint8), png=False)])
    assert parse_response(agent.act(t, h).text).action == "TurnRight"
