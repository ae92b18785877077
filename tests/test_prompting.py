"""Prompt protocols: which images go in, in what order, with which labels; re-asks; image encoding."""
import io
import threading

import numpy as np
import pytest
from fakes import history
from PIL import Image

from embrace_bench.actions import ACTIONS
from embrace_bench.models.messages import Part
from embrace_bench.models.prompts import ImageEncoder, PromptConfig, build_request
from embrace_bench.models.response_cache import CachedReply, ResponseCache
from embrace_bench.tasks.suite import load_embedded

TASK = load_embedded(("id",)).tasks[3]


def _history(n):
    return history([np.full((48, 64, 3), k, np.uint8) for k in range(n + 1)])


def _req(n, reask=None, **cfg):
    c = PromptConfig(**cfg)
    return build_request(c, ImageEncoder(c), TASK, _history(n), reask, {"temperature": 0.0})


def _images(msg_parts):
    return [int(np.asarray(Image.open(io.BytesIO(p.image)))[0, 0, 0]) for p in msg_parts if p.kind == "image"]


@pytest.mark.parametrize("n, expected", [(0, [0]), (3, [0, 1, 2, 3]), (20, [0, 15, 16, 17, 18, 19, 20])])
def test_embrace_v1_images_and_labels(n, expected):
    req = _req(n)
    system, user = req.messages
    assert system.role == "system" and all(a in system.parts[0].text for a in ACTIONS)
    assert _images(user.parts) == expected and req.n_images() <= 7
    text = " ".join(p.text for p in user.parts if p.kind == "text")
    assert TASK.instruction in text and TASK.scene_description in text
    assert text.count("TurnLeft") == n
    assert ("Initial observation (step 0)" in text) == (n > 0) and "Current observation" in text


def test_reask_only_in_the_reask_request():
    plain, again = _req(2), _req(2, reask="unknown action 'Jump'")
    assert "unknown action 'Jump'" not in str(plain.messages)
    assert "unknown action 'Jump'" in again.messages[-1].parts[-1].text
    assert plain.cache_key("m") != again.cache_key("m")


def test_embrace_release_window_and_alternation():
    """The release evaluator's structure: the initial observation and its answer always, then the last 13
    observations (the current one included), each earlier one followed by its answer; nothing in between."""
    req = _req(20, name="embrace_release", window=13)
    roles = [m.role for m in req.messages]
    assert roles[0] == "system" and roles[1] == roles[-1] == "user"
    assert all(a != b for a, b in zip(roles[1:], roles[2:]))
    imgs = [i for m in req.messages for i in _images(m.parts)]
    assert imgs == [0] + list(range(8, 21))  # initial + the last 13
    answers = [m.parts[0].text for m in req.messages if m.role == "assistant"]
    # turn k (acting from observation k) answered "#k+1": the answer to the initial one, then to 8..19
    assert answers == ["<action>TurnLeft</action> #1"] + [f"<action>TurnLeft</action> #{k + 1}" for k in range(8, 20)]
    assert TASK.instruction in req.messages[1].parts[0].text
    start = _req(0, name="embrace_release")  # step 0: the initial observation is the current one
    assert [m.role for m in start.messages] == ["system", "user"] and _images(start.messages[1].parts) == [0]
    assert TASK.instruction in start.messages[1].parts[0].text
    again = _req(3, name="embrace_release", reask="no <action>...</action> tag")
    assert again.messages[-1].role == "user" and again.messages[-1].parts[0].text.startswith(
        "Your last answer could not be used: no <action>")  # a message of its own, after the current one


def test_jpeg_resize_and_cache_key_sensitivity():
    req = _req(1, image_format="jpeg", image_width=32, image_height=24, jpeg_quality=80)
    parts = [p for p in req.messages[1].parts if p.kind == "image"]
    img = Image.open(io.BytesIO(parts[0].image))
    assert img.format == "JPEG" and img.size == (32, 24) and parts[0].mime == "image/jpeg"
    a = _req(1)
    b = _req(1)
    assert a.cache_key("m") == b.cache_key("m")
    p = b.messages[1].parts
    i = next(k for k, x in enumerate(p) if x.kind == "image")
    p[i] = Part("image", image=p[i].image[:-1] + bytes([p[i].image[-1] ^ 1]), mime=p[i].mime)
    assert a.cache_key("m") != b.cache_key("m")


def test_unknown_protocol_and_format_are_named():
    with pytest.raises(ValueError, match="unknown prompt protocol 'v9'"):
        PromptConfig(name="v9")
    with pytest.raises(ValueError, match="png or jpeg"):
        PromptConfig(image_format="gif")


def test_response_cache_roundtrip_across_threads(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")

    def put(k):
        cache.put(f"k{k}", "m", CachedReply(f"t{k}", {"in": k}, 0.1, 0.01))

    threads = [threading.Thread(target=put, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 8 and cache.get("k3").text == "t3" and cache.get("k3").tokens == {"in": 3}
    assert cache.get("missing") is None
