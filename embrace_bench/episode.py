"""One closed-loop episode: observe, ask the agent, parse (re-asking on invalid output), act, record."""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable

from embrace_bench.actions import Action, Parsed, parse_response
from embrace_bench.defaults import MAX_STEPS, SUCCESS_RADIUS_CM
from embrace_bench.env.base import Env
from embrace_bench.models.base import Agent
from embrace_bench.observation import History
from embrace_bench.records import EpisodeRecord, StepRecord, TaskInfo
from embrace_bench.run_dir import frame_name
from embrace_bench.scoring.failures import TagThresholds, tag_episode
from embrace_bench.scoring.metrics import release_fields, score_episode, sspl
from embrace_bench.tasks.model import Task


@dataclass
class EpisodeSettings:
    max_steps: int = MAX_STEPS
    reask: int = 3
    success_radius_cm: float = SUCCESS_RADIUS_CM
    frames_dir: Path | None = None  # save frames/<task_id>/<step>.png when set
    tags: TagThresholds = field(default_factory=TagThresholds)


def task_info(task: Task, radius: float) -> TaskInfo:
    """The record's copy of the task: each TaskInfo field that Task has under the same name, and the radius."""
    return TaskInfo(**{name: getattr(task, name) for name in _TASK_INFO_FIELDS}, success_radius_cm=radius)


_TASK_INFO_FIELDS = tuple(f.name for f in fields(TaskInfo) if f.name in Task.__dataclass_fields__)


def task_objects(task: Task) -> list[str]:
    """The objects whose places the record keeps: targets, distractors, the door, the object to pick up."""
    names = [*task.target_objects, *task.distractors, task.door, task.pick_object]
    return list(dict.fromkeys(n for n in names if n))


def with_tags(record: EpisodeRecord, thresholds: TagThresholds) -> EpisodeRecord:
    """The record with its failure tags, computed as the episode ends (every record gets them here)."""
    record.tags = tag_episode(record, thresholds)
    return record


def episode_record(task: Task, model_name: str, s: EpisodeSettings, steps: list[StepRecord], *,
                   info: TaskInfo | None = None, **outcome) -> EpisodeRecord:
    """A task's tagged record: who and what from the task, totals from its steps, `outcome` the rest
    (status, success, gde_cm, sspl, n_steps, ...). Finished, timed-out and error records are all built here."""
    return with_tags(EpisodeRecord(
        task_id=task.task_id, type=task.type, split=task.split, map=task.map, model=model_name, s_opt=task.s_opt,
        task=info or task_info(task, s.success_radius_cm), steps=steps,
        cost_usd=round(sum(st.cost_usd for st in steps), 6), tokens_in=sum(st.tokens.get("in", 0) for st in steps),
        tokens_out=sum(st.tokens.get("out", 0) for st in steps), **outcome), s.tags)


def _save_frame(frames_dir: Path | None, task: Task, index: int, png: bytes) -> None:
    if frames_dir is None or not png:
        return
    d = frames_dir / task.task_id
    d.mkdir(parents=True, exist_ok=True)
    (d / frame_name(index)).write_bytes(png)


@dataclass
class _Asked:
    """Every try at one step: the answers, their parses, and what they cost together."""

    raws: list[str]
    errors: list[str]
    parsed: Parsed
    tokens: dict[str, int]
    latency: float
    cost: float
    cached: bool

    def error(self) -> str:
        if len(self.raws) == 1:
            return self.errors[0]
        tries = " | ".join(f"try {i + 1}: {e}" for i, e in enumerate(self.errors[:-1]))
        return tries + (f" | final: {self.errors[-1]}" if self.errors[-1] else "")


def _ask(agent: Agent, task: Task, history: History, max_reasks: int) -> _Asked:
    """Ask, then re-ask up to `max_reasks` times while the answer is invalid (re-asks stay out of the history)."""
    reply = agent.act(task, history)
    parsed = parse_response(reply.text)
    a = _Asked([reply.text or ""], [parsed.error], parsed, dict(reply.tokens), reply.latency_s, reply.cost_usd,
               reply.cached)
    while a.parsed.action is None and len(a.raws) <= max_reasks:
        n = len(a.raws)
        # The attempt number keeps each re-ask a distinct request, so a cache never replays the bad answer.
        reply = agent.act(task, history, reask=f"{a.parsed.error} (re-ask {n} of {max_reasks})")
        a.parsed = parse_response(reply.text)
        a.raws.append(reply.text or "")  # None (no text) is recorded as empty: an invalid answer
        a.errors.append(a.parsed.error)
        for k, v in reply.tokens.items():
            a.tokens[k] = a.tokens.get(k, 0) + v
        a.latency += reply.latency_s
        a.cost += reply.cost_usd
        a.cached = a.cached and reply.cached
    return a


def run_episode(env: Env, agent: Agent, task: Task, model_name: str, s: EpisodeSettings,
                on_step: Callable[[StepRecord], None] | None = None) -> EpisodeRecord:
    t0 = time.monotonic()
    info = task_info(task, s.success_radius_cm)
    steps: list[StepRecord] = []
    agent.reset(task)
    obs = env.reset(task)
    info.object_locations, info.object_bounds = env.locate(task_objects(task))
    start = obs  # the episode's first observation (history.initial)
    history = History(initial=start, observations=[obs])
    _save_frame(s.frames_dir, task, 0, obs.png)
    finished = False
    for index in range(s.max_steps):
        ask = _ask(agent, task, history, s.reask)
        parsed = ask.parsed
        step = StepRecord(index=index, action=parsed.action, raw_response=ask.raws[-1], reask_responses=ask.raws[:-1],
                          think=parsed.think, valid=parsed.action is not None, reasks=len(ask.raws) - 1,
                          pose_before=obs.pose, tokens=ask.tokens, latency_s=round(ask.latency, 4),
                          cost_usd=ask.cost, cached=ask.cached, error=ask.error())
        if parsed.action is not None:  # an invalid step is spent, but the world does not move
            result = env.step(parsed.action)
            obs = result.obs
            step.collided, step.dropped_at = result.collided, result.dropped_at
            history.actions.append(parsed.action)
            history.observations.append(obs)
            _save_frame(s.frames_dir, task, index + 1, obs.png)
        step.pose_after, step.visible = obs.pose, obs.visible
        step.door_state, step.held_object = obs.door_state, obs.held_object
        step.object_pose = obs.object_pose
        history.turns.append((ask.raws[-1], obs))
        steps.append(step)
        if on_step:
            on_step(step)
        if parsed.action == Action.Finish:
            finished = True
            break
    sc = score_episode(steps, info, s.max_steps, type_=task.type, start_door_state=start.door_state)
    return episode_record(
        task, model_name, s, steps, info=info, status="finished" if finished else "timeout", success=sc.success,
        gde_cm=round(sc.gde_cm, 2), sspl=round(sspl(sc.success, task.s_opt, sc.n_steps), 4), n_steps=sc.n_steps,
        **release_fields(sc),
        latency_s=round(sum(st.latency_s for st in steps), 4), wall_s=round(time.monotonic() - t0, 3),
        start_visible=start.visible, start_door_state=start.door_state)
