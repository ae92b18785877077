"""THE action space: names, magnitudes and the parser. Every other module takes its actions from here."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """StrEnum so that str(), f-strings, json and orjson give the bare name records store."""

    MoveForward = "MoveForward"
    MoveBackward = "MoveBackward"
    TurnLeft = "TurnLeft"
    TurnRight = "TurnRight"
    LookUp = "LookUp"
    LookDown = "LookDown"
    OpenDoor = "OpenDoor"
    PickObject = "PickObject"
    DropObject = "DropObject"
    MidwayTarget = "MidwayTarget"
    Finish = "Finish"


ACTIONS: tuple[str, ...] = tuple(a.value for a in Action)
# Which actions move the agent: TRANSLATIONS change its position, MOTIONS (those and the turns) are the
# ones the engine plays as set_move cycles and that can collide; the failure tagger counts TRANSLATIONS.
TURNS: tuple[Action, ...] = (Action.TurnLeft, Action.TurnRight)
TRANSLATIONS: tuple[Action, ...] = (Action.MoveForward, Action.MoveBackward)
MOTIONS: tuple[Action, ...] = TRANSLATIONS + TURNS
INTERACTIONS: tuple[Action, ...] = (Action.OpenDoor, Action.PickObject)
OPPOSITE_TURN: dict[Action, Action] = {Action.TurnLeft: Action.TurnRight, Action.TurnRight: Action.TurnLeft}

# What each action does, for the prompt's action list.
DESCRIPTIONS: dict[Action, str] = {
    Action.MoveForward: "walk forward about {forward_cm:.0f} cm in the direction you face",
    Action.MoveBackward: "step back about {backward_cm:.0f} cm",
    Action.TurnLeft: "turn left by {turn_deg:.0f} degrees",
    Action.TurnRight: "turn right by {turn_deg:.0f} degrees",
    Action.LookUp: "tilt the camera up {look_deg:.0f} degrees for the next observation",
    Action.LookDown: "tilt the camera down {look_deg:.0f} degrees for the next observation",
    Action.OpenDoor: "open the door in front of you (you must be close to it)",
    Action.PickObject: "pick up the object in front of you (you must be close to it)",
    Action.DropObject: "put down the object you are carrying",
    Action.MidwayTarget: "declare that you have reached the first goal of a multi-stage task",
    Action.Finish: "declare that the task is complete and stop",
}


@dataclass(frozen=True)
class Magnitudes:
    """How far each action moves; defaults measured from the EmbRACE-3K sample trajectories."""

    forward_cm: float = 235.0
    backward_cm: float = 60.0
    turn_deg: float = 30.0
    look_deg: float = 30.0
    interact_cm: float = 250.0  # reach for OpenDoor / PickObject, from the agent to the object
    interact_deg: float = 60.0  # the object must be within this bearing of straight ahead
    drop_cm: float = 80.0  # a dropped object lands this far in front of the agent

    def describe(self) -> list[str]:
        fmt = self.__dict__
        return [f"{a}: {DESCRIPTIONS[a].format(**fmt)}" for a in Action]


# What the EmbRACE release's data calls two of these actions (its recorded demos say Pick and Drop).
DATA_ALIASES: dict[str, str] = {"Pick": Action.PickObject.value, "Drop": Action.DropObject.value}
# Answers may use them too: a model prompted with the release's own wording (prompt.template_file) says Pick.
_CANON = {a.lower(): a for a in ACTIONS} | {k.lower(): v for k, v in DATA_ALIASES.items()}


def data_action(name: str) -> str | None:
    """An action name as task data records it -> ours (exact names and the release's aliases), else None."""
    name = str(name)
    return name if name in ACTIONS else DATA_ALIASES.get(name)


_TAG = r"<\s*{name}\s*>(.*?)<\s*/\s*{name}\s*>"
_ACTION_RE = re.compile(_TAG.format(name="action"), re.I | re.S)
_THINK_RE = re.compile(_TAG.format(name="(?:think|reasoning)"), re.I | re.S)
_FENCE_RE = re.compile(r"```[a-zA-Z]*")


@dataclass(frozen=True)
class Parsed:
    action: str | None  # canonical action name, None when missing or not in the vocabulary
    think: str
    error: str  # why the action is invalid ("" when valid)


def normalize_action(text: str) -> str | None:
    """Canonical action for a free string ('move forward', '`TurnLeft`', 'finish.'), else None."""
    key = re.sub(r"[\s_`'\".*:]+", "", text).rstrip(".").lower()
    return _CANON.get(key)


def parse_response(text: str | None) -> Parsed:
    """Tolerant of case, spacing, code fences and <reasoning>; strict about the vocabulary."""
    if not text or not text.strip():
        return Parsed(None, "", "empty response")
    clean = _FENCE_RE.sub("", text)
    think_m = _THINK_RE.search(clean)
    think = think_m.group(1).strip() if think_m else ""
    found = _ACTION_RE.findall(clean)
    if not found:
        return Parsed(None, think, "no <action>...</action> tag")
    raw = found[-1].strip()
    action = normalize_action(raw)
    if action is None:
        return Parsed(None, think, f"unknown action {raw[:60]!r}; valid: {', '.join(ACTIONS)}")
    return Parsed(action, think, "")


def format_response(action: str, think: str = "") -> str:
    return f"<think>{think}</think><action>{action}</action>"


# ---- compiled forms of the action space for constrained decoding (model.constrained=true) ----------
def action_json_schema() -> dict:
    """JSON schema of a structured answer: OpenAI json_schema, Anthropic tool input, Gemini response_schema."""
    return {"type": "object",
            "properties": {"think": {"type": "string"}, "action": {"type": "string", "enum": list(ACTIONS)}},
            "required": ["think", "action"], "additionalProperties": False}


def action_regex(think: bool = True) -> str:
    """The tagged answer as a regular expression, for vLLM guided decoding (structured outputs)."""
    return (r"<think>[^<]*</think>" if think else "") + r"<action>(" + "|".join(ACTIONS) + r")</action>"


def from_structured(obj) -> str:
    """A structured answer ({"think", "action"}) back to the tagged text every record stores."""
    if not isinstance(obj, dict):
        return ""
    return format_response(str(obj.get("action", "")), str(obj.get("think", "")))
