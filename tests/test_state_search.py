"""State search (gru_core/analysis/state_search.py): a planted pattern is found first, the two ranking measures by
hand, stretches never cross reviews, the bit tricks against brute force, the builder against the trace, and the
background job that builds it (gru_core/jobs/background.py)."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch

from gru_core.analysis.state_search import (
    MAX_LENGTH,
    StateIndex,
    _pack,
    _popcount,
    build_state_index,
    level,
    on_units,
    per_word,
    quantise,
    window_and,
)
from gru_core.data import Split
from gru_core.jobs.background import BackgroundJob, JobShelf
from gru_core.text import tokenize

from .tiny import random_review, tiny_model

H = 12


def index_of(reviews: list[np.ndarray], ids: list[np.ndarray] | None = None) -> StateIndex:
    """An index over hand-set float states [T, H] per review (quantised as the builder does)."""
    lengths = [len(r) for r in reviews]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = ids or [np.arange(2, 2 + n) for n in lengths]
    n = len(reviews)
    return StateIndex(quantise(np.concatenate(reviews)), np.concatenate(ids).astype(np.uint16), offsets,
                      np.arange(100, 100 + n, dtype=np.int32), np.linspace(0.1, 0.9, n).astype(np.float32),
                      np.arange(n, dtype=np.int8) % 2, np.full(n, 7, np.int8))


def quiet(t: int, rng: np.random.Generator) -> np.ndarray:
    """States with every unit below 0.3."""
    return rng.uniform(-0.9, 0.25, size=(t, H))


# --- A planted pattern -----------------------------------------------------------------------------------------

def test_a_planted_pattern_is_found_first_with_its_place():
    rng = np.random.default_rng(0)
    reviews = [quiet(20, rng) for _ in range(30)]
    reviews[17][5:8, [2, 5, 7]] = 0.9  # units 2, 5, 7 on at words 5–7 of review 17, nothing else
    reviews[4][10:13, [2, 5]] = 0.8  # a near miss: two of the three
    reviews[9][0:2, [2, 5, 7]] = 0.8  # all three, but over two words only
    index = index_of(reviews)
    for measure in ("jaccard", "lstmvis"):
        result = index.search([2, 5, 7], 3, 0.5, measure)
        best = result.matches[0]
        assert (best.review, best.start, best.length, best.test_index) == (17, 5, 3, 117)
        assert (best.matched, best.extra) == (3, 0)
        assert best.score == (1.0 if measure == "jaccard" else 3.0)
        assert (result.matches[1].review, result.matches[1].matched) == (4, 2)
        assert result.full_matches == 1  # only review 17's stretch holds all three throughout
    assert result.windows == 30 * (20 - 3 + 1)


def test_the_typed_reviews_pattern_and_the_index_agree_on_on():
    h = np.array([[0.5, 0.49, 0.9, -0.2], [0.51, 0.8, 0.5, 0.7], [0.6, 0.9, 0.2, 0.7]])
    assert on_units(h, 0, 2, 0.5).tolist() == [0, 2]  # h ≥ 0.5 at both words: units 0 and 2
    assert on_units(h, 0, 3, 0.5).tolist() == [0]
    assert on_units(h, 1, 3, 0.5).tolist() == [0, 1, 3]
    assert level(0.5) == 64 and quantise(np.array([0.5, 0.4961, 1.2, -3.0])).tolist() == [64, 63, 127, -127]
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(6, 50))
    x[np.abs(x - 0.3) < 0.005] = 0.0  # away from the threshold, the int8 decision is the float one
    assert on_units(x, 1, 4, 0.3).tolist() == np.flatnonzero((x[1:4] >= 0.3).all(0)).tolist()
    with pytest.raises(ValueError):
        on_units(h, 2, 2, 0.5)
    with pytest.raises(ValueError):
        level(1.5)


# --- The ranking, by hand ----------------------------------------------------------------------------------------

def test_ranking_measures_by_hand():
    """Four one-word reviews with known on-sets S, pattern P = {0, 1, 2}:

    review  S            |S∩P| |S\\P| |S∪P|  Jaccard  LSTMVis (matching − extra)
      0     {0, 1}         2     0     3     0.667       2
      1     {0, 1, 2, 3, 4, 5}  3  3   6     0.5         0
      2     {0, 1, 2, 3}   3     1     4     0.75        2
      3     {5, 6}         0     2     5     0.0        −2
    Jaccard: 2, 0, 1, 3. LSTMVis: 0 and 2 tie at 2, broken by more matching units (2 has 3): 2, 0, 1, 3.
    """
    sets = [{0, 1}, {0, 1, 2, 3, 4, 5}, {0, 1, 2, 3}, {5, 6}]
    reviews = []
    for s in sets:
        r = np.full((1, H), -0.5)
        r[0, sorted(s)] = 0.9
        reviews.append(r)
    index = index_of(reviews)
    jac = index.search([0, 1, 2], 1, 0.5, "jaccard")
    assert [m.review for m in jac.matches] == [2, 0, 1, 3]
    assert [m.score for m in jac.matches] == pytest.approx([0.75, 2 / 3, 0.5, 0.0])
    assert [(m.matched, m.extra) for m in jac.matches] == [(3, 1), (2, 0), (3, 3), (0, 2)]
    lst = index.search([0, 1, 2], 1, 0.5, "lstmvis")
    assert [m.review for m in lst.matches] == [2, 0, 1, 3]
    assert [m.score for m in lst.matches] == [2, 2, 0, -2]
    assert [(m.matched, m.extra) for m in lst.matches] == [(3, 1), (2, 0), (3, 3), (0, 2)]
    assert len(index.search([0, 1, 2], 1, 0.5, top=2).matches) == 2


def test_one_match_per_review_at_its_best_stretch_and_ties_to_the_earlier_review():
    rng = np.random.default_rng(1)
    a, b, c = quiet(12, rng), quiet(12, rng), quiet(12, rng)
    a[2:4, [1, 3]] = 0.9
    a[8:10, [1, 3]] = 0.9  # the same stretch twice in one review: one match, the first
    c[6:8, [1, 3]] = 0.9
    result = index_of([a, b, c]).search([1, 3], 2, 0.5)
    assert [(m.review, m.start) for m in result.matches[:2]] == [(0, 2), (2, 6)]
    assert len({m.review for m in result.matches}) == len(result.matches) == 3


def test_a_stretch_never_crosses_two_reviews():
    rng = np.random.default_rng(2)
    first, second = quiet(6, rng), quiet(6, rng)
    first[4:, [0, 1]] = 0.9  # the last two words of one review ...
    second[:2, [0, 1]] = 0.9  # ... and the first two of the next: on over four words in the flat array
    index = index_of([first, second])
    result = index.search([0, 1], 4, 0.5)
    assert result.full_matches == 0 and all(m.matched < 2 for m in result.matches)
    assert result.windows == 2 * 3
    assert index.search([0, 1], 7, 0.5).matches == []  # longer than any review
    both = index.search([0, 1], 2, 0.5)
    assert (both.full_matches, both.followed) == (2, 1)  # the first review's stretch is its last two words


def test_the_words_that_follow_a_match():
    rng = np.random.default_rng(4)
    reviews, ids = [], []
    for r in range(10):
        states = quiet(10, rng)
        words = rng.integers(2, 40, size=10)
        if r < 6:  # the pattern at words 3–4, followed by word 77 four times and word 88 twice
            states[3:5, [4, 9]] = 0.9
            words[5] = 77 if r < 4 else 88
        reviews.append(states)
        ids.append(words)
    result = index_of(reviews, ids).search([4, 9], 2, 0.5)
    assert result.full_matches == result.followed == 6
    (w1, n1, share1, base1), (w2, n2, *_) = result.following[:2]
    assert (w1, n1, w2, n2) == (77, 4, 88, 2)
    assert share1 == pytest.approx(4 / 6) and base1 == pytest.approx(4 / 100)


def test_bad_searches_are_refused():
    index = index_of([np.zeros((5, H))])
    for units, length, measure in [([], 2, "jaccard"), ([H], 2, "jaccard"), ([0], 0, "jaccard"),
                                   ([0], MAX_LENGTH + 1, "jaccard"), ([0], 2, "cosine")]:
        with pytest.raises(ValueError):
            index.search(units, length, 0.5, measure)
    with pytest.raises(ValueError):
        StateIndex(np.zeros((3, H), np.int8), np.zeros(3, np.uint16), np.array([0, 3, 3]), np.zeros(2, np.int32),
                   np.zeros(2, np.float32), np.zeros(2, np.int8), np.zeros(2, np.int8))  # an empty review


# --- The bit tricks against brute force ----------------------------------------------------------------------------

@pytest.mark.parametrize("units", [1, 12, 64, 65, 100, 130])
def test_window_and_against_brute_force(units):
    rng = np.random.default_rng(units)
    bits = rng.random((90, units)) < 0.85
    index = index_of([np.where(bits, 0.9, -0.9)]) if units == H else None
    packed = _pack(bits)
    for length in range(1, 41):
        got = window_and(packed, length)
        want = np.stack([bits[t:t + length].all(0) for t in range(90 - length + 1)])
        assert np.array_equal(got, _pack(want)), length
        assert _popcount(got).tolist() == want.sum(1).tolist()
    if index is not None:  # and the search's Jaccard over every window, by brute force
        p = np.zeros(units, bool)
        p[[1, 4, 6]] = True
        result = index.search([1, 4, 6], 5, 0.5, top=1)
        on = np.stack([bits[t:t + 5].all(0) for t in range(86)])
        jac = (on & p).sum(1) / (on | p).sum(1)
        assert result.matches[0].score == pytest.approx(jac.max(), abs=1e-6)
        assert result.matches[0].start == int(np.argmax(jac))


# --- The builder, on a tiny model ---------------------------------------------------------------------------------

def tiny_split(n: int = 40, seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    texts = [random_review(rng, int(rng.integers(3, 30))) for _ in range(n)]
    return Split(texts, np.arange(n) % 2, np.array([1, 4, 7, 10] * (n // 4)), [f"test/x/{i}_1" for i in range(n)],
                 [tokenize(t) for t in texts])


def test_build_holds_the_traced_states_of_a_seeded_sample_within_the_budget():
    model, split = tiny_model("lstm", maxlen=20), tiny_split()
    seen = []
    budget = 150 * per_word(5)  # room for about 150 words read, of some 340
    index = build_state_index(model, split, budget=budget, progress=lambda d, t: seen.append((d, t)))
    assert index.nbytes <= budget and index.words <= 150 and 3 <= len(index) < len(split)
    assert seen[-1] == (len(index), len(index))
    again = build_state_index(model, split, budget=budget)
    assert index.test_index.tolist() == again.test_index.tolist()  # seeded
    assert build_state_index(model, split, budget=budget, seed=1).test_index.tolist() != index.test_index.tolist()
    for r, i in enumerate(index.test_index):
        trace = model.trace(split.texts[i])
        rows = index.states[index.offsets[r]:index.offsets[r + 1]]
        assert np.array_equal(rows, quantise(trace.hidden))
        assert index.ids[index.offsets[r]:index.offsets[r + 1]].tolist() == trace.ids.tolist()
        assert index.proba[r] == pytest.approx(trace.proba, abs=1e-6)
        assert (index.labels[r], index.ratings[r]) == (split.labels[i], split.ratings[i])
    # The typed review's own stretch is found as a perfect match when it is in the index.
    r, i = 2, int(index.test_index[2])
    trace = model.trace(split.texts[i])
    thr = float(trace.hidden[:2].min(0).max()) - 0.01  # at least one unit on across the first two words
    units = on_units(trace.hidden, 0, 2, thr)
    assert len(units)
    top = index.search(units, 2, thr).matches
    assert any(m.review == r and m.start == 0 and m.score == 1.0 for m in top)


def test_build_can_be_stopped_and_needs_reviews():
    model = tiny_model("gru", maxlen=20)
    with pytest.raises(RuntimeError):
        build_state_index(model, tiny_split(), stop=lambda: True)
    empty = Split(["!!"], np.array([1]), np.array([8]), ["test/pos/0_8"], [[]])
    with pytest.raises(ValueError):
        build_state_index(model, empty)


# --- The background job -------------------------------------------------------------------------------------------

def test_the_job_runs_at_a_lower_priority_on_one_torch_thread_and_leaves_the_server_alone():
    main_threads = torch.get_num_threads()
    seen = {}

    def work(progress, stop):
        tid = threading.get_native_id()
        seen.update(nice=os.getpriority(os.PRIO_PROCESS, tid), threads=torch.get_num_threads())
        progress(3, 4)
        return "built"

    job = BackgroundJob(work, name="t")
    assert job.wait(30) and job.ready and job.result == "built" and job.fraction == 0.75
    assert seen["threads"] == 1 and torch.get_num_threads() == main_threads
    assert seen["nice"] >= min(os.getpriority(os.PRIO_PROCESS, 0) + 10, 19)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == os.getpriority(os.PRIO_PROCESS, 0)


def test_a_failing_or_cancelled_job_reports_a_message():
    job = BackgroundJob(lambda progress, stop: 1 / 0)
    job.wait(30)
    assert not job.ready and job.error.startswith("ZeroDivisionError")
    gate = threading.Event()

    def slow(progress, stop):
        while not stop():
            gate.wait(0.01)
        raise RuntimeError("stopped early")

    job = BackgroundJob(slow)
    job.cancel()
    assert job.wait(30) and job.error == "stopped"


def test_the_shelf_is_bounded_and_never_stops_a_build_someone_waits_for():
    release = threading.Event()
    started = []

    def starter(name, block=True):
        def start():
            started.append(name)
            return BackgroundJob(lambda progress, stop: release.wait(30) if block else name, name=name)
        return start

    shelf = JobShelf(2)
    a = shelf.get("a", starter("a"))
    b = shelf.get("b", starter("b"))
    assert shelf.get("c", starter("c")) is None  # both places are building: c waits
    assert shelf.get("a", starter("a2")) is a  # the same job, not a new one
    release.set()
    a.wait(30)
    b.wait(30)
    c = shelf.get("c", starter("c", block=False))  # takes the least recently used finished place: b's
    assert c is not None and shelf.get("a", starter("a3")) is a
    assert shelf.get("b", starter("b2", block=False)) is not b  # b was dropped and starts again
    assert started == ["a", "b", "c", "b2"]
    failed = JobShelf(1)
    job = failed.get("x", lambda: BackgroundJob(lambda p, s: 1 / 0))
    job.wait(30)
    assert failed.get("x", starter("x2", block=False)) is not job  # a failed job is tried again
    with pytest.raises(ValueError):
        JobShelf(0)
