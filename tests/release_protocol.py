"""The EmbRACE release's UnrealCV command sequences (mxlin043/EmbRACE@9f54184: embrace/core/character_plus.py,
character.py, eval/eval_vlm.py), re-stated in our words to drive the stand-in in tests over our own client.

`ReleaseDriver.load_task` sends what the release's `EvalVLM.load_task` sends (map load and clean-up, the
character spawned at the start pose, camera settings, the Pick & Drop object, warm-up) and
`ReleaseDriver.execute` what its `_execute` sends per action: resume, the action's cycles of
`resume, [set_move, set_cam, animation], wait 1/rt, pause`, then the capture (with UE5's camera nudge), the
pose read back, and the door / object state. Waiting is a callable, so a test can run the stand-in on a
virtual clock. Replies the release does not check are not checked here either.
"""
from __future__ import annotations

import json
import math

CHAR_BP = "/Game/SmartLocomotion/Blueprints/BP_Character.BP_Character_C"
CHAR = "spawned_char_0"
PD = "BP_GrabMoveDrop_C_1"
SLOMO, RT = 6, 4  # vrun slomo 6; each cycle waits 1/RT s of wall time
CAM_REL = (5, 0, -50)  # the ego camera's set_cam location
HEAD = {"LookUp": (0, 30, 0), "LookDown": (0, -30, 0)}  # set_cam roll pitch yaw per look
HAND_VIEW = "20 50 -10 -13 -90 15"  # LookHand: set_cam x y z roll pitch yaw
# set_move [angle, speed] per cycle; None is a cycle that is not a plain move (see _cycle).
CYCLES = {
    "MoveForward": [(0, 200), (0, 200), (0, 0)], "MoveBackward": [(0, -60), (0, -60), (0, 0)],
    "TurnLeft": [(-25, 0)], "TurnRight": [(25, 0)], "LookUp": [(0, 0)], "LookDown": [(0, 0)],
    "Idle": [(0, 0)], "OpenDoor": [(0, -60), (0, 0), (0, 60), (0, 0), "open_door"],
    "Drop": [(0, -43), (0, -43), (0, 0), "drop_by_reset"], "Pick": ["pick_by_reset"], "Finish": [],
}
# Drop by reset: the object respawns this far ahead, this far below the character's centre, turned by this
# much from it (the release's pd_config.json: its defaults and the metal bucket, id 18, of the demo).
DROP = {None: (70.0, 50.0, (0, 0, 0)), 18: (70.0, 40.0, (0, 0, 0))}
PICK_GATE = (30.0, 210.0)  # Pick acts only when the object is this far (XY) from the character
POSTPROCESS_OFF = {"suburbneighborhood_day"}  # of the release's list, the maps used here
SHARPEN = {"victoriantrainstation": 1.5}


def floats(reply) -> list[float]:
    return [float(v) for v in str(reply).split()]


def is_error(reply) -> bool:
    return isinstance(reply, str) and reply.lower().startswith("error")


class ReleaseDriver:
    def __init__(self, client, wait, init_pose=(0.0, 0.0, 90.0, 0.0, 0.0, 0.0)) -> None:
        self.c, self.wait, self.init_pose = client, wait, init_pose
        self.cam_id = 1
        self.pd_id = self.pd_size = self.task_type = None
        self.sent: list[str] = []

    def req(self, cmd: str):
        self.sent.append(cmd)
        return self.c.request(cmd)

    def batch(self, cmds: list[str]) -> list:
        self.sent.extend(cmds)
        return self.c.request_many(cmds)

    def resume(self) -> None:
        self.req("vset /action/game/resume")

    def pause(self) -> None:
        self.req("vset /action/game/pause")

    def poll(self, cmd: str, every: float) -> list[float]:
        for _ in range(200):
            reply = self.req(cmd)
            if not is_error(reply):
                return floats(reply)
            self.wait(every)
        raise TimeoutError(f"{cmd} kept failing: {reply}")

    # ---- per task ---------------------------------------------------------------------------
    def load_map(self, name: str) -> None:
        assert not is_error(self.req(f"vset /action/game/level {name}"))
        self.poll("vget /camera/0/location", 0.5)
        self.camera_config()
        for obj in self.req("vget /objects").split():
            self.req(f"vget /object/{obj}/color")
        for cmd in (f"vrun slomo {SLOMO}", "vrun r.MotionBlurQuality 0", "vrun r.AntiAliasingMethod 1"):
            self.req(cmd)
        for obj in self.req("vget /objects").split():
            if obj.lower().startswith(("bp_animal", "bp_basecar", "bp_grabmovedrop", "bp_drone", "drone")):
                self.req(f"vset /object/{obj}/destroy")
        key = name.casefold()
        if key == "suburbneighborhood_day":
            self.req("vset /object/DirectionalLight/destroy")  # the release ignores this answer
        if key in POSTPROCESS_OFF:
            assert not is_error(self.req("vrun set PostProcessVolume BlendWeight 0"))
        for cmd in ("vrun r.Fog 0", "vrun r.VolumetricFog 1", f"vrun r.Tonemapper.Sharpen {SHARPEN.get(key, 0)}"):
            assert not is_error(self.req(cmd))
        x, y, _ = floats(self.req("vget /camera/0/location"))
        self.req(f"vset /camera/0/location {x} {y} 2000")
        if not is_error(self.req(f"vget /object/{CHAR}/location")):
            self.req(f"vset /object/{CHAR}/destroy")
            self.wait(1.0)
        self.spawn_character(self.init_pose)
        self.camera_config()
        self.req(f"vrun ViewActor {CHAR}")
        self.req(f"vbp {CHAR} set_app 4")
        self.wait(1 + 2 / RT)
        n = len(self.req("vget /cameras").split())
        cams = [floats(self.req(f"vget /camera/{i}/location")) for i in range(n)]
        here = floats(self.req(f"vget /object/{CHAR}/location"))
        self.cam_id = min(range(n), key=lambda i: math.dist(cams[i], here))
        self.camera_params()
        self.req(f"vbp {CHAR} set_interval 1000")
        self.agent_pose()
        self.exposure(0)
        self.pd_id = None
        self.pause()

    def camera_config(self) -> None:
        for i in range(len(self.req("vget /cameras").split())):
            for what in ("location", "rotation", "fov"):
                self.req(f"vget /camera/{i}/{what}")

    def spawn_character(self, pose) -> None:
        assert not is_error(self.req(f"vset /objects/spawn_from_path {CHAR_BP} {CHAR}"))
        self.poll(f"vget /object/{CHAR}/location", 0.25)
        for cmd in (f"vset /object/{CHAR}/location {pose[0]} {pose[1]} {pose[2]}",
                    f"vset /object/{CHAR}/rotation {pose[3]} {pose[4]} {pose[5]}"):
            assert not is_error(self.req(cmd)), cmd

    def camera_params(self) -> None:
        for cmd in (f"vset /camera/{self.cam_id}/lit_source ldr", f"vset /camera/{self.cam_id}/reflection none",
                    f"vset /camera/{self.cam_id}/illumination none"):
            assert not is_error(self.req(cmd)), cmd

    def exposure(self, offset: float) -> None:
        for cmd in (f"vrun r.ExposureOffset {offset}", f"vset /camera/{self.cam_id}/exposure_bias {offset}"):
            assert not is_error(self.req(cmd)), cmd

    def respawn_at(self, pose) -> None:
        self.req(f"vset /object/{CHAR}/destroy")
        self.wait(1.0)
        self.spawn_character(pose)
        self.camera_config()
        self.req(f"vbp {CHAR} set_interval 1000")
        self.req(f"vbp {CHAR} set_app 4")
        self.req(f"vrun ViewActor {CHAR}")
        self.camera_params()
        self.exposure(0)
        self.resume()  # the release's warm-up: one capture (maps.json's default)
        self.image()

    def new_pd(self, loc) -> None:
        self.batch([f"vset /objects/spawn BP_GrabMoveDrop_C {PD}", f"vset /object/{PD}/location {loc[0]} {loc[1]} {loc[2]}",
                    f"vset /object/{PD}/rotation 0 0 0", f"vbp {PD} set_phy 1"])
        self.req(f"vbp {PD} set_app {self.pd_id}")

    def load_task(self, map_name: str, task: dict) -> dict:
        """Set the task up; what the release records for its start (the start pose, door or object)."""
        self.task_type = task.get("Type")
        self.load_map(map_name)
        self.resume()
        self.respawn_at(task["Start_Pose"])
        if task.get("Type") == 5:
            self.resume()
            self.pd_id, self.pd_size = task["PD_ID"], task["PD_Size"]
            self.new_pd((0, 0, -1000))
            self.req(f"vset /object/{PD}/scale {self.pd_size} {self.pd_size} {self.pd_size}")
            p = task.get("PD_Start_Pose") or task["Start_Pose"]
            self.req(f"vset /object/{PD}/location {p[0]} {p[1]} {p[2]}")
            if len(p) > 3:
                self.req(f"vset /object/{PD}/rotation {p[3]} {p[4]} {p[5]}")
            self.pause()
        self.exposure(0)
        if task.get("Exposure") is not None:
            self.exposure(task["Exposure"])
        self.resume()
        self.combination("Idle")
        self.capture(), self.capture()
        self.pause()
        self.combination("Idle")
        self.capture(), self.capture()
        self.resume()
        start = {"pose": [task["Start_Pose"][0], task["Start_Pose"][1], task["Start_Pose"][4]],
                 **self.interaction_state()}
        self.pause()
        return start

    # ---- per action ---------------------------------------------------------------------------
    def execute(self, action: str) -> dict:
        """The action's cycles, then what the release records: pose [x, y, yaw], door state or object."""
        self.resume()
        self.combination(action)
        self.capture()
        pose = self.agent_pose()
        rec = {"pose": [pose[0], pose[1], pose[4]], **self.interaction_state()}
        self.pause()
        return rec

    def interaction_state(self) -> dict:
        if self.task_type == 4:
            return {"door": int(json.loads(self.req(f"vbp {CHAR} get_door_state"))["door_state"])}
        if self.task_type == 5:
            loc, rot = self.batch([f"vget /object/{PD}/location", f"vget /object/{PD}/rotation"])
            return {"pd": floats(loc) + floats(rot), "pd_dist": self.pd_distance(resume=False)}
        return {}

    def combination(self, action: str) -> None:
        for cycle in CYCLES[action]:
            if cycle == "pick_by_reset":
                self.pick_by_reset()
            elif cycle == "drop_by_reset":
                self.drop_by_reset()
            else:
                self.step_sync(cycle, action)

    def step_sync(self, cycle, action: str) -> None:
        self.resume()
        self.step(cycle, action)
        self.wait(1 / RT)
        self.pause()

    def step(self, cycle, action: str) -> None:
        """One `step`: the action's set_move, set_cam and animation call in one batch (an animation-only
        atomic action, OpenDoor's or Pick's, sends its call alone)."""
        if cycle == "open_door":
            self.batch([f"vbp {CHAR} set_open_door 1"])
            return
        if cycle == "pick":  # the pick animation re-checks the gate and puts the object in front again
            near = PICK_GATE[0] < self.pd_distance() < PICK_GATE[1]
            if near:
                self.place_pd_ahead(60.0)
            self.batch([f"vbp {CHAR} set_pickup" if near else "vbp n/a"])
            return
        cam = HAND_VIEW if action == "LookHand" else " ".join(map(str, CAM_REL + HEAD.get(action, (0, 0, 0))))
        self.batch([f"vbp {CHAR} set_move {cycle[0]} {cycle[1]}", f"vbp {CHAR} set_cam {cam}",
                    f"vbp {CHAR} set_standup"])

    def pd_distance(self, resume: bool = True) -> float:
        if resume:
            self.resume()
        here = self.agent_pose()
        loc, _ = self.batch([f"vget /object/{PD}/location", f"vget /object/{PD}/rotation"])
        return 1e6 if is_error(loc) else math.dist(here[:2], floats(loc)[:2])

    def place_pd_ahead(self, dist: float, drop_z: float | None = None) -> None:
        x, y, z, _, yaw, _ = self.agent_pose()
        z = z if drop_z is None else z - drop_z
        self.req(f"vset /object/{PD}/location {x + dist * math.cos(math.radians(yaw))} "
                 f"{y + dist * math.sin(math.radians(yaw))} {z}")

    def pick_by_reset(self) -> None:
        if not PICK_GATE[0] < self.pd_distance() < PICK_GATE[1]:
            return
        self.req(f"vset /object/{PD}/destroy")
        self.wait(1.0)
        self.new_pd((0, 0, -1000))
        self.place_pd_ahead(60.0)
        self.resume()
        self.step("pick", "Pick")
        self.wait(1 / RT)
        for _ in range(3):
            self.step((0, 0), "Idle")
            self.wait(1 / RT)
        self.req(f"vset /object/{PD}/scale {self.pd_size} {self.pd_size} {self.pd_size}")
        self.wait(1 / RT)
        self.step_sync((0, 0), "LookHand")

    def drop_by_reset(self) -> None:
        self.resume()
        if self.pd_distance(resume=False) < PICK_GATE[0]:  # it is in the hand
            self.req(f"vset /object/{PD}/destroy")
            self.wait(1.0)
            self.new_pd((0, 0, -1000))
            self.req(f"vset /object/{PD}/scale {self.pd_size} {self.pd_size} {self.pd_size}")
            dist, height, rel = DROP.get(self.pd_id, DROP[None])
            self.place_pd_ahead(dist, height)
            pose = self.agent_pose()
            self.req(f"vset /object/{PD}/rotation {pose[3] + rel[0]} {pose[4] + rel[1]} {pose[5] + rel[2]}")
        self.pause()

    def agent_pose(self) -> list[float]:
        loc, rot = self.batch([f"vget /object/{CHAR}/location", f"vget /object/{CHAR}/rotation"])
        return floats(loc) + floats(rot)

    def image(self):
        return self.req(f"vget /camera/{self.cam_id}/lit bmp")

    def capture(self):
        """The release's get_image_safe: nudge the ego camera 1 uu, capture, put it back, capture twice."""
        x, y, z = self.poll(f"vget /camera/{self.cam_id}/location", 0.0)
        self.req(f"vset /camera/{self.cam_id}/location {x + 1} {y + 1} {z + 1}")
        self.image()
        self.req(f"vset /camera/{self.cam_id}/location {x} {y} {z}")
        self.image()
        return self.image()
