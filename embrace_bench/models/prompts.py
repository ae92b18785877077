"""Prompt protocols: (task, history, re-ask) -> a provider-neutral Request.

`embrace_v1` is the paper's per-step protocol: one request per step with the instruction, the scene
description, the executed actions, and the initial frame + the `recent_frames` most recent + the current
one. `embrace_release` is the public release's chat, in the structure of its evaluator (eval_vlm.py at
9f54184): the initial observation and the answer to it always kept, then the last `window` observations
(the current one included), each earlier one followed by its answer; a re-ask is one more user message.
The wording of both is in prompt_texts.py (ours, or a lab's copy through `template_file`).
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from PIL import Image

from embrace_bench.actions import ACTIONS, Action, Magnitudes, parse_response
from embrace_bench.config_schema import ApiModelSchema, PromptSchema, with_defaults
from embrace_bench.models.messages import Message, Part, Request
from embrace_bench.models.prompt_texts import TEXTS, load_template
from embrace_bench.observation import History, Observation
from embrace_bench.tasks.model import Task


@dataclass
class PromptConfig(PromptSchema):
    """The prompt group's settings (their defaults and meanings: config_schema.PromptSchema) plus the wording
    they select: ours, or the template file's."""
    texts: dict[str, str] = field(default_factory=lambda: dict(TEXTS), repr=False)
    action_names: dict[str, str] = field(default_factory=dict, repr=False)  # the template's renames

    def __post_init__(self) -> None:
        if self.name not in PROTOCOLS:
            raise ValueError(f"unknown prompt protocol {self.name!r}; choose one of {', '.join(PROTOCOLS)}")
        if self.image_format not in ("png", "jpeg"):
            raise ValueError(f"prompt.image_format must be png or jpeg, not {self.image_format!r}")
        if self.template_file:
            self.texts, self.action_names = load_template(self.template_file)


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _values(cfg: PromptConfig, task: Task | None = None, history: History | None = None,
            mags: Magnitudes = Magnitudes()) -> _Blank:
    """Every placeholder's value for one request (per-message ones, {step} etc., are added where used)."""
    t = cfg.texts
    v = _Blank(instruction=task.instruction if task else "", scene=(task and task.scene_description) or "not given",
               actions="\n".join(f"- {line}" for line in mags.describe()),
               action_names=", ".join(cfg.action_names.get(a, a) for a in ACTIONS),
               format="<think>your reasoning</think><action>ActionName</action>" if cfg.think
               else "<action>ActionName</action>")
    used = history is not None and Action.MidwayTarget in history.actions
    v["midway_status"] = t["midway_used" if used else "midway_unused"].format_map(v)
    v["question"] = t["question"].format_map(v)
    v["task"] = t["task"].format_map(v)
    return v


def _text(cfg: PromptConfig, slot: str, values: dict, **extra) -> str:
    return cfg.texts[slot].format_map(_Blank({**values, **extra}))


def system_prompt(cfg: PromptConfig, values: dict | None = None) -> str:
    return _text(cfg, "system", _values(cfg) if values is None else values)


_UNKNOWN = re.compile(r"^unknown action (['\"])(.*?)\1")


def reask_text(complaint: str, cfg: PromptConfig | None = None, values: dict | None = None) -> str:
    """The re-ask for `complaint` (actions.parse_response's error): by what was wrong with the answer."""
    cfg = cfg or PromptConfig()
    m = _UNKNOWN.match(complaint)
    slot = "reask_unknown_action" if m else "reask_no_action"
    return _text(cfg, slot, _values(cfg) if values is None else values, complaint=complaint,
                 answer=m.group(2) if m else "")


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
                img = img.resize((c.image_width, c.image_height), Image.Resampling.BILINEAR)
            buf = io.BytesIO()
            if c.image_format == "jpeg":
                img.save(buf, format="JPEG", quality=c.jpeg_quality)
            else:
                img.save(buf, format="PNG", compress_level=6)
            part = Part("image", image=buf.getvalue(), mime=f"image/{c.image_format}")
        self._cache[id(obs)] = (obs, part)
        return part


def _observed(text: str, image: Part, after: str) -> list[Part]:
    """An observation's parts: its label, the image, then the text after it ("" leaves it out)."""
    return [Part("text", text), image] + ([Part("text", after)] if after else [])


def embrace_v1(cfg: PromptConfig, enc: ImageEncoder, task: Task, history: History, reask: str | None) -> list[Message]:
    v = _values(cfg, task, history)
    obs = history.observations
    current = len(obs) - 1
    earlier = list(range(max(1, current - cfg.recent_frames), current))  # the most recent frames before now
    done = "\n".join(f"{i + 1}. {cfg.action_names.get(a, a)}" for i, a in enumerate(history.actions))
    parts = [Part("text", _text(cfg, "v1_executed", v, executed=done or _text(cfg, "v1_none_yet", v)))]
    if current > 0:
        parts += [Part("text", _text(cfg, "v1_initial", v, step=0)), enc(obs[0])]
    for i in earlier:
        parts += [Part("text", _text(cfg, "v1_observation", v, step=i)), enc(obs[i])]
    label = _text(cfg, "v1_current" if current else "v1_current_start", v, step=current)
    parts += _observed(label, enc(obs[current]), _text(cfg, "v1_after", v, step=current))
    if reask:
        parts.append(Part("text", reask_text(reask, cfg, v)))
    return [Message.text("system", system_prompt(cfg, v)), Message("user", parts)]


def _answer(cfg: PromptConfig, v: dict, raw: str) -> str:
    """A past answer as the chat replays it (`release_answer`: the raw text, or its parsed parts)."""
    p = parse_response(raw)
    action = cfg.action_names.get(p.action, p.action) if p.action else _text(cfg, "invalid_action", v)
    return _text(cfg, "release_answer", v, raw=raw or "(no answer)", think=p.think, action=action)


def embrace_release(cfg: PromptConfig, enc: ImageEncoder, task: Task, history: History,
                    reask: str | None) -> list[Message]:
    v = _values(cfg, task, history)
    if history.initial is None:
        raise ValueError("the embrace_release prompt needs the episode's initial observation (history.initial)")
    images = [history.initial] + [after for _, after in history.turns]  # images[i]: what step i acted from
    answers = [answer for answer, _ in history.turns]
    current = len(images) - 1
    msgs = [Message.text("system", system_prompt(cfg, v))]
    after = _text(cfg, "release_after", v)
    if current == 0:
        msgs.append(Message("user", _observed(_text(cfg, "release_start", v, step=0), enc(images[0]), after)))
    else:
        msgs.append(Message("user", _observed(_text(cfg, "release_initial", v, step=0), enc(images[0]), after)))
        msgs.append(Message.text("assistant", _answer(cfg, v, answers[0])))
        for i in range(max(1, current - (cfg.window - 1)), current):  # the window counts the current one
            msgs.append(Message("user", _observed(_text(cfg, "release_observation", v, step=i), enc(images[i]),
                                                  after)))
            msgs.append(Message.text("assistant", _answer(cfg, v, answers[i])))
        msgs.append(Message("user", _observed(_text(cfg, "release_current", v, step=current), enc(images[current]),
                                              after)))
    if reask:  # for this request only, as its own message
        msgs.append(Message.text("user", reask_text(reask, cfg, v)))
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
    """`sampling`: the model group's SAMPLING_KEYS; those it lacks take the model schema's defaults."""
    s = with_defaults(ApiModelSchema, sampling)
    return Request([_join_texts(m) for m in PROTOCOLS[cfg.name](cfg, enc, task, history, reask)],
                   temperature=float(s["temperature"]), max_tokens=int(s["max_tokens"]), top_p=float(s["top_p"]),
                   constrained=bool(s["constrained"]))
