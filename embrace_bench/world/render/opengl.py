"""moderngl renderer on a headless EGL context (Mesa llvmpipe works with no GPU).

One vertex buffer per object in its local frame, drawn with a per-object model matrix; three colour
attachments come out of one pass: lit RGB, the exact object-mask colour, and view-axis depth in cm.
Unreal is left-handed, GL right-handed: world Y is flipped on the way in (triangle winding flips too,
so face culling stays off).
"""
from __future__ import annotations

import math

import numpy as np

from embrace_bench.world.render import Camera, Frame, Poses, Renderer
from embrace_bench.world.render.geometry import (AMBIENT, DIFFUSE, FAR_CM, GROUND_MARGIN_CM, NEAR_CM, SUN,
                                                 camera_basis, part_mesh, tan_half_fov)
from embrace_bench.world.scene import WorldMap

_VS = """
#version 330
uniform mat4 model;
uniform mat4 view;
uniform mat4 proj;
in vec3 in_pos;
in vec3 in_norm;
in vec3 in_color;
out vec3 v_norm;
out vec3 v_color;
out float v_depth;
void main() {
    vec4 world = model * vec4(in_pos, 1.0);
    vec4 eye = view * world;
    v_norm = mat3(model) * in_norm;
    v_color = in_color;
    v_depth = -eye.z;
    gl_Position = proj * eye;
}
"""
_FS = """
#version 330
uniform vec3 sun;
uniform vec3 mask_color;
uniform float ambient;
uniform float diffuse;
in vec3 v_norm;
in vec3 v_color;
in float v_depth;
layout(location = 0) out vec4 f_lit;
layout(location = 1) out vec4 f_mask;
layout(location = 2) out float f_depth;
void main() {
    float l = ambient + diffuse * max(dot(normalize(v_norm), sun), 0.0);
    f_lit = vec4(v_color * l / 255.0, 1.0);
    f_mask = vec4(mask_color / 255.0, 1.0);
    f_depth = v_depth;
}
"""
_BG_VS = """
#version 330
in vec2 in_xy;
void main() { gl_Position = vec4(in_xy, 0.0, 1.0); }
"""
_BG_FS = """
#version 330
uniform vec3 sky;
uniform float far_cm;
layout(location = 0) out vec4 f_lit;
layout(location = 1) out vec4 f_mask;
layout(location = 2) out float f_depth;
void main() { f_lit = vec4(sky / 255.0, 1.0); f_mask = vec4(0.0, 0.0, 0.0, 1.0); f_depth = far_cm; }
"""

FLIP = np.diag([1.0, -1.0, 1.0, 1.0])  # Unreal (left-handed) -> GL (right-handed)


def _model_matrix(loc, yaw: float) -> np.ndarray:
    c, s = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
    m = np.array([[c, -s, 0, loc[0]], [s, c, 0, loc[1]], [0, 0, 1, loc[2]], [0, 0, 0, 1.0]])
    return FLIP @ m


def _view_matrix(cam: Camera) -> np.ndarray:
    f, r, u = camera_basis(cam)
    eye = np.array(cam.location, dtype=np.float64)
    # Camera axes in GL space: x = right, y = up, z = -forward (all flipped in Y with the world).
    fl = np.array([1.0, -1.0, 1.0])
    x, y, z = r * fl, u * fl, -f * fl
    e = eye * fl
    return np.array([[*x, -x @ e], [*y, -y @ e], [*z, -z @ e], [0, 0, 0, 1.0]])


def _proj_matrix(cam: Camera) -> np.ndarray:
    tx, ty = tan_half_fov(cam)
    n, f = NEAR_CM, FAR_CM
    return np.array([[1 / tx, 0, 0, 0], [0, 1 / ty, 0, 0], [0, 0, -(f + n) / (f - n), -2 * f * n / (f - n)],
                     [0, 0, -1, 0]])


def _gl(m: np.ndarray) -> bytes:
    return m.T.astype("f4").tobytes()  # GL wants column-major


class GLRenderer(Renderer):
    kind = "gl"

    def __init__(self) -> None:
        import moderngl

        self.ctx = moderngl.create_context(standalone=True, backend="egl")
        self.prog = self.ctx.program(vertex_shader=_VS, fragment_shader=_FS)
        self.bg = self.ctx.program(vertex_shader=_BG_VS, fragment_shader=_BG_FS)
        quad = np.array([-1, -1, 1, -1, 1, 1, -1, -1, 1, 1, -1, 1], dtype="f4")
        self.bg_vao = self.ctx.vertex_array(self.bg, [(self.ctx.buffer(quad.tobytes()), "2f", "in_xy")])
        self.objects: list[tuple[str, object, tuple, tuple, float]] = []
        self._fbos: dict[tuple[int, int], object] = {}
        self.world: WorldMap | None = None
        self._loaded: dict[str, tuple[WorldMap, list]] = {}  # map name -> (map, its GPU buffers)

    def _vao(self, tris: np.ndarray, norms: np.ndarray, colors: np.ndarray):
        data = np.concatenate([tris.reshape(-1, 3), norms.reshape(-1, 3), colors.reshape(-1, 3)], axis=1)
        buf = self.ctx.buffer(data.astype("f4").tobytes())
        return self.ctx.vertex_array(self.prog, [(buf, "3f 3f 3f", "in_pos", "in_norm", "in_color")])

    def load(self, world: WorldMap) -> None:
        self.world = world
        cached = self._loaded.get(world.name)
        if cached is not None and cached[0] is world:  # the engine reuses map objects across resets
            self.objects = cached[1]
            return
        self.objects = []
        x0, y0, x1, y1 = world.bounds
        m = GROUND_MARGIN_CM
        g = np.array([[[x0 - m, y0 - m, 0], [x1 + m, y0 - m, 0], [x1 + m, y1 + m, 0]],
                      [[x0 - m, y0 - m, 0], [x1 + m, y1 + m, 0], [x0 - m, y1 + m, 0]]], dtype=np.float64)
        up = np.tile([0, 0, 1.0], (2, 3, 1))
        self.objects.append(("", self._vao(g, up, np.tile(world.ground_color, (2, 3, 1)).astype(float)),
                             (0.0, 0.0, 0.0), (0, 0, 0), 0.0))
        for o in world.objects:
            meshes = [part_mesh(p) for p in o.parts]
            tris = np.concatenate([t for t, _ in meshes])
            norms = np.concatenate([n for _, n in meshes])
            cols = np.concatenate([np.tile(p.color, (len(t), 3, 1)) for p, (t, _) in zip(o.parts, meshes)]).astype(float)
            self.objects.append((o.name, self._vao(tris, norms, cols), o.location, o.mask_color, o.yaw))
        self._loaded[world.name] = (world, self.objects)

    def _fbo(self, w: int, h: int):
        if (w, h) not in self._fbos:
            atts = [self.ctx.texture((w, h), 4), self.ctx.texture((w, h), 4), self.ctx.texture((w, h), 1, dtype="f4")]
            self._fbos[(w, h)] = self.ctx.framebuffer(color_attachments=atts,
                                                      depth_attachment=self.ctx.depth_renderbuffer((w, h)))
        return self._fbos[(w, h)]

    def render(self, camera: Camera, poses: Poses | None = None, hidden: frozenset[str] = frozenset()) -> Frame:
        import moderngl

        if self.world is None:
            raise RuntimeError("render() before load()")
        w, h = camera.width, camera.height
        fbo = self._fbo(w, h)
        fbo.use()
        self.ctx.viewport = (0, 0, w, h)
        fbo.clear(depth=1.0)
        # Background pass without depth test (so no depth writes): sky colour, mask 0, far depth.
        self.ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE | moderngl.BLEND)
        self.bg["sky"].value = tuple(float(c) for c in self.world.sky_color)
        self.bg["far_cm"].value = FAR_CM
        self.bg_vao.render()
        self.ctx.enable(moderngl.DEPTH_TEST)
        self.prog["view"].write(_gl(_view_matrix(camera)))
        self.prog["proj"].write(_gl(_proj_matrix(camera)))
        self.prog["sun"].value = tuple(float(v) for v in SUN * np.array([1.0, -1.0, 1.0]))
        self.prog["ambient"].value = AMBIENT
        self.prog["diffuse"].value = DIFFUSE
        poses = poses or {}
        for name, vao, loc, mask, yaw in self.objects:
            if name in hidden:
                continue
            if name in poses:
                loc, yaw = poses[name]
            self.prog["model"].write(_gl(_model_matrix(loc, yaw)))
            self.prog["mask_color"].value = tuple(float(c) for c in mask)
            vao.render()
        rgb = np.frombuffer(fbo.read(components=3, attachment=0), dtype=np.uint8).reshape(h, w, 3)[::-1]
        mask = np.frombuffer(fbo.read(components=3, attachment=1), dtype=np.uint8).reshape(h, w, 3)[::-1]
        depth = np.frombuffer(fbo.read(components=1, attachment=2, dtype="f4"), dtype=np.float32).reshape(h, w)[::-1]
        return Frame(np.ascontiguousarray(rgb), np.ascontiguousarray(mask), np.ascontiguousarray(depth))

    def close(self) -> None:
        self.ctx.release()
