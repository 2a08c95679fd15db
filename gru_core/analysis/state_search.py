"""State search (LSTMVis's match view, Strobelt et al. 2017): where else in the test set the network was in the
same state as over a stretch of the typed review.

A *pattern* is a set of hidden units; a unit is *on* over a stretch of words when its hidden value h is at or
above a threshold at every word of it. ``StateIndex`` holds the hidden states of test reviews and, for a
pattern P of a given length, scores every stretch of that many words of every review by how well the set S of
units on across it matches P, either by the Jaccard index |S ∩ P| / |S ∪ P| (1 when S = P) or by LSTMVis's
measure, matching units minus extra units |S ∩ P| − |S \\ P|. Each review's best stretch is its match.

States are stored as int8 (h·127 rounded; h lies in (−1, 1)), so "at or above the threshold" is decided at
that precision (half a step, 1/254 ≈ 0.004) for the typed review and the index alike (``on_units``).
A search packs the on/off bits of every word for the threshold (cached for the last one), ANDs them over the
window in log₂(length) doublings, and counts bits: all in NumPy, in chunks, so it allocates little.

``build_state_index`` fills an index from a model and the test split within a memory budget: a seeded random
sample of reviews, as many as fit.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from ..data import Split
from ..i18n import N_
from ..predictor import SentimentModel
from ..trace import hidden_batches

SCALE = 127  # h -> int8
MEASURES = {"jaccard": N_("Jaccard index |S ∩ P| / |S ∪ P|"),  # N_() constants: show them with _()
            "lstmvis": N_("matching − extra units |S ∩ P| − |S \\ P|")}
MAX_LENGTH = 30  # words in a stretch
CONTEXT = 8  # words shown either side of a match
TOP = 10
BUDGET_BYTES = 100 * 2**20  # one index: states, word ids, bookkeeping and the cached bit mask
CHUNK = 1 << 17  # words scored at a time (bounds a search's temporary arrays)

Progress = Callable[[int, int], None]  # (reviews done, reviews in all)
T = TypeVar("T")


def quantise(hidden: np.ndarray) -> np.ndarray:
    """int8 states: round(h·127), clipped to ±127."""
    return np.clip(np.rint(np.asarray(hidden, np.float32) * SCALE), -SCALE, SCALE).astype(np.int8)


def level(threshold: float) -> int:
    """The int8 level at or above which a quantised unit is on: the smallest q with q/127 ≥ threshold."""
    if not -1.0 <= threshold <= 1.0:
        raise ValueError("the threshold must lie in [-1, 1]")
    return int(np.ceil(threshold * SCALE - 1e-9))


def on_units(hidden: np.ndarray, start: int, stop: int, threshold: float) -> np.ndarray:
    """The units whose hidden value is at or above ``threshold`` at every word of ``hidden[start:stop]`` ([T, H]),
    decided on the int8 states as the index decides it."""
    if not 0 <= start < stop <= len(hidden):
        raise ValueError("the stretch must hold at least one word of the review")
    return np.flatnonzero((quantise(hidden[start:stop]) >= level(threshold)).all(0))


def _pack(bits: np.ndarray) -> np.ndarray:
    """[..., H] booleans -> [..., W] uint64 (bit u of the row is unit u)."""
    packed = np.packbits(bits, axis=-1, bitorder="little")
    width = -(-packed.shape[-1] // 8) * 8
    if width != packed.shape[-1]:
        pad = [(0, 0)] * (packed.ndim - 1) + [(0, width - packed.shape[-1])]
        packed = np.pad(packed, pad)
    return np.ascontiguousarray(packed).view(np.uint64)


def window_and(bits: np.ndarray, length: int) -> np.ndarray:
    """[n, W] -> [n − length + 1, W]: row t is the AND of rows t … t + length − 1 (doubling: AND is idempotent,
    so two overlapping windows of the largest power of two ≤ length cover one of ``length``)."""
    if not 1 <= length <= len(bits):
        raise ValueError("the window must fit in the rows")
    cur, span = bits, 1
    while span * 2 <= length:
        cur = cur[:-span] & cur[span:]
        span *= 2
    shift = length - span
    return cur if shift == 0 else cur[:len(cur) - shift] & cur[shift:]


def _popcount(words: np.ndarray) -> np.ndarray:
    return np.bitwise_count(words).sum(-1, dtype=np.int32)


@dataclass(frozen=True)
class Match:
    """One review's best stretch."""

    review: int  # position in the index
    test_index: int  # position in the test split
    start: int  # first word of the stretch, among the words the model read
    length: int
    score: float
    matched: int  # |S ∩ P|
    extra: int  # |S \ P|
    proba: float  # the model's P(positive) for the whole review
    label: int
    rating: int


@dataclass
class SearchResult:
    matches: list[Match]
    windows: int  # stretches scored
    reviews: int  # reviews holding at least one stretch of this length
    full_matches: int  # stretches with every pattern unit on throughout
    followed: int  # ... of them with a word after them in their review
    following: list[tuple[int, int, float, float]]  # (word id, count, share of those followed, share of all words)
    seconds: float


@dataclass
class StateIndex:
    """Hidden states of many reviews, word after word: ``states`` [S, H] int8 for all S words read, one review
    after another (review r is rows ``offsets[r]:offsets[r + 1]``), with each word's vocabulary id."""

    states: np.ndarray
    ids: np.ndarray
    offsets: np.ndarray
    test_index: np.ndarray  # [R] each review's position in the test split
    proba: np.ndarray  # [R]
    labels: np.ndarray  # [R]
    ratings: np.ndarray  # [R]
    _mask: tuple[int, np.ndarray] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        s, r = len(self.states), len(self.test_index)
        if (self.states.ndim != 2 or self.states.dtype != np.int8 or self.ids.shape != (s,)
                or self.offsets.shape != (r + 1,) or self.offsets[0] != 0 or self.offsets[-1] != s
                or np.any(np.diff(self.offsets) < 1) or not (len(self.proba) == len(self.labels) == len(self.ratings) == r)):
            raise ValueError("inconsistent state index: every review needs at least one word and all arrays must agree")
        remaining = np.repeat(self.offsets[1:], np.diff(self.offsets)) - np.arange(s)  # words left in the review
        self.remaining = remaining.astype(np.uint16 if remaining.max(initial=0) < 2**16 else np.int64)

    @property
    def units(self) -> int:
        return self.states.shape[1]

    def __len__(self) -> int:
        return len(self.test_index)

    @property
    def words(self) -> int:
        return len(self.states)

    @property
    def nbytes(self) -> int:
        """Memory held: the arrays, and the bit mask of the last threshold searched."""
        arrays = (self.states, self.ids, self.offsets, self.test_index, self.proba, self.labels, self.ratings,
                  self.remaining)
        return sum(a.nbytes for a in arrays) + (self._mask[1].nbytes if self._mask else 0)

    def _bits(self, lvl: int) -> np.ndarray:
        """[S, W] packed on-bits at level ``lvl`` (kept for the last level: moving units or the stretch is cheap)."""
        with self._lock:
            if self._mask is None or self._mask[0] != lvl:
                self._mask = None  # free the old one first
                parts = [_pack(self.states[a:a + CHUNK] >= lvl) for a in range(0, self.words, CHUNK)]
                self._mask = (lvl, np.concatenate(parts) if parts else np.zeros((0, 1), np.uint64))
            return self._mask[1]

    def search(self, units: Sequence[int], length: int, threshold: float, measure: str = "jaccard",
               top: int = TOP) -> SearchResult:
        """The ``top`` reviews whose best stretch of ``length`` words matches pattern ``units`` best, by
        ``measure`` ("jaccard" or "lstmvis"); ties go to more matching units, then to the earlier review of the
        index (a random sample, so effectively a random one). Also: how many stretches hold every pattern unit
        on throughout, and the words that most often follow those."""
        t0 = time.perf_counter()
        units = sorted({int(u) for u in units})
        if not units:
            raise ValueError("the pattern needs at least one unit")
        if units[0] < 0 or units[-1] >= self.units:
            raise ValueError(f"units must lie in 0…{self.units - 1}")
        if not 1 <= length <= MAX_LENGTH:
            raise ValueError(f"a stretch holds 1 to {MAX_LENGTH} words")
        if measure not in MEASURES:
            raise ValueError(f"measure must be one of {', '.join(MEASURES)}")
        pattern = np.zeros(self.units, bool)
        pattern[units] = True
        p_bits, p_size = _pack(pattern), len(units)
        bits = self._bits(level(threshold))
        n = self.words
        score = np.full(n, -np.inf, np.float32)
        matched = np.zeros(n, np.int16)
        full_next: list[np.ndarray] = []
        full = 0
        for a in range(0, max(n - length + 1, 0), CHUNK):
            b = min(a + CHUNK, n - length + 1)
            win = window_and(bits[a:b + length - 1], length)  # [b − a, W]: units on across each stretch
            inter = _popcount(win & p_bits)
            on = _popcount(win)
            valid = self.remaining[a:b] >= length
            s = inter / (on + p_size - inter) if measure == "jaccard" else (2 * inter - on).astype(np.float64)
            score[a:b] = np.where(valid, s, -np.inf)
            matched[a:b] = inter
            whole = valid & (inter == p_size)
            full += int(whole.sum())
            followed = np.flatnonzero(whole & (self.remaining[a:b] > length)) + a
            full_next.append(self.ids[followed + length])  # the word right after each full match
        best = np.maximum.reduceat(score, self.offsets[:-1]) if n else np.zeros(0, np.float32)
        has = np.flatnonzero(np.isfinite(best))
        matches = []
        for r in self._ranked(has, best, score, matched, top):
            lo, hi = int(self.offsets[r]), int(self.offsets[r + 1])
            seg = score[lo:hi]
            cand = np.flatnonzero(seg == best[r])
            t = int(cand[np.argmax(matched[lo:hi][cand])])  # the earliest of the best with most matching units
            inter = int(matched[lo + t])
            s = float(best[r])
            extra = round(inter - s) if measure == "lstmvis" else self._extra(bits, lo + t, length, p_bits)
            matches.append(Match(int(r), int(self.test_index[r]), t, length, s, inter, extra,
                                 float(self.proba[r]), int(self.labels[r]), int(self.ratings[r])))
        nxt = np.concatenate(full_next) if full_next else np.zeros(0, self.ids.dtype)
        return SearchResult(matches, int(np.isfinite(score).sum()), len(has), full, len(nxt),
                            self._following(nxt), time.perf_counter() - t0)

    def _ranked(self, has: np.ndarray, best: np.ndarray, score: np.ndarray, matched: np.ndarray,
                top: int) -> list[int]:
        """Reviews by best score, then by the matching units of their best stretch, then by index order."""
        if not len(has):
            return []
        # The top scores first (a partition), then the exact order among the few at or above the cut-off.
        k = min(top, len(has))
        cut = np.partition(best[has], len(has) - k)[len(has) - k]
        pool = has[best[has] >= cut]
        most = [int(matched[self.offsets[r]:self.offsets[r + 1]][score[self.offsets[r]:self.offsets[r + 1]]
                               == best[r]].max()) for r in pool]
        order = sorted(range(len(pool)), key=lambda i: (-best[pool[i]], -most[i], pool[i]))
        return [int(pool[i]) for i in order[:top]]

    @staticmethod
    def _extra(bits: np.ndarray, t: int, length: int, p_bits: np.ndarray) -> int:
        """|S \\ P| of the stretch of ``length`` words from global word ``t``."""
        on = np.bitwise_and.reduce(bits[t:t + length], axis=0)
        return int(_popcount(on & ~p_bits))

    def _following(self, nxt: np.ndarray, top: int = TOP) -> list[tuple[int, int, float, float]]:
        if not len(nxt):
            return []
        size = int(max(nxt.max(), self.ids.max())) + 1
        counts = np.bincount(nxt, minlength=size)
        base = np.bincount(self.ids, minlength=size)
        order = np.argsort(-counts, kind="stable")[:top]
        return [(int(w), int(counts[w]), counts[w] / len(nxt), base[w] / self.words) for w in order if counts[w]]

    def context(self, match: Match, words: Sequence[T], context: int = CONTEXT) -> tuple[list[T], list[T], list[T]]:
        """(the ``context`` words before, the stretch, the ``context`` words after) of a match, given the words the
        model read of that review (``words``, one per state row: strings, or tokens with their spans)."""
        n = int(self.offsets[match.review + 1] - self.offsets[match.review])
        if len(words) != n:
            raise ValueError(f"the review has {n} words read in the index, not {len(words)}")
        a, b = match.start, match.start + match.length
        return list(words[max(0, a - context):a]), list(words[a:b]), list(words[b:b + context])


PER_REVIEW = 8 + 4 + 4 + 1 + 1  # bytes per review: offset, test index, P(positive), label, rating


def per_word(units: int) -> int:
    """Bytes per word read: int8 states, a word id (≤ 4), words remaining in the review, the packed bit mask."""
    return units + 4 + 2 + 8 * -(-units // 64)


def sample_reviews(split: Split, lengths: Sequence[int], units: int, budget: int = BUDGET_BYTES,
                   seed: int = 0) -> list[int]:
    """A seeded random sample of the split's reviews (positions into ``lengths``, the words each reads), as many
    as fit in ``budget`` bytes of index, in the random order drawn."""
    order = np.random.default_rng(seed).permutation(len(lengths))
    used, out = 0, []
    for i in order:
        cost = int(lengths[i]) * per_word(units) + PER_REVIEW
        if used + cost > budget:
            break
        used += cost
        out.append(int(i))
    return out


def build_state_index(model: SentimentModel, split: Split, budget: int = BUDGET_BYTES, seed: int = 0,
                      batch_size: int = 32, progress: Progress | None = None,
                      stop: Callable[[], bool] | None = None) -> StateIndex:
    """The hidden states of a seeded random sample of the split's reviews through ``model`` (its own encoding, the
    native pass whose states the Explorer's trace shows), within ``budget`` bytes. ``progress(done, total)`` after each batch;
    ``stop()`` ends the build early with a RuntimeError."""
    keep = [i for i, toks in enumerate(split.tokens) if toks]
    if not keep:
        raise ValueError("the split holds no review with words")
    # Words read per review, without encoding them all: the model reads at most its last maxlen words.
    lengths = [min(len(split.tokens[i]), model.maxlen) for i in keep]
    h = model.module.rnn.hidden_size
    chosen = [keep[j] for j in sample_reviews(split, lengths, h, budget, seed)]
    seqs = [model.encode(split.texts[i])[1] for i in chosen]  # the model's own encoding
    # Its own encoding may read more words than the estimate (another tokenizer): keep the sample in the budget.
    cut = int(np.searchsorted(np.cumsum([len(s) * per_word(h) + PER_REVIEW for s in seqs]), budget, side="right"))
    chosen, seqs = chosen[:cut], seqs[:cut]
    if not seqs:
        raise ValueError("not one review fits in the memory budget")
    n_words = sum(len(s) for s in seqs)
    offsets = np.zeros(len(seqs) + 1, np.int64)
    offsets[1:] = np.cumsum([len(s) for s in seqs])
    states = np.empty((n_words, h), np.int8)
    proba = np.empty(len(seqs), np.float32)
    done = 0
    for idx, hidden, p in hidden_batches(model.module, seqs, batch_size):
        if stop and stop():
            raise RuntimeError("the build was stopped")
        for i, h, p_i in zip(idx, hidden, p):
            states[offsets[i]:offsets[i + 1]] = quantise(h)
            proba[i] = p_i
        done += len(idx)
        if progress:
            progress(done, len(seqs))
    ids = np.concatenate(seqs)
    ids = ids.astype(np.uint16 if ids.max() < 2**16 else np.int32)
    return StateIndex(states, ids, offsets, np.asarray(chosen, np.int32), proba,
                      split.labels[chosen].astype(np.int8), split.ratings[chosen].astype(np.int8))
