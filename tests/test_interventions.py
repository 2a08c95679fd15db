"""Interventions (gru_core/analysis/interventions.py) against hand computations on hand-set tiny models,
the native layers and the fast trace."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gru_core import load_model
from gru_core.analysis.ablation import top_units
from gru_core.analysis.interventions import (
    KINDS,
    Intervention,
    change_by_word_frame,
    change_summary,
    delta_frame,
    kinds_for,
    meaning,
    not_available,
    read_label_correlations,
    run_intervention,
    trajectory_frame,
)
from gru_core.analysis.units import INDEX_VERSION
from gru_core.charts.interventions import change_by_word_chart, delta_heatmap

from .tiny import clone_state, same_state, tiny_model
from .vegaspec import data_of

TEXT = "up down up up down zzz up"  # zzz: an unknown word


def _sig(v):
    return 1 / (1 + np.exp(-v))


def hand_gru(coupled: bool = True):
    """A 2-unit GRU reading 1-number words, every weight set by hand: up = +1, down = −1, unknown = 0.1.

    With ``coupled=False`` no unit reads the other (W_hh diagonal), so changing one leaves the other alone.
    """
    m = tiny_model("gru", words=["up", "down"], embed=1, hidden=2)
    rnn = m.module.rnn
    with torch.no_grad():
        m.module.embedding.weight.copy_(torch.tensor([[0.0], [0.1], [1.0], [-1.0]]))  # pad, unknown, up, down
        rnn.weight_ih_l0.copy_(torch.tensor([[0.5], [-0.4], [1.2], [0.3], [2.0], [-1.5]]))  # r, z, n blocks
        w_hh = torch.tensor([[0.6, -0.7], [0.2, 0.9], [-0.3, 0.5], [0.8, 0.1], [1.1, -0.6], [0.4, 0.7]])
        if not coupled:
            w_hh *= torch.tensor([[1.0, 0.0], [0.0, 1.0]]).repeat(3, 1)
        rnn.weight_hh_l0.copy_(w_hh)
        rnn.bias_ih_l0.copy_(torch.tensor([0.1, -0.2, 0.0, 0.3, 0.05, -0.1]))
        rnn.bias_hh_l0.copy_(torch.tensor([0.0, 0.1, -0.2, 0.0, 0.2, 0.1]))
        m.module.dense.weight.copy_(torch.tensor([[2.0, -1.5]]))
        m.module.dense.bias.fill_(0.25)
    return m


def numpy_gru(m, text: str, units=(), reset=None, update=None, h_set=None, start=0):
    """The GRU equations by hand in float64 with a unit forced from word ``start`` on: (h [T,2], n [T,2], P [T])."""
    p = {k: v.double().numpy() for k, v in m.module.rnn.state_dict().items()}
    (w_ir, w_iz, w_in), (w_hr, w_hz, w_hn) = np.split(p["weight_ih_l0"], 3), np.split(p["weight_hh_l0"], 3)
    (b_ir, b_iz, b_in), (b_hr, b_hz, b_hn) = np.split(p["bias_ih_l0"], 3), np.split(p["bias_hh_l0"], 3)
    emb = m.module.embedding.weight.double().numpy()
    xs = emb[m.trace(text).ids]
    h, hs, ns = np.zeros(2), [], []
    for t, x in enumerate(xs):
        on = t >= start
        r = _sig(w_ir @ x + b_ir + w_hr @ h + b_hr)
        z = _sig(w_iz @ x + b_iz + w_hz @ h + b_hz)
        if on and reset is not None:
            r[list(units)] = reset
        if on and update is not None:
            z[list(units)] = update
        n = np.tanh(w_in @ x + b_in + r * (w_hn @ h + b_hn))
        h = (1 - z) * n + z * h
        if on and h_set is not None:
            h[list(units)] = h_set
        hs.append(h.copy())
        ns.append(n)
    hs = np.array(hs)
    w, b = m.module.dense.weight.double().numpy()[0], float(m.module.dense.bias)
    return hs, np.array(ns), _sig(hs @ w + b)


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(a, b, atol=tol, rtol=0)


# --- Each kind against the hand computation ---------------------------------------------------------------

def test_ablate_removes_the_unit_and_its_share_of_the_verdict():
    m = hand_gru(coupled=False)
    plain = m.trace(TEXT)
    r = run_intervention(m, TEXT, Intervention((0,), "ablate"))
    assert np.all(r.changed.hidden[:, 0] == 0)
    _close(r.changed.hidden[:, 1], plain.hidden[:, 1], 1e-6)  # unit 1 does not read unit 0 here
    # The logit loses exactly unit 0's term w_0 · h_0(t) = 2.0 · h_0(t) at every word.
    logit = np.log(r.changed.step_proba / (1 - r.changed.step_proba))
    plain_logit = np.log(plain.step_proba / (1 - plain.step_proba))
    _close(logit, plain_logit - 2.0 * plain.hidden[:, 0])
    assert r.proba_change == pytest.approx(r.changed.proba - plain.proba)
    by_unit = r.change_by_unit()["hidden"]
    assert by_unit[1] < 1e-6 and by_unit[0] == pytest.approx(np.abs(plain.hidden[:, 0]).mean(), abs=1e-6)


def test_ablate_on_a_coupled_gru_matches_the_hand_computation():
    m = hand_gru()
    r = run_intervention(m, TEXT, Intervention((0,), "ablate"))
    h, _, p = numpy_gru(m, TEXT, (0,), h_set=0.0)
    _close(r.changed.hidden, h)
    _close(r.changed.step_proba, p)
    assert not np.allclose(r.changed.hidden[:, 1], r.plain.hidden[:, 1], atol=1e-3)  # unit 1 felt it


def test_clamp_holds_the_value_and_feeds_the_next_word():
    m = hand_gru()
    r = run_intervention(m, TEXT, Intervention((1,), "clamp", value=0.3))
    assert np.all(r.changed.hidden[:, 1] == np.float32(0.3))
    h, _, p = numpy_gru(m, TEXT, (1,), h_set=0.3)
    _close(r.changed.hidden, h)
    _close(r.changed.step_proba, p)


def test_freeze_keeps_h0_from_the_first_word_and_the_last_value_from_a_later_one():
    m = hand_gru()
    r = run_intervention(m, TEXT, Intervention((0,), "freeze"))
    assert np.all(r.changed.hidden[:, 0] == 0) and np.all(r.changed.gates["update"][:, 0] == 1)
    later = run_intervention(m, TEXT, Intervention((0,), "freeze", start=3))
    plain = later.plain
    assert np.all(later.changed.hidden[3:, 0] == later.changed.hidden[2, 0])
    _close(later.changed.hidden[:3], plain.hidden[:3], 1e-6)  # the words before are read as usual
    h, _, p = numpy_gru(m, TEXT, (0,), update=1.0, start=3)
    _close(later.changed.hidden, h)
    _close(later.changed.step_proba, p)


def test_overwrite_takes_the_candidate():
    m = hand_gru()
    r = run_intervention(m, TEXT, Intervention((0, 1), "overwrite"))
    assert np.array_equal(r.changed.hidden, r.changed.gates["candidate"])  # h = (1 − 0)·n + 0·h
    h, n, p = numpy_gru(m, TEXT, (0, 1), update=0.0)
    _close(r.changed.hidden, h)
    _close(r.changed.gates["candidate"], n)
    _close(r.changed.step_proba, p)


def test_reset_closed_makes_the_candidate_ignore_the_memory():
    m = hand_gru()
    r = run_intervention(m, TEXT, Intervention((0, 1), "reset_closed"))
    x = m.module.embedding.weight.double().numpy()[r.plain.ids][:, 0]  # [T] the words' numbers
    w_in = m.module.rnn.weight_ih_l0.double().numpy()[4:, 0]
    b_in = m.module.rnn.bias_ih_l0.double().numpy()[4:]
    _close(r.changed.gates["candidate"], np.tanh(np.outer(x, w_in) + b_in))  # n = tanh(W_in x + b_in)
    assert np.all(r.changed.gates["reset"] == 0)
    opened = run_intervention(m, TEXT, Intervention((1,), "reset_open"))
    h, n, p = numpy_gru(m, TEXT, (1,), reset=1.0)
    _close(opened.changed.hidden, h)
    _close(opened.changed.gates["candidate"], n)
    _close(opened.changed.step_proba, p)


def test_lstm_freeze_holds_the_cell_and_overwrite_takes_the_cell_candidate():
    m = tiny_model("lstm", seed=4)
    text = "good bad movie great awful the plot was fun"
    frozen = run_intervention(m, text, Intervention((2,), "freeze"))
    assert np.all(frozen.changed.gates["cell"][:, 2] == 0) and np.all(frozen.changed.hidden[:, 2] == 0)
    later = run_intervention(m, text, Intervention((2,), "freeze", start=4)).changed
    assert np.all(later.gates["cell"][4:, 2] == later.gates["cell"][3, 2])
    _close(later.hidden[4:, 2], later.gates["output"][4:, 2] * np.tanh(later.gates["cell"][3, 2]), 1e-6)
    over = run_intervention(m, text, Intervention((2, 3), "overwrite")).changed
    assert np.array_equal(over.gates["cell"][:, [2, 3]], over.gates["cell_candidate"][:, [2, 3]])
    _close(over.hidden[:, [2, 3]], over.gates["output"][:, [2, 3]] * np.tanh(over.gates["cell_candidate"][:, [2, 3]]),
           1e-6)


def test_rnn_freeze_holds_the_previous_state_and_gate_kinds_are_refused():
    m = tiny_model("rnn", seed=5)
    text = "good bad movie great awful the plot was fun"
    assert np.all(run_intervention(m, text, Intervention((1,), "freeze")).changed.hidden[:, 1] == 0)
    later = run_intervention(m, text, Intervention((1,), "freeze", start=5))
    assert np.all(later.changed.hidden[5:, 1] == later.changed.hidden[4, 1])
    _close(later.changed.hidden[:5], later.plain.hidden[:5], 1e-6)
    assert kinds_for("rnn") == ("ablate", "clamp", "freeze")
    assert set(not_available("rnn")) == {"overwrite", "reset_open", "reset_closed"}
    for kind in ("overwrite", "reset_open", "reset_closed"):
        with pytest.raises(ValueError, match="not defined for the plain RNN"):
            run_intervention(m, text, Intervention((1,), kind))
    assert kinds_for("lstm") == ("ablate", "clamp", "freeze", "overwrite") and kinds_for("gru") == KINDS
    assert "f_k := 1" in meaning("freeze", "lstm") and "h_k(t) := h_k(t−1)" in meaning("freeze", "rnn")


# --- Nothing changed means nothing changes ------------------------------------------------------------

def test_an_empty_unit_set_changes_nothing_bit_for_bit(arch):
    m = tiny_model(arch, seed=2)
    text = "the plot was good but the acting was awful zzz"
    base = run_intervention(m, text).changed
    for kind in kinds_for(arch):
        r = run_intervention(m, text, Intervention((), kind, value=0.7)).changed
        assert np.array_equal(r.hidden, base.hidden) and np.array_equal(r.step_proba, base.step_proba)
        assert all(np.array_equal(r.gates[k], base.gates[k]) for k in base.gates)


def test_no_intervention_equals_the_native_layer_and_the_fast_trace(arch):
    m = tiny_model(arch, seed=3)
    text = "good bad movie great awful the plot was fun " * 4
    r = run_intervention(m, text)
    x, _ = m.module.embed(torch.from_numpy(r.plain.ids)[None])
    with torch.no_grad():
        native, _ = m.module.rnn(x)
    _close(r.changed.hidden, native[0].numpy())
    assert set(r.changed.gates) == set(r.plain.gates)
    for k in r.plain.gates:
        _close(r.changed.gates[k], r.plain.gates[k])
    _close(r.changed.step_proba, r.plain.step_proba)
    assert r.changed.tokens == r.plain.tokens and not r.verdict_flipped


@pytest.mark.parametrize("name", ["gru", "lstm", "rnn"])
def test_shipped_models_with_no_intervention_equal_the_fast_trace(name):
    m = load_model(f"models/{name}")
    before = clone_state(m.module)
    text = "The film started slowly, but the ending was brilliant and I left smiling. " * 3
    r = run_intervention(m, text)
    for k in r.plain.gates:
        _close(r.changed.gates[k], r.plain.gates[k])
    _close(r.changed.hidden, r.plain.hidden)
    _close(r.changed.step_proba, r.plain.step_proba)
    run_intervention(m, text, Intervention((0, 5, 9), kinds_for(name)[-1]), r.plain)
    assert same_state(m.module, before)  # the shared model is never changed


def test_long_review_reads_the_same_words_as_the_trace():
    m = tiny_model("gru", maxlen=50)
    text = "good bad movie " * 2000
    r = run_intervention(m, text, Intervention((0,), "ablate"))
    assert r.changed.truncated and len(r.changed.tokens) == 50 and r.changed.hidden.shape == (50, 5)


# --- Checks, unit choice and the atlas index --------------------------------------------------------------

@pytest.mark.parametrize("iv,match", [
    (Intervention((5,), "ablate"), "from 0 to 4"),
    (Intervention((1, 1), "ablate"), "twice"),
    (Intervention((1,), "clamp", value=float("nan")), "finite"),
    (Intervention((1,), "ablate", start=-1), "start"),
    (Intervention((1,), "explode"), "kind must be one of"),
])
def test_bad_interventions_are_refused_with_a_reason(iv, match):
    with pytest.raises(ValueError, match=match):
        run_intervention(tiny_model("gru"), "good movie", iv)


def test_describe():
    assert Intervention((3, 17), "ablate").describe() == "ablate (h := 0) on units 3, 17"
    assert Intervention((4,), "clamp", 0.5, start=2).describe() == "clamp h to +0.50 on unit 4, from word 3"


def test_top_units_by_size_with_ties_and_nan():
    assert top_units(np.array([0.1, -0.9, 0.5, np.nan, 0.9]), 3) == (1, 4, 2)
    assert top_units(np.array([0.1, np.nan]), 5) == (0, 1) and top_units(np.array([1.0]), 0) == ()


def test_label_correlations_from_the_atlas_index(tmp_path):
    assert read_label_correlations(tmp_path, 4, "abc") is None
    f = tmp_path / "units.json"
    rows = [{"unit": 0, "label_correlation": 0.2}, {"unit": 2, "label_correlation": -0.7},
            {"unit": 3, "label_correlation": None}]
    f.write_text(json.dumps({"version": INDEX_VERSION, "weights_sha256": "abc", "units": rows}))
    corr = read_label_correlations(tmp_path, 4, "abc")
    np.testing.assert_array_equal(corr, [0.2, np.nan, -0.7, np.nan])
    assert top_units(corr, 2) == (2, 0)
    with pytest.raises(ValueError, match="other weights"):
        read_label_correlations(tmp_path, 4, "def")
    with pytest.raises(ValueError, match="outside"):
        read_label_correlations(tmp_path, 2, "abc")
    f.write_text("{ not json")
    with pytest.raises(ValueError, match="unreadable"):
        read_label_correlations(tmp_path, 4, "abc")


# --- Frames and charts ---------------------------------------------------------------------------------------

def test_frames_and_charts_show_the_differences():
    m = hand_gru(coupled=False)
    r = run_intervention(m, TEXT, Intervention((0,), "ablate"))
    T = len(r.plain.tokens)
    traj = trajectory_frame(r)
    assert list(traj["run"].unique()) == ["plain", "intervened"] and len(traj) == 2 * T
    _close(traj[traj["run"] == "intervened"]["p_positive"].to_numpy(), r.changed.step_proba, 0)
    df = delta_frame(r, "hidden", (2, T))
    assert len(df) == (T - 2) * 2 and set(df[df["intervened"]]["unit"]) == {0}
    _close(df[df["unit"] == 0]["value"].to_numpy(), -r.plain.hidden[2:, 0], 1e-6)
    spec = delta_heatmap(df, "hidden").to_dict()
    assert spec["encoding"]["color"]["scale"]["domainMid"] == 0 and spec["title"] == "Δ hidden state h"
    words = change_by_word_frame(r)
    hidden = words[words["quantity"] == "hidden state h"]["value"].to_numpy()
    _close(hidden, np.abs(r.plain.hidden[:, 0]) / 2, 1e-6)  # mean over the two units, one of them unchanged
    spec = change_by_word_chart(words).to_dict()
    assert [r["title"]["text"] for r in spec["vconcat"]] == [f"mean |Δ| {q}" for q in dict.fromkeys(words["quantity"])]
    shown = data_of(spec, spec["vconcat"][-1])  # the hidden state's row draws the hidden state's |Δ| per word
    _close(shown["value"].to_numpy(), hidden, 0)
    summary = change_summary(r)
    assert list(summary["quantity"]) == ["update gate z", "reset gate r", "candidate n", "hidden state h"]
    assert summary.iloc[-1]["most changed other units"] == "none"  # unit 1 does not read unit 0
