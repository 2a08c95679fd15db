"""Classification metrics for a model on a labelled set."""
from __future__ import annotations

import numpy as np


def classification_metrics(labels: np.ndarray, proba: np.ndarray, threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall, F1 (positive class) and the confusion matrix.

    ``confusion`` is [[TN, FP], [FN, TP]] (rows: true neg/pos, columns: predicted).
    """
    y = np.asarray(labels).astype(bool)
    p = np.asarray(proba) > threshold
    tp = int(np.sum(y & p))
    tn = int(np.sum(~y & ~p))
    fp = int(np.sum(~y & p))
    fn = int(np.sum(y & ~p))
    n = tp + tn + fp + fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n": n,
        "accuracy": (tp + tn) / n if n else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "confusion": [[tn, fp], [fn, tp]],
    }
