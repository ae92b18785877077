"""What a failure tag is: the tag names, the thresholds every rule reads (config group `tags`), and the
shape of one tag. The rules themselves live in failures.py (outcome tags, drift in drift.py) and behaviour_tags.py."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any, ClassVar

from embrace_bench.actions import Magnitudes


class Tag(StrEnum):
    """The failure tags, in the order every table lists them. A StrEnum: str(), f-strings and json give the
    bare name; tag dicts store it as a plain string (make_tag)."""

    target_forgetting = "target_forgetting"
    short_sighted_exploration = "short_sighted_exploration"
    spatial_semantic_drift = "spatial_semantic_drift"
    stuck = "stuck"
    looping = "looping"
    near_miss = "near_miss"
    premature_finish = "premature_finish"
    interaction_failed = "interaction_failed"
    invalid_output = "invalid_output"
    timeout = "timeout"
    api_error = "api_error"


TAG_NAMES: tuple[str, ...] = tuple(t.value for t in Tag)
ORDER = {n: i for i, n in enumerate(TAG_NAMES)}
REFERENCE_WIDTH_PX, REFERENCE_HEIGHT_PX = 640, 480  # pixel thresholds (and `seen_min_extent_px`) are given for
REFERENCE_FRAME_PX = REFERENCE_WIDTH_PX * REFERENCE_HEIGHT_PX  # frames of this size
PIXEL_KEYS = ("min_visible_px", "drift_min_px")


@dataclass(frozen=True)
class TagThresholds:
    """Every threshold the tagger uses (config group `tags`); pixel counts assume 640x480 frames and are
    scaled to a run's frame size with `for_frame`."""

    min_visible_px: int = 300  # an object counts as seen with at least this many mask pixels ...
    seen_min_extent_px: float = 16.0  # ... its projected box this many pixels on its smaller side (640x480 frame)
    seen_max_off_deg: float = 45.0  # ... its centre at most this far off the heading (not a sliver at the edge)
    forget_margin_cm: float = 200.0  # "ended farther than its closest approach" by more than this
    forget_min_unseen: int = 3  # "never reacquired": out of view for at least this many frames at the end
    fov_deg: float = 90.0  # horizontal field of view: the share of the horizon looked at, an object's box (seen)
    min_yaw_coverage: float = 0.75  # exploration looked at less than this share of the horizon ...
    explore_min_span_cm: float = 600.0  # ... or all its positions lay within a box this wide (diagonal)
    drift_radius_cm: float = 300.0  # "at" a distractor: within this distance of its footprint ...
    drift_min_approach_cm: float = 100.0  # ... having come at least this much closer to it than at the start
    drift_min_px: int = 2000  # no recorded locations: a distractor filling this much of the last frame
    stuck_move_cm: float = 20.0  # a move that displaced the agent less than this went nowhere (or one reported blocked)
    stuck_min_moves: int = 3  # this many moves in a row that went nowhere (turns may come between)
    loop_cell_cm: float = 100.0  # looping: a place is this grid cell ...
    loop_yaw_deg: float = 30.0  # ... and heading bin
    loop_min_revisits: int = 3  # returns to an earlier place and heading, walking there from elsewhere
    invalid_min_steps: int = 1  # steps with no valid action after every re-ask
    reach_cm: float = Magnitudes().interact_cm  # interaction reach
    reached_factor: float = 1.5  # "reached" the door / object: within this times `reach_cm` of it
    near_miss_factor: float = 1.5  # near_miss: ended within this times the success radius ...
    closest_slack_cm: float = 100.0  # "at its closest approach" (near_miss, drift): no more than this farther

    # The run's frame area over 640x480's, set by `for_frame`: a record's pixel counts are the run's. Not a setting.
    frame_scale: ClassVar[float] = 1.0

    @staticmethod
    def from_config(cfg: dict | None) -> "TagThresholds":
        """From a config mapping; one-line ValueError naming an unknown key or a bad value."""
        cfg = dict(cfg or {})
        known = {f.name: f.type for f in fields(TagThresholds)}
        out: dict[str, Any] = {}
        for key, value in cfg.items():
            if key not in known:
                raise ValueError(f"unknown setting 'tags.{key}'; known: {', '.join(known)}")
            want_int = known[key] in ("int", int)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
            if not ok or (want_int and not float(value).is_integer()) or math.isnan(value):
                kind = "an integer" if want_int else "a number"
                raise ValueError(f"tags.{key} must be {kind} >= 0, not {value!r}")
            out[key] = int(value) if want_int else float(value)
        th = TagThresholds(**out)
        if not 0 <= th.min_yaw_coverage <= 1:
            raise ValueError(f"tags.min_yaw_coverage must be between 0 and 1, not {th.min_yaw_coverage!r}")
        for key in ("loop_cell_cm", "loop_yaw_deg", "fov_deg"):
            if getattr(th, key) <= 0:
                raise ValueError(f"tags.{key} must be > 0, not {getattr(th, key)!r}")
        if th.fov_deg >= 180:  # a pinhole view (trajectory.box_side) is narrower than a half turn
            raise ValueError(f"tags.fov_deg must be below 180, not {th.fov_deg!r}")
        for key in ("near_miss_factor", "reached_factor"):
            if getattr(th, key) < 1:
                raise ValueError(f"tags.{key} must be >= 1, not {getattr(th, key)!r}")
        return th

    def for_frame(self, width: int | None, height: int | None) -> "TagThresholds":
        """The pixel thresholds scaled from 640x480 to frames of width x height (unknown size: unchanged)."""
        if not width or not height:
            return self
        f = width * height / REFERENCE_FRAME_PX
        out = replace(self, **{k: max(1, round(getattr(self, k) * f)) for k in PIXEL_KEYS})
        object.__setattr__(out, "frame_scale", f)  # frozen, and not a setting (so not a field)
        return out

    def to_json(self) -> dict:
        return asdict(self)


def make_tag(name: Tag, steps, reason: str) -> dict:
    reason = " ".join(str(reason).split())  # one line, whatever the model wrote into it
    return {"name": str(name), "steps": sorted({int(s) for s in steps}), "reason": reason[:300]}


def cm(x: float | None) -> str:
    return "?" if x is None or math.isnan(x) else f"{x:.0f} cm"
