"""The embedded world's launch API: all that env/ knows of world/. The harness runs the world as its own
process and talks to it over UnrealCV only; this module names the renderers that process offers and builds
its command line. It imports nothing else from world/ (no renderer is loaded by asking)."""
from __future__ import annotations

import sys
from pathlib import Path

RENDERERS = ("auto", "gl", "numpy")
SERVE_MODULE = "embrace_bench.world.serve"


def check_renderer(kind: str) -> None:
    """ValueError naming the choices when `kind` is not a renderer the world offers (checked before launch)."""
    if kind not in RENDERERS:
        raise ValueError(f"env.renderer must be one of {', '.join(RENDERERS)}, not {kind!r}")


def serve_command(*, port: int, host: str, renderer: str, width: int, height: int, fov: float,
                  maps_dir: Path | None = None, extra_args: tuple[str, ...] = ()) -> list[str]:
    """The command that serves the world on host:port (world/serve.py), exiting with the harness."""
    maps = ["--maps-dir", str(maps_dir)] if maps_dir is not None else []
    return [sys.executable, "-m", SERVE_MODULE, "--port", str(port), "--host", host, "--renderer", renderer,
            "--width", str(width), "--height", str(height), "--fov", str(fov), *maps, "--exit-with-parent",
            *extra_args]
