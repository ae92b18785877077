"""Round 5 of issue 13's failure tags: spatial_semantic_drift needs the distractor seen (nobody heads for what
they never saw), and is not given when the agent ended aiming at the referent (seen in the last frame and
nearer the view's centre than the distractor)."""
from test_failures import SEEN, fwd, names, record, traj

REFERENT = ("T", 300, -3000)  # far to the south, a little east


def walk_south(distractor_xy, *, seen):
    """Turned south, walked 7.5 m and finished next to a same-kind object T_02 at `distractor_xy`; `seen`: the
    visible pixels of each observation after the turn."""
    dx, dy = distractor_xy
    places = {"distractors": ["T_02"], "object_locations": {"T": [300, -3000, 0], "T_02": [dx, dy, 0]}}
    steps = traj(("TurnLeft", 0, 0, -90, {"visible": seen}), fwd(0, -500, -90, visible=seen),
                 fwd(0, -750, -90, visible=seen), ("Finish", 0, -750, -90))
    return record(steps, targets=(REFERENT,), **places)


def test_drift_needs_the_distractor_seen():
    ahead = (0, -1000)  # straight ahead at the end
    assert "spatial_semantic_drift" in names(walk_south(ahead, seen={"T_02": SEEN}))
    # The same walk with the distractor never in view (another object was): it went nowhere in particular.
    never = walk_south(ahead, seen={"Lamp": SEEN})
    assert "spatial_semantic_drift" not in names(never) and "premature_finish" in names(never)


def test_no_drift_when_it_ended_aiming_at_the_referent():
    both = {"T": SEEN, "T_02": SEEN}
    # The distractor dead ahead, the referent 7.6 degrees off: it went to the distractor.
    assert "spatial_semantic_drift" in names(walk_south((0, -1000), seen=both))
    # The distractor 31 degrees to the left, the referent 7.6 degrees off and in view: aiming at the referent.
    aside = walk_south((150, -1000), seen=both)
    assert "spatial_semantic_drift" not in names(aside) and "premature_finish" in names(aside)
    # The same place with the referent out of the last frame: nothing says it aimed at it, so drift.
    assert "spatial_semantic_drift" in names(walk_south((150, -1000), seen={"T_02": SEEN}))
