"""Error records say what kind of error ended them (`error_kind`); records without an error are unchanged,
and error records written before the field existed get their kind from the message, once, at load time."""
import functools
import json

import pytest
from runs import TASKS, lines, run_quiet, spec

from embrace_bench.baselines.heuristic import HeuristicAgent
from embrace_bench.models.api import ModelCallError
from embrace_bench.records import ERROR_KINDS, EpisodeRecord, TaskInfo, legacy_error_kind, record_line
from embrace_bench.scoring.failures import tag_episode


def _record(**kw) -> EpisodeRecord:
    d = dict(task_id="t", type="0", split="id", map="m", model="x", status="finished", success=True, gde_cm=0.0,
             sspl=1.0, n_steps=0, s_opt=1,
             task=TaskInfo(instruction="go", target_poses=[[0, 0, 0, 0, 0, 0]], target_objects=["T"]))
    return EpisodeRecord(**{**d, **kw})


def test_records_without_an_error_do_not_hold_the_field():
    line = record_line(_record())
    assert "error_kind" not in line
    assert EpisodeRecord.from_json(json.loads(line)).error_kind == ""


def test_error_records_round_trip_their_kind():
    rec = _record(status="error", success=False, error="engine failed 3 times: x", error_kind="engine")
    d = json.loads(record_line(rec))
    assert d["error_kind"] == "engine" and list(d).index("error_kind") == list(d).index("error") + 1
    assert EpisodeRecord.from_json(d) == rec


@pytest.mark.parametrize("message, kind", [
    ("model: gpt: gave up after 5 tries: 429", "model"),
    ("ModelCallError: 429 after 4 retries", "model"),
    ("engine failed 3 times (env.max_restarts=2): EngineError: x", "engine"),
    ("worker actor died: oom | worker actor died: oom", "worker"),
    ("internal: AttributeError: 'NoneType' object has no attribute 'text'", "internal"),
    ("EngineError: engine died", ""),  # an old message that names no kind stays unknown
])
def test_old_error_records_get_their_kind_from_the_message(message, kind):
    old = _record(status="error", success=False, error=message).to_json()
    assert "error_kind" not in old
    assert legacy_error_kind(message) == kind
    rec = EpisodeRecord.from_json(old)
    assert rec.error_kind == kind and rec.error == message  # nothing recorded is lost
    assert ("api_error" in [t["name"] for t in tag_episode(rec)]) == (kind == "model")
    assert kind in ERROR_KINDS + ("",)


class _GivesUp(HeuristicAgent):
    def act(self, task, history, reask=None):
        if task.task_id == TASKS[1].task_id and len(history.actions) == 1:
            raise ModelCallError("heuristic: gave up after 3 tries: 503")
        return super().act(task, history, reask)


def test_a_model_that_gives_up_writes_a_model_error_record(tmp_path):
    s = spec(tmp_path / "run", tasks=TASKS[:2])
    s.make_agent = functools.partial(_GivesUp, {"name": "heuristic"})
    run_quiet(s)
    recs = {r["task_id"]: r for r in lines(tmp_path / "run")}
    bad = recs[TASKS[1].task_id]
    assert bad["status"] == "error" and bad["error_kind"] == "model"
    assert bad["error"] == "model: heuristic: gave up after 3 tries: 503"
    assert [t["name"] for t in bad["tags"]] == ["api_error"]
    assert "error_kind" not in recs[TASKS[0].task_id]
