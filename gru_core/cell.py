"""One step of the recurrent layer, written out from the module's own weights.

The native ``nn.GRU``/``nn.LSTM``/``nn.RNN`` runs a whole review in one fused
call, which is what prediction and tracing use. Two analyses need the update
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
from torch import Tensor

from .archs import arch as get_arch
from .model import SentimentRNN

Edit = Callable[[str, int, Tensor], Tensor]
State = tuple[Tensor, ...]  # (h,) or, for the LSTM, (h, c)


def _keep(name: str, t: int, value: Tensor) -> Tensor:
    return value


def weights(module: SentimentRNN) -> dict[str, Tensor]:
    """The recurrent layer's four tensors, keyed as in the equations (w_ih, w_hh, b_ih, b_hh)."""
    rnn = module.rnn
    return {"w_ih": rnn.weight_ih_l0, "w_hh": rnn.weight_hh_l0, "b_ih": rnn.bias_ih_l0, "b_hh": rnn.bias_hh_l0}


def zero_state(module: SentimentRNN, batch: tuple[int, ...] = ()) -> State:
    """h_0 (and c_0) = 0, as the native layer starts."""
    w = module.rnn.weight_hh_l0
    z = torch.zeros(*batch, module.rnn.hidden_size, dtype=w.dtype, device=w.device)
    return tuple(z for _ in get_arch(module.arch).state)


def step(arch: str, w: dict[str, Tensor], x: Tensor, state: State, edit: Edit | None = None,
         t: int = 0) -> tuple[State, dict[str, Tensor]]:
    """(new state, gates) after reading the embedded word ``x`` [..., E] from ``state``."""
    edit = edit or _keep
    gi = torch.nn.functional.linear(x, w["w_ih"], w["b_ih"])
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


def run(module: SentimentRNN, x: Tensor, edit: Edit | None = None,
        state: State | None = None) -> tuple[Tensor, dict[str, Tensor], State]:
    """Step through embedded reviews ``x`` [B, T, E]: (hidden [B, T, H], gates name -> [B, T, H], last state).

    Rows are read from the front, as ``SentimentRNN.embed`` aligns them; a row's
    verdict reads ``hidden[b, length - 1]``, as the native path does.
    """
    w = weights(module)
    state = state if state is not None else zero_state(module, (x.shape[0],))
    hidden, gates = [], {}
    for t in range(x.shape[1]):
        state, g = step(module.arch, w, x[:, t], state, edit, t)
        hidden.append(state[0])
        for k, v in g.items():
            gates.setdefault(k, []).append(v)
    return torch.stack(hidden, 1), {k: torch.stack(v, 1) for k, v in gates.items()}, state
