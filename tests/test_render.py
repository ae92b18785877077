"""Both renderers: orientation conventions, exact masks, depth, dynamic state, and GL/numpy agreement."""
import numpy as np
import pytest

from embrace_bench.world.render import Camera, make_renderer
from embrace_bench.world.render.raycast import NumpyRenderer
from embrace_bench.world.scene import WorldMap, make_object


def _gl():
    try:
        from embrace_bench.world.render.opengl import GLRenderer

        return GLRenderer()
    except Exception as exc:  # no EGL on this machine
        pytest.skip(f"no EGL context: {exc}")


@pytest.fixture(params=["numpy", "gl"])
def renderer(request):
    return NumpyRenderer() if request.param == "numpy" else _gl()


def _world():
    objs = [make_object("Crate_01", "crate", "red", 1000, 0),  # ahead
            make_object("Crate_02", "crate", "blue", 1000, 500),  # right (+Y)
            make_object("Crate_03", "crate", "green", 1000, -500)]  # left
    return WorldMap("T", "warehouse", "ood", 0, (-3000.0, -3000.0, 3000.0, 3000.0), (160, 160, 150),
                    (200, 200, 205), "test", objs)


CAM = Camera((0.0, 0.0, 60.0), 0.0, 0.0, width=160, height=120)


def _cols(mask, color):
    ys, xs = np.nonzero((mask == np.array(color, np.uint8)).all(-1))
    return xs, ys


def test_left_right_up_and_exact_mask(renderer):
    w = _world()
    renderer.load(w)
    f = renderer.render(CAM)
    assert f.rgb.shape == (120, 160, 3) and f.rgb.dtype == np.uint8
    assert f.mask.shape == (120, 160, 3) and f.depth.shape == (120, 160) and f.depth.dtype == np.float32
    ahead, right, left = (w.obj(n) for n in ("Crate_01", "Crate_02", "Crate_03"))
    assert abs(_cols(f.mask, ahead.mask_color)[0].mean() - 80) < 3
    assert _cols(f.mask, right.mask_color)[0].min() > 80  # +Y is on the right of the image
    assert _cols(f.mask, left.mask_color)[0].max() < 80
    colours = {tuple(c) for c in f.mask.reshape(-1, 3)}
    assert colours <= {(0, 0, 0), ahead.mask_color, right.mask_color, left.mask_color}
    # Depth at the centre pixel: the crate's near face is 1000 - 60 cm along the view axis.
    assert f.depth[60, 80] == pytest.approx(940, rel=0.02)
    assert np.isfinite(f.depth).all()


def test_pitch_up_moves_objects_down(renderer):
    w = _world()
    renderer.load(w)
    level = _cols(renderer.render(CAM).mask, w.obj("Crate_01").mask_color)[1].mean()
    up = Camera((0.0, 0.0, 60.0), 20.0, 0.0, width=160, height=120)
    assert _cols(renderer.render(up).mask, w.obj("Crate_01").mask_color)[1].mean() > level + 10


def test_hidden_and_moved_objects(renderer):
    w = _world()
    renderer.load(w)
    red = w.obj("Crate_01").mask_color
    assert len(_cols(renderer.render(CAM, hidden=frozenset({"Crate_01"})).mask, red)[0]) == 0
    moved = renderer.render(CAM, poses={"Crate_01": ((1000.0, 300.0, 0.0), 0.0)})
    assert _cols(moved.mask, red)[0].mean() > 100


def test_deterministic_repeat(renderer):
    renderer.load(_world())
    a, b = renderer.render(CAM), renderer.render(CAM)
    assert a.rgb.tobytes() == b.rgb.tobytes() and a.depth.tobytes() == b.depth.tobytes()


def test_gl_and_numpy_agree_on_masks():
    gl, npr = _gl(), NumpyRenderer()
    w = _world()
    w.objects.append(make_object("Tree_01", "tree", "green", 1500, 900))
    w.objects.append(make_object("Car_01", "car", "yellow", 1400, -900, 30))
    w.__post_init__()
    gl.load(w)
    npr.load(w)
    cam = Camera((0.0, 0.0, 160.0), -5.0, 10.0, width=320, height=240)
    a, b = gl.render(cam), npr.render(cam)
    for o in w.objects:
        ma = (a.mask == np.array(o.mask_color, np.uint8)).all(-1)
        mb = (b.mask == np.array(o.mask_color, np.uint8)).all(-1)
        assert (ma & mb).sum() / max(1, (ma | mb).sum()) > 0.9, o.name
    assert np.abs(a.rgb.astype(int) - b.rgb).mean() < 3


def test_make_renderer_choices():
    assert make_renderer("numpy").kind == "numpy"
    with pytest.raises(ValueError, match="env.renderer must be auto, gl or numpy"):
        make_renderer("bogus")
