"""Stream a run's episodes.jsonl into one compact row per episode: every record is parsed, re-scored and
re-tagged as it is read, and only its scalar fields, tags and the few step facts the reports need are kept
(the steps themselves are dropped), so memory grows with the number of episodes, not with their steps.
Re-tagging is skipped where the run stored tags by this very tagger and thresholds (scoring/fingerprint.py:
the caller says so with `reuse_tags`) and the record's re-scored metrics equal its stored ones.

Which record counts for a task (a file written by an older resume may hold a task twice): the last record
that is not an error, else the last error (`replaces`); a task keeps the position where it was first seen.
Large files are read by worker processes, each a line-aligned part of the file; the rows are the same. The
warnings are those the reports always gave: unreadable lines, stored metrics or tags that differ from the
recomputed ones (counted over the records that count).
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import multiprocessing as mp
import operator
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np
import orjson

from embrace_bench.records import UNREADABLE_RECORD, EpisodeRecord, RecordFileError, TaskInfo
from embrace_bench.run_dir import RunDir
from embrace_bench.scoring.failures import TAG_NAMES, TagThresholds, tag_episode
from embrace_bench.scoring.metrics import rescore
from embrace_bench.scoring.primary import primary_of
from embrace_bench.scoring.tagset import ORDER

_SCALAR = ("str", "bool", "float", "int", "str | None", "float | None", "int | None", "bool | None")
# Every scalar field of the record and of its task (`task_<name>`), then what is derived from the steps.
RECORD_COLUMNS = tuple(f.name for f in fields(EpisodeRecord) if f.type in _SCALAR)
TASK_COLUMNS = tuple(f.name for f in fields(TaskInfo) if f.type in _SCALAR)
TAG_COLUMNS = tuple(f"tag_{t}" for t in TAG_NAMES)  # one boolean column per failure tag
STEP_COLUMNS = ("timed_out", "n_step_records", "primary_tag")
# Kept for the reports only (results.episodes leaves them out): model latencies of the answered steps, a
# digest of the task (compare checks both runs ran the same task), and whether the stored values differed.
PRIVATE_COLUMNS = ("latencies", "task_key", "metrics_differ", "tags_differ")
COLUMNS = RECORD_COLUMNS + tuple(f"task_{c}" for c in TASK_COLUMNS) + STEP_COLUMNS + TAG_COLUMNS + PRIVATE_COLUMNS
# compared with the stored values (a stored None: written before the field existed, nothing to disagree with)
METRIC_KEYS = ("success", "gde_cm", "sspl", "n_steps", "status", "spl", "os")
_NO_LATENCY = np.zeros(0)
_RECORD_VALUES, _TASK_VALUES = operator.attrgetter(*RECORD_COLUMNS), operator.attrgetter(*TASK_COLUMNS)
_REPEATED = [RECORD_COLUMNS.index(c) for c in ("type", "split", "map", "model", "status")]


@dataclass
class Scan:
    rows: list[tuple] = field(default_factory=list)  # COLUMNS values per episode that counts, first-seen order
    problems: list[str] = field(default_factory=list)  # unreadable lines
    kept: dict[int, EpisodeRecord] = field(default_factory=dict)  # row -> re-scored record, for `keep` rows
    where: dict[str, int] = field(default_factory=dict)  # task id -> row

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: tuple) -> int | None:
        """Count one record's row (values in COLUMNS order); its row number, None when it does not count."""
        i = self.where.get(row[_TASK_ID])
        if i is None:
            i = self.where[row[_TASK_ID]] = len(self.rows)
            self.rows.append(row)
        elif replaces(self.rows[i][_STATUS], row[_STATUS]):
            self.rows[i] = row
        else:
            return None
        return i

    @property
    def columns(self) -> dict[str, list]:
        return {c: [r[k] for r in self.rows] for k, c in enumerate(COLUMNS)}

    def frame(self):
        """The rows as a pandas DataFrame (COLUMNS)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.rows, columns=list(COLUMNS), nrows=len(self.rows))


_TASK_ID, _STATUS = COLUMNS.index("task_id"), COLUMNS.index("status")


def replaces(counted_status: str, later_status: str) -> bool:
    """Whether a later record of a task replaces the one counted so far: anything replaces an error; an
    error never replaces a scored record (a file written by an older resume may hold both)."""
    return counted_status == "error" or later_status != "error"


def _differs(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return not (a == b or (a != a and b != b) or abs(a - b) <= 1e-6 * max(1.0, abs(b)))
    return a != b


def _metrics_differ(stored: EpisodeRecord, rec: EpisodeRecord) -> bool:
    return any(getattr(stored, k) is not None and _differs(getattr(stored, k), getattr(rec, k)) for k in METRIC_KEYS)


def _row(stored: EpisodeRecord, rec: EpisodeRecord, tags: list[dict], metrics_differ: bool) -> tuple:
    task = rec.task
    names = {t["name"] for t in tags}
    lat = [s.latency_s for s in rec.steps if not s.cached and s.latency_s > 0]  # cached/baseline: no model call
    # one copy of each type, split, map, model, status, instruction, door and object name, not one per row
    values = list(_RECORD_VALUES(rec))
    task_values = [sys.intern(v) if type(v) is str else v for v in _TASK_VALUES(task)]
    for k in _REPEATED:
        if type(values[k]) is str:
            values[k] = sys.intern(values[k])
    try:  # numbers as floats: a pose written as 1 or as 1.0 is the same task
        key = repr((rec.type, task.instruction, task.target_objects,
                    [[float(x) for x in p] for p in task.target_poses]))
    except (TypeError, ValueError):
        key = repr((rec.type, task.instruction, task.target_objects, task.target_poses))
    return (*values, *task_values,
            rec.status == "timeout", len(rec.steps), primary_of(tags),
            *[t in names for t in TAG_NAMES],
            np.array(lat) if lat else _NO_LATENCY,
            hashlib.blake2b(key.encode(), digest_size=16).digest(),
            metrics_differ,
            tags is not stored.tags  # reused tags are the stored ones
            and [t.get("name") for t in stored.tags if isinstance(t, dict)] != [t["name"] for t in tags])


def rescored_row(stored: EpisodeRecord, max_steps: int, th: TagThresholds | None,
                 keep_stored_tags: bool = False) -> tuple[tuple, EpisodeRecord, list[dict]]:
    """(row in COLUMNS order, re-scored record, its tags) of a stored record: re-scored, and re-tagged with `th`
    unless `th` is None or `keep_stored_tags` (the stored tags are this tagger's) and its metrics are unchanged."""
    rec = rescore(stored, max_steps)
    differ = _metrics_differ(stored, rec)
    tags = stored.tags if th is None or (keep_stored_tags and not differ) else tag_episode(rec, th)
    return _row(stored, rec, tags, differ), rec, tags


def records_frame(records: list[EpisodeRecord]):
    """A frame of records in memory, as they are (not re-scored or re-tagged), one row per record."""
    return Scan(rows=[_row(r, r, r.tags, False) for r in records]).frame()


def _parse(line: bytes):
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:  # the stdlib's verdict and message, as before (it also reads NaN, big ints)
        return json.loads(line)


def _reusable(d: dict, stored: EpisodeRecord) -> bool:
    """Whether a record stored tags at all (a record written before tags existed has no "tags" key) and
    only tags this tagger knows."""
    return type(d.get("tags")) is list and all(type(t) is dict and t.get("name") in ORDER for t in stored.tags)


def _read(path: Path, start: int, end: int | None, max_steps: int, th: TagThresholds | None, reuse: bool = False):
    """(line number from 1 at `start`, row or a problem string or None for a blank line, (re-scored record,
    tags)) per line of path[start:end] (`start`, `end` at line starts). `th` None: stored tags kept, no tagging.
    `reuse`: the run's stored tags came from this tagger with `th` (scoring/fingerprint.py), so a record's
    stored tags are kept where its re-scored metrics equal the stored ones (what the tagger read then)."""
    with open(path, "rb") as f:
        f.seek(start)
        pos, n = start, 0
        while end is None or pos < end:
            line = f.readline()
            if not line:
                break
            pos, n = pos + len(line), n + 1
            if not line.strip():
                yield n, None, None
                continue
            try:
                d = _parse(line.rstrip(b"\r\n"))
                stored = EpisodeRecord.from_json(d)
            except UNREADABLE_RECORD as exc:
                yield n, f"unreadable record ({exc.__class__.__name__}: {exc})", None
                continue
            row, rec, tags = rescored_row(stored, max_steps, th, reuse and _reusable(d, stored))
            yield n, row, (rec, tags)


@contextlib.contextmanager
def _no_cyclic_gc():
    """Records hold no reference cycles (reference counting frees them), so the cyclic GC would only walk the
    rows kept, again and again as they accumulate: off while a file is read."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _chunk(args) -> tuple[list, int]:
    """A worker: the rows and problems of one chunk (rows are small; the records stay here), and its lines."""
    out, n = [], 0
    with _no_cyclic_gc():
        for n, row, _ in _read(*args):
            if row is not None:
                out.append((n, row))
    return out, n  # n: the chunk's lines, blank ones included, for the line numbers of later chunks


def _bounds(path: Path, parts: int) -> list[int]:
    """Byte offsets that cut the file into about `parts` pieces at line starts."""
    size = path.stat().st_size
    cuts = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            f.seek(max(cuts[-1], size * k // parts))
            f.readline()
            if f.tell() < size and f.tell() > cuts[-1]:
                cuts.append(f.tell())
    return cuts + [size]


PARALLEL_MIN_BYTES = 64 << 20  # smaller files are read in this process: starting workers costs more


WORKERS_ENV = "EMBRACE_BENCH_REPORT_WORKERS"  # a number of worker processes, whatever the file and the load


def workers_for(path: Path) -> int:
    """One worker per idle CPU (by the 1-minute load average; at most 8) for a large file, else none: on a
    busy machine, more processes only add the cost of shipping rows between them. $EMBRACE_BENCH_REPORT_WORKERS
    sets the number instead (a cluster node whose load average counts other jobs' cores)."""
    forced = os.environ.get(WORKERS_ENV, "").strip()
    if forced.isdigit() and int(forced) >= 1:
        return int(forced)
    if path.stat().st_size < PARALLEL_MIN_BYTES:
        return 1
    cpus = os.cpu_count() or 1
    try:
        idle = cpus - os.getloadavg()[0]
    except OSError:  # no load average on this platform
        idle = cpus
    return max(1, min(8, cpus, int(idle + 0.5)))


def scan_records(path: Path, max_steps: int, th: TagThresholds | None, keep: Callable[[int], bool] | None = None,
                 workers: int | None = None, reuse_tags: bool = False) -> Scan:
    """One row per task of the records file at `path`; `keep(row)` true: also keep that row's full record
    (read in this process then). `workers` processes read parts of the file (default: one per CPU for a
    large file, none for a small one or with `keep`); the result does not depend on it. `reuse_tags`: the
    stored tags are this tagger's with `th` (see _read); else every record is re-tagged (`th` None: none is)."""
    path = Path(path)
    if not path.exists():
        raise RecordFileError(f"no episodes file at {path}")
    scan = Scan()
    workers = 1 if keep is not None else workers or workers_for(path)
    if workers <= 1:
        with _no_cyclic_gc():
            for n, row, done in _read(path, 0, None, max_steps, th, reuse_tags):
                if row is None:
                    continue
                if isinstance(row, str):
                    scan.problems.append(f"{path}:{n}: {row}")
                    continue
                i = scan.add(row)
                if i is not None and keep is not None and keep(i):
                    done[0].tags = done[1]
                    scan.kept[i] = done[0]
        return scan
    cuts = _bounds(path, 4 * workers)  # a few pieces per worker evens out uneven lines
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    gc.freeze()  # forked workers would otherwise copy every page of this process's heap the GC walks
    try:
        with _no_cyclic_gc(), ctx.Pool(workers) as pool:
            lines_before = 0
            parts = [(path, a, b, max_steps, th, reuse_tags) for a, b in zip(cuts, cuts[1:])]
            for rows, n_lines in pool.imap(_chunk, parts):
                for n, row in rows:
                    if isinstance(row, str):
                        scan.problems.append(f"{path}:{lines_before + n}: {row}")
                    else:
                        scan.add(row)
                lines_before += n_lines
    finally:
        gc.unfreeze()
    return scan


def disagreements(scan: Scan, column: str, what: str) -> str:
    """One warning naming the records whose stored `what` ("metrics", "tags") differ from the recomputed."""
    k = COLUMNS.index(column)
    ids = [r[_TASK_ID] for r in scan.rows if r[k]]
    if not ids:
        return ""
    more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
    return (f"{len(ids)} record(s) stored {what} that differ from the recomputed ones "
            f"({', '.join(ids[:5])}{more}); the recomputed {'values' if what == 'metrics' else what} are reported")


def scan_run(run_dir: Path, max_steps: int, th: TagThresholds | None, keep=None, workers: int | None = None,
             reuse_tags: bool = False) -> Scan:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RecordFileError(f"run directory not found: {run_dir}")
    return scan_records(RunDir(run_dir).episodes, max_steps, th, keep, workers, reuse_tags)
