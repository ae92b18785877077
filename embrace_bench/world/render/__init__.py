"""Headless renderers for the embedded world: moderngl on EGL, and a pure-numpy ray caster.

Both draw the same scene (lit RGB, object mask, depth) from a WorldMap plus the dynamic state
(moved objects, hidden objects) and a camera. Each is deterministic on its own; they are not
required to agree pixel for pixel with each other.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embrace_bench.world.launch import RENDERERS
from embrace_bench.world.scene import WorldMap


@dataclass(frozen=True)
class Camera:
    location: tuple[float, float, float]  # cm
    pitch: float  # degrees, positive looks up
    yaw: float  # degrees, positive turns right (+X toward +Y)
    roll: float = 0.0
    fov: float = 90.0  # horizontal field of view, degrees
    width: int = 640
    height: int = 480


@dataclass
class Frame:
    rgb: np.ndarray  # (H, W, 3) uint8, lit
    mask: np.ndarray  # (H, W, 3) uint8, each object's mask_color, background (0, 0, 0)
    depth: np.ndarray  # (H, W) float32, distance along the view axis in cm (inf-free: far plane for sky)


# Dynamic state: object name -> (location, yaw) overriding the map, and names not drawn (held objects).
Poses = dict[str, tuple[tuple[float, float, float], float]]


class Renderer:
    kind = "base"

    def load(self, world: WorldMap) -> None:
        raise NotImplementedError

    def render(self, camera: Camera, poses: Poses | None = None, hidden: frozenset[str] = frozenset()) -> Frame:
        raise NotImplementedError

    def unload(self, world: WorldMap) -> None:
        """Forget what was prepared for a world that will not be drawn again (run-time rebuilt ones)."""

    def close(self) -> None:
        pass


def make_renderer(kind: str = "auto") -> Renderer:
    """`gl` (moderngl/EGL), `numpy`, or `auto` (gl when an EGL context can be made, else numpy)."""
    if kind not in RENDERERS:
        raise ValueError(f"env.renderer must be auto, gl or numpy, not {kind!r}")
    if kind in ("auto", "gl"):
        try:
            from embrace_bench.world.render.opengl import GLRenderer

            return GLRenderer()
        except Exception as exc:  # no EGL / no moderngl
            if kind == "gl":
                raise RuntimeError(f"env.renderer=gl but no EGL context could be created: {exc}") from exc
    from embrace_bench.world.render.raycast import NumpyRenderer

    return NumpyRenderer()
