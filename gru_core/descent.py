"""Gradient descent on toy cost functions: the maths behind the "Gradient descent" page.

θ := θ − α · dJ/dθ, repeated; for two parameters all are updated simultaneously
from the gradient at the old point. Plus momentum and Adam (the seed's Keras
model was trained with Adam), each as one plain function step.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .i18n import N_, _

Fn1 = Callable[[float], float]
FnN = Callable[[np.ndarray], float]
GradN = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Cost1D:
    name: str
    f: Fn1
    df: Fn1
    domain: tuple[float, float]
    start: float
    note: str


COSTS_1D: dict[str, Cost1D] = {c.name: c for c in (
    Cost1D(N_("convex bowl"), lambda t: (t - 1.0) ** 2 + 0.5, lambda t: 2.0 * (t - 1.0), (-4.0, 6.0), 5.0,
           N_("J(θ) = (θ − 1)² + 0.5: one minimum at θ = 1; any α < 1 converges, α > 1 diverges.")),
    Cost1D(N_("local and global minimum"),
           lambda t: 0.05 * t ** 4 - 0.5 * t ** 2 + 0.3 * t + 2.0,
           lambda t: 0.2 * t ** 3 - 1.0 * t + 0.3, (-4.0, 4.0), 3.5,
           N_("J(θ) = 0.05θ⁴ − 0.5θ² + 0.3θ + 2: a local minimum near θ = 2.07 and the global one near θ = −2.37; "
              "where descent ends depends on where it starts.")),
    Cost1D(N_("flat plateau"),
           lambda t: 2.0 - 2.0 * np.exp(-((t - 1.0) ** 2) / 2.0) + 0.01 * (t - 1.0) ** 2,
           lambda t: 2.0 * (t - 1.0) * np.exp(-((t - 1.0) ** 2) / 2.0) + 0.02 * (t - 1.0),
           (-6.0, 8.0), 6.5,
           N_("J(θ) = 2 − 2·exp(−(θ − 1)²/2) + 0.01(θ − 1)²: far from the minimum the slope is almost 0, "
              "so a small α crawls across the plateau.")),
)}


def log_alphas(low_exp: int = -4, high_exp: float = 0.5, per_decade: int = 10) -> list[float]:
    """Learning rates evenly spaced on a log axis (``per_decade`` per factor of 10), each rounded to two
    significant figures so that it reads plainly (0.5, 1, 2 and 0.1 are among them)."""
    exps = np.arange(round(low_exp * per_decade), round(high_exp * per_decade) + 1) / per_decade
    return [float(f"{10 ** e:.2g}") for e in exps]


SLOPE_RULES = {"positive": N_("Slope positive: decrease θ."), "negative": N_("Slope negative: increase θ."),
               "zero": N_("Slope zero: stay.")}  # by slope_sign's sign: what descent does, as a sentence


def slope_sign(slope: float) -> tuple[str, str]:
    """(sign of the slope, what descent does): a slope of exactly 0 is zero, and θ stays."""
    if slope > 0:
        return "positive", "decrease θ"
    if slope < 0:
        return "negative", "increase θ"
    return "zero", "stay"


def descend_1d(df: Fn1, theta0: float, alpha: float, steps: int, limit: float = 1e6) -> np.ndarray:
    """θ_0 … θ_N of plain gradient descent; stops early (shorter array) once |θ| exceeds ``limit``."""
    thetas = [float(theta0)]
    for _step in range(steps):
        t = thetas[-1] - alpha * df(thetas[-1])
        if not np.isfinite(t) or abs(t) > limit:
            thetas.append(float(np.sign(t) * limit) if np.isfinite(t) else float("nan"))
            break
        thetas.append(float(t))
    return np.asarray(thetas)


@dataclass(frozen=True)
class Diagnosis:
    status: str  # "converged", "diverged", "oscillating", "crawling", "descending"
    step: int | None  # the step at which it converged (or diverged)
    message: str


def diagnose(thetas: np.ndarray, costs: np.ndarray, slopes: np.ndarray, tol: float = 1e-4,
             gtol: float = 1e-2) -> Diagnosis:
    """Describe a run of descent: converged (|Δθ| < tol where the slope is ~0, with its step),
    diverged, oscillating, crawling (tiny steps on a slope that is not ~0) or still descending."""
    thetas, costs, slopes = (np.asarray(a, float) for a in (thetas, costs, slopes))
    if len(thetas) < 2:
        return Diagnosis("descending", None, _("No steps taken yet."))
    d = np.diff(thetas)
    bad = ~np.isfinite(thetas) | (np.abs(thetas) >= 1e6)
    if bad.any() or not np.all(np.isfinite(costs)):
        k = int(np.argmax(bad)) if bad.any() else len(d)
        return Diagnosis("diverged", k,
                         _("Diverged: θ blew up at step {k}. The learning rate is far too large.").format(k=k))
    n = min(5, len(d))
    if len(costs) > 3 and np.all(np.diff(costs[-n - 1:]) > 0) and abs(d[-1]) > abs(d[-n]):
        return Diagnosis("diverged", len(d), _("Diverging: every step overshoots further and the cost keeps "
                                               "rising. Lower the learning rate α."))
    done = np.flatnonzero((np.abs(d) < tol) & (np.abs(slopes[1:]) < gtol))
    if len(done):
        k = int(done[0]) + 1
        return Diagnosis("converged", k,
                         _("Converged at step {k}: |Δθ| fell below {tol:g} where the slope is ~0.").format(
                             k=k, tol=tol))
    signs = np.sign(d[-n:])
    if n >= 3 and np.all(signs[1:] == -signs[:-1]):
        return Diagnosis("oscillating", None, _("Oscillating: each step jumps over the minimum to the other side. "
                                                "A smaller α would settle faster."))
    if np.all(np.abs(d[-n:]) < 1e-3):
        return Diagnosis("crawling", None, _("Crawling: the steps are tiny (a flat slope or a tiny α), so it "
                                             "would take very many steps to arrive."))
    return Diagnosis("descending", None, _("Still descending: not converged yet."))


# --- two parameters ---------------------------------------------------------------------

@dataclass(frozen=True)
class Cost2D:
    name: str
    f: FnN
    grad: GradN
    domain: tuple[tuple[float, float], tuple[float, float]]
    start: tuple[float, float]
    minimum: tuple[float, float]
    note: str


# A small data set for fitting y = θ0 + θ1·x by mean squared error.
LINE_X = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
LINE_Y = np.array([1.1, 1.9, 3.2, 3.9, 5.1, 6.2, 6.8, 8.1])


def _mse(t: np.ndarray) -> float:
    r = t[0] + t[1] * LINE_X - LINE_Y
    return float(np.mean(r ** 2))


def _mse_grad(t: np.ndarray) -> np.ndarray:
    r = t[0] + t[1] * LINE_X - LINE_Y
    return np.array([2 * np.mean(r), 2 * np.mean(r * LINE_X)])


def _line_minimum() -> tuple[float, float]:
    a = np.vstack([np.ones_like(LINE_X), LINE_X]).T
    sol = np.linalg.lstsq(a, LINE_Y, rcond=None)[0]
    return float(sol[0]), float(sol[1])


COSTS_2D: dict[str, Cost2D] = {c.name: c for c in (
    Cost2D(N_("bowl with unequal curvature"),
           lambda t: float(0.5 * t[0] ** 2 + 5.0 * t[1] ** 2),
           lambda t: np.array([t[0], 10.0 * t[1]]),
           ((-4.0, 4.0), (-2.0, 2.0)), (-3.5, 1.5), (0.0, 0.0),
           N_("J = 0.5·θ0² + 5·θ1²: ten times steeper along θ1, so plain descent zig-zags across the valley.")),
    Cost2D(N_("Rosenbrock"),
           lambda t: float((1 - t[0]) ** 2 + 100 * (t[1] - t[0] ** 2) ** 2),
           lambda t: np.array([-2 * (1 - t[0]) - 400 * t[0] * (t[1] - t[0] ** 2), 200 * (t[1] - t[0] ** 2)]),
           ((-2.0, 2.0), (-1.0, 3.0)), (-1.5, 2.0), (1.0, 1.0),
           N_("J = (1 − θ0)² + 100(θ1 − θ0²)²: a long curved valley; the minimum is at (1, 1).")),
    Cost2D(N_("line fit (mean squared error)"), _mse, _mse_grad,
           ((-3.0, 5.0), (-1.0, 4.0)), (4.0, -0.5), _line_minimum(),
           N_("J(θ0, θ1) = mean((θ0 + θ1·x − y)²) over 8 points: fitting a line, the seed's first example.")),
)}


def gd_step(theta: np.ndarray, grad: np.ndarray, state: dict, alpha: float) -> np.ndarray:
    """Plain gradient descent: θ − α·∇J (all parameters at once, from the old point)."""
    return theta - alpha * grad


def momentum_step(theta: np.ndarray, grad: np.ndarray, state: dict, alpha: float, beta: float = 0.9) -> np.ndarray:
    """Heavy-ball momentum (PyTorch's SGD form): v = β·v + ∇J; θ − α·v."""
    v = beta * state.get("v", np.zeros_like(theta)) + grad
    state["v"] = v
    return theta - alpha * v


def adam_step(theta: np.ndarray, grad: np.ndarray, state: dict, alpha: float, beta1: float = 0.9,
              beta2: float = 0.999, eps: float = 1e-8) -> np.ndarray:
    """Adam (Kingma & Ba 2015) with bias correction."""
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(theta)) + (1 - beta1) * grad
    v = beta2 * state.get("v", np.zeros_like(theta)) + (1 - beta2) * grad ** 2
    state.update(t=t, m=m, v=v)
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return theta - alpha * m_hat / (np.sqrt(v_hat) + eps)


OPTIMIZERS = {"gradient descent": gd_step, "momentum": momentum_step, "Adam": adam_step}
OPTIMIZER_LABELS = {"gradient descent": N_("gradient descent"), "momentum": N_("momentum"), "Adam": "Adam"}  # shown


def optimize(step: Callable, grad: GradN, theta0: np.ndarray, alpha: float, steps: int,
             limit: float = 1e6) -> np.ndarray:
    """Path [N+1, d] of an optimizer; stops early if the parameters blow up."""
    theta = np.asarray(theta0, dtype=float)
    state: dict = {}
    path = [theta.copy()]
    for _step in range(steps):
        theta = step(theta, grad(theta), state, alpha)
        if not np.all(np.isfinite(theta)) or np.abs(theta).max() > limit:
            path.append(np.clip(np.nan_to_num(theta, nan=limit), -limit, limit))
            break
        path.append(theta.copy())
    return np.asarray(path)


def grid_values(f: FnN, domain: tuple[tuple[float, float], tuple[float, float]], n: int = 60):
    """(θ0 values, θ1 values, J[n1, n0]) on a regular grid."""
    x = np.linspace(*domain[0], n)
    y = np.linspace(*domain[1], n)
    z = np.array([[f(np.array([a, b])) for a in x] for b in y])
    return x, y, z


def numeric_grad(f: FnN, theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite differences, for checking analytic gradients."""
    theta = np.asarray(theta, float)
    g = np.zeros_like(theta)
    for i in range(len(theta)):
        e = np.zeros_like(theta)
        e[i] = h
        g[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    return g


# --- tables for the charts ------------------------------------------------------------------

def curve_frame(cost: Cost1D, n: int = 300) -> pd.DataFrame:
    t = np.linspace(*cost.domain, n)
    return pd.DataFrame({"theta": t, "J": [cost.f(v) for v in t]})


def path_frame(cost: Cost1D, thetas: np.ndarray) -> pd.DataFrame:
    thetas = np.asarray(thetas, float)
    with np.errstate(over="ignore", invalid="ignore"):
        j = np.array([cost.f(t) for t in thetas])
    return pd.DataFrame({"step": np.arange(len(thetas)), "theta": thetas, "J": j})


def tangent_frame(cost: Cost1D, theta: float, half_width: float | None = None) -> pd.DataFrame:
    """The tangent line J(θ_k) + J'(θ_k)(θ − θ_k) around θ_k."""
    w = half_width if half_width is not None else (cost.domain[1] - cost.domain[0]) / 6
    t = np.array([theta - w, theta + w])
    return pd.DataFrame({"theta": t, "J": cost.f(theta) + cost.df(theta) * (t - theta)})


def grid_frame(cost: Cost2D, n: int = 50) -> pd.DataFrame:
    x, y, z = grid_values(cost.f, cost.domain, n)
    xx, yy = np.meshgrid(x, y)
    return pd.DataFrame({"t0": xx.ravel(), "t1": yy.ravel(), "logJ": np.log10(z.ravel() + 1e-12)})


def paths_frame(cost: Cost2D, paths: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = []
    for name, p in paths.items():
        for k, (a, b) in enumerate(p):
            rows.append({"optimizer": name, "step": k, "t0": a, "t1": b, "J": cost.f(np.array([a, b]))})
    return pd.DataFrame(rows)
