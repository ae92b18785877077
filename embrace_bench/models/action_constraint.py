"""Constrained decoding for in-process models (`model.constrained=true` with the transformers adapter).

The answer format `<think>[^<]*</think><action>Name</action>` (or `<action>Name</action>` without think),
with Name from the one action space in actions.py, is a small character automaton: a trie for the literal
parts and one free state for the think text. It is compiled against a tokenizer's vocabulary, so tokens
that span several characters (`</think>`, `><action>`, `Forward`) are followed character by character,
and each automaton state gets the set of tokens allowed there and where each one leads.

The token budget is part of the constraint: a token is allowed only if the answer can still be completed
(action, closing tag and end-of-sequence) within `max_new_tokens`, so a long think never leaves the
answer cut off before its action.
"""
from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

import numpy as np

from embrace_bench.actions import ACTIONS

if TYPE_CHECKING:
    import torch

DONE, BODY = 0, 1  # automaton states: answer complete (only end-of-sequence may follow); inside the think text


class ActionGrammar:
    """Character automaton of the answer format."""

    def __init__(self, think: bool = True, actions: tuple[str, ...] = ACTIONS) -> None:
        self.children: list[dict[str, int]] = [{}, {}]  # DONE and BODY are not trie nodes
        self.root = self._node()
        self.tail_root: int | None = None
        if think:
            self._add(self.root, "<think>", BODY)
            self.tail_root = self._node()
            for a in actions:
                self._add(self.tail_root, f"</think><action>{a}</action>", DONE)
        else:
            for a in actions:
                self._add(self.root, f"<action>{a}</action>", DONE)

    def _node(self) -> int:
        self.children.append({})
        return len(self.children) - 1

    def _add(self, node: int, literal: str, end: int) -> None:
        for ch in literal[:-1]:
            nxt = self.children[node].get(ch)
            if nxt is None:
                nxt = self.children[node][ch] = self._node()
            node = nxt
        self.children[node][literal[-1]] = end

    @property
    def trie_nodes(self) -> range:
        return range(2, len(self.children))

    def step(self, node: int, ch: str) -> int | None:
        if node == BODY:
            assert self.tail_root is not None  # BODY is reached only through "<think>", which builds the tail
            return BODY if ch != "<" else self.children[self.tail_root]["<"]
        return self.children[node].get(ch)

    def walk(self, node: int, text: str) -> int | None:
        for ch in text:
            nxt = self.step(node, ch)
            if nxt is None:
                return None
            node = nxt
        return node

    def literals(self, node: int) -> list[tuple[str, int]]:
        """Every string leading from a trie node to where its literal ends (BODY or DONE)."""
        out, stack = [], [(node, "")]
        while stack:
            n, text = stack.pop()
            for ch, nxt in self.children[n].items():
                if nxt in (BODY, DONE):
                    out.append((text + ch, nxt))
                else:
                    stack.append((nxt, text + ch))
        return out


class Vocabulary:
    """Each token id's text (None for special or empty tokens, never allowed), with lookups by text."""

    def __init__(self, strings: list[str | None]) -> None:
        self.strings = strings
        self.by_text: dict[str, list[int]] = {}
        for i, s in enumerate(strings):
            if s:
                self.by_text.setdefault(s, []).append(i)
        self._sorted = sorted((s, i) for i, s in enumerate(strings) if s)
        self._keys = [s for s, _ in self._sorted]

    @classmethod
    def from_tokenizer(cls, tokenizer) -> "Vocabulary":
        """Texts as the tokenizer decodes each id alone (byte-level BPE: exact; a lone byte of a multi-byte
        character decodes to U+FFFD, which can only ever be think text)."""
        n = max(tokenizer.get_vocab().values()) + 1
        special = set(tokenizer.all_special_ids)
        special |= {i for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items() if t.special}
        texts = tokenizer.batch_decode([[i] for i in range(n)], skip_special_tokens=False,
                                       clean_up_tokenization_spaces=False)
        return cls([None if i in special else t for i, t in enumerate(texts)])

    def starting_with(self, prefix: str) -> list[tuple[str, int]]:
        """(text, id) of every token whose text starts with `prefix` (sorted range, no full scan)."""
        lo = bisect.bisect_left(self._keys, prefix)
        hi = bisect.bisect_left(self._keys, prefix + "\U0010ffff")
        return self._sorted[lo:hi]


class CompiledConstraint:
    """Per automaton state: the allowed token ids and the state each leads to; and per state the fewest
    tokens (end-of-sequence included) that still complete the answer."""

    def __init__(self, grammar: ActionGrammar, vocab: Vocabulary) -> None:
        self.grammar, self.vocab = grammar, vocab
        self.ids: dict[int, np.ndarray] = {}
        self.next: dict[int, np.ndarray] = {}
        for node in [BODY, *grammar.trie_nodes] if grammar.tail_root is not None else grammar.trie_nodes:
            moves = self._body_moves() if node == BODY else self._trie_moves(node)
            order = sorted(moves)
            self.ids[node] = np.array(order, dtype=np.int64)
            self.next[node] = np.array([moves[i] for i in order], dtype=np.int64)
        self.dist = self._distances()
        self._dist_table = np.full(max(self.dist) + 1, np.inf)
        for n, d in self.dist.items():
            self._dist_table[n] = d
        # Beyond this budget every grammatical token is allowed, so masks need not depend on the budget.
        self.longest = int(max(d for d in self.dist.values() if d != float("inf"))) + 1

    def _body_moves(self) -> dict[int, int]:
        g, moves = self.grammar, {}
        for i, s in enumerate(self.vocab.strings):
            if not s:
                continue
            if "<" not in s:
                moves[i] = BODY
            else:
                nxt = g.walk(BODY, s)
                if nxt is not None:
                    moves[i] = nxt
        return moves

    def _trie_moves(self, node: int) -> dict[int, int]:
        g, v, moves = self.grammar, self.vocab, {}
        for literal, end in g.literals(node):
            at = node
            for k, ch in enumerate(literal, 1):  # tokens that are a prefix of the literal
                nxt = g.step(at, ch)
                assert nxt is not None  # the literal is a path of the trie, from `node`
                at = nxt
                for i in v.by_text.get(literal[:k], ()):
                    moves[i] = at
            if end == BODY:  # tokens that finish the literal and go on into the think text
                for s, i in v.starting_with(literal):
                    if len(s) > len(literal):
                        nxt = g.walk(BODY, s[len(literal):])
                        if nxt is not None:
                            moves[i] = nxt
        return moves

    def _distances(self) -> dict[int, float]:
        dist = {DONE: 1.0}  # the end-of-sequence token
        for n in self.ids:
            dist[n] = float("inf")
        succ = {n: set(self.next[n].tolist()) for n in self.ids}
        changed = True
        while changed:  # Bellman-Ford on a few hundred states
            changed = False
            for n, nxts in succ.items():
                best = 1 + min((dist[m] for m in nxts), default=float("inf"))
                if best < dist[n]:
                    dist[n], changed = best, True
        return dist

    def allowed(self, node: int, budget: int) -> np.ndarray:
        """Token ids allowed at `node` when `budget` tokens (end-of-sequence included) may still be made."""
        d = self._dist_table[self.next[node]]
        ok = d <= budget - 1
        if not ok.any():  # the budget is already too small: get as close to an answer as possible
            ok = d == d.min()
        return self.ids[node][ok]


class ActionLogitsProcessor:
    """A transformers logits processor: every row of a generate() call can only produce a valid answer.

    `prompt_len` is where generated tokens start in `input_ids`; `eos_ids` end the sequence once the
    answer is complete (and only then)."""

    def __init__(self, compiled: CompiledConstraint, eos_ids: list[int], prompt_len: int,
                 max_new_tokens: int) -> None:
        self.c, self.eos = compiled, list(eos_ids)
        self.prompt_len, self.max_new = prompt_len, max_new_tokens
        self.rows: list[tuple[int, int]] = []  # per row: (tokens consumed, automaton state)
        self._masks: dict[tuple[int, int], torch.Tensor] = {}

    def _state(self, row: int, generated: list[int]) -> int:
        while len(self.rows) <= row:
            self.rows.append((0, self.c.grammar.root))
        seen, node = self.rows[row]
        for tok in generated[seen:]:
            if node == DONE:
                break  # padding after the end of a finished row
            nxt = self.c.grammar.walk(node, self.c.vocab.strings[tok] or "\x00") if tok not in self.eos else DONE
            if nxt is None:  # cannot happen while this processor masks every step; fail loudly if it does
                raise RuntimeError(f"constrained decoding left its grammar at token {tok}")
            node = nxt
        self.rows[row] = (len(generated), node)
        return node

    def __call__(self, input_ids, scores):
        import torch

        out = torch.full_like(scores, float("-inf"))
        for row in range(input_ids.shape[0]):
            generated = input_ids[row, self.prompt_len:].tolist()
            node = self._state(row, generated)
            budget = self.max_new - len(generated)
            key = (node, min(budget, self.c.longest))  # few distinct masks
            idx = self._masks.get(key)
            if idx is None:
                ids = self.eos if node == DONE else self.c.allowed(node, key[1])
                idx = self._masks[key] = torch.as_tensor(np.asarray(ids, dtype=np.int64), device=scores.device)
            out[row, idx] = scores[row, idx]
        return out
