"""One step of the recurrent layer, written out from the module's own weights.

The native ``nn.GRU``/``nn.LSTM``/``nn.RNN`` runs a whole review in one fused
call, which is what prediction and tracing use. The GRU has two forms (``form``, see
``archs.GRU_FORMS``): PyTorch's (reset applied after the recurrent product, Keras
``reset_after=True``) and Cho et al. 2014's (reset applied to the state before it, Keras
``reset_after=False``), which no native layer runs: ``CellRNN`` runs it with this step. Two analyses need the update
as a function instead: the dynamics (fixed points and Jacobians of
F(state, x), differentiated with autograd) and interventions (a gate or a unit
changed at every word, which must feed into the next word). Without an edit,
``step`` and ``run`` equal the native layer (tested to 1e-5). The equations
are written out in ``trace.py``'s docstring; ``trace.py`` computes every word's gates with one
batched ``step``. PyTorch's block order is in ``archs.py``.

An edit is ``edit(name, t, value) -> value``: it is called at word ``t`` with
each gate (``"update"``, ``"reset"``, ``"candidate"``; ``"input"``,
``"forget"``, ``"cell_candidate"``, ``"output"``), the new cell state
(``"cell"``, LSTM) and the new hidden state (``"hidden"``), each ``[..., H]``,
and returns the value to use from then on.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from .archs import GRU_FORMS, RESET_AFTER
from .archs import arch as get_arch

Edit = Callable[[str, int, Tensor], Tensor]
State = tuple[Tensor, ...]  # (h,) or, for the LSTM, (h, c)


def _keep(name: str, t: int, value: Tensor) -> Tensor:
    return value


def form(module: nn.Module) -> str | None:
    """The GRU form of a ``SentimentRNN`` (``"reset_after"`` or ``"reset_before"``), None for other archs."""
    return getattr(module, "gru_form", RESET_AFTER) if module.arch == "gru" else None


def weights(module: nn.Module) -> dict[str, Tensor]:
    """The recurrent layer's four tensors, keyed as in the equations (w_ih, w_hh, b_ih, b_hh)."""
    rnn = getattr(module, "rnn", module)  # a SentimentRNN, or its recurrent layer itself
    return {"w_ih": rnn.weight_ih_l0, "w_hh": rnn.weight_hh_l0, "b_ih": rnn.bias_ih_l0, "b_hh": rnn.bias_hh_l0}


def zero_state(module: nn.Module, batch: tuple[int, ...] = ()) -> State:
    """h_0 (and c_0) = 0, as the native layer starts."""
    w = module.rnn.weight_hh_l0
    z = torch.zeros(*batch, module.rnn.hidden_size, dtype=w.dtype, device=w.device)
    return tuple(z for _ in get_arch(module.arch).state)


def step(arch: str, w: dict[str, Tensor], x: Tensor, state: State, edit: Edit | None = None,
         t: int = 0, form: str | None = RESET_AFTER) -> tuple[State, dict[str, Tensor]]:
    """(new state, gates) after reading the embedded word ``x`` [..., E] from ``state``.

    ``form`` (GRU only, ``cell.form(module)``): ``"reset_after"`` computes the candidate as
    tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), ``"reset_before"`` as tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn).
    """
    edit = edit or _keep
    gi = torch.nn.functional.linear(x, w["w_ih"], w["b_ih"])
    if arch == "gru" and form not in GRU_FORMS:
        raise ValueError(f"GRU form must be one of {tuple(GRU_FORMS)}, not {form!r}")
    if arch == "gru" and form != RESET_AFTER:
        (i_r, i_z, i_n), (w_hr, w_hz, w_hn), (b_hr, b_hz, b_hn) = (
            gi.chunk(3, -1), w["w_hh"].chunk(3, 0), w["b_hh"].chunk(3, 0))
        r = edit("reset", t, torch.sigmoid(i_r + torch.nn.functional.linear(state[0], w_hr, b_hr)))
        z = edit("update", t, torch.sigmoid(i_z + torch.nn.functional.linear(state[0], w_hz, b_hz)))
        n = edit("candidate", t, torch.tanh(i_n + torch.nn.functional.linear(r * state[0], w_hn, b_hn)))
        h = edit("hidden", t, (1 - z) * n + z * state[0])
        return (h,), {"update": z, "reset": r, "candidate": n}
    gh = torch.nn.functional.linear(state[0], w["w_hh"], w["b_hh"])
    if arch == "gru":
        (i_r, i_z, i_n), (h_r, h_z, h_n) = gi.chunk(3, -1), gh.chunk(3, -1)
        r = edit("reset", t, torch.sigmoid(i_r + h_r))
        z = edit("update", t, torch.sigmoid(i_z + h_z))
        n = edit("candidate", t, torch.tanh(i_n + r * h_n))
        h = edit("hidden", t, (1 - z) * n + z * state[0])
        return (h,), {"update": z, "reset": r, "candidate": n}
    if arch == "lstm":
        i, f, g, o = (gi + gh).chunk(4, -1)
        i = edit("input", t, torch.sigmoid(i))
        f = edit("forget", t, torch.sigmoid(f))
        g = edit("cell_candidate", t, torch.tanh(g))
        o = edit("output", t, torch.sigmoid(o))
        c = edit("cell", t, f * state[1] + i * g)
        h = edit("hidden", t, o * torch.tanh(c))
        return (h, c), {"input": i, "forget": f, "cell_candidate": g, "output": o, "cell": c}
    if arch == "rnn":
        return (edit("hidden", t, torch.tanh(gi + gh)),), {}
    raise ValueError(f"unknown arch {arch!r}")


def run(module: nn.Module, x: Tensor, edit: Edit | None = None, state: State | None = None,
        lengths: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor], State]:
    """Step through embedded reviews ``x`` [B, T, E]: (hidden [B, T, H], gates name -> [B, T, H], last state).

    Rows are read from the front, as ``SentimentRNN.embed`` aligns them; a row's
    verdict reads ``hidden[b, length - 1]``, as the native path does. Without ``state`` each
    row starts where the model starts a review of its length (``lengths``, default T):
    zero, or for a model that reads padding the state after it (``SentimentRNN.initial_state``).
    """
    w = weights(module)
    if state is None:
        lengths = lengths if lengths is not None else torch.full((x.shape[0],), x.shape[1])
        state = module.initial_state(lengths)
    hidden, gates = [], {}
    for t in range(x.shape[1]):
        state, g = step(module.arch, w, x[:, t], state, edit, t, form(module))
        hidden.append(state[0])
        for k, v in g.items():
            gates.setdefault(k, []).append(v)
    return torch.stack(hidden, 1), {k: torch.stack(v, 1) for k, v in gates.items()}, state


def run_states(arch: str, w: dict[str, Tensor], x: Tensor, state: State, gru_form: str | None = RESET_AFTER) -> Tensor:
    """[B, T, H] hidden state after each step of ``x`` [B, T, E] from ``state`` (no edits, no gates kept)."""
    out = []
    for t in range(x.shape[1]):
        state, _ = step(arch, w, x[:, t], state, None, t, gru_form)
        out.append(state[0])
    return torch.stack(out, 1)


class CellRNN(nn.Module):
    """A GRU layer of the form ``nn.GRU`` has no kernel for (Cho et al. 2014), run step by step with ``step``.

    It has ``nn.GRU``'s parameters, names and shapes (one layer, batch first) and its call,
    ``(x [B, T, E], h0 [1, B, H] | None) -> (output [B, T, H], h_n [1, B, H])``, so every
    module that reads ``module.rnn`` reads it unchanged. One Python step per word: about
    as fast as ``cell.run``, several times slower than the fused kernel (``bench``).
    """

    arch = "gru"

    def __init__(self, input_size: int, hidden_size: int, gru_form: str, batch_first: bool = True):
        super().__init__()
        if not batch_first or gru_form not in GRU_FORMS:
            raise ValueError("CellRNN is batch first and needs a GRU form")
        self.input_size, self.hidden_size, self.gru_form, self.batch_first = input_size, hidden_size, gru_form, True
        self.num_layers, self.bidirectional = 1, False
        self.weight_ih_l0 = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih_l0 = nn.Parameter(torch.zeros(3 * hidden_size))
        self.bias_hh_l0 = nn.Parameter(torch.zeros(3 * hidden_size))
        bound = hidden_size ** -0.5  # nn.GRU's default initialisation
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h0 = hx[0] if hx is not None else x.new_zeros(x.shape[0], self.hidden_size)
        out = run_states("gru", weights(self), x, (h0,), self.gru_form)
        return out, out[:, -1][None]

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, gru_form={self.gru_form!r}, batch_first=True"
