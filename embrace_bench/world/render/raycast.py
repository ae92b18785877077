"""Pure-numpy ray caster: the fallback where no EGL context can be made, and a check on the GL path.

Every primitive is intersected analytically (oriented box by slab test, vertical capped cylinder,
sphere) in its object's local frame, but only over the pixel rectangle its (near-clipped) bounding
box projects to, nearest parts first, skipping a part outright when everything in its rectangle is
already closer than its nearest corner. So cost follows screen coverage, not object count.

Rays are d = forward + a*right + b*up (forward component 1), so the ray parameter t IS the depth
along the view axis. Per pixel only depth, n.L and a part id are kept; colours, shading and the
mask are looked up once at the end. Same shading rule, mask and depth semantics as the GL renderer;
float32 throughout, with the numerically stable closest-approach form of the quadratics.
"""
from __future__ import annotations

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
from embrace_bench.world.scene import WorldMap

F32 = np.float32
BOX, CYLINDER, SPHERE = 0, 1, 2
_SHAPES = {"box": BOX, "cylinder": CYLINDER, "sphere": SPHERE}
_CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
_EDGES = np.array([(i, j) for i in range(8) for j in range(i + 1, 8) if bin(i ^ j).count("1") == 1])
SKY_ID, GROUND_ID = 0, 1  # part ids 0 and 1 in the colour/mask tables; parts start at 2


class NumpyRenderer(Renderer):
    kind = "numpy"

    def __init__(self) -> None:
        self.world: WorldMap | None = None

    def load(self, world: WorldMap) -> None:
        """Flatten the map's parts into arrays (object index, shape, local centre, half size, colours)."""
        self.world = world
        parts = [(i, p) for i, o in enumerate(world.objects) for p in o.parts]
        self.index = {o.name: i for i, o in enumerate(world.objects)}
        self.part_obj = np.array([i for i, _ in parts], dtype=np.int64)
        self.shape = np.array([_SHAPES[p.shape] for _, p in parts], dtype=np.int64)
        self.center = np.array([p.center for _, p in parts], dtype=np.float64).reshape(-1, 3)
        self.half = np.array([p.size for _, p in parts], dtype=np.float64).reshape(-1, 3) / 2
        self.colors = np.array([world.sky_color, world.ground_color] + [p.color for _, p in parts], dtype=F32)
        self.masks = np.array([(0, 0, 0), (0, 0, 0)] + [world.objects[i].mask_color for i, _ in parts],
                              dtype=np.uint8)

    def render(self, camera: Camera, poses: Poses | None = None, hidden: frozenset[str] = frozenset()) -> Frame:
        if self.world is None:
            raise RuntimeError("render() before load()")
        w, h = camera.width, camera.height
        f, r, u = camera_basis(camera)
        tx, ty = tan_half_fov(camera)
        a = (((np.arange(w) + 0.5) / w * 2 - 1) * tx).astype(F32)  # per column: ray = f + a r + b u
        b = ((1 - (np.arange(h) + 0.5) / h * 2) * ty).astype(F32)  # per row (row 0 = top)
        eye = np.array(camera.location, dtype=np.float64)
        depth = np.full((h, w), FAR_CM, dtype=F32)
        ndl = np.ones((h, w), dtype=F32)  # n.L; 1 for the sky so its colour comes out unscaled
        pid = np.zeros((h, w), dtype=np.int32)
        self._ground(eye, f, r, u, a, b, depth, ndl, pid)

        # Object poses (overrides, hidden) -> every part's world centre and yaw.
        n = len(self.world.objects)
        loc = np.array([o.location for o in self.world.objects], dtype=np.float64).reshape(n, 3)
        yaw = np.array([o.yaw for o in self.world.objects], dtype=np.float64)
        visible = np.ones(n, dtype=bool)
        for name, (at, y) in (poses or {}).items():
            if name in self.index:
                loc[self.index[name]], yaw[self.index[name]] = at, y
        for name in hidden:
            if name in self.index:
                visible[self.index[name]] = False
        keep = visible[self.part_obj]
        ids = np.nonzero(keep)[0]
        yr = np.radians(yaw[self.part_obj[ids]])
        cs, sn = np.cos(yr), np.sin(yr)
        rot = np.zeros((len(ids), 3, 3))  # local -> world, about Z
        rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1], rot[:, 2, 2] = cs, -sn, sn, cs, 1.0
        centers = loc[self.part_obj[ids]] + np.einsum("pij,pj->pi", rot, self.center[ids])

        rects, zmin = self._rects(centers, rot, self.half[ids], eye, f, r, u, tx, ty, w, h)
        sun = SUN.astype(np.float64)
        for k in np.argsort(zmin, kind="stable"):  # nearest first, so occluded parts are skipped early
            if rects[k, 0] < 0:
                continue
            r0, r1, c0, c1 = rects[k]
            win = depth[r0:r1, c0:c1]
            if not (win > zmin[k]).any():
                continue
            rt = rot[k].T  # world -> local
            p = ids[k]
            self._cast(self.shape[p], self.half[p].astype(F32), rt @ (eye - centers[k]), rt @ f, rt @ r,
                       rt @ u, rt @ sun, a[c0:c1], b[r0:r1], win, ndl[r0:r1, c0:c1], pid[r0:r1, c0:c1], p + 2)

        light = AMBIENT + DIFFUSE * np.maximum(ndl, 0)
        light[pid == SKY_ID] = 1.0
        rgb = np.rint(self.colors[pid] * light[..., None])
        return Frame(np.clip(rgb, 0, 255).astype(np.uint8), self.masks[pid], depth)

    def _ground(self, eye, f, r, u, a, b, depth, ndl, pid) -> None:
        """The plane z = 0 over the map's bounds plus margin, seen from above only (like GL's culling)."""
        if eye[2] <= 0:
            return
        dz = (F32(f[2]) + b * F32(u[2]))[:, None] + a * F32(r[2])  # (h, w); r has no z without roll
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(dz < 0, F32(-eye[2]) / dz, np.inf).astype(F32)  # (h, 1) or (h, w)
        gx = F32(eye[0]) + t * (F32(f[0]) + a * F32(r[0]) + (b * F32(u[0]))[:, None])
        gy = F32(eye[1]) + t * (F32(f[1]) + a * F32(r[1]) + (b * F32(u[1]))[:, None])
        assert self.world is not None  # only render() calls this, after checking
        x0, y0, x1, y1 = self.world.bounds
        m = GROUND_MARGIN_CM
        hit = (t > NEAR_CM) & (t < depth) & (gx >= x0 - m) & (gx <= x1 + m) & (gy >= y0 - m) & (gy <= y1 + m)
        depth[hit] = np.broadcast_to(t, depth.shape)[hit]
        ndl[hit] = SUN[2]
        pid[hit] = GROUND_ID

    @staticmethod
    def _rects(centers, rot, half, eye, f, r, u, tx, ty, w, h):
        """Per part: pixel rectangle (r0, r1, c0, c1) of its bounding box clipped to the near plane
        (r0 = -1 when off-screen), and its nearest view-axis depth."""
        corners = centers[:, None, :] + np.einsum("pij,pkj->pki", rot, _CORNERS[None] * half[:, None, :])
        rel = corners - eye
        cam = np.stack([rel @ r, rel @ u, rel @ f], axis=-1)  # (P, 8, 3) eye space
        z = cam[..., 2]
        pi, pj = cam[:, _EDGES[:, 0]], cam[:, _EDGES[:, 1]]
        zi, zj = z[:, _EDGES[:, 0]], z[:, _EDGES[:, 1]]
        cross = (zi - NEAR_CM) * (zj - NEAR_CM) < 0
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(cross, (NEAR_CM - zi) / (zj - zi), 0.0)
        pts = np.concatenate([cam, pi + s[..., None] * (pj - pi)], axis=1)  # corners + near-plane crossings
        ok = np.concatenate([z > NEAR_CM, cross], axis=1)
        pz = np.where(ok, np.maximum(pts[..., 2], NEAR_CM), 1.0)
        x, y = pts[..., 0] / pz / tx, pts[..., 1] / pz / ty
        inf = np.inf
        xmin, xmax = np.where(ok, x, inf).min(1), np.where(ok, x, -inf).max(1)
        ymin, ymax = np.where(ok, y, inf).min(1), np.where(ok, y, -inf).max(1)
        any_ok = ok.any(1)
        zmin = np.where(ok, pz, inf).min(1)
        with np.errstate(invalid="ignore"):  # pixel centres inside the projected range, plus 1 px of slack
            c0 = np.floor((np.clip(xmin, -2, 2) + 1) / 2 * w - 0.5) - 1
            c1 = np.ceil((np.clip(xmax, -2, 2) + 1) / 2 * w - 0.5) + 2
            r0 = np.floor((1 - np.clip(ymax, -2, 2)) / 2 * h - 0.5) - 1
            r1 = np.ceil((1 - np.clip(ymin, -2, 2)) / 2 * h - 0.5) + 2
        rects = np.stack([np.clip(r0, 0, h), np.clip(r1, 0, h), np.clip(c0, 0, w), np.clip(c1, 0, w)], 1)
        rects = np.nan_to_num(rects).astype(np.int64)
        off = ~any_ok | (rects[:, 0] >= rects[:, 1]) | (rects[:, 2] >= rects[:, 3])
        rects[off] = -1
        return rects, zmin

    @staticmethod
    def _cast(shape, half, o, f, r, u, sun, a, b, win, ndl, pid, part_id) -> None:
        """Intersect one part (local frame: ray origin o, basis f/r/u, light direction sun) with the
        rays of one pixel rectangle and write the nearer hits into the window views."""
        o, f, r, u, sun = (v.astype(F32) for v in (o, f, r, u, sun))
        d = [f[k] + a[None, :] * r[k] + b[:, None] * u[k] for k in range(3)]  # (rh, rw) each
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if shape == BOX:
                lo, hi = [], []
                for k in range(3):
                    inv = F32(1) / d[k]
                    t1, t2 = (-half[k] - o[k]) * inv, (half[k] - o[k]) * inv
                    lo.append(np.minimum(t1, t2))
                    hi.append(np.maximum(t1, t2))
                t = np.maximum(np.maximum(lo[0], lo[1]), lo[2])
                far = np.minimum(np.minimum(hi[0], hi[1]), hi[2])
                hit = (t <= far) & (t > NEAR_CM) & (t < win)
                if not hit.any():
                    return
                # The entry face is the slab whose entry is last; its outward normal faces the ray.
                l0, l1, l2 = lo[0][hit], lo[1][hit], lo[2][hit]
                nl = [-np.sign(d[k][hit]) * sun[k] for k in range(3)]
                val = np.where((l0 >= l1) & (l0 >= l2), nl[0], np.where(l1 >= l2, nl[1], nl[2]))
            elif shape == CYLINDER:
                rad, hz = half[0], half[2]
                aa = d[0] * d[0] + d[1] * d[1]
                tc = -(o[0] * d[0] + o[1] * d[1]) / aa  # closest approach to the axis, in xy
                qx, qy = o[0] + tc * d[0], o[1] + tc * d[1]
                disc = (rad * rad - (qx * qx + qy * qy)) / aa
                ts = tc - np.sqrt(np.maximum(disc, 0))
                side = (disc >= 0) & (np.abs(o[2] + ts * d[2]) <= hz)
                t = np.where(side, ts, np.inf)
                cap_z = hz if o[2] > hz else (-hz if o[2] < -hz else None)  # the only cap the eye can see
                if cap_z is not None:
                    tcap = (cap_z - o[2]) / d[2]
                    px, py = o[0] + tcap * d[0], o[1] + tcap * d[1]
                    on_cap = (tcap > 0) & (px * px + py * py <= rad * rad) & (tcap < t)
                    t = np.where(on_cap, tcap, t)
                hit = (t > NEAR_CM) & (t < win)
                if not hit.any():
                    return
                th = t[hit]
                hx, hy = o[0] + th * d[0][hit], o[1] + th * d[1][hit]
                val = (hx * sun[0] + hy * sun[1]) / rad
                if cap_z is not None:
                    val = np.where(on_cap[hit], np.sign(cap_z) * sun[2], val)
            else:  # sphere
                rad = half[0]
                aa = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
                tc = -(o[0] * d[0] + o[1] * d[1] + o[2] * d[2]) / aa
                q = [o[k] + tc * d[k] for k in range(3)]
                disc = (rad * rad - (q[0] * q[0] + q[1] * q[1] + q[2] * q[2])) / aa
                t = np.where(disc >= 0, tc - np.sqrt(np.maximum(disc, 0)), np.inf)
                hit = (t > NEAR_CM) & (t < win)
                if not hit.any():
                    return
                th = t[hit]
                val = sum((o[k] + th * d[k][hit]) * sun[k] for k in range(3)) / rad
        win[hit] = t[hit]
        ndl[hit] = val
        pid[hit] = part_id
