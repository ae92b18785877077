"""Protocol defaults more than one layer needs, defined once: the config schemas (config_schema.py), the episode
loop, the records, the re-scorer and the embedded world all read them from here. A leaf module: no imports."""

MAX_STEPS = 32  # the paper's step limit per episode
SUCCESS_RADIUS_CM = 300.0  # "at the target": within this distance of it (tasks without success regions)
FRAME_WIDTH = 640  # the embedded world's capture size and horizontal field of view
FRAME_HEIGHT = 480
FOV_DEG = 90.0
