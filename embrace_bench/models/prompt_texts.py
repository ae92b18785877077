"""The wording of the prompt protocols, apart from their structure, and `prompt.template_file`.

prompts.py decides which messages, images and answers a request holds; every sentence in it comes from
TEXTS below (our own wording). A template file (YAML or JSON: slot -> text, any subset) replaces slots with
a lab's own copy of a prompt text, for example the EmbRACE release's evaluator wording from their checkout,
so a run can use exactly the prompt a published number was measured with. Texts are Python format strings
over PLACEHOLDERS; `{{` and `}}` write a literal brace.
"""
from __future__ import annotations

import json
import string
from pathlib import Path

import yaml

# Slot -> our wording. v1_*: the per-step protocol (embrace_v1); release_*: the chat (embrace_release).
TEXTS: dict[str, str] = {
    "system": ("You are an embodied agent in a 3D environment, seeing it through a first-person camera. "
               "Follow the instruction by choosing one action per step.\n\nActions:\n{actions}\n\n"
               "Use MidwayTarget only in multi-stage tasks, when you reach the first goal. "
               "Use Finish when you have completed the task.\nAnswer with exactly: {format}"),
    "task": "Instruction: {instruction}\nScene: {scene}",
    "question": "What is your next action?",
    "midway_used": "",  # {midway_status} once MidwayTarget is in the episode's action history
    "midway_unused": "",  # {midway_status} before that
    # A re-ask, by what was wrong: no action tag (or no answer), or an action outside the vocabulary.
    "reask_no_action": ("Your last answer could not be used: {complaint}. Answer again with one action from: "
                        "{action_names}, in the format <think>...</think><action>...</action>."),
    "reask_unknown_action": ("Your last answer could not be used: {complaint}. Answer again with one action "
                             "from: {action_names}, in the format <think>...</think><action>...</action>."),
    "v1_executed": "{task}\nExecuted actions:\n{executed}",
    "v1_none_yet": "(none yet)",
    "v1_initial": "Initial observation (step 0):",
    "v1_observation": "Observation after action {step}:",
    "v1_current": "Current observation (after action {step}):",
    "v1_current_start": "Current observation (step 0):",
    "v1_after": "{question}",
    # The chat: [start] (at step 0 the only user message) or [initial, answer 0, (observation, answer)...,
    # current]; each observation message is its text, the image, then its `_after` text ("" leaves it out).
    "release_start": "{task}\nInitial observation:",
    "release_initial": "{task}\nInitial observation:",
    "release_observation": "Observation after step {step}:",
    "release_current": "Observation after step {step}:",
    "release_after": "{question}",
    "release_answer": "{raw}",  # how a past answer is replayed; {think} and {action} are its parsed parts
    "invalid_action": "(invalid)",  # {action} of a step whose answer stayed invalid
}
PLACEHOLDERS: dict[str, str] = {
    "instruction": "the task's instruction", "scene": "the scene description ('not given' when empty)",
    "task": "the `task` slot, filled", "question": "the `question` slot", "actions": "one line per action, with "
    "what it does", "action_names": "the action names, comma-separated", "format": "the answer format",
    "midway_status": "`midway_used` or `midway_unused`", "step": "the observation's step number",
    "executed": "the numbered executed actions", "complaint": "why the last answer was unusable",
    "answer": "the unusable action as written", "raw": "a past answer as the model wrote it",
    "think": "a past answer's reasoning", "action": "a past answer's action (renamed by `action_names`)",
}
# A template's own renaming of actions in {action} and {action_names} (e.g. PickObject: Pick), not a text slot.
ACTION_NAMES = "action_names"


class TemplateError(ValueError):
    pass


def _fields(text: str) -> set[str]:
    try:
        return {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise TemplateError(f"bad braces ({exc}); write {{{{ and }}}} for literal braces") from None


def load_template(path: str | Path) -> tuple[dict[str, str], dict[str, str]]:
    """(texts: TEXTS with the file's slots in place, action renames) or a one-line TemplateError."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise TemplateError(f"prompt.template_file: no such file: {path}")
    try:
        raw = path.read_text(encoding="utf-8")
        data = json.loads(raw) if path.suffix == ".json" else yaml.safe_load(raw)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise TemplateError(f"prompt.template_file {path}: unreadable ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise TemplateError(f"prompt.template_file {path}: expected a mapping of slot -> text")
    renames = data.pop(ACTION_NAMES, None) or {}
    if not isinstance(renames, dict) or not all(isinstance(v, str) for v in renames.values()):
        raise TemplateError(f"prompt.template_file {path}: {ACTION_NAMES} must map action -> name")
    unknown = sorted(set(data) - set(TEXTS))
    if unknown:
        raise TemplateError(f"prompt.template_file {path}: unknown slot(s) {', '.join(unknown)}; "
                            f"slots: {', '.join(TEXTS)}, {ACTION_NAMES}")
    texts = dict(TEXTS)
    for slot, text in data.items():
        if not isinstance(text, str):
            raise TemplateError(f"prompt.template_file {path}: slot {slot} must be text, not {type(text).__name__}")
        try:
            bad = sorted(_fields(text) - set(PLACEHOLDERS))
        except TemplateError as exc:
            raise TemplateError(f"prompt.template_file {path}: slot {slot}: {exc}") from None
        if bad:
            raise TemplateError(f"prompt.template_file {path}: slot {slot} uses unknown placeholder "
                                f"{{{bad[0]}}}; placeholders: {', '.join(PLACEHOLDERS)}")
        texts[slot] = text
    _check_required(texts, path)
    return texts, {str(k): v for k, v in renames.items()}


def _check_required(texts: dict[str, str], path: Path) -> None:
    """The instruction must reach the model in both protocols, and the chat must replay past answers."""
    task_has = "instruction" in _fields(texts["task"])

    def carries(*slots: str) -> bool:
        f = set().union(*(_fields(texts[s]) for s in slots))
        return "instruction" in f or ("task" in f and task_has)

    for protocol, slots in (("embrace_v1", ("system", "v1_executed")),
                            ("embrace_release", ("system", "release_start")),
                            ("embrace_release", ("system", "release_initial"))):
        if not carries(*slots):
            raise TemplateError(f"prompt.template_file {path}: missing the required placeholder {{instruction}} "
                                f"(or {{task}}) for {protocol}: put it in {' or '.join(slots)}")
    if not _fields(texts["release_answer"]) & {"raw", "action"}:
        raise TemplateError(f"prompt.template_file {path}: slot release_answer is missing the required "
                            "placeholder {raw} or {action} (the chat would lose the past answers)")
