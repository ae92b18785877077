"""Render throughput of the embedded world per renderer: lit RGB + object mask + depth, read back to numpy.

    python bench/render_fps.py --renderer both --frames 200 --width 640 --height 480

The default scene is a synthetic street of ~80 objects built from scene.py's categories (houses,
cars, trees, benches, trash cans, lamp posts, boundary walls); --map NAME uses a frozen suite map.
The camera walks down the street turning and pitching, so culling and overdraw vary as in an episode.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

from embrace_bench.config_schema import embedded_env
from embrace_bench.world.render import Camera, Renderer
from embrace_bench.world.scene import PALETTE, WorldMap, make_object, wall


def street_scene(seed: int = 0) -> WorldMap:
    """~80 objects along a 60 m street (X) with houses on both sides (deterministic)."""
    rng = random.Random(seed)
    colours = list(PALETTE)
    objs = []

    def add(cat: str, x: float, y: float, yaw: float = 0.0) -> None:
        objs.append(make_object(f"{cat.title().replace(' ', '')}_{len(objs):02d}", cat, rng.choice(colours), x, y, yaw))

    for i in range(6):  # houses facing the street on both sides
        x = 500 + i * 1000
        add("house", x, -1300, 90)
        add("house", x, 1300, -90)
    for i in range(10):  # parked cars along both kerbs
        add("car", 300 + i * 560 + rng.uniform(-60, 60), -420 if i % 2 else 420, rng.choice((0, 180)))
    for i in range(12):
        x = 250 + i * 500
        add("tree", x, -700 if i % 2 else 700)
        add("lamp post", x + 250, 650 if i % 2 else -650)
    for i in range(8):
        add("bench", 400 + i * 750, -780 if i % 2 else 780, 90 if i % 2 else -90)
        add("trash can", 600 + i * 750, -800 if i % 2 else 800)
    for i in range(14):  # small clutter on the pavement
        add(rng.choice(("mailbox", "traffic cone", "barrel")), 350 + i * 420, rng.choice((-560, 560)))
    x0, y0, x1, y1 = -500.0, -2000.0, 6500.0, 2000.0
    objs += [wall("Wall_S", x0, y0, x1, y0 + 20, 250, (150, 150, 150)),
             wall("Wall_N", x0, y1 - 20, x1, y1, 250, (150, 150, 150)),
             wall("Wall_W", x0, y0, x0 + 20, y1, 250, (150, 150, 150)),
             wall("Wall_E", x1 - 20, y0, x1, y1, 250, (150, 150, 150))]
    return WorldMap("BenchStreet", "street", "id", seed, (x0, y0, x1, y1), (95, 95, 100), (150, 190, 235),
                    "benchmark street", objs)


def make(kind: str) -> Renderer:
    if kind == "gl":
        from embrace_bench.world.render.opengl import GLRenderer

        return GLRenderer()
    from embrace_bench.world.render.raycast import NumpyRenderer

    return NumpyRenderer()


def cameras(world: WorldMap, n: int, width: int, height: int) -> list[Camera]:
    """A walk down the middle of the street, yaw sweeping +-120 deg, pitch +-15 deg, eye at 160 cm."""
    x0, _, x1, _ = world.bounds
    return [Camera((x0 + 300 + (x1 - x0 - 600) * i / max(1, n - 1), 80.0 * ((i % 9) - 4), 160.0),
                   15.0 * ((i % 5) - 2) / 2, (i * 37.0) % 240 - 120, width=width, height=height) for i in range(n)]


def bench(kind: str, world: WorldMap, frames: int, width: int, height: int) -> None:
    r = make(kind)
    t0 = time.perf_counter()
    r.load(world)
    load_ms = (time.perf_counter() - t0) * 1000
    cams = cameras(world, frames, width, height)
    r.render(cams[0])  # warm-up: shader compile, framebuffer allocation
    times = []
    for cam in cams:
        t0 = time.perf_counter()
        f = r.render(cam)  # returns rgb, mask and depth already read back as numpy arrays
        times.append((time.perf_counter() - t0) * 1000)
        assert f.depth.shape == (height, width)
    r.close()
    times.sort()
    med, p95 = statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(f"{kind:6s} {width}x{height} {len(world.objects)} objects: {1000 / med:7.1f} FPS  "
          f"median {med:7.2f} ms  p95 {p95:7.2f} ms  mean {statistics.fmean(times):7.2f} ms  "
          f"({len(times)} frames, load {load_ms:.0f} ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--renderer", default="both", choices=("gl", "numpy", "both"))
    ap.add_argument("--frames", type=int, default=200, help="frames per renderer (numpy gets a tenth, min 10)")
    ap.add_argument("--width", type=int, default=embedded_env().width)
    ap.add_argument("--height", type=int, default=embedded_env().height)
    ap.add_argument("--map", default="", help="a frozen suite map (e.g. Street_46) instead of the synthetic street")
    args = ap.parse_args()
    if args.map:
        from embrace_bench.tasks.maps import load_map

        world = load_map(args.map)
    else:
        world = street_scene()
    for kind in ("gl", "numpy") if args.renderer == "both" else (args.renderer,):
        n = args.frames if kind == "gl" or args.renderer == "numpy" else max(10, args.frames // 10)
        bench(kind, world, n, args.width, args.height)


if __name__ == "__main__":
    main()
