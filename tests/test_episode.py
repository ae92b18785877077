"""The closed loop's re-ask rules, on the in-process engine."""
from fakes import InProcessClient
from test_baselines import _BlankRenderer

from embrace_bench.env.base import Env
from embrace_bench.env.supervisor import GuardedEnv
from embrace_bench.env.unreal_env import EnvConfig, UnrealEnv
from embrace_bench.episode import EpisodeSettings, run_episode
from embrace_bench.models.base import Agent, Reply
from embrace_bench.tasks.maps import EMBEDDED_MAPS_DIR
from embrace_bench.tasks.suite import load_embedded
from embrace_bench.world.engine import EmbeddedEngine


class Scripted(Agent):
    def __init__(self, answers):
        super().__init__()
        self.answers = list(answers)
        self.reasks = []

    def act(self, task, history, reask=None):
        self.reasks.append(reask)
        return Reply(self.answers.pop(0) if self.answers else "<action>Finish</action>")


def _env():
    engine = EmbeddedEngine(_BlankRenderer(), maps_dir=EMBEDDED_MAPS_DIR, width=8, height=6)
    return UnrealEnv(InProcessClient(engine), EnvConfig(width=8, height=6))


def test_unreal_env_and_the_guarded_env_are_the_env_run_episode_takes():
    env = _env()
    assert isinstance(env, Env) and isinstance(GuardedEnv(env), Env)
    assert not isinstance(object(), Env)  # the protocol checks its methods, so the assertions above can fail


def test_reasks_are_bounded_distinct_and_kept_out_of_the_history():
    task = load_embedded(("id",)).tasks[0]
    agent = Scripted(["<action>Jump</action>", None, "no tags", "<action>Fly</action>",  # step 0: all invalid
                      "<action>Dance</action>", "<action>TurnLeft</action>"])  # step 1: valid on re-ask 1
    rec = run_episode(_env(), agent, task, "scripted", EpisodeSettings(max_steps=3, reask=3))
    s0, s1, s2 = rec.steps
    assert (s0.valid, s0.reasks, s0.action) == (False, 3, None) and len(s0.reask_responses) == 3
    assert s0.pose_after == s0.pose_before  # an invalid step does not move the world
    assert (s1.valid, s1.reasks, s1.action) == (True, 1, "TurnLeft")
    assert s2.action == "Finish" and rec.status == "finished" and rec.n_steps == 3
    asks = [r for r in agent.reasks if r]
    assert len(set(asks)) == len(asks) == 4 and "re-ask 1 of 3" in asks[0] and "re-ask 3 of 3" in asks[2]
