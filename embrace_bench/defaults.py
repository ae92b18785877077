"""Protocol defaults more than one layer needs, defined once: the config schemas (config_schema.py), the episode
loop, the records and the re-scorer read them from here. A leaf module: no imports. (The embedded world's
settings, frame size included, are in conf/env/embedded.yaml: config_schema.embedded_env().)"""

MAX_STEPS = 32  # the paper's step limit per episode
SUCCESS_RADIUS_CM = 300.0  # "at the target": within this distance of it (tasks without success regions)
