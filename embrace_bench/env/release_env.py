"""ReleaseEnv: UnrealZoo driven with the EmbRACE release's own commands (env.protocol=release, env=unrealzoo's
default). The sequences follow the release harness at 9f54184 (core/character_plus.py, eval/eval_vlm.py), which is
the only harness known to work on UnrealZoo UE5.6 v3.0.2; tests/fixtures/unrealzoo_golden holds them command for
command and tests/test_release_protocol.py checks what this class sends against them.

Reset (its `load_task`): load the map, `slomo`, console variables, clean-up, the pawn camera moved away, the
character spawned, camera settings and exposure; then the task's character re-spawned at Start_Pose, the Pick & Drop
object spawned, the task's exposure, and the release's warm-up. Each action (its `_execute`): resume, the action's
resume .. `step_s` .. pause cycles of `set_move` / `set_cam` / `set_standup`, the capture, the reads, pause.
What is ours: the reads (agent pose, door state, the object's place, the object mask for visibility), which change
nothing in the world; collision is inferred from the pose read back (the release reports none).
"""
from __future__ import annotations

import math
import time

from embrace_bench.actions import Action
from embrace_bench.env.base import StepResult
from embrace_bench.env.client import UnrealCVClient
from embrace_bench.env.release_facts import (
    FIXES,
    PLACED_CHARACTER,
    POSTPROCESS_OFF,
    REMOVED_CLASSES,
    SHARPEN,
    Fix,
    drop_params,
    map_facts,
)
from embrace_bench.env.unreal_env import EnvConfig, EnvError, UnrealEnv, _floats
from embrace_bench.observation import Observation
from embrace_bench.tasks.model import Task, TaskType
from embrace_bench.unrealcv.protocol import is_error_reply

IN_HAND_CM = 30.0  # the object is in the hand within this (XY): Drop acts only within it, Pick only beyond it
# (and within reach: env.magnitudes.interact_cm, the release's 210 cm in conf/env/unrealzoo.yaml)
PICK_PLACE_CM = 60.0  # where Pick puts the object before `set_pickup`
DROP_BACK = 43  # Drop's two backward steps (set_move speed)
LOOK_DEG = 30  # LookUp / LookDown: the camera pitch of their cycle
HAND = (20, 50, -10, -13, -90, 15)  # after Pick: the view of the hands (set_cam x y z roll pitch yaw), one observation
# Per action: its cycles as (yaw step, speed[, view]) -- speed in the release's set_move units; view: the camera pitch
# of the cycle at env.cam_offset (0 without one), or a whole set_cam (HAND).
CYCLES: dict[Action, list[tuple | str]] = {
    Action.MoveForward: [(0, 200), (0, 200), (0, 0)],
    Action.MoveBackward: [(0, -60), (0, -60), (0, 0)],
    Action.TurnLeft: [(-25, 0)],
    Action.TurnRight: [(25, 0)],
    Action.LookUp: [(0, 0, LOOK_DEG)],
    Action.LookDown: [(0, 0, -LOOK_DEG)],
    Action.OpenDoor: [(0, -60), (0, 0), (0, 60), (0, 0), "open_door"],
    Action.PickObject: ["pick", (0, 0), (0, 0), (0, 0), (0, 0, HAND)],
    Action.DropObject: [(0, -DROP_BACK), (0, -DROP_BACK), (0, 0), "drop"],
    Action.MidwayTarget: [],
    Action.Finish: [],
}


def _fmt(v) -> str:
    return str(float(v)) if isinstance(v, float) else str(v)  # as Python prints it, like the release


def _join(values) -> str:
    return " ".join(_fmt(v) for v in values)


class ReleaseEnv(UnrealEnv):
    def __init__(self, client: UnrealCVClient, cfg: EnvConfig | None = None) -> None:
        super().__init__(client, cfg)
        self._spawned_name = self.cfg.agent_name  # the character's own name: a map may lend its character for one task

    # ---- small pieces ------------------------------------------------------------------------
    def _send(self, cmds: list[str]) -> list:
        """Commands the release sends without looking at the answer (its asynchronous requests)."""
        return self.client.request_many(cmds)

    def _resume(self) -> None:
        self._send(["vset /action/game/resume"])

    def _pause(self) -> None:
        self._send(["vset /action/game/pause"])

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def _pose_of(self, name: str) -> list[float]:
        loc, rot = self.client.request_many([f"vget /object/{name}/location", f"vget /object/{name}/rotation"])
        return _floats(loc, f"{name} location")[:3] + _floats(rot, f"{name} rotation")[:3]

    def _objects(self) -> list[str]:
        return str(self._ok(["vget /objects"])[0]).split()

    # ---- reset -------------------------------------------------------------------------------
    def reset(self, task: Task) -> Observation:
        self.task, self._pitch, self._held, self._carrying = task, 0.0, None, False
        self.cfg.agent_name = self._spawned_name  # a previous map's own character is not this map's
        self._load_map(task)
        self._resume()
        self._spawn_character(list(task.start_pose))
        if task.type == TaskType.PICK_DROP and task.pick_object and task.pick_start_pose is not None:
            self._spawn_pd(task)
        self._exposure(self._map_exposure(task.map))
        if task.exposure is not None:  # the task's own value replaces the map's (absolute, not added)
            self._exposure(task.exposure)
        if self.cfg.visible_objects:
            self._learn_colors(task)
        self._resume()  # the release's warm-up before the first observation: idle, capture twice, twice over
        frames = None
        for round_ in range(2):
            self._cycles([(0, 0)])
            for _ in range(2):
                frames = self._capture() if self.cfg.capture else None
            if round_ == 0:
                self._pause()
        self._resume()
        obs = self._read_state(False, [], frames)
        self._pause()
        return obs

    def _load_map(self, task: Task) -> None:
        c, name = self.cfg, task.map
        self._load_level(name)
        self._send([f"vrun slomo {_fmt(c.slomo)}", "vrun r.MotionBlurQuality 0", "vrun r.AntiAliasingMethod 1"])
        objects = self._objects()
        self._send([f"vset /object/{o}/destroy" for o in objects if REMOVED_CLASSES.match(o)])
        placed = [o for o in objects if PLACED_CHARACTER.match(o)]
        key = name.casefold()
        for fix in FIXES.get(key, ()):
            self._fix(fix, objects, name)
        if key in POSTPROCESS_OFF:
            self._ok(["vrun set PostProcessVolume BlendWeight 0"])
        self._ok(["vrun r.Fog 0", "vrun r.VolumetricFog 1", f"vrun r.Tonemapper.Sharpen {_fmt(SHARPEN.get(key, 0))}"])
        facts = map_facts(name)
        # The release stops on a map it has no start pose for; ours starts there from the task's Start_Pose.
        init_pose = list(facts.init_pose) if facts else list(task.start_pose)
        cam0 = _floats(self._poll("vget /camera/0/location", c.level_timeout_s, "camera 0"), "camera 0 location")
        self._send([f"vset /camera/0/location {_join(cam0[:2])} 2000"])  # the pawn camera out of the way
        if placed:
            c.agent_name = placed[-1]  # a map with its own character: the release reuses it
        else:
            reply = self.client.request(f"vget /object/{c.agent_name}/location")
            if not is_error_reply(reply):  # left over from an earlier set-up in this engine
                self._send([f"vset /object/{c.agent_name}/destroy"])
                self._sleep(c.destroy_wait_s)
            self._spawn_at(init_pose)
        a = c.agent_name
        self._send([f"vrun ViewActor {a}", f"vbp {a} set_app 4"])
        self._sleep(c.settle_s)
        if c.camera_id is None:
            self.camera_id = self._find_camera()
        self._camera_settings()
        self._send([f"vbp {a} set_interval {c.interval_ms}"])
        self._exposure(self._map_exposure(name))
        self._pause()

    def _fix(self, fix: Fix, objects: list[str], map_name: str) -> None:
        """One of the release's per-map clean-up steps (release_facts.FIXES)."""
        if fix.kind == "destroy_light":
            self._send([f"vset /object/{n}/destroy" for n in fix.names])
            return
        keys = {n.casefold() for n in fix.names}
        found = sorted((o for o in objects if o.casefold() in keys or o.casefold().startswith(fix.prefix or ("\0",))),
                       key=str.casefold)
        if (fix.required and len(found) < len(fix.names)) or (fix.count is not None and len(found) != fix.count):
            raise EnvError(f"{map_name}: the release's clean-up expects {fix.count or sorted(keys)} "
                           f"{fix.kind} actor(s), found {found}")
        if fix.kind == "destroy" and found:
            self._ok([f"vset /object/{n}/destroy" for n in found])
            deadline = time.monotonic() + fix.wait_s
            while fix.wait_s and any(o in found for o in self._objects()):
                if time.monotonic() > deadline:
                    raise EnvError(f"{map_name}: {found} not destroyed within {fix.wait_s:g} s")
                time.sleep(0.05)
        elif fix.kind == "overlap_off":
            self._ok([f"vrun set {n}.Box bGenerateOverlapEvents False" for n in found])
        elif fix.kind == "freeze":
            self._ok([f"vrun set {n}.StaticMeshComponent0 BodyInstance (bSimulatePhysics=False)" for n in found])
        elif fix.kind == "rotate":
            if fix.rotation is None:
                raise ValueError(f"{map_name}: a rotate clean-up step names no rotation")
            for n in fix.names:
                self._ok([f"vset /object/{n}/rotation {_join(fix.rotation)}"])
                got = _floats(self._ok([f"vget /object/{n}/rotation"])[0], f"{n} rotation")
                if any(abs((g - w + 180.0) % 360.0 - 180.0) > 0.01 for g, w in zip(got, fix.rotation)):
                    raise EnvError(f"{map_name}: door {n} did not close: rotation {got}, expected {fix.rotation}")

    @staticmethod
    def _map_exposure(name: str) -> float:
        facts = map_facts(name)
        return facts.exposure if facts else 0.0  # the release has no default: it stops on a map it does not list

    def _exposure(self, value) -> None:
        self._ok([f"vrun r.ExposureOffset {_fmt(value)}", f"vset /camera/{self.camera_id}/exposure_bias {_fmt(value)}"])

    def _camera_settings(self) -> None:
        cam = self.camera_id
        self._ok([f"vset /camera/{cam}/lit_source ldr", f"vset /camera/{cam}/reflection none",
                  f"vset /camera/{cam}/illumination none"])

    def _spawn_at(self, pose: list[float]) -> None:
        a = self.cfg.agent_name
        self._spawn_character_actor()
        self._ok([f"vset /object/{a}/location {_join(pose[:3])}", f"vset /object/{a}/rotation {_join(pose[3:6])}"])

    def _spawn_character(self, pose: list[float]) -> None:
        """The release's `set_char_pose_by_spawn`: a fresh character at the task's start, set up again."""
        c, a = self.cfg, self.cfg.agent_name
        self._send([f"vset /object/{a}/destroy"])
        self._sleep(c.destroy_wait_s)
        self._spawn_at(pose)
        self._send([f"vbp {a} set_interval {c.interval_ms}", f"vbp {a} set_app 4", f"vrun ViewActor {a}"])
        self._setup_commands()  # ours (env.setup_commands, none by default)
        self._camera_settings()  # a new character brings a new camera sensor
        self._exposure(self._map_exposure(self._task.map))
        self._resume()
        facts = map_facts(self._task.map)
        for _ in range(facts.warm_up_frames if facts else 1):
            self._send([f"vget /camera/{self.camera_id}/lit bmp"])

    def _new_pd(self) -> None:
        """The Pick & Drop object, spawned out of sight with physics on, in the task's appearance."""
        o = self._task.pick_object
        app = self._task.pick_appearance  # None: a task without one (a v1 task's object) keeps the default look
        cmds = [f"vset /objects/spawn {self.cfg.pd_class} {o}", f"vset /object/{o}/location 0 0 -1000",
                f"vset /object/{o}/rotation 0 0 0", f"vbp {o} set_phy 1"]
        self._send(cmds + ([f"vbp {o} set_app {app}"] if app is not None else []))

    def _scale_pd(self) -> None:
        s = self._task.pick_size if self._task.pick_size is not None else 1.0
        self._send([f"vset /object/{self._task.pick_object}/scale {_join([s] * 3)}"])

    def _spawn_pd(self, task: Task) -> None:
        o, pose = task.pick_object, task.pick_start_pose
        assert pose is not None  # reset() spawns the object only for a task that has its start pose
        self._resume()
        self._new_pd()
        self._scale_pd()
        self._send([f"vset /object/{o}/location {_join(pose[:3])}",
                    f"vset /object/{o}/rotation {_join(pose[3:6])}"])
        self._pause()

    # ---- step --------------------------------------------------------------------------------
    def step(self, action: str) -> StepResult:
        if self.task is None:
            raise EnvError("step() before reset()")
        act = Action(action)
        before, was_held = list(self._last_pose), self._held
        self._resume()
        self._cycles(self._action_cycles(act))
        pitch = {Action.LookUp: LOOK_DEG, Action.LookDown: -LOOK_DEG, Action.PickObject: HAND[4]}.get(act, 0)
        self._pitch = float(pitch)
        frames = self._capture() if self.cfg.capture else None
        obs = self._read_state(False, [], frames)
        self._pause()
        hit = obs.collided = self.fell_short(act, before, obs.pose)
        dropped_at = None
        if act == Action.DropObject and was_held and obs.held_object is None and obs.object_pose:
            dropped_at = obs.object_pose
        return StepResult(obs, before, obs.pose, hit, dropped_at, done=act == Action.Finish)

    def _action_cycles(self, act: Action) -> list:
        """The release's cycles, or `env.moves`' raw [yaw step, speed] cycles for a move (the v1 variant)."""
        given = (self.cfg.moves or {}).get(act.value)
        return [tuple(c) for c in given] if given else CYCLES[act]

    def _cycles(self, cycles: list) -> None:
        """The release's `step_sync` per cycle: resume, set_move + set_cam + set_standup, step_s, pause."""
        a = self.cfg.agent_name
        for cyc in cycles:
            if cyc == "pick":
                self._pick()
                continue
            if cyc == "drop":
                self._drop()
                continue
            self._resume()
            if cyc == "open_door":
                self._send([f"vbp {a} set_open_door 1"])
            else:
                self._send([f"vbp {a} set_move {cyc[0]} {cyc[1]}", self._view(cyc[2] if len(cyc) > 2 else 0),
                            f"vbp {a} set_standup"])
            self._sleep(self.cfg.step_s)
            self._pause()

    def _view(self, view) -> str:
        """set_cam of a cycle: the ego camera at env.cam_offset pitched by `view` degrees, or a whole set_cam."""
        return f"vbp {self.cfg.agent_name} set_cam {_join(view)}" if isinstance(view, tuple) else self._set_cam(view)

    def _pd_distance(self) -> float:
        """XY distance from the character to the object (infinite when the task has none or it is gone)."""
        if not self._task.pick_object:
            return math.inf
        agent = self._pose_of(self.cfg.agent_name)
        try:
            obj = self._pose_of(self._task.pick_object)
        except EnvError:
            return math.inf
        return math.hypot(obj[0] - agent[0], obj[1] - agent[1])

    def _place_pd(self, forward: float, below: float = 0.0, turn: tuple | None = None) -> None:
        x, y, z, pitch, yaw, roll = self._pose_of(self.cfg.agent_name)
        rad = math.radians(yaw)
        cmds = [f"vset /object/{self._task.pick_object}/location "
                f"{_join([x + forward * math.cos(rad), y + forward * math.sin(rad), z - below])}"]
        if turn is not None:
            rot = [pitch + turn[0], yaw + turn[1], roll + turn[2]]
            cmds.append(f"vset /object/{self._task.pick_object}/rotation {_join(rot)}")
        self._send(cmds)

    def _in_pick_range(self) -> bool:
        """Whether Pick acts now: the object within reach (magnitudes.interact_cm) and not already in the hand."""
        return IN_HAND_CM < self._pd_distance() < self.cfg.mags.interact_cm

    def _pick(self) -> None:
        """Pick by reset: within reach, the object is re-spawned 60 cm in front, picked up, and scaled back."""
        a, c = self.cfg.agent_name, self.cfg
        self._resume()
        if not self._in_pick_range():
            return
        self._send([f"vset /object/{self._task.pick_object}/destroy"])
        self._sleep(c.destroy_wait_s)
        self._new_pd()
        self._place_pd(PICK_PLACE_CM)
        self._resume()
        self._resume()  # the release's pick animation checks the reach once more (resumed) before set_pickup
        if self._in_pick_range():
            self._place_pd(PICK_PLACE_CM)
            self._send([f"vbp {a} set_pickup"])
        self._sleep(c.step_s)
        for _ in range(3):
            self._send([f"vbp {a} set_move 0 0", self._view(0), f"vbp {a} set_standup"])
            self._sleep(c.step_s)
        self._scale_pd()
        self._sleep(c.step_s)

    def _drop(self) -> None:
        """Drop by reset: an object in the hand is re-spawned in front of the character, per its pd_config."""
        self._resume()
        if self._pd_distance() < IN_HAND_CM:
            self._send([f"vset /object/{self._task.pick_object}/destroy"])
            self._sleep(self.cfg.destroy_wait_s)
            self._new_pd()
            self._scale_pd()
            forward, below, turn = drop_params(self._task.pick_appearance)
            self._place_pd(forward, below, turn)
        self._pause()

    def _capture(self) -> tuple:
        """The release's capture: UE5.6 may serve a frame from before the last change, so the camera is nudged
        1 cm, captured, put back and captured twice, and the last capture is the observation. The object mask
        (ours, for visibility) is captured twice after it for the same reason."""
        cam, c = self.camera_id, self.cfg
        lit = f"vget /camera/{cam}/lit bmp"
        if c.stale_frame == "release":
            x, y, z = _floats(self._poll(f"vget /camera/{cam}/location", c.level_timeout_s, f"camera {cam}"),
                              f"camera {cam} location")[:3]
            replies = self.client.request_many([f"vset /camera/{cam}/location {_join([x + 1, y + 1, z + 1])}", lit,
                                                f"vset /camera/{cam}/location {_join([x, y, z])}", lit, lit])
        else:
            replies = self.client.request_many([lit] * (2 if c.stale_frame == "recapture" else 1))
        mask = None
        if c.visible_objects:
            mask = self.client.request_many([f"vget /camera/{cam}/object_mask png"] * 2)[-1]
        return replies[-1], mask
