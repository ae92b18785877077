"""moderngl renderer on a headless EGL context (Mesa llvmpipe is enough: no GPU needed).

All of a map's geometry lives in ONE vertex buffer, in each object's local frame, tagged with the
object's index. Per frame only a tiny float texture of object poses (location, cos/sin yaw, visible)
is uploaded, so a frame is one draw call whatever the object count, and moved/hidden objects cost
nothing extra. One pass writes three colour attachments: lit RGB, the exact mask colour, and
view-axis depth in cm. No anti-aliasing, so mask colours stay exact.

The vertex shader works in Unreal coordinates directly (eye-space x = right, y = up, z = forward);
clip y is negated so GL's bottom-up readback comes out with row 0 = image top, with no flip copy.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

import numpy as np

from embrace_bench.world.render import Camera, Frame, Poses, Renderer
from embrace_bench.world.render.geometry import (
    AMBIENT,
    DIFFUSE,
    FAR_CM,
    GROUND_MARGIN_CM,
    NEAR_CM,
    SUN,
    camera_basis,
    tan_half_fov,
)
from embrace_bench.world.scene import Part, WorldMap

if TYPE_CHECKING:
    import moderngl

_VS = """
#version 330
uniform sampler2D state;  // texel (i, 0) = (x, y, z, visible), (i, 1) = (cos yaw, sin yaw, 0, 0)
uniform vec3 eye;
uniform vec3 right;
uniform vec3 up;
uniform vec3 fwd;
uniform vec2 tan_half;
uniform vec2 near_far;
in vec3 in_pos;
in vec3 in_norm;
in vec4 in_color;
in vec4 in_mask;
in int in_obj;
out vec3 v_norm;
out float v_depth;
flat out vec3 v_color;
flat out vec3 v_mask;
void main() {
    vec4 s0 = texelFetch(state, ivec2(in_obj, 0), 0);
    vec2 cs = texelFetch(state, ivec2(in_obj, 1), 0).xy;
    vec3 p = vec3(cs.x * in_pos.x - cs.y * in_pos.y, cs.y * in_pos.x + cs.x * in_pos.y, in_pos.z) + s0.xyz;
    v_norm = vec3(cs.x * in_norm.x - cs.y * in_norm.y, cs.y * in_norm.x + cs.x * in_norm.y, in_norm.z);
    v_color = in_color.rgb;
    v_mask = in_mask.rgb;
    vec3 d = p - eye;
    float ez = dot(d, fwd);
    v_depth = ez;  // linear in eye space, so perspective-correct interpolation gives it exactly
    float n = near_far.x, f = near_far.y;
    gl_Position = vec4(dot(d, right) / tan_half.x, -dot(d, up) / tan_half.y,
                       (ez * (f + n) - 2.0 * f * n) / (f - n), ez);
    if (s0.w < 0.5) gl_Position = vec4(2.0, 2.0, 2.0, 1.0);  // hidden: every vertex outside the clip box
}
"""
_FS = """
#version 330
uniform vec3 sun;
uniform vec2 light;  // (ambient, diffuse)
in vec3 v_norm;
in float v_depth;
flat in vec3 v_color;
flat in vec3 v_mask;
layout(location = 0) out vec4 f_lit;
layout(location = 1) out vec4 f_mask;
layout(location = 2) out float f_depth;
void main() {
    f_lit = vec4(v_color * (light.x + light.y * max(dot(normalize(v_norm), sun), 0.0)), 1.0);
    f_mask = vec4(v_mask, 1.0);
    f_depth = v_depth;
}
"""

CYL_SEGMENTS = 20
SPHERE_SEGMENTS, SPHERE_RINGS = 16, 10
VERTEX = np.dtype([("pos", "f4", 3), ("norm", "f4", 3), ("color", "u1", 4), ("mask", "u1", 4), ("obj", "i4")])


# ---- tessellation: (triangles (T, 3, 3), per-vertex normals (T, 3, 3)) in the part's own frame ------

def _box(h: np.ndarray):
    tris, norms = [], []
    for axis in range(3):
        u, v = (axis + 1) % 3, (axis + 2) % 3
        for sign in (-1.0, 1.0):
            quad = np.zeros((4, 3))
            quad[:, axis] = sign * h[axis]
            quad[:, u] = np.array([-1, 1, 1, -1]) * h[u]
            quad[:, v] = np.array([-1, -1, 1, 1]) * h[v]
            n = np.zeros(3)
            n[axis] = sign
            tris += [quad[[0, 1, 2]], quad[[0, 2, 3]]]
            norms += [np.tile(n, (3, 1))] * 2
    return np.array(tris), np.array(norms)


def _cylinder(r: float, hz: float, k: int = CYL_SEGMENTS):
    a = 2 * math.pi * np.arange(k + 1) / k
    ring = np.stack([np.cos(a), np.sin(a), np.zeros(k + 1)], axis=1)  # unit circle, also the side normals
    b0, b1 = ring[:-1] * [r, r, 0] + [0, 0, -hz], ring[1:] * [r, r, 0] + [0, 0, -hz]
    t0, t1 = b0 + [0, 0, 2 * hz], b1 + [0, 0, 2 * hz]
    n0, n1 = ring[:-1], ring[1:]
    top, bot = np.tile([0, 0, hz], (k, 1)), np.tile([0, 0, -hz], (k, 1))
    up, down = np.tile([0, 0, 1.0], (k, 3, 1)), np.tile([0, 0, -1.0], (k, 3, 1))
    tris = np.concatenate([np.stack([b0, b1, t1], 1), np.stack([b0, t1, t0], 1),
                           np.stack([top, t0, t1], 1), np.stack([bot, b1, b0], 1)])
    norms = np.concatenate([np.stack([n0, n1, n1], 1), np.stack([n0, n1, n0], 1), up, down])
    return tris, norms


def _sphere(r: float, k: int = SPHERE_SEGMENTS, rings: int = SPHERE_RINGS):
    th = math.pi * np.arange(rings + 1) / rings  # polar angle from +Z
    ph = 2 * math.pi * np.arange(k + 1) / k
    g = np.stack([np.sin(th)[:, None] * np.cos(ph), np.sin(th)[:, None] * np.sin(ph),
                  np.repeat(np.cos(th)[:, None], k + 1, axis=1)], axis=-1)  # (rings+1, k+1, 3) unit normals
    a, b, c, d = g[:-1, :-1], g[1:, :-1], g[1:, 1:], g[:-1, 1:]
    n = np.concatenate([np.stack([a, b, c], 2).reshape(-1, 3, 3), np.stack([a, c, d], 2).reshape(-1, 3, 3)])
    return n * r, n


def part_triangles(part: Part) -> tuple[np.ndarray, np.ndarray]:
    """Triangles and per-vertex normals of one part in its object's frame (winding fixed in _vertices)."""
    h = np.array(part.size, dtype=np.float64) / 2
    if part.shape == "box":
        tris, norms = _box(h)
    elif part.shape == "cylinder":
        tris, norms = _cylinder(h[0], h[2])
    elif part.shape == "sphere":
        tris, norms = _sphere(h[0])
    else:
        raise ValueError(f"unknown primitive {part.shape!r}")
    return tris + np.array(part.center), norms


def _vertices(tris, norms, color, mask, obj: int) -> np.ndarray:
    # Wind every triangle counter-clockwise about its outward normal (right-hand rule on the raw
    # coordinates) so back faces can be culled; degenerate sphere-pole triangles are left as they are.
    cross = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    flip = np.einsum("ij,ij->i", cross, norms.sum(axis=1)) < 0
    tris, norms = tris.copy(), norms.copy()
    tris[flip] = tris[flip][:, [0, 2, 1]]
    norms[flip] = norms[flip][:, [0, 2, 1]]
    v = np.zeros(tris.shape[0] * 3, dtype=VERTEX)
    v["pos"], v["norm"], v["obj"] = tris.reshape(-1, 3), norms.reshape(-1, 3), obj
    v["color"][:, :3], v["mask"][:, :3] = color, mask
    return v


class _Scene:
    """One map's GPU state: the vertex array and the static pose table it was built with."""

    def __init__(self, r: "GLRenderer", world: WorldMap) -> None:
        self.world = world
        self.index = {o.name: i for i, o in enumerate(world.objects)}
        chunks = []
        for i, o in enumerate(world.objects):
            for p in o.parts:
                tris, norms = part_triangles(p)
                chunks.append(_vertices(tris, norms, p.color, o.mask_color, i))
        # The ground, as its own always-visible "object" index N at the origin, drawn last so that
        # early depth testing throws away the ground hidden behind objects.
        x0, y0, x1, y1 = world.bounds
        m = GROUND_MARGIN_CM
        g = np.array([[x0 - m, y0 - m, 0], [x1 + m, y0 - m, 0], [x1 + m, y1 + m, 0], [x0 - m, y1 + m, 0]])
        n = len(world.objects)
        chunks.append(_vertices(np.stack([g[[0, 1, 2]], g[[0, 2, 3]]]), np.tile([0, 0, 1.0], (2, 3, 1)),
                                world.ground_color, (0, 0, 0), n))
        data = np.concatenate(chunks)
        self.vbo = r.ctx.buffer(data.tobytes())
        self.vao = r.ctx.vertex_array(r.prog, [(self.vbo, "3f 3f 4f1 4f1 1i", "in_pos", "in_norm", "in_color",
                                                "in_mask", "in_obj")])
        self.vertices = len(data)
        # Static pose table (N + 1 objects incl. the ground), rows: (x, y, z, visible), (cos, sin, 0, 0).
        self.base = np.zeros((2, n + 1, 4), dtype=np.float32)
        for i, o in enumerate(world.objects):
            self.base[:, i] = self._pose(o.location, o.yaw)
        self.base[:, n] = self._pose((0.0, 0.0, 0.0), 0.0)
        self.state = r.ctx.texture((n + 1, 2), 4, dtype="f4")
        self.state.filter = (r.moderngl.NEAREST, r.moderngl.NEAREST)

    @staticmethod
    def _pose(loc, yaw: float) -> np.ndarray:
        y = math.radians(yaw)
        return np.array([[loc[0], loc[1], loc[2], 1.0], [math.cos(y), math.sin(y), 0.0, 0.0]])

    def upload(self, poses: Poses, hidden) -> None:
        s = self.base
        if poses or hidden:
            s = s.copy()
            for name, (loc, yaw) in poses.items():
                if name in self.index:
                    s[:, self.index[name]] = self._pose(loc, yaw)
            for name in hidden:
                if name in self.index:
                    s[0, self.index[name], 3] = 0.0
        self.state.write(s.tobytes())

    def release(self) -> None:
        for obj in (self.vao, self.vbo, self.state):
            obj.release()


def _uniform(prog: moderngl.Program, name: str) -> moderngl.Uniform:
    # Every name set here is a plain uniform of _VS/_FS (never a block, attribute or varying).
    return cast("moderngl.Uniform", prog[name])


class GLRenderer(Renderer):
    kind = "gl"

    def __init__(self) -> None:
        import moderngl

        self.moderngl = moderngl
        # moderngl's stub types backend as dict; at runtime it is the backend's name
        self.ctx = moderngl.create_context(standalone=True, backend="egl")  # type: ignore[arg-type]
        self.prog = self.ctx.program(vertex_shader=_VS, fragment_shader=_FS)
        _uniform(self.prog, "state").value = 0
        _uniform(self.prog, "sun").value = tuple(float(v) for v in SUN)
        _uniform(self.prog, "light").value = (AMBIENT, DIFFUSE)
        _uniform(self.prog, "near_far").value = (NEAR_CM, FAR_CM)
        self._fbos: dict[tuple[int, int], object] = {}
        self._scenes: dict[int, _Scene] = {}  # id(world) -> GPU state; the engine reloads the same maps
        self.scene: _Scene | None = None

    def load(self, world: WorldMap) -> None:
        s = self._scenes.get(id(world))
        if s is None or s.world is not world:
            if s is not None:
                s.release()
            s = self._scenes[id(world)] = _Scene(self, world)
        self.scene = s

    def unload(self, world: WorldMap) -> None:
        s = self._scenes.get(id(world))
        if s is not None and s.world is world and s is not self.scene:
            del self._scenes[id(world)]
            s.release()

    def _fbo(self, w: int, h: int):
        fbo = self._fbos.get((w, h))
        if fbo is None:
            atts = [self.ctx.texture((w, h), 4), self.ctx.texture((w, h), 4), self.ctx.texture((w, h), 1, dtype="f4")]
            fbo = self._fbos[(w, h)] = self.ctx.framebuffer(color_attachments=atts,
                                                            depth_attachment=self.ctx.depth_renderbuffer((w, h)))
        return fbo

    def render(self, camera: Camera, poses: Poses | None = None, hidden: frozenset[str] = frozenset()) -> Frame:
        mgl = self.moderngl
        s = self.scene
        if s is None:
            raise RuntimeError("render() before load()")
        w, h = camera.width, camera.height
        fbo = self._fbo(w, h)
        fbo.use()
        self.ctx.viewport = (0, 0, w, h)
        # The background is three clears, one per attachment (masking the others): sky colour, mask
        # black, far-plane depth. Much cheaper on llvmpipe than a full-screen sky pass.
        on, off = (True,) * 4, (False,) * 4
        fbo.color_mask = [on, off, off]
        fbo.clear(*(c / 255.0 for c in s.world.sky_color), 1.0, depth=1.0)
        fbo.color_mask = [off, on, off]
        fbo.clear(0.0, 0.0, 0.0, 1.0, depth=1.0)
        fbo.color_mask = [off, off, on]
        fbo.clear(FAR_CM, 0.0, 0.0, 0.0, depth=1.0)
        fbo.color_mask = [on, on, on]
        s.upload(poses or {}, hidden)
        s.state.use(0)
        f, r, u = camera_basis(camera)
        prog = self.prog
        _uniform(prog, "eye").value = tuple(float(v) for v in camera.location)
        for name, axis in (("right", r), ("up", u), ("fwd", f)):
            _uniform(prog, name).value = tuple(float(v) for v in axis)
        _uniform(prog, "tan_half").value = tan_half_fov(camera)
        self.ctx.enable(mgl.DEPTH_TEST | mgl.CULL_FACE)
        self.ctx.depth_func = "<"
        s.vao.render(mgl.TRIANGLES, vertices=s.vertices)
        rgb = np.empty((h, w, 3), dtype=np.uint8)
        mask = np.empty((h, w, 3), dtype=np.uint8)
        depth = np.empty((h, w), dtype=np.float32)
        fbo.read_into(rgb, components=3, attachment=0)
        fbo.read_into(mask, components=3, attachment=1)
        fbo.read_into(depth, components=1, attachment=2, dtype="f4")
        return Frame(rgb, mask, depth)

    def close(self) -> None:
        for s in self._scenes.values():
            s.release()
        self._scenes.clear()
        self.scene = None
        self.ctx.release()
