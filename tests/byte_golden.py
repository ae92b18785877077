"""Byte-for-byte outputs of small oracle, heuristic and random runs through the real CLI (issue 14, item 6):
a refactor that moves code around must leave the records, manifests, scores, frames and leaderboards exactly
as they were. Each agent runs the first task of every type in the in-domain split (numpy renderer, 160x120
frames, 12 steps), then `score --json` and `leaderboard --out` read the three run dirs.

The golden file holds sha256 hashes only. Before hashing, only what differs between two identical runs, or
names the machine or the code version rather than the results, is normalised, in the raw text (so every
other byte is still compared):
  records      wall_s (each episode's wall-clock time)
  manifest     started, ended, wall_s (run and sessions), git_sha, host, python, sessions[].tagger (a hash of
               the tagger's source files: it changes with any edit of scoring/failures.py)
  leaderboard  the run's start time and the short git SHA in the provenance table
Frames, `score --json` (exit code, stdout and stderr, the temporary folder written <root>) and everything
else are hashed as written.

    python -m tests.byte_golden --write   # only to re-baseline after an intended change of the outputs
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

from tests.report_golden import _cli

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "fixtures" / "byte_golden.json"
AGENTS = ("oracle", "heuristic", "random")
RUN_ARGS = ("split=id", "suite.limit=6", "env.renderer=numpy", "env.width=160", "env.height=120",
            "runner.max_steps=12", "runner.workers=1")

_RECORD_TIMES = re.compile(r'"wall_s":-?[0-9.eE+-]+')
_MANIFEST_VOLATILE = re.compile(
    r'"(started|ended|wall_s|git_sha|host|python|tagger)": ("(?:[^"\\]|\\.)*"|-?[0-9.eE+-]+|null)')
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d)?")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalise_records(text: str) -> str:
    return _RECORD_TIMES.sub('"wall_s":0', text)


def normalise_manifest(text: str) -> str:
    return _MANIFEST_VOLATILE.sub(lambda m: f'"{m.group(1)}": "<{m.group(1)}>"', text)


def normalise_board(text: str, shas: list[str]) -> str:
    for sha in shas:
        if sha:
            text = text.replace(sha[:10], "<git_sha>")
    return _ISO_TIME.sub("<time>", text)


def run_agents(dest: Path) -> dict[str, Path]:
    """Run every agent through `python -m embrace_bench` into dest/<agent>; agent -> run dir."""
    runs = {}
    for agent in AGENTS:
        d = dest / agent
        p = subprocess.run([sys.executable, "-m", "embrace_bench", f"model={agent}", *RUN_ARGS,
                            f"hydra.run.dir={d}"], capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert p.returncode == 0, f"{agent} run failed: {p.stderr[-2000:]}"
        runs[agent] = d
    return runs


def hashes(dest: Path) -> dict[str, str]:
    """name -> sha256 of every compared output (normalised as the module docstring says)."""
    runs = run_agents(dest / "runs")
    got: dict[str, str] = {}
    shas = []
    for agent, d in runs.items():
        for line in normalise_records((d / "episodes.jsonl").read_text(encoding="utf-8")).splitlines():
            got[f"{agent}/episodes.jsonl:{json.loads(line)['task_id']}"] = _sha(line.encode())
        manifest = (d / "manifest.json").read_text(encoding="utf-8")
        shas.append(json.loads(manifest).get("git_sha", ""))
        got[f"{agent}/manifest.json"] = _sha(normalise_manifest(manifest).encode())
        got[f"{agent}/score.json"] = _sha(_cli(["score", str(d), "--json"], dest).encode())
        for frame in sorted((d / "frames").rglob("*")):
            if frame.is_file():
                got[f"{agent}/{frame.relative_to(d).as_posix()}"] = _sha(frame.read_bytes())
    boards = dest / "boards"
    got["leaderboard.log"] = _sha(_cli(["leaderboard", *map(str, runs.values()), "--out", str(boards)], dest).encode())
    for p in sorted(boards.iterdir()):
        got[f"leaderboard/{p.name}"] = _sha(normalise_board(p.read_text(encoding="utf-8"), shas).encode())
    return got


def differences(got: dict[str, str], want: dict[str, str]) -> list[str]:
    return ([f"missing: {k}" for k in sorted(set(want) - set(got))]
            + [f"unexpected: {k}" for k in sorted(set(got) - set(want))]
            + [f"changed: {k}" for k in sorted(set(got) & set(want)) if got[k] != want[k]])


if __name__ == "__main__":
    import tempfile

    if "--write" not in sys.argv:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        table = hashes(Path(tmp))
    GOLDEN.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{GOLDEN}: {len(table)} hashes")
