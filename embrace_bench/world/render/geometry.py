"""What both renderers share: the camera basis, the light, the shading rule, primitive meshes."""
from __future__ import annotations

import math

import numpy as np

from embrace_bench.world.render import Camera
from embrace_bench.world.scene import Part

SUN = np.array([0.45, -0.35, 0.82])
SUN = SUN / np.linalg.norm(SUN)  # in Unreal coordinates
AMBIENT, DIFFUSE = 0.55, 0.45
NEAR_CM, FAR_CM = 10.0, 100000.0
GROUND_MARGIN_CM = 3000.0


def shade(base: np.ndarray, normal_dot_sun: np.ndarray) -> np.ndarray:
    """The one lighting rule: ambient plus Lambert, on 0..255 base colours."""
    return base * (AMBIENT + DIFFUSE * np.clip(normal_dot_sun, 0.0, None))[..., None]


def camera_basis(cam: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(forward, right, up) unit vectors in Unreal coordinates (left-handed: right = +Y at yaw 0)."""
    p, y = math.radians(cam.pitch), math.radians(cam.yaw)
    f = np.array([math.cos(p) * math.cos(y), math.cos(p) * math.sin(y), math.sin(p)])
    r = np.array([-math.sin(y), math.cos(y), 0.0])
    u = np.array([-math.sin(p) * math.cos(y), -math.sin(p) * math.sin(y), math.cos(p)])
    return f, r, u


def tan_half_fov(cam: Camera) -> tuple[float, float]:
    th = math.tan(math.radians(cam.fov) / 2)
    return th, th * cam.height / cam.width


def yaw_matrix(yaw_deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def part_mesh(part: Part, segments: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Triangles (N, 3, 3) and per-vertex normals (N, 3, 3) of one primitive in its object's frame."""
    c = np.array(part.center, dtype=np.float64)
    sx, sy, sz = (s / 2 for s in part.size)
    tris, norms = [], []

    def quad(a, b, cc, d, n):
        tris.extend([(a, b, cc), (a, cc, d)])
        norms.extend([(n, n, n)] * 2)

    if part.shape == "box":
        for axis in range(3):
            for sign in (-1.0, 1.0):
                n = np.zeros(3)
                n[axis] = sign
                u_ax, v_ax = [i for i in range(3) if i != axis]
                half = np.array([sx, sy, sz])
                corners = []
                for du, dv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                    p = np.zeros(3)
                    p[axis] = sign * half[axis]
                    p[u_ax] = du * half[u_ax]
                    p[v_ax] = dv * half[v_ax]
                    corners.append(c + p)
                quad(*corners, n)
    elif part.shape == "cylinder":
        r = sx
        z0, z1 = c[2] - sz, c[2] + sz
        for k in range(segments):
            a0, a1 = 2 * math.pi * k / segments, 2 * math.pi * (k + 1) / segments
            p0 = np.array([c[0] + r * math.cos(a0), c[1] + r * math.sin(a0)])
            p1 = np.array([c[0] + r * math.cos(a1), c[1] + r * math.sin(a1)])
            n0 = np.array([math.cos(a0), math.sin(a0), 0.0])
            n1 = np.array([math.cos(a1), math.sin(a1), 0.0])
            b0, b1 = np.r_[p0, z0], np.r_[p1, z0]
            t0, t1 = np.r_[p0, z1], np.r_[p1, z1]
            tris.extend([(b0, b1, t1), (b0, t1, t0)])
            norms.extend([(n0, n1, n1), (n0, n1, n0)])
            up, down = np.array([0, 0, 1.0]), np.array([0, 0, -1.0])
            tris.append((np.r_[c[:2], z1], t0, t1))
            norms.append((up, up, up))
            tris.append((np.r_[c[:2], z0], b1, b0))
            norms.append((down, down, down))
    elif part.shape == "sphere":
        r = sx
        rings = segments // 2
        for i in range(rings):
            th0, th1 = math.pi * i / rings, math.pi * (i + 1) / rings
            for k in range(segments):
                ph0, ph1 = 2 * math.pi * k / segments, 2 * math.pi * (k + 1) / segments
                pts = [np.array([math.sin(t) * math.cos(ph), math.sin(t) * math.sin(ph), math.cos(t)])
                       for t, ph in ((th0, ph0), (th1, ph0), (th1, ph1), (th0, ph1))]
                tris.extend([(pts[0], pts[1], pts[2]), (pts[0], pts[2], pts[3])])
                norms.extend([(pts[0], pts[1], pts[2]), (pts[0], pts[2], pts[3])])
        tris = [tuple(c + r * v for v in t) for t in tris]
    else:
        raise ValueError(f"unknown primitive {part.shape!r}")
    return np.array(tris, dtype=np.float64), np.array(norms, dtype=np.float64)
