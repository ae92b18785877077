"""bench/review_sheets.py and bench/sheet_measures.py: the goal outlines re-rendered from the world match the
record's own visible counts, the search facts measure the horizon and the spread, and a sheet PNG is written."""
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import review_sheets  # noqa: E402
import sheet_measures as sm  # noqa: E402

from embrace_bench.records import read_records  # noqa: E402

# Multi-stage, Open Door and Pick & Drop tasks whose goals are in view from the start
IDS = ["ood-3-019", "id-4_1-081", "id-4_2-015"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sheets") / "tiny"
    p = subprocess.run([sys.executable, "-m", "embrace_bench", "model=heuristic", "split=all", f"suite.ids=[{','.join(IDS)}]",
                        "env.renderer=numpy", "env.width=160", "env.height=120", "runner.max_steps=3",
                        f"hydra.run.dir={out}"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    return out


def test_re_rendered_goal_pixels_equal_the_recorded_visible_counts(run):
    records, problems = read_records(run / "episodes.jsonl")
    assert not problems and sorted(r.task_id for r in records) == sorted(IDS)
    gr = sm.GoalRenderer("numpy")
    seen = {}
    for rec in records:
        roles = sm.goal_roles(rec)
        assert [r for r, _ in roles] == {"3": ["sub1", "sub2"], "4.1": ["door"], "4.2": ["pick", "drop"]}[rec.type]
        views = gr.episode(rec, (160, 120))
        assert [ob.k for ob, _, _ in views] == list(range(len(rec.steps) + 1))
        for ob, outlines, _ in views:
            got = {o.name: o.pixels for o in outlines}
            for role, name in roles:
                assert got.get(name, 0) == ob.visible.get(name, 0), (rec.task_id, ob.k, name)
                seen[role] = seen.get(role, 0) + got.get(name, 0)
            for o in outlines:  # the box holds the pixels; the label scales them to a 640x480 frame
                x0, y0, x1, y1 = o.box
                assert 0 <= x0 <= x1 < 160 and 0 <= y0 <= y1 < 120 and o.pixels <= (x1 - x0 + 1) * (y1 - y0 + 1)
                assert not o.approx and o.label().endswith(f"/ {o.pixels * 16} px")
                assert o.label().startswith(f"{o.role} {(x1 - x0 + 1) * 4}x{(y1 - y0 + 1) * 4} ")
    assert seen["sub1"] > 0 and seen["door"] > 0 and seen["drop"] > 0  # real pixels, not all-empty masks


def test_labels_mark_counts_off_the_record_by_more_than_ten_percent():
    o = sm.Outline("target", "X", (10, 20, 19, 24), 100, 100, (320, 240))
    assert o.label() == "target 20x10 / 400 px" and not o.approx
    assert sm.Outline("sub1", "X", (0, 0, 0, 0), 111, 100, (320, 240)).label().startswith("~sub1 ")
    assert sm.Outline("sub1", "X", (0, 0, 0, 0), 110, 100, (320, 240)).approx is False
    assert sm.Outline("pick", "X", (0, 0, 0, 0), 3, 0, (640, 480)).label() == "~pick 1x1 / 3 px"


def test_horizon_coverage_is_the_union_of_the_view_arcs():
    assert sm.horizon_coverage([0.0], 90) == 0.25
    assert sm.horizon_coverage([0.0, 0.0, 360.0], 90) == 0.25  # the same heading counts once
    assert sm.horizon_coverage([0.0, 45.0], 90) == pytest.approx(135 / 360)
    assert sm.horizon_coverage([170.0, -170.0], 90) == pytest.approx(110 / 360)  # across +-180
    assert sm.horizon_coverage([0.0, 90.0, 180.0, 270.0], 90) == 1.0
    line = sm.search_line([[0, 0, 90, 0, 0, 0], [300, 400, 90, 0, 90, 0]], "")
    assert line == "search: view covered 50% of the horizon; positions within a box of 5.0 m diagonal"


def test_stage_1_search_stops_at_the_midway_target_when_a_pose_is_missing():
    from test_failures import record, traj

    steps = traj(("TurnRight", 0, 0, 90), ("MidwayTarget", 0, 0, 90), ("MoveForward", 1000, 0, 180),
                 ("Finish", 1000, 0, 180))
    steps[0].pose_before = []  # no start pose: stage 1 is still the observations up to the MidwayTarget's
    rec = record(steps, type_="3", targets=(("A", 0, 0), ("B", 2000, 0)))
    whole, stage1 = sm.search_facts(rec)
    assert whole == "search: view covered 50% of the horizon; positions within a box of 10.0 m diagonal"
    assert stage1 == ("search up to the MidwayTarget (step 1): view covered 25% of the horizon; "
                      "positions within a box of 0.0 m diagonal")


def test_the_sheet_is_written_with_outlines_and_search_facts(run, tmp_path):
    out = tmp_path / "sheets"
    assert review_sheets.main([str(run), "--out", str(out), "--list", str(tmp_path / "names.txt"),
                               "--renderer", "numpy"]) == 0
    names = (tmp_path / "names.txt").read_text().split()
    assert sorted(names) == sorted(f"tiny/{i}" for i in IDS)  # 3 steps: none of them succeeds
    for n in names:
        with Image.open(out / (n.replace("/", "__") + ".png")) as im:
            assert im.size[0] == 1830 and im.size[1] > 900
    records, _ = read_records(run / "episodes.jsonl")
    facts = review_sheets.facts(next(r for r in records if r.type == "3"))
    assert any(f.startswith("search: view covered ") and f.endswith(" m diagonal") for f in facts)
