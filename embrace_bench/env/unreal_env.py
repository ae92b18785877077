"""UnrealEnv: reset(task) / step(action) over UnrealCV and UnrealZoo character commands only.

The same class drives the embedded world and a real UnrealZoo build: it never reaches into the engine,
it only sends commands both answer, and it reads back the ground truth the scorer and the failure
tagger need (pose, collision, per-object mask pixels, door states, the carried object). What differs
between engines is configuration (EnvConfig): a real build runs game time on the wall clock while resumed
(`realtime`), serves a stale frame right after a move (`stale_frame`), loads levels and spawns characters
asynchronously (bounded polls), and wants its own console settings (`setup_commands`).

This class steps by magnitudes (`protocol=magnitudes`: one set_move cycle per action, the embedded world and the
v1 variant env=unrealzoo_v1). env=unrealzoo's default, `protocol=release`, is ReleaseEnv (env/release_env.py):
the EmbRACE release's own command sequences. Both infer collision from the pose read back where the engine has
no `get_hit` (`collision=pose`), and hand the model RGB frames (UnrealCV's lit PNG carries alpha).
"""
from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field

import numpy as np

from embrace_bench.actions import MOTIONS, TURNS, Action, Magnitudes
from embrace_bench.config_schema import embedded_env
from embrace_bench.env.base import StepResult
from embrace_bench.env.client import UnrealCVClient
from embrace_bench.env.replies import EnvError, _floats, _hit, _json, decode_png, rgb_png
from embrace_bench.observation import Observation
from embrace_bench.tasks.model import Task
from embrace_bench.unrealcv.protocol import is_error_reply

log = logging.getLogger(__name__)
_COLOR_RE = re.compile(r"R=(\d+),G=(\d+),B=(\d+)")
STALE_FRAME_MODES = ("none", "recapture", "wait_tick", "release")
PROTOCOLS = ("magnitudes", "release")
COLLISION_SOURCES = ("get_hit", "pose")


_EMBEDDED = embedded_env()  # the embedded world's settings (conf/env/embedded.yaml): EnvConfig's defaults


@dataclass
class EnvConfig:
    agent_name: str = _EMBEDDED.agent_name
    agent_blueprint: str = _EMBEDDED.agent_blueprint
    camera_id: int | None = _EMBEDDED.camera_id  # None: the camera nearest the spawned character (its ego camera)
    width: int = _EMBEDDED.width
    height: int = _EMBEDDED.height
    fov: float = _EMBEDDED.fov
    cam_offset: tuple[float, float, float] = tuple(_EMBEDDED.cam_offset)  # set_cam x y z of the ego view
    step_s: float = _EMBEDDED.step_s  # game time of one resume..pause cycle; set_move gets magnitude / step_s
    realtime: bool = _EMBEDDED.realtime  # game time runs on the wall clock while resumed: wait step_s
    stale_frame: str = _EMBEDDED.stale_frame  # none | recapture (capture twice) | wait_tick (an idle tick first)
    #  | release (the release's: nudge the camera 1 cm, capture, put it back, capture twice; the last one is used)
    # magnitudes: one set_move cycle per move from `mags` (the embedded world, and the v1 variant); release: the
    # EmbRACE release's own set-up and cycles (env/release_env.py), which a real UnrealZoo build is known to follow.
    protocol: str = _EMBEDDED.protocol
    collision: str = _EMBEDDED.collision  # get_hit (the engine answers it) | pose (a move fell short)
    collision_frac: float = _EMBEDDED.collision_frac  # pose: a move covering less of its magnitude collided
    slomo: float = _EMBEDDED.slomo  # release: `vrun slomo` at map load
    interval_ms: int = _EMBEDDED.interval_ms  # release: `vbp <agent> set_interval`
    destroy_wait_s: float = _EMBEDDED.destroy_wait_s  # release: wait after destroying an actor (deferred)
    settle_s: float = _EMBEDDED.settle_s  # release: wait after ViewActor / set_app at map load
    tick_s: float = _EMBEDDED.tick_s  # wait_tick: how long the engine runs idle before a capture
    level_timeout_s: float = _EMBEDDED.level_timeout_s
    spawn_timeout_s: float = _EMBEDDED.spawn_timeout_s
    setup_commands: tuple[str, ...] = tuple(_EMBEDDED.setup_commands)  # after the spawn; "{agent}" is its name
    visible_objects: str = _EMBEDDED.visible_objects  # all | task: whose mask colours to learn
    pd_class: str = _EMBEDDED.pd_class  # release Pick & Drop tasks: the object class spawned at PD_Start_Pose
    held_cm: float = _EMBEDDED.held_cm  # the task's object counts as carried within this XY distance of the character
    held_z_cm: float = _EMBEDDED.held_z_cm  # ... and this height difference (not one on the floor under it)
    # Raw set_move arguments per move action, one resume..pause cycle each ({"MoveForward": [[0, 200], [0, 200],
    # [0, 0]], ...}), replacing the single cycle derived from `mags` (for an engine whose own stepping is known).
    moves: dict | None = _EMBEDDED.moves
    capture: bool = True  # False: poses and states only, no frames (determinism checks)
    min_visible_px: int = 1
    mags: Magnitudes = field(default_factory=Magnitudes)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"env.protocol must be one of {', '.join(PROTOCOLS)}, not {self.protocol!r}")
        if self.collision not in COLLISION_SOURCES:
            raise ValueError(f"env.collision must be one of {', '.join(COLLISION_SOURCES)}, not {self.collision!r}")
        if self.stale_frame not in STALE_FRAME_MODES:
            raise ValueError(f"env.stale_frame must be one of {', '.join(STALE_FRAME_MODES)}, not {self.stale_frame!r}")
        if self.protocol == "release" and (not self.realtime or self.collision != "pose"
                                           or self.stale_frame == "wait_tick"):
            raise ValueError(f"env.protocol=release runs on the wall clock with collision from the pose read back "
                             f"and no wait_tick: it needs env.realtime=true and env.collision=pose, "
                             f"not realtime={self.realtime}, collision={self.collision!r}, "
                             f"stale_frame={self.stale_frame!r}")
        if self.visible_objects not in ("all", "task"):
            raise ValueError(f"env.visible_objects must be all or task, not {self.visible_objects!r}")
        if self.step_s <= 0:
            raise ValueError(f"env.step_s must be > 0, not {self.step_s}")
        for name, cycles in (self.moves or {}).items():
            ok = name in MOTIONS and isinstance(cycles, list) and cycles and all(
                isinstance(c, (list, tuple)) and len(c) == 2 and all(isinstance(v, (int, float)) for v in c)
                for c in cycles)
            if not ok:
                raise ValueError(f"env.moves.{name} must be a move action's list of [angle, speed] cycles, "
                                 f"not {cycles!r}")


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
        self.notes: list[str] = []  # optional queries the engine answered with an error

    @property
    def _task(self) -> Task:
        """The task of the episode under way: an env is stepped and read only after reset()."""
        if self.task is None:
            raise EnvError("no task: reset() the env first")
        return self.task

    # ---- helpers ----------------------------------------------------------------------------
    def _ok(self, cmds: list[str]) -> list:
        replies = self.client.request_many(cmds)
        for c, r in zip(cmds, replies):
            if isinstance(r, str) and is_error_reply(r):
                raise EnvError(f"{c!r} -> {r}")
        return replies

    def _poll(self, cmd: str, deadline_s: float, what: str):
        """Ask `cmd` until it answers something other than an error (Unreal does things asynchronously)."""
        deadline = time.monotonic() + deadline_s
        while True:
            reply = self.client.request(cmd)
            if isinstance(reply, str) and not is_error_reply(reply):
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
        a = self.cfg.agent_name
        self._spawn_character_actor()
        self._setup_commands()
        x, y, z, _pitch, yaw, _roll = task.start_pose
        self._ok([f"vset /object/{a}/location {x} {y} {z}", f"vset /object/{a}/rotation 0 {yaw} 0"])

    def _spawn_character_actor(self) -> None:
        """Spawn env.agent_blueprint as the character and wait until it answers (Unreal spawns asynchronously)."""
        c, a = self.cfg, self.cfg.agent_name
        self._ok([f"vset /objects/spawn_from_path {c.agent_blueprint} {a}"])
        self._poll(f"vget /object/{a}/location", c.spawn_timeout_s, f"the spawned character {a} did not appear")

    def _setup_commands(self) -> None:
        """env.setup_commands, sent after spawning the character; "{agent}" is its name."""
        if self.cfg.setup_commands:
            self._ok([cmd.replace("{agent}", self.cfg.agent_name) for cmd in self.cfg.setup_commands])

    def _find_camera(self) -> int:
        """The ego camera: the one closest to the character (UnrealZoo adds one per spawned character)."""
        n = len(str(self._ok(["vget /cameras"])[0]).split())
        replies = self._ok([f"vget /camera/{i}/location" for i in range(n)]
                           + [f"vget /object/{self.cfg.agent_name}/location"])
        agent = _floats(replies[-1], "agent location")
        dist = [math.dist(_floats(r, f"camera {i} location")[:3], agent[:3]) for i, r in enumerate(replies[:-1])]
        return int(np.argmin(dist))

    def _spawn_pick_object(self, task: Task) -> None:
        """EmbRACE release Pick & Drop: the object is spawned for the task, with its appearance and size."""
        name, c, pose = task.pick_object, self.cfg, task.pick_start_pose
        assert pose is not None  # reset() spawns the object only for a task that has its start pose
        x, y, z, pitch, yaw, roll = pose
        cmds = [f"vset /objects/spawn {c.pd_class} {name}"]
        if task.pick_appearance is not None:
            cmds.append(f"vbp {name} set_app {task.pick_appearance}")
        if task.pick_size is not None:
            cmds.append(f"vset /object/{name}/scale {task.pick_size} {task.pick_size} {task.pick_size}")
        self._ok(cmds + [f"vset /object/{name}/location {x} {y} {z}",
                         f"vset /object/{name}/rotation {pitch} {yaw} {roll}"])

    def _learn_colors(self, task: Task) -> None:
        if self.cfg.visible_objects == "task":
            names = list(dict.fromkeys([*task.target_objects, *task.distractors,
                                        *([task.door] if task.door else []),
                                        *([task.pick_object] if task.pick_object else [])]))
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
        if task.pick_start_pose is not None and task.pick_object:
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
        if act in MOTIONS:
            turn, dist = {Action.MoveForward: (0.0, m.forward_cm), Action.MoveBackward: (0.0, -m.backward_cm),
                          Action.TurnLeft: (-m.turn_deg, 0.0), Action.TurnRight: (m.turn_deg, 0.0)}[act]
            # set_move takes rates (deg/s, cm/s): the cycle integrates them over step_s of game time.
            cycles = (c.moves or {}).get(act.value) or [(turn / c.step_s, dist / c.step_s)]
            for i, (rate, speed) in enumerate(cycles):
                last = i == len(cycles) - 1
                self._cycle([f"vbp {a} set_move {rate} {speed}"], [f"vbp {a} set_move 0 0"] if last else [])
        elif act in (Action.LookUp, Action.LookDown):
            look = m.look_deg if act == Action.LookUp else -m.look_deg
        elif act == Action.OpenDoor:
            self._interact(f"vbp {a} set_open_door 1")
        elif act in (Action.PickObject, Action.DropObject):
            carrying = self._held is not None if self.task.pick_object else self._carrying
            if carrying == (act == Action.DropObject):  # set_pickup toggles: only send what makes sense
                self._carrying = not carrying
                self._interact(f"vbp {a} set_pickup")
        hit = act in MOTIONS and c.collision == "get_hit" and self._get_hit()
        if look:  # a look tilts the camera for this one observation only
            self._ok([self._set_cam(look)])
        self._pitch = look
        obs = self._observe(collided=bool(hit), images=act != Action.Finish)  # None: set just below
        if hit is None or c.collision == "pose":
            hit = obs.collided = self.fell_short(act, before, obs.pose)
        if look:
            self._ok([self._set_cam(0.0)])
        dropped_at = None
        if act == Action.DropObject and was_held and obs.held_object is None and obs.object_pose:
            dropped_at = obs.object_pose  # where the released object lies now
        return StepResult(obs, before, obs.pose, hit, dropped_at, done=act == Action.Finish)

    def _get_hit(self) -> bool | None:
        """The character's hit flag, an optional query: a build without it answers an error, which is noted and
        the collision is then inferred from the pose (None)."""
        reply = self.client.request(f"vbp {self.cfg.agent_name} get_hit")
        if isinstance(reply, str) and is_error_reply(reply):
            self.note(f"get_hit answered {reply[:80]!r}: collision inferred from the pose")
            return None
        return _hit(reply)

    def fell_short(self, act: Action, before: list[float], after: list[float]) -> bool:
        """Collision from the pose read back: a move or turn that covered less than `collision_frac` of its
        magnitude was stopped by something."""
        if act not in MOTIONS or len(before) < 5 or len(after) < 5:
            return False
        m, frac = self.cfg.mags, self.cfg.collision_frac
        if act in TURNS:
            return abs((after[4] - before[4] + 180.0) % 360.0 - 180.0) < frac * m.turn_deg
        full = m.forward_cm if act == Action.MoveForward else m.backward_cm
        return math.hypot(after[0] - before[0], after[1] - before[1]) < frac * full

    def note(self, text: str) -> None:
        """An engine answer the episode can do without (an optional query's error): kept, logged, not fatal."""
        self.notes.append(text)
        log.warning("engine: %s", text)

    def _interact(self, cmd: str) -> None:
        if self.cfg.realtime:  # an animation plays out in game time
            self._cycle([cmd], [])
        else:
            self._ok([cmd])

    def locate(self, names: list[str]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        """(locations, bounds) of the named objects now, for the record: the failure tagger and the viewer
        place targets and distractors from them. An object or property the engine does not answer is left out."""
        cmds = [f"vget /object/{n}/{prop}" for n in names for prop in ("location", "bounds")]
        replies = self.client.request_many(cmds)
        locations: dict[str, list[float]] = {}
        bounds: dict[str, list[float]] = {}
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
        c = self.cfg
        images = images and c.capture
        if images and c.stale_frame == "wait_tick" and c.realtime:
            self._ok(["vset /action/game/resume"])  # an idle tick: the capture buffers catch up
            time.sleep(c.tick_s)
            self._ok(["vset /action/game/pause"])
        shots = []
        if images:
            shots = [f"vget /camera/{self.camera_id}/lit png", f"vget /camera/{self.camera_id}/object_mask png"]
            shots *= 2 if c.stale_frame in ("recapture", "release") else 1  # the second capture is current
        return self._read_state(collided, shots)

    def _read_state(self, collided: bool, shots: list[str], frames: tuple | None = None) -> Observation:
        """Pose, door state, the task's object and the frames: `shots` (captures whose last two replies are the
        lit and mask frames) are sent with the reads, or `frames` (lit, mask) were captured already."""
        c, a, pd = self.cfg, self.cfg.agent_name, self._task.pick_object
        cmds = [f"vget /object/{a}/location", f"vget /object/{a}/rotation", f"vbp {a} get_door_state"]
        if pd:
            cmds.append(f"vget /object/{pd}/location")
        replies = self.client.request_many(cmds + shots)
        x, y, z = _floats(replies[0], "agent location")[:3]
        _, yaw, roll = _floats(replies[1], "agent rotation")[:3]
        try:
            doors = {k: int(v) for k, v in _json(replies[2], "get_door_state").items()}
        except (EnvError, ValueError) as exc:  # optional: a build without it still runs every other task
            self.note(str(exc)[:120])
            doors = {}
        object_pose = _floats(replies[3], f"{pd} location")[:3] if pd else None
        # The release's rule (within held_cm in XY), plus a height check: in EmbRACE's data a carried object is
        # ~30 cm below the character's centre and one on the floor ~60 cm, and the embedded world lets an agent
        # stand on an object, which must not count as carrying it.
        self._held = pd if (object_pose and math.hypot(object_pose[0] - x, object_pose[1] - y) < c.held_cm
                            and abs(object_pose[2] - z) < c.held_z_cm) else None
        if shots:
            frames = replies[-2], replies[-1]
        if frames:
            lit, mask = frames
            rgb = decode_png(lit, "lit png")
            png = rgb_png(lit, rgb)
            visible = {}
            if mask is not None:
                try:  # ours, not the release's: an engine without the mask view still runs the episode
                    visible = self._visible(decode_png(mask, "object_mask png"))
                except EnvError as exc:
                    self.note(str(exc)[:120])
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
