"""Copy a labelled failure set into tests/fixtures/tag_labels (issue 13): the labelled episodes' records,
trimmed of the answers' text (the tagger never reads it), each run's manifest (thresholds, frame size), and
the labels in two parts: the tuned part (labels the tagger's rules were tuned on) and the untouched part
(labels nobody looked at while tuning).

    python bench/tag_fixture.py --tuned LABELS.jsonl... --untouched LABELS.jsonl... --runs RUN_DIR...
                                [--out tests/fixtures/tag_labels]

A label is filed by its episode (`<run dir name>/<task_id>`); the first label of an episode wins, and an
episode labelled in both parts is an error. Lines that are not well-formed labels (see
bench/tag_agreement.py) are left out, each named on stderr. Frames are not copied: the tagger reads the
records alone.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from tag_agreement import LabelError, parse_label

from embrace_bench.records import read_records, record_line
from embrace_bench.run_dir import RunDir

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tag_labels"
PARTS = {"tuned": "labels_tuned.jsonl", "untouched": "labels_untouched.jsonl"}


def labels_by_episode(paths: list[Path]) -> dict[str, str]:
    """episode -> its label line (the first well-formed one) from the files; bad lines named on stderr."""
    out: dict[str, str] = {}
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                label = parse_label(line, f"{path}:{n}")
            except LabelError as exc:
                print(f"tag_fixture: left out: {exc}", file=sys.stderr)
                continue
            out.setdefault(label.episode, line.strip())
    return out


def trimmed(record):
    for s in record.steps:  # the answers' text: large, and no tag reads it
        s.raw_response, s.think, s.reask_responses = "", "", []
    return record


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tuned", nargs="+", type=Path, required=True, help="labels files of the tuned part")
    ap.add_argument("--untouched", nargs="+", type=Path, required=True, help="labels files of the untouched part")
    ap.add_argument("--runs", nargs="+", type=Path, required=True, help="the run directories the labels are about")
    ap.add_argument("--out", type=Path, default=FIXTURE)
    a = ap.parse_args(argv)
    parts = {"tuned": labels_by_episode(a.tuned), "untouched": labels_by_episode(a.untouched)}
    both = sorted(set(parts["tuned"]) & set(parts["untouched"]))
    if both:
        print(f"tag_fixture: error: {len(both)} episode(s) labelled in both parts, e.g. {both[0]}", file=sys.stderr)
        return 2
    records = {}
    for run in a.runs:
        recs, _ = read_records(RunDir(run).episodes)
        records[run] = [r for r in recs if f"{run.name}/{r.task_id}" in parts["tuned"].keys() | parts["untouched"]]
    found = {f"{run.name}/{r.task_id}" for run, recs in records.items() for r in recs}
    missing = sorted((set(parts["tuned"]) | set(parts["untouched"])) - found)
    if missing:
        print(f"tag_fixture: error: {len(missing)} labelled episode(s) not in the runs, e.g. {missing[0]}",
              file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    for stale in a.out.glob("labels_*.jsonl"):
        stale.unlink()
    if (a.out / "runs").exists():
        shutil.rmtree(a.out / "runs")
    for part, labels in parts.items():
        (a.out / PARTS[part]).write_text("".join(labels[e] + "\n" for e in sorted(labels)), encoding="utf-8")
        print(f"{PARTS[part]}: {len(labels)} episodes")
    for run, recs in records.items():
        dest = a.out / "runs" / run.name
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(RunDir(run).manifest, RunDir(dest).manifest)
        RunDir(dest).episodes.write_text("".join(record_line(trimmed(r)) + "\n" for r in recs), encoding="utf-8")
        print(f"{run.name}: {len(recs)} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
