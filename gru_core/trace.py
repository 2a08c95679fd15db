"""Every gate at every word, computed from the model's own weights.

The native ``nn.GRU``/``nn.LSTM``/``nn.RNN`` pass gives the hidden states h_t.
Each gate depends only on the input x_t and the previous state h_{t-1}, so all
gates of all steps follow in one batched step from those states: tracing costs
little more than the forward pass, and needs no hooks on (and no copy of) the
shared module.

GRU, as PyTorch computes it (reset applied after the recurrent matrix product,
as in cuDNN and Keras ``reset_after=True``)::

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))  candidate
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}

A GRU of the other form (Cho et al. 2014, Keras ``reset_after=False``; ``gru_form``
"reset_before") differs in the candidate only, n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn);
no native layer runs it, so its hidden states come from the step-by-step cell
(``cell.CellRNN``; ``bench`` measures what that costs).

LSTM::

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)          input gate
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)          forget gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)       cell candidate
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)          output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                          cell
    h_t = o_t ⊙ tanh(c_t)

Plain RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (no gates).
The verdict after word t is σ(w · h_t + b), the output layer applied to h_t.
h_0 is zero, or for a model that reads padding (Keras ``mask_zero=False``) the state after
the padding and the start mark (``SentimentRNN.initial_state``): the trace starts there.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from .cell import form, step, weights
from .model import SentimentRNN
from .text import UNK_ID, length_batches, pad_sequences


@dataclass
class Trace:
    """What the model did with one review, one row per word it read."""

    text: str
    tokens: list[str]  # the words as the user typed them
    spans: list[tuple[int, int]]  # character offsets of each token in ``text``
    ids: np.ndarray  # [T] vocabulary ids (1 = unknown word)
    gates: dict[str, np.ndarray]  # name -> [T, H], names and order: archs.ARCHS[arch].traced
    hidden: np.ndarray  # [T, H]
    step_proba: np.ndarray  # [T] P(positive) after each word
    proba: float  # the prediction: step_proba[-1]
    truncated: bool  # True when only the last maxlen words were read
    total_tokens: int  # words in the whole text (>= len(tokens))
    arch: str = ""
    words: list[str] = field(default_factory=list)  # normalised tokens (vocabulary form)
    initial: np.ndarray | None = None  # the state before the first word, h_0 or [h_0; c_0] (None: zero)
    padding_read: int = 0  # padding steps the model read before the first word (Keras mask_zero=False)
    start_mark: bool = False  # whether a start mark was read before the first word
    unk_id: int = UNK_ID

    @property
    def known(self) -> np.ndarray:
        return self.ids != self.unk_id

    @property
    def h0(self) -> np.ndarray:
        """[H] the hidden state the first word is read from."""
        H = self.hidden.shape[1]
        return self.initial[:H] if self.initial is not None else np.zeros(H, dtype=self.hidden.dtype)

    @property
    def used_from(self) -> int:
        """Character offset where the part of the text that was read begins."""
        return self.spans[0][0] if self.spans else 0


@torch.no_grad()
def trace_ids(module: SentimentRNN, id_lists: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Hidden states, gates and per-step verdicts for each id sequence (all non-empty).

    The hidden states come from the native recurrent layer run exactly as in
    ``SentimentRNN.final_hidden``, so the last step's verdict is the model's
    prediction; the gates are recomputed from those states in one batched step.
    """
    x, lengths, hidden = native_states(module, id_lists)
    start = module.initial_state(lengths)
    h_prev = torch.cat([start[0][:, None].to(hidden.dtype), hidden[:, :-1]], dim=1)
    # Every word's gates in one batched step of the cell, from the native states (the cell ignores the
    # cell state it is given for the gates; the LSTM's true cell states follow below).
    state = (h_prev, torch.zeros_like(h_prev)) if module.arch == "lstm" else (h_prev,)
    _, gates = step(module.arch, weights(module), x, state, form=form(module))
    gates.pop("cell", None)
    step_logits = module.dense(hidden).squeeze(-1)  # [B, T]
    step_proba = torch.sigmoid(step_logits).cpu().numpy().astype(np.float64)
    hidden_np = hidden.cpu().numpy()
    gates_np = {k: v.cpu().numpy() for k, v in gates.items()}
    if module.arch == "lstm":
        gates_np["cell"] = _cell_states(gates_np["forget"], gates_np["input"] * gates_np["cell_candidate"],
                                        start[1].cpu().numpy())
    start_np = [s.cpu().numpy() for s in start]
    out = []
    for b, n in enumerate(lengths.tolist()):
        out.append({
            "hidden": hidden_np[b, :n],
            "gates": {k: v[b, :n] for k, v in gates_np.items()},
            "step_proba": step_proba[b, :n],
            "initial": [s[b] for s in start_np],  # h_0 (and c_0)
        })
    return out


@torch.no_grad()
def native_states(module: SentimentRNN, id_lists: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(embedded words x [B, T, E], lengths [B], hidden states [B, T, H]) of the native recurrent layer over non-empty
    id sequences, each moved to the front of its row and read from its start state (as ``SentimentRNN.final_hidden``
    reads them)."""
    padded = pad_sequences(id_lists, max(len(ids) for ids in id_lists))
    x, lengths = module.embed(torch.from_numpy(padded).to(module.rnn.weight_ih_l0.device))  # [B, T, E]
    hidden, _ = module.rnn(x, module.initial_hx(lengths))  # [B, T, H], from each review's start state
    return x, lengths, hidden


@torch.no_grad()
def hidden_batches(module: SentimentRNN, id_lists: list[np.ndarray], batch_size: int = 64
                   ) -> Iterator[tuple[np.ndarray, list[np.ndarray], np.ndarray]]:
    """Only the hidden states, over batches of similar length: (indices into ``id_lists``, each one's [T, H] states,
    each one's P(positive) after its last word) per batch; the same states as ``trace_ids``, without the gates."""
    for idx in length_batches(np.array([len(s) for s in id_lists]), batch_size, None):
        _, lengths, hidden = native_states(module, [id_lists[i] for i in idx])
        last = hidden[torch.arange(len(idx), device=hidden.device), lengths - 1]
        proba = torch.sigmoid(module.dense(last).squeeze(-1)).cpu().numpy().astype(np.float64)
        states = hidden.cpu().numpy()
        yield idx, [states[b, :n] for b, n in enumerate(lengths.tolist())], proba


def trace_batches(module: SentimentRNN, id_lists: list[np.ndarray],
                  batch_size: int = 64) -> Iterator[tuple[np.ndarray, list[dict[str, np.ndarray]]]]:
    """``trace_ids`` over batches of similar length: (indices into ``id_lists``, their results) per batch,
    every sequence once."""
    for idx in length_batches(np.array([len(s) for s in id_lists]), batch_size, None):
        yield idx, trace_ids(module, [id_lists[i] for i in idx])


def _cell_states(forget: np.ndarray, update: np.ndarray, c0: np.ndarray) -> np.ndarray:
    """c_t = f_t ⊙ c_{t-1} + (i_t ⊙ g_t) from c_0 [B, H], over axis 1 of [B, T, H] arrays."""
    cell = np.empty_like(update)
    cell[:, 0] = forget[:, 0] * c0 + update[:, 0]
    for t in range(1, update.shape[1]):
        np.multiply(forget[:, t], cell[:, t - 1], out=cell[:, t])
        cell[:, t] += update[:, t]
    return cell
