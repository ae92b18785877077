"""Prompt protocols: (task, history, re-ask) -> a provider-neutral Request.

`embrace_v1` is the paper's per-step protocol: one request per step with the instruction, the scene
description, the executed actions, and the initial frame + the `recent_frames` most recent + the current
one. `embrace_release` is the public release's chat: one conversation per episode keeping the initial
observation plus a window of the last `window` observations, each followed by the model's answer.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from embrace_bench.actions import ACTIONS, Magnitudes
from embrace_bench.env.unreal_env import Observation
from embrace_bench.models.base import History
from embrace_bench.models.messages import Message, Part, Request
from embrace_bench.tasks.model import Task


@dataclass
class PromptConfig:
    name: str = "embrace_v1"
    recent_frames: int = 5  # embrace_v1: earlier frames between the initial and the current one
    window: int = 13  # embrace_release: observations kept besides the initial one
    image_width: int | None = None  # resize before encoding; None keeps the captured size
    image_height: int | None = None
    image_format: str = "png"  # png | jpeg
    jpeg_quality: int = 90
    think: bool = True

    def __post_init__(self) -> None:
        if self.name not in PROTOCOLS:
            raise ValueError(f"unknown prompt protocol {self.name!r}; choose one of {', '.join(PROTOCOLS)}")
        if self.image_format not in ("png", "jpeg"):
            raise ValueError(f"prompt.image_format must be png or jpeg, not {self.image_format!r}")


def system_prompt(cfg: PromptConfig, mags: Magnitudes = Magnitudes()) -> str:
    fmt = "<think>your reasoning</think><action>ActionName</action>" if cfg.think else "<action>ActionName</action>"
    actions = "\n".join(f"- {line}" for line in mags.describe())
    return ("You are an embodied agent in a 3D environment, seeing it through a first-person camera. "
            "Follow the instruction by choosing one action per step.\n\nActions:\n"
            f"{actions}\n\nUse MidwayTarget only in multi-stage tasks, when you reach the first goal. "
            f"Use Finish when you have completed the task.\nAnswer with exactly: {fmt}")


def reask_text(complaint: str) -> str:
    return (f"Your last answer could not be used: {complaint}. Answer again with one action from: "
            f"{', '.join(ACTIONS)}, in the format <think>...</think><action>...</action>.")


class ImageEncoder:
    """Encodes each observation once per episode (the same frame recurs in many requests)."""

    def __init__(self, cfg: PromptConfig) -> None:
        self.cfg = cfg
        self._cache: dict[int, tuple[Observation, Part]] = {}

    def reset(self) -> None:
        self._cache.clear()

    def __call__(self, obs: Observation) -> Part:
        hit = self._cache.get(id(obs))
        if hit is not None and hit[0] is obs:
            return hit[1]
        c = self.cfg
        if c.image_format == "png" and c.image_width is None and obs.png:
            part = Part("image", image=obs.png, mime="image/png")  # the engine's bytes, untouched
        else:
            img = Image.fromarray(obs.rgb)
            if c.image_width and c.image_height:
                img = img.resize((c.image_width, c.image_height), Image.BILINEAR)
            buf = io.BytesIO()
            if c.image_format == "jpeg":
                img.save(buf, format="JPEG", quality=c.jpeg_quality)
            else:
                img.save(buf, format="PNG", compress_level=6)
            part = Part("image", image=buf.getvalue(), mime=f"image/{c.image_format}")
        self._cache[id(obs)] = (obs, part)
        return part


def _task_text(task: Task) -> str:
    return f"Instruction: {task.Instruction}\nScene: {task.scene_description or 'not given'}"


def embrace_v1(cfg: PromptConfig, enc: ImageEncoder, task: Task, history: History, reask: str | None) -> list[Message]:
    obs = history.observations
    current = len(obs) - 1
    earlier = list(range(max(1, current - cfg.recent_frames), current))  # the most recent frames before now
    done = "\n".join(f"{i + 1}. {a}" for i, a in enumerate(history.actions)) or "(none yet)"
    parts = [Part("text", f"{_task_text(task)}\nExecuted actions:\n{done}")]
    if current > 0:
        parts += [Part("text", "Initial observation (step 0):"), enc(obs[0])]
    for i in earlier:
        parts += [Part("text", f"Observation after action {i}:"), enc(obs[i])]
    parts += [Part("text", f"Current observation (after action {current}):" if current else
                   "Current observation (step 0):"), enc(obs[current]),
              Part("text", "What is your next action?")]
    if reask:
        parts.append(Part("text", reask_text(reask)))
    return [Message.text("system", system_prompt(cfg)), Message("user", parts)]


def embrace_release(cfg: PromptConfig, enc: ImageEncoder, task: Task, history: History,
                    reask: str | None) -> list[Message]:
    first = Message("user", [Part("text", f"{_task_text(task)}\nInitial observation:"), enc(history.initial),
                             Part("text", "What is your next action?")])
    msgs = [Message.text("system", system_prompt(cfg)), first]
    turns = history.turns
    kept = range(max(0, len(turns) - cfg.window), len(turns))
    if kept and kept.start > 0:
        # The dropped middle is summarised so the model still knows how far it has come.
        msgs.append(Message.text("assistant", f"(earlier steps 1-{kept.start} omitted)"))
        msgs.append(Message.text("user", "Continue."))
    for i in kept:
        answer, after = turns[i]
        msgs.append(Message.text("assistant", answer or "(no answer)"))
        msgs.append(Message("user", [Part("text", f"Observation after step {i + 1}:"), enc(after),
                                     Part("text", "What is your next action?")]))
    if reask:
        msgs[-1].parts.append(Part("text", reask_text(reask)))
    return msgs


PROTOCOLS = {"embrace_v1": embrace_v1, "embrace_release": embrace_release}


def _join_texts(msg: Message) -> Message:
    """Neighbouring text parts as one, newline-separated: chat templates (Qwen's, and servers applying it)
    concatenate a message's parts with nothing between them, which would glue a label onto the text before."""
    parts: list[Part] = []
    for p in msg.parts:
        if p.kind == "text" and parts and parts[-1].kind == "text":
            parts[-1] = Part("text", f"{parts[-1].text}\n{p.text}")
        else:
            parts.append(p)
    return Message(msg.role, parts)


def build_request(cfg: PromptConfig, enc: ImageEncoder, task: Task, history: History, reask: str | None,
                  sampling: dict) -> Request:
    return Request([_join_texts(m) for m in PROTOCOLS[cfg.name](cfg, enc, task, history, reask)],
                   temperature=float(sampling.get("temperature", 0.0)),
                   max_tokens=int(sampling.get("max_tokens", 1024)), top_p=float(sampling.get("top_p", 1.0)),
                   constrained=bool(sampling.get("constrained", False)))
