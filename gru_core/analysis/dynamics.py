"""The recurrent update as a map F(state, x), and the tools that take it apart.

Maheswaranathan, Williams, Golub, Ganguli & Sussillo (NeurIPS 2019) showed
that sentiment RNNs integrate evidence along a line of approximate fixed
points of F(·, x = 0). Everything here works on any batched update
``F(state [N, D], x [N, E]) -> [N, D]``, so a hand-built network with a known
answer is analysed by exactly the code that analyses the shipped models.
``update_fn`` builds F for a model from ``cell.step`` (the model's own
weights, in its GRU form); for the LSTM the state is [h; c] (D = 2H).

Computations run in float64: the fixed-point tolerance is far below float32's
resolution of q.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..archs import arch as get_arch
from ..cell import form, step, weights
from ..model import SentimentRNN

Update = Callable[[Tensor, Tensor], Tensor]  # F(state [N, D], x [N, E]) -> new state [N, D]


def update_fn(module: SentimentRNN) -> Update:
    """F(state, x) for ``module``: one step of ``cell.step`` on a copy of its weights in the state's dtype."""
    copies: dict[torch.dtype, dict[str, Tensor]] = {}
    name, H, gru_form = module.arch, module.rnn.hidden_size, form(module)
    lstm = len(get_arch(name).state) == 2

    def F(s: Tensor, x: Tensor) -> Tensor:
        if s.dtype not in copies:
            copies[s.dtype] = {k: v.detach().to(s.dtype) for k, v in weights(module).items()}
        new, _ = step(name, copies[s.dtype], x.to(s.dtype), (s[..., :H], s[..., H:]) if lstm else (s,),
                      form=gru_form)
        return torch.cat(new, -1)

    return F


def embed_dim(module: SentimentRNN) -> int:
    return module.rnn.input_size


# --- PCA -------------------------------------------------------------------------------

@dataclass
class PCA:
    mean: np.ndarray  # [D]
    components: np.ndarray  # [k, D], orthonormal rows, by decreasing variance
    variance_ratio: np.ndarray  # [k]: each component's share of the total variance

    def project(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x) - self.mean) @ self.components.T


def pca(x: np.ndarray, k: int = 10) -> PCA:
    """Principal components of the rows of ``x`` (from the covariance's eigen-decomposition).

    Each component's sign makes its largest-magnitude entry positive (callers
    may orient them further).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError("need at least two points, as rows of a 2-D array")
    mean = x.mean(0)
    c = x - mean
    cov = c.T @ c / (len(x) - 1)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1]
    vals, vecs = np.clip(vals[order], 0, None), vecs[:, order]
    total = vals.sum()
    k = min(k, x.shape[1])
    comps = vecs[:, :k].T.copy()
    flip = np.sign(comps[np.arange(k), np.abs(comps).argmax(1)])
    comps *= flip[:, None]
    ratio = vals[:k] / total if total > 0 else np.zeros(k)
    return PCA(mean, comps, ratio)


# --- Fixed points ----------------------------------------------------------------------

@dataclass
class FixedPoints:
    points: np.ndarray  # [K, D]
    q: np.ndarray  # [K]: ½‖F(h, x0) − h‖² at each point
    tolerance: float  # every kept point has q <= tolerance
    candidates: int  # starting points optimised
    converged: int  # of which reached the tolerance (before merging duplicates and dropping outliers)
    outliers: int  # converged points dropped for lying far from the visited states


def speed(F: Update, h: Tensor, x0: Tensor) -> Tensor:
    """q(h) = ½‖F(h, x0) − h‖² for each row of ``h``."""
    return 0.5 * ((F(h, x0.expand(len(h), -1)) - h) ** 2).sum(-1)


def jacobian_state(F: Update, h: Tensor, x: Tensor) -> Tensor:
    """∂F/∂state at each row of ``h`` (with word ``x`` [E]): [N, D, D]."""
    one = lambda s: F(s[None], x[None])[0]
    return torch.func.vmap(torch.func.jacrev(one))(h)


def jacobian_input(F: Update, h: Tensor, x: Tensor) -> Tensor:
    """∂F/∂x at state ``h`` [D] and word ``x`` [E]: [D, E]."""
    return torch.func.jacrev(lambda v: F(h[None], v[None])[0])(x)


def find_fixed_points(F: Update, starts: np.ndarray, x0: np.ndarray, tolerance: float = 1e-8,
                      max_steps: int = 2000, lr: float = 1e-2, unique_distance: float = 1e-3,
                      outlier_scale: float = 10.0, search_dtype: torch.dtype = torch.float64) -> FixedPoints:
    """Approximate fixed points of F(·, x0): minimise q(h) = ½‖F(h, x0) − h‖² from each starting point.

    Adam (learning rate ``lr``, decaying 100-fold over ``max_steps``) moves every
    start downhill; a point is frozen as soon as q <= ``tolerance``, so points
    on a slow manifold stay where they reached it instead of sliding along it
    (Adam's steps do not shrink with the gradient). Points that never reach the
    tolerance are discarded; points closer than ``unique_distance`` to an
    earlier one are merged (the lower q kept); points farther from the starts'
    centroid than ``outlier_scale`` × the starts' mean distance from it are
    dropped (after Golub & Sussillo's FixedPointFinder). The search may run in
    float32 (``search_dtype``, twice as fast); q is then recomputed in float64
    and only points within the tolerance are kept.
    """
    starts = np.asarray(starts, dtype=np.float64)
    x = torch.as_tensor(np.asarray(x0), dtype=search_dtype)
    h = torch.tensor(starts, dtype=search_dtype, requires_grad=True)
    opt = torch.optim.Adam([h], lr=lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=1e-2 ** (1 / max(max_steps, 1)))
    done = torch.zeros(len(starts), dtype=torch.bool)
    frozen = h.detach().clone()
    for _ in range(max_steps):
        opt.zero_grad()
        q = speed(F, h, x)
        with torch.no_grad():
            now = torch.isfinite(q) & (q <= tolerance) & ~done
            frozen[now] = h[now]
            done |= now
        if bool(done.all()):
            break
        q.sum().backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            h[done] = frozen[done]
    pts = frozen[done].double().numpy()
    with torch.no_grad():
        q = speed(F, torch.as_tensor(pts), x.double()).numpy()
    ok = q <= tolerance
    pts, q = pts[ok], q[ok]
    converged = len(pts)
    centre = starts.mean(0)
    reach = outlier_scale * np.linalg.norm(starts - centre, axis=1).mean()
    near = np.linalg.norm(pts - centre, axis=1) <= max(reach, 1e-12)
    pts, q = pts[near], q[near]
    keep = _unique(pts, q, unique_distance)
    return FixedPoints(pts[keep], q[keep], tolerance, len(starts), converged, int((~near).sum()))


def _unique(points: np.ndarray, q: np.ndarray, distance: float) -> np.ndarray:
    """Indices of points kept after merging those within ``distance`` (lowest q first)."""
    keep: list[int] = []
    for i in np.argsort(q, kind="stable"):
        if not keep or np.linalg.norm(points[keep] - points[i], axis=1).min() > distance:
            keep.append(int(i))
    return np.asarray(sorted(keep), dtype=np.int64)


# --- Linearisation ---------------------------------------------------------------------

@dataclass
class Mode:
    value: complex  # λ with the largest |λ|
    right: np.ndarray  # [D] r: J r = λ r, unit norm (real part when λ is complex)
    left: np.ndarray  # [D] ℓ: ℓᵀ J = λ ℓᵀ, scaled so that ℓᵀ r = 1


def time_constant(abs_eig: np.ndarray | float) -> np.ndarray:
    """τ = 1 / |ln |λ||, in words (inf at |λ| = 1)."""
    a = np.asarray(abs_eig, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 1.0 / np.abs(np.log(a))


def slow_mode(jac: np.ndarray, direction: np.ndarray | None = None,
              eig: tuple[np.ndarray, np.ndarray] | None = None) -> Mode:
    """A mode of ``jac`` [D, D] with its right and left eigenvectors: the one whose right eigenvector is most
    aligned with ``direction`` (the line of fixed points), or without one the mode with the largest |λ|.
    ``eig``: ``np.linalg.eig(jac)`` when the caller has it already."""
    vals, right = np.linalg.eig(jac) if eig is None else eig
    if direction is None:
        i = int(np.argmax(np.abs(vals)))
    else:
        re = np.real(right) / np.linalg.norm(np.real(right), axis=0).clip(1e-300)
        i = int(np.argmax(np.abs(np.asarray(direction) @ re)))
    lvals, left = np.linalg.eig(jac.T)
    j = int(np.argmin(np.abs(lvals - vals[i])))
    r, ell = np.real(right[:, i]), np.real(left[:, j])
    r = r / np.linalg.norm(r)
    ell = ell / (ell @ r)
    return Mode(complex(vals[i]), r, ell)


def linearisation_error(F: Update, point: np.ndarray, x0: np.ndarray, scales: list[float],
                        directions: int = 8, seed: int = 0, jac: np.ndarray | None = None) -> np.ndarray:
    """Median relative error ‖ΔF − J δ‖ / ‖ΔF‖ over random δ of each norm in ``scales``.

    ΔF = F(h* + δ, x0) − F(h*, x0): how well the Jacobian at ``point`` (``jac``, when the caller has it)
    predicts the true one-step change.
    """
    h = torch.as_tensor(np.asarray(point, dtype=np.float64))
    x = torch.as_tensor(np.asarray(x0, dtype=np.float64))
    jac = jacobian_state(F, h[None], x)[0] if jac is None else torch.as_tensor(np.asarray(jac, dtype=np.float64))
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((directions, len(point)))
    u = torch.as_tensor(u / np.linalg.norm(u, axis=1, keepdims=True))
    out = []
    with torch.no_grad():
        base = F(h[None], x[None])[0]
        for s in scales:
            d = s * u
            actual = F(h + d, x.expand(directions, -1)) - base
            pred = d @ jac.T
            err = (actual - pred).norm(dim=1) / actual.norm(dim=1).clamp_min(1e-300)
            out.append(float(err.median()))
    return np.asarray(out)


def kicks(F: Update, point: np.ndarray, left: np.ndarray, embeddings: np.ndarray,
          x0: np.ndarray | None = None) -> np.ndarray:
    """Each word's kick along the slow mode from the fixed point: ℓᵀ · ∂F/∂x · (e(word) − x₀), linearised at the
    "no word" input ``x0`` (default 0), for the rows of ``embeddings`` [V, E]: [V] for one direction ``left``
    [D], [V, k] for k directions as columns [D, k] (one Jacobian ∂F/∂x for all of them)."""
    h = torch.as_tensor(np.asarray(point, dtype=np.float64))
    x0 = np.zeros(embeddings.shape[1]) if x0 is None else np.asarray(x0, dtype=np.float64)
    jx = jacobian_input(F, h, torch.as_tensor(x0)).numpy()
    return (np.asarray(embeddings, dtype=np.float64) - x0) @ (jx.T @ np.asarray(left, dtype=np.float64))


def line_fit(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(centre, unit direction, share of the points' variance along it): the line through them."""
    if len(points) < 2:
        raise ValueError("a line needs at least two fixed points")
    p = pca(points, 1)
    return p.mean, p.components[0], float(p.variance_ratio[0])


def distance_from_line(x: np.ndarray, centre: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Euclidean distance of each row of ``x`` from the line centre + t·direction."""
    c = np.asarray(x) - centre
    return np.linalg.norm(c - (c @ direction)[..., None] * direction, axis=-1)


def abs_cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(abs(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def null_abs_cos(direction: np.ndarray, mask: np.ndarray | None = None, n: int = 20_000,
                 seed: int = 0, q: float = 95.0) -> float:
    """The ``q``-th percentile of |cos| between ``direction`` and random Gaussian directions
    (restricted to the coordinates in ``mask``, where the vector being compared can live)."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, len(direction)))
    if mask is not None:
        g *= np.asarray(mask, dtype=np.float64)
    cos = np.abs(g @ direction) / (np.linalg.norm(g, axis=1) * np.linalg.norm(direction))
    return float(np.percentile(cos, q))
