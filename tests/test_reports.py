"""Leaderboards, compare and the trajectory viewer on hand-built runs; their CLI errors."""
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from runfixtures import episode, outcomes_run, write_run

from embrace_bench.__main__ import main
from embrace_bench.report.compare import compare_runs, mcnemar_exact
from embrace_bench.report.runs import load_run

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, capsys=None):
    code = main(list(map(str, args)))
    out = capsys.readouterr() if capsys else None
    return code, out


# ---- leaderboard ------------------------------------------------------------------------------------
def _two_models(tmp_path, suite="embedded"):
    a = outcomes_run(tmp_path / "a", ["success"] * 3 + ["fail", "timeout", "error"], model="model_a", suite=suite,
                     split="all")
    b = write_run(tmp_path / "b", [episode("t000", outcome="fail"), episode("t001", "1", outcome="success"),
                                   episode("o000", "0", split="ood", outcome="success")], model="b|x", suite=suite,
                  split="all")
    return a, b


def test_leaderboard_writes_every_format_per_split(tmp_path, capsys):
    a, b = _two_models(tmp_path)
    code, out = run_cli("leaderboard", a, b, "--out", tmp_path / "lb", capsys=capsys)
    assert code == 0, out.err
    names = sorted(p.name for p in (tmp_path / "lb").iterdir())
    assert names == [f"embedded-{s}.{e}" for s in ("id", "ood") for e in ("csv", "html", "md", "tex")]
    md = (tmp_path / "lb" / "embedded-id.md").read_text()
    # model_a on id: 5 scored (3 successes), 1 error; Wilson 95% of 3/5 is [23.1, 88.2].
    assert "| model_a | 5 | 1 | 60.0 (23–88) |" in md
    assert "b\\|x" in md  # a pipe in a model name cannot break the table
    assert "premature_finish" in md and "## Runs" in md and "abc123" in md
    assert "published" not in md  # reference rows only on the EmbRACE suites
    assert "model_a: 1 episode(s) ended in an error" in md
    rows = list(csv.DictReader(io.StringIO((tmp_path / "lb" / "embedded-id.csv").read_text())))
    overall = next(r for r in rows if r["model"] == "model_a" and r["type"] == "all")
    assert overall["n"] == "5" and overall["n_errors"] == "1" and float(overall["sr"]) == pytest.approx(0.6)
    assert float(overall["tag_api_error"]) == pytest.approx(1 / 6, abs=1e-5)
    assert float(overall["tag_timeout"]) == pytest.approx(1 / 6, abs=1e-5)
    assert float(overall["cost_per_success"]) == pytest.approx(0.01 * (3 * 2 + 1 + 32) / 3)
    assert float(overall["latency_p50_s"]) > 0 and float(overall["tokens_in_per_step"]) == pytest.approx(1000)
    tex = (tmp_path / "lb" / "embedded-id.tex").read_text()
    assert r"\toprule" in tex and r"model\_a" in tex and r"b|x" in tex
    ood = (tmp_path / "lb" / "embedded-ood.md").read_text()
    assert "b\\|x" in ood and "model_a" not in ood


def test_leaderboard_html_is_one_offline_file_with_plots(tmp_path, capsys):
    a, b = _two_models(tmp_path)
    assert run_cli("leaderboard", a, b, "--out", tmp_path / "lb", capsys=capsys)[0] == 0
    html = (tmp_path / "lb" / "embedded-id.html").read_text()
    assert html.count("<svg") == 2 and "<table" in html
    # nothing is fetched: no external script, stylesheet, image or font; the SVG namespace is not a load
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html and "<link" not in html and not re.search(r"url\((?!#)", html)
    assert "b|x" in html and "<td>b|x</td>" in html


def test_published_rows_only_on_embrace_suites(tmp_path, capsys):
    run = outcomes_run(tmp_path / "v1", ["success", "fail"], model="mine", suite="embrace_v1")
    assert run_cli("leaderboard", run, "--out", tmp_path / "lb", capsys=capsys)[0] == 0
    md = (tmp_path / "lb" / "embrace_v1-id.md").read_text()
    assert "*GPT-4o (published, Unreal maps)*" in md and "53.6" in md and "484.7" in md
    assert "Italic rows" in md
    rows = list(csv.DictReader(io.StringIO((tmp_path / "lb" / "embrace_v1-id.csv").read_text())))
    assert any(r["reference"] == "1" and r["model"].startswith("Gemini 2.5 Pro") for r in rows)


def test_stored_tags_are_recomputed_with_a_warning(tmp_path, capsys):
    rec = episode("t000", outcome="fail")
    rec.tags = [{"name": "looping", "steps": [0], "reason": "stale"}]
    run = write_run(tmp_path / "r", [rec])
    loaded = load_run(run, keep=lambda i: True)
    assert [t["name"] for t in loaded.records[0].tags] == ["premature_finish"]
    assert loaded.frame.loc[0, "tag_premature_finish"] and not loaded.frame.loc[0, "tag_looping"]
    assert any("stored tags that differ" in w for w in loaded.warnings)


def test_leaderboard_bad_input_is_one_line(tmp_path, capsys):
    code, out = run_cli("leaderboard", tmp_path / "nope", capsys=capsys)
    assert code == 2 and out.err.strip().count("\n") == 0 and "run directory not found" in out.err
    code, out = run_cli("leaderboard", capsys=capsys)
    assert code == 2 and out.err.strip().count("\n") == 0


def test_leaderboard_takes_a_sweep_folder(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    outcomes_run(sweep / "0_a_id", ["success"], model="a")
    outcomes_run(sweep / "1_b_id", ["fail"], model="b")
    assert run_cli("leaderboard", sweep, "--out", tmp_path / "lb", capsys=capsys)[0] == 0
    md = (tmp_path / "lb" / "embedded-id.md").read_text()
    assert "| a | 1 |" in md and "| b | 1 |" in md


# ---- compare -----------------------------------------------------------------------------------------
def test_mcnemar_exact_values():
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 1024)
    assert mcnemar_exact(8, 2) == pytest.approx(2 * (1 + 10 + 45) / 1024)
    assert mcnemar_exact(2, 8) == mcnemar_exact(8, 2)
    assert 0 < mcnemar_exact(3000, 2000) < 1e-40  # exact arithmetic: no underflow to 0 or nan


def test_compare_flags_a_significant_drop(tmp_path, capsys):
    base = outcomes_run(tmp_path / "base", ["success"] * 30, model="base")
    new = outcomes_run(tmp_path / "new", ["success"] * 18 + ["fail"] * 12, model="new")
    code, out = run_cli("compare", base, new, "--out", tmp_path / "c.md", capsys=capsys)
    assert code == 1, out.err
    md = (tmp_path / "c.md").read_text()
    assert md == out.out and "❌" in md and "SR dropped significantly" in md
    assert "| **All** | 30 | 100.0 | 60.0 | -40.0 ▼ | 12 / 0 | 0.000488 |" in md
    assert "| premature_finish | 0.0 | 40.0 | +40.0 |" in md
    # the same drop is tolerated below --min-drop, or at a stricter alpha it is still significant
    assert run_cli("compare", base, new, "--min-drop", "0.5", capsys=capsys)[0] == 0
    assert run_cli("compare", base, new, "--alpha", "0.001", capsys=capsys)[0] == 1
    # an improvement never fails
    assert run_cli("compare", new, base, capsys=capsys)[0] == 0


def test_compare_small_drop_is_not_significant_and_intervals_are_paired(tmp_path):
    base = outcomes_run(tmp_path / "base", ["success"] * 10, model="base")
    new = outcomes_run(tmp_path / "new", ["success"] * 8 + ["fail"] * 2, model="new")
    c = compare_runs(load_run(base), load_run(new))
    o = c.overall()
    assert not c.regressed and (o.lost, o.gained) == (2, 0) and o.p_value == pytest.approx(0.5)
    assert o.sspl_delta == pytest.approx(-0.2) and o.sspl_ci[0] <= -0.2 <= o.sspl_ci[1] <= 0
    assert o.gde_delta == pytest.approx(0.2 * 800)  # 200 cm -> 1000 cm on two tasks


def test_compare_unusable_input_exits_2(tmp_path, capsys):
    base = outcomes_run(tmp_path / "base", ["success"] * 3)
    other_hash = outcomes_run(tmp_path / "h2", ["success"] * 3, suite_hash="h2")
    other_suite = outcomes_run(tmp_path / "v1", ["success"] * 3, suite="embrace_v1")
    disjoint = write_run(tmp_path / "dis", [episode("zzz")])
    changed = write_run(tmp_path / "chg", [episode("t000", instruction="Go to the blue car.")])
    for other, needle in ((other_hash, "suite hash h1 (base) vs h2 (new)"), (other_suite, "different suites"),
                          (disjoint, "no shared tasks"), (changed, "task t000 differs"),
                          (tmp_path / "missing", "run directory not found")):
        code, out = run_cli("compare", base, other, capsys=capsys)
        assert code == 2 and needle in out.err and out.err.strip().count("\n") == 0, out.err
    code, out = run_cli("compare", base, base, "--alpha", "2", capsys=capsys)
    assert code == 2 and "argument --alpha: must be a number in (0, 1]" in out.err and out.err.strip().count("\n") == 0


def test_compare_excludes_error_pairs(tmp_path):
    base = outcomes_run(tmp_path / "base", ["success", "success", "success"])
    new = outcomes_run(tmp_path / "new", ["success", "error", "fail"])
    c = compare_runs(load_run(base), load_run(new))
    assert c.overall().n == 2 and c.overall().n_excluded == 1
    assert any("ended in an error" in n for n in c.notes) and c.tag_rates["api_error"] == (0.0, 1 / 3)


# ---- viewer -----------------------------------------------------------------------------------------
HOSTILE = ('</script><script>alert("x")</script><img src=x onerror=alert(1)> <!-- --> '
           "\u2028 <svg onload=alert(2)> ]]> {{x}} ${x} `x`")


def _hostile_run(tmp_path):
    rec = episode("t000", outcome="fail", raw=HOSTILE, think=HOSTILE, error=HOSTILE)
    rec.task.instruction = HOSTILE
    run = write_run(tmp_path / "run", [rec, episode("t001", "4.1", outcome="success")], model="<b>m</b>")
    frames = run / "frames" / "t000"
    frames.mkdir(parents=True)
    (frames / "000.png").write_bytes(b"\x89PNG fake")
    return run


def _payload(html):
    m = re.search(r'<script type="application/json" id="run-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_viewer_escapes_hostile_model_text(tmp_path, capsys):
    run = _hostile_run(tmp_path)
    code, out = run_cli("view", run, capsys=capsys)
    assert code == 0, out.err
    html = (run / "viewer.html").read_text()
    assert html.count("<script") == 2 and html.count("</script>") == 2  # only the page's own two
    assert "<img" not in html and "<svg" not in html and "<!--" not in html and "<b>m" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    data = _payload(html)
    ep = data["episodes"][0]
    assert ep["steps"][0]["raw"] == HOSTILE and ep["steps"][0]["think"] == HOSTILE and ep["instruction"] == HOSTILE
    assert data["run"]["model"] == "<b>m</b>"
    js = (ROOT / "embrace_bench/report/viewer_assets/viewer.js").read_text()
    assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|eval\(", js)


def test_viewer_frames_relative_or_embedded_and_map_footprints(tmp_path, capsys):
    run = _hostile_run(tmp_path)
    assert run_cli("view", run, "--out", tmp_path / "out" / "v.html", capsys=capsys)[0] == 0
    data = _payload((tmp_path / "out" / "v.html").read_text())
    assert data["episodes"][0]["frames"] == ["../run/frames/t000/000.png"]
    assert data["episodes"][1]["frames"] == [] and data["maps"] == {}  # no frames saved, no embedded map: still fine
    assert data["episodes"][0]["tags"][0]["name"] == "premature_finish"
    assert data["episodes"][0]["distractors"] == [["Car_02", 0.0, 900.0, None]]
    assert run_cli("view", run, "--out", tmp_path / "e.html", "--embed-frames", capsys=capsys)[0] == 0
    data = _payload((tmp_path / "e.html").read_text())
    assert data["episodes"][0]["frames"][0].startswith("data:image/png;base64,")
    from embrace_bench.report.viewer import map_footprints

    fp = map_footprints("Street_25")
    assert fp["bounds"] == [0.0, 0.0, 6000.0, 6000.0] and any(o[6] == "TrashCan_03" for o in fp["objects"])
    assert map_footprints("../../etc/passwd") is None


def test_view_errors_are_one_line(tmp_path, capsys):
    code, out = run_cli("view", tmp_path / "nope", capsys=capsys)
    assert code == 2 and "run directory not found" in out.err and out.err.strip().count("\n") == 0


@pytest.mark.skipif(not shutil.which("chromium"), reason="needs a headless chromium")
def test_viewer_in_a_browser_renders_hostile_text_as_text(tmp_path, capsys):
    run = _hostile_run(tmp_path)
    assert run_cli("view", run, capsys=capsys)[0] == 0
    p = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000",
                        "--dump-dom", (run / "viewer.html").as_uri() + "#t000"], capture_output=True, text=True,
                       timeout=120)
    dom = p.stdout
    assert "premature_finish" in dom and "Finish at step 0" in dom  # the script ran and drew the episode
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom and "<img src=\"x\"" not in dom and "<img src=x" not in dom
    assert "<svg onload" not in dom


# ---- the documented CI example ---------------------------------------------------------------------
def _regression(out, *overrides):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["bash", "examples/github-actions/regression.sh", str(out), *overrides], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=env)


def test_github_actions_regression_example_passes_and_catches_a_broken_harness(tmp_path):
    """The exact script the workflow runs: the replay of the committed baseline reproduces it (exit 0);
    a harness that scores differently (here a 1 cm success radius) loses every success and fails (exit 1)."""
    wf = (ROOT / "examples/github-actions/regression.yml").read_text()
    assert "bash examples/github-actions/regression.sh results/ci-replay" in wf
    ok = _regression(tmp_path / "ok")
    assert ok.returncode == 0, ok.stderr[-2000:]
    md = (tmp_path / "ok" / "compare.md").read_text()
    assert "✅" in md and "24 tasks paired" in md and "| 0 / 0 |" in md
    broken = _regression(tmp_path / "broken", "runner.success_radius_cm=1")
    assert broken.returncode == 1, broken.stderr[-2000:]
    assert "SR dropped significantly" in (tmp_path / "broken" / "compare.md").read_text()
