"""The named domain codes (TaskType, Action, Tag): each written once, serialised exactly as the bare strings
records and task files hold, and not spelled out again as string literals elsewhere in the package."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import orjson
import pandas as pd

from embrace_bench.actions import ACTIONS, MOTIONS, TRANSLATIONS, TURNS, Action
from embrace_bench.scoring.tagset import TAG_NAMES, Tag, make_tag
from embrace_bench.tasks.model import NAVIGATION_TYPES, TYPE_NAMES, TYPES, Task, TaskType

PACKAGE = Path(__file__).resolve().parents[1] / "embrace_bench"
MEMBERS = (TaskType.OPEN_DOOR, Action.MidwayTarget, Tag.near_miss)


def test_members_serialise_as_their_bare_strings():
    for m in MEMBERS:
        v = m.value
        assert str(m) == f"{m}" == "{}".format(m) == "%s" % m == v and type(str(m)) is str
        assert json.dumps([m, {m: 1}]) == json.dumps([v, {v: 1}])
        assert orjson.dumps([m]) == orjson.dumps([v])
        buf = io.StringIO()
        pd.DataFrame({"c": [m]}).to_csv(buf, index=False)
        assert buf.getvalue() == f"c\n{v}\n"
        assert m == v and hash(m) == hash(v) and {v: 1}[m] == 1


def test_each_code_is_defined_once_and_the_tuples_derive_from_it():
    assert TYPES == ("0", "1", "2", "3", "4.1", "4.2") == tuple(t.value for t in TaskType)
    assert TYPE_NAMES["4.2"] == TaskType.PICK_DROP.paper_name == "Pick & Drop"
    assert [TaskType(t).paper_name for t in TYPES] == list(TYPE_NAMES.values())
    assert NAVIGATION_TYPES == (TaskType.BASIC, TaskType.EXPLORATION, TaskType.SPATIAL_SEMANTIC)
    assert ACTIONS == tuple(a.value for a in Action) and all(type(a) is str for a in ACTIONS)
    assert MOTIONS == TRANSLATIONS + TURNS and set(TRANSLATIONS) == {"MoveForward", "MoveBackward"}
    assert TAG_NAMES == tuple(t.value for t in Tag) and all(type(t) is str for t in TAG_NAMES)


def test_stored_values_stay_plain_strings():
    """Records, task files and tag dicts keep str, not the enum (yaml and repr would tell them apart)."""
    task = Task(task_id="t", map="m", split="id", type=TaskType.MULTI_STAGE, instruction="-",
                start_pose=[0.0] * 6, target_poses=[[0.0] * 6])
    assert type(task.type) is str and task.type == "3"
    assert type(make_tag(Tag.stuck, [1], "why")["name"]) is str


def _code_lines(path: Path):
    """Each line of a module with its comment stripped (a '#' after whitespace), for the literal checks."""
    for n, line in enumerate(path.read_text().splitlines(), 1):
        yield n, re.split(r"\s#\s", line, maxsplit=1)[0]


def _literals(rx: re.Pattern, skip: tuple[str, ...]) -> list[str]:
    return [f"{p.relative_to(PACKAGE.parent)}:{n}: {code.strip()}" for p in sorted(PACKAGE.rglob("*.py"))
            if p.name not in skip for n, code in _code_lines(p) if rx.search(code)]


def test_no_action_name_is_spelled_out_outside_actions_py():
    rx = re.compile(r"""(["'])(%s)\1""" % "|".join(ACTIONS))
    assert _literals(rx, ("actions.py",)) == []


def test_no_tag_name_is_spelled_out_outside_tagset_py():
    # "timeout" is also an episode status, which is not a tag: it may appear as a literal
    rx = re.compile(r"""(["'])(%s)\1""" % "|".join(t for t in TAG_NAMES if t != Tag.timeout))
    assert _literals(rx, ("tagset.py",)) == []


def test_no_type_code_is_compared_as_a_bare_string():
    rx = re.compile(r"""\b(type|Type|kind|type_|type_code)\s*(==|!=|in|not in)\s*\(?\s*["'](0|1|2|3|4\.1|4\.2)["']""")
    assert _literals(rx, ()) == []
