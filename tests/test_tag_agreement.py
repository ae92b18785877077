"""The bundled labelled failure set (tests/fixtures/tag_labels) is well-formed, and bench/tag_agreement.py
measures the tagger against it: per-tag precision and recall for any tags and the primary cause."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import tag_agreement as ta  # noqa: E402

from embrace_bench.records import read_records  # noqa: E402
from embrace_bench.run_dir import EPISODES  # noqa: E402
from embrace_bench.scoring.failures import TAG_NAMES  # noqa: E402

FIX = ROOT / "tests" / "fixtures" / "tag_labels"


def _episodes() -> set[str]:
    out = set()
    for run in (FIX / "runs").iterdir():
        records, problems = read_records(run / EPISODES)
        assert not problems
        out |= {f"{run.name}/{r.task_id}" for r in records if not r.success}
    return out


def test_the_bundled_labels_are_well_formed_and_cover_failed_recorded_episodes():
    tuned, untouched = ta.read_labels(FIX / "labels_tuned.jsonl"), ta.read_labels(FIX / "labels_untouched.jsonl")
    # Tuned: rounds 1 to 4 (175 + 83 + 98 + 108); untouched: round 5's fresh labels (109), on runs of their own.
    assert len(tuned) == 464 and len(untouched) == 109
    round5 = {"heuristic5", "heuristic5b", "random5", "random5b", "mistakes5", "mistakes5b"}
    assert {lb.episode.split("/")[0] for lb in untouched} == round5
    assert not any(lb.episode.split("/")[0] in round5 for lb in tuned)
    names = [lb.episode for lb in tuned + untouched]
    assert len(names) == len(set(names))  # each episode in one part only
    assert set(names) <= _episodes()  # every label is about a failed episode whose record is bundled
    for part in (tuned, untouched):  # both parts hold the heuristic agent and the scripted mistakes
        assert {lb.episode.split("/")[0].rstrip("0123456789") for lb in part} >= {"heuristic", "mistakes"}
    for lb in tuned + untouched:
        assert lb.primary in lb.tags and lb.tags <= set(TAG_NAMES) and lb.why.strip()


def test_tag_fixture_files_labels_by_part_and_keeps_only_labelled_records(tmp_path, capsys):
    import tag_fixture

    lines = (FIX / "labels_tuned.jsonl").read_text().splitlines()
    tuned, untouched = tmp_path / "t.jsonl", tmp_path / "u.jsonl"
    tuned.write_text("\n".join(lines[:3] + lines[:1]) + "\n")  # a repeated episode: the first label wins
    untouched.write_text("\n".join(lines[3:5] + ['{"episode": "x"}']) + "\n")  # a bad line is left out
    runs = [str(r) for r in sorted((FIX / "runs").iterdir())]
    out = tmp_path / "fix"
    assert tag_fixture.main(["--tuned", str(tuned), "--untouched", str(untouched), "--runs", *runs,
                             "--out", str(out)]) == 0
    assert "left out" in capsys.readouterr().err
    assert len(ta.read_labels(out / "labels_tuned.jsonl")) == 3 and len(ta.read_labels(out / "labels_untouched.jsonl")) == 2
    kept = [r for run in (out / "runs").iterdir() for r in read_records(run / EPISODES)[0]]
    assert len(kept) == 5 and all(s.raw_response == "" for r in kept for s in r.steps)
    assert ta.main(["--runs", *map(str, (out / "runs").iterdir()), "--labels", str(out / "labels_untouched.jsonl")]) == 0
    # An episode in both parts is refused, in one line.
    assert tag_fixture.main(["--tuned", str(tuned), "--untouched", str(tuned), "--runs", *runs,
                             "--out", str(out)]) == 2
    assert "labelled in both parts" in capsys.readouterr().err


@pytest.mark.parametrize("line, needle", [
    ('{"episode": "a/b", "tags": ["stuck"], "primary": "timeout", "why": "x"}', "primary 'timeout' is not among"),
    ('{"episode": "a/b", "tags": ["lost"], "primary": "lost", "why": "x"}', "unknown tag 'lost'"),
    ('{"episode": "ab", "tags": ["stuck"], "primary": "stuck", "why": "x"}', "<source>/<task_id>"),
    ('{"episode": "a/b", "tags": ["stuck"], "primary": "stuck", "why": ""}', "one non-empty line"),
    ("not json", "not JSON"),
])
def test_bad_label_lines_are_one_line_errors(tmp_path, line, needle):
    path = tmp_path / "labels.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(ta.LabelError, match=needle.replace("(", r"\(")):
        ta.read_labels(path)


def test_agreement_counts_precision_and_recall():
    labels = [ta.Label("r/1", {"stuck", "timeout"}, "stuck", "x"), ta.Label("r/2", {"near_miss"}, "near_miss", "x")]
    pred = {"r/1": ({"stuck", "timeout", "looping"}, "stuck"), "r/2": ({"premature_finish"}, "premature_finish")}
    res = ta.agreement(labels, pred)
    any_ = res["rows"]["any"]
    assert any_["stuck"] == {"labelled": 1, "tagged": 1, "agreed": 1, "precision": 1.0, "recall": 1.0}
    assert any_["looping"]["precision"] == 0.0 and any_["near_miss"]["recall"] == 0.0
    assert res["primary_agreed"] == 1 and res["exact_tag_sets"] == 0
    with pytest.raises(ta.LabelError, match="not in the runs"):
        ta.agreement(labels + [ta.Label("r/3", {"stuck"}, "stuck", "x")], pred)


def test_the_agreement_script_runs_on_the_bundled_set(capsys):
    assert ta.main([]) == 0
    out = capsys.readouterr().out
    assert "### labels_tuned:" in out and "### labels_untouched:" in out and "| premature_finish" in out
    assert ta.main(["--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res) == {"labels_tuned", "labels_untouched"}
    for part in res.values():
        assert 0 <= part["primary_agreed"] <= part["episodes"]
        assert set(part["rows"]["primary"]) == set(TAG_NAMES)


def test_the_agreement_script_reports_a_bad_labels_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "labels.jsonl"
    bad.write_text('{"episode": "heuristic/nope", "tags": ["stuck"], "primary": "stuck", "why": "x"}\n')
    assert ta.main(["--labels", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "not in the runs" in err


def _write(path, labels):
    path.write_text("".join(json.dumps({"episode": e, "tags": t, "primary": p, "why": "x"}) + "\n"
                            for e, t, p in labels))
    return path


def test_between_two_people_counts_agreement_on_the_shared_episodes(tmp_path, capsys):
    a = _write(tmp_path / "overlap_a.jsonl", [("r/1", ["stuck", "timeout"], "stuck"),
                                               ("r/2", ["near_miss"], "near_miss"), ("r/9", ["timeout"], "timeout")])
    b = _write(tmp_path / "fresh_b.jsonl", [("r/1", ["stuck", "timeout", "looping"], "looping"),
                                             ("r/2", ["near_miss"], "near_miss"), ("r/3", ["stuck"], "stuck")])
    res = ta.between(ta.read_labels(a), ta.read_labels(b))
    assert res["episodes"] == 2 and res["primary_agreed"] == 1 and res["exact_tag_sets"] == 1  # r/9, r/3 unshared
    assert res["rows"]["stuck"] == {"first": 1, "second": 1, "both": 1, "agreement": 1.0}
    assert res["rows"]["looping"]["agreement"] == 0.0 and res["rows"]["near_miss"]["agreement"] == 1.0
    c = _write(tmp_path / "overlap_c.jsonl", [("s/1", ["timeout"], "timeout")])
    d = _write(tmp_path / "fresh_d.jsonl", [("s/1", ["timeout", "stuck"], "stuck")])
    assert ta.main(["--between", str(a), str(b), "--between", str(c), str(d)]) == 0
    out = capsys.readouterr().out
    assert "### overlap_a vs fresh_b: 2 episodes labelled by both" in out and "| looping | 0 | 1 | 0 | 0.00 |" in out
    assert "### all pairs: 3 episodes labelled by both" in out and "Same primary cause 1/3" in out
    assert ta.main(["--between", str(a), str(c)]) == 2
    assert "share no episode" in capsys.readouterr().err


def test_the_bundled_overlap_labels_relabel_untouched_episodes(capsys):
    untouched = {lb.episode: lb for lb in ta.read_labels(FIX / "labels_untouched.jsonl")}
    overlap = sorted((FIX / "between").glob("labels_overlap_*.jsonl"))
    assert len(overlap) == 3
    for path in overlap:
        labels = ta.read_labels(path)
        assert len(labels) == 8 and all(lb.episode in untouched for lb in labels)
    argv = [x for p in overlap for x in ("--between", str(p), str(FIX / "labels_untouched.jsonl"))]
    assert ta.main(argv + ["--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["all pairs"]["episodes"] == 24 and 0 <= res["all pairs"]["primary_agreed"] <= 24
    # Earlier rounds' overlaps relabel episodes that are now in the tuned part.
    tuned = {lb.episode for lb in ta.read_labels(FIX / "labels_tuned.jsonl")}
    for folder in ("round3", "round4"):
        for path in sorted((FIX / "between" / folder).glob("labels_overlap_*.jsonl")):
            assert {lb.episode for lb in ta.read_labels(path)} <= tuned
