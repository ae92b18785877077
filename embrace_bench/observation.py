"""What an agent sees: one Observation per step and the episode's History of them.

A core module below env/ and models/: the env produces observations, agents and prompts read them, and
neither package imports the other for it."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Observation:
    rgb: np.ndarray  # (H, W, 3) uint8
    png: bytes  # the frame exactly as the engine sent it
    pose: list[float]  # [x, y, z, pitch, yaw, roll]; pitch is the camera pitch of this observation
    visible: dict[str, int]
    door_state: dict[str, int]
    held_object: str | None
    collided: bool = False
    object_pose: list[float] | None = None  # location of the task's pick-and-drop object, when it has one


@dataclass
class History:
    """What the agent has seen and done so far in the episode."""

    initial: Observation | None = None
    observations: list[Observation] = field(default_factory=list)  # every observation, initial first
    actions: list[str] = field(default_factory=list)  # executed actions, in order
    # One (accepted response, observation after it) per step taken; an invalid step leaves the world as
    # it was, so its observation is the previous one. Re-asks never enter the history.
    turns: list[tuple[str, Observation]] = field(default_factory=list)
