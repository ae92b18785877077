"""The stand-in's answers to what the EmbRACE release sends a UnrealZoo build (spawned Pick & Drop object,
destroy, scale, physics and appearance flags, capture settings, the UE5 camera nudge, console commands,
bmp captures), `error ...` for what a real build would not know, and the real `unrealcv` client on it."""
import io
import json
import math

import numpy as np
import pytest
from PIL import Image

from embrace_bench.tasks.maps import EMBEDDED_MAPS_DIR
from embrace_bench.tasks.suite import load_embedded
from embrace_bench.world.engine import EmbeddedEngine
from embrace_bench.world.server import UnrealCVServer
from embrace_bench.world.unrealzoo import UnrealZooEngine
from embrace_bench.world.zoo_scene import HAND

TASKS = {t.task_id: t for t in load_embedded(("id",)).tasks}
BP = "/Game/SmartLocomotion/Blueprints/BP_Character.BP_Character_C"
PD = "BP_GrabMoveDrop_C_1"


@pytest.fixture()
def eng():
    e = UnrealZooEngine("numpy", maps_dir=EMBEDDED_MAPS_DIR, width=64, height=48, load_s=0.0, spawn_s=0.0, tick_s=0.05)
    t = TASKS["id-0-000"]
    assert e.handle(f"vset /action/game/level {t.map}") == "ok"
    assert e.handle(f"vset /objects/spawn_from_path {BP} A") == "ok"
    x, y, _, _, yaw, _ = t.start_pose
    assert e.handle(f"vset /object/A/location {x} {y} 90") == "ok"
    assert e.handle(f"vset /object/A/rotation 0 {yaw} 0") == "ok"
    return e


def _floats(reply):
    return [float(v) for v in reply.split()]


def _place_ahead(e, name, dist, z=90.0):
    x, y, _ = _floats(e.handle("vget /object/A/location"))
    yaw = _floats(e.handle("vget /object/A/rotation"))[1]
    return e.handle(f"vset /object/{name}/location {x + dist * math.cos(math.radians(yaw))} "
                    f"{y + dist * math.sin(math.radians(yaw))} {z}")


def test_console_character_and_camera_settings_are_answered(eng):
    for cmd in ("vrun slomo 6", "vrun r.Fog 0", "vrun r.Tonemapper.Sharpen 1.5", "vrun ViewActor A",
                "vrun set PostProcessVolume BlendWeight 0", "vrun r.ExposureOffset -0.5"):
        assert eng.handle(cmd) == "ok", cmd
    assert eng.slomo == 6 and eng.view_actor == "A"
    assert eng.cvars["r.Fog"] == "0" and eng.cvars["r.Tonemapper.Sharpen"] == "1.5"
    for cmd in ("vbp A set_interval 1000", "vbp A set_app 4", "vbp A set_standup", "vbp A set_phy 0",
                "vbp A set_cam 5 0 -50 0 0 0"):
        assert eng.handle(cmd) == "{}", cmd
    assert eng.interval_s == 1.0
    for cmd in ("vset /camera/1/lit_source ldr", "vset /camera/1/reflection none", "vset /camera/1/illumination none",
                "vset /camera/1/exposure_bias 1.25", "vset /camera/0/lit_source hdr"):
        assert eng.handle(cmd) == "ok", cmd
    assert eng.camera_settings[(1, "exposure_bias")] == "1.25" and eng.camera_settings[(0, "lit_source")] == "hdr"


@pytest.mark.parametrize("cmd", [
    "vbp A get_hit", "vbp A get_pickup", "vbp A fly_to_moon", "vbp A set_interval -5", "vbp A set_interval x",
    "vbp A set_app four", "vbp A set_phy 2", "vbp Nobody set_app 1", "vbp n/a", "vget /no/such/path",
    "vset /camera/1/lit_source rainbow", "vset /camera/1/exposure_bias nan", "vset /camera/7/lit_source ldr",
    "vset /camera/1/reflection", "vset /objects/spawn bp_character_C B", "vset /object/Nothing/destroy",
    "vset /object/A/scale 0 1 1", "vbp A set_move 0 inf", "hello world",
])
def test_what_a_real_build_would_not_know_is_an_error(eng, cmd):
    assert eng.handle(cmd).startswith("error "), cmd


def test_embedded_mode_keeps_its_own_answers():
    e = EmbeddedEngine("numpy", maps_dir=EMBEDDED_MAPS_DIR, width=32, height=24)
    t = TASKS["id-0-000"]
    e.handle(f"vset /action/game/level {t.map}")
    e.handle(f"vset /objects/spawn_from_path {BP} A")
    assert json.loads(e.handle("vbp A get_hit")) == {"hit": "0"}  # our own character still has it
    assert e.handle("vset /objects/spawn BP_GrabMoveDrop_C P").startswith("error")
    assert e.handle("vbp A set_interval 1000").startswith("error unknown function")


def test_spawned_object_scale_physics_appearance_and_destroy(eng):
    before = eng.handle("vget /camera/1/object_mask png")
    assert eng.handle(f"vset /objects/spawn BP_GrabMoveDrop_C {PD}") == "ok"
    assert eng.handle(f"vset /objects/spawn BP_GrabMoveDrop_C {PD}").startswith("error an actor named")
    assert PD in eng.handle("vget /objects").split()
    assert eng.handle(f"vbp {PD} set_phy 1") == "{}" and eng.spawned[PD].physics
    assert eng.handle(f"vbp {PD} set_app 18") == "{}" and eng.spawned[PD].app == 18
    assert eng.handle(f"vset /object/{PD}/scale 2 2 2") == "ok"
    assert eng.handle(f"vget /object/{PD}/scale") == "2.000 2.000 2.000"
    assert _place_ahead(eng, PD, 150.0, 0.0) == "ok"
    assert eng.handle(f"vset /object/{PD}/rotation 0 30 0") == "ok"
    assert _floats(eng.handle(f"vget /object/{PD}/rotation"))[1] == pytest.approx(30.0)
    for _ in range(2):  # past the stale capture buffer
        seen = eng.handle("vget /camera/1/object_mask png")
    mask = np.asarray(Image.open(io.BytesIO(seen)))[..., :3]
    colour = eng.state.obj(PD).mask_color
    assert seen != before and (mask == colour).all(axis=-1).sum() > 20  # it is drawn, in its own mask colour
    assert eng.handle(f"vset /object/{PD}/destroy") == "ok"
    assert eng.handle(f"vget /object/{PD}/location").startswith("error")
    assert PD not in eng.handle("vget /objects").split()


def test_pick_by_reset_holds_the_object_in_the_right_hand_and_the_character_can_be_respawned(eng):
    assert eng.handle(f"vset /objects/spawn BP_GrabMoveDrop_C {PD}") == "ok"
    assert _place_ahead(eng, PD, 60.0) == "ok"
    assert eng.handle("vbp A set_pickup") != "" and eng.state.held == PD
    agent = _floats(eng.handle("vget /object/A/location"))
    held = _floats(eng.handle(f"vget /object/{PD}/location"))
    assert math.dist(agent[:2], held[:2]) == pytest.approx(math.hypot(*HAND[:2]), abs=1e-2)  # under 30: held
    assert held[2] == pytest.approx(HAND[2])
    assert eng.handle("vbp A set_cam 20 50 -10 -13 -90 15") == "{}"  # the hand view sees it
    for _ in range(2):
        view = np.asarray(Image.open(io.BytesIO(eng.handle("vget /camera/1/object_mask png"))))[..., :3]
    assert (view == eng.state.obj(PD).mask_color).all(axis=-1).any()
    assert eng.handle(f"vset /object/{PD}/destroy") == "ok" and eng.state.held is None  # Drop by reset
    assert eng.handle("vset /object/A/destroy") == "ok" and eng.handle("vget /object/A/location").startswith("error")
    assert eng.handle(f"vset /objects/spawn_from_path {BP} A") == "ok"
    assert len(_floats(eng.handle("vget /object/A/location"))) == 3


def test_the_ue5_camera_nudge_and_bmp_captures(eng):
    eng.stale_frame = False
    png = eng.handle("vget /camera/1/lit png")
    loc = _floats(eng.handle("vget /camera/1/location"))
    assert eng.handle(f"vset /camera/1/location {loc[0] + 1} {loc[1] + 1} {loc[2] + 1}") == "ok"
    assert _floats(eng.handle("vget /camera/1/location")) == pytest.approx([v + 1 for v in loc])
    assert eng.handle("vget /camera/1/lit png") != png
    assert eng.handle(f"vset /camera/1/location {loc[0]} {loc[1]} {loc[2]}") == "ok"  # put back: re-attached
    assert eng.handle("vget /camera/1/lit png") == png
    bmp = eng.handle("vget /camera/1/lit bmp")
    assert bmp[:2] == b"BM"
    bgra = np.frombuffer(bmp, dtype=np.uint8)[-48 * 64 * 4:].reshape(48, 64, 4)  # how unrealcv decodes bmp
    rgb = np.asarray(Image.open(io.BytesIO(png)))[..., :3]
    assert (bgra[..., 2::-1] == rgb).all() and (bgra[..., 3] == 255).all()
    assert np.asarray(Image.open(io.BytesIO(bmp))).shape[:2] == (48, 64)  # and it is a real BMP file


def test_the_real_unrealcv_api_drives_the_standin(eng):
    from unrealcv.api import UnrealCv_API

    with UnrealCVServer(eng, "127.0.0.1", 0) as srv:
        eng.port = srv.port
        api = UnrealCv_API(srv.port, "127.0.0.1", (64, 48))
        try:
            assert set(api.cam) == {0, 1} and "A" in api.obj_dict
            img = api.get_image(1, "lit")  # the release's default: bmp, decoded by unrealcv
            assert img.shape == (48, 64, 3)
            api.client.request([f"vset /objects/spawn BP_GrabMoveDrop_C {PD}", f"vbp {PD} set_phy 1"], -1)
            api.set_obj_scale(PD, [2.0, 2.0, 2.0])
            assert api.get_obj_scale(PD) == [2.0, 2.0, 2.0]
            assert api.client.request("vrun slomo 6") == "ok"
            assert api.client.request("vbp A get_hit").startswith("error")
        finally:
            api.client.disconnect()
