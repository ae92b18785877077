"""Split labelled episodes into a tuned part and an untouched (holdout) part, stratified by agent and type.

    python bench/label_split.py RUN_DIR... --tuned episodes_tuned.txt --holdout episodes_holdout.txt [--seed 13]

Failed episodes only, named `<run dir name>/<task_id>`. Within each (agent, type) group the order is
shuffled with the seed and the episodes alternate between the parts; odd groups give their extra episode
to each part in turn, so both parts end up the same size within one.
"""
from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from pathlib import Path

from embrace_bench.records import read_records
from embrace_bench.run_dir import RunDir


def split(groups: dict[tuple[str, str], list[str]], seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    parts: tuple[list[str], list[str]] = ([], [])
    extra = 0
    for key in sorted(groups):
        names = sorted(groups[key])
        rng.shuffle(names)
        odd = len(names) % 2
        for i, n in enumerate(names):
            parts[extra if odd and i == len(names) - 1 else i % 2].append(n)
        if odd:
            extra = 1 - extra
    return sorted(parts[0]), sorted(parts[1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--tuned", required=True, type=Path)
    ap.add_argument("--holdout", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=13)
    a = ap.parse_args(argv)
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for run in a.runs:
        records, _ = read_records(RunDir(run).episodes)
        for r in records:
            if not r.success:
                groups[(run.name, r.type)].append(f"{run.name}/{r.task_id}")
    tuned, holdout = split(groups, a.seed)
    a.tuned.write_text("".join(n + "\n" for n in tuned))
    a.holdout.write_text("".join(n + "\n" for n in holdout))
    print(f"tuned {len(tuned)}, holdout {len(holdout)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
