"""The embedded world's frozen maps (tasks/data/embedded/maps): where they are and how to read one.

The one way in for everything above the world: the engine process is told this folder when it is started
(world/serve.py --maps-dir), the oracle plans on these maps, and a suite is checked against them.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from embrace_bench.tasks.suite import EMBEDDED_DIR
from embrace_bench.world.scene import WorldMap

EMBEDDED_MAPS_DIR = EMBEDDED_DIR / "maps"


def map_path(name: str, maps_dir: Path = EMBEDDED_MAPS_DIR) -> Path:
    return Path(maps_dir) / f"{name}.json"


def has_map(name: str) -> bool:
    """Whether the embedded world has a map of this name."""
    return map_path(name).exists()


def map_names(maps_dir: Path = EMBEDDED_MAPS_DIR) -> set[str]:
    return {p.stem for p in Path(maps_dir).glob("*.json")}


@lru_cache(maxsize=32)
def load_map(name: str) -> WorldMap:
    """An embedded map as the world builds it (FileNotFoundError names the path when there is none)."""
    path = map_path(name)
    if not path.exists():
        raise FileNotFoundError(f"no embedded map {name} at {path}")
    return WorldMap.from_json(json.loads(path.read_text()))
