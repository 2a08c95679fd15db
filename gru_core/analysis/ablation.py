"""What breaks without a unit: test-set accuracy with units ablated (h_k := 0 at every word).

Setting h_k := 0 at every step is exactly zeroing column k of the recurrent
matrix ``weight_hh_l0`` and entry k of the output layer: unit k's own value
then never reaches another unit's next step nor the verdict, and every other
unit computes what it would have with h_k = 0 (a unit's value only feeds its
own next state through those two places; tested against ``cell.run`` with the
edit h_k := 0). Done on a copy of the module, so the fast native kernel runs
and the shared model is never touched.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..model import SentimentRNN
from ..predictor import SentimentModel

KS = (1, 2, 5, 10, 20)
DRAWS = 5


def ablated_module(module: SentimentRNN, units: Sequence[int]) -> SentimentRNN:
    """A copy of ``module`` in which the hidden units ``units`` are silenced (h_k := 0 at every word)."""
    out = copy.deepcopy(module)
    idx = torch.as_tensor(list(units), dtype=torch.long)
    with torch.no_grad():
        out.rnn.weight_hh_l0[:, idx] = 0.0
        out.dense.weight[:, idx] = 0.0
    return out


def ablated_proba(model: SentimentModel, seqs: list[np.ndarray], units: Sequence[int]) -> np.ndarray:
    """P(positive) for each id sequence with ``units`` ablated (none: the model's own predictions)."""
    if not len(units):
        return model.predict_ids(seqs)
    twin = SentimentModel(ablated_module(model.module, units), model.vocab, model.config)
    return twin.predict_ids(seqs)


def accuracy(proba: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((np.asarray(proba) > 0.5) == np.asarray(labels).astype(bool)))


def top_units(scores: np.ndarray, k: int) -> tuple[int, ...]:
    """The ``k`` units with the largest |score| (output weight, label correlation...), largest first;
    NaN (a unit that never varies has no correlation) counts as the smallest, ties go to the lower index."""
    size = np.nan_to_num(np.abs(np.asarray(scores, dtype=np.float64)), nan=-1.0)
    return tuple(int(u) for u in np.argsort(-size, kind="stable")[:max(int(k), 0)])


def ablation_study(model: SentimentModel, seqs: list[np.ndarray], labels: np.ndarray, correlation: np.ndarray,
                   weights: np.ndarray, ks: Sequence[int] = KS, draws: int = DRAWS, seed: int = 0,
                   baseline: float | None = None,
                   progress: Callable[[str], None] | None = None) -> dict:
    """Accuracy with the top-k units by |label correlation|, by |output weight|, and k random units ablated.

    Returns ``{"by_correlation": {k: acc}, "by_weight": {k: acc}, "random": {k: [mean, std]},
    "baseline": acc, "random_draws": draws, "ks": [...], "units": {...}}`` (keys of the
    per-k maps are strings, as JSON needs). ``baseline`` (accuracy with nothing ablated)
    is measured unless given.
    """
    hidden = model.module.rnn.hidden_size
    ks = [k for k in ks if 1 <= k <= hidden]
    say = progress or (lambda _msg: None)
    rng = np.random.default_rng(seed)
    out: dict = {"ks": ks, "random_draws": draws, "random_seed": seed,
                 "by_correlation": {}, "by_weight": {}, "random": {}, "units": {"by_correlation": {}, "by_weight": {}}}
    out["baseline"] = baseline if baseline is not None else accuracy(model.predict_ids(seqs), labels)
    for name, scores in (("by_correlation", correlation), ("by_weight", weights)):
        for k in ks:
            say(f"ablating the top {k} units {name.replace('_', ' ')}")
            units = top_units(scores, k)
            out[name][str(k)] = accuracy(ablated_proba(model, seqs, units), labels)
            out["units"][name][str(k)] = list(units)
    for k in ks:
        accs = []
        for d in range(draws):
            say(f"ablating {k} random units (draw {d + 1}/{draws})")
            units = sorted(int(u) for u in rng.choice(hidden, size=k, replace=False))
            accs.append(accuracy(ablated_proba(model, seqs, units), labels))
        out["random"][str(k)] = [float(np.mean(accs)), float(np.std(accs))]
    return out
