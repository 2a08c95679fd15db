"""The real model's loss surface: slices along one weight or along random directions.

Every function works on a private copy of the module (``session_copy``), so the
shared, cached model is never changed. Directions are filter-normalised as in
Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets": each row of a
random direction is rescaled to the norm of the matching row of the weights
(biases get no component).
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..archs import ARCHS
from ..data import Split
from ..i18n import N_, _
from ..model import SentimentRNN
from ..predictor import SentimentModel
from ..text import pad_sequences


class Batch:
    """A fixed batch of reviews (their last ``words`` words) with labels."""

    def __init__(self, ids: torch.Tensor, labels: torch.Tensor):
        self.ids, self.labels = ids, labels

    def __len__(self) -> int:
        return len(self.labels)


def fixed_batch(model: SentimentModel, split: Split, n: int = 64, words: int = 100, seed: int = 0) -> Batch:
    """``n`` random reviews (seeded) of ``split``, each cut to its last ``words`` words."""
    rng = np.random.default_rng(seed)
    pick = rng.choice([i for i, t in enumerate(split.tokens) if t], size=n, replace=False)
    seqs = [np.asarray(model.vocab.encode(split.tokens[i][-words:])) for i in pick]
    ids = torch.from_numpy(pad_sequences(seqs, max(len(s) for s in seqs)))
    return Batch(ids, torch.from_numpy(split.labels[pick].astype(np.float64)))


def session_copy(model: SentimentModel, dtype: torch.dtype = torch.float64) -> SentimentRNN:
    """A private copy of the module to perturb, by default in float64 so that finite differences
    of the loss are accurate enough to check the autograd slope against."""
    module = copy.deepcopy(model.module).to(dtype)
    module.eval()
    return module


def loss(module: SentimentRNN, batch: Batch) -> float:
    with torch.no_grad():
        return float(nn.functional.binary_cross_entropy_with_logits(module(batch.ids), batch.labels))


def parameter(module: SentimentRNN, name: str) -> torch.Tensor:
    return dict(module.named_parameters())[name]


def weight_slice(module: SentimentRNN, name: str, index: tuple[int, ...], offsets: np.ndarray,
                 batch: Batch) -> np.ndarray:
    """Loss with one weight moved to w + offset, for each offset (the weight is restored after)."""
    p = parameter(module, name)
    w0 = float(p.data[index])
    out = []
    try:
        for o in offsets:
            p.data[index] = w0 + float(o)
            out.append(loss(module, batch))
    finally:
        p.data[index] = w0
    return np.asarray(out)


def _loss_and_grad(module: SentimentRNN, p: torch.Tensor, batch: Batch) -> tuple[float, torch.Tensor]:
    """Loss on the batch and its gradient for ``p`` alone (gradients on for ``p`` only, and off again)."""
    p.requires_grad_(True)
    try:
        l = nn.functional.binary_cross_entropy_with_logits(module(batch.ids), batch.labels)
        (g,) = torch.autograd.grad(l, p)
    finally:
        p.requires_grad_(False)
    return float(l.detach()), g


FD_STEP = 1e-5  # h of the central finite difference, in float64
SLOPE_RTOL = 1e-6  # autograd's own share of the tolerance, relative to max(1, |slope|)


def weight_slope(module: SentimentRNN, name: str, index: tuple[int, ...], value: float, batch: Batch,
                 h: float = FD_STEP, fd: bool = True) -> tuple[float, float, float]:
    """(loss, autograd slope, central finite-difference slope) with the weight set to ``value``.

    ``fd=False`` skips the two extra forward passes of the finite difference (returned as NaN).
    """
    p = parameter(module, name)
    w0 = float(p.data[index])
    try:
        p.data[index] = value
        l, g = _loss_and_grad(module, p, batch)
    finally:
        p.data[index] = w0
    return l, float(g[index]), central_difference(module, name, index, value, batch, h) if fd else float("nan")


def central_difference(module: SentimentRNN, name: str, index: tuple[int, ...], value: float, batch: Batch,
                       h: float = FD_STEP) -> float:
    """(L(value + h) − L(value − h)) / 2h along one weight (restored after)."""
    p = parameter(module, name)
    w0 = float(p.data[index])
    try:
        p.data[index] = value + h
        up = loss(module, batch)
        p.data[index] = value - h
        return (up - loss(module, batch)) / (2 * h)
    finally:
        p.data[index] = w0


def slope_check(auto: float, fd: float, fd_2h: float, loss_value: float, h: float = FD_STEP) -> dict:
    """Do the autograd slope and the central finite difference FD(h) agree, and by what standard?

    The tolerance is the finite difference's own error estimate plus a small share for autograd:
    truncation |FD(h) − FD(2h)| (its error is O(h²), so this is about three times FD(h)'s truncation
    error), rounding 4·ε·|L|/h (float64 ε; each loss is off by about ε·|L|, divided by 2h), and
    SLOPE_RTOL·max(1, |autograd|).
    """
    truncation = abs(fd - fd_2h)
    rounding = 4 * np.finfo(np.float64).eps * abs(loss_value) / h
    tolerance = truncation + rounding + SLOPE_RTOL * max(1.0, abs(auto))
    difference = abs(auto - fd)
    return {"difference": difference, "tolerance": tolerance, "truncation": truncation, "rounding": rounding,
            "agree": bool(difference <= tolerance)}


def descend_weight(module: SentimentRNN, name: str, index: tuple[int, ...], start: float, alpha: float,
                   steps: int, batch: Batch) -> list[dict]:
    """Gradient descent on one weight (all others fixed): θ_k, loss, slope for k = 0..N."""
    theta = start
    out = []
    for k in range(steps + 1):
        l, slope, _fd = weight_slope(module, name, index, theta, batch, fd=False)
        out.append({"step": k, "theta": theta, "loss": l, "slope": slope})
        if not np.isfinite(l) or abs(theta) > 1e4:
            break
        theta = theta - alpha * slope
    return out


def steepest_entry(module: SentimentRNN, name: str, batch: Batch, rows: slice | None = None) -> tuple[int, int]:
    """Index of the entry of a weight matrix (within ``rows``) with the largest |∂loss/∂w|."""
    _loss, g = _loss_and_grad(module, parameter(module, name), batch)
    g = g.abs()
    offset = 0
    if rows is not None:
        offset = rows.start or 0
        g = g[rows]
    r, c = divmod(int(g.argmax()), g.shape[1])
    return r + offset, c


def random_direction(module: SentimentRNN, seed: int) -> dict[str, torch.Tensor]:
    """A filter-normalised Gaussian direction: each row scaled to the norm of the weights' row."""
    g = torch.Generator().manual_seed(seed)
    direction = {}
    for name, p in module.named_parameters():
        if p.dim() < 2:
            direction[name] = torch.zeros_like(p)  # biases: no component (Li et al. 2018)
            continue
        d = torch.randn(p.shape, generator=g)
        d = d / d.norm(dim=1, keepdim=True).clamp_min(1e-12) * p.detach().norm(dim=1, keepdim=True)
        direction[name] = d
    return direction


def direction_slice(module: SentimentRNN, directions: list[dict[str, torch.Tensor]],
                    coords: list[tuple[float, ...]], batch: Batch) -> np.ndarray:
    """Loss at w + Σ a_i·d_i for each coordinate tuple (weights restored after)."""
    params = dict(module.named_parameters())
    saved = {n: p.detach().clone() for n, p in params.items()}
    out = []
    try:
        for c in coords:
            for n, p in params.items():
                p.data.copy_(saved[n])
                for a, d in zip(c, directions):
                    p.data.add_(d[n], alpha=float(a))
            out.append(loss(module, batch))
    finally:
        for n, p in params.items():
            p.data.copy_(saved[n])
    return np.asarray(out)


WEIGHT_KINDS = (("rnn.weight_hh_l0", N_("{block}: recurrent weights W_h·")),
                ("rnn.weight_ih_l0", N_("{block}: input weights W_i·")))


def _weight_blocks(module: SentimentRNN) -> list[tuple[str, str, slice, str, str]]:
    """(label, parameter name, rows, label template, block) for each gate's recurrent and input weight matrix."""
    h = module.rnn.hidden_size
    return [(template.format(block=label), pname, slice(b * h, (b + 1) * h), template, label)
            for pname, template in WEIGHT_KINDS for b, label in enumerate(ARCHS[module.arch].block_labels)]


def weight_blocks(module: SentimentRNN) -> dict[str, tuple[str, slice]]:
    """Label (stable, English) -> (parameter name, rows) for each gate's recurrent and input weight matrix."""
    return {key: (pname, rows) for key, pname, rows, _template, _block in _weight_blocks(module)}


def weight_block_titles(module: SentimentRNN) -> dict[str, str]:
    """Label (as ``weight_blocks`` keys them) -> the same label in the interface's language."""
    return {key: _(template).format(block=_(block)) for key, _pname, _rows, template, block in _weight_blocks(module)}


def weight_section(module: SentimentRNN, batch: Batch, name: str, index: tuple[int, ...], start: float,
                   alpha: float, steps: int) -> dict:
    """Everything the one-weight view shows: the loss along the weight (trained value ± 3), the
    descent from ``start`` (an offset from the trained value), both slopes at its last point, and
    whether they agree (``slope_check``)."""
    w0 = float(parameter(module, name).data[index])
    offsets = np.linspace(-3.0, 3.0, 41)  # offsets[20] == 0.0 exactly: the trained weight
    losses = weight_slice(module, name, index, offsets, batch)
    trail = descend_weight(module, name, index, w0 + start, alpha, steps, batch)
    theta = trail[-1]["theta"]
    l, auto, fd = weight_slope(module, name, index, theta, batch)
    fd_2h = central_difference(module, name, index, theta, batch, 2 * FD_STEP)  # no second backward pass
    return {"w0": w0, "offsets": offsets, "losses": losses, "path": trail, "slopes": (l, auto, fd),
            "check": slope_check(auto, fd, fd_2h, l), "loss0": float(losses[20])}


def surface_frame(module: SentimentRNN, batch: Batch, seed1: int, seed2: int, points: int = 11) -> pd.DataFrame:
    """Loss on a ``points`` × ``points`` grid over [-1, 1]² along two random filter-normalised directions."""
    dirs = [random_direction(module, seed1), random_direction(module, seed2)]
    grid = np.linspace(-1.0, 1.0, points)
    values = direction_slice(module, dirs, [(a, b) for b in grid for a in grid], batch)
    return pd.DataFrame({"a": np.tile(grid, points), "b": np.repeat(grid, points), "loss": values})
