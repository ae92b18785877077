"""prompt.template_file: a lab's own prompt wording poured into our protocols' structure, and its errors."""
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fakes import history
from PIL import Image

from embrace_bench.actions import parse_response
from embrace_bench.models.prompt_texts import TemplateError
from embrace_bench.models.prompted import PromptedAgent, RawReply
from embrace_bench.models.prompts import ImageEncoder, PromptConfig, build_request
from embrace_bench.tasks.suite import load_embedded

ROOT = Path(__file__).resolve().parent.parent
TASK = load_embedded(("id",)).tasks[3]

# Release-shaped wording written for this test (the task in the system prompt, bare labels, the answers
# replayed from their parsed parts, the release's action names).
TEMPLATE = """
system: |-
  AGENT. TASK: "{instruction}"
  STATUS: {midway_status}
  Answer as <think>...</think><action>ACTION</action>.
midway_used: "Midway declared."
midway_unused: "Midway not declared."
release_start: "Current view."
release_initial: "First view."
release_observation: "View after your previous action."
release_current: "Current view."
release_after: ""
release_answer: "<think>{think}</think><action>{action}</action>"
reask_unknown_action: 'You chose "{answer}", not available. Choose one of: {action_names}.'
reask_no_action: "No action found. Output exactly <think>...</think><action>ACTION</action>."
action_names: {PickObject: Pick, DropObject: Drop}
"""


def _write(tmp_path, text, name="t.yaml"):
    f = tmp_path / name
    f.write_text(text)
    return str(f)


def _history(actions):
    frames = [np.full((48, 64, 3), k, np.uint8) for k in range(len(actions) + 1)]
    h = history(frames)
    h.actions = list(actions)
    h.turns = [(f"<think>saw {k}</think><action>{a}</action>", obs) for k, (a, (_, obs)) in enumerate(zip(actions, h.turns))]
    return h


def _texts(msg):
    return [p.text for p in msg.parts if p.kind == "text"]


def _imgs(msg):
    return [int(np.asarray(Image.open(io.BytesIO(p.image)))[0, 0, 0]) for p in msg.parts if p.kind == "image"]


def test_release_shaped_template_fills_the_chat(tmp_path):
    cfg = PromptConfig(name="embrace_release", window=3, template_file=_write(tmp_path, TEMPLATE))
    h = _history(["MoveForward", "PickObject", "MidwayTarget", "TurnLeft", "DropObject"])
    req = build_request(cfg, ImageEncoder(cfg), TASK, h, "unknown action 'Jump'; valid: ...", {})
    m = req.messages
    assert m[0].parts[0].text == f'AGENT. TASK: "{TASK.instruction}"\nSTATUS: Midway declared.\n' \
                                 "Answer as <think>...</think><action>ACTION</action>."
    # initial + answer 0, then observations 3 and 4 (window 3 counts the current one, 5), each with its answer
    assert [(x.role, _texts(x), _imgs(x)) for x in m[1:]] == [
        ("user", ["First view."], [0]),
        ("assistant", ["<think>saw 0</think><action>MoveForward</action>"], []),
        ("user", ["View after your previous action."], [3]),
        ("assistant", ["<think>saw 3</think><action>TurnLeft</action>"], []),
        ("user", ["View after your previous action."], [4]),
        ("assistant", ["<think>saw 4</think><action>Drop</action>"], []),
        ("user", ["Current view."], [5]),
        ("user", ['You chose "Jump", not available. Choose one of: MoveForward, MoveBackward, TurnLeft, TurnRight, '
                  "LookUp, LookDown, OpenDoor, Pick, Drop, MidwayTarget, Finish."], []),
    ]
    start = build_request(cfg, ImageEncoder(cfg), TASK, _history([]), "no <action>...</action> tag", {}).messages
    assert "Midway not declared." in start[0].parts[0].text
    assert [(x.role, _texts(x), _imgs(x)) for x in start[1:]] == [
        ("user", ["Current view."], [0]),
        ("user", ["No action found. Output exactly <think>...</think><action>ACTION</action>."], [])]
    assert parse_response("<think>x</think><action>Pick</action>").action == "PickObject"  # answers in its names


def test_v1_structure_with_a_template(tmp_path):
    f = _write(tmp_path, json.dumps({"task": "Goal: {instruction}", "v1_executed": "{task} | done: {executed}",
                                     "v1_none_yet": "nothing", "v1_after": ""}), "t.json")
    cfg = PromptConfig(template_file=f)
    req = build_request(cfg, ImageEncoder(cfg), TASK, _history([]), None, {})
    assert _texts(req.messages[1]) == [f"Goal: {TASK.instruction} | done: nothing\nCurrent observation (step 0):"]
    default = build_request(PromptConfig(), ImageEncoder(PromptConfig()), TASK, _history([]), None, {})
    assert _texts(default.messages[1])[-1] == "What is your next action?"  # our wording without a template


@pytest.mark.parametrize("text, error", [
    ("system: 'Act.'\ntask: 'Somewhere.'\n", "missing the required placeholder {instruction} (or {task}) for embrace_v1"),
    ("release_start: 'Go.'\nsystem: 'Act.'\ntask: 'Somewhere.'\nv1_executed: '{instruction}'\n",
     "missing the required placeholder {instruction} (or {task}) for embrace_release: put it in system or "
     "release_start"),
    ("release_answer: 'ok'\n", "slot release_answer is missing the required placeholder {raw} or {action}"),
    ("system: 'TASK {instrucion}'\n", "slot system uses unknown placeholder {instrucion}"),
    ("sytem: 'x'\n", "unknown slot(s) sytem"),
    ("system: 'a { b'\n", "slot system: bad braces"),
    ("- a\n- b\n", "expected a mapping of slot -> text"),
    ("action_names: [Pick]\n", "action_names must map action -> name"),
])
def test_template_errors_are_one_line(tmp_path, text, error):
    with pytest.raises(TemplateError) as exc:
        PromptConfig(template_file=_write(tmp_path, text))
    assert error in str(exc.value) and "\n" not in str(exc.value)


def test_missing_template_file_stops_the_run_with_one_line(tmp_path):
    p = subprocess.run([sys.executable, "-m", "embrace_bench", "model=random", f"prompt.template_file={tmp_path}/none.yaml",
                        f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines()[-1] == f"embrace-bench: error: prompt.template_file: no such file: " \
                                                 f"{tmp_path}/none.yaml"


class _Echo(PromptedAgent):
    """Answers with the cache key it was asked under (a stand-in for a model seeded per request)."""

    def _complete(self, request, key):
        return RawReply(key, 1, 1)


def test_reasks_stay_distinct_when_the_template_leaves_the_complaint_out(tmp_path):
    f = _write(tmp_path, "reask_no_action: 'Answer again.'\nreask_unknown_action: 'Answer again.'\n")
    agent = _Echo({"name": "echo"}, prompt=PromptConfig(name="embrace_release", template_file=f))
    h = _history(["MoveForward"])
    agent.reset(TASK)
    a = agent.act(TASK, h, reask="no <action>...</action> tag (re-ask 1 of 3)").text
    b = agent.act(TASK, h, reask="no <action>...</action> tag (re-ask 2 of 3)").text
    plain = agent.act(TASK, h).text
    assert len({a, b, plain}) == 3  # two re-asks with the same text are still two samples
    ours = _Echo({"name": "echo"}, prompt=PromptConfig(name="embrace_release"))
    ours.reset(TASK)
    req = build_request(ours.prompt, ours.encoder, TASK, h, "empty response (re-ask 1 of 3)", {})
    assert ours.act(TASK, h, reask="empty response (re-ask 1 of 3)").text == req.cache_key("echo")  # keys as before
