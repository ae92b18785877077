"""What both renderers share: the camera basis, the light and the clipping planes."""
from __future__ import annotations

import math

import numpy as np

from embrace_bench.world.render import Camera

SUN = np.array([0.45, -0.35, 0.82])
SUN = SUN / np.linalg.norm(SUN)  # in Unreal coordinates
AMBIENT, DIFFUSE = 0.55, 0.45
NEAR_CM, FAR_CM = 10.0, 100000.0
GROUND_MARGIN_CM = 3000.0


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
