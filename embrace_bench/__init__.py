"""embrace_bench: evaluate vision-language models as embodied agents, closed loop, in 3D worlds.

Layers, bottom to top. A module imports only from its own package and from layers below its own; packages on
the same line do not import each other, except along a `<` (`a < b`: b may import a, never the reverse).
tests/test_layers.py holds this order as a table (LAYERS, the one definition) and fails on any import against it.

1. leaves, importing nothing else of embrace_bench: the package root, unrealcv (the wire protocol), actions,
   colours, observation, png, procs, redact, interrupts, cli_args, defaults, run_dir, extras
2. records, manifest: import only leaves
3. world: the embedded engine (the UnrealCV server). env/ asks it only through world/launch.py
   (renderer names, the serve command line); world/serve.py is a process entry point and, like the
   entry points of line 11, may name the tasks package's maps folder for its default
4. tasks: task formats, the frozen embedded suite and its maps (tasks/maps.py), the planner
5. scoring < config_schema (the typed config groups, which read scoring's tag thresholds)
6. env (the UnrealCV client, UnrealEnv, engine launch and supervision) | models (adapters, prompts)
7. baselines (oracle, heuristic, random, demo, replay: agents without a model)
8. episode
9. worker < ray_backend < runner; resume < runner
10. report < results
11. entry points and their config checks: config_checks < app < __main__ < replay_check
"""

from pathlib import Path

__version__ = "0.1.0"
CONF_DIR = Path(__file__).resolve().parent / "conf"  # the config groups, in the package (wheels and editable installs)
