"""UnrealEnv: reset(task) / step(action) over UnrealCV and UnrealZoo character commands only.

The same class drives the embedded world and a real UnrealZoo build: it never reaches into the engine,
it only sends commands both answer, and it reads back the ground truth the scorer and the failure
tagger need (pose, collision, per-object mask pixels, door states, the carried object). What differs
between engines is configuration (EnvConfig): a real build runs game time on the wall clock while resumed
(`realtime`), serves a stale frame right after a move (`stale_frame`), loads levels and spawns characters
asynchronously (bounded polls), and wants its own console settings (`setup_commands`).
"""
from __future__ import annotations

import io
import json
import math
import re
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from embrace_bench.actions import Action, Magnitudes
from embrace_bench.env.client import UnrealCVClient
from embrace_bench.tasks.model import Task

_COLOR_RE = re.compile(r"R=(\d+),G=(\d+),B=(\d+)")
STALE_FRAME_MODES = ("none", "recapture", "wait_tick")
MOVES = (Action.MoveForward, Action.MoveBackward, Action.TurnLeft, Action.TurnRight)


class EnvError(RuntimeError):
    """The engine answered something the env cannot use (the message names the command)."""


@dataclass
class EnvConfig:
    agent_name: str = "EmbraceAgent"
    agent_blueprint: str = "/Game/Agents/BP_Character.BP_Character_C"
    camera_id: int | None = None  # None: the camera nearest the spawned character (its ego camera)
    width: int = 640
    height: int = 480
    fov: float = 90.0
    cam_offset: tuple[float, float, float] = (0.0, 0.0, 160.0)  # set_cam x y z of the ego view
    step_s: float = 1.0  # game time of one resume..pause cycle; set_move gets magnitude / step_s
    realtime: bool = False  # game time runs on the wall clock while resumed (Unreal): wait step_s before pausing
    stale_frame: str = "none"  # none | recapture (capture twice) | wait_tick (let one idle tick render first)
    tick_s: float = 0.05  # wait_tick: how long the engine runs idle before a capture
    level_timeout_s: float = 30.0
    spawn_timeout_s: float = 10.0
    setup_commands: tuple[str, ...] = ()  # sent after spawning the character; "{agent}" is its name
    visible_objects: str = "all"  # all | task: which objects' mask colours to learn (task: targets, distractors)
    pd_class: str = "BP_GrabMoveDrop_C"  # release Pick & Drop tasks: the object class spawned at PD_Start_Pose
    held_cm: float = 30.0  # the task's object counts as carried within this XY distance of the character
    held_z_cm: float = 45.0  # ... and this height difference (an object on the floor under it is not carried)
    # Raw set_move arguments per move action, one resume..pause cycle each ({"MoveForward": [[0, 200], [0, 200],
    # [0, 0]], ...}), replacing the single cycle derived from `mags` (for an engine whose own stepping is known).
    moves: dict | None = None
    capture: bool = True  # False: poses and states only, no frames (determinism checks)
    min_visible_px: int = 1
    mags: Magnitudes = field(default_factory=Magnitudes)

    def __post_init__(self) -> None:
        if self.stale_frame not in STALE_FRAME_MODES:
            raise ValueError(f"env.stale_frame must be one of {', '.join(STALE_FRAME_MODES)}, not {self.stale_frame!r}")
        if self.visible_objects not in ("all", "task"):
            raise ValueError(f"env.visible_objects must be all or task, not {self.visible_objects!r}")
        if self.step_s <= 0:
            raise ValueError(f"env.step_s must be > 0, not {self.step_s}")
        for name, cycles in (self.moves or {}).items():
            ok = name in {m.value for m in MOVES} and isinstance(cycles, list) and cycles and all(
                isinstance(c, (list, tuple)) and len(c) == 2 and all(isinstance(v, (int, float)) for v in c) for c in cycles)
            if not ok:
                raise ValueError(f"env.moves.{name} must be a move action's list of [angle, speed] cycles, not {cycles!r}")


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
        value = json.loads(reply)
    except json.JSONDecodeError:
        raise EnvError(f"{what}: not a JSON object: {str(reply)[:80]!r}") from None
    if not isinstance(value, dict):
        raise EnvError(f"{what}: not a JSON object: {str(reply)[:80]!r}")
    return value


def _hit(reply) -> bool:
    """get_hit: {"hit": "1"} (vbp replies carry strings); tolerate a bare 0/1 as EmbRACE's client does."""
    try:
        return str(_json(reply, "get_hit").get("hit", "0")).strip().lower() in ("1", "true")
    except EnvError:
        return "1" in str(reply)


def decode_png(data, what: str) -> np.ndarray:
    if not isinstance(data, bytes) or not data.startswith(b"\x89PNG"):
        raise EnvError(f"{what}: expected a PNG, got {str(data[:40])!r}")
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


class UnrealEnv:
    def __init__(self, client: UnrealCVClient, cfg: EnvConfig | None = None) -> None:
        self.client = client
        self.cfg = cfg or EnvConfig()
        self.task: Task | None = None
        self.camera_id = self.cfg.camera_id
        self._colors: dict[int, str] = {}
        self._pitch = 0.0
        self._last_pose: list[float] = []
        self._held: str | None = None
        self._carrying = False  # what we asked for, when the task names no object to watch

    # ---- helpers ----------------------------------------------------------------------------
    def _ok(self, cmds: list[str]) -> list:
        replies = self.client.request_many(cmds)
        for c, r in zip(cmds, replies):
            if isinstance(r, str) and r.startswith("error"):
                raise EnvError(f"{c!r} -> {r}")
        return replies

    def _poll(self, cmd: str, deadline_s: float, what: str):
        """Ask `cmd` until it answers something other than an error (Unreal does things asynchronously)."""
        deadline = time.monotonic() + deadline_s
        while True:
            reply = self.client.request(cmd)
            if isinstance(reply, str) and not reply.startswith("error"):
                return reply
            if time.monotonic() > deadline:
                raise EnvError(f"{what} within {deadline_s:.0f} s (last reply to {cmd!r}: {str(reply)[:80]})")
            time.sleep(0.1)

    def _cycle(self, before: list[str], after: list[str]) -> None:
        """One resume..pause cycle of the stepping protocol, with commands sent around it."""
        if self.cfg.realtime:  # game time passes only while resumed, on the wall clock
            self._ok(before + ["vset /action/game/resume"])
            time.sleep(self.cfg.step_s)
            self._ok(["vset /action/game/pause"] + after)
        else:  # the embedded world integrates a fixed step per cycle
            self._ok(before + ["vset /action/game/resume", "vset /action/game/pause"] + after)

    def _set_cam(self, pitch: float) -> str:
        x, y, z = self.cfg.cam_offset
        return f"vbp {self.cfg.agent_name} set_cam {x} {y} {z} 0 {pitch} 0"

    # ---- reset ------------------------------------------------------------------------------
    def _load_level(self, name: str) -> None:
        self._ok([f"vset /action/game/level {name}"])
        # Levels load asynchronously on Unreal: cameras answer errors until the world is up.
        self._poll("vget /camera/0/location", self.cfg.level_timeout_s, f"level {name} did not load")

    def _spawn_agent(self, task: Task) -> None:
        c, a = self.cfg, self.cfg.agent_name
        self._ok([f"vset /objects/spawn_from_path {c.agent_blueprint} {a}"])
        self._poll(f"vget /object/{a}/location", c.spawn_timeout_s, f"the spawned character {a} did not appear")
        if c.setup_commands:
            self._ok([cmd.replace("{agent}", a) for cmd in c.setup_commands])
        x, y, z, _pitch, yaw, _roll = task.Start_Pose
        self._ok([f"vset /object/{a}/location {x} {y} {z}", f"vset /object/{a}/rotation 0 {yaw} 0"])

    def _find_camera(self) -> int:
        """The ego camera: the one closest to the character (UnrealZoo adds one per spawned character)."""
        n = len(str(self._ok(["vget /cameras"])[0]).split())
        replies = self._ok([f"vget /camera/{i}/location" for i in range(n)] + [f"vget /object/{self.cfg.agent_name}/location"])
        agent = _floats(replies[-1], "agent location")
        dist = [math.dist(_floats(r, f"camera {i} location")[:3], agent[:3]) for i, r in enumerate(replies[:-1])]
        return int(np.argmin(dist))

    def _spawn_pick_object(self, task: Task) -> None:
        """EmbRACE release Pick & Drop: the object is spawned for the task, with its appearance and size."""
        name, c = task.PD_ID, self.cfg
        x, y, z, pitch, yaw, roll = task.PD_Start_Pose
        cmds = [f"vset /objects/spawn {c.pd_class} {name}"]
        if task.PD_Appearance is not None:
            cmds.append(f"vbp {name} set_app {task.PD_Appearance}")
        if task.PD_Size is not None:
            cmds.append(f"vset /object/{name}/scale {task.PD_Size} {task.PD_Size} {task.PD_Size}")
        self._ok(cmds + [f"vset /object/{name}/location {x} {y} {z}", f"vset /object/{name}/rotation {pitch} {yaw} {roll}"])

    def _learn_colors(self, task: Task) -> None:
        if self.cfg.visible_objects == "task":
            names = list(dict.fromkeys([*task.GenAI_Target_Object, *task.distractors,
                                        *([task.Target_Door_Name] if task.Target_Door_Name else []),
                                        *([task.PD_ID] if task.PD_ID else [])]))
        else:
            names = [n for n in str(self._ok(["vget /objects"])[0]).split() if n != self.cfg.agent_name]
        self._colors = {}
        for n, reply in zip(names, self.client.request_many([f"vget /object/{n}/color" for n in names])):
            m = _COLOR_RE.search(str(reply))
            if m:
                r, g, b = (int(v) for v in m.groups())
                self._colors[(r << 16) | (g << 8) | b] = n

    def reset(self, task: Task) -> Observation:
        c = self.cfg
        self.task = task
        self._load_level(task.map)
        self._spawn_agent(task)
        if task.PD_Start_Pose is not None and task.PD_ID:
            self._spawn_pick_object(task)
        if c.camera_id is None:
            self.camera_id = self._find_camera()
        self._ok([f"vset /camera/{self.camera_id}/size {c.width} {c.height}",
                  f"vset /camera/{self.camera_id}/fov {c.fov}", self._set_cam(0.0), "vset /action/game/pause"])
        self._learn_colors(task)
        self._pitch, self._held, self._carrying = 0.0, None, False
        return self._observe(collided=False)

    # ---- step -------------------------------------------------------------------------------
    def step(self, action: str) -> StepResult:
        if self.task is None:
            raise EnvError("step() before reset()")
        act = Action(action)
        c, a, m = self.cfg, self.cfg.agent_name, self.cfg.mags
        before = list(self._last_pose)
        was_held = self._held
        look = 0.0
        if act in MOVES:
            turn, dist = {Action.MoveForward: (0.0, m.forward_cm), Action.MoveBackward: (0.0, -m.backward_cm),
                          Action.TurnLeft: (-m.turn_deg, 0.0), Action.TurnRight: (m.turn_deg, 0.0)}[act]
            # set_move takes rates (deg/s, cm/s): the cycle integrates them over step_s of game time.
            cycles = (c.moves or {}).get(act.value) or [(turn / c.step_s, dist / c.step_s)]
            for i, (rate, speed) in enumerate(cycles):
                self._cycle([f"vbp {a} set_move {rate} {speed}"], [f"vbp {a} set_move 0 0"] if i == len(cycles) - 1 else [])
        elif act in (Action.LookUp, Action.LookDown):
            look = m.look_deg if act == Action.LookUp else -m.look_deg
        elif act == Action.OpenDoor:
            self._interact(f"vbp {a} set_open_door 1")
        elif act in (Action.PickObject, Action.DropObject):
            carrying = self._held is not None if self.task.PD_ID else self._carrying
            if carrying == (act == Action.DropObject):  # set_pickup toggles: only send what makes sense
                self._carrying = not carrying
                self._interact(f"vbp {a} set_pickup")
        hit = act in MOVES and _hit(self._ok([f"vbp {a} get_hit"])[0])
        if look:  # a look tilts the camera for this one observation only
            self._ok([self._set_cam(look)])
        self._pitch = look
        obs = self._observe(collided=hit, images=act != Action.Finish)
        if look:
            self._ok([self._set_cam(0.0)])
        dropped_at = None
        if act == Action.DropObject and was_held and obs.held_object is None and obs.object_pose:
            dropped_at = obs.object_pose  # where the released object lies now
        return StepResult(obs, before, obs.pose, hit, dropped_at, done=act == Action.Finish)

    def _interact(self, cmd: str) -> None:
        if self.cfg.realtime:  # an animation plays out in game time
            self._cycle([cmd], [])
        else:
            self._ok([cmd])

    def close(self) -> None:
        self.client.close()

    # ---- observation ------------------------------------------------------------------------
    def _observe(self, collided: bool, images: bool = True) -> Observation:
        c, a, pd = self.cfg, self.cfg.agent_name, self.task.PD_ID
        images = images and c.capture
        if images and c.stale_frame == "wait_tick" and c.realtime:
            self._ok(["vset /action/game/resume"])  # an idle tick: the capture buffers catch up
            time.sleep(c.tick_s)
            self._ok(["vset /action/game/pause"])
        cmds = [f"vget /object/{a}/location", f"vget /object/{a}/rotation", f"vbp {a} get_door_state"]
        if pd:
            cmds.append(f"vget /object/{pd}/location")
        if images:
            shots = [f"vget /camera/{self.camera_id}/lit png", f"vget /camera/{self.camera_id}/object_mask png"]
            cmds += shots * (2 if c.stale_frame == "recapture" else 1)  # the second capture is current
        replies = self.client.request_many(cmds)
        x, y, z = _floats(replies[0], "agent location")[:3]
        _, yaw, roll = _floats(replies[1], "agent rotation")[:3]
        doors = {k: int(v) for k, v in _json(replies[2], "get_door_state").items()}
        object_pose = _floats(replies[3], f"{pd} location")[:3] if pd else None
        # The release's rule (within held_cm in XY), plus a height check: in EmbRACE's data a carried object is
        # ~30 cm below the character's centre and one on the floor ~60 cm, and the embedded world lets an agent
        # stand on an object, which must not count as carrying it.
        self._held = pd if (object_pose and math.hypot(object_pose[0] - x, object_pose[1] - y) < c.held_cm
                            and abs(object_pose[2] - z) < c.held_z_cm) else None
        if images:
            lit, mask = replies[-2], replies[-1]
            rgb, visible, png = decode_png(lit, "lit png"), self._visible(decode_png(mask, "object_mask png")), lit
        else:
            rgb, png, visible = np.zeros((0, 0, 3), np.uint8), b"", {}
        self._last_pose = [x, y, z, self._pitch, yaw, roll]
        return Observation(rgb, png, list(self._last_pose), visible, doors, self._held, collided, object_pose)

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
