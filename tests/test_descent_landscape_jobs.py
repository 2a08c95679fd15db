"""Toy gradient descent (descent.py), the real model's loss surface (landscape.py) and
dashboard training requests (jobs.check_request), on toy costs and tiny models."""
from __future__ import annotations

import dataclasses
import math
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from gru_core import descent
from gru_core.analysis import landscape
from gru_core.archs import NAMES
from gru_core.data import Split
from gru_core.jobs import runs as jobs
from gru_core.model import SentimentRNN
from gru_core.predictor import SentimentModel
from gru_core.text import PAD_ID, tokenize
from gru_core.train import TrainConfig

from .tiny import WORDS, clone_state, same_state, tiny_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The models here are tiny: a second intra-op thread only adds overhead, and on a busy
    2-core machine it makes each float64 forward pass ~50x slower. Restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# =========================================================================== descent: costs


def test_log_alphas_are_evenly_spaced_on_a_log_axis():
    a = descent.log_alphas()
    assert a[0] == 1e-4 and a[-1] == 3.2 and len(a) == 46  # 10^-4 … 10^0.5, ten per decade
    np.testing.assert_allclose(np.log10(a), np.arange(-40, 6) / 10, atol=0.015)  # 2 significant figures
    assert a == sorted(set(a)) and {1e-3, 0.01, 0.1, 0.5, 1.0, 2.0} <= set(a)
    assert descent.log_alphas(-1, 0, 2) == [0.1, 0.32, 1.0]


@pytest.mark.parametrize("slope, expect", [(2.0, ("positive", "decrease θ")), (-1e-300, ("negative", "increase θ")),
                                           (0.0, ("zero", "stay")), (-0.0, ("zero", "stay"))])
def test_slope_sign_reports_zero_as_zero(slope, expect):
    assert descent.slope_sign(slope) == expect


def test_bowl_at_alpha_one_half_has_slope_exactly_zero_after_one_step():
    bowl = descent.COSTS_1D["convex bowl"]
    thetas = descent.descend_1d(bowl.df, 5.0, 0.5, 3)
    assert thetas[1] == 1.0 and bowl.df(thetas[1]) == 0.0  # 5 − 0.5·2·(5 − 1) = 1
    assert descent.slope_sign(bowl.df(thetas[1]))[0] == "zero"


@pytest.mark.parametrize("name", list(descent.COSTS_1D))
def test_cost_1d_derivative_is_the_finite_difference(name):
    c = descent.COSTS_1D[name]
    h = 1e-5
    lo, hi = c.domain
    assert lo < c.start < hi
    for t in np.linspace(lo, hi, 97):
        fd = (c.f(t + h) - c.f(t - h)) / (2 * h)
        assert c.df(t) == pytest.approx(fd, rel=1e-6, abs=1e-7), t


def test_cost_1d_minima_are_where_the_notes_say():
    bowl = descent.COSTS_1D["convex bowl"]
    assert bowl.df(1.0) == 0 and bowl.f(1.0) == 0.5
    two = descent.COSTS_1D["local and global minimum"]
    for t in (2.07, -2.37):
        assert abs(two.df(t)) < 0.01
    assert two.f(-2.37) < two.f(2.07)
    assert descent.COSTS_1D["flat plateau"].df(1.0) == 0


@pytest.mark.parametrize("name", list(descent.COSTS_2D))
def test_cost_2d_gradient_is_the_numeric_gradient(name):
    c = descent.COSTS_2D[name]
    rng = np.random.default_rng(0)
    (a0, b0), (a1, b1) = c.domain
    points = np.column_stack([rng.uniform(a0, b0, 40), rng.uniform(a1, b1, 40)])
    points = np.vstack([points, c.start, c.minimum])
    for t in points:
        g = c.grad(t)
        assert g.shape == (2,)
        np.testing.assert_allclose(g, descent.numeric_grad(c.f, t), rtol=1e-5, atol=1e-4, err_msg=str(t))
    np.testing.assert_allclose(c.grad(np.asarray(c.minimum)), 0.0, atol=1e-9)


def test_numeric_grad_of_a_known_function():
    f = lambda t: float(t[0] ** 2 * t[1] + 3 * t[1])
    np.testing.assert_allclose(descent.numeric_grad(f, np.array([2.0, -1.0])), [-4.0, 7.0], rtol=1e-7)


# =========================================================================== descent: 1-D runs

BOWL = descent.COSTS_1D["convex bowl"]
PLATEAU = descent.COSTS_1D["flat plateau"]


def _run(cost, alpha, steps, theta0=None):
    thetas = descent.descend_1d(cost.df, cost.start if theta0 is None else theta0, alpha, steps)
    with np.errstate(over="ignore", invalid="ignore"):
        costs = np.array([cost.f(t) for t in thetas])
        slopes = np.array([cost.df(t) for t in thetas])
    return thetas, descent.diagnose(thetas, costs, slopes)


def test_descend_1d_first_steps_by_hand():
    thetas = descent.descend_1d(BOWL.df, 5.0, 0.1, 3)
    # θ1 = 5 − 0.1·2·(5 − 1) = 4.2; θ2 = 4.2 − 0.1·2·3.2 = 3.56; θ3 = 3.56 − 0.1·2·2.56 = 3.048
    np.testing.assert_allclose(thetas, [5.0, 4.2, 3.56, 3.048], rtol=1e-14)
    thetas = descent.descend_1d(BOWL.df, -2.0, 0.25, 2)
    np.testing.assert_allclose(thetas, [-2.0, -0.5, 0.25], rtol=1e-14)  # halves the distance to 1
    assert len(descent.descend_1d(BOWL.df, 5.0, 0.1, 0)) == 1


def test_descend_1d_stops_early_and_marks_divergence():
    # α = 3: θ − 1 is multiplied by (1 − 2α) = −5 each step: 4, −20, 100, −500, 2500
    thetas = descent.descend_1d(BOWL.df, 5.0, 3.0, 50, limit=1e3)
    np.testing.assert_allclose(thetas, [5.0, -19.0, 101.0, -499.0, 1e3])
    thetas = descent.descend_1d(BOWL.df, -3.0, 3.0, 50, limit=1e3)  # −4 → 20 → −100 → 500 → −2500
    assert thetas[-1] == -1e3 and len(thetas) == 5
    # default limit 1e6: 4·5^8 > 1e6 at step 8
    thetas = descent.descend_1d(BOWL.df, 5.0, 3.0, 100)
    assert len(thetas) == 9 and thetas[-1] == 1e6
    # a slope that is not a number ends the run with NaN
    thetas = descent.descend_1d(lambda t: float("nan"), 1.0, 0.1, 10)
    assert len(thetas) == 2 and np.isnan(thetas[-1])


def test_diagnose_converged_at_the_right_step():
    thetas, d = _run(BOWL, 0.1, 200)
    # independently: θ_k − 1 = 4·0.8^k, so |Δθ_k| = 0.8·0.8^(k−1) = 0.8^k and slope_k = 8·0.8^k
    expect = next(k for k in range(1, 200)
                  if abs(4 * 0.8 ** k - 4 * 0.8 ** (k - 1)) < 1e-4 and abs(8 * 0.8 ** k) < 1e-2)
    assert expect == 42
    assert d.status == "converged" and d.step == expect
    assert f"step {expect}" in d.message
    assert abs(thetas[expect] - 1) < 1e-3


@pytest.mark.parametrize("alpha", [1.5, 3.0])
@pytest.mark.parametrize("steps", [8, 100])
def test_diagnose_diverged(alpha, steps):
    thetas, d = _run(BOWL, alpha, steps)
    assert d.status == "diverged" and "Diverg" in d.message
    assert d.step is not None and 1 <= d.step <= len(thetas) - 1
    if steps == 100:  # blew up: θ was clipped at the limit on the last step
        assert abs(thetas[-1]) == 1e6 and d.step == len(thetas) - 1


def test_diagnose_oscillating_crawling_and_no_steps():
    _, d = _run(BOWL, 0.99, 50)
    assert d.status == "oscillating" and d.step is None and "Oscillat" in d.message
    thetas, d = _run(PLATEAU, 1e-4, 50)
    assert d.status == "crawling" and "Crawl" in d.message
    assert abs(thetas[-1] - PLATEAU.start) < 1e-2
    d = descent.diagnose(np.array([5.0]), np.array([BOWL.f(5.0)]), np.array([BOWL.df(5.0)]))
    assert d.step is None and "No steps" in d.message


def test_diagnose_still_descending():
    _, d = _run(BOWL, 0.01, 10)
    assert d.status == "descending" and d.step is None


# =========================================================================== descent: optimizers


def test_gd_step_one_and_two_steps():
    theta = np.array([1.0, 2.0])
    state: dict = {}
    t1 = descent.gd_step(theta, np.array([0.5, -1.0]), state, 0.1)
    np.testing.assert_allclose(t1, [0.95, 2.1], rtol=1e-15)
    t2 = descent.gd_step(t1, np.array([2.0, 3.0]), state, 0.1)
    np.testing.assert_allclose(t2, [0.75, 1.8], rtol=1e-14)
    assert state == {} and theta.tolist() == [1.0, 2.0]


def test_momentum_step_one_and_two_steps():
    theta = np.array([1.0, 2.0])
    g1, g2 = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    state: dict = {}
    t1 = descent.momentum_step(theta, g1, state, 0.1)  # v = g1
    np.testing.assert_allclose(t1, [0.95, 2.1], rtol=1e-15)
    np.testing.assert_allclose(state["v"], [0.5, -1.0])
    t2 = descent.momentum_step(t1, g2, state, 0.1)  # v = 0.9·g1 + g2 = [2.45, 2.1]
    np.testing.assert_allclose(state["v"], [2.45, 2.1], rtol=1e-15)
    np.testing.assert_allclose(t2, [0.95 - 0.245, 2.1 - 0.21], rtol=1e-14)
    state = {}
    descent.momentum_step(theta, g1, state, 0.1, beta=0.5)
    t2 = descent.momentum_step(t1, g2, state, 0.1, beta=0.5)  # v = [2.25, 2.5]
    np.testing.assert_allclose(t2, [0.95 - 0.225, 2.1 - 0.25], rtol=1e-14)


def test_adam_step_one_and_two_steps():
    theta = np.array([1.0, 2.0, -3.0])
    g1 = np.array([2.0, -0.5, 1e-3])
    g2 = np.array([1.0, 1.0, -2.0])
    alpha, eps = 0.01, 1e-8
    state: dict = {}
    t1 = descent.adam_step(theta, g1, state, alpha)
    # step 1: m̂ = g, v̂ = g², so the update is α·g/(|g| + eps) ≈ α·sign(g)
    np.testing.assert_allclose(t1, theta - alpha * g1 / (np.abs(g1) + eps), rtol=1e-13)
    np.testing.assert_allclose(t1, theta - alpha * np.sign(g1), rtol=1e-6)
    assert state["t"] == 1
    np.testing.assert_allclose(state["m"], 0.1 * g1, rtol=1e-14)
    np.testing.assert_allclose(state["v"], 0.001 * g1 ** 2, rtol=1e-12)
    t2 = descent.adam_step(t1, g2, state, alpha)
    m = 0.9 * 0.1 * g1 + 0.1 * g2
    v = 0.999 * 0.001 * g1 ** 2 + 0.001 * g2 ** 2
    m_hat, v_hat = m / (1 - 0.81), v / (1 - 0.998001)
    np.testing.assert_allclose(t2, t1 - alpha * m_hat / (np.sqrt(v_hat) + eps), rtol=1e-12)
    assert state["t"] == 2
    np.testing.assert_allclose(state["m"], m, rtol=1e-13)
    np.testing.assert_allclose(state["v"], v, rtol=1e-12)
    # e.g. the first entry by hand: m = 0.09·2 + 0.1·1 = 0.28, v = 0.000999·4 + 0.001·1 = 0.004996
    assert t2[0] == pytest.approx(t1[0] - 0.01 * (0.28 / 0.19) / math.sqrt(0.004996 / 0.001999), rel=1e-9)


TORCH_OPTIMIZERS = {  # what each name on the page means, as PyTorch implements it
    "gradient descent": lambda p, lr: torch.optim.SGD(p, lr=lr),
    "momentum": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
    "Adam": lambda p, lr: torch.optim.Adam(p, lr=lr),
}


@pytest.mark.parametrize("opt", list(TORCH_OPTIMIZERS))
def test_each_optimizer_follows_pytorchs(opt):
    """20 steps on J = (θ0 − 1)² + 10·θ1² + θ0·θ1 from (−1.5, 2): the same path as torch.optim."""
    assert list(descent.OPTIMIZERS) == list(TORCH_OPTIMIZERS)

    def cost(t):
        return (t[0] - 1) ** 2 + 10 * t[1] ** 2 + t[0] * t[1]

    def grad(t):
        return np.array([2 * (t[0] - 1) + t[1], 20 * t[1] + t[0]])

    ours = descent.optimize(descent.OPTIMIZERS[opt], grad, np.array([-1.5, 2.0]), 0.02, 20)
    p = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    native = TORCH_OPTIMIZERS[opt]([p], 0.02)
    theirs = [p.detach().numpy().copy()]
    for _ in range(20):
        native.zero_grad()
        cost(p).backward()
        native.step()
        theirs.append(p.detach().numpy().copy())
    np.testing.assert_allclose(ours, np.array(theirs), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("opt", list(descent.OPTIMIZERS))
@pytest.mark.parametrize("name", list(descent.COSTS_2D))
def test_optimize_paths(opt, name):
    c = descent.COSTS_2D[name]
    step = descent.OPTIMIZERS[opt]
    alpha = 1e-3 if name == "Rosenbrock" and opt != "Adam" else 0.01
    path = descent.optimize(step, c.grad, np.array(c.start), alpha, 25)
    assert path.shape == (26, 2)
    np.testing.assert_array_equal(path[0], c.start)
    # the first step, from a fresh state, by hand
    g = c.grad(np.array(c.start))
    first = {"gradient descent": np.array(c.start) - alpha * g,
             "momentum": np.array(c.start) - alpha * g,
             "Adam": np.array(c.start) - alpha * g / (np.abs(g) + 1e-8)}[opt]
    np.testing.assert_allclose(path[1], first, rtol=1e-12)
    # replaying the steps gives the same path
    state: dict = {}
    theta = np.array(c.start, float)
    for k in range(1, 26):
        theta = step(theta, c.grad(theta), state, alpha)
        np.testing.assert_allclose(path[k], theta, rtol=1e-12)
    assert c.f(path[-1]) < c.f(path[0])


def test_optimize_stops_early_and_clips_on_blow_up():
    c = descent.COSTS_2D["bowl with unequal curvature"]
    # α = 1: θ0 → 0 at once; θ1 is multiplied by (1 − 10) = −9 each step
    path = descent.optimize(descent.gd_step, c.grad, np.array(c.start), 1.0, 100)
    assert path.shape == (8, 2)  # 1.5·9^6 ≈ 8.0e5 is still inside, 1.5·9^7 ≈ 7.2e6 is not
    np.testing.assert_allclose(path[1:, 0], 0.0)
    np.testing.assert_allclose(path[1:-1, 1], 1.5 * (-9.0) ** np.arange(1, 7))
    np.testing.assert_array_equal(path[-1], [0.0, -1e6])
    path = descent.optimize(descent.gd_step, c.grad, np.array(c.start), 1.0, 100, limit=100.0)
    assert path.shape == (3, 2)  # 1.5 → −13.5 → 121.5, clipped to 100
    np.testing.assert_array_equal(path[-1], [0.0, 100.0])
    # non-finite parameters are replaced and clipped
    path = descent.optimize(descent.gd_step, lambda t: np.array([np.nan, np.inf]), np.zeros(2), 0.1, 10, limit=5.0)
    assert path.shape == (2, 2)
    assert np.all(np.isfinite(path)) and np.all(np.abs(path[-1]) == 5.0)


def test_grid_values():
    c = descent.COSTS_2D["Rosenbrock"]
    x, y, z = descent.grid_values(c.f, c.domain, 7)
    assert x.shape == (7,) and y.shape == (7,) and z.shape == (7, 7)
    np.testing.assert_allclose(x, np.linspace(-2, 2, 7))
    np.testing.assert_allclose(y, np.linspace(-1, 3, 7))
    for j in range(7):
        for i in range(7):
            assert z[j, i] == c.f(np.array([x[i], y[j]]))  # rows are θ1, columns θ0
    assert descent.grid_values(c.f, c.domain)[2].shape == (60, 60)


# =========================================================================== descent: frames


@pytest.mark.parametrize("name", list(descent.COSTS_1D))
def test_curve_path_and_tangent_frames(name):
    c = descent.COSTS_1D[name]
    df = descent.curve_frame(c, 50)
    assert list(df.columns) == ["theta", "J"] and len(df) == 50
    np.testing.assert_allclose(df["theta"], np.linspace(*c.domain, 50))
    np.testing.assert_allclose(df["J"], [c.f(t) for t in df["theta"]])
    assert len(descent.curve_frame(c)) == 300

    thetas = descent.descend_1d(c.df, c.start, 0.1, 12)
    df = descent.path_frame(c, thetas)
    assert list(df.columns) == ["step", "theta", "J"] and len(df) == 13
    assert df["step"].tolist() == list(range(13))
    np.testing.assert_array_equal(df["theta"], thetas)
    np.testing.assert_allclose(df["J"], [c.f(t) for t in thetas])

    width = (c.domain[1] - c.domain[0]) / 6
    for theta in (c.start, 0.3, c.domain[0] + 1):
        df = descent.tangent_frame(c, theta)
        assert list(df.columns) == ["theta", "J"] and len(df) == 2
        np.testing.assert_allclose(df["theta"], [theta - width, theta + width])
        (t0, t1), (j0, j1) = df["theta"].to_numpy(), df["J"].to_numpy()
        assert (j1 - j0) / (t1 - t0) == pytest.approx(c.df(theta), rel=1e-9, abs=1e-12)  # slope J'(θ)
        assert (j0 + j1) / 2 == pytest.approx(c.f(theta), rel=1e-12, abs=1e-12)  # touches the curve at θ
        df = descent.tangent_frame(c, theta, half_width=0.5)
        np.testing.assert_allclose(df["theta"], [theta - 0.5, theta + 0.5])
        np.testing.assert_allclose(df["J"], [c.f(theta) - 0.5 * c.df(theta), c.f(theta) + 0.5 * c.df(theta)])


def test_path_frame_of_a_diverged_run_keeps_every_row():
    thetas = descent.descend_1d(BOWL.df, 5.0, 3.0, 100)
    df = descent.path_frame(BOWL, np.append(thetas, np.nan))
    assert len(df) == len(thetas) + 1 and np.isnan(df["J"].iloc[-1])


@pytest.mark.parametrize("name", list(descent.COSTS_2D))
def test_grid_and_paths_frames(name):
    c = descent.COSTS_2D[name]
    df = descent.grid_frame(c, 9)
    assert list(df.columns) == ["t0", "t1", "logJ"] and len(df) == 81
    x, y, _ = descent.grid_values(c.f, c.domain, 9)
    row = df.iloc[2 * 9 + 5]  # θ1 = y[2], θ0 = x[5]
    assert (row["t0"], row["t1"]) == (x[5], y[2])
    assert row["logJ"] == pytest.approx(np.log10(c.f(np.array([x[5], y[2]])) + 1e-12))
    assert sorted(set(df["t0"])) == sorted(x) and sorted(set(df["t1"])) == sorted(y)

    paths = {opt: descent.optimize(step, c.grad, np.array(c.start), 1e-3, n)
             for (opt, step), n in zip(descent.OPTIMIZERS.items(), (5, 7, 3))}
    df = descent.paths_frame(c, paths)
    assert list(df.columns) == ["optimizer", "step", "t0", "t1", "J"]
    assert len(df) == 6 + 8 + 4
    for opt, p in paths.items():
        part = df[df["optimizer"] == opt]
        assert part["step"].tolist() == list(range(len(p)))
        np.testing.assert_array_equal(part[["t0", "t1"]].to_numpy(), p)
        np.testing.assert_allclose(part["J"], [c.f(t) for t in p])


# =========================================================================== landscape

POSITIVE, NEGATIVE = {"good", "great", "fun"}, {"bad", "awful"}
H = 5


def make_model(arch: str = "gru", seed: int = 0) -> SentimentModel:
    """A tiny frozen model whose padding row is zero, as training leaves it."""
    return tiny_model(arch, seed=seed, std=0.6, zero_pad=True)


def make_split(n: int = 40, seed: int = 0) -> Split:
    """Labelled reviews made of the vocabulary's words (plus an unknown one), two with no words."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        words = list(rng.choice(WORDS + ["zzzq"], size=int(rng.integers(3, 14))))
        texts.append(" ".join(words).capitalize() + ".")
        score = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
        labels.append(int(score > 0 if score else i % 2))
    texts[3], texts[17] = "!!!", "..."  # no words: never picked
    labels[3], labels[17] = 1, 0
    return Split(texts, np.asarray(labels, dtype=np.int64), np.zeros(n, dtype=np.int64),
                 [f"toy/{i}" for i in range(n)], [tokenize(t) for t in texts])


SPLIT = make_split()


@pytest.fixture(scope="module", params=NAMES)
def arch_model(request) -> SentimentModel:
    return make_model(request.param, seed=NAMES.index(request.param))


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    return make_model("gru", seed=7)


@pytest.fixture(scope="module")
def batch(model):
    return landscape.fixed_batch(model, SPLIT, n=16, words=8)


def _assert_untouched(model: SentimentModel, snap: dict) -> None:
    state = model.module.state_dict()
    assert set(state) == set(snap)
    for k, v in state.items():
        assert v.dtype == torch.float32, k
        assert torch.equal(v, snap[k]), f"{k} of the shared model changed"
    for name, p in model.module.named_parameters():
        assert p.dtype == torch.float32 and not p.requires_grad and p.grad is None, name
    assert not model.module.training


@pytest.fixture
def guard(model):
    """Fails the test if it changed the shared model in any way."""
    snap = clone_state(model.module)
    yield
    _assert_untouched(model, snap)


@pytest.fixture
def arch_guard(arch_model):
    snap = clone_state(arch_model.module)
    yield
    _assert_untouched(arch_model, snap)


def _grad(module, name: str, batch) -> torch.Tensor:
    """An independent autograd gradient of the batch loss with respect to one parameter (of a float64 copy)."""
    p = dict(module.named_parameters())[name]
    p.requires_grad_(True)
    try:
        logits = module(batch.ids)
        l_ = nn.functional.binary_cross_entropy_with_logits(logits, batch.labels)
        (g,) = torch.autograd.grad(l_, p)
    finally:
        p.requires_grad_(False)
    return g


def test_fixed_batch_is_seeded_and_labels_match(model, guard):
    b = landscape.fixed_batch(model, SPLIT, n=16, words=8)
    again = landscape.fixed_batch(model, SPLIT, n=16, words=8)
    assert len(b) == 16 and b.ids.shape[0] == 16 and 1 <= b.ids.shape[1] <= 8
    assert b.ids.dtype == torch.int64 and b.labels.dtype == torch.float64
    assert torch.equal(b.ids, again.ids) and torch.equal(b.labels, again.labels)
    other = landscape.fixed_batch(model, SPLIT, n=16, words=8, seed=1)
    assert not torch.equal(b.ids, other.ids)
    encoded = {i: model.vocab.encode(t[-8:]) for i, t in enumerate(SPLIT.tokens) if t}
    used = set()
    for row, label in zip(b.ids.tolist(), b.labels.tolist()):
        real = [x for x in row if x != PAD_ID]
        assert real and row[len(row) - len(real):] == real  # pre-padded, at least one word
        match = [i for i, ids in encoded.items() if ids == real and i not in used]
        assert match, "each row is the last words of one review"
        assert label == float(SPLIT.labels[match[0]])
        used.add(match[0])
    assert 3 not in used and 17 not in used
    # the whole review when words is large; n = every review with words
    full = landscape.fixed_batch(model, SPLIT, n=38, words=100)
    assert full.ids.shape == (38, max(len(t) for t in SPLIT.tokens))
    with pytest.raises(ValueError):
        landscape.fixed_batch(model, SPLIT, n=39, words=8)  # only 38 reviews have words


def test_session_copy_is_a_private_float64_module(arch_model, arch_guard):
    copy = landscape.session_copy(arch_model)
    assert copy is not arch_model.module and isinstance(copy, SentimentRNN) and not copy.training
    assert copy.arch == arch_model.arch
    ours = dict(copy.named_parameters())
    for name, p in arch_model.module.named_parameters():
        assert ours[name].dtype == torch.float64
        assert ours[name].data_ptr() != p.data_ptr()
        assert torch.equal(ours[name].float(), p)
    with torch.no_grad():
        for p in copy.parameters():
            p.add_(1.0)  # changing the copy leaves the shared model alone (checked by arch_guard)


def test_loss_equals_the_bce_of_the_original_logits(arch_model, arch_guard):
    b = landscape.fixed_batch(arch_model, SPLIT, n=16, words=8)
    copy = landscape.session_copy(arch_model)
    with torch.no_grad():
        logits = arch_model.module(b.ids).double()
    y = b.labels.numpy()
    z = logits.numpy()
    ref = float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
    value = landscape.loss(copy, b)
    assert isinstance(value, float)
    assert value == pytest.approx(ref, abs=1e-6)
    assert value == pytest.approx(float(nn.functional.binary_cross_entropy_with_logits(logits, b.labels)), abs=1e-6)


def test_weight_slice(model, batch, guard):
    copy = landscape.session_copy(model)
    before = clone_state(copy)
    base = landscape.loss(copy, batch)
    offsets = np.array([-1.0, -0.25, 0.0, 0.5, 2.0])
    for name, index in (("rnn.weight_hh_l0", (4, 2)), ("dense.weight", (0, 3)), ("rnn.bias_ih_l0", (7,))):
        values = landscape.weight_slice(copy, name, index, offsets, batch)
        assert values.shape == (5,)
        assert values[2] == base
        assert same_state(copy, before), "the weight is restored"
        for o, v in zip(offsets, values):  # independently: move the weight by hand
            other = landscape.session_copy(model)
            with torch.no_grad():
                landscape.parameter(other, name)[index] += float(o)
            assert v == pytest.approx(landscape.loss(other, batch), rel=1e-12, abs=1e-14)
        assert len(set(values.tolist())) > 1
    assert landscape.weight_slice(copy, "dense.weight", (0, 0), np.array([]), batch).shape == (0,)


def test_weight_slice_restores_the_weight_after_an_error(model, batch, guard):
    copy = landscape.session_copy(model)
    before = clone_state(copy)
    bad = landscape.Batch(torch.zeros((2, 3), dtype=torch.int64), torch.zeros(2, dtype=torch.float64))
    with pytest.raises(ValueError):  # all padding: no words
        landscape.weight_slice(copy, "dense.weight", (0, 1), np.array([0.7]), bad)
    assert same_state(copy, before)


def test_weight_slope_autograd_agrees_with_finite_differences(arch_model, arch_guard):
    b = landscape.fixed_batch(arch_model, SPLIT, n=16, words=8)
    copy = landscape.session_copy(arch_model)
    before = clone_state(copy)
    base = landscape.loss(copy, b)
    checked = 0
    for name in ("rnn.weight_hh_l0", "rnn.weight_ih_l0", "dense.weight", "embedding.weight"):
        g = _grad(copy, name, b)
        assert same_state(copy, before)
        top = torch.topk(g.abs().flatten(), 3).indices.tolist()
        for flat in top:
            index = tuple(int(i) for i in np.unravel_index(flat, g.shape))
            w0 = float(landscape.parameter(copy, name)[index])
            l_, auto, fd = landscape.weight_slope(copy, name, index, w0, b)
            assert l_ == pytest.approx(base, rel=1e-14)
            assert abs(auto) > 1e-4
            assert fd == pytest.approx(auto, rel=1e-6)
            assert auto == pytest.approx(float(g[index]), rel=1e-10, abs=1e-15)
            assert same_state(copy, before) and not landscape.parameter(copy, name).requires_grad
            checked += 1
    assert checked == 12
    # away from the current value: the loss is the slice's value there
    value = float(copy.dense.weight[0, 1]) + 0.3
    l_, auto, fd = landscape.weight_slope(copy, "dense.weight", (0, 1), value, b)
    assert l_ == pytest.approx(landscape.weight_slice(copy, "dense.weight", (0, 1), np.array([0.3]), b)[0], rel=1e-12)
    assert fd == pytest.approx(auto, rel=1e-6)
    assert same_state(copy, before)


def test_descend_weight_steps(model, batch, guard):
    copy = landscape.session_copy(model)
    before = clone_state(copy)
    name, index = "rnn.weight_hh_l0", (3, 1)
    start, alpha = float(copy.rnn.weight_hh_l0[index]) + 0.5, 0.8
    out = landscape.descend_weight(copy, name, index, start, alpha, 4, batch)
    assert [r["step"] for r in out] == [0, 1, 2, 3, 4]
    assert set(out[0]) == {"step", "theta", "loss", "slope"}
    assert out[0]["theta"] == start
    _, slope0, _ = landscape.weight_slope(copy, name, index, start, batch)
    assert out[0]["slope"] == slope0
    assert out[1]["theta"] == pytest.approx(start - alpha * slope0, rel=1e-15)  # θ1 = θ0 − α·slope
    for a, b_ in pairwise(out):
        assert b_["theta"] == pytest.approx(a["theta"] - alpha * a["slope"], rel=1e-15)
        l_, s, _ = landscape.weight_slope(copy, name, index, b_["theta"], batch)
        assert (b_["loss"], b_["slope"]) == (pytest.approx(l_, rel=1e-14), pytest.approx(s, rel=1e-12))
    assert out[-1]["loss"] < out[0]["loss"]  # small steps downhill
    assert same_state(copy, before)
    # a run that blows up stops early
    out = landscape.descend_weight(copy, "dense.weight", (0, 0), 2e4, 0.1, 10, batch)
    assert len(out) == 1
    assert same_state(copy, before)


def test_steepest_entry(arch_model, arch_guard):
    b = landscape.fixed_batch(arch_model, SPLIT, n=16, words=8)
    copy = landscape.session_copy(arch_model)
    before = clone_state(copy)
    for label, (name, rows) in landscape.weight_blocks(copy).items():
        g = _grad(copy, name, b).abs()
        r, c = landscape.steepest_entry(copy, name, b, rows)
        assert rows.start <= r < rows.stop, label
        assert g[r, c] == g[rows].max(), label
        expect_r, expect_c = divmod(int(g[rows].argmax()), g.shape[1])
        assert (r, c) == (expect_r + rows.start, expect_c)
        assert not landscape.parameter(copy, name).requires_grad
    g = _grad(copy, "dense.weight", b).abs()
    assert landscape.steepest_entry(copy, "dense.weight", b) == divmod(int(g.argmax()), g.shape[1])
    g = _grad(copy, "rnn.weight_hh_l0", b).abs()
    r, c = landscape.steepest_entry(copy, "rnn.weight_hh_l0", b)
    assert g[r, c] == g.max()
    assert same_state(copy, before)


def test_random_direction_is_filter_normalised(arch_model, arch_guard):
    copy = landscape.session_copy(arch_model)
    d = landscape.random_direction(copy, seed=3)
    params = dict(copy.named_parameters())
    assert list(d) == list(params)
    for name, p in params.items():
        assert d[name].shape == p.shape
        if p.dim() < 2:
            assert torch.count_nonzero(d[name]) == 0, f"{name}: biases get no component"
        else:
            np.testing.assert_allclose(d[name].norm(dim=1).double().numpy(), p.norm(dim=1).numpy(),
                                       rtol=1e-6, atol=1e-12, err_msg=name)
            assert torch.count_nonzero(d[name]) > 0
    # the padding row of the embedding is 0 in the weights, so it is 0 in the direction
    assert torch.count_nonzero(d["embedding.weight"][PAD_ID]) == 0
    again = landscape.random_direction(copy, seed=3)
    other = landscape.random_direction(copy, seed=4)
    assert all(torch.equal(d[k], again[k]) for k in d)
    assert not torch.equal(d["rnn.weight_hh_l0"], other["rnn.weight_hh_l0"])


def test_direction_slice(model, batch, guard):
    copy = landscape.session_copy(model)
    before = clone_state(copy)
    base = landscape.loss(copy, batch)
    d1, d2 = landscape.random_direction(copy, 1), landscape.random_direction(copy, 2)
    assert landscape.direction_slice(copy, [d1], [(0,)], batch).tolist() == [base]
    assert same_state(copy, before)
    coords = [(0.0, 0.0), (0.1, -0.2), (-0.3, 0.05), (0.0, 0.0)]
    values = landscape.direction_slice(copy, [d1, d2], coords, batch)
    assert values.shape == (4,) and values[0] == base and values[3] == base
    assert same_state(copy, before), "weights restored"
    for (a, b_), v in zip(coords, values):  # independently, on a fresh copy
        other = landscape.session_copy(model)
        with torch.no_grad():
            for name, p in other.named_parameters():
                p.copy_(p + a * d1[name] + b_ * d2[name])
        assert v == pytest.approx(landscape.loss(other, batch), rel=1e-10)
    assert values[1] != base
    # one direction: the same as two with the second coordinate 0
    one = landscape.direction_slice(copy, [d1], [(0.1,), (-0.3,)], batch)
    two = landscape.direction_slice(copy, [d1, d2], [(0.1, 0.0), (-0.3, 0.0)], batch)
    np.testing.assert_allclose(one, two, rtol=1e-13)
    assert same_state(copy, before)


def test_weight_section_is_the_slice_and_descent_it_shows(model, batch, guard):
    copy = landscape.session_copy(model)
    before = clone_state(copy)
    name, index = "rnn.weight_hh_l0", (4, 2)
    sec = landscape.weight_section(copy, batch, name, index, start=0.5, alpha=0.3, steps=6)
    assert same_state(copy, before)
    w0 = float(landscape.parameter(copy, name)[index])
    assert sec["w0"] == w0 and sec["loss0"] == landscape.loss(copy, batch)
    np.testing.assert_array_equal(sec["losses"], landscape.weight_slice(copy, name, index, sec["offsets"], batch))
    assert sec["path"] == landscape.descend_weight(copy, name, index, w0 + 0.5, 0.3, 6, batch)
    assert sec["slopes"] == landscape.weight_slope(copy, name, index, sec["path"][-1]["theta"], batch)
    assert sec["slopes"][1] == pytest.approx(sec["slopes"][2], rel=1e-6)  # autograd vs finite difference


def test_slope_check_by_hand():
    eps = np.finfo(np.float64).eps
    ok = landscape.slope_check(1.0, 1.0 + 1e-7, 1.0 + 4e-7, 0.7, h=1e-5)
    assert ok["truncation"] == pytest.approx(3e-7) and ok["rounding"] == pytest.approx(4 * eps * 0.7 / 1e-5)
    assert ok["tolerance"] == pytest.approx(3e-7 + 4 * eps * 0.7 / 1e-5 + 1e-6)
    assert ok["difference"] == pytest.approx(1e-7) and ok["agree"]
    bad = landscape.slope_check(1.0, 1.01, 1.01, 0.7)  # a wrong slope: far outside the tolerance
    assert not bad["agree"] and bad["difference"] == pytest.approx(0.01)
    big = landscape.slope_check(2000.0, 2000.001, 2000.001, 0.7)  # the autograd share scales with |slope|
    assert big["tolerance"] == pytest.approx(2e-3, rel=1e-6) and big["agree"]


def test_weight_section_judges_the_slopes(model, batch, guard):
    copy = landscape.session_copy(model)
    name, index = "rnn.weight_hh_l0", (4, 2)
    sec = landscape.weight_section(copy, batch, name, index, start=0.5, alpha=0.3, steps=2)
    l_, auto, fd = sec["slopes"]
    theta = sec["path"][-1]["theta"]
    fd_2h = landscape.weight_slope(copy, name, index, theta, batch, h=2e-5)[2]
    assert sec["check"] == landscape.slope_check(auto, fd, fd_2h, l_)
    assert sec["check"]["agree"] and sec["check"]["difference"] == abs(auto - fd)
    assert sec["check"]["tolerance"] < 1e-5 * max(1.0, abs(auto))  # tight enough to catch a wrong slope
    assert not landscape.slope_check(auto * 1.001 + 1e-4, fd, fd_2h, l_)["agree"]


def test_surface_frame_is_the_direction_slice_on_a_grid(model, batch, guard):
    copy = landscape.session_copy(model)
    df = landscape.surface_frame(copy, batch, 1, 2, points=5)
    assert len(df) == 25 and sorted(set(df["a"])) == sorted(set(df["b"])) == [-1.0, -0.5, 0.0, 0.5, 1.0]
    dirs = [landscape.random_direction(copy, 1), landscape.random_direction(copy, 2)]
    expect = landscape.direction_slice(copy, dirs, list(zip(df["a"], df["b"])), batch)
    np.testing.assert_array_equal(df["loss"], expect)
    assert df.loc[(df["a"] == 0) & (df["b"] == 0), "loss"].item() == landscape.loss(copy, batch)


@pytest.mark.parametrize("arch, names", [  # PyTorch's block order (nn.GRU: r, z, n; nn.LSTM: i, f, g, o)
    ("gru", ("reset gate r", "update gate z", "candidate n")),
    ("lstm", ("input gate i", "forget gate f", "cell candidate g", "output gate o")),
    ("rnn", ("hidden state h",)),
])
def test_weight_blocks(arch, names):
    module = make_model(arch).module
    wb = landscape.weight_blocks(module)
    blocks = len(names)
    assert len(wb) == 2 * blocks
    expected = [f"{label}: recurrent weights W_h·" for label in names] + \
               [f"{label}: input weights W_i·" for label in names]
    assert list(wb) == expected
    for kind, pname in (("recurrent", "rnn.weight_hh_l0"), ("input", "rnn.weight_ih_l0")):
        mine = [(p, rows) for label, (p, rows) in wb.items() if f": {kind} " in label]
        assert [p for p, _ in mine] == [pname] * blocks
        assert [(r.start, r.stop) for _, r in mine] == [(b * H, (b + 1) * H) for b in range(blocks)]
        assert landscape.parameter(module, pname).shape[0] == blocks * H  # the blocks cover the matrix


# =========================================================================== jobs: check_request


def _fine() -> TrainConfig:
    return TrainConfig(limit=2_000, epochs=3)


def test_check_request_accepts_a_fine_request(tmp_path):
    assert jobs.check_request(_fine(), "my-gru", tmp_path) == []
    assert jobs.check_request(_fine(), "a" * 40, tmp_path) == []
    assert jobs.check_request(_fine(), "0_x-9", tmp_path / "not-yet") == []
    for key, (lo, hi) in jobs.LIMITS.items():  # the limits themselves are allowed
        for value in (lo, hi):
            assert jobs.check_request(dataclasses.replace(_fine(), **{key: value}), "ok", tmp_path) == [], key


@pytest.mark.parametrize("name", ["", None, "Bad Name", "../x", "a" * 41, "-x", "_x", ".hidden", "a/b", "né"])
def test_check_request_refuses_bad_names(tmp_path, name):
    problems = jobs.check_request(_fine(), name, tmp_path)
    assert len(problems) == 1 and "model name" in problems[0]


def test_check_request_refuses_a_trailing_newline(tmp_path):
    assert jobs.check_request(_fine(), "abc\n", tmp_path)


@pytest.mark.parametrize("name", jobs.SHIPPED)
def test_check_request_refuses_shipped_names(tmp_path, name):
    for overwrite in (False, True):
        problems = jobs.check_request(_fine(), name, tmp_path, overwrite=overwrite)
        assert len(problems) == 1 and "shipped" in problems[0]


def test_check_request_refuses_an_existing_folder_unless_overwrite(tmp_path):
    (tmp_path / "mine").mkdir()
    problems = jobs.check_request(_fine(), "mine", tmp_path)
    assert len(problems) == 1 and "already exists" in problems[0]
    assert jobs.check_request(_fine(), "mine", tmp_path, overwrite=True) == []
    assert jobs.check_request(_fine(), "mine", str(tmp_path), overwrite=True) == []


def _out_of_range():
    for key, (lo, hi) in jobs.LIMITS.items():
        if isinstance(lo, int) and isinstance(hi, int):
            yield key, lo - 1
            yield key, hi + 1
        else:
            yield key, lo / 2
            yield key, hi * 2
    yield "lr", float("nan")
    yield "limit", None  # the page always names how many reviews


@pytest.mark.parametrize("key, value", list(_out_of_range()))
def test_check_request_refuses_out_of_range_settings(tmp_path, key, value):
    problems = jobs.check_request(dataclasses.replace(_fine(), **{key: value}), "ok", tmp_path)
    assert len(problems) == 1, problems
    # named as the Train page's form names the setting
    label = jobs.SETTING_NAMES[key]
    if key != "embed_dim":  # the one setting the form leaves at its default (the command line takes it)
        assert f'_("{label}")' in (ROOT / "pages" / "train.py").read_text(encoding="utf-8"), label
    assert problems[0].startswith(label) and "between" in problems[0]


def test_check_request_refuses_runs_over_the_budget(tmp_path):
    assert jobs.BUDGET == 200_000
    assert jobs.check_request(dataclasses.replace(_fine(), limit=20_000, epochs=10), "ok", tmp_path) == []
    problems = jobs.check_request(dataclasses.replace(_fine(), limit=20_000, epochs=11), "ok", tmp_path)
    assert len(problems) == 1 and "command line" in problems[0] and "python -m gru_core train" in problems[0]
    # several problems are all reported
    problems = jobs.check_request(dataclasses.replace(_fine(), limit=25_000, epochs=20, lr=1.0), "gru", tmp_path)
    assert len(problems) == 3

