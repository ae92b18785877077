"""Records, manifests, scores, frames and leaderboards of small oracle, heuristic and random runs are
byte-for-byte what the golden hashes say (tests/byte_golden.py; re-baseline with
`python -m tests.byte_golden --write` only after an intended change of the outputs)."""
import json

from tests.byte_golden import GOLDEN, differences, hashes, normalise_board, normalise_manifest, normalise_records


def test_runs_are_byte_identical_to_the_goldens(tmp_path):
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = hashes(tmp_path)
    assert not differences(got, want), "\n".join(differences(got, want)[:40])
    # The fixture covers every task type for every agent, frames included.
    for agent in ("oracle", "heuristic", "random"):
        assert sum(k.startswith(f"{agent}/episodes.jsonl:") for k in want) == 6
        assert sum(k.startswith(f"{agent}/frames/") for k in want) > 6


def test_normalisation_touches_only_the_volatile_fields():
    rec = '{"task_id":"t","wall_s":1.234,"gde_cm":12.5,"steps":[{"latency_s":0.0}]}'
    assert normalise_records(rec) == '{"task_id":"t","wall_s":0,"gde_cm":12.5,"steps":[{"latency_s":0.0}]}'
    man = '{\n  "git_sha": "abc",\n  "seed": 0,\n  "started": "2026-01-01T00:00:00+00:00",\n  "wall_s": 3.5\n}'
    assert normalise_manifest(man) == ('{\n  "git_sha": "<git_sha>",\n  "seed": 0,\n  "started": "<started>",\n'
                                       '  "wall_s": "<wall_s>"\n}')
    board = "| 0.1.0 | a21c7e050b | 2026-11-29T18:56:38 | 0.5 |"
    assert normalise_board(board, ["a21c7e050b4cbd"]) == "| 0.1.0 | <git_sha> | <time> | 0.5 |"
    assert differences({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == ["missing: c", "changed: b"]
