"""A tiny random Qwen2.5-VL saved to a folder, built offline in a few seconds, so the transformers adapter
runs real generate() calls in tests: the real model classes with two-layer vision and text towers, and a
byte-level BPE tokenizer trained here on the prompt's own words, so it has multi-character tokens
(`</think>`, `<action>`, `Forward`, ` the`) like a real one."""
from __future__ import annotations

from pathlib import Path

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
           "<|image_pad|>", "<|video_pad|>"]

# Qwen2.5-VL's chat template, as shipped with the model, minus video and vision ids.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _corpus() -> list[str]:
    from embrace_bench.actions import ACTIONS
    from embrace_bench.models.prompts import PromptConfig, reask_text, system_prompt
    from embrace_bench.tasks.suite import load_embedded

    tasks = load_embedded(("id",)).tasks[:40]
    answers = [f"<think>{t.instruction}</think><action>{ACTIONS[k % len(ACTIONS)]}</action>"
               for k, t in enumerate(tasks)]
    return [system_prompt(PromptConfig()), reask_text("no <action>...</action> tag")] + \
        [f"Instruction: {t.instruction}\nScene: {t.scene_description}" for t in tasks] + answers


def build_tiny_qwen(folder: Path, seed: int = 0, vocab_size: int = 500) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    try:
        from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil as ImageProcessor
    except ImportError:  # transformers 4.x: the PIL-based processor has the plain name
        from transformers.models.qwen2_vl import Qwen2VLImageProcessor as ImageProcessor

    folder = Path(folder)
    tok = Tokenizer(models.BPE())
    # Split only at spaces (not at punctuation), so merges can span tags like "</think><action>".
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    ids = {s: tokenizer.convert_tokens_to_ids(s) for s in SPECIAL}
    config = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                          "mrope_section": [2, 1, 1]},
                         bos_token_id=None, eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"]),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=56,
                           fullatt_block_indexes=[1]),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=None, eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.bos_token_id = None
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    # Small images keep the test fast: a 64x48 frame becomes a 56x56 grid of 4 merged patches (4 tokens).
    ImageProcessor(min_pixels=56 * 56, max_pixels=112 * 112).save_pretrained(folder)
    return folder
