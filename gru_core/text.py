"""One tokenizer for training data and typed text, the vocabulary, padding, and batching by length.

Tokens are lower-cased words that keep their inner apostrophes (``don't`` is one
token: negation matters). HTML line breaks (``<br />`` in IMDB reviews) are
treated as spaces. Each token keeps its character span in the original text so
the UI can show the user's own words.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

TOKENIZER_VERSION = "words-apostrophes-v1"
PAD_ID = 0
UNK_ID = 1

# A word: letters/digits (any script), optionally joined by straight or curly
# apostrophes.  Underscores are not words.
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_BREAK = re.compile(r"<br\s*/?\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Token:
    text: str  # normalised form used for the vocabulary
    start: int  # character offsets into the original text
    end: int


def tokenize_with_spans(text: str) -> list[Token]:
    """Split ``text`` into normalised word tokens with their character spans."""
    # Blank out <br /> with spaces of equal length so offsets stay valid.
    cleaned = _BREAK.sub(lambda m: " " * len(m.group()), text)
    return [Token(_normalise(m.group()), m.start(), m.end()) for m in _WORD.finditer(cleaned)]


def tokenize(text: str) -> list[str]:
    """Normalised word tokens of ``text``: the texts of :func:`tokenize_with_spans`.

    A faster path (no span objects) for bulk tokenising the dataset; the same
    regular expressions and normalisation, so the two always agree (tested).
    """
    return [_normalise(w) for w in _WORD.findall(_BREAK.sub(" ", text))]


def _normalise(word: str) -> str:
    return word.lower().replace("\u2019", "'")


class Vocab:
    """Word <-> id map: 0 is padding, 1 is unknown, then words by frequency."""

    def __init__(self, words: Sequence[str]):
        self.words = list(words)
        self._ids = {w: i + 2 for i, w in enumerate(self.words)}
        if len(self._ids) != len(self.words):
            raise ValueError("vocabulary words must be unique")

    def __len__(self) -> int:
        return len(self.words) + 2

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], size: int) -> Vocab:
        """The ``size - 2`` most frequent words (ties broken alphabetically)."""
        if size < 3:
            raise ValueError("vocab size must be at least 3 (pad, unknown, one word)")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls([w for w, _ in ranked[: size - 2]])

    def id(self, word: str) -> int:
        return self._ids.get(word, UNK_ID)

    def word(self, idx: int) -> str:
        if idx == PAD_ID:
            return "<pad>"
        if idx == UNK_ID:
            return "<unk>"
        return self.words[idx - 2]

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self._ids.get(t, UNK_ID) for t in tokens]

    def to_json(self) -> dict:
        return {"pad_id": PAD_ID, "unk_id": UNK_ID, "words": self.words}

    @classmethod
    def from_json(cls, data: dict) -> Vocab:
        if not isinstance(data, dict) or data.get("pad_id") != PAD_ID or data.get("unk_id") != UNK_ID:
            raise ValueError("vocab.json uses different pad/unknown ids")
        words = data.get("words")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError("vocab.json must hold a list of words")
        return cls(words)


def pad_sequences(seqs: Sequence[Sequence[int]], maxlen: int, value: int = PAD_ID) -> np.ndarray:
    """Keras ``pad_sequences`` defaults: pad and truncate at the front.

    Truncating at the front keeps the last ``maxlen`` ids of each sequence.
    """
    out = np.full((len(seqs), maxlen), value, dtype=np.int64)
    for i, s in enumerate(seqs):
        s = list(s)[-maxlen:] if maxlen else []
        if s:
            out[i, maxlen - len(s):] = s
    return out


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None,
                   pool: int = 50) -> list[np.ndarray]:
    """Batches of similar-length reviews, in random order ("sortish" sampling).

    Shuffle, sort within pools of ``pool`` batches by length, cut, shuffle the
    batches. With ``rng=None`` the order is deterministic (sorted by length).
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i:i + batch_size] for i in range(0, n, batch_size)]
    order = rng.permutation(n)
    chunk = batch_size * pool
    batches = []
    for i in range(0, n, chunk):
        part = order[i:i + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[j:j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches
