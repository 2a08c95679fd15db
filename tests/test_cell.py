"""The written-out step (cell.py) against the native nn.GRU/nn.LSTM/nn.RNN, and edits on a hand-built GRU."""
from __future__ import annotations

import numpy as np
import torch

from gru_core.archs import ARCHS, NAMES, SIGMOID_GATES
from gru_core.cell import run, step, weights, zero_state

from .tiny import tiny_module


def test_arch_table_matches_native_layers(arch):
    a = ARCHS[arch]
    m = tiny_module(arch, hidden=5)
    assert isinstance(m.rnn, a.module)
    assert m.rnn.weight_hh_l0.shape[0] == a.n_blocks * 5  # one block per gate, as PyTorch stacks them
    assert set(a.gates) <= SIGMOID_GATES and len(NAMES) == 3


def test_run_equals_native_layer_at_every_step(arch):
    m = tiny_module(arch, vocab_size=30, embed=7, hidden=6, std=0.6)
    x = torch.randn(4, 23, 7, generator=torch.Generator().manual_seed(1))
    native, native_state = m.rnn(x)
    hidden, gates, state = run(m, x)
    assert torch.allclose(hidden, native, atol=1e-5)
    if arch == "lstm":  # the native layer returns (h_T, c_T)
        assert torch.allclose(state[1], native_state[1][0], atol=1e-5)
    assert set(gates) == set(ARCHS[arch].traced)


def test_one_step_from_any_state_equals_native(arch):
    m = tiny_module(arch, vocab_size=30, embed=7, hidden=6, std=0.6)
    g = torch.Generator().manual_seed(2)
    x, h = torch.randn(3, 1, 7, generator=g), torch.rand(3, 6, generator=g) * 2 - 1
    c = torch.randn(3, 6, generator=g)
    state = (h, c) if arch == "lstm" else (h,)
    native_init = (h[None], c[None]) if arch == "lstm" else h[None]
    native, _ = m.rnn(x, native_init)
    (h1, *_), _ = step(arch, weights(m), x[:, 0], state)
    assert torch.allclose(h1, native[:, 0], atol=1e-5)


def test_gates_match_hand_computation_on_a_planted_gru():
    # One unit, one input: every weight set by hand, so each gate is a number we can write down.
    m = tiny_module("gru", vocab_size=3, embed=1, hidden=1)
    with torch.no_grad():
        m.rnn.weight_ih_l0.copy_(torch.tensor([[1.0], [2.0], [3.0]]))   # reset, update, candidate
        m.rnn.weight_hh_l0.copy_(torch.tensor([[0.5], [-1.0], [4.0]]))
        m.rnn.bias_ih_l0.zero_()
        m.rnn.bias_hh_l0.copy_(torch.tensor([0.0, 0.0, 1.0]))
    x, h0 = 0.5, 0.25
    r = 1 / (1 + np.exp(-(1.0 * x + 0.5 * h0)))
    z = 1 / (1 + np.exp(-(2.0 * x - 1.0 * h0)))
    n = np.tanh(3.0 * x + r * (4.0 * h0 + 1.0))
    expected = (1 - z) * n + z * h0
    (h,), gates = step("gru", weights(m), torch.tensor([[x]]), (torch.tensor([[h0]]),))
    assert abs(float(h) - expected) < 1e-6
    assert abs(float(gates["reset"]) - r) < 1e-6 and abs(float(gates["update"]) - z) < 1e-6

    # Freezing the update gate (z := 1) keeps h exactly; overwriting (z := 0) takes the candidate.
    def freeze(name, t, v):
        return torch.ones_like(v) if name == "update" else v

    def overwrite(name, t, v):
        return torch.zeros_like(v) if name == "update" else v

    (h_frozen,), _ = step("gru", weights(m), torch.tensor([[x]]), (torch.tensor([[h0]]),), freeze)
    (h_over,), _ = step("gru", weights(m), torch.tensor([[x]]), (torch.tensor([[h0]]),), overwrite)
    assert float(h_frozen) == h0
    assert abs(float(h_over) - n) < 1e-6


def test_edit_sees_every_word_and_feeds_the_next(arch):
    m = tiny_module(arch, vocab_size=30, embed=5, hidden=4, std=0.6)
    x = torch.randn(2, 6, 5, generator=torch.Generator().manual_seed(3))
    seen = []

    def ablate_unit_0(name, t, v):
        if name == "hidden":
            seen.append(t)
            v = v.clone()
            v[..., 0] = 0.0
        return v

    hidden, _, _ = run(m, x, ablate_unit_0)
    plain, _, _ = run(m, x)
    assert seen == list(range(6))
    assert torch.all(hidden[..., 0] == 0)
    assert not torch.allclose(hidden[:, 1:, 1:], plain[:, 1:, 1:])  # the zeroed unit changed the others


def test_zero_state_shapes(arch):
    m = tiny_module(arch, hidden=4)
    s = zero_state(m, (3,))
    assert len(s) == len(ARCHS[arch].state) and all(t.shape == (3, 4) and not t.any() for t in s)
