"""Statistics over many reviews, batched: gate saturation, model agreement, memory reach.

``compute_stats`` runs them over the IMDB test set and ``write_stats`` stores
the result as ``stats.json`` next to the model (``python -m gru_core stats``),
so the comparison page opens fast and works without the dataset.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .archs import SIGMOID_GATES
from .atomic import write_json_atomic
from .data import Split
from .experiment import predict_split
from .explain import logit_gradients
from .predictor import SentimentModel
from .trace import trace_ids

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


def ids_digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def compute_stats(model: SentimentModel, test: Split, sample: int = 500, seed: int = 0) -> dict:
    """Test-set predictions for all reviews, and saturation and memory reach on a random sample."""
    keep, proba = predict_split(model, test)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(keep), size=min(sample, len(keep)), replace=False))
    encoded = [model.encode(test.texts[keep[i]])[1] for i in pick]
    gates: dict[str, list[np.ndarray]] = {}
    for a in range(0, len(encoded), 64):
        for r in trace_ids(model.module, encoded[a:a + 64]):
            for name, v in r["gates"].items():
                gates.setdefault(name, []).append(v)
    saturation = {}
    for name, chunks in gates.items():
        if name not in SIGMOID_GATES:
            continue  # tanh outputs and the cell state have no [0, 1] saturation
        left, right = saturation_fractions(np.concatenate(chunks))
        saturation[name] = {"left": left.round(5).tolist(), "right": right.round(5).tolist()}
    mean, count = mean_by_distance(gradient_by_position(model, encoded))
    return {
        "test_ids_sha256": ids_digest([test.ids[i] for i in keep]),
        "test_labels": test.labels[keep].astype(int).tolist(),
        "test_proba": np.round(proba, 6).tolist(),
        "sample_size": len(pick),
        "sample_seed": seed,
        "saturation_thresholds": [SATURATED_LOW, SATURATED_HIGH],
        "saturation": saturation,
        "gradient_by_distance": {"mean": [None if np.isnan(v) else float(v) for v in mean],
                                 "count": count.astype(int).tolist()},
    }


def write_stats(model: SentimentModel, test: Split, sample: int = 500, seed: int = 0) -> Path:
    """Compute and write ``stats.json`` atomically into the model's folder."""
    if model.path is None:
        raise ValueError("the model has no folder to write to")
    path = Path(model.path) / STATS_FILE
    write_json_atomic(path, compute_stats(model, test, sample, seed))
    return path


def read_stats(folder: str | os.PathLike) -> dict | None:
    """The stored statistics, or None when they are missing or unreadable."""
    try:
        data = json.loads((Path(folder) / STATS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "test_proba" in data else None
