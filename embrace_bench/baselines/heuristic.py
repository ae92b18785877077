"""The heuristic baseline: sees only the current image and the instruction, no privileged state.

Besides those it knows the colour vocabulary of instructions (embrace_bench/colours.py: what "red" looks like),
the same table the world paints with, and nothing of the world itself.

It reads the colour + category phrases out of the instruction, finds pixels of the named colour in the
frame, turns to centre them and walks until the colour reaches the bottom of the image (the object's base
is then within ~2.5 m of a 160 cm-high camera with a 90 degree FOV); with nothing in view it scans
by turning and then walks on. Stage actions (MidwayTarget, OpenDoor, PickObject, DropObject, Finish)
follow the instruction's structure.
"""
from __future__ import annotations

import re

import numpy as np

from embrace_bench.actions import OPPOSITE_TURN, Action, format_response
from embrace_bench.colours import COLOURS
from embrace_bench.models.base import Agent, Reply
from embrace_bench.observation import History
from embrace_bench.tasks.model import Task

MIN_PIXELS = 6  # on the 4x-subsampled frame
CENTRE_BAND = 0.18  # |offset| of the blob's centre (share of the width, ~20 degrees) that counts as ahead;
# wider than half a 30-degree turn's shift, so turning never oscillates around the target
NEAR_ROW = 0.96  # the blob's lowest row below this share of the height means "arrived"
SCAN_TURNS = 12  # a full turn in 30 degree steps before walking somewhere new
SUBSAMPLE = 4


def colour_mask(rgb: np.ndarray, name: str) -> np.ndarray:
    """Pixels whose colour is the named one up to the renderer's shading (a brightness factor)."""
    f = rgb.astype(np.float32)
    if name == "black":
        return (f.max(axis=2) < 32) & (f.max(axis=2) - f.min(axis=2) < 12)
    if name == "white":
        return (f.min(axis=2) > 170) & (f.max(axis=2) - f.min(axis=2) < 25)
    base = np.array(COLOURS[name], dtype=np.float32)
    norm = np.linalg.norm(f, axis=2) + 1e-6
    cos = (f @ base) / (norm * np.linalg.norm(base))
    ratio = norm / np.linalg.norm(base)
    return (cos > 0.995) & (ratio > 0.45) & (ratio < 1.1)


def goals_from_instruction(text: str) -> list[str]:
    """The colours named in the instruction, in order ("the red car ... the blue bench" -> [red, blue])."""
    words = re.findall(r"[a-z]+", text.lower())
    return [w for w in words if w in COLOURS]


class HeuristicAgent(Agent):
    name = "heuristic"

    def __init__(self, cfg: dict | None = None, seed: int = 0, **context) -> None:
        super().__init__(cfg, seed)
        self._reset_state([])

    def _reset_state(self, goals: list[str]) -> None:
        self.goals = goals
        self.stage = 0
        self.scan = 0
        self.pending: list[str] = []
        self.last = ""

    def reset(self, task: Task) -> None:
        self._reset_state(goals_from_instruction(task.instruction))
        self.kind = task.instruction.lower()

    def _arrival_actions(self) -> list[str]:
        last = self.stage >= len(self.goals) - 1
        if "door" in self.kind:
            return [Action.OpenDoor, Action.Finish]
        if "pick" in self.kind or "carry" in self.kind or "grab" in self.kind or "take" in self.kind:
            if self.stage == 0 and len(self.goals) > 1:
                return [Action.PickObject]
            return [Action.DropObject, Action.Finish]
        return [Action.Finish] if last else [Action.MidwayTarget]

    def _decide(self, rgb: np.ndarray, collided: bool) -> tuple[str, str]:
        if self.pending:
            return self.pending.pop(0), "continuing the plan"
        if not self.goals:
            return Action.Finish, "no colour named in the instruction; nothing to look for"
        if collided and self.last == Action.MoveForward:  # sidestep the obstacle, then look again
            self.pending = [Action.MoveForward, Action.TurnLeft]
            return Action.TurnRight, "blocked; stepping around"
        colour = self.goals[min(self.stage, len(self.goals) - 1)]
        mask = colour_mask(rgb[::SUBSAMPLE, ::SUBSAMPLE], colour)
        if mask.sum() >= MIN_PIXELS:
            self.scan = 0
            rows, cols = np.nonzero(mask)
            h, w = mask.shape
            offset = cols.mean() / w - 0.5
            if rows.max() >= NEAR_ROW * h and abs(offset) < 0.3:
                acts = self._arrival_actions()
                self.stage += 1
                self.pending = acts[1:]
                return acts[0], f"the {colour} object is right in front of me"
            turn = Action.TurnLeft if offset < 0 else Action.TurnRight
            undo = OPPOSITE_TURN[turn]
            if abs(offset) > CENTRE_BAND and self.last != undo:
                return turn, f"{colour} to the {'left' if offset < 0 else 'right'}"
            return Action.MoveForward, f"walking to the {colour} object"
        self.scan += 1
        if self.scan % SCAN_TURNS == 0:
            self.pending = [Action.MoveForward]
            return Action.MoveForward, f"no {colour} in a full turn; moving on"
        return Action.TurnRight, f"looking for something {colour}"

    def act(self, task: Task, history: History, reask: str | None = None) -> Reply:
        obs = history.observations[-1]
        action, why = self._decide(obs.rgb, obs.collided)
        self.last = action
        return Reply(format_response(action, why))
