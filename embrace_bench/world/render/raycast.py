"""Pure-numpy ray caster: the fallback for machines without EGL, and an independent check on the GL path.

Each primitive is intersected analytically (oriented box, vertical capped cylinder, sphere) only over
the pixel rectangle its bounding box projects to, so cost scales with screen coverage, not object count.
Shading, mask and depth follow the same rules as the GL renderer (geometry.shade, view-axis depth).
"""
from __future__ import annotations

import math

import numpy as np

from embrace_bench.world.render import Camera, Frame, Poses, Renderer
from embrace_bench.world.render.geometry import (FAR_CM, GROUND_MARGIN_CM, NEAR_CM, SUN, camera_basis, shade,
                                                 tan_half_fov, yaw_matrix)
from embrace_bench.world.scene import Part, WorldMap


def _hit_box(o, d, half):
    """Slab test in the box's frame; (t, normal) with t = inf for misses."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        t1 = (-half - o) * inv
        t2 = (half - o) * inv
    tmin = np.minimum(t1, t2)
    tmax = np.maximum(t1, t2)
    t_near = np.nanmax(tmin, axis=1)
    t_far = np.nanmin(tmax, axis=1)
    hit = (t_near <= t_far) & (t_far > 0)
    t = np.where(hit & (t_near > 0), t_near, np.inf)
    axis = np.argmax(np.nan_to_num(tmin, nan=-np.inf), axis=1)
    n = np.zeros_like(o)
    rows = np.arange(len(o))
    n[rows, axis] = -np.sign(d[rows, axis])
    return t, n


def _hit_cylinder(o, d, r, hz):
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    b = 2 * (o[:, 0] * d[:, 0] + o[:, 1] * d[:, 1])
    c = o[:, 0] ** 2 + o[:, 1] ** 2 - r * r
    disc = b * b - 4 * a * c
    with np.errstate(divide="ignore", invalid="ignore"):
        ts = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)
    z = o[:, 2] + ts * d[:, 2]
    side = (disc >= 0) & (a > 1e-12) & (ts > 0) & (np.abs(z) <= hz)
    t = np.where(side, ts, np.inf)
    n = np.stack([o[:, 0] + ts * d[:, 0], o[:, 1] + ts * d[:, 1], np.zeros(len(o))], axis=1) / r
    for cap in (hz, -hz):  # the caps
        with np.errstate(divide="ignore", invalid="ignore"):
            tc = (cap - o[:, 2]) / d[:, 2]
        px, py = o[:, 0] + tc * d[:, 0], o[:, 1] + tc * d[:, 1]
        ok = (tc > 0) & (px * px + py * py <= r * r) & (tc < t)
        t = np.where(ok, tc, t)
        n[ok] = (0.0, 0.0, 1.0 if cap > 0 else -1.0)
    return t, n


def _hit_sphere(o, d, r):
    a = np.einsum("ij,ij->i", d, d)
    b = 2 * np.einsum("ij,ij->i", o, d)
    c = np.einsum("ij,ij->i", o, o) - r * r
    disc = b * b - 4 * a * c
    ts = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)
    t = np.where((disc >= 0) & (ts > 0), ts, np.inf)
    return t, (o + ts[:, None] * d) / r


class NumpyRenderer(Renderer):
    kind = "numpy"

    def __init__(self) -> None:
        self.world: WorldMap | None = None

    def load(self, world: WorldMap) -> None:
        self.world = world

    def _rect(self, corners: np.ndarray, eye, f, r, u, cam: Camera):
        """Pixel rectangle (r0, r1, c0, c1) covering the projected corners; None if off-screen."""
        rel = corners - eye
        depth = rel @ f
        if (depth <= NEAR_CM).any():
            return (0, cam.height, 0, cam.width) if (depth > NEAR_CM).any() else None
        tx, ty = tan_half_fov(cam)
        xs = (rel @ r) / depth / tx
        ys = (rel @ u) / depth / ty
        c0 = int(math.floor((xs.min() + 1) / 2 * cam.width)) - 1
        c1 = int(math.ceil((xs.max() + 1) / 2 * cam.width)) + 1
        r0 = int(math.floor((1 - ys.max()) / 2 * cam.height)) - 1
        r1 = int(math.ceil((1 - ys.min()) / 2 * cam.height)) + 1
        c0, c1, r0, r1 = max(c0, 0), min(c1, cam.width), max(r0, 0), min(r1, cam.height)
        return (r0, r1, c0, c1) if c0 < c1 and r0 < r1 else None

    def render(self, camera: Camera, poses: Poses | None = None, hidden: frozenset[str] = frozenset()) -> Frame:
        if self.world is None:
            raise RuntimeError("render() before load()")
        w, h = camera.width, camera.height
        f, r, u = camera_basis(camera)
        tx, ty = tan_half_fov(camera)
        xs = ((np.arange(w) + 0.5) / w * 2 - 1) * tx
        ys = (1 - (np.arange(h) + 0.5) / h * 2) * ty
        dirs = f[None, None, :] + xs[None, :, None] * r[None, None, :] + ys[:, None, None] * u[None, None, :]
        eye = np.array(camera.location, dtype=np.float64)
        depth = np.full((h, w), np.inf)
        normal = np.zeros((h, w, 3))
        base = np.zeros((h, w, 3))
        mask = np.zeros((h, w, 3), dtype=np.uint8)

        # Ground plane z = 0 over the map (plus the same margin the GL renderer draws).
        with np.errstate(divide="ignore", invalid="ignore"):
            tg = -eye[2] / dirs[..., 2]
        gx, gy = eye[0] + tg * dirs[..., 0], eye[1] + tg * dirs[..., 1]
        x0, y0, x1, y1 = self.world.bounds
        m = GROUND_MARGIN_CM
        ground = (tg > 0) & (gx >= x0 - m) & (gx <= x1 + m) & (gy >= y0 - m) & (gy <= y1 + m)
        depth[ground] = tg[ground]
        normal[ground] = (0.0, 0.0, 1.0)
        base[ground] = self.world.ground_color

        poses = poses or {}
        for obj in self.world.objects:
            if obj.name in hidden:
                continue
            loc, yaw = poses.get(obj.name, (obj.location, obj.yaw))
            rot = yaw_matrix(yaw)
            for part in obj.parts:
                self._draw(part, np.array(loc, dtype=np.float64), rot, obj.mask_color, eye, f, r, u, camera,
                           dirs, depth, normal, base, mask)

        sky = ~np.isfinite(depth)
        lit = shade(base, normal @ SUN)
        lit[sky] = self.world.sky_color
        depth[sky] = FAR_CM
        rgb = np.clip(np.rint(lit), 0, 255).astype(np.uint8)
        return Frame(rgb, mask, depth.astype(np.float32))

    def _draw(self, part: Part, loc, rot, mask_color, eye, f, r, u, cam, dirs, depth, normal, base, mask):
        center = loc + rot @ np.array(part.center)
        half = np.array(part.size) / 2
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
        corners = center + (signs * half) @ rot.T
        rect = self._rect(corners, eye, f, r, u, cam)
        if rect is None:
            return
        r0, r1, c0, c1 = rect
        d = dirs[r0:r1, c0:c1].reshape(-1, 3)
        o = np.broadcast_to(rot.T @ (eye - center), d.shape)  # ray origin in the part's frame
        dl = d @ rot  # = (rot.T @ d.T).T
        if part.shape == "box":
            t, n = _hit_box(o, dl, half)
        elif part.shape == "cylinder":
            t, n = _hit_cylinder(o, dl, half[0], half[2])
        else:
            t, n = _hit_sphere(o, dl, half[0])
        t = t.reshape(r1 - r0, c1 - c0)
        win = depth[r0:r1, c0:c1]
        closer = t < win
        if not closer.any():
            return
        win[closer] = t[closer]
        normal[r0:r1, c0:c1][closer] = (n @ rot.T).reshape(r1 - r0, c1 - c0, 3)[closer]
        base[r0:r1, c0:c1][closer] = part.color
        mask[r0:r1, c0:c1][closer] = mask_color
