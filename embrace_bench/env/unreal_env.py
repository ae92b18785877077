"""UnrealEnv: reset(task) / step(action) over UnrealCV and UnrealZoo character commands only.

The same class drives the embedded world and a real UnrealZoo build: it never reaches into the engine,
it only sends commands both answer, and it reads back the ground truth the scorer and the failure
tagger need (pose, collision, per-object mask pixels, door states, the carried object).
"""
from __future__ import annotations

import io
import json
import re
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from embrace_bench.actions import Action, Magnitudes
from embrace_bench.env.client import UnrealCVClient
from embrace_bench.tasks.model import Task

_COLOR_RE = re.compile(r"R=(\d+),G=(\d+),B=(\d+)")


class EnvError(RuntimeError):
    """The engine answered something the env cannot use (the message names the command)."""


@dataclass
class EnvConfig:
    agent_name: str = "EmbraceAgent"
    agent_blueprint: str = "/Game/Agents/BP_Character.BP_Character_C"
    camera_id: int = 1
    width: int = 640
    height: int = 480
    fov: float = 90.0
    eye_height: float = 160.0
    step_s: float = 1.0  # game time one resume/pause cycle integrates; set_move speed = distance / step_s
    level_timeout_s: float = 30.0
    min_visible_px: int = 1
    mags: Magnitudes = field(default_factory=Magnitudes)


@dataclass
class Observation:
    rgb: np.ndarray  # (H, W, 3) uint8
    png: bytes  # the frame exactly as the engine sent it
    pose: list[float]  # [x, y, z, pitch, yaw, roll]; pitch is the camera pitch of this observation
    visible: dict[str, int]
    door_state: dict[str, int]
    held_object: str | None
    collided: bool = False


@dataclass
class StepResult:
    obs: Observation
    pose_before: list[float]
    pose_after: list[float]
    collided: bool
    dropped_at: list[float] | None = None
    done: bool = False


def _floats(reply, what: str) -> list[float]:
    try:
        return [float(v) for v in str(reply).split()]
    except ValueError:
        raise EnvError(f"{what}: expected numbers, got {str(reply)[:80]!r}") from None


def _json(reply, what: str) -> dict:
    if isinstance(reply, bytes) or str(reply).startswith("error"):
        raise EnvError(f"{what}: {str(reply)[:120]}")
    try:
        return json.loads(reply)
    except json.JSONDecodeError:
        raise EnvError(f"{what}: not a JSON object: {str(reply)[:80]!r}") from None


def decode_png(data, what: str) -> np.ndarray:
    if not isinstance(data, bytes) or not data.startswith(b"\x89PNG"):
        raise EnvError(f"{what}: expected a PNG, got {str(data[:40])!r}")
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


class UnrealEnv:
    def __init__(self, client: UnrealCVClient, cfg: EnvConfig | None = None) -> None:
        self.client = client
        self.cfg = cfg or EnvConfig()
        self.task: Task | None = None
        self._colors: dict[int, str] = {}
        self._pitch = 0.0
        self._last_pose: list[float] = []

    # ---- helpers ----------------------------------------------------------------------------
    def _ok(self, cmds: list[str]) -> list:
        replies = self.client.request_many(cmds)
        for c, r in zip(cmds, replies):
            if isinstance(r, str) and r.startswith("error"):
                raise EnvError(f"{c!r} -> {r}")
        return replies

    def _load_level(self, name: str) -> None:
        self._ok([f"vset /action/game/level {name}"])
        deadline = time.monotonic() + self.cfg.level_timeout_s
        while True:  # levels load asynchronously on Unreal: poll until the world answers
            reply = self.client.request("vget /objects")
            if isinstance(reply, str) and not reply.startswith("error"):
                return
            if time.monotonic() > deadline:
                raise EnvError(f"level {name} did not load within {self.cfg.level_timeout_s:.0f} s")
            time.sleep(0.2)

    # ---- gym-style API ----------------------------------------------------------------------
    def reset(self, task: Task) -> Observation:
        c, a = self.cfg, self.cfg.agent_name
        self.task = task
        self._load_level(task.map)
        x, y, z, pitch, yaw, roll = task.Start_Pose
        self._ok([f"vset /objects/spawn_from_path {c.agent_blueprint} {a}",
                  f"vset /object/{a}/location {x} {y} {z}", f"vset /object/{a}/rotation 0 {yaw} 0",
                  f"vset /camera/{c.camera_id}/size {c.width} {c.height}", f"vset /camera/{c.camera_id}/fov {c.fov}",
                  f"vbp {a} set_cam 0 0 {c.eye_height} 0 0 0", "vset /action/game/pause"])
        names = [n for n in str(self._ok(["vget /objects"])[0]).split() if n != a]
        self._colors = {}
        for n, reply in zip(names, self._ok([f"vget /object/{n}/color" for n in names])):
            m = _COLOR_RE.search(str(reply))
            if m:
                r, g, b = (int(v) for v in m.groups())
                self._colors[(r << 16) | (g << 8) | b] = n
        self._pitch = 0.0
        return self._observe(collided=False)

    def step(self, action: str) -> StepResult:
        if self.task is None:
            raise EnvError("step() before reset()")
        act = Action(action)
        c, a, m = self.cfg, self.cfg.agent_name, self.cfg.mags
        before = list(self._last_pose)
        dropped_at = None
        moves = {Action.MoveForward: (0.0, m.forward_cm), Action.MoveBackward: (0.0, -m.backward_cm),
                 Action.TurnLeft: (-m.turn_deg, 0.0), Action.TurnRight: (m.turn_deg, 0.0)}
        look = 0.0
        if act in moves:
            angle, dist = moves[act]
            self._ok([f"vbp {a} set_move {angle} {dist / c.step_s}", "vset /action/game/resume",
                      "vset /action/game/pause", f"vbp {a} set_move 0 0"])
        elif act in (Action.LookUp, Action.LookDown):
            look = m.look_deg if act == Action.LookUp else -m.look_deg
        elif act == Action.OpenDoor:
            self._ok([f"vbp {a} set_open_door 1"])
        elif act == Action.PickObject:
            self._ok([f"vbp {a} set_pickup 1"])
        elif act == Action.DropObject:
            reply = _json(self._ok([f"vbp {a} set_pickup 0"])[0], "set_pickup 0")
            if reply.get("location"):
                dropped_at = _floats(reply["location"], "drop location")
        hit = act in moves and _json(self._ok([f"vbp {a} get_hit"])[0], "get_hit").get("hit") == "1"
        if look:  # a look tilts the camera for this one observation only
            self._ok([f"vbp {a} set_cam 0 0 {c.eye_height} 0 {look} 0"])
        self._pitch = look
        obs = self._observe(collided=hit, images=act != Action.Finish)
        if look:
            self._ok([f"vbp {a} set_cam 0 0 {c.eye_height} 0 0 0"])
        return StepResult(obs, before, obs.pose, hit, dropped_at, done=act == Action.Finish)

    def locate(self, names: list[str]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        """(locations, bounds) of the named objects now, for the record: the failure tagger and the viewer
        place targets and distractors from them. An object or property the engine does not answer is left out."""
        cmds = [f"vget /object/{n}/{prop}" for n in names for prop in ("location", "bounds")]
        replies = self.client.request_many(cmds)
        locations, bounds = {}, {}
        for i, n in enumerate(names):
            for out, reply, k in ((locations, replies[2 * i], 3), (bounds, replies[2 * i + 1], 6)):
                try:
                    vals = [float(v) for v in str(reply).split()]
                except ValueError:
                    continue  # "error ..." or anything else that is not numbers
                if len(vals) >= k:
                    out[n] = vals[:k]
        return locations, bounds

    def close(self) -> None:
        self.client.close()

    # ---- observation ------------------------------------------------------------------------
    def _observe(self, collided: bool, images: bool = True) -> Observation:
        c, a = self.cfg, self.cfg.agent_name
        cmds = [f"vget /object/{a}/location", f"vget /object/{a}/rotation", f"vbp {a} get_door_state",
                f"vbp {a} get_pickup"]
        if images:
            cmds += [f"vget /camera/{c.camera_id}/lit png", f"vget /camera/{c.camera_id}/object_mask png"]
        replies = self.client.request_many(cmds)
        x, y, z = _floats(replies[0], "agent location")[:3]
        _, yaw, roll = _floats(replies[1], "agent rotation")[:3]
        doors = {k: int(v) for k, v in _json(replies[2], "get_door_state").items()}
        held = _json(replies[3], "get_pickup").get("held_object") or None
        if images:
            rgb = decode_png(replies[4], "lit png")
            mask = decode_png(replies[5], "object_mask png")
            visible = self._visible(mask)
            png = replies[4]
        else:
            rgb, png, visible = np.zeros((0, 0, 3), np.uint8), b"", {}
        self._last_pose = [x, y, z, self._pitch, yaw, roll]
        return Observation(rgb, png, list(self._last_pose), visible, doors, held, collided)

    def _visible(self, mask: np.ndarray) -> dict[str, int]:
        """Pixels per object in the mask: ground-truth visibility, as UnrealCV gives it."""
        packed = (mask[..., 0].astype(np.int32) << 16) | (mask[..., 1].astype(np.int32) << 8) | mask[..., 2]
        packed = packed[packed != 0]  # background (sky, ground) is most of the frame: skip it before sorting
        values, counts = np.unique(packed, return_counts=True)
        out = {}
        for v, n in zip(values.tolist(), counts.tolist()):
            name = self._colors.get(v)
            if name and n >= self.cfg.min_visible_px:
                out[name] = n
        return dict(sorted(out.items()))
