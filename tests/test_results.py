"""embrace_bench.results (runs as DataFrames), the streamed report commands against their golden outputs,
the parallel scan, and the viewer's window."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from embrace_bench import results
from embrace_bench.__main__ import main as cli_main
from embrace_bench.records import RecordFileError
from embrace_bench.run_dir import EPISODES
from embrace_bench.scoring.failures import TAG_NAMES, TagThresholds
from embrace_bench.scoring.scan import COLUMNS, WORKERS_ENV, scan_records, workers_for
from tests.report_golden import GOLDEN, materialize, outputs


def test_report_outputs_are_the_golden_ones(tmp_path):
    """Leaderboards (md, csv, tex, html tables), score --json and compare on the recorded oracle, heuristic
    and random runs: byte for byte what the hand-grouped reports wrote before (errors, spend, a task
    recorded twice and a truncated line included)."""
    got = outputs(tmp_path)
    assert sorted(got) == sorted(p.name for p in GOLDEN.iterdir())
    for name, text in got.items():
        assert text == (GOLDEN / name).read_text(encoding="utf-8"), name


def test_episodes_frame_one_row_per_task_with_tags_and_facts(tmp_path):
    runs = materialize(tmp_path)
    ep = results.episodes(tmp_path)  # a folder of runs stands for its runs
    assert ep.groupby("run").size().to_dict() == {"heuristic": 24, "oracle": 24, "random": 24}
    assert {"task_id", "type", "split", "status", "success", "gde_cm", "sspl", "n_steps", "cost_usd",
            "task_instruction", "timed_out", "primary_tag", "run_model", "prompt", "suite", "suite_hash"} <= set(ep)
    assert [c for c in ep if c.startswith("tag_")] == [f"tag_{t}" for t in TAG_NAMES]
    assert ep.filter(like="tag_").dtypes.eq(bool).all()
    assert "latencies" not in ep and "task_key" not in ep
    # the numbers the reports give: SR per run over the scored episodes, tag rates over every episode
    score = json.loads((GOLDEN / "score-random.json").read_text().split("--- stdout\n")[1].split("--- stderr")[0])
    rnd = ep[ep.run == "random"]
    assert rnd[rnd.status != "error"].success.mean() == score["rows"][-1]["sr"]
    assert int((rnd.status == "error").sum()) == score["rows"][-1]["n_errors"] == 2
    assert rnd.tag_api_error.sum() == 1 and any("unreadable record" in w for w in ep.attrs["warnings"])
    csv = pd.read_csv(GOLDEN / "embedded-id.csv")
    row = csv[(csv.model == "heuristic") & (csv.type == "all")].iloc[0]
    h = ep[(ep.run == "heuristic") & (ep.split == "id")]
    assert h.tag_looping.mean() == pytest.approx(row.tag_looping, abs=1e-6)
    # the plain alternative still reads a run
    plain = pd.read_json(runs["oracle"] / EPISODES, lines=True)
    assert len(plain) == 24 and plain.success.all()


def test_steps_frame_one_row_per_counted_step(tmp_path):
    runs = materialize(tmp_path)
    st = results.steps(runs["heuristic"])
    recs = [json.loads(x) for x in (runs["heuristic"] / EPISODES).read_text().splitlines()]
    assert len(st) == sum(len(r["steps"]) for r in recs)
    first = recs[0]["steps"][0]
    row = st.iloc[0]
    assert (row.task_id, row["index"], row.action, row.x, row.yaw) == \
        (recs[0]["task_id"], 0, first["action"], first["pose_after"][0], first["pose_after"][4])
    # the random run holds a task twice (an error, then its re-run): only the re-run's steps count
    rs = results.steps(runs["random"])
    assert rs.groupby("task_id").status.first().ne("error").sum() >= 20
    with pytest.raises(RecordFileError, match="run directory not found"):
        results.steps(tmp_path / "missing")


def test_parallel_scan_gives_the_serial_rows_and_line_numbers(tmp_path):
    runs = materialize(tmp_path)
    lines = (runs["random"] / EPISODES).read_text().splitlines()
    bad = lines.pop()  # the truncated line, moved into the middle with a blank line before it
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines[:13] + ["", bad] + lines[13:]
                              + (runs["heuristic"] / EPISODES).read_text().splitlines()) + "\n")
    serial = scan_records(path, 32, TagThresholds(), workers=1)
    parallel = scan_records(path, 32, TagThresholds(), workers=2)
    assert serial.problems == parallel.problems and serial.problems[0].startswith(f"{path}:15: unreadable")
    for c in COLUMNS:
        a, b = serial.columns[c], parallel.columns[c]
        assert [list(x) for x in a] == [list(x) for x in b] if c == "latencies" else a == b, c
    # the heuristic run's records come later under the same task ids: they replace the random ones
    assert len(serial) == 24 and set(serial.columns["model"]) == {"heuristic"}


def test_worker_count_small_file_none_env_overrides(tmp_path, monkeypatch):
    runs = materialize(tmp_path)
    path = runs["oracle"] / EPISODES
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert workers_for(path) == 1  # a small file is read in this process
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert workers_for(path) == 3
    monkeypatch.setenv(WORKERS_ENV, "many")
    assert workers_for(path) == 1


def test_view_shows_a_window_of_a_large_run(tmp_path, capsys):
    runs = materialize(tmp_path)
    out = tmp_path / "v.html"
    assert cli_main(["view", str(runs["heuristic"]), "--out", str(out), "--offset", "20", "--limit", "3"]) == 0
    err = capsys.readouterr().err
    assert "shows episodes 21-23 of 24" in err and "--offset 23 shows the next" in err
    data = json.loads(out.read_text().split('id="run-data">')[1].split("</script>")[0])
    assert len(data["episodes"]) == 3 and data["run"]["n"] == 24 and data["run"]["shown"] == "21-23"
    assert cli_main(["view", str(runs["heuristic"]), "--out", str(out), "--offset", "24"]) == 2
    assert "past the last of the 24 episodes" in capsys.readouterr().err
    assert cli_main(["view", str(runs["heuristic"]), "--limit", "0"]) == 2
