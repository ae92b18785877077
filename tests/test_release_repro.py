"""The stand-in (`serve --unrealzoo`) against the EmbRACE release's recorded reproducibility demos.

Each demo's flat-ground prefix (tests/fixtures/release_repro/demos.json, written from the release's
reproducibility/trajectory/*/infos.json) is replayed on a flat, empty stand-in level of the same name, with
the release's own command sequences (tests/release_protocol.py) sent over our UnrealCV client and a real
socket, on a virtual clock (every wait the release does advances it, so the stand-in's wall-clock game time
sees exactly the release's timing, and the test takes no wall time). The poses read back must match the
recorded ones within 1 uu and 0.01 deg.

`python tests/test_release_repro.py` prints the pose error of each demo.
"""
from __future__ import annotations

import json
import math
import statistics
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from release_protocol import ReleaseDriver  # noqa: E402

from embrace_bench.env.client import UnrealCVClient  # noqa: E402
from embrace_bench.world.server import UnrealCVServer  # noqa: E402
from embrace_bench.world.unrealzoo import UnrealZooEngine  # noqa: E402

FIX = Path(__file__).parent / "fixtures" / "release_repro"
DEMOS = json.loads((FIX / "demos.json").read_text())


class VirtualClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@contextmanager
def standin(clock: VirtualClock, **kw):
    eng = UnrealZooEngine("numpy", maps_dir=FIX / "maps", width=64, height=48, load_s=2.0, spawn_s=0.3,
                          clock=clock, **kw)
    with UnrealCVServer(eng, "127.0.0.1", 0) as srv:
        eng.port = srv.port
        client = UnrealCVClient("127.0.0.1", srv.port, transport="tcp").connect()
        try:
            yield eng, client
        finally:
            client.close()


def replay(key: str, demo: dict) -> tuple[list[dict], UnrealZooEngine, ReleaseDriver]:
    """What the release would record replaying this demo on the stand-in: one entry per pose."""
    clock = VirtualClock()
    with standin(clock) as (eng, client):
        drv = ReleaseDriver(client, clock.advance, init_pose=(0, 0, 90, 0, 0, 0))
        drv.init_pose = (*_centre(eng, key), 90.0, 0.0, 0.0, 0.0)
        recs = [drv.load_task(key.split("/")[0], demo)]
        recs += [drv.execute(a) for a in demo["Action"]]
    return recs, eng, drv


def _centre(eng: UnrealZooEngine, key: str) -> tuple[float, float]:
    x0, y0, x1, y1 = json.loads((FIX / "maps" / f"{key.split('/')[0]}.json").read_text())["bounds"]
    return (x0 + x1) / 2, (y0 + y1) / 2


def yaw_diff(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def pose_errors(recs: list[dict], demo: dict) -> dict:
    pos = [math.dist(r["pose"][:2], p[:2]) for r, p in zip(recs, demo["Pose"])]
    yaw = [yaw_diff(r["pose"][2], p[2]) for r, p in zip(recs, demo["Pose"])]
    return {"n": len(pos), "pos_max": max(pos), "pos_mean": statistics.fmean(pos),
            "yaw_max": max(yaw), "yaw_mean": statistics.fmean(yaw)}


@pytest.mark.parametrize("key", sorted(DEMOS))
def test_the_release_demos_flat_prefix_replays_within_1uu_and_a_hundredth_degree(key):
    demo = DEMOS[key]
    recs, eng, drv = replay(key, demo)
    assert len(recs) == len(demo["Pose"])
    for i, (r, p) in enumerate(zip(recs, demo["Pose"])):
        assert math.dist(r["pose"][:2], p[:2]) <= 1.0, (i, r["pose"], p)
        assert yaw_diff(r["pose"][2], p[2]) <= 0.01, (i, r["pose"], p)
    # The release's settings reached the stand-in and shaped the motion.
    assert eng.slomo == 6 and eng.interval_s == 1.0 and eng.view_actor == "spawned_char_0"
    assert eng.camera_settings[(drv.cam_id, "lit_source")] == "ldr"
    if demo["Type"] == 4:  # no door on the flat level: every OpenDoor leaves the state at 0, as recorded
        assert [r["door"] for r in recs] == demo["Door_State"]
    if demo["Type"] == 5:  # Pick by reset: the object rides in the hand, within the release's 30 uu drop gate
        dists = [r["pd_dist"] for r in recs]
        assert dists[:-1] == pytest.approx(demo["PD_Dist_2D"][:-1], abs=1.0)
        assert dists[-1] == pytest.approx(demo["PD_Dist_2D"][-1], abs=0.1)
        assert eng.state.held == "BP_GrabMoveDrop_C_1"


if __name__ == "__main__":
    for key in sorted(DEMOS):
        recs, _, drv = replay(key, DEMOS[key])
        e = pose_errors(recs, DEMOS[key])
        print(f"{key}: {e['n']} poses, {len(drv.sent)} commands; position error max {e['pos_max']:.4f} "
              f"mean {e['pos_mean']:.4f} uu; yaw error max {e['yaw_max']:.4f} mean {e['yaw_mean']:.4f} deg")
