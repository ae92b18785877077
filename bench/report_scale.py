"""Time and peak memory of the report commands on 100,000 real-shaped episodes, against a plain stdlib parse.

    python -m embrace_bench model=random split=all env.renderer=numpy env.width=160 env.height=120 \\
        runner.save_frames=false hydra.run.dir=/tmp/random_all           # real records, every type
    python bench/report_scale.py /tmp/random_all                         # builds /tmp/report_scale, measures
    python bench/report_scale.py /tmp/random_all --episodes 20000 --commands leaderboard

The input: the random run's records replicated under new task ids (`<id>~r<k>`) up to --episodes, as
`<dest>/base/episodes.jsonl` with the run's manifest (about 0.9 GB at 100,000), and `<dest>/new`, the same
file under a second model name, for `compare`. Each command runs in a fresh process (as a user runs it);
the reference is a fresh process that reads the same file(s) line by line and `json.loads` every line
(compare reads two files, so its reference parses both), run alternately with the command --repeat times
(medians). Printed per command: wall time, CPU time
(user + sys, worker processes included; on a busy machine the steadier figure), peak RSS of the process
and its workers together (sampled every 50 ms: the sum of their PSS, so pages shared by forked workers count
once; for a single process, its ru_maxrss), and both ratios to the
reference measured in the same invocation. The input is written once and reused (--rebuild to redo).
The manifests carry the source run's tagger fingerprint, so a source run made with this code has its stored
tags reused (the first line says whether they are); --no-fingerprint measures a run made before fingerprints,
whose every record is re-tagged.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from embrace_bench.manifest import read_manifest, write_manifest
from embrace_bench.report.runs import tag_thresholds
from embrace_bench.scoring.fingerprint import stored_tags_current

PARSE = ("import json,sys\nfor p in sys.argv[1:]:\n    with open(p, encoding='utf-8') as f:\n"
         "        for line in f:\n            if line.strip():\n                json.loads(line)\n")


def write_manifests(src: Path, dest: Path, fingerprint: bool) -> str:
    """dest/base and dest/new's manifests: src's (dest/new under a second model name), without the tagger
    fingerprint unless `fingerprint` (as a run made before fingerprints); says whether stored tags are reused."""
    manifest, why = read_manifest(src)
    if manifest is None:
        raise SystemExit(why)
    if not fingerprint:
        manifest.sessions = [replace(s, tagger=None) for s in manifest.sessions]
    for name, model in (("base", None), ("new", "random-b")):
        d = dest / name
        d.mkdir(parents=True, exist_ok=True)
        write_manifest(d, replace(manifest, model={**manifest.group("model"), "name": model}) if model else manifest)
    th, _ = tag_thresholds(manifest)
    if stored_tags_current(manifest, th):
        return "reused (the source run's tagger fingerprint matches this code's)"
    return "re-tagged (" + ("the fingerprint was left out" if not fingerprint else
                            "the source run's tagger fingerprint does not match this code's: rerun it") + ")"


def build(src: Path, dest: Path, episodes: int) -> None:
    """dest/base and dest/new: src's records replicated under new task ids, up to `episodes` records."""
    lines = [ln for ln in (src / "episodes.jsonl").read_text(encoding="utf-8").splitlines() if ln.strip()]
    tmp = dest / "base" / "episodes.jsonl.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for i in range(episodes):
            rec = json.loads(lines[i % len(lines)])
            rec["task_id"] = f"{rec['task_id']}~r{i // len(lines)}"
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
    tmp.replace(dest / "base" / "episodes.jsonl")
    new = dest / "new" / "episodes.jsonl"
    new.unlink(missing_ok=True)
    os.link(dest / "base" / "episodes.jsonl", new)  # the same records: compare pairs every task


def _pss(pid: int) -> int:
    """Proportional set size (bytes): pages shared with forked workers count once over the tree."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _tree_rss_mb(root: int) -> float:
    """Memory of `root` and every process under it (worker processes count), from /proc: the sum of their
    proportional set sizes (a page shared by forked processes counts once), resident size where unknown."""
    parent, rss = {}, {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                parent[int(d)], rss[int(d)] = int(fields[1]), int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                pass
    tree, grew = {root}, True
    while grew:
        more = {p for p, pp in parent.items() if pp in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(_pss(p) or rss.get(p, 0) for p in tree) / 2**20


def measure(argv: list[str]) -> tuple[float, float, float, int]:
    """(wall s, cpu s, peak RSS MB of the process tree, exit code) of one fresh process; cpu and RSS count
    its worker processes too."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, done = [0.0], threading.Event()

    def sample():
        while not done.wait(0.05):
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    err = proc.stderr.read().decode(errors="replace")  # drains stderr while it runs
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    done.set()
    sampler.join()
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"{' '.join(argv)} failed ({code}):\n{err[-2000:]}")
    # ru_maxrss: the largest single process, at its peak (which 50 ms sampling can miss)
    return wall, ru.ru_utime + ru.ru_stime, max(peak[0], ru.ru_maxrss / 1024), code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="a recorded run (model=random, split=all) to replicate")
    ap.add_argument("--dest", type=Path, default=Path("/tmp/report_scale"))
    ap.add_argument("--episodes", type=int, default=100_000)
    ap.add_argument("--commands", nargs="+", default=["leaderboard", "score", "compare"])
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--no-fingerprint", action="store_true",
                    help="leave the tagger fingerprint out of the manifests: a run made before fingerprints")
    ap.add_argument("--repeat", type=int, default=1, help="pairs (stdlib parse, command) per command; medians")
    args = ap.parse_args()
    base, new = args.dest / "base", args.dest / "new"
    tags = write_manifests(args.source, args.dest, not args.no_fingerprint)
    have = sum(1 for _ in open(base / "episodes.jsonl", "rb")) if (base / "episodes.jsonl").exists() else 0
    if args.rebuild or have != args.episodes:
        t = time.perf_counter()
        build(args.source, args.dest, args.episodes)
        print(f"built {args.episodes:,} episodes in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    size = (base / "episodes.jsonl").stat().st_size
    print(f"input: {args.episodes:,} episodes, {size / 1e9:.2f} GB ({base / 'episodes.jsonl'}); stored tags {tags}")
    py = sys.executable
    cmds = {"leaderboard": ["leaderboard", str(base), "--out", str(args.dest / "boards")],
            "score": ["score", str(base)], "compare": ["compare", str(base), str(new)],
            "view": ["view", str(base), "--out", str(args.dest / "viewer.html")]}
    for name in args.commands:
        files = [str(base / "episodes.jsonl")] + ([str(new / "episodes.jsonl")] if name == "compare" else [])
        refs, runs = [], []
        for _ in range(args.repeat):  # alternated, so both see the same machine
            refs.append(measure([py, "-c", PARSE, *files]))
            runs.append(measure([py, "-m", "embrace_bench", *cmds[name]]))

        def med(xs, k):
            return statistics.median(x[k] for x in xs)
        ref, wall, cpu, rss = (med(refs, 0), med(refs, 1)), med(runs, 0), med(runs, 1), max(r[2] for r in runs)
        print(f"{name:12s} wall {wall:6.1f} s ({wall / ref[0]:.2f}x), cpu {cpu:6.1f} s ({cpu / ref[1]:.2f}x), "
              f"peak RSS {rss:5.0f} MB (tree)   [stdlib parse{' of both files' if name == 'compare' else ''}: "
              f"wall {ref[0]:.1f} s, cpu {ref[1]:.1f} s; median of {args.repeat}; load average "
              f"{os.getloadavg()[0]:.1f}]")
    if (args.dest / "boards").exists():
        shutil.rmtree(args.dest / "boards")


if __name__ == "__main__":
    main()
