"""`python -m embrace_bench.world.serve --port P`: the embedded world as an UnrealCV server on loopback.

`--unrealzoo` serves it with UnrealZoo's semantics instead (world/unrealzoo.py: levels that take time to
load, a character to spawn, game time on the wall clock (times `vrun slomo`) with the character's motion
calibrated to the EmbRACE release's recorded demos, stale first frames, and UnrealCV's switch from TCP to
/tmp/unrealcv_<port>.socket after the first TCP client), the stand-in for a UnrealZoo binary in tests."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from embrace_bench.world import faults
from embrace_bench.world.engine import EmbeddedEngine
from embrace_bench.world.launch import RENDERERS
from embrace_bench.world.render import Camera
from embrace_bench.world.server import UnrealCVServer


def _watch_parent(server: UnrealCVServer) -> None:
    """A runner killed with SIGKILL cannot stop its engines; they notice they were orphaned and exit."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        print("the harness that started this engine is gone; shutting down", flush=True)
        server.shutdown(timeout=0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _default_maps_dir() -> Path:
    """The embedded suite's maps, through the tasks package's API: this module is a process entry point (the
    top layer, like __main__), the one place in world/ that may name where the suite keeps its data."""
    from embrace_bench.tasks.maps import EMBEDDED_MAPS_DIR

    return EMBEDDED_MAPS_DIR


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m embrace_bench.world.serve", description=__doc__)
    ap.add_argument("--port", type=int, default=9000, help="TCP port (0 picks a free one)")
    ap.add_argument("--host", default="127.0.0.1", help="bind address; loopback unless you mean otherwise")
    ap.add_argument("--renderer", default="auto", choices=RENDERERS)
    # Run by hand, the world's own default camera; a run passes env.width, env.height and env.fov (world/launch.py)
    ap.add_argument("--width", type=int, default=Camera.width)
    ap.add_argument("--height", type=int, default=Camera.height)
    ap.add_argument("--fov", type=float, default=Camera.fov)
    ap.add_argument("--maps-dir", type=Path, default=None,
                    help="folder of the levels (<name>.json); default: the embedded suite's maps")
    ap.add_argument("--unix-socket", action="store_true", help="also listen on /tmp/unrealcv_<port>.socket")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="shut down when the process that started this one dies (the harness passes it)")
    zoo = ap.add_argument_group("UnrealZoo mode")
    zoo.add_argument("--unrealzoo", action="store_true", help="answer with UnrealZoo's semantics")
    zoo.add_argument("--load-s", type=float, default=1.0, help="seconds a level takes to load")
    zoo.add_argument("--spawn-s", type=float, default=0.2, help="seconds before a spawned character answers")
    zoo.add_argument("--tick-s", type=float, default=0.05, help="simulation tick (0: continuous time)")
    zoo.add_argument("--no-stale-frame", action="store_true", help="captures are always current")
    zoo.add_argument("--no-unix-switch", action="store_true", help="keep serving TCP after the first client")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        fault = faults.from_environ()
    except ValueError as exc:
        print(f"embrace_bench.world.serve: error: {exc}", file=sys.stderr)
        return 2
    engine: EmbeddedEngine
    try:
        common = dict(maps_dir=args.maps_dir or _default_maps_dir(), width=args.width, height=args.height,
                      fov=args.fov, port=args.port)
        if args.unrealzoo:
            from embrace_bench.world.unrealzoo import UnrealZooEngine

            engine = UnrealZooEngine(args.renderer, load_s=args.load_s, spawn_s=args.spawn_s, tick_s=args.tick_s,
                                     stale_frame=not args.no_stale_frame, **common)
        else:
            engine = EmbeddedEngine(args.renderer, **common)
    except RuntimeError as exc:
        print(f"embrace_bench.world.serve: error: {exc}", file=sys.stderr)
        return 2
    try:
        switch = args.unrealzoo and not args.no_unix_switch
        server = UnrealCVServer(engine, args.host, args.port, unix_socket=args.unix_socket or switch,
                                unix_after_tcp=switch, fault=fault,
                                name="embrace_bench-unrealzoo" if args.unrealzoo else "embrace_bench-embedded")
    except OSError as exc:
        print(f"embrace_bench.world.serve: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    engine.port = server.port
    signal.signal(signal.SIGTERM, lambda *_: server.shutdown(timeout=0.5))
    if args.exit_with_parent:
        _watch_parent(server)
    mode = "unrealzoo-mode" if args.unrealzoo else "embedded"
    print(f"embrace_bench {mode} engine on {server.host}:{server.port} renderer={engine.renderer.kind}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown(timeout=1.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
