"""The forward pass written out per unit (analysis/cell_forward.py) against an independent hand computation from the
native layer's weights, the native layer itself, and the trace; the diagram's spec carries every value."""
from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd
import pytest
import torch

from gru_core import load_model
from gru_core.analysis.cell_forward import boxes, cell_step, diagram, parts
from gru_core.archs import ARCHS, NAMES, RESET_BEFORE
from gru_core.charts.cell import LAYOUTS, cell_diagram, positions, strip_colours
from gru_core.model import Prefix, SentimentRNN
from gru_core.predictor import SentimentModel

from .apphelpers import ROOT
from .tiny import random_review, tiny_model
from .vegaspec import data_of, mark_type

TOL = 1e-6


@cache
def shipped(name: str):
    return load_model(ROOT / "models" / name)


def sig(v):
    return 1 / (1 + np.exp(-v))


def reference(module, x: np.ndarray, h: np.ndarray, c: np.ndarray | None) -> dict[str, np.ndarray]:
    """Every quantity of one step, computed here from the native layer's weights with the textbook equations
    (PyTorch's documentation), independently of cell.py and cell_forward.py."""
    rnn = module.rnn
    w_ih, w_hh = rnn.weight_ih_l0.detach().double().numpy(), rnn.weight_hh_l0.detach().double().numpy()
    b_ih, b_hh = rnn.bias_ih_l0.detach().double().numpy(), rnn.bias_hh_l0.detach().double().numpy()
    gi, gh = w_ih @ x + b_ih, w_hh @ h + b_hh
    n_h = len(h)
    if module.arch == "gru":
        r = sig(gi[:n_h] + gh[:n_h])
        z = sig(gi[n_h:2 * n_h] + gh[n_h:2 * n_h])
        if module.gru_form == RESET_BEFORE:  # Cho et al. 2014: the reset gate scales the memory before W_hn
            n = np.tanh(gi[2 * n_h:] + w_hh[2 * n_h:] @ (r * h) + b_hh[2 * n_h:])
        else:
            n = np.tanh(gi[2 * n_h:] + r * gh[2 * n_h:])
        return {"reset": r, "update": z, "candidate": n, "hidden": (1 - z) * n + z * h}
    if module.arch == "lstm":
        i, f, g, o = (gi + gh).reshape(4, n_h)
        i, f, g, o = sig(i), sig(f), np.tanh(g), sig(o)
        cell = f * c + i * g
        return {"input": i, "forget": f, "cell_candidate": g, "output": o, "cell": cell, "hidden": o * np.tanh(cell)}
    return {"hidden": np.tanh(gi + gh)}


def native_state(module, x: np.ndarray, h: np.ndarray, c: np.ndarray | None) -> dict[str, np.ndarray]:
    """The native nn.GRU/nn.LSTM/nn.RNN run for one word from the given state."""
    xt = torch.tensor(x, dtype=torch.float32)[None, None]
    h0 = torch.tensor(h, dtype=torch.float32)[None, None]
    with torch.no_grad():
        if module.arch == "lstm":
            _, (hn, cn) = module.rnn(xt, (h0, torch.tensor(c, dtype=torch.float32)[None, None]))
            return {"hidden": hn[0, 0].numpy(), "cell": cn[0, 0].numpy()}
        _, hn = module.rnn(xt, h0)
        return {"hidden": hn[0, 0].numpy()}


def start_state(model, text: str) -> np.ndarray:
    """The state the model reads a review's first word from (zero, or after the padding and start mark it reads),
    computed here independently: its recurrent layer run over those prefix ids alone, from zero."""
    module = model.module
    n = len(model.encode(text)[1])
    lead = module.prefix.ids(n) if module.prefix is not None else []
    H = module.rnn.hidden_size
    if not lead:
        return np.zeros(H * len(ARCHS[model.arch].state))
    with torch.no_grad():
        _, last = module.rnn(module.embedding.weight[torch.tensor(lead)][None])
    return np.concatenate([s[0, 0].numpy() for s in (last if isinstance(last, tuple) else (last,))]).astype(np.float64)


def check_every_word(model, text: str) -> None:
    trace = model.trace(text)
    module = model.module
    emb = module.embedding.weight.detach().double().numpy()
    start = start_state(model, text)
    H = trace.hidden.shape[1]
    for t in range(len(trace.tokens)):
        step = cell_step(model, trace, t)
        assert step.deviation <= TOL and step.trace_deviation <= TOL
        h = trace.hidden[t - 1].astype(np.float64) if t else start[:H]
        c = (trace.gates["cell"][t - 1].astype(np.float64) if t else start[H:]) if model.arch == "lstm" else None
        ref = reference(module, emb[trace.ids[t]], h, c)
        for name, v in ref.items():
            assert np.abs(step.quantities[name].value - v).max() <= TOL, (model.arch, t, name)
        if isinstance(module.rnn, torch.nn.RNNBase):  # Cho et al.'s GRU has no native layer to compare with
            for name, v in native_state(module, emb[trace.ids[t]].astype(np.float32), h, c).items():
                assert np.abs(step.quantities[name].value - v).max() <= TOL, (model.arch, t, name)
        for name, v in trace.gates.items():
            assert np.abs(step.quantities[name].value - v[t]).max() <= TOL
        assert abs(step.p_positive - trace.step_proba[t]) <= TOL


@pytest.mark.parametrize("name", [*NAMES, "keras-seed"])  # keras-seed reads Keras's padding and start mark first
def test_every_word_of_a_review_equals_the_native_layer_and_the_trace(name):
    check_every_word(shipped(name), "The film started slowly, but the ending was brilliant and moving. Zzzq!")


def cho_gru(prefix: Prefix | None) -> SentimentModel:
    """A tiny GRU of Cho et al.'s form (Keras reset_after=False), with large random weights and non-zero biases."""
    base = tiny_model("gru", seed=11, maxlen=12)
    torch.manual_seed(4)
    module = SentimentRNN("gru", len(base.vocab), 6, 5, gru_form=RESET_BEFORE, prefix=prefix)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, 0.7)
    module.eval().requires_grad_(False)
    return SentimentModel(module, base.vocab, {"maxlen": 12})


@pytest.mark.parametrize("prefix", [None, Prefix(12, True, None)], ids=["no padding read", "padding read"])
def test_cho_form_and_a_read_padding_are_written_out_as_computed(prefix):
    model = cho_gru(prefix)
    check_every_word(model, random_review(np.random.default_rng(5), 7))
    trace = model.trace(random_review(np.random.default_rng(5), 7))
    j = cell_step(model, trace, 3).unit_json(2)
    assert set(j["candidate"]) == EXPECTED_KEYS["gru"]["candidate"]
    n = j["candidate"]  # W_hn·(r ⊙ h) already holds the reset gate: no r ⊙ (…) around it
    assert abs(np.tanh(n["input_term"] + n["input_bias"] + n["hidden_term"] + n["hidden_bias"]) - n["value"]) <= TOL
    latex = cell_step(model, trace, 3).quantities["candidate"].latex(2)
    assert r"(r \odot h_{t-1})" in latex


def test_tiny_models_with_saturated_gates(tiny_arch_model):
    """Large random weights push gates to 0 and 1: the written-out step still equals the native layer."""
    check_every_word(tiny_arch_model, random_review(np.random.default_rng(3), 30))


def terms_compose(arch: str, j: dict) -> dict[str, float]:
    """Each quantity recomposed from the CLI's terms alone, with the textbook equations."""
    def gate(q, f=sig):
        return f(q["input_term"] + q["input_bias"] + q["hidden_term"] + q["hidden_bias"])
    if arch == "gru":
        n = j["candidate"]
        return {"update": gate(j["update"]), "reset": gate(j["reset"]),
                "candidate": np.tanh(n["input_term"] + n["input_bias"] + n["reset"] * (n["hidden_term"]
                                                                                         + n["hidden_bias"])),
                "hidden": (1 - j["hidden"]["update"]) * j["hidden"]["candidate"]
                + j["hidden"]["update"] * j["hidden"]["previous"]}
    if arch == "lstm":
        c, h = j["cell"], j["hidden"]
        return {"input": gate(j["input"]), "forget": gate(j["forget"]),
                "cell_candidate": gate(j["cell_candidate"], np.tanh), "output": gate(j["output"]),
                "cell": c["forget"] * c["previous"] + c["input"] * c["cell_candidate"],
                "hidden": h["output"] * np.tanh(h["cell"])}
    return {"hidden": gate(j["hidden"], np.tanh)}


EXPECTED_KEYS = {
    "gru": {"update": {"value", "input_term", "input_bias", "hidden_term", "hidden_bias"},
            "reset": {"value", "input_term", "input_bias", "hidden_term", "hidden_bias"},
            "candidate": {"value", "input_term", "input_bias", "hidden_term", "hidden_bias", "reset"},
            "hidden": {"value", "previous", "update", "candidate"}},
    "lstm": {**{g: {"value", "input_term", "input_bias", "hidden_term", "hidden_bias"}
                for g in ("input", "forget", "cell_candidate", "output")},
             "cell": {"value", "previous", "forget", "input", "cell_candidate"}, "hidden": {"value", "output", "cell"}},
    "rnn": {"hidden": {"value", "input_term", "input_bias", "hidden_term", "hidden_bias"}},
}


@pytest.mark.parametrize("name", NAMES)
def test_the_terms_add_up_and_equal_the_weights_rows(name):
    model = shipped(name)
    trace = model.trace("not good, not bad, quite brilliant")
    module, t, k = model.module, 4, 17
    j = cell_step(model, trace, t).unit_json(k)
    assert set(j) == {"word", "unit", "p_positive", *EXPECTED_KEYS[name]} and j["word"] == t + 1 and j["unit"] == k
    for q, keys in EXPECTED_KEYS[name].items():
        assert set(j[q]) == keys
    for q, v in terms_compose(name, j).items():
        assert abs(v - j[q]["value"]) <= TOL, q
    # The first gate's input term is W_i·[k] · x_t, read off the native weight matrix here.
    first = ARCHS[name].blocks.index(next(iter(EXPECTED_KEYS[name])))
    h = module.rnn.hidden_size
    x = module.embedding.weight[trace.ids[t]].double()
    w = module.rnn.weight_ih_l0[first * h + k].double()
    assert abs(float(w @ x) - j[next(iter(EXPECTED_KEYS[name]))]["input_term"]) <= TOL


NUMBER = re.compile(r"\(?(-?\d+\.\d{4})\)?")


@pytest.mark.parametrize("name", NAMES)
def test_the_formulas_shown_hold_the_numbers_computed(name):
    """The LaTeX the page shows: its second line holds the terms (to 4 decimals) and its last the value."""
    model = shipped(name)
    trace = model.trace("an absolute masterpiece of boredom")
    step, k = cell_step(model, trace, 3), 5
    j = step.unit_json(k)
    for q in step.defined():
        latex = q.latex(k)
        assert latex.startswith(r"\begin{aligned}") and f"[{k}]" in latex
        rows = latex.removeprefix(r"\begin{aligned}").removesuffix(r"\end{aligned}").split(r" \\ &= ")
        shown = [float(x) for x in NUMBER.findall(rows[1])]
        terms = [e.at(k) for e in parts(q.expr)]
        assert shown == pytest.approx(terms, abs=6e-5), (q.key, rows[1])
        assert float(NUMBER.findall(rows[-1])[-1]) == pytest.approx(j[q.key]["value"], abs=6e-5)


@pytest.mark.parametrize("name", NAMES)
def test_the_diagram_carries_every_value(name):
    """Parse the generated Vega-Lite: every box, every unit's value in its strip, the picked unit's value as text,
    and a wire for every input of every quantity with what it brings to the unit."""
    model = shipped(name)
    trace = model.trace("the acting was wonderful but the plot was awful")
    step, k = cell_step(model, trace, 6), 42
    order = np.argsort(-trace.hidden.mean(0))
    d = diagram(step, k, order)
    spec = cell_diagram(d["nodes"], d["cells"], d["wires"], name, "hidden").to_dict()
    layers = spec["layer"]
    rects = next(data_of(spec, v) for v in layers if mark_type(v) == "rect")
    texts = [data_of(spec, v) for v in layers if mark_type(v) == "text"]
    assert set(rects["box"]) == set(boxes(step)) == set(LAYOUTS[name])
    for key, q in step.quantities.items():
        strip = rects[(rects["box"] == key) & rects["fill"].str.startswith("#") & (rects["unit"] >= 0)]
        strip = strip.drop_duplicates("unit")
        want = q.value if key != "readout" else step.readout_terms
        assert len(strip) == len(want)
        assert np.abs(strip.set_index("unit")["value"].sort_index().to_numpy() - want).max() <= TOL
        if key != "readout":
            assert any(f"[{k}] " in t and f"{q.expr.at(k):.3f}"[-5:] in t
                       for t in texts[1].loc[texts[1]["box"] == key, "text"]), key
    # The units run in the chosen order along the strips.
    h = rects[(rects["box"] == "hidden") & (rects["unit"] >= 0)].drop_duplicates("unit")
    assert list(h.sort_values(["y0", "x0"])["unit"]) == list(order)
    # Every quantity's inputs are wires, each labelled with what it brings to unit k.
    wires = next(data_of(spec, v) for v in layers if mark_type(v) == "text" and "what" in data_of(spec, v))
    expect = {("x", q) for q in ARCHS[name].blocks if q in step.quantities} | {("h_prev", b) for b in
                                                                             ARCHS[name].blocks}
    got = set(zip(d["wires"]["src"], d["wires"]["dst"]))
    assert expect <= got and ("hidden", "readout") in got
    assert len(wires) == len(d["wires"])
    assert picked_outline(spec) == {(b, k) for b in d["nodes"]["box"] if b != "x"}


def picked_outline(spec: dict) -> set[tuple[str, int]]:
    rects = next(data_of(spec, v) for v in spec["layer"] if mark_type(v) == "rect")
    out = rects[rects["stroke"] == "#000000"]
    return set(zip(out["box"], out["unit"]))


def test_gru_wires_show_the_keep_and_write_branches():
    model = shipped("gru")
    trace = model.trace("brilliant")
    d = diagram(cell_step(model, trace, 0), 3, np.arange(100))
    w = d["wires"].set_index(["src", "dst"])
    z = trace.gates["update"][0, 3]
    assert w.loc[("update", "keep"), "value"] == pytest.approx(z, abs=TOL)  # z ⊙ h_{t−1}
    assert w.loc[("update", "write"), "value"] == pytest.approx(1 - z, abs=TOL)  # (1 − z) ⊙ n
    assert w.loc[("update", "write"), "strength"] == pytest.approx(1 - z, abs=TOL)
    assert w.loc[("h_prev", "keep"), "value"] == 0.0  # h_0 = 0 before the first word
    assert w.loc[("update", "write"), "what"] == "1 − z"


def test_boxes_without_a_place_are_put_right_of_their_inputs():
    """A new form's box (not in LAYOUTS) still gets a place: one column right of its inputs."""
    model = shipped("gru")
    d = diagram(cell_step(model, model.trace("good"), 0), 0, np.arange(100))
    nodes = pd.concat([d["nodes"], pd.DataFrame([{"box": "extra", "label": "extra", "scale": "signed", "value": 0.0,
                                                  "text": ""}])], ignore_index=True)
    wires = pd.concat([d["wires"], pd.DataFrame([{"src": "hidden", "dst": "extra", "value": 0.0, "text": "", "what": "",
                                                  "strength": np.nan}])], ignore_index=True)
    pos = positions(nodes, wires, "gru")
    assert pos["extra"][0] == pos["hidden"][0] + 1


def test_strip_colours_follow_the_explorers_scales():
    gate = strip_colours(np.array([0.0, 1.0]), np.array(["gate", "gate"]))
    signed = strip_colours(np.array([-1.0, 0.0, 1.0]), np.array(["signed"] * 3))
    assert gate == ["#440154", "#fde725"]  # viridis ends: shut dark, open yellow
    assert signed == ["#2d004b", "#f7f7f7", "#7f3b08"]  # purple, white, orange


def test_a_word_outside_the_review_is_refused():
    model = tiny_model("gru")
    trace = model.trace("good movie")
    with pytest.raises(ValueError, match="between 1 and 2"):
        cell_step(model, trace, 2)
