"""Hand-made observations and histories for agent and prompt tests, and an in-process engine client."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from embrace_bench.observation import History, Observation


def observation(rgb: np.ndarray, png: bool = True) -> Observation:
    data = b""
    if png:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="PNG")
        data = buf.getvalue()
    return Observation(rgb, data, [0, 0, 90, 0, 0, 0], {}, {}, None)


def history(frames: list[np.ndarray]) -> History:
    """The initial frame then one TurnLeft per further frame; turn k's answer is tagged `#k`."""
    obs = [observation(f) for f in frames]
    return History(initial=obs[0], observations=obs, actions=["TurnLeft"] * (len(obs) - 1),
                   turns=[(f"<action>TurnLeft</action> #{k + 1}", o) for k, o in enumerate(obs[1:])])


class InProcessClient:
    """An engine's command handler without the socket (the wire has its own tests)."""

    def __init__(self, engine):
        self.engine = engine

    def request(self, cmd):
        return self.engine.handle(cmd)

    def request_many(self, cmds):
        return [self.engine.handle(c) for c in cmds]

    def close(self):
        pass
