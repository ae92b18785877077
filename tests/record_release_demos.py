"""Record reference demos for the release fixtures as the release records them: on UnrealZoo (here the stand-in,
`serve --unrealzoo`) under env=unrealzoo's defaults (the release's command sequences, 125.9 uu per MoveForward and
25 deg per turn). Writes tests/fixtures/unrealzoo_demos/<Map>/<task>/infos.json (Action, Pose_Trajectory, and for
Pick & Drop the object's poses), which tests/test_release_end_to_end.py lays over the release fixtures so that
`model=demo` replays them through `env=unrealzoo`.

The driver plans each leg with the embedded planner (privileged map, the release's magnitudes), walks it on the
engine and re-plans from the pose read back. Waypoints: the fixture's own demo (recorded at the v1 magnitudes) gives
where it declared MidwayTarget and where it ended (for Open Door facing its last direction, then OpenDoor); Pick &
Drop (no demo in the fixture) goes to the object (Pick, within the release's 30-210 cm reach), then to the centre of
the object's region (Drop: its back-steps and 70 cm placement leave the object about where the character stood).

    python tests/record_release_demos.py
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from embrace_bench.__main__ import CONF_DIR  # noqa: E402
from embrace_bench.actions import DATA_ALIASES  # noqa: E402
from embrace_bench.env.client import UnrealCVClient  # noqa: E402
from embrace_bench.env.engines import env_config, make_env  # noqa: E402
from embrace_bench.env.launcher import EmbeddedEngineProcess  # noqa: E402
from embrace_bench.tasks.embrace_release import RELEASE_TYPES, benchmark_root, load_release  # noqa: E402
from embrace_bench.tasks.maps import load_map  # noqa: E402
from embrace_bench.tasks.planner import navigate  # noqa: E402
from embrace_bench.tasks.regions import centroid, in_polygons  # noqa: E402
from embrace_bench.world.sim import WorldState, bearing_to  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "unrealzoo_demos"
RELEASE_NAMES = {ours: theirs for theirs, ours in DATA_ALIASES.items()}  # the release's data says Pick, Drop
MAX_ACTIONS = 58  # the release's budget is 60 (Drop/Finish included)


class Walker:
    def __init__(self, env, task):
        self.env, self.task = env, task
        self.actions: list[str] = []
        self.poses: list[list[float]] = []
        self.objects: list[list[float] | None] = []
        self.pose = None
        self.state = WorldState(load_map(task.map), mags=env.cfg.mags)

    def start(self):
        obs = self.env.reset(self.task)
        self._log(obs, None)

    def _log(self, obs, action):
        if action:
            self.actions.append(action)
        self.pose = obs.pose
        self.poses.append([round(v, 3) for v in obs.pose])
        self.objects.append([round(v, 3) for v in obs.object_pose] if obs.object_pose else None)

    def act(self, action):
        if len(self.actions) >= MAX_ACTIONS:
            raise RuntimeError(f"{self.task.task_id}: no demo within {MAX_ACTIONS} actions")
        r = self.env.step(action)
        self._log(r.obs, action)
        return r

    def walk_to(self, goal, done) -> None:
        """Reach a pose where done(x, y, yaw) holds: plan a leg with the embedded planner (privileged map, the
        release's magnitudes), walk it on the engine, re-plan from the pose read back until done."""
        while not done(self.pose[0], self.pose[1], self.pose[4]):
            self.state.place_agent(self.pose[0], self.pose[1], self.pose[4])
            plan = navigate(self.state, done, goal, 150.0)
            for action in plan[:8] or ["TurnRight"]:
                self.act(action)

    def face(self, yaw: float) -> None:
        while abs((yaw - self.pose[4] + 180.0) % 360.0 - 180.0) > self.env.cfg.mags.turn_deg / 2 + 1e-6:
            delta = (yaw - self.pose[4] + 180.0) % 360.0 - 180.0
            self.act("TurnRight" if delta > 0 else "TurnLeft")


def record(env, task, reference: dict | None) -> dict:
    """The fixture's own demo (recorded at the v1 magnitudes) gives the waypoints: where it declared MidwayTarget
    and where it ended, facing its last direction; Pick & Drop (no demo) goes by the object and its region."""
    w = Walker(env, task)
    w.start()
    regions = task.regions
    if reference:
        acts, poses = reference["Action"], reference["Pose_Trajectory"]
        stops = [i for i, a in enumerate(acts) if a == "MidwayTarget"] + [len(acts) - 1]
        for k, i in enumerate(stops):
            stage = regions["midway" if k == 0 and len(stops) > 1 else "final"]["character"]
            x, y, yaw = poses[i][0], poses[i][1], poses[i][4]
            def near(px, py, _y, x=x, y=y, stage=stage):
                return math.hypot(px - x, py - y) < 70.0 and in_polygons((px, py), stage)
            w.walk_to((x, y), near)
            if task.type == "4.1":  # the door must be in front
                w.face(yaw)
            w.act("MidwayTarget" if k < len(stops) - 1 else ("OpenDoor" if task.type == "4.1" else "Finish"))
        if task.type == "4.1":
            w.act("Finish")
    else:
        obj = w.objects[-1]
        w.walk_to(obj[:2], lambda px, py, yaw: math.hypot(px - obj[0], py - obj[1]) < 150.0
                  and abs(bearing_to(px, py, yaw, obj[0], obj[1])) < 40.0)
        w.act("PickObject")
        if w.env._held is None:
            raise RuntimeError(f"{task.task_id}: Pick did not take the object")
        target = regions["final"]["object"]
        cx, cy = centroid([p["outer"] for p in target])
        # Drop steps back ~72 uu and puts the object 70 uu ahead: it lands about where the character stood, so
        # the character stops inside the object's region, with a margin to its edge.
        w.walk_to((cx, cy), lambda px, py, _y: in_polygons((px, py), target)
                  and all(in_polygons((px + dx, py + dy), target) for dx, dy in ((40, 0), (-40, 0), (0, 40), (0, -40))))
        w.act("DropObject")
        w.act("Finish")
    out = {"Instruction": task.instruction, "Type": {ours: theirs for theirs, ours in RELEASE_TYPES.items()}[task.type],
           "Start_Pose": task.start_pose, "Action": [RELEASE_NAMES.get(a, a) for a in w.actions],
           "Pose_Trajectory": w.poses, "Recorded_On": "embrace_bench stand-in (serve --unrealzoo), env=unrealzoo"}
    if task.type == "4.2":
        out["PD_Pose_Trajectory"] = w.objects
    return out


def main() -> None:
    zoo = OmegaConf.load(CONF_DIR / "env" / "unrealzoo.yaml")
    zoo.gpu = 0
    cfg = env_config(zoo)
    suite = load_release(ROOT / "tests" / "fixtures" / "embrace_release")
    with EmbeddedEngineProcess(renderer="numpy", width=cfg.width, height=cfg.height,
                               extra_args=("--unrealzoo", "--load-s", "0.5")) as eng:
        env = make_env(UnrealCVClient(eng.host, eng.port, timeout=60).connect(), cfg)
        root = benchmark_root(ROOT / "tests" / "fixtures" / "embrace_release")
        for task in suite.tasks:
            ref = root / "trajectory" / task.map / task.task_id.split("/")[1] / "infos.json"
            demo = record(env, task, json.loads(ref.read_text()) if ref.is_file() else None)
            path = OUT / task.map / task.task_id.split("/")[1] / "infos.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(demo, indent=2) + "\n")
            print(f"{task.task_id}: {len(demo['Action'])} actions -> {path.relative_to(ROOT)}")
        env.close()


if __name__ == "__main__":
    main()
