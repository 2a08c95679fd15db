"""Tables and attributions built from traces: what the Gate Explorer shows.

All functions are pure: they read a ``Trace`` or a ``SentimentModel`` and
return NumPy arrays or pandas frames. Nothing here changes the (shared) model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..archs import GATE_LABELS
from ..cell import form, step, weights
from ..i18n import _
from ..predictor import SentimentModel
from ..text import pad_sequences
from ..trace import Trace


def quantities(trace: Trace) -> dict[str, np.ndarray]:
    """Every per-unit quantity of the trace, hidden state last: name -> [T, H]."""
    return {**trace.gates, "hidden": trace.hidden}


LABEL_CHARS = 30
WINDOW = 60  # words per heatmap: more would make the cells too narrow to read


def short(word: str, limit: int = LABEL_CHARS) -> str:
    """A word as shown on a chart: very long "words" (a pasted URL, a run of letters) cut with '…'."""
    return word if len(word) <= limit else word[: limit - 1] + "…"


def step_labels(trace: Trace) -> list[str]:
    """Unique axis labels, one per word: '3 · good'."""
    return [f"{i + 1} · {short(w)}" for i, w in enumerate(trace.tokens)]


def words_frame(trace: Trace) -> pd.DataFrame:
    """One row per word read: position, word, known, running P(positive) and its change."""
    prev = np.concatenate([[np.nan], trace.step_proba[:-1]])
    return pd.DataFrame({
        "step": np.arange(1, len(trace.tokens) + 1),
        "label": step_labels(trace),
        "word": [short(w) for w in trace.tokens],
        "known": trace.known,
        "p_positive": trace.step_proba,
        "change": trace.step_proba - prev,
    })


def unit_order(model: SentimentModel, trace: Trace, quantity: str, by: str) -> np.ndarray:
    """Unit indices ordered by ``index``, ``weight`` (output-layer weight, most positive
    first: the units that push the verdict towards positive) or ``mean`` activation."""
    h = trace.hidden.shape[1]
    if by == "index":
        return np.arange(h)
    if by == "weight":
        return np.argsort(-output_weights(model), kind="stable")
    if by == "mean":
        return np.argsort(-quantities(trace)[quantity].mean(0), kind="stable")
    raise ValueError(f"unknown unit order {by!r}")


def output_weights(model: SentimentModel) -> np.ndarray:
    """[H] weight of each hidden unit in the output layer."""
    return model.module.dense.weight.detach().cpu().numpy()[0].astype(np.float64)


def gate_frame(trace: Trace, quantity: str, order: np.ndarray | None = None,
               window: tuple[int, int] | None = None) -> pd.DataFrame:
    """Long table for a heatmap: one row per (unit, word) in the window.

    Columns: step, label, word, unit, rank (row in the chosen order), value.
    """
    values = quantities(trace)[quantity]
    t, h = values.shape
    a, b = window if window else (0, t)
    order = np.arange(h) if order is None else np.asarray(order)
    labels = step_labels(trace)[a:b]
    block = values[a:b][:, order]  # [w, H] in display order
    w = b - a
    return pd.DataFrame({
        "step": np.repeat(np.arange(a + 1, b + 1), h),
        "label": np.repeat(labels, h),
        "word": np.repeat([short(w) for w in trace.tokens[a:b]], h),
        "unit": np.tile(order, w),
        "rank": np.tile(np.arange(h), w),
        "value": block.reshape(-1).astype(np.float64),
    })


def last_window(trace: Trace, words: int = WINDOW) -> tuple[int, int]:
    """The (start, stop) steps of the last ``words`` words: where the verdict is decided."""
    return max(0, len(trace.tokens) - words), len(trace.tokens)


def heatmap_frame(model: SentimentModel, trace: Trace, quantity: str, order_by: str,
                  window: tuple[int, int] | None = None) -> pd.DataFrame:
    """``gate_frame`` with the units in ``order_by`` order (see ``unit_order``)."""
    return gate_frame(trace, quantity, unit_order(model, trace, quantity, order_by), window)


def unit_frame(trace: Trace, unit: int, window: tuple[int, int] | None = None) -> pd.DataFrame:
    """One unit's quantities (every gate and the hidden state) over the words of the window, long:
    step, label, word, quantity (as the equations name it, in the interface's language), value."""
    a, b = window if window else (0, len(trace.tokens))
    words = words_frame(trace).iloc[a:b]
    return pd.concat([pd.DataFrame({"step": words["step"], "label": words["label"], "word": words["word"],
                                    "quantity": _(GATE_LABELS[name]), "value": values[a:b, unit]})
                      for name, values in quantities(trace).items()], ignore_index=True)


def word_summaries(trace: Trace) -> pd.DataFrame:
    """Per word: mean of each gate over units and the size of the hidden-state change.

    ``h_change`` = ‖h_t − h_{t−1}‖ (from h_0, ``trace.h0``): which words made the network rewrite
    its memory. For a GRU, mean update gate near 1 = memory kept, near 0 = overwritten.
    """
    df = words_frame(trace)[["step", "label", "word"]].copy()
    for name, v in trace.gates.items():
        df[f"mean_{name}"] = v.mean(1)
    prev = np.vstack([trace.h0[None].astype(trace.hidden.dtype), trace.hidden[:-1]])
    df["h_change"] = np.linalg.norm(trace.hidden - prev, axis=1)
    return df


def trace_csv(trace: Trace) -> str:
    """The whole trace as CSV: step, word, unit, quantity, value (plus the running verdict, unit −1).

    Words are written in full, as typed (charts shorten very long ones; a download must not).
    """
    columns = ["step", "word", "unit", "quantity", "value"]
    frames = [gate_frame(trace, q).assign(quantity=q) for q in quantities(trace)]
    verdict = words_frame(trace)[["step", "p_positive"]].rename(columns={"p_positive": "value"})
    frames.append(verdict.assign(unit=-1, quantity="p_positive"))
    table = pd.concat(frames, ignore_index=True)
    table["word"] = np.asarray(trace.tokens, dtype=object)[table["step"].to_numpy() - 1]
    return table[columns].to_csv(index=False)


@torch.inference_mode()  # fewer bookkeeping costs than no_grad over its ~T small steps
def occlusion(model: SentimentModel, trace: Trace) -> np.ndarray:
    """[T] verdict change when each word is removed: proba − proba(without that word).

    Positive: the word pushed the verdict towards positive. Without word t the
    review reads as before up to word t − 1, so variant t starts from the trace's
    state after word t − 1 and reads the words after t. All variants read word s
    in the same step: one batch of rows (row t: the review without word t), one
    ``cell.step`` per word, where at word s the rows t < s are the ones still
    reading. T − 1 steps in all, T²/2 rows; the last word's variant reads nothing
    more, its verdict is the one after the word before it.

    A model that reads Keras's padding first starts a shorter review after one more
    padding step, so no state of the trace is shared: each variant is read afresh.
    """
    ids = trace.ids
    n = len(ids)
    if n == 1:
        return np.array([trace.proba - 0.5])  # nothing left to read: compare with no opinion
    module = model.module
    if getattr(module, "prefix", None) is not None:
        return trace.proba - model.predict_ids([np.delete(ids, i) for i in range(n)], batch_size=64)
    w = weights(module)
    device = w["w_hh"].device
    x = module.embedding(torch.tensor(ids, device=device))  # [T, E]
    carried = [trace.hidden] + ([trace.gates["cell"]] if "cell" in trace.gates else [])
    # Row t starts from the state after word t − 1 (zeros before the first word).
    state = [torch.as_tensor(np.vstack([np.zeros_like(v[:1]), v[:-1]]), device=device) for v in carried]
    for s in range(1, n):
        new, _gates = step(module.arch, w, x[s], tuple(v[:s] for v in state), form=form(module))
        for v, u in zip(state, new):
            v[:s] = u
    without = torch.sigmoid(module.dense(state[0])).squeeze(-1).double().cpu().numpy()
    return trace.proba - without


def logit_gradients(model: SentimentModel, seqs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(embeddings [B, T, E], ∂ verdict logit / ∂ embeddings [B, T, E], lengths [B]) for id sequences.

    Gradients flow to a fresh embedding tensor, not to the model's weights
    (which stay frozen and untouched). Row b holds review b from position 0.
    """
    module = model.module
    ids = torch.from_numpy(pad_sequences(seqs, max(len(s) for s in seqs)))
    with torch.enable_grad():
        x, lengths = module.embed(ids)
        x = x.detach().requires_grad_(True)
        logits = module.dense(module.last_hidden(x, lengths)).sum()
        (grad,) = torch.autograd.grad(logits, x)
    return x.detach(), grad, lengths


def grad_x_input(model: SentimentModel, trace: Trace) -> np.ndarray:
    """[T] gradient × input saliency of the verdict's logit, summed over embedding dims."""
    x, grad, _lengths = logit_gradients(model, [trace.ids])
    return (grad * x).sum(-1)[0].numpy().astype(np.float64)
