"""Statistics over many reviews, batched: gate saturation, model agreement, memory reach.

``compute_stats`` runs them over the IMDB test set and ``write_stats`` stores
the result as ``stats.json`` next to the model (``python -m gru_core stats``),
so the comparison page opens fast and works without the dataset.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from statistics import NormalDist

import numpy as np

from ..archs import SIGMOID_GATES
from ..atomic import write_json_atomic
from ..data import Split
from ..experiment import predict_split
from ..predictor import SentimentModel
from ..trace import trace_batches
from .explain import logit_gradients
from .memprobe import inference_memory

SATURATED_LOW, SATURATED_HIGH = 0.1, 0.9
STATS_FILE = "stats.json"


def saturation_fractions(values: np.ndarray, low: float = SATURATED_LOW,
                         high: float = SATURATED_HIGH) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, the fraction of time steps a gate is left-saturated (< low) and right-saturated (> high).

    ``values`` is [steps, H]: every time step of every review, stacked
    (Karpathy, Johnson & Fei-Fei 2015, "Visualizing and Understanding Recurrent Networks").
    """
    values = np.asarray(values)
    if values.ndim != 2 or len(values) == 0:
        raise ValueError("need a non-empty [steps, units] array")
    return (values < low).mean(0), (values > high).mean(0)


def agreement(proba_a: np.ndarray, proba_b: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """How often two models give the same label; with true labels, who is right when."""
    a, b = np.asarray(proba_a) > 0.5, np.asarray(proba_b) > 0.5
    if a.shape != b.shape or a.size == 0:
        raise ValueError("need two non-empty prediction arrays of the same length")
    out = {"n": int(a.size), "agree": float(np.mean(a == b)), "disagree_count": int(np.sum(a != b))}
    if labels is not None:
        y = np.asarray(labels).astype(bool)
        ra, rb = a == y, b == y
        out.update(both_right=float(np.mean(ra & rb)), both_wrong=float(np.mean(~ra & ~rb)),
                   only_a_right=float(np.mean(ra & ~rb)), only_b_right=float(np.mean(~ra & rb)))
    return out


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: the binomial test of b against c among the b + c disagreements.

    ``b``: reviews only the first model gets right; ``c``: only the second. Under "equally
    accurate" each disagreement is a fair coin, so p = min(1, 2·P(X ≤ min(b, c))), X ~ Bin(b + c, ½).
    """
    if b < 0 or c < 0:
        raise ValueError("counts must be non-negative")
    n = b + c
    if n == 0:
        return 1.0
    term = tail = 1  # C(n, 0); then C(n, k + 1) = C(n, k)·(n − k)/(k + 1), exact in integers
    for k in range(min(b, c)):
        term = term * (n - k) // (k + 1)
        tail += term
    return min(1.0, 2 * tail / 2 ** n)  # exact integers; one rounding at the end


def paired_difference_ci(b: int, c: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """Accuracy difference (first − second) of two models on the same n reviews, and its Wald interval.

    The per-review difference d_i ∈ {−1, 0, 1} has mean (b − c)/n and variance
    ((b + c)/n − ((b − c)/n)²); the interval is the normal approximation to its mean
    (Agresti, Categorical Data Analysis, §10.1): (b − c)/n ± z·√((b + c) − (b − c)²/n)/n.
    """
    if n <= 0 or b < 0 or c < 0 or b + c > n:
        raise ValueError("need 0 ≤ b, c and b + c ≤ n with n > 0")
    diff = (b - c) / n
    se = math.sqrt(max((b + c) - (b - c) ** 2 / n, 0.0)) / n
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return diff, diff - z * se, diff + z * se


def paired_comparison(proba_a: np.ndarray, proba_b: np.ndarray, labels: np.ndarray, level: float = 0.95) -> dict:
    """Two models' verdicts on the same reviews: accuracies, disagreements b and c, McNemar's exact p, and
    the confidence interval of the accuracy difference (a − b)."""
    y = np.asarray(labels).astype(bool)
    ra, rb = (np.asarray(proba_a) > 0.5) == y, (np.asarray(proba_b) > 0.5) == y
    if ra.shape != rb.shape or ra.size == 0:
        raise ValueError("need two non-empty prediction arrays of the same length as the labels")
    b, c = int(np.sum(ra & ~rb)), int(np.sum(~ra & rb))
    diff, low, high = paired_difference_ci(b, c, ra.size, level)
    return {"n": int(ra.size), "accuracy_a": float(ra.mean()), "accuracy_b": float(rb.mean()), "only_a_right": b,
            "only_b_right": c, "p_value": mcnemar_exact(b, c), "difference": diff, "ci": (low, high),
            "level": level}


def gradient_by_position(model: SentimentModel, id_lists: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
    """‖∂ logit / ∂ e_t‖ for every word: [N, maxlen], column d = d words before the end (0 = last), NaN beyond.

    The gradient of the verdict's logit with respect to each word's embedding
    vector: how much the final prediction can still feel that word. Gradients
    flow to fresh embedding tensors; the model's weights are not touched.
    """
    width = max(len(ids) for ids in id_lists)
    out = np.full((len(id_lists), width), np.nan)
    for a in range(0, len(id_lists), batch_size):
        _, grad, lengths = logit_gradients(model, id_lists[a:a + batch_size])
        norms = grad.norm(dim=-1).numpy()  # [B, T], position t from the start
        for i, n in enumerate(lengths.tolist()):
            out[a + i, :n] = norms[i, :n][::-1]  # reversed: distance from the end
    return out


def mean_by_distance(grads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over reviews of each distance-from-the-end column, and how many reviews reach it."""
    count = np.sum(~np.isnan(grads), axis=0)
    total = np.nansum(grads, axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan), count


def relative_by_distance(grads: np.ndarray) -> np.ndarray:
    """Scale-free memory reach: per review, each word's gradient divided by the last word's, then the
    median over reviews at each distance (NaN where no review reaches). 1 at distance 0 by construction."""
    ratios = grads / grads[:, :1]
    out = np.full(grads.shape[1], np.nan)
    for d in range(grads.shape[1]):
        col = ratios[:, d][~np.isnan(ratios[:, d])]
        if len(col):
            out[d] = float(np.median(col))
    return out


def ids_digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def compute_stats(model: SentimentModel, test: Split, sample: int = 500, seed: int = 0) -> dict:
    """Test-set predictions for all reviews, and saturation and memory reach on a random sample."""
    keep, proba = predict_split(model, test)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(keep), size=min(sample, len(keep)), replace=False))
    encoded = [model.encode(test.texts[keep[i]])[1] for i in pick]
    gates: dict[str, list[np.ndarray]] = {}
    for _, batch in trace_batches(model.module, encoded):
        for r in batch:
            for name, v in r["gates"].items():
                gates.setdefault(name, []).append(v)
    saturation = {}
    for name, chunks in gates.items():
        if name not in SIGMOID_GATES:
            continue  # tanh outputs and the cell state have no [0, 1] saturation
        left, right = saturation_fractions(np.concatenate(chunks))
        saturation[name] = {"left": left.round(5).tolist(), "right": right.round(5).tolist()}
    grads = gradient_by_position(model, encoded)
    mean, count = mean_by_distance(grads)
    relative = relative_by_distance(grads)
    return {
        "test_ids_sha256": ids_digest([test.ids[i] for i in keep]),
        "test_labels": test.labels[keep].astype(int).tolist(),
        "test_proba": np.round(proba, 6).tolist(),
        "sample_size": len(pick),
        "sample_seed": seed,
        "saturation_thresholds": [SATURATED_LOW, SATURATED_HIGH],
        "saturation": saturation,
        "gradient_by_distance": {"mean": _json_floats(mean), "relative_median": _json_floats(relative),
                                 "count": count.astype(int).tolist()},
    }


def _json_floats(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


def write_stats(model: SentimentModel, test: Split, sample: int = 500, seed: int = 0) -> Path:
    """Compute and write ``stats.json`` atomically into the model's folder."""
    if model.path is None:
        raise ValueError("the model has no folder to write to")
    path = Path(model.path) / STATS_FILE
    data = compute_stats(model, test, sample, seed)
    data["weights_sha256"] = model.config["weights_sha256"]  # stats.json is valid only for these weights
    data["inference_memory"] = inference_memory(model.path)
    write_json_atomic(path, data)
    return path


def read_stats(folder: str | os.PathLike, weights_sha256: str | None) -> dict | None:
    """The stored statistics, or None when they are missing, unreadable, or computed from weights other than
    those with ``weights_sha256`` (the model's ``config["weights_sha256"]``)."""
    try:
        data = json.loads((Path(folder) / STATS_FILE).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "test_proba" not in data:
            return None
        return data if weights_sha256 is not None and data.get("weights_sha256") == weights_sha256 else None
    except (OSError, ValueError):
        return None
