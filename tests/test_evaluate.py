"""classification_metrics (gru_core/evaluate.py) on hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from gru_core.evaluate import classification_metrics


def test_hand_computed_example():
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 1])
    proba = np.array([0.9, 0.8, 0.3, 0.6, 0.1, 0.7, 0.2, 0.4, 0.55, 0.2])
    # predicted positive (> 0.5): idx 0, 1, 3, 5, 8
    # TP = 0, 1, 3 -> 3; FP = 5, 8 -> 2; FN = 2, 9 -> 2; TN = 4, 6, 7 -> 3
    m = classification_metrics(labels, proba)
    assert m["n"] == 10
    assert m["confusion"] == [[3, 2], [2, 3]]
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["precision"] == pytest.approx(3 / 5)
    assert m["recall"] == pytest.approx(3 / 5)
    assert m["f1"] == pytest.approx(0.6)


def test_asymmetric_example():
    labels = [1, 1, 1, 0, 0, 0, 0, 0]
    proba = [0.9, 0.2, 0.3, 0.6, 0.1, 0.1, 0.1, 0.1]
    # TP 1, FN 2, FP 1, TN 4
    m = classification_metrics(np.array(labels), np.array(proba))
    assert m["confusion"] == [[4, 1], [2, 1]]
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["precision"] == pytest.approx(1 / 2)
    assert m["recall"] == pytest.approx(1 / 3)
    assert m["f1"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))  # 0.4


def test_threshold_is_strict_and_configurable():
    labels = np.array([1, 0])
    m = classification_metrics(labels, np.array([0.5, 0.5]))
    assert m["confusion"] == [[1, 0], [1, 0]]  # 0.5 is not > 0.5: both negative
    m = classification_metrics(labels, np.array([0.5, 0.2]), threshold=0.3)
    assert m["confusion"] == [[1, 0], [0, 1]]
    assert m["accuracy"] == 1.0 and m["f1"] == 1.0


def test_no_positives_predicted():
    m = classification_metrics(np.array([1, 0, 1, 0]), np.array([0.1, 0.2, 0.3, 0.4]))
    assert m["confusion"] == [[2, 0], [2, 0]]
    assert m["accuracy"] == 0.5
    assert m["precision"] == 0.0 and m["recall"] == 0.0 and m["f1"] == 0.0


def test_no_positive_labels():
    m = classification_metrics(np.array([0, 0, 0]), np.array([0.9, 0.1, 0.2]))
    assert m["confusion"] == [[2, 1], [0, 0]]
    assert m["precision"] == 0.0 and m["recall"] == 0.0 and m["f1"] == 0.0
    assert m["accuracy"] == pytest.approx(2 / 3)


def test_all_correct():
    m = classification_metrics(np.array([1, 0, 1]), np.array([0.99, 0.01, 0.51]))
    assert m["confusion"] == [[1, 0], [0, 2]]
    assert m["accuracy"] == m["precision"] == m["recall"] == m["f1"] == 1.0


def test_empty_input():
    m = classification_metrics(np.array([], dtype=int), np.array([]))
    assert m["n"] == 0 and m["accuracy"] == 0.0 and m["confusion"] == [[0, 0], [0, 0]]


def test_result_is_json_serialisable():
    import json

    m = classification_metrics(np.array([1, 0]), np.array([0.7, 0.2], dtype=np.float32))
    json.dumps(m)
    assert all(isinstance(x, int) for row in m["confusion"] for x in row)
