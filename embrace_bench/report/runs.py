"""A recorded run as the report commands see it: manifest, and one row per episode re-scored and re-tagged
offline (scoring/scan.py streams the records; the steps are not kept).

Offline commands (leaderboard, compare, view) never trust the stored metrics or tags blindly: they
recompute both from the steps, with the run's own max_steps and tag thresholds (from its manifest), and
warn when the stored values differ. So a tagger fix applies to old runs, and a run scored by an older
harness is reported by today's rules. The one exception: tags stored by today's tagger code with the same
thresholds (the manifest's fingerprint, scoring/fingerprint.py) are what re-tagging would give, so they are
reused, which halves the time of a report on a large run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from embrace_bench.manifest import Manifest
from embrace_bench.manifest import read_manifest as read_run_manifest
from embrace_bench.records import EpisodeRecord
from embrace_bench.run_dir import RunDir
from embrace_bench.scoring.failures import TagThresholds
from embrace_bench.scoring.fingerprint import stored_tags_current
from embrace_bench.scoring.rescore import manifest_max_steps, unscorable_summary
from embrace_bench.scoring.scan import disagreements, scan_run

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Run:
    run_dir: Path
    manifest: Manifest  # (a dict is read as one); Manifest() when the run has none
    frame: pd.DataFrame  # one row per episode (scoring.scan.COLUMNS), re-scored and re-tagged
    warnings: list[str] = field(default_factory=list)
    label: str = ""  # how tables name it: the model, made unique across the runs of one table
    records: dict[int, EpisodeRecord] = field(default_factory=dict)  # full records of rows asked for (view)

    def __post_init__(self) -> None:
        self.manifest = Manifest.of(self.manifest)

    @property
    def suite(self) -> str:
        return str(self.manifest.suite or "unknown")

    @property
    def model(self) -> str:
        m = self.manifest.group("model")
        if m.get("name"):
            return str(m["name"])
        return str(self.frame["model"].iloc[0]) if len(self.frame) else self.run_dir.name

    def facts(self) -> dict[str, str]:
        """What a reader needs to reproduce the row: model snapshot, prompt, suite, harness."""
        m = self.manifest
        model, prompt = m.group("model"), m.group("prompt")
        snapshot = model.get("snapshot") or model.get("path") or model.get("name") or self.model
        adapter = model.get("adapter", "")
        return {"model": self.label or self.model, "snapshot": f"{snapshot}" + (f" ({adapter})" if adapter else ""),
                "prompt": str(prompt.get("name", "")), "suite": self.suite,
                "suite_hash": str(m.suite_hash or ""), "split": str(m.split or ""),
                "harness": str(m.harness_version or ""), "git_sha": str(m.git_sha or "")[:10],
                "started": str(m.started or "")[:19], "run": self.run_dir.name}


RETIRED_TAG_KEYS = ("area_cell_cm", "min_area_cells",  # short_sighted_exploration's cells, now a span
                   "seen_max_cm")  # "seen" by distance, now by apparent size (seen_min_extent_px)


def frame_size(manifest: Manifest | dict) -> tuple[int | None, int | None]:
    """The run's frame width and height (manifest "env"), None where unknown."""
    env = Manifest.of(manifest).group("env")
    w, h = (v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None
            for v in (env.get("width"), env.get("height")))
    return w, h


def tag_thresholds(manifest: Manifest | dict | None) -> tuple[TagThresholds, str]:
    """The thresholds the run used (manifest "tags"), else the defaults, with the pixel counts scaled to the
    run's frame size (manifest "env"); plus a warning if unusable."""
    manifest = Manifest.of(manifest)
    cfg = manifest.tags
    size = frame_size(manifest)
    if isinstance(cfg, dict):  # thresholds of rules that no longer exist (recorded by older runs)
        cfg = {k: v for k, v in cfg.items() if k not in RETIRED_TAG_KEYS}
    if cfg is None:
        return TagThresholds().for_frame(*size), ""
    try:
        return TagThresholds.from_config(cfg).for_frame(*size), ""
    except (ValueError, TypeError) as exc:
        return TagThresholds().for_frame(*size), f"manifest tag thresholds unusable ({exc}); using the defaults"


def read_manifest(run_dir: Path) -> tuple[Manifest | None, list[str]]:
    """The run's manifest (None and a warning when there is none to read)."""
    manifest, why = read_run_manifest(run_dir)
    if manifest is None:
        return None, [f"{why}: suite, model facts and thresholds unknown"]
    return manifest, []


def load_run(run_dir: Path, keep: Callable[[int], bool] | None = None, workers: int | None = None) -> Run:
    """Raises RecordFileError naming the path when the directory or its episodes file is missing.
    `keep(row)` true: the run also holds that row's full (re-scored, re-tagged) record in `records`."""
    run_dir = Path(run_dir)
    manifest, warnings = read_manifest(run_dir)
    max_steps, w = manifest_max_steps(manifest, RunDir(run_dir).manifest)
    if w and manifest is not None:  # without a manifest, the warning above says it already
        warnings.append(w)
    th, w = tag_thresholds(manifest)
    if w:
        warnings.append(w)
    scan = scan_run(run_dir, max_steps, th, keep, workers, reuse_tags=stored_tags_current(Manifest.of(manifest), th))
    frame = scan.frame()
    found = [disagreements(scan, "metrics_differ", "metrics"), unscorable_summary(frame),
             disagreements(scan, "tags_differ", "tags")]
    warnings = scan.problems + found[:2] + warnings + found[2:]
    return Run(run_dir, Manifest.of(manifest), frame, [w for w in warnings if w], records=scan.kept)


def label_runs(runs: list[Run]) -> None:
    """Table labels: the model name, with the run directory added where two runs share a model."""
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.model] = counts.get(r.model, 0) + 1
    for r in runs:
        r.label = r.model if counts[r.model] == 1 else f"{r.model} ({r.run_dir.name})"
