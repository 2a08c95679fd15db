"""Backpropagation through time for one review: the loss flowing back word by word through the cell's own step.

The recursion is written out: the review is read with ``torch.func.vjp`` on ``cell.step`` word by word, and
the gradient goes back from the loss one step at a time, ∂L/∂state_{t−1} = vjp_t(∂L/∂state_t). Each step adds
a zero "handle" to its new state through the cell's edit hook, so the gradient at a handle is the total
derivative of L with respect to that state, as autograd gives it for the tensor (for the LSTM's cell state
that includes the path through h_t = o_t ⊙ tanh(c_t) inside the same step). The weights' gradients are the
sum over the words of each step's vector–Jacobian product with those cotangents, taken in one batched call
of the same step. Everything runs in float64 on a float64 view of the weights; the module is never changed.

A model that reads Keras's padding and start mark first (``SentimentRNN.prefix``) starts the review from the
state after them, and that state depends on the weights too: its share of every weight's gradient is taken by
autograd through those steps, from ∂L/∂h_0 (``prefix_steps`` says how many; their rows of the embedding, the
padding's and the start mark's, get their gradient too).

The gradient highway: at word t the state before it gets ∂L/∂h_{t−1} = z_t ⊙ ∂L/∂h_t (the GRU's keep path:
h_t = … + z_t ⊙ h_{t−1}) plus the rest (through the gates and the candidate). For the LSTM the cell path is
f_t ⊙ ∂L/∂c_t and the rest is the path through h_{t−1} = o_{t−1} ⊙ tanh(c_{t−1}) (the output gate). The plain
RNN has no such path.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
import torch
from torch.func import vjp
from torch.nn import functional as F

from ..archs import ARCHS
from ..cell import State, form, step, weights
from ..i18n import _
from ..model import SentimentRNN
from ..predictor import SentimentModel
from ..text import PAD_ID
from .cell_forward import block_symbol
from .explain import short
from .landscape import session_copy

# arch -> (state with an identity path through the step, the gate that scales it)
HIGHWAY: dict[str, tuple[str, str]] = {"gru": ("h", "update"), "lstm": ("c", "forget")}
STATE_EDITS = {"h": "hidden", "c": "cell"}  # a state's name in the cell's edit hook
PARAMETERS = {"w_ih": "rnn.weight_ih_l0", "w_hh": "rnn.weight_hh_l0", "b_ih": "rnn.bias_ih_l0",
              "b_hh": "rnn.bias_hh_l0"}  # cell.weights' keys -> the module's parameter names
DTYPE = torch.float64
PROBE_BATCH = 32  # reviews of similar length per batch when the verdicts are read again: little padding


@dataclass
class Backprop:
    """The loss of one review with a chosen label, and its gradient with respect to every state and weight."""

    arch: str
    ids: np.ndarray  # [T] the words read
    label: int  # 1 positive, 0 negative
    p_positive: float
    loss: float  # binary cross-entropy of the verdict
    grad_h: np.ndarray  # [T, H] ∂L/∂h_t, h_t the state after word t
    grad_c: np.ndarray | None  # [T, H] ∂L/∂c_t (LSTM)
    keep: np.ndarray  # [T, H] the highway's part of ∂L/∂state_{t−1} at word t (zeros for the RNN)
    other: np.ndarray  # [T, H] the rest: ∂L/∂state_{t−1} − keep
    carried: tuple[np.ndarray, ...]  # [T, H] per state: the step's own vjp to the state before word t
    grads: dict[str, torch.Tensor]  # parameter name -> ∂L/∂θ, the embedding excepted
    embedding_ids: np.ndarray  # [U] the distinct ids of the review
    embedding_grads: torch.Tensor  # [U, E] ∂L/∂E[id] for those rows (every other row's gradient is 0)
    prefix: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # ids read before the first word

    @property
    def prefix_steps(self) -> int:
        """Steps read before the first word (Keras's padding and start mark), 0 for most models."""
        return len(self.prefix)

    @property
    def highway(self) -> str | None:
        """The highway's name in the equations ("keep path z ⊙ ∂L/∂h", "cell path f ⊙ ∂L/∂c", in the session's
        language), None without one."""
        if self.arch not in HIGHWAY:
            return None
        state, gate = HIGHWAY[self.arch]
        name = _("keep path {gate} ⊙ ∂L/∂{state}") if state == "h" else _("cell path {gate} ⊙ ∂L/∂{state}")
        return name.format(gate=block_symbol(gate), state=state)

    def norms(self) -> dict[str, np.ndarray]:
        """Per word: ‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖), and the two paths' norms."""
        out = {"grad_h": np.linalg.norm(self.grad_h, axis=1), "keep": np.linalg.norm(self.keep, axis=1),
               "other": np.linalg.norm(self.other, axis=1)}
        if self.grad_c is not None:
            out["grad_c"] = np.linalg.norm(self.grad_c, axis=1)
        return out

    @property
    def first_last_ratio(self) -> float:
        """‖∂L/∂h_1‖ / ‖∂L/∂h_T‖: below 1 the gradient vanishes going back, above 1 it grows."""
        n = np.linalg.norm(self.grad_h, axis=1)
        return float(n[0] / n[-1]) if n[-1] > 0 else float("nan")

    def keep_share(self) -> np.ndarray:
        """[T] ‖keep‖ / (‖keep‖ + ‖other‖) at each word (0 for the RNN)."""
        n = self.norms()
        total = n["keep"] + n["other"]
        return np.divide(n["keep"], total, out=np.zeros_like(total), where=total > 0)


def _step_with_handles(arch: str, form: str | None, w: dict[str, torch.Tensor], x: torch.Tensor,
                       states: tuple[str, ...], state: State, handles: State) -> tuple[State, dict[str, torch.Tensor]]:
    """The cell's step with a (zero) handle added to each new state, so its gradient there is the total one."""
    names = [STATE_EDITS[s] for s in states]

    def edit(name: str, t: int, value: torch.Tensor) -> torch.Tensor:
        return value + handles[names.index(name)] if name in names else value

    return step(arch, w, x, state, edit, form=form)


class _Start:
    """The state a review starts from, in float64: zero, or (a model that reads Keras's padding and start mark) the
    state after those steps, computed on a private float64 copy with autograd on, so that the gradient reaching it
    can be taken on into the weights: ``weight_grads``."""

    def __init__(self, module: SentimentRNN, n_words: int):
        self.twin = None
        if getattr(module, "prefix", None) is None or not module.prefix.ids(n_words):
            self.state = tuple(torch.zeros(module.rnn.hidden_size, dtype=DTYPE) for _s in ARCHS[module.arch].state)
            return
        self.twin = copy.deepcopy(module).to(DTYPE)  # private: the shared module is never changed
        self.params = {**{PARAMETERS[k]: v for k, v in weights(self.twin).items()},
                       "embedding.weight": self.twin.embedding.weight}
        for v in self.params.values():
            v.requires_grad_(True)
        with torch.enable_grad():
            self._tracked = tuple(s[0] for s in self.twin.initial_state(torch.tensor([n_words])))
        self.state = tuple(s.detach() for s in self._tracked)

    def weight_grads(self, cot: State) -> tuple[dict[str, torch.Tensor], dict[int, torch.Tensor]]:
        """({parameter: ∂L/∂θ}, {embedding row: ∂L/∂E[row]}) through the steps before the first word, from
        ``cot`` = ∂L/∂(start state); nothing without such steps."""
        if self.twin is None:
            return {}, {}
        grads = torch.autograd.grad(self._tracked, list(self.params.values()), cot, allow_unused=True)
        got = {k: (torch.zeros_like(self.params[k]) if g is None else g) for k, g in zip(self.params, grads, strict=True)}
        emb = got.pop("embedding.weight")
        rows = {int(i): emb[i] for i in torch.nonzero(emb.abs().sum(1)).flatten().tolist()}
        return got, rows


def _readout_loss(y: torch.Tensor, h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(F.linear(h, w, b), y)


def backprop(module: SentimentRNN, ids: np.ndarray, label: int) -> Backprop:
    """BPTT for one review (non-empty ids, as read) with the true label ``label`` (1 positive, 0 negative)."""
    if len(ids) == 0:
        raise ValueError("the review contains no words")
    if label not in (0, 1):
        raise ValueError("label must be 1 (positive) or 0 (negative)")
    arch, states, f = module.arch, ARCHS[module.arch].state, form(module)
    lead = module.prefix.ids(len(ids)) if getattr(module, "prefix", None) is not None else []
    with torch.no_grad():
        w = {k: v.detach().to(DTYPE) for k, v in weights(module).items()}
        idx = torch.tensor(np.asarray(ids, dtype=np.int64))
        x = module.embedding.weight.detach()[idx].to(DTYPE)  # [T, E]
        wd, bd = module.dense.weight.detach().to(DTYPE), module.dense.bias.detach().to(DTYPE)
    y = torch.tensor([float(label)], dtype=DTYPE)

    # Forward, word by word, keeping each step's vector-Jacobian product; from the model's start state (zero, or
    # after the padding and start mark it reads).
    start = _Start(module, len(idx))
    state = start.state
    before, backs, gates = [], [], []
    for t in range(len(idx)):
        before.append(state)
        zeros = tuple(torch.zeros_like(s) for s in state)
        state, back, g = vjp(partial(_step_with_handles, arch, f, w, x[t], states), state, zeros, has_aux=True)
        backs.append(back)
        gates.append(g)
    loss, back_loss = vjp(partial(_readout_loss, y), state[0], wd, bd)
    g_h, g_wd, g_bd = back_loss(torch.ones((), dtype=DTYPE))

    # Backward: the recursion over the words, last to first.
    cot: State = (g_h, *(torch.zeros_like(s) for s in state[1:]))
    totals, outs, carried = [None] * len(idx), [None] * len(idx), [None] * len(idx)
    for t in reversed(range(len(idx))):
        outs[t] = cot
        carried[t], totals[t] = backs[t](cot)
        cot = carried[t]

    def stacked(seq: list, i: int) -> torch.Tensor:
        return torch.stack([s[i] for s in seq])

    # The weights: every step's vjp with its output cotangent, summed over the words in one batched step.
    prev = tuple(stacked(before, i) for i in range(len(states)))
    back_w = vjp(lambda w_, x_: step(arch, w_, x_, prev, form=f)[0], w, x)[1]
    g_w, g_x = back_w(tuple(stacked(outs, i) for i in range(len(states))))
    g_w = {PARAMETERS[k]: v for k, v in g_w.items()}
    uniq, inverse = np.unique(np.asarray(ids), return_inverse=True)
    rows = torch.zeros(len(uniq), x.shape[1], dtype=DTYPE).index_add_(0, torch.as_tensor(inverse), g_x)
    g_prefix, prefix_rows = start.weight_grads(carried[0])  # the start state's gradient goes on into the prefix
    if prefix_rows or g_prefix:
        g_w = {k: v + g_prefix[k] for k, v in g_w.items()}
        extra = sorted(set(prefix_rows) - set(uniq.tolist()))
        uniq = np.concatenate([uniq, np.asarray(extra, dtype=uniq.dtype)])
        rows = torch.cat([rows, torch.zeros(len(extra), x.shape[1], dtype=DTYPE)])
        for i, g in prefix_rows.items():
            rows[int(np.flatnonzero(uniq == i)[0])] += g

    grad = {s: stacked(totals, i) for i, s in enumerate(states)}
    before_grad = {s: stacked(carried, i) for i, s in enumerate(states)}
    keep, other = _paths(arch, grad, before_grad, {k: torch.stack([g[k] for g in gates]) for k in gates[0]})
    logit = F.linear(state[0], wd, bd)
    return Backprop(
        arch=arch, ids=np.asarray(ids), label=int(label), p_positive=float(torch.sigmoid(logit)),
        loss=float(loss), grad_h=grad["h"].numpy(), grad_c=grad["c"].numpy() if "c" in grad else None,
        keep=keep.numpy(), other=other.numpy(), carried=tuple(before_grad[s].numpy() for s in states),
        grads={**g_w, "dense.weight": g_wd, "dense.bias": g_bd},
        embedding_ids=uniq, embedding_grads=rows, prefix=np.asarray(lead, dtype=np.int64))


def _paths(arch: str, grad: dict[str, torch.Tensor], before: dict[str, torch.Tensor],
           gates: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(keep, other) per word: the highway's part of ∂L/∂state_{t−1} and the rest.

    ∂L/∂state_{t−1} is the total derivative of the state before word t: for h the step's own vjp (h_{t−1} feeds
    only step t), for the LSTM's c the total at word t−1 (c_0 = 0 feeds only step 1)."""
    if arch not in HIGHWAY:
        return torch.zeros_like(grad["h"]), before["h"]
    s, gate = HIGHWAY[arch]
    keep = gates[gate] * grad[s]
    total_before = torch.cat([before[s][:1], grad[s][:-1]]) if s != "h" else before["h"]
    return keep, total_before - keep


# --- what the page and the CLI show ----------------------------------------------------------------------

def weight_grads(bp: Backprop, module: SentimentRNN) -> dict[str, np.ndarray]:
    """∂L/∂W for every block, as the equations name it: W_ir, W_iz, W_in, W_hr, … each bias, the output layer's
    W_out and b_out, and ``embedding``, the rows of the review's words."""
    blocks = ARCHS[bp.arch].blocks
    h = module.rnn.hidden_size
    out = {}
    for key, pname in PARAMETERS.items():
        g = bp.grads[pname].numpy()
        kind, side = key.split("_")  # w / b, ih / hh
        for i, block in enumerate(blocks):
            out[f"{'W' if kind == 'w' else 'b'}_{side[0]}{block_symbol(block)}"] = g[i * h:(i + 1) * h]
    out["W_out"] = bp.grads["dense.weight"].numpy()
    out["b_out"] = bp.grads["dense.bias"].numpy()
    out["embedding"] = bp.embedding_grads.numpy()
    return out


def weight_grad_norms(bp: Backprop, module: SentimentRNN) -> dict[str, float]:
    """{block: Frobenius norm of ∂L/∂block}."""
    return {k: float(np.linalg.norm(v)) for k, v in weight_grads(bp, module).items()}


def embedding_table(bp: Backprop, model: SentimentModel, top: int = 10) -> pd.DataFrame:
    """The words whose embedding rows get the largest gradient: word, times read, ‖∂L/∂E[word]‖ (for a model that
    reads Keras's padding and start mark first, their rows are among them). A table the page shows: its column
    names and the names of the rows that are no word are in the session's language."""
    norms = bp.embedding_grads.norm(dim=1).numpy()
    counts = {int(i): int(c) for i, c in zip(*np.unique(np.concatenate([bp.ids, bp.prefix]), return_counts=True))}
    before = set(bp.prefix.tolist()) - set(bp.ids.tolist())
    order = np.argsort(-norms, kind="stable")[:top]

    def name(i: int) -> str:
        if i in before:
            return _("(padding, before the first word)") if i == PAD_ID else _("(start mark, before the first word)")
        return _("(every unknown word)") if i == model.vocab.unk_id else model.vocab.word(i)

    return pd.DataFrame({
        _("word"): [name(int(bp.embedding_ids[i])) for i in order],
        _("times read"): [counts[int(bp.embedding_ids[i])] for i in order],
        _("gradient norm"): norms[order].astype(np.float64),
    })


def norms_frame(runs: dict[str, Backprop], tokens: dict[str, list[str]]) -> pd.DataFrame:
    """Long table, one row per model and word: step, word, ‖∂L/∂h_t‖, the keep and other paths' norms."""
    frames = []
    for name, bp in runs.items():
        n = bp.norms()
        words = [short(w) for w in tokens[name]]
        frames.append(pd.DataFrame({"model": name, "step": np.arange(1, len(words) + 1), "word": words,
                                    "grad_norm": n["grad_h"], "keep": n["keep"], "other": n["other"],
                                    "cell_grad_norm": n.get("grad_c", np.full(len(words), np.nan))}))
    return pd.concat(frames, ignore_index=True)


def gradient_frame(bp: Backprop, tokens: list[str], order: np.ndarray, window: tuple[int, int],
                   per_word: bool) -> pd.DataFrame:
    """∂L/∂h_t per unit and word (from ``window``), for a heatmap: step, label, word, unit, rank, value and
    ``shade`` in [−1, 1] (the value over its word's largest |value| when ``per_word``, else over the window's)."""
    a, b = window
    g = bp.grad_h[a:b][:, order]
    scale = (np.abs(g).max(axis=1, keepdims=True) if per_word else np.full((b - a, 1), np.abs(g).max()))
    shade = np.divide(g, scale, out=np.zeros_like(g), where=scale > 0)
    h = len(order)
    labels = [f"{i + 1} · {short(w)}" for i, w in enumerate(tokens[a:b], start=a)]
    return pd.DataFrame({
        "step": np.repeat(np.arange(a + 1, b + 1), h), "label": np.repeat(labels, h),
        "word": np.repeat([short(w) for w in tokens[a:b]], h), "unit": np.tile(order, b - a),
        "rank": np.tile(np.arange(h), b - a), "value": g.reshape(-1), "shade": shade.reshape(-1)})


# --- gradient descent on a private copy ------------------------------------------------------------------

def sgd_update(module: SentimentRNN, bp: Backprop, alpha: float) -> None:
    """θ := θ − α·∂L/∂θ for every trainable weight of ``module`` (a private copy), in place."""
    with torch.no_grad():
        for name, g in bp.grads.items():
            p = module.get_parameter(name)
            p.sub_(alpha * g.to(p.dtype))
        e = module.embedding.weight
        e.index_add_(0, torch.as_tensor(bp.embedding_ids), -alpha * bp.embedding_grads.to(e.dtype))


def sgd_path(model: SentimentModel, ids: np.ndarray, label: int, alpha: float, steps: int,
             follow: list[np.ndarray], final: list[np.ndarray] = ()) -> dict[str, np.ndarray]:
    """Plain SGD on this review alone, ``steps`` steps of size ``alpha`` on a private copy of all the weights (in
    the model's own float32; the gradients come from ``backprop`` in float64), and how the verdicts move: of the
    review and of each ``follow`` review before and after every step (``p_review`` [steps+1], ``p_follow``
    [steps+1, len(follow)]; row 0: before), of each ``final`` review after the last step only (``p_final``: their
    verdicts before are the model's own), and the review's ``loss``."""
    module = session_copy(model, torch.float32)
    copy = SentimentModel(module, model.vocab, model.config)
    seqs = [np.asarray(ids), *follow]
    ps = [copy.predict_ids(seqs, PROBE_BATCH)]
    for _step in range(steps):
        sgd_update(module, backprop(module, ids, label), alpha)
        ps.append(copy.predict_ids(seqs, PROBE_BATCH))
    p = np.stack(ps)
    with np.errstate(divide="ignore"):
        loss = -np.log(p[:, 0]) if label == 1 else -np.log1p(-p[:, 0])
    after = copy.predict_ids(list(final), PROBE_BATCH) if len(final) else np.empty(0)
    return {"alpha": alpha, "loss": loss, "p_review": p[:, 0], "p_follow": p[:, 1:], "p_final": after}
