"""The typed manifest: its one reader and writer keep every key (known or not) and name unreadable files."""
import json

from embrace_bench.manifest import Manifest, read_manifest, write_manifest
from embrace_bench.run_dir import RunDir


def test_round_trip_keeps_unknown_keys_and_leaves_unknown_facts_out(tmp_path):
    on_disk = {"suite": "embedded", "max_steps": 8, "sessions": [{"started": "t0", "ended": None, "x": 1}],
               "ended": None, "from_a_newer_harness": {"a": [1, 2]}}
    RunDir(tmp_path).manifest.write_text(json.dumps(on_disk))
    m, why = read_manifest(tmp_path)
    assert why == "" and m.suite == "embedded" and m.max_steps == 8 and m.split is None
    assert m.extra == {"from_a_newer_harness": {"a": [1, 2]}}
    write_manifest(tmp_path, m)
    text = RunDir(tmp_path).manifest.read_text()
    assert json.loads(text) == on_disk  # nothing added (no nulls for facts not known), nothing lost
    assert text == json.dumps(on_disk, indent=2, sort_keys=True) + "\n"
    assert not list(tmp_path.glob("*.tmp"))


def test_a_fresh_manifest_says_it_has_not_ended():
    assert Manifest(suite="s").to_json() == {"suite": "s", "ended": None, "sessions": []}


def test_unreadable_manifests_are_named(tmp_path):
    assert read_manifest(tmp_path) == (None, f"no manifest in {tmp_path}")
    RunDir(tmp_path).manifest.write_text("{half")
    m, why = read_manifest(tmp_path)
    assert m is None and why.startswith(f"unreadable manifest in {tmp_path}")
    RunDir(tmp_path).manifest.write_text("[1]")
    assert read_manifest(tmp_path) == (None, f"{RunDir(tmp_path).manifest} is not a JSON object")


def test_sessions_are_typed_and_keep_the_backends_notes_and_unknown_keys(tmp_path):
    from embrace_bench.manifest import Session

    on_disk = {"ended": "t9", "sessions": [
        {"started": "t0", "backend": "ray", "workers": 2, "resumed_with": 0, "tagger": "ab", "ended": "t5",
         "wall_s": 1.5, "episodes_run": 3, "spent_usd": 0.25, "interrupted": False, "stopped_by_budget": False,
         "ray_init_s": 0.4, "api_limiter": {"cap": 4}},
        {"started": "t6", "from_a_newer_harness": 1}], "extra_thing": [1]}
    RunDir(tmp_path).manifest.write_text(json.dumps(on_disk))
    m, _ = read_manifest(tmp_path)
    first, second = m.sessions
    assert isinstance(first, Session) and (first.backend, first.workers, first.tagger) == ("ray", 2, "ab")
    assert first.extra == {"ray_init_s": 0.4, "api_limiter": {"cap": 4}} and first.interrupted is False
    assert second.ended is None and second.extra == {"from_a_newer_harness": 1}
    write_manifest(tmp_path, m)
    # an unended session now says so (ended: null), as the manifest itself does; every other byte as it was
    on_disk["sessions"][1]["ended"] = None
    assert RunDir(tmp_path).manifest.read_text() == json.dumps(on_disk, indent=2, sort_keys=True) + "\n"
    assert Manifest.of({"sessions": "x"}).sessions == [] and Manifest.of(None) == Manifest()
    assert Manifest.of({"model": "m"}).group("model") == {}
