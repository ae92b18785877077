"""The report commands reuse a run's stored tags only when its manifest says today's tagger code and the same
thresholds made them (scoring/fingerprint.py); otherwise every record is re-tagged, as before."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from runfixtures import episode, write_run

from embrace_bench.report.runs import load_run, read_manifest, tag_thresholds
from embrace_bench.scoring import fingerprint
from embrace_bench.scoring.fingerprint import source_digest, stored_tags_current, tagger_fingerprint, tagger_modules
from embrace_bench.scoring.scan import COLUMNS, scan_run
from embrace_bench.scoring.tagset import TagThresholds

ROOT = Path(__file__).resolve().parent.parent
STALE = [{"name": "looping", "steps": [0], "reason": "stale"}]  # what the tagger would not say of this record


def _stamp(run: Path, *prints: str) -> None:
    """Give the run's manifest one session per fingerprint."""
    m = json.loads((run / "manifest.json").read_text())
    m["sessions"] = [{"started": "2025-01-01T00:00:00", "tagger": p} for p in prints]
    (run / "manifest.json").write_text(json.dumps(m))


def _stale_run(tmp_path: Path, **kw) -> Path:
    rec = episode("t000", outcome="fail")  # re-tagging it says premature_finish
    rec.tags = [dict(t) for t in STALE]
    return write_run(tmp_path / "r", [rec, episode("t001", outcome="success")], **kw)


def _names(run):
    return [t["name"] for t in run.records[0].tags]


def test_stored_tags_reused_when_the_fingerprint_matches(tmp_path):
    run = _stale_run(tmp_path)
    _stamp(run, tagger_fingerprint(TagThresholds()), tagger_fingerprint(TagThresholds()))
    loaded = load_run(run, keep=lambda i: True)
    assert _names(loaded) == ["looping"]  # the stored tags, though the tagger says otherwise
    assert loaded.frame.loc[0, "tag_looping"] and not loaded.frame.loc[0, "tag_premature_finish"]
    assert not any("stored tags" in w for w in loaded.warnings)


def test_retagged_when_the_fingerprint_differs_or_is_absent(tmp_path):
    run = _stale_run(tmp_path)
    other = tagger_fingerprint(TagThresholds(stuck_min_moves=TagThresholds().stuck_min_moves + 1))
    now = tagger_fingerprint(TagThresholds())
    for sessions in ([], [other], [now, other], ["0" * 32]):  # absent, other thresholds, one older session
        _stamp(run, *sessions)
        loaded = load_run(run, keep=lambda i: True)
        assert _names(loaded) == ["premature_finish"], sessions
        assert any("stored tags that differ" in w for w in loaded.warnings)
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["sessions"]  # a run written before fingerprints
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert _names(load_run(run, keep=lambda i: True)) == ["premature_finish"]


def test_a_record_without_tags_or_with_other_metrics_is_retagged(tmp_path):
    run = _stale_run(tmp_path)
    _stamp(run, tagger_fingerprint(TagThresholds()))
    lines = [json.loads(x) for x in (run / "episodes.jsonl").read_text().splitlines()]
    del lines[0]["tags"]  # written before records held tags
    lines[1]["tags"] = [dict(t) for t in STALE]
    lines[1]["success"] = False  # stored metrics the re-scoring does not confirm: the tags may not hold either
    (run / "episodes.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    loaded = load_run(run, keep=lambda i: True)
    assert _names(loaded) == ["premature_finish"]
    assert loaded.records[1].tags == [] and bool(loaded.frame.loc[1, "success"])


def test_fingerprint_covers_the_rule_modules_and_the_thresholds():
    names = set(tagger_modules())
    assert {f"embrace_bench.scoring.{m}" for m in ("failures", "behaviour_tags", "primary", "trajectory", "tagset",
                                                      "metrics")} <= names
    assert len(source_digest()) == 64
    th = TagThresholds()
    assert tagger_fingerprint(th) == tagger_fingerprint(TagThresholds.from_config(json.loads(json.dumps(th.to_json()))))
    assert tagger_fingerprint(th) != tagger_fingerprint(th.for_frame(64, 48))
    assert not stored_tags_current({}, th) and not stored_tags_current({"sessions": "x"}, th)


def test_digest_changes_with_any_tagger_module(tmp_path, monkeypatch):
    copies = {}
    for name, path in tagger_modules().items():
        copies[name] = tmp_path / f"{name}.py"
        copies[name].write_bytes(Path(path).read_bytes())
    monkeypatch.setattr(fingerprint, "tagger_modules", lambda: {n: str(p) for n, p in copies.items()})
    before = fingerprint.source_digest.__wrapped__()  # uncached
    assert before == source_digest()
    primary = copies["embrace_bench.scoring.primary"]
    primary.write_text(primary.read_text() + "# a change\n")
    assert fingerprint.source_digest.__wrapped__() != before


def test_a_run_made_now_is_reported_from_its_stored_tags_with_the_same_rows(tmp_path):
    """The runner's fingerprint (thresholds scaled to its frames) is the one the report derives from the
    manifest, and the reused tags give the rows re-tagging gives."""
    run = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "embrace_bench", "model=random", "split=all", "suite.limit=3",
                        "env.renderer=numpy", "env.width=64", "env.height=48", "runner.save_frames=false",
                        "runner.max_steps=12", f"hydra.run.dir={run}"], capture_output=True, text=True, cwd=ROOT,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    manifest, _ = read_manifest(run)
    th, _ = tag_thresholds(manifest)
    assert th.min_visible_px < TagThresholds().min_visible_px  # scaled to 64x48
    assert stored_tags_current(manifest, th)
    reused = scan_run(run, 12, th, reuse_tags=True)
    fresh = scan_run(run, 12, th, reuse_tags=False)
    assert len(fresh) == 6 and any(fresh.columns["primary_tag"])
    for c in COLUMNS:
        a, b = reused.columns[c], fresh.columns[c]
        assert [list(x) for x in a] == [list(x) for x in b] if c == "latencies" else a == b, c
