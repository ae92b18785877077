"""The primary cause of a failure: of an episode's tags, the one that explains why it failed (what would have
to change for it to succeed); the others stay as evidence. The first of these that holds wins:

 1. api_error                  nothing else about the episode can be judged
 2. premature_finish           when a Multi-stage Finish had no MidwayTarget at all (a skipped stage)
 3. spatial_semantic_drift     went to the wrong object of the referent's kind
 4. near_miss                  got there, stopped a little short
 5. interaction_failed         reached the door / object, the interaction failed
 6. target_forgetting          saw the goal, then left it (even if it got stuck somewhere else later)
 7. stuck                      when still blocked at the end, or blocked for at least half of the steps
 8. short_sighted_exploration  never saw it, searched narrowly
 9. looping
10. premature_finish           any other kind
11. invalid_output             unparseable answers, when no decision above explains the failure
12. timeout
13. stuck                      a spell of being blocked it got out of, when nothing else holds

The primary tag carries `"primary": true`; successes have none.
"""
from __future__ import annotations

from embrace_bench.scoring.behaviour_tags import blocked_at_end, blocked_share
from embrace_bench.scoring.tagset import Tag, TagThresholds
from embrace_bench.scoring.trajectory import Trajectory
from embrace_bench.tasks.model import TaskType

PRIMARY = "primary"


def _skipped_stage(tr: Trajectory, th: TagThresholds) -> bool:
    return (tr.record.type == TaskType.MULTI_STAGE and len(tr.record.task.target_poses) > 1 and tr.finished
            and tr.midway is None)


def _stuck_explains(tr: Trajectory, th: TagThresholds) -> bool:
    return blocked_at_end(tr, th) or blocked_share(tr, th) >= 0.5


def _always(tr: Trajectory, th: TagThresholds) -> bool:
    return True


RULES = (
    (Tag.api_error, _always), (Tag.premature_finish, _skipped_stage),
    (Tag.spatial_semantic_drift, _always), (Tag.near_miss, _always), (Tag.interaction_failed, _always),
    (Tag.target_forgetting, _always), (Tag.stuck, _stuck_explains), (Tag.short_sighted_exploration, _always),
    (Tag.looping, _always), (Tag.premature_finish, _always), (Tag.invalid_output, _always), (Tag.timeout, _always),
    (Tag.stuck, _always),
)


def mark_primary(tags: list[dict], tr: Trajectory | None, th: TagThresholds) -> list[dict]:
    """Mark the primary tag of a failed episode in place (`tr` None: an error record, no trajectory)."""
    by_name = {t["name"]: t for t in tags}
    for name, holds in RULES:
        if name in by_name and (tr is None or holds(tr, th)):
            by_name[name][PRIMARY] = True
            break
    return tags


def primary_of(tags: list[dict]) -> str | None:
    return next((t["name"] for t in tags if t.get(PRIMARY)), None)


def primary_first(tags: list[dict]) -> list[dict]:
    """The tags with the primary cause first (the rest keep their order), for display."""
    return sorted(tags, key=lambda t: not t.get(PRIMARY))
