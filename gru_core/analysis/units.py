"""The unit atlas: what each hidden unit does across the whole IMDB test set.

One pass of the native path (``trace.trace_ids``, batches grouped by length)
over every test review gathers, per unit: the final hidden value (its Pearson
correlation with the true label, a one-unit classifier), the mean and spread
of h and of each sigmoid gate over every word read, gate saturation (the
comparison page's definition, ``stats.saturation_fractions``), the review
where h peaks highest and lowest (the top-k activating and suppressing
contexts, one per review), and the expected response Δh per word (RNNVis,
Ming et al. 2017): the average of h_t − h_{t−1} over every time word w is
read (from h_0: 0, or the state after the padding for a model that reads it). Units × frequent words are co-clustered on |Δh| with
scikit-learn's SpectralCoclustering (Dhillon 2001).

The result is stored as ``units.json`` next to the model, keyed to
config.json's ``weights_sha256``, so the atlas works without the dataset.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..archs import arch as get_arch
from ..atomic import write_bytes_atomic
from ..data import Split
from ..i18n import _
from ..predictor import SentimentModel
from ..trace import trace_batches
from .ablation import DRAWS, KS, ablation_study, accuracy
from .explain import output_weights
from .stats import SATURATED_HIGH, SATURATED_LOW, ids_digest, saturation_fractions

INDEX_FILE = "units.json"
INDEX_VERSION = 1
CONTEXT_WORDS = 8  # words either side of the step in a context snippet
TOP_K = 10  # contexts per unit and direction
TOP_WORDS = 15  # words per unit and direction
MIN_COUNT = 20  # a word is listed as moving a unit only when read at least this often in the test set
COCLUSTER_WORDS = 500  # the most frequent words, co-clustered with the units
N_CLUSTERS = 8
DIGITS = 5  # decimals kept in the stored index
FIT_REVIEWS = 5000  # training reviews the one-unit thresholds are fitted on (a 1-D fit needs no more)

Progress = Callable[[str], None]


@dataclass
class Reviews:
    """Labelled reviews as the model reads them: the last ``maxlen`` words, reviews with words only."""

    seqs: list[np.ndarray]  # vocabulary ids read
    words: list[list[str]]  # the words read, vocabulary form (lower case)
    labels: np.ndarray  # 1 = positive
    ratings: np.ndarray  # stars
    names: list[str]  # review ids, e.g. "test/pos/123_9"
    index: np.ndarray  # position in the split

    def __len__(self) -> int:
        return len(self.seqs)


def reviews(model: SentimentModel, split: Split) -> Reviews:
    """The split as ``model`` reads it (as ``SentimentModel.encode`` truncates: the last maxlen words)."""
    keep = [i for i, toks in enumerate(split.tokens) if toks]
    words = [split.tokens[i][-model.maxlen:] for i in keep]
    seqs = [np.asarray(model.vocab.encode(w), dtype=np.int64) for w in words]
    return Reviews(seqs, words, split.labels[keep].astype(np.int64), split.ratings[keep].astype(np.int64),
                   [split.ids[i] for i in keep], np.asarray(keep, dtype=np.int64))


@dataclass
class Scan:
    """What one pass over the reviews gathered (arrays over reviews N, units H, vocabulary V)."""

    final_h: np.ndarray  # [N, H] hidden state after each review's last word
    proba: np.ndarray  # [N] the model's P(positive)
    mean: dict[str, np.ndarray]  # "hidden" and each sigmoid gate -> [H] mean over every word read
    std: dict[str, np.ndarray]  # same, standard deviation
    saturation: dict[str, tuple[np.ndarray, np.ndarray]]  # gate -> ([H] left, [H] right) fractions of words
    peak_step: np.ndarray  # [N, H] the word where h is highest in each review
    trough_step: np.ndarray  # [N, H] ... lowest
    peak: np.ndarray  # [N, H] h there
    trough: np.ndarray  # [N, H]
    dh_sum: np.ndarray  # [V, H] sum of h_t − h_{t−1} over the times each word is read
    counts: np.ndarray  # [V] times each word is read
    steps: int  # words read in all


def scan(model: SentimentModel, revs: Reviews, batch_size: int = 256, progress: Progress | None = None) -> Scan:
    """One native pass over ``revs`` (batches of similar length), gathering everything the atlas needs."""
    module = model.module
    h_size, v_size = module.rnn.hidden_size, module.embedding.num_embeddings
    gates = get_arch(model.arch).gates
    n = len(revs)
    final_h = np.zeros((n, h_size), np.float32)
    proba = np.zeros(n)
    peak, trough = np.zeros((n, h_size), np.float32), np.zeros((n, h_size), np.float32)
    peak_step, trough_step = np.zeros((n, h_size), np.int16), np.zeros((n, h_size), np.int16)
    names = ("hidden", *gates)
    total = {q: np.zeros(h_size) for q in names}
    total_sq = {q: np.zeros(h_size) for q in names}
    left = {g: np.zeros(h_size) for g in gates}
    right = {g: np.zeros(h_size) for g in gates}
    dh_sum = torch.zeros(v_size, h_size, dtype=torch.float64)
    counts = np.zeros(v_size, np.int64)
    steps = 0
    units = np.arange(h_size)
    done = 0
    for idx, res in trace_batches(module, revs.seqs, batch_size):
        lengths = np.asarray([len(r["hidden"]) for r in res])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        hid = np.concatenate([r["hidden"] for r in res])  # [S, H], every word of the batch
        prev = np.empty_like(hid)
        prev[1:] = hid[:-1]
        prev[starts] = np.stack([r["initial"][0] for r in res])  # h_0 before each review's first word
        ids = np.concatenate([revs.seqs[i] for i in idx])
        dh_sum.index_add_(0, torch.from_numpy(ids), torch.from_numpy((hid - prev).astype(np.float64)))
        counts += np.bincount(ids, minlength=v_size)
        values = {"hidden": hid, **{g: np.concatenate([r["gates"][g] for r in res]) for g in gates}}
        for q, v in values.items():
            v64 = v.astype(np.float64)
            total[q] += v64.sum(0)
            total_sq[q] += np.square(v64).sum(0)
        for g in gates:
            lo, hi = saturation_fractions(values[g])
            left[g] += lo * len(hid)
            right[g] += hi * len(hid)
        steps += len(hid)
        final_h[idx] = hid[starts + lengths - 1]
        proba[idx] = [r["step_proba"][-1] for r in res]
        for i, r in zip(idx, res):
            h = r["hidden"]
            up, down = h.argmax(0), h.argmin(0)
            peak_step[i], trough_step[i] = up, down
            peak[i], trough[i] = h[up, units], h[down, units]
        done += len(idx)
        if progress:
            progress(f"read {done:,} of {n:,} reviews")
    mean = {q: total[q] / steps for q in names}
    std = {q: np.sqrt(np.maximum(total_sq[q] / steps - mean[q] ** 2, 0.0)) for q in names}
    return Scan(final_h, proba, mean, std, {g: (left[g] / steps, right[g] / steps) for g in gates},
                peak_step, trough_step, peak, trough, dh_sum.numpy(), counts, steps)


# --- Per-unit measures -------------------------------------------------------------------------------------

def label_correlation(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """[H] Pearson r between each column of ``values`` [N, H] and the labels; NaN for a constant column."""
    x = np.asarray(values, np.float64)
    y = np.asarray(labels, np.float64)
    xc, yc = x - x.mean(0), y - y.mean()
    denom = np.sqrt((xc ** 2).sum(0) * (yc ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, xc.T @ yc / np.where(denom > 0, denom, 1.0), np.nan)


def fit_threshold(values: np.ndarray, labels: np.ndarray) -> tuple[float, int, float]:
    """The best one-unit classifier on ``values`` [N]: (threshold, direction, accuracy).

    Direction +1 says positive when value > threshold, −1 when value < threshold.
    Thresholds lie half-way between consecutive distinct values (or beyond the ends).
    """
    x = np.asarray(values, np.float64)
    y = np.asarray(labels).astype(bool)
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    n = len(xs)
    pos_below = np.concatenate([[0], np.cumsum(ys)])  # cut after i values: i values below the threshold
    neg_below = np.arange(n + 1) - pos_below
    acc_up = (neg_below + (pos_below[-1] - pos_below)) / n  # positive above the threshold
    valid = np.ones(n + 1, bool)
    valid[1:n] = xs[1:] > xs[:-1]  # no cut between equal values
    best_up = np.where(valid, acc_up, -1.0)
    best_down = np.where(valid, 1.0 - acc_up, -1.0)
    i_up, i_down = int(np.argmax(best_up)), int(np.argmax(best_down))
    i, direction = (i_up, 1) if best_up[i_up] >= best_down[i_down] else (i_down, -1)
    lo = xs[i - 1] if i > 0 else xs[0] - 1.0
    hi = xs[i] if i < n else xs[-1] + 1.0
    return float((lo + hi) / 2), direction, float(max(best_up[i_up], best_down[i_down]))


def one_unit_accuracy(values: np.ndarray, labels: np.ndarray, threshold: float, direction: int) -> float:
    """Accuracy of "positive when direction · (value − threshold) > 0" on ``values`` [N]."""
    pred = (np.asarray(values) > threshold) if direction > 0 else (np.asarray(values) < threshold)
    return float(np.mean(pred == np.asarray(labels).astype(bool)))


def expected_response(dh_sum: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """[V, H] average h_t − h_{t−1} when each word is read (NaN for words never read)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts[:, None] > 0, dh_sum / np.maximum(counts, 1)[:, None], np.nan)


def top_words(response: np.ndarray, counts: np.ndarray, vocab_words: list[str], n: int = TOP_WORDS,
              min_count: int = MIN_COUNT, first_id: int = 2) -> list[dict]:
    """Per unit, the words that raise it most and lower it most on average: [[word, Δh, count], ...]."""
    eligible = np.flatnonzero(counts >= min_count)
    eligible = eligible[eligible >= first_id]  # padding, the start mark and the unknown word are not words
    out = []
    for u in range(response.shape[1]):
        r = response[eligible, u]
        order = np.argsort(-r, kind="stable")
        row = {}
        for key, picks in (("up", order[:n]), ("down", order[::-1][:n])):
            row[key] = [[vocab_words[eligible[j]], round(float(r[j]), DIGITS), int(counts[eligible[j]])]
                        for j in picks]
        out.append(row)
    return out


def cocluster(response: np.ndarray, counts: np.ndarray, vocab_words: list[str], n_words: int = COCLUSTER_WORDS,
              n_clusters: int = N_CLUSTERS, seed: int = 0, first_id: int = 2) -> dict:
    """Co-cluster units × the ``n_words`` most frequent words on |expected response| (RNNVis).

    Bicluster i pairs a group of units with a group of words that move them
    (either way). Returns the words, each unit's and word's group, and the
    signed response matrix [words][units] for the heatmap.
    """
    from sklearn.cluster import SpectralCoclustering

    candidates = np.flatnonzero(counts > 0)
    candidates = candidates[candidates >= first_id]
    chosen = candidates[np.argsort(-counts[candidates], kind="stable")[:n_words]]
    signed = response[chosen]  # [W, H]
    n_clusters = max(1, min(n_clusters, len(chosen), signed.shape[1]))
    model = SpectralCoclustering(n_clusters=n_clusters, random_state=seed)
    model.fit(np.abs(signed).T + 1e-12)  # units × words; the tiny floor keeps empty rows out of a division by 0
    return {
        "n_clusters": n_clusters,
        "words": [vocab_words[i] for i in chosen],
        "word_counts": counts[chosen].astype(int).tolist(),
        "unit_groups": model.row_labels_.astype(int).tolist(),
        "word_groups": model.column_labels_.astype(int).tolist(),
        "response": np.round(signed, DIGITS).tolist(),
    }


def _context(revs: Reviews, i: int, step: int, u: int, values: dict[str, np.ndarray],
             width: int = CONTEXT_WORDS) -> dict:
    words = revs.words[i]
    return {
        "review": revs.names[i],
        "index": int(revs.index[i]),
        "label": int(revs.labels[i]),
        "stars": int(revs.ratings[i]),
        "step": int(step),
        "before": words[max(0, step - width):step],
        "word": words[step],
        "after": words[step + 1:step + 1 + width],
        "values": {q: round(float(v[step, u]), DIGITS) for q, v in values.items()},
    }


def contexts(model: SentimentModel, revs: Reviews, s: Scan, k: int = TOP_K) -> list[dict]:
    """Per unit, the ``k`` reviews where h peaks highest ("top") and lowest ("bottom"), one context each.

    Each context: the review's id and place in the split, label, stars, the
    step (0-based among the words read), ±CONTEXT_WORDS words around it, and h
    and every traced quantity of that unit at that step (from a fresh trace).
    """
    h_size = s.peak.shape[1]
    k = min(k, len(revs))
    picks = {}
    for u in range(h_size):
        top = np.argsort(-s.peak[:, u], kind="stable")[:k]
        bottom = np.argsort(s.trough[:, u], kind="stable")[:k]
        picks[u] = (top, bottom)
    needed = sorted({int(i) for top, bottom in picks.values() for i in (*top, *bottom)})
    traced = {}
    for idx, res in trace_batches(model.module, [revs.seqs[i] for i in needed], 128):
        for j, r in zip(idx, res):
            traced[needed[j]] = {"hidden": r["hidden"], **r["gates"]}
    out = []
    for u, (top, bottom) in picks.items():
        out.append({
            "top": [_context(revs, int(i), int(s.peak_step[i, u]), u, traced[int(i)]) for i in top],
            "bottom": [_context(revs, int(i), int(s.trough_step[i, u]), u, traced[int(i)]) for i in bottom],
        })
    return out


def unit_rows(model: SentimentModel, s: Scan, labels: np.ndarray, fit_h: np.ndarray,
              fit_labels: np.ndarray) -> list[dict]:
    """One row per unit: output weight, label correlation, one-unit classifier, mean/spread, saturation."""
    weights = output_weights(model)
    corr = label_correlation(s.final_h, labels)
    rows = []
    for u in range(len(weights)):
        thr, direction, fit_acc = fit_threshold(fit_h[:, u], fit_labels)
        row = {
            "unit": u,
            "output_weight": round(float(weights[u]), DIGITS),
            "label_correlation": None if np.isnan(corr[u]) else round(float(corr[u]), DIGITS),
            "one_unit_accuracy": round(one_unit_accuracy(s.final_h[:, u], labels, thr, direction), DIGITS),
            "one_unit_threshold": round(thr, DIGITS),
            "one_unit_direction": direction,
            "one_unit_fit_accuracy": round(fit_acc, DIGITS),
            "final_h_mean": round(float(s.final_h[:, u].mean()), DIGITS),
        }
        for q in s.mean:
            name = "h" if q == "hidden" else q
            row[f"{name}_mean"] = round(float(s.mean[q][u]), DIGITS)
            row[f"{name}_std"] = round(float(s.std[q][u]), DIGITS)
        for g, (lo, hi) in s.saturation.items():
            row[f"{g}_left"] = round(float(lo[u]), DIGITS)
            row[f"{g}_right"] = round(float(hi[u]), DIGITS)
        rows.append(row)
    return rows


def sample(n: int, size: int | None, seed: int) -> np.ndarray:
    """Sorted positions of a seeded random sample of ``size`` of ``n`` items (all of them when size is None)."""
    if size is None or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def build_index(model: SentimentModel, test: Split, train: Split | None = None, k: int = TOP_K,
                ks: tuple[int, ...] = KS, draws: int = DRAWS, n_words: int = COCLUSTER_WORDS,
                n_clusters: int = N_CLUSTERS, min_count: int = MIN_COUNT, seed: int = 0,
                fit_reviews: int | None = FIT_REVIEWS, ablation_reviews: int | None = None,
                progress: Progress | None = None) -> dict:
    """The whole atlas for ``model`` over every review of ``test``.

    One-unit thresholds are fitted on ``fit_reviews`` random training reviews
    when ``train`` is given (on the test reviews themselves otherwise, and the
    index says so). The ablation runs over ``ablation_reviews`` random test
    reviews (all when None): 1 + 2·len(ks) + draws·len(ks) passes.
    """
    say = progress or (lambda _msg: None)
    revs = reviews(model, test)
    if not len(revs):
        raise ValueError("the test split holds no reviews with words")
    say(f"tracing {len(revs):,} test reviews")
    s = scan(model, revs, progress=say)
    if train is not None:
        say("final states of the training reviews (for the one-unit thresholds)")
        train_revs = reviews(model, train)
        pick = sample(len(train_revs), fit_reviews, seed)
        fit_h = model.final_states([train_revs.seqs[i] for i in pick])
        fit_labels, fit_on = train_revs.labels[pick], f"{len(pick):,} training reviews"
    else:
        fit_h, fit_labels, fit_on = s.final_h, revs.labels, "the test reviews themselves"
    rows = unit_rows(model, s, revs.labels, fit_h, fit_labels)
    response = expected_response(s.dh_sum, s.counts)
    vocab_words = [model.vocab.word(i) for i in range(len(model.vocab))]
    say("top contexts")
    ctx = contexts(model, revs, s, k)
    words = top_words(response, s.counts, vocab_words, min_count=min_count, first_id=model.vocab.first_id)
    for row, c, w in zip(rows, ctx, words):
        row["contexts"] = c
        row["top_words"] = w
    say("co-clustering units and words")
    clusters = cocluster(response, s.counts, vocab_words, n_words, n_clusters, seed, model.vocab.first_id)
    correlation = np.nan_to_num(label_correlation(s.final_h, revs.labels))
    weights = output_weights(model)
    pick = sample(len(revs), ablation_reviews, seed)
    labels = revs.labels[pick]
    baseline = accuracy(s.proba[pick], labels)
    ablation = ablation_study(model, [revs.seqs[i] for i in pick], labels, correlation, weights, ks, draws, seed,
                              baseline, say)
    ablation["reviews"] = len(pick)
    return {
        "version": INDEX_VERSION,
        "weights_sha256": model.config.get("weights_sha256"),
        "arch": model.arch,
        "test_reviews": len(revs),
        "test_ids_sha256": ids_digest(revs.names),
        "words_read": s.steps,
        "one_unit_fit_on": fit_on,
        "settings": {"context_words": CONTEXT_WORDS, "top_k": k, "top_words": TOP_WORDS, "min_count": min_count,
                     "saturation_thresholds": [SATURATED_LOW, SATURATED_HIGH], "gates": list(s.saturation),
                     "seed": seed},
        "units": rows,
        "cocluster": clusters,
        "ablation": ablation,
    }


# --- Stored index ---------------------------------------------------------------------------------------------

def write_index(folder: str | os.PathLike, index: dict) -> Path:
    """Write ``units.json`` atomically into the model folder (compact JSON: it ships in git)."""
    path = Path(folder) / INDEX_FILE
    write_bytes_atomic(path, json.dumps(index, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return path


def read_index(folder: str | os.PathLike, weights_sha256: str | None) -> tuple[dict | None, str | None]:
    """(index, None) when ``units.json`` is there and belongs to these weights, else (None, why not, in the current
    language)."""
    path = Path(folder) / INDEX_FILE
    if not path.is_file():
        return None, _("there is no unit index ({path}) for this model yet").format(path=path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, ValueError) as e:
        return None, _("the unit index {path} is unreadable ({error})").format(path=path, error=e)
    if not isinstance(data, dict) or data.get("version") != INDEX_VERSION or not isinstance(data.get("units"), list):
        return None, _("the unit index {path} has an unknown format").format(path=path)
    if not weights_sha256 or data.get("weights_sha256") != weights_sha256:
        return None, _("the unit index {path} was computed for other weights than this model's").format(path=path)
    return data, None


def summary(index: dict, source: str) -> dict:
    """What ``python -m gru_core units --json`` prints: the unit table (without contexts) and the ablation."""
    units = [{k: v for k, v in row.items() if k != "contexts"} for row in index["units"]]
    ablation = {k: index["ablation"][k] for k in ("by_correlation", "by_weight", "random", "baseline")}
    return {"weights_sha256": index["weights_sha256"], "arch": index["arch"], "source": source,
            "test_reviews": index["test_reviews"], "one_unit_fit_on": index["one_unit_fit_on"],
            "ablation_reviews": index["ablation"]["reviews"], "units": units, "ablation": ablation}
