"""The one place that names the files of a run directory.

    <run>/episodes.jsonl              one record per episode (records.py), only ever grown by whole lines
    <run>/episodes.superseded.jsonl   lines a resume set aside (resume.py), never deleted
    <run>/manifest.json               what the run was and how it went (manifest.py)
    <run>/cache.sqlite                the model response cache (models/response_cache.py)
    <run>/frames/<task_id>/NNN.png    frame NNN: 000 the start, k the view after step k-1
    <run>/logs/engine-<worker>.log    each worker's engine output; logs/vllm.log a launched vLLM server's
    <run>/embrace_bench.log           Hydra's job log (named after hydra.job.name in conf/config.yaml)
    <run>/.hydra/                     Hydra's record of the composed config and overrides
    <run>/.lock                       held while a run writes the dir (runner.RunDirLock)
    <run>/viewer.html                 `embrace-bench view`'s default output
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EPISODES = "episodes.jsonl"
SUPERSEDED = "episodes.superseded.jsonl"
MANIFEST = "manifest.json"
CACHE = "cache.sqlite"
FRAMES = "frames"
LOGS = "logs"
JOB_LOG = "embrace_bench.log"
HYDRA = ".hydra"
LOCK = ".lock"
VIEWER = "viewer.html"
FRAME_SUFFIX = ".png"


def frame_name(index: int) -> str:
    """The file name of frame `index` of an episode (000.png, 001.png, ...)."""
    return f"{index:03d}{FRAME_SUFFIX}"


def frame_index(name: str) -> int | None:
    """The index of a frame file name, or None for a file that is no frame."""
    stem = name[:-len(FRAME_SUFFIX)]
    return int(stem) if name.endswith(FRAME_SUFFIX) and stem.isdigit() else None


@dataclass(frozen=True)
class RunDir:
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def episodes(self) -> Path:
        return self.path / EPISODES

    @property
    def superseded(self) -> Path:
        return self.path / SUPERSEDED

    @property
    def manifest(self) -> Path:
        return self.path / MANIFEST

    @property
    def cache(self) -> Path:
        return self.path / CACHE

    @property
    def frames(self) -> Path:
        return self.path / FRAMES

    def task_frames(self, task_id: str) -> Path:
        return self.frames / task_id

    @property
    def logs(self) -> Path:
        return self.path / LOGS

    def engine_log(self, worker: int) -> Path:
        return self.logs / f"engine-{worker}.log"

    @property
    def vllm_log(self) -> Path:
        return self.logs / "vllm.log"

    @property
    def job_log(self) -> Path:
        return self.path / JOB_LOG

    @property
    def lock(self) -> Path:
        return self.path / LOCK

    @property
    def viewer(self) -> Path:
        return self.path / VIEWER
