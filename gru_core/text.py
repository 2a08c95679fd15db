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

from .i18n import _

TOKENIZER_VERSION = "words-apostrophes-v1"
PAD_ID = 0
UNK_ID = 1
# keras.datasets.imdb's conventions (start_char, oov_char, index_from)
KERAS_START_ID, KERAS_OOV_ID, KERAS_INDEX_FROM = 1, 2, 3

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
    """Word <-> id map. Ours: 0 is padding, 1 is unknown, then words by frequency from id 2.

    A Keras model's vocabulary (``keras_imdb``) follows ``keras.datasets.imdb``: 0 padding,
    1 the start mark, 2 unknown, 3 unused, then word rank + ``index_from`` (rank 1 is the
    most frequent word, so with index_from 3 words start at id 4); ids of ``num_words`` and
    more read as unknown, which is why only the words below ``num_words`` are kept. Words are
    split by this module's tokenizer either way. ``first_id`` is the first word id; ``words[i]``
    has id ``first_id + i`` (None: no word has that id).
    """

    def __init__(self, words: Sequence[str | None], unk_id: int = UNK_ID, first_id: int = 2,
                 start_id: int | None = None):
        self.words = list(words)
        self.unk_id, self.first_id, self.start_id = unk_id, first_id, start_id
        self._ids = {w: i + first_id for i, w in enumerate(self.words) if w is not None}
        if len(self._ids) != sum(w is not None for w in self.words):
            raise ValueError(_("vocabulary words must be unique"))
        reserved = {PAD_ID, unk_id} | ({start_id} if start_id is not None else set())
        if max(reserved) >= first_id or len(reserved) != 2 + (start_id is not None):
            raise ValueError(_("padding, unknown (and start) ids must differ and come before the first word id"))

    def __len__(self) -> int:
        return len(self.words) + self.first_id

    @property
    def n_words(self) -> int:
        """How many words have an id of their own (not padding, start, unknown)."""
        return len(self._ids)

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], size: int) -> Vocab:
        """The ``size - 2`` most frequent words (ties broken alphabetically)."""
        if size < 3:
            raise ValueError("vocab size must be at least 3 (pad, unknown, one word)")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls([w for w, _count in ranked[: size - 2]])

    @classmethod
    def keras_imdb(cls, word_index: dict[str, int], num_words: int, index_from: int = KERAS_INDEX_FROM,
                   size: int | None = None) -> Vocab:
        """The ids ``keras.datasets.imdb.load_data(num_words=..., index_from=...)`` gives, from its word
        index (word -> rank, 1 = most frequent; ``imdb.get_word_index()``). ``size``: the embedding's
        rows (default ``num_words``; rows from ``num_words`` on are never read). ValueError on a bad index."""
        first = index_from + 1  # rank 1's id
        size = num_words if size is None else size
        if index_from < KERAS_OOV_ID or num_words <= first or size < num_words:
            raise ValueError(_("need index_from >= {oov}, num_words > index_from + 1 and at least num_words embedding "
                               "rows").format(oov=KERAS_OOV_ID))
        words: list[str | None] = [None] * (size - first)
        for word, rank in word_index.items():
            if not isinstance(word, str) or not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
                raise ValueError(_("the word index maps words to ranks 1, 2, ...: not {word}: {rank}").format(
                    word=repr(word), rank=repr(rank)))
            i = rank - 1
            if i < num_words - first:
                if words[i] is not None:
                    raise ValueError(_("the word index gives rank {rank} to both {first} and {second}").format(
                        rank=rank, first=repr(words[i]), second=repr(word)))
                words[i] = word
        return cls(words, unk_id=KERAS_OOV_ID, first_id=first, start_id=KERAS_START_ID)

    def id(self, word: str) -> int:
        return self._ids.get(word, self.unk_id)

    def word(self, idx: int) -> str:
        if idx == PAD_ID:
            return "<pad>"
        if idx == self.unk_id:
            return "<unk>"
        if idx == self.start_id:
            return "<start>"
        w = self.words[idx - self.first_id] if self.first_id <= idx < len(self) else None
        return w if w is not None else f"<id {idx}>"

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self._ids.get(t, self.unk_id) for t in tokens]

    def to_json(self) -> dict:
        out = {"pad_id": PAD_ID, "unk_id": self.unk_id, "words": self.words}
        if (self.unk_id, self.first_id, self.start_id) != (UNK_ID, 2, None):
            out |= {"first_id": self.first_id, "start_id": self.start_id, "convention": "keras.datasets.imdb"}
        return out

    @classmethod
    def from_json(cls, data: dict) -> Vocab:
        if not isinstance(data, dict) or data.get("pad_id") != PAD_ID:
            raise ValueError(_("vocab.json uses a different padding id"))
        words = data.get("words")
        if not isinstance(words, list) or not all(w is None or isinstance(w, str) for w in words):
            raise ValueError(_("vocab.json must hold a list of words"))
        if "first_id" not in data:
            if data.get("unk_id") != UNK_ID or None in words:
                raise ValueError(_("vocab.json uses different pad/unknown ids"))
            return cls(words)
        ids = [data.get(k) for k in ("unk_id", "first_id", "start_id")]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in ids[:2]) or not (
                ids[2] is None or isinstance(ids[2], int) and not isinstance(ids[2], bool)):
            raise ValueError(_("vocab.json's unk_id, first_id and start_id must be integers"))
        return cls(words, *ids)


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
