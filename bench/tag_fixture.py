"""Copy a labelled failure set into tests/fixtures/tag_labels (issue 13): the labelled episodes' records,
trimmed of the answers' text (the tagger never reads it), each run's manifest (thresholds, frame size), and
the labels split into the tuned part and the untouched part by the episode lists.

    python bench/tag_fixture.py LABELLING_DIR RUN_DIR... [--out tests/fixtures/tag_labels]

LABELLING_DIR holds episodes_tuned.txt, episodes_holdout.txt, optionally exposed_holdout.txt (holdout
episodes whose labels were seen while tuning: they count as tuned), and labels_tuned.jsonl /
labels_holdout.jsonl (a label is filed by its episode, whichever file it is in; the first label of an
episode wins). Frames are not copied: the tagger reads the records alone.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from embrace_bench.records import EPISODES, read_records, record_line

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tag_labels"
LABEL_FILES = ("labels_tuned.jsonl", "labels_holdout.jsonl")


def _names(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def labels_by_episode(src: Path) -> dict[str, str]:
    """episode -> its label line (the first one), from both label files; unreadable lines are skipped."""
    out: dict[str, str] = {}
    for name in LABEL_FILES:
        path = src / name
        for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
            try:
                episode = json.loads(line)["episode"]
            except (ValueError, KeyError, TypeError):
                continue
            out.setdefault(episode, line.strip())
    return out


def trimmed(record):
    for s in record.steps:  # the answers' text: large, and no tag reads it
        s.raw_response, s.think, s.reask_responses = "", "", []
    return record


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("labelling", type=Path)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=FIXTURE)
    a = ap.parse_args(argv)
    exposed = set(_names(a.labelling / "exposed_holdout.txt"))
    tuned = set(_names(a.labelling / "episodes_tuned.txt")) | exposed
    holdout = set(_names(a.labelling / "episodes_holdout.txt")) - exposed
    labels = labels_by_episode(a.labelling)
    a.out.mkdir(parents=True, exist_ok=True)
    for name, part in zip(LABEL_FILES, (tuned, holdout)):
        lines = [labels[e] for e in sorted(part) if e in labels]
        (a.out / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        print(f"{name}: {len(lines)} of {len(part)} episodes labelled")
    wanted = set(labels) & (tuned | holdout)
    for run in a.runs:
        dest = a.out / "runs" / run.name
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run / "manifest.json", dest / "manifest.json")
        records, _ = read_records(run / EPISODES)
        keep = [trimmed(r) for r in records if f"{run.name}/{r.task_id}" in wanted]
        (dest / EPISODES).write_text("".join(record_line(r) + "\n" for r in keep), encoding="utf-8")
        print(f"{run.name}: {len(keep)} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
