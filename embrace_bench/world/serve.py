"""`python -m embrace_bench.world.serve --port P`: the embedded world as an UnrealCV server on loopback."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time

from embrace_bench.world import faults
from embrace_bench.world.engine import EmbeddedEngine
from embrace_bench.world.render import RENDERERS
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m embrace_bench.world.serve", description=__doc__)
    ap.add_argument("--port", type=int, default=9000, help="TCP port (0 picks a free one)")
    ap.add_argument("--host", default="127.0.0.1", help="bind address; loopback unless you mean otherwise")
    ap.add_argument("--renderer", default="auto", choices=RENDERERS)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--fov", type=float, default=90.0)
    ap.add_argument("--unix-socket", action="store_true", help="also listen on /tmp/unrealcv_<port>.socket")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="shut down when the process that started this one dies (the harness passes it)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        fault = faults.from_environ()
    except ValueError as exc:
        print(f"embrace_bench.world.serve: error: {exc}", file=sys.stderr)
        return 2
    try:
        engine = EmbeddedEngine(args.renderer, width=args.width, height=args.height, fov=args.fov, port=args.port)
    except RuntimeError as exc:
        print(f"embrace_bench.world.serve: error: {exc}", file=sys.stderr)
        return 2
    try:
        server = UnrealCVServer(engine, args.host, args.port, unix_socket=args.unix_socket,
                                name="embrace_bench-embedded", fault=fault)
    except OSError as exc:
        print(f"embrace_bench.world.serve: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    engine.port = server.port
    signal.signal(signal.SIGTERM, lambda *_: server.shutdown(timeout=0.5))
    if args.exit_with_parent:
        _watch_parent(server)
    print(f"embrace_bench embedded engine on {server.host}:{server.port} renderer={engine.renderer.kind}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown(timeout=1.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
