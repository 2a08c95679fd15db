"""Where a model fails: accuracy on fixed slices of the IMDB test set, with intervals, paired tests and calibration.

Each test review gets a few properties: the words the model reads (``SentimentModel.encode``: the last
``maxlen`` words, and how many of them are unknown to its vocabulary), whether it was truncated, its star
rating, and whether its words (the one tokenizer, ``gru_core.text``, over the whole review) hold a negation
or a contrast. Slices are sets of reviews sharing a property; on each, the accuracy with a Wilson 95%
interval (Wilson 1927), and between two models the accuracy difference with McNemar's exact p
(``stats.paired_comparison``). Calibration: P(positive) in ten equal bins against the share that is
positive, and the expected calibration error over those bins (Naeini, Cooper & Hauskrecht 2015).

Everything per review is stored as ``slices.json`` next to the model, keyed to the weights' sha256 (as
``stats.json``), so the page works without the dataset and compares any two models review by review.
"""
from __future__ import annotations

import contextvars
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from ..atomic import write_bytes_atomic
from ..data import Split
from ..experiment import predict_split
from ..i18n import _, set_language
from ..predictor import SentimentModel
from ..text import tokenize, tokenize_with_spans
from .stats import ids_digest, paired_comparison, read_stats

SLICES_FILE = "slices.json"
VERSION = 1
NEGATIONS = frozenset({"not", "no", "never", "nothing", "nor", "none", "cannot"})  # and every word ending in n't
CONTRASTS = frozenset({"but", "however", "although", "though", "yet"})
RATINGS = (1, 2, 3, 4, 7, 8, 9, 10)  # IMDB's test set holds no 5 or 6 star reviews
UNKNOWN_EDGES = (0.05, 0.10, 0.15, 0.20)  # bins of the share of unknown words: < 5%, 5–10%, ..., ≥ 20%
CALIBRATION_BINS = 10
DIGITS = 6  # decimals of the stored shares and probabilities (stats.json's test_proba has 6 too)
LEVEL = 0.95
Z = NormalDist().inv_cdf(0.5 + LEVEL / 2)
# What ``python -m gru_core slices --json`` prints, each with n, accuracy, ci_low, ci_high (and ece beside them).
CLI_SLICES = ("negation", "no_negation", "contrast", "no_contrast", *(f"rating_{r}" for r in RATINGS),
              *(f"length_q{q}" for q in range(1, 5)), "truncated")
COLUMNS = {  # the per-review columns of slices.json, and the type each holds
    "words_read": int, "truncated": bool, "unknown_share": float, "negation": bool, "contrast": bool,
    "rating": int, "label": bool, "pred": bool, "p_positive": float,
}

Progress = Callable[[str], None]


# --- The rules ----------------------------------------------------------------------------------------------

def has_negation(words: Iterable[str]) -> bool:
    """A word (normalised by ``gru_core.text``) that is not, no, never, nothing, nor, none, cannot, or ends in n't."""
    return any(w in NEGATIONS or w.endswith("n't") for w in words)


def has_contrast(words: Iterable[str]) -> bool:
    """A word that is but, however, although, though or yet."""
    return any(w in CONTRASTS for w in words)


def wilson_interval(k: int, n: int, z: float = Z) -> tuple[float, float]:
    """Wilson's score interval for k successes in n trials (z = 1.96 for 95%).

    (p̂ + z²/2n ± z·√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n): unlike p̂ ± z·√(p̂(1 − p̂)/n) it stays within [0, 1]
    and does not collapse to a point at k = 0 or k = n (Newcombe 1998, method 3).
    """
    if n <= 0 or not 0 <= k <= n:
        raise ValueError("need 0 ≤ k ≤ n and n > 0")
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denom = 1 + z * z / n
    return max(0.0, (centre - half) / denom), min(1.0, (centre + half) / denom)


def accuracy_with_interval(correct: np.ndarray) -> dict:
    """{n, correct, accuracy, ci_low, ci_high} of a boolean array (accuracy and interval None when empty)."""
    correct = np.asarray(correct, bool)
    n, k = int(correct.size), int(correct.sum())
    if n == 0:
        return {"n": 0, "correct": 0, "accuracy": None, "ci_low": None, "ci_high": None}
    low, high = wilson_interval(k, n)
    return {"n": n, "correct": k, "accuracy": k / n, "ci_low": low, "ci_high": high}


def calibration_bins(proba: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict]:
    """The reliability diagram: P(positive) in ``bins`` equal bins; per bin its edges, the reviews in it, their
    mean P(positive) and the share that is positive (None for an empty bin). A value on an inner edge goes to
    the bin above it, 1.0 to the last (as scikit-learn's ``calibration_curve``)."""
    p = np.asarray(proba, np.float64)
    y = np.asarray(labels).astype(bool)
    if p.shape != y.shape or p.size == 0 or not np.all((p >= 0) & (p <= 1)):
        raise ValueError("need as many probabilities in [0, 1] as labels, at least one")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], p, side="right")
    out = []
    for b in range(bins):
        inside = which == b
        n = int(inside.sum())
        out.append({"low": float(edges[b]), "high": float(edges[b + 1]), "n": n,
                    "mean_p": float(p[inside].mean()) if n else None,
                    "share_positive": float(y[inside].mean()) if n else None})
    return out


def expected_calibration_error(bins: Sequence[dict]) -> float:
    """Σ_b (n_b / N)·|share positive_b − mean P(positive)_b| over the bins of ``calibration_bins``."""
    total = sum(b["n"] for b in bins)
    if total == 0:
        raise ValueError("no reviews in any bin")
    return float(sum(b["n"] / total * abs(b["share_positive"] - b["mean_p"]) for b in bins if b["n"]))


# --- The reviews, as one model reads them ---------------------------------------------------------------------

@dataclass
class SliceData:
    """One model's verdict and properties for every test review (the order of the test split's reviews that hold
    words, identified by ``test_ids_sha256``), and the words-read quartiles' cut points."""

    columns: dict[str, np.ndarray]  # COLUMNS -> [N]
    length_cuts: tuple[float, float, float]
    test_ids_sha256: str
    maxlen: int
    weights_sha256: str | None = None
    predictions_from: str = "computed"

    def __len__(self) -> int:
        return len(self.columns["label"])

    @property
    def correct(self) -> np.ndarray:
        return self.columns["pred"] == self.columns["label"]

    def to_json(self) -> dict:
        """The stored form: the columns as lists, and the summary the command line prints (computed from the
        columns as stored, so a file read back gives the same numbers)."""
        cols = {}
        for name, kind in COLUMNS.items():
            v = self.columns[name]
            cols[name] = (np.round(v, DIGITS).tolist() if kind is float else v.astype(int).tolist())
        table = _in_english(slice_table, self)  # the stored file is the same whatever the page's language
        bins = calibration_bins(self.columns["p_positive"], self.columns["label"])
        return {"version": VERSION, "weights_sha256": self.weights_sha256, "test_ids_sha256": self.test_ids_sha256,
                "n": len(self), "maxlen": self.maxlen, "length_cuts": list(self.length_cuts),
                "predictions_from": self.predictions_from, "accuracy": float(self.correct.mean()),
                "slices": {name: {k: v for k, v in row.items() if k != "mask"} for name, row in table.items()},
                "calibration": bins, "ece": expected_calibration_error(bins), "reviews": cols}

    @classmethod
    def from_json(cls, data: object) -> SliceData:
        """Check a stored file's structure and values (ValueError saying what is wrong)."""
        if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("reviews"), dict):
            raise ValueError(_("unknown format"))
        cols, n = {}, None
        for name, kind in COLUMNS.items():
            raw = data["reviews"].get(name)
            if not isinstance(raw, list) or (n is not None and len(raw) != n) or not raw:
                raise ValueError(_("column {name!r} is missing or of the wrong length").format(name=name))
            n = len(raw)
            try:
                v = np.asarray(raw, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(_("column {name!r} holds something other than numbers").format(name=name)) from None
            if v.ndim != 1 or not np.all(np.isfinite(v)):
                raise ValueError(_("column {name!r} holds something other than numbers").format(name=name))
            if kind is bool:
                if not np.all((v == 0) | (v == 1)):
                    raise ValueError(_("column {name!r} must hold 0 or 1").format(name=name))
                v = v.astype(bool)
            elif kind is int:
                v = v.astype(np.int64)
            elif name in ("unknown_share", "p_positive") and not np.all((v >= 0) & (v <= 1)):
                raise ValueError(_("column {name!r} must hold values in [0, 1]").format(name=name))
            cols[name] = v
        cuts = data.get("length_cuts")
        if (not isinstance(cuts, list) or len(cuts) != 3 or not all(isinstance(c, (int, float)) for c in cuts)
                or not cuts[0] <= cuts[1] <= cuts[2]):
            raise ValueError(_("length_cuts must be three increasing numbers"))
        sha, maxlen = data.get("test_ids_sha256"), data.get("maxlen")
        if not isinstance(sha, str) or not isinstance(maxlen, int):
            raise ValueError(_("test_ids_sha256 or maxlen is missing"))  # noqa: TRY004 -- a bad file, not a bad call
        return cls(cols, (float(cuts[0]), float(cuts[1]), float(cuts[2])), sha, maxlen,
                   data.get("weights_sha256"), str(data.get("predictions_from", "computed")))


def _kept(split: Split) -> list[int]:
    """The reviews a model can read (they hold at least one word), as ``experiment.predict_split`` keeps them."""
    return [i for i, toks in enumerate(split.tokens) if toks]


def _stored_predictions(model: SentimentModel, split: Split, keep: list[int]) -> np.ndarray | None:
    """The test predictions in the model's ``stats.json`` when they are for these weights and these reviews."""
    if model.path is None:
        return None
    stats = read_stats(model.path, model.config.get("weights_sha256"))
    if stats is None or stats.get("test_ids_sha256") != ids_digest([split.ids[i] for i in keep]):
        return None
    proba = np.asarray(stats["test_proba"], np.float64)
    return proba if proba.shape == (len(keep),) else None


def compute_slices(model: SentimentModel, split: Split, progress: Progress | None = None) -> SliceData:
    """Every test review's properties and ``model``'s verdict on it.

    The predictions come from the model's ``stats.json`` when it holds them for these weights and reviews (the
    same predict path, stored to 6 decimals; any stored as exactly 0.5 are predicted again, so every verdict is
    the model's own), else from ``experiment.predict_split``.
    """
    keep = _kept(split)
    if not keep:
        raise ValueError("the split holds no review with words")
    proba = _stored_predictions(model, split, keep)
    source = "stats.json"
    if proba is None:
        if progress:
            progress(f"predicting {len(keep):,} reviews")
        _labels, proba = predict_split(model, split)
        source = "computed"
    else:
        tie = np.flatnonzero(proba == 0.5)
        if len(tie):
            proba[tie] = model.predict_proba([split.texts[keep[i]] for i in tie])
    n = len(keep)
    words_read, unknown = np.zeros(n, np.int64), np.zeros(n)
    truncated = np.zeros(n, bool)
    for j, i in enumerate(keep):
        _words, ids, total = model.encode(split.texts[i])  # what the model reads: its own encoding and maxlen
        words_read[j], truncated[j] = len(ids), total > len(ids)
        unknown[j] = round(float(np.mean(ids == model.vocab.unk_id)), DIGITS)  # the model's own unknown id
        if progress and (j + 1) % 5000 == 0:
            progress(f"encoded {j + 1:,} of {n:,} reviews")
    tokens = [split.tokens[i] for i in keep]
    cols = {
        "words_read": words_read, "truncated": truncated, "unknown_share": unknown,
        "negation": np.fromiter((has_negation(t) for t in tokens), bool, n),
        "contrast": np.fromiter((has_contrast(t) for t in tokens), bool, n),
        "rating": split.ratings[keep].astype(np.int64), "label": split.labels[keep].astype(bool),
        # The verdict from the unrounded P(positive); P(positive) kept to DIGITS decimals, as stored.
        "pred": np.asarray(proba) > 0.5, "p_positive": np.round(np.asarray(proba, np.float64), DIGITS),
    }
    cuts = np.quantile(words_read, [0.25, 0.5, 0.75])
    return SliceData(cols, (float(cuts[0]), float(cuts[1]), float(cuts[2])),
                     ids_digest([split.ids[i] for i in keep]), model.maxlen, model.config.get("weights_sha256"),
                     source)


# --- The slices ---------------------------------------------------------------------------------------------

def _percent(x: float) -> str:
    return f"{100 * x:g}%"


def _in_english(fn: Callable, *args: object) -> object:
    """``fn(*args)`` with English as the language (in a copy of this context: the caller's stays as it is)."""
    def run() -> object:
        set_language("en")
        return fn(*args)
    return contextvars.copy_context().run(run)


def slice_masks(data: SliceData) -> dict[str, tuple[str, str, np.ndarray]]:
    """{name: (group, label, boolean mask over the reviews)}, in the order the page shows them; the names are
    stable keys, the groups and labels are in the current language."""
    c = data.columns
    out: dict[str, tuple[str, str, np.ndarray]] = {"all": (_("all"), _("all reviews"), np.ones(len(data), bool))}
    w = c["words_read"]
    c1, c2, c3 = data.length_cuts
    words = _("words read")
    out["length_q1"] = (words, _("words read ≤ {n}").format(n=math.floor(c1)), w <= c1)
    out["length_q2"] = (words, _("words read {low}–{high}").format(low=math.floor(c1) + 1, high=math.floor(c2)),
                        (w > c1) & (w <= c2))
    out["length_q3"] = (words, _("words read {low}–{high}").format(low=math.floor(c2) + 1, high=math.floor(c3)),
                        (w > c2) & (w <= c3))
    out["length_q4"] = (words, _("words read ≥ {n}").format(n=math.floor(c3) + 1), w > c3)
    for r in RATINGS:
        out[f"rating_{r}"] = (_("stars"), f"{r}★", c["rating"] == r)
    negation, contrast, truncated = _("negation"), _("contrast"), _("truncated")
    out["negation"] = (negation, _("has a negation"), c["negation"])
    out["no_negation"] = (negation, _("no negation"), ~c["negation"])
    out["contrast"] = (contrast, _("has a contrast"), c["contrast"])
    out["no_contrast"] = (contrast, _("no contrast"), ~c["contrast"])
    out["truncated"] = (truncated, _("truncated (> {n} words)").format(n=data.maxlen), c["truncated"])
    out["not_truncated"] = (truncated, _("not truncated (≤ {n} words)").format(n=data.maxlen), ~c["truncated"])
    u = c["unknown_share"]
    edges = (0.0, *UNKNOWN_EDGES)
    for lo, hi in zip(edges, (*UNKNOWN_EDGES, None)):
        if hi is None:
            name, mask = f"unknown_{round(100 * lo)}_plus", u >= lo
            label = _("unknown words ≥ {share}").format(share=_percent(lo))
        else:
            name, mask = f"unknown_{round(100 * lo)}_{round(100 * hi)}", (u >= lo) & (u < hi)
            label = _("unknown words {low}–{high}").format(low=_percent(lo), high=_percent(hi))
        out[name] = (_("unknown words"), label, mask)
    return out


def slice_table(data: SliceData) -> dict[str, dict]:
    """{slice name: {group, label, n, correct, accuracy, ci_low, ci_high, mask}} for one model."""
    correct = data.correct
    return {name: {"group": group, "label": label, **accuracy_with_interval(correct[mask]), "mask": mask}
            for name, (group, label, mask) in slice_masks(data).items()}


def cli_summary(data: SliceData) -> dict:
    """What ``python -m gru_core slices --json`` prints: the listed slices, each {n, accuracy, ci_low, ci_high},
    and ``ece``."""
    table = slice_table(data)
    out: dict = {name: {k: table[name][k] for k in ("n", "accuracy", "ci_low", "ci_high")} for name in CLI_SLICES}
    out["ece"] = expected_calibration_error(calibration_bins(data.columns["p_positive"], data.columns["label"]))
    return out


def same_reviews(a: SliceData, b: SliceData) -> bool:
    return a.test_ids_sha256 == b.test_ids_sha256 and len(a) == len(b)


def paired_on(a: SliceData, b: SliceData, mask: np.ndarray) -> dict | None:
    """``stats.paired_comparison`` of two models' verdicts on the reviews of ``mask`` (None when it is empty)."""
    if not mask.any():
        return None
    y = a.columns["label"][mask]
    return paired_comparison(a.columns["pred"][mask].astype(float), b.columns["pred"][mask].astype(float), y)


def pairwise_rows(named: dict[str, SliceData], extra: dict[str, tuple[str, str, np.ndarray]] | None = None
                  ) -> list[dict]:
    """For each pair of models (in the order given) and each slice (and each of ``extra``, as in
    ``slice_frame``): the reviews in that slice for both models, each one's accuracy there, the difference
    (first − second) with its 95% interval, and McNemar's exact p. Pairs over different reviews are left out."""
    rows = []
    for (na, a), (nb, b) in combinations(named.items(), 2):
        if not same_reviews(a, b):
            continue
        ma, mb = {**slice_masks(a), **(extra or {})}, {**slice_masks(b), **(extra or {})}
        for name, (group, label, mask) in ma.items():
            both = mask & mb[name][2]  # a model-dependent slice (words read, unknown share) may differ
            cmp = paired_on(a, b, both)
            if cmp is None:
                continue
            rows.append({"pair": f"{na} − {nb}", "model_a": na, "model_b": nb, "slice": name, "group": group,
                         "label": label, "n": cmp["n"], "accuracy_a": cmp["accuracy_a"],
                         "accuracy_b": cmp["accuracy_b"], "difference": cmp["difference"], "ci_low": cmp["ci"][0],
                         "ci_high": cmp["ci"][1], "only_a_right": cmp["only_a_right"],
                         "only_b_right": cmp["only_b_right"], "p_value": cmp["p_value"]})
    return rows


# --- A slice of the user's own: reviews containing a phrase -----------------------------------------------------

def joined_words(token_lists: Sequence[Sequence[str]]) -> list[str]:
    """Each review's words joined by single spaces and framed by spaces, for whole-word phrase search."""
    return [f" {' '.join(t)} " for t in token_lists]


def phrase_words(phrase: str) -> list[str]:
    """The words of a typed phrase, as the one tokenizer reads them (empty when it holds none)."""
    return tokenize(phrase)


def containing(joined: Sequence[str], words: Sequence[str]) -> np.ndarray:
    """Which reviews (``joined_words``) hold ``words`` as consecutive whole words, anywhere in the review."""
    if not words:
        raise ValueError("the phrase holds no words")
    needle = f" {' '.join(words)} "
    return np.fromiter((needle in text for text in joined), bool, len(joined))


def phrase_span(text: str, words: Sequence[str]) -> tuple[int, int] | None:
    """Character offsets (start, end) of the first place ``text`` holds ``words`` as consecutive whole words."""
    tokens = tokenize_with_spans(text)
    k = len(words)
    for i in range(len(tokens) - k + 1):
        if k and all(tokens[i + j].text == w for j, w in enumerate(words)):
            return tokens[i].start, tokens[i + k - 1].end
    return None


def misread(data: SliceData, mask: np.ndarray) -> np.ndarray:
    """Positions of the reviews in ``mask`` that the model gets wrong, the most confidently wrong first."""
    wrong = np.flatnonzero(mask & ~data.correct)
    confidence = np.abs(data.columns["p_positive"][wrong] - 0.5)
    return wrong[np.argsort(-confidence, kind="stable")]


def kept_reviews(split: Split) -> tuple[list[int], str]:
    """(the split's reviews in the stored order, their ids' sha256): a stored file fits the split when it matches."""
    keep = _kept(split)
    return keep, ids_digest([split.ids[i] for i in keep])


# --- Storage ------------------------------------------------------------------------------------------------

def write_slices(folder: str | os.PathLike, data: SliceData) -> Path:
    """Write ``slices.json`` atomically into the model folder (compact JSON: it ships in git)."""
    path = Path(folder) / SLICES_FILE
    write_bytes_atomic(path, json.dumps(data.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return path


def read_slices(folder: str | os.PathLike, weights_sha256: str | None) -> tuple[SliceData | None, str | None]:
    """(data, None) when ``slices.json`` is there, well formed and belongs to these weights, else (None, why not, in
    the current language)."""
    path = Path(folder) / SLICES_FILE
    if not path.is_file():
        return None, _("there is no slice file ({path}) for this model yet").format(path=path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        data = SliceData.from_json(raw)
    except (OSError, UnicodeError, ValueError, RecursionError) as e:
        return None, _("the slice file {path} is unreadable ({error})").format(path=path, error=e)
    if not weights_sha256 or data.weights_sha256 != weights_sha256:
        return None, _("the slice file {path} was computed for other weights than this model's").format(path=path)
    return data, None


# --- Frames for the page ------------------------------------------------------------------------------------

def slice_frame(named: dict[str, SliceData], extra: dict[str, tuple[str, str, np.ndarray]] | None = None
                ) -> pd.DataFrame:
    """One row per model and slice: slice, group, label, order, model, n, correct, accuracy, ci_low, ci_high.
    ``extra``: further slices by name, (group, label, mask over the reviews), the same for every model."""
    rows = []
    for model, data in named.items():
        masks = {**slice_masks(data), **(extra or {})}
        correct = data.correct
        for order, (name, (group, label, mask)) in enumerate(masks.items()):
            rows.append({"slice": name, "group": group, "label": label, "order": order, "model": model,
                         **accuracy_with_interval(correct[mask])})
    return pd.DataFrame(rows, columns=["slice", "group", "label", "order", "model", "n", "correct", "accuracy",
                                       "ci_low", "ci_high"])


def calibration_frame(named: dict[str, SliceData]) -> tuple[pd.DataFrame, dict[str, float]]:
    """(the reliability diagram's bins, one row per model and bin: model, low, high, n, mean_p, share_positive;
    each model's expected calibration error)."""
    rows, ece = [], {}
    for model, data in named.items():
        bins = calibration_bins(data.columns["p_positive"], data.columns["label"])
        ece[model] = expected_calibration_error(bins)
        rows += [{"model": model, **b} for b in bins]
    return pd.DataFrame(rows), ece
