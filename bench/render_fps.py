"""Render throughput of the embedded world (lit + mask + depth readback), per renderer.

    python bench/render_fps.py --renderer both --frames 100
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

from embrace_bench.world.engine import MAPS_DIR
from embrace_bench.world.render import Camera, make_renderer
from embrace_bench.world.scene import WorldMap


def bench(kind: str, world: WorldMap, frames: int, width: int, height: int) -> None:
    r = make_renderer(kind)
    r.load(world)
    x0, y0, x1, y1 = world.bounds
    times = []
    for i in range(frames):  # walk a circle through the map, turning as we go
        cam = Camera(((x0 + x1) / 2 + 1500 * (i % 7 - 3) / 3, (y0 + y1) / 2, 160.0), 0.0, i * 17.0 % 360,
                     width=width, height=height)
        t0 = time.perf_counter()
        r.render(cam)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    med = statistics.median(times)
    print(f"{kind:6s} {width}x{height} {len(world.objects)} objects: {1000 / med:6.1f} FPS "
          f"(median {med:.1f} ms, p95 {times[int(0.95 * (len(times) - 1))]:.1f} ms over {frames} frames)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--renderer", default="both", choices=("gl", "numpy", "both"))
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--map", default="Street_46")
    args = ap.parse_args()
    world = WorldMap.from_json(json.loads((MAPS_DIR / f"{args.map}.json").read_text()))
    for kind in ("gl", "numpy") if args.renderer == "both" else (args.renderer,):
        bench(kind, world, args.frames if kind == "gl" else max(5, args.frames // 10), args.width, args.height)


if __name__ == "__main__":
    main()
