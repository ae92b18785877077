"""The named colours instructions use, as RGB: one shared vocabulary. The embedded world paints its objects
in these (world/scene.py), and the heuristic baseline looks for them in the image, as anyone reading
"the red car" would know what red looks like; it is no knowledge of the world's state."""
from __future__ import annotations

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (200, 30, 30),
    "blue": (30, 70, 210),
    "green": (40, 160, 50),
    "yellow": (235, 205, 30),
    "orange": (240, 120, 20),
    "purple": (130, 50, 170),
    "white": (235, 235, 235),
    "black": (25, 25, 25),
    "brown": (120, 75, 35),
    "pink": (240, 120, 180),
}
