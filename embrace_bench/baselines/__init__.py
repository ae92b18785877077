"""Agents without a model: oracle (plans on the embedded map, privileged), heuristic (image + instruction
only), random, demo (plays the task's recorded demo) and replay (a previous run's answers). They implement
models.base.Agent and are registered in models/registry.py like the model adapters."""
