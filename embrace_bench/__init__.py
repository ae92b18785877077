"""embrace_bench: evaluate vision-language models as embodied agents, closed loop, in 3D worlds."""

__version__ = "0.1.0"
