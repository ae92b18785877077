"""embrace_bench: evaluate vision-language models as embodied agents, closed loop, in 3D worlds.

Layers, bottom to top. A module imports only from its own package and from layers below its own; packages on
the same line do not import each other, except along a `<` (`a < b`: b may import a, never the reverse).

1. leaves, importing nothing else of embrace_bench (records imports only redact): unrealcv (the wire
   protocol), actions, colours, observation, png, procs, redact, interrupts, cli_args, records
2. world: the embedded engine (the UnrealCV server). env/ asks it only through world/launch.py
   (renderer names, the serve command line); world/serve.py is a process entry point and, like the
   entry points of line 9, may name the tasks package's maps folder for its default
3. tasks: task formats, the frozen embedded suite and its maps (tasks/maps.py), the planner
4. scoring
5. env (the UnrealCV client, UnrealEnv, engine launch and supervision) | models (adapters, prompts)
6. baselines (oracle, heuristic, random, demo, replay: agents without a model)
7. episode
8. worker, resume < ray_backend < runner
9. report < results
10. entry points: app < __main__ < replay_check
"""

__version__ = "0.1.0"
