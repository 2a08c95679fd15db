"""Explain tables and attributions (analysis/explain.py) and chart builders (charts/gates.py, charts/text.py), on tiny models."""
from __future__ import annotations

import copy
import html
import io
import re

import numpy as np
import pandas as pd
import pytest
import torch

from gru_core import load_model
from gru_core.analysis import explain
from gru_core.archs import ARCHS, GATE_LABELS
from gru_core.charts import gates as gate_charts
from gru_core.charts import text as text_charts
from gru_core.examples import review_of
from gru_core.model import SentimentRNN
from gru_core.predictor import SentimentModel
from gru_core.text import UNK_ID, tokenize_with_spans

from .apphelpers import ROOT
from .tiny import WORDS, random_review, tiny_model
from .vegaspec import data_of, mark_type, tooltip_fields

H = 5
REVIEW = "The movie was GOOD, but zzzq acting was awful! Great plot, bad fun."


@pytest.fixture(scope="module")
def trace(tiny_arch_model):
    return tiny_arch_model.trace(REVIEW)


@pytest.fixture(scope="module")
def gru_model() -> SentimentModel:
    return tiny_model("gru", seed=3)


@pytest.fixture(scope="module")
def gru_trace(gru_model):
    return gru_model.trace(REVIEW)


@pytest.fixture(scope="module")
def lstm_trace():
    return tiny_model("lstm", seed=4).trace(REVIEW)


# --------------------------------------------------------------------------- words_frame


def test_words_frame(tiny_arch_model, trace):
    df = explain.words_frame(trace)
    T = len(trace.tokens)
    assert T == 13 and len(df) == T
    assert list(df.columns) == ["step", "label", "word", "known", "p_positive", "change"]
    assert df["step"].tolist() == list(range(1, T + 1))
    assert df["label"].is_unique
    assert df["label"].tolist() == [f"{i + 1} · {w}" for i, w in enumerate(trace.tokens)]
    assert df["word"].tolist() == trace.tokens
    np.testing.assert_array_equal(df["p_positive"].to_numpy(), trace.step_proba)
    change = df["change"].to_numpy()
    assert np.isnan(change[0])
    np.testing.assert_allclose(change[1:], np.diff(trace.step_proba), rtol=0, atol=1e-15)
    expect_known = [w.lower() in WORDS for w in trace.tokens]
    assert df["known"].tolist() == expect_known
    assert not df["known"].iloc[4] and not df["known"].iloc[5]  # "but", "zzzq"
    assert (trace.ids[~df["known"].to_numpy()] == UNK_ID).all()
    # the running verdict is the verdict on each prefix of the review
    prefixes = tiny_arch_model.predict_ids([trace.ids[:t] for t in range(1, T + 1)])
    np.testing.assert_allclose(df["p_positive"], prefixes, atol=1e-6)
    assert df["p_positive"].iloc[-1] == trace.proba


def test_words_frame_single_word(gru_model):
    df = explain.words_frame(gru_model.trace("zzzq"))
    assert len(df) == 1 and df["step"].tolist() == [1] and df["label"].tolist() == ["1 · zzzq"]
    assert df["known"].tolist() == [False] and np.isnan(df["change"].iloc[0])


# --------------------------------------------------------------------------- gate_frame


def test_gate_frame_custom_order_and_window(trace):
    T = len(trace.tokens)
    order = np.random.default_rng(1).permutation(H)
    a, b = 3, 9
    labels = explain.step_labels(trace)
    for q, values in explain.quantities(trace).items():
        df = explain.gate_frame(trace, q, order, (a, b))
        assert list(df.columns) == ["step", "label", "word", "unit", "rank", "value"]
        assert len(df) == (b - a) * H
        assert sorted(set(df["step"])) == list(range(a + 1, b + 1))
        assert df["rank"].tolist() == list(range(H)) * (b - a)
        assert df["unit"].tolist() == order.tolist() * (b - a)
        for row in df.itertuples(index=False):
            assert row.unit == order[row.rank]
            assert row.label == labels[row.step - 1]
            assert row.word == trace.tokens[row.step - 1]
            assert row.value == pytest.approx(float(values[row.step - 1, row.unit]), abs=0)
        assert df["value"].dtype == np.float64
    # no order, no window: every (word, unit), units in index order
    df = explain.gate_frame(trace, "hidden")
    assert len(df) == T * H
    assert (df["unit"] == df["rank"]).all()
    np.testing.assert_array_equal(df["value"].to_numpy(), trace.hidden.reshape(-1).astype(np.float64))


def test_gate_frame_quantities_per_arch(arch, trace):
    assert list(explain.quantities(trace)) == list(ARCHS[arch].traced) + ["hidden"]
    for q in explain.quantities(trace):
        assert q in GATE_LABELS


# --------------------------------------------------------------------------- unit_order


def test_unit_order(tiny_arch_model, trace):
    np.testing.assert_array_equal(explain.unit_order(tiny_arch_model, trace, "hidden", "index"), np.arange(H))
    w = tiny_arch_model.module.dense.weight.detach().numpy()[0].astype(np.float64)
    np.testing.assert_array_equal(explain.output_weights(tiny_arch_model), w)
    by_w = explain.unit_order(tiny_arch_model, trace, "hidden", "weight")
    assert sorted(by_w.tolist()) == list(range(H))
    assert np.all(np.diff(w[by_w]) <= 0)  # most positive weight first
    assert by_w[0] == np.argmax(w) and by_w[-1] == np.argmin(w)
    for q, values in explain.quantities(trace).items():
        by_m = explain.unit_order(tiny_arch_model, trace, q, "mean")
        assert sorted(by_m.tolist()) == list(range(H))
        means = values.mean(0)
        assert np.all(np.diff(means[by_m]) <= 0), q
        # the "weight" order does not depend on the quantity
        np.testing.assert_array_equal(explain.unit_order(tiny_arch_model, trace, q, "weight"), by_w)
    with pytest.raises(ValueError, match="unknown unit order"):
        explain.unit_order(tiny_arch_model, trace, "hidden", "size")


# --------------------------------------------------------------------------- word_summaries


def test_word_summaries(arch, trace):
    df = explain.word_summaries(trace)
    T = len(trace.tokens)
    assert len(df) == T
    assert set(df.columns) == {"step", "label", "word", "h_change"} | {f"mean_{g}" for g in ARCHS[arch].traced}
    h = trace.hidden.astype(np.float64)
    expect = [np.sqrt(np.sum(h[0] ** 2))] + [np.sqrt(np.sum((h[t] - h[t - 1]) ** 2)) for t in range(1, T)]
    np.testing.assert_allclose(df["h_change"], expect, rtol=1e-5, atol=1e-6)
    for g, v in trace.gates.items():
        np.testing.assert_allclose(df[f"mean_{g}"], [v[t].astype(np.float64).sum() / H for t in range(T)],
                                   rtol=1e-5, atol=1e-6)
    assert df["word"].tolist() == trace.tokens


# --------------------------------------------------------------------------- trace_csv


def test_trace_csv(arch, trace):
    text = explain.trace_csv(trace)
    df = pd.read_csv(io.StringIO(text))
    T = len(trace.tokens)
    n_q = len(ARCHS[arch].traced) + 1  # + hidden
    assert list(df.columns) == ["step", "word", "unit", "quantity", "value"]
    assert len(df) == T * H * n_q + T
    counts = df["quantity"].value_counts().to_dict()
    assert counts == {**{q: T * H for q in list(ARCHS[arch].traced) + ["hidden"]}, "p_positive": T}
    for q, values in explain.quantities(trace).items():
        part = df[df["quantity"] == q]
        got = np.zeros((T, H))
        got[part["step"].to_numpy() - 1, part["unit"].to_numpy()] = part["value"].to_numpy()
        np.testing.assert_allclose(got, values, rtol=1e-12, atol=0, err_msg=q)
        assert part["word"].tolist() == [trace.tokens[s - 1] for s in part["step"]]
    verdict = df[df["quantity"] == "p_positive"]
    assert verdict["step"].tolist() == list(range(1, T + 1))
    assert (verdict["unit"] == -1).all()
    assert verdict["word"].tolist() == trace.tokens
    np.testing.assert_allclose(verdict["value"], trace.step_proba, rtol=1e-12, atol=0)


def test_trace_csv_keeps_long_words_whole(gru_model):
    long_word = "x" * (explain.LABEL_CHARS + 20)
    trace = gru_model.trace(f"good {long_word} movie")
    df = pd.read_csv(io.StringIO(explain.trace_csv(trace)))
    assert set(df.loc[df["step"] == 2, "word"]) == {long_word}  # charts shorten it; the download must not
    assert explain.words_frame(trace)["word"][1].endswith("…")


# --------------------------------------------------------------------------- occlusion


def test_occlusion_matches_removing_each_word(tiny_arch_model, trace):
    occ = explain.occlusion(tiny_arch_model, trace)
    T = len(trace.tokens)
    assert occ.shape == (T,)
    expect = [trace.proba - tiny_arch_model.predict_ids([np.delete(trace.ids, i)])[0] for i in range(T)]
    np.testing.assert_allclose(occ, expect, atol=1e-6)
    # ... and equal to the verdict on the text with that word deleted (no truncation here)
    i = 3
    a, b = trace.spans[i]
    without = tiny_arch_model.predict_proba([REVIEW[:a] + REVIEW[b:]])[0]
    assert occ[i] == pytest.approx(trace.proba - without, abs=1e-6)
    assert np.abs(occ).max() > 1e-3  # non-trivial


def test_occlusion_single_word(arch):
    sm = tiny_model(arch, seed=8)
    for text in ("good", "  zzzq!"):
        tr = sm.trace(text)
        occ = explain.occlusion(sm, tr)
        assert occ.shape == (1,)
        assert occ[0] == pytest.approx(tr.proba - 0.5, abs=1e-12)


def test_occlusion_many_words_batches_in_order():
    sm = tiny_model("gru", seed=9, maxlen=100)
    text = random_review(np.random.default_rng(0), 80)
    tr = sm.trace(text)
    assert len(tr.tokens) == 80  # more variants than one batch of 64
    occ = explain.occlusion(sm, tr)
    expect = [tr.proba - sm.predict_ids([np.delete(tr.ids, i)])[0] for i in range(80)]
    np.testing.assert_allclose(occ, expect, atol=1e-6)


@pytest.mark.parametrize("arch", ["gru", "lstm", "rnn", "keras-seed"])  # keras-seed reads its padding first
@pytest.mark.parametrize("words", [2, 9, 120, 700])  # 700: truncated, the last 500 words are read
def test_occlusion_on_shipped_models_equals_rereading_every_variant(arch, words):
    """The fast occlusion (one batch stepping through the words from the trace's states) against the plain
    one: every variant read again from the first word by the native layer. In float64 the two are the same
    computation (≤ 1e-12; checked up to 120 words, the 500-word float64 re-read takes long); in float32 they
    differ only by rounding, bounded by 1e-6 plus twice the plain method's own float32 error."""
    model = load_model(ROOT / "models" / arch)
    wide = SentimentModel(copy.deepcopy(model.module).double(), model.vocab, model.config, model.metrics, model.path)
    text = review_of(model, words, seed=5)
    tr, tr64 = model.trace(text), wide.trace(text)
    assert tr.truncated == (words > model.maxlen)

    def reread(m: SentimentModel, t) -> np.ndarray:
        return t.proba - m.predict_ids([np.delete(t.ids, i) for i in range(len(t.ids))], 64)

    fast64 = explain.occlusion(wide, tr64)
    if words <= 120:
        np.testing.assert_allclose(fast64, reread(wide, tr64), rtol=0, atol=1e-12)
    plain32 = reread(model, tr)
    bound = 1e-6 + 2 * np.abs(plain32 - fast64).max()
    assert np.abs(explain.occlusion(model, tr) - plain32).max() <= bound


def test_occlusion_of_cho_et_al_s_gru_equals_rereading_every_variant():
    """Keras reset_after=False: the fast path steps the variants with the model's own form."""
    from gru_core.archs import RESET_BEFORE
    from gru_core.model import SentimentRNN

    base = tiny_model("gru", seed=6)
    torch.manual_seed(1)
    module = SentimentRNN("gru", len(base.vocab), 6, 5, gru_form=RESET_BEFORE)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, 0.7)
    model = SentimentModel(module.eval().requires_grad_(False), base.vocab, {"maxlen": 50})
    tr = model.trace(random_review(np.random.default_rng(2), 30))
    expect = tr.proba - model.predict_ids([np.delete(tr.ids, i) for i in range(len(tr.ids))])
    np.testing.assert_allclose(explain.occlusion(model, tr), expect, atol=1e-6)


# --------------------------------------------------------------------------- gradient × input


def reference_grad_x_input(module: SentimentRNN, ids: np.ndarray) -> np.ndarray:
    """The recurrence written out in float64, autograd wrt the embedded input."""
    sd = {k: v.detach().clone().double() for k, v in module.state_dict().items()}
    x = sd["embedding.weight"][torch.as_tensor(ids)].clone().requires_grad_(True)  # [T, E]
    W_ih, W_hh, b_ih, b_hh = (sd[f"rnn.{k}_l0"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    h = torch.zeros(H, dtype=torch.float64)
    c = torch.zeros(H, dtype=torch.float64)
    for t in range(len(ids)):
        gi = W_ih @ x[t] + b_ih
        gh = W_hh @ h + b_hh
        if module.arch == "gru":
            r = torch.sigmoid(gi[:H] + gh[:H])
            z = torch.sigmoid(gi[H:2 * H] + gh[H:2 * H])
            n = torch.tanh(gi[2 * H:] + r * gh[2 * H:])
            h = (1 - z) * n + z * h
        elif module.arch == "lstm":
            a = gi + gh
            i, f = torch.sigmoid(a[:H]), torch.sigmoid(a[H:2 * H])
            g, o = torch.tanh(a[2 * H:3 * H]), torch.sigmoid(a[3 * H:])
            c = f * c + i * g
            h = o * torch.tanh(c)
        else:
            h = torch.tanh(gi + gh)
    logit = sd["dense.weight"][0] @ h + sd["dense.bias"][0]
    (grad,) = torch.autograd.grad(logit, x)
    return (grad * x).sum(-1).detach().numpy()


def test_grad_x_input_matches_reference(tiny_arch_model, trace):
    g = explain.grad_x_input(tiny_arch_model, trace)
    assert g.shape == (len(trace.tokens),) and g.dtype == np.float64
    ref = reference_grad_x_input(tiny_arch_model.module, trace.ids)
    np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-5)
    assert np.abs(ref).max() > 1e-2  # non-trivial


def test_grad_x_input_single_word(arch):
    sm = tiny_model(arch, seed=5)
    tr = sm.trace("great")
    np.testing.assert_allclose(explain.grad_x_input(sm, tr), reference_grad_x_input(sm.module, tr.ids),
                               rtol=1e-4, atol=1e-5)


def test_attributions_leave_shared_model_untouched(arch):
    sm = tiny_model(arch, seed=6)
    module = sm.module
    before = {k: v.clone() for k, v in module.state_dict().items()}
    grad_mode = torch.is_grad_enabled()
    tr = sm.trace(REVIEW)
    explain.occlusion(sm, tr)
    explain.grad_x_input(sm, tr)
    explain.grad_x_input(sm, sm.trace("good"))
    for k, v in module.state_dict().items():
        assert torch.equal(v, before[k]), k
    for name, p in module.named_parameters():
        assert not p.requires_grad, name
        assert p.grad is None, name
    assert not module.training and not any(m.training for m in module.modules())
    assert torch.is_grad_enabled() == grad_mode
    # same answers when asked again
    np.testing.assert_array_equal(explain.grad_x_input(sm, tr), explain.grad_x_input(sm, tr))


def test_grad_x_input_sets_no_grad_even_on_trainable_parameters():
    sm = tiny_model("gru", seed=7, freeze=False)
    before = {k: v.clone() for k, v in sm.module.state_dict().items()}
    explain.grad_x_input(sm, sm.trace(REVIEW))
    for name, p in sm.module.named_parameters():
        assert p.grad is None, name
        assert torch.equal(p.detach(), before[name])
    assert not sm.module.training


# --------------------------------------------------------------------------- coloured_text_html

OWN_TAGS = re.compile(r'<span style="[^"<>]*"(?: title="[^"<>]*")?>|</span>|<div style="[^"<>]*">|</div>')
NASTY = ("Loved it <img src=x onerror=alert(1)> & \"quoted\" 'single' <script>alert(\"x\")</script>"
         " Tom&Jerry <b>bold</b> &amp; done\nsecond line")


def backgrounds(out: str) -> list[str]:
    return re.findall(r"background:(rgb\(\d+,\d+,\d+\))", out)


def strip_own(out: str) -> str:
    return OWN_TAGS.sub("", out).replace("<br>", "\n")


def test_coloured_text_escapes_user_text_and_tips():
    spans = [(t.start, t.end) for t in tokenize_with_spans(NASTY)]
    assert spans[0][0] == 0
    values = np.linspace(-1, 1, len(spans))
    tips = [f'{NASTY[a:b]}: "P" <b>{i}</b> & \'x\'' for i, (a, b) in enumerate(spans)]
    out = text_charts.coloured_text_html(NASTY, spans, values, tips)
    low = out.lower()
    assert "<img" not in low and "<script" not in low and "<b>" not in low
    assert out.count("<span") == len(spans)
    rest = strip_own(out)
    assert "<" not in rest and ">" not in rest and '"' not in rest
    assert html.unescape(rest) == NASTY
    titles = re.findall(r' title="([^"]*)"', out)
    assert [html.unescape(t) for t in titles] == tips
    assert all("&quot;" in t and "<" not in t for t in titles)


def test_coloured_text_escapes_markup_inside_spans():
    # spans need not be tokenizer words: any piece of text, markup included, is escaped
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", NASTY)]
    out = text_charts.coloured_text_html(NASTY, spans, np.zeros(len(spans)), ["tip"] * len(spans))
    low = out.lower()
    assert "<img" not in low and "<script" not in low and "<b>" not in low
    assert out.count("<span") == len(spans)
    rest = strip_own(out)
    assert "<" not in rest and ">" not in rest and '"' not in rest and "'" not in rest
    assert html.unescape(rest) == NASTY


def test_coloured_text_colours_and_unknown():
    text = "neg mid pos far"
    spans = [(t.start, t.end) for t in tokenize_with_spans(text)]
    out = text_charts.coloured_text_html(text, spans, np.array([-1.0, 0.0, 1.0, 5.0]), ["a", "b", "c", "d"],
                                    unknown=np.array([False, True, False, False]))
    red, white, blue = "rgb(202,0,32)", "rgb(255,255,255)", "rgb(5,113,176)"
    assert backgrounds(out) == [red, white, blue, blue]  # clipped to [-1, 1]
    assert f"rgb{text_charts.NEG_RGB}".replace(" ", "") == red and f"rgb{text_charts.POS_RGB}".replace(" ", "") == blue
    tags = re.findall(r"<span [^>]*>", out)
    assert "dotted" in tags[1] and not any("dotted" in t for t in (tags[0], tags[2], tags[3]))
    assert "color:#fff" in tags[0] and "color:#111" in tags[1]
    half = text_charts.coloured_text_html("a", [(0, 1)], [0.5], ["t"])
    assert backgrounds(half) == ["rgb(130,184,216)"]  # halfway between white and the blue end


def test_coloured_text_newlines_become_br():
    text = "good\nbad\n\nmovie"
    spans = [(t.start, t.end) for t in tokenize_with_spans(text)]
    out = text_charts.coloured_text_html(text, spans, [0.1, -0.1, 0.0], ["x", "y", "z"])
    assert "\n" not in out and out.count("<br>") == 3
    assert html.unescape(strip_own(out)) == text


def test_coloured_text_ellipsis_for_unread_start():
    text = "early words skipped; then good movie"
    toks = tokenize_with_spans(text)[-3:]  # "then", "good", "movie"
    spans = [(t.start, t.end) for t in toks]
    out = text_charts.coloured_text_html(text, spans, [0, 0.5, -0.5], ["a", "b", "c"], start=spans[0][0])
    assert "…" in out and "early" not in out and "skipped" not in out
    assert html.unescape(strip_own(out)).replace("… ", "", 1) == text[spans[0][0]:]
    # one unread character is enough for the ellipsis
    out = text_charts.coloured_text_html("xgood", [(1, 5)], [0.2], ["t"], start=1)
    assert "…" in out and "x" not in strip_own(out).replace("…", "")
    # start=0 shows everything and no ellipsis
    out = text_charts.coloured_text_html(text, spans, [0, 0.5, -0.5], ["a", "b", "c"], start=0)
    assert "…" not in out and html.unescape(strip_own(out)) == text
    # a review read from its first character: no ellipsis
    spans = [(t.start, t.end) for t in tokenize_with_spans(text)]
    out = text_charts.coloured_text_html(text, spans, np.zeros(len(spans)), ["t"] * len(spans))
    assert "…" not in out and html.unescape(strip_own(out)) == text


def test_coloured_text_keeps_leading_punctuation_of_untruncated_review():
    sm = tiny_model("gru")
    text = '"Great" movie'
    tr = sm.trace(text)
    assert not tr.truncated
    out = text_charts.coloured_text_html(text, tr.spans, 2 * tr.step_proba - 1, ["t"] * len(tr.spans), ~tr.known)
    assert "…" not in out and html.unescape(strip_own(out)) == text


# --------------------------------------------------------------------------- Altair charts


def assert_same_data(got: pd.DataFrame, want: pd.DataFrame):
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for c in want.columns:
        w = want[c].to_numpy()
        if w.dtype.kind in "fiu":
            np.testing.assert_allclose(got[c].to_numpy(dtype=np.float64), w.astype(np.float64),
                                       rtol=1e-12, atol=0, equal_nan=True, err_msg=c)
        else:
            assert got[c].tolist() == want[c].tolist(), c


@pytest.mark.parametrize("which, quantity", [("gru", q) for q in ("update", "reset", "candidate", "hidden")]
                         + [("lstm", q) for q in ("input", "forget", "cell_candidate", "output", "cell")])
def test_heatmap(which, quantity, gru_model, gru_trace, lstm_trace):
    tr = gru_trace if which == "gru" else lstm_trace
    order = np.random.default_rng(2).permutation(H)
    df = explain.gate_frame(tr, quantity, order, (2, 8))
    spec = gate_charts.heatmap(df, quantity).to_dict()
    assert mark_type(spec) == "rect"
    assert spec["title"] == GATE_LABELS[quantity]
    enc = spec["encoding"]
    assert enc["x"]["field"] == "label" and enc["x"]["type"] == "nominal"
    assert enc["x"]["sort"] == list(dict.fromkeys(df["label"]))
    assert enc["y"]["field"] == "rank" and enc["y"]["type"] == "ordinal"
    assert enc["color"]["field"] == "value" and enc["color"]["type"] == "quantitative"
    scale = enc["color"]["scale"]
    if quantity in {"update", "reset", "input", "forget", "output"}:
        assert scale["scheme"] == "viridis" and scale["domain"] == [0, 1]
        assert df["value"].between(0, 1).all()
    else:
        assert scale["scheme"] == "purpleorange"
        if quantity == "cell":
            assert scale.get("domainMid") == 0
        else:
            assert scale["domain"] == [-1, 1]
    assert {"word", "unit", "value"} <= set(tooltip_fields(enc))
    assert_same_data(data_of(spec, spec), df)
    assert "params" not in spec and "opacity" not in enc


def test_heatmap_select_adds_cell_param(gru_trace):
    df = explain.gate_frame(gru_trace, "update")
    spec = gate_charts.heatmap(df, "update", select=True).to_dict()
    params = spec["params"]
    assert [p["name"] for p in params] == ["cell"]
    assert params[0]["select"]["type"] == "point" and params[0]["select"]["fields"] == ["unit", "step"]
    assert spec["encoding"]["opacity"]["condition"]["param"] == "cell"
    assert_same_data(data_of(spec, spec), df)


def test_heatmap_empty_frame_does_not_crash(gru_trace):
    df = explain.gate_frame(gru_trace, "update").iloc[:0]
    assert mark_type(gate_charts.heatmap(df, "update").to_dict()) == "rect"


def test_trajectory(gru_trace):
    df = explain.words_frame(gru_trace)
    spec = gate_charts.trajectory(df).to_dict()
    layers = spec["layer"]
    lines = [v for v in layers if mark_type(v) == "line"]
    rules = [v for v in layers if mark_type(v) == "rule"]
    assert len(lines) == 1 and len(rules) == 1
    line = lines[0]
    enc = line["encoding"]
    assert enc["x"]["field"] == "label" and enc["x"]["sort"] == df["label"].tolist()
    assert enc["y"]["field"] == "p_positive" and enc["y"]["scale"]["domain"] == [0, 1]
    assert {"word", "p_positive"} <= set(tooltip_fields(enc))
    assert "color" not in enc
    assert_same_data(data_of(spec, line), df)
    assert data_of(spec, rules[0])["y"].tolist() == [0.5]


def test_trajectory_series(gru_model):
    a = explain.words_frame(gru_model.trace(REVIEW)).assign(review="original")
    b = explain.words_frame(gru_model.trace("bad movie")).assign(review="edited")
    both = pd.concat([a, b])
    spec = gate_charts.trajectory(both, series="review").to_dict()
    (line,) = [v for v in spec["layer"] if mark_type(v) == "line"]
    enc = line["encoding"]
    assert enc["color"]["field"] == "review" and enc["color"]["type"] == "nominal"
    assert enc["x"]["field"] == "step" and enc["x"]["type"] == "quantitative"
    assert "review" in tooltip_fields(enc)
    assert_same_data(data_of(spec, line), both.reset_index(drop=True))


def test_word_summary_chart(arch, trace):
    df = explain.word_summaries(trace)
    spec = gate_charts.word_summary_chart(df).to_dict()
    rows = spec["vconcat"]  # stacked views (a row facet would not fit a narrow column)
    T, gates = len(trace.tokens), ARCHS[arch].traced
    expect = {f"mean {GATE_LABELS[g]}": df[f"mean_{g}"] for g in gates}
    expect["‖h_t − h_{t−1}‖"] = df["h_change"]
    assert [r["title"]["text"] for r in rows] == list(expect)  # one row per gate, then the state's change
    for i, (row, (name, col)) in enumerate(zip(rows, expect.items())):
        assert mark_type(row) == "bar"
        enc = row["encoding"]
        assert enc["x"]["field"] == "label" and enc["x"]["sort"] == df["label"].tolist()
        assert enc["x"]["axis"].get("labels", True) == (i == len(rows) - 1)  # the words only under the last row
        assert enc["y"]["field"] == "value" and {"word", "value"} <= set(tooltip_fields(enc))
        assert enc["color"]["scale"]["domain"] == list(expect)  # each measure keeps its colour in every row
        part = data_of(spec, row)
        assert set(part["measure"]) == {name} and part["word"].tolist() == trace.tokens and len(part) == T
        np.testing.assert_allclose(part["value"], col, rtol=1e-12, err_msg=name)


def test_unit_lines(trace):
    unit = 2
    shown = explain.words_frame(trace).iloc[1:7]
    rows = [pd.DataFrame({"step": shown["step"], "label": shown["label"], "word": shown["word"],
                          "quantity": GATE_LABELS[n], "value": v[1:7, unit]})
            for n, v in explain.quantities(trace).items()]
    df = pd.concat(rows, ignore_index=True)
    spec = gate_charts.unit_lines(df).to_dict()
    assert mark_type(spec) == "line"
    enc = spec["encoding"]
    assert enc["x"]["field"] == "label" and enc["x"]["sort"] == shown["label"].tolist()
    assert enc["y"]["field"] == "value" and enc["color"]["field"] == "quantity"
    assert {"word", "value", "quantity"} <= set(tooltip_fields(enc))
    assert_same_data(data_of(spec, spec), df)


# --------------------------------------------------------------------------- chart builders stay cheap

def test_chart_builders_name_their_channels():
    """Altair looks a bare shorthand string or a condition dict up among all its schema classes (``from_dict``,
    about 5 ms each time): every encoding in the chart builders is a channel object instead."""
    import ast

    from .apphelpers import ROOT as root

    found = []
    for path in sorted((root / "gru_core" / "charts").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "encode":
                for kw in node.keywords:
                    v = kw.value
                    items = v.elts if isinstance(v, (ast.List, ast.Tuple)) else [v]
                    for e in items:
                        bare = isinstance(e, ast.JoinedStr) or (isinstance(e, ast.Constant) and isinstance(e.value, str))
                        cond = (isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute)
                                and e.func.attr in ("condition", "when"))
                        if bare or cond:
                            found.append(f"{path.name}:{e.lineno} {kw.arg}")
    assert not found, found


def test_explorer_charts_build_without_schema_lookups(monkeypatch):
    from altair.utils import schemapi

    calls = []
    original = schemapi.SchemaBase.from_dict.__func__
    monkeypatch.setattr(schemapi.SchemaBase, "from_dict",
                        classmethod(lambda cls, *a, **k: calls.append(cls) or original(cls, *a, **k)))
    sm = tiny_model("gru", seed=3)
    tr = sm.trace(REVIEW)
    window = (0, len(tr.tokens))
    for chart in (gate_charts.trajectory(explain.words_frame(tr)),
                  gate_charts.heatmap(explain.heatmap_frame(sm, tr, "update", "index", window), "update", select=True),
                  gate_charts.word_summary_chart(explain.word_summaries(tr)),
                  gate_charts.unit_lines(explain.unit_frame(tr, 2, window))):
        assert chart.to_dict()  # valid Vega-Lite
    assert calls == []


def test_pages_send_the_spec_streamlit_would():
    """pages.common.vega_lite skips Altair's validation at run time; the spec is the one st.altair_chart sends,
    and valid Vega-Lite."""
    import json

    from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec

    from pages.common import vega_lite

    sm = tiny_model("lstm", seed=4)
    tr = sm.trace(REVIEW)
    window = (0, len(tr.tokens))
    for chart in (gate_charts.trajectory(explain.words_frame(tr)),
                  gate_charts.heatmap(explain.heatmap_frame(sm, tr, "cell", "mean", window), "cell", select=True),
                  gate_charts.word_summary_chart(explain.word_summaries(tr)),
                  gate_charts.unit_lines(explain.unit_frame(tr, 1, window))):
        ours, streamlits = vega_lite(chart), _convert_altair_to_vega_lite_spec(chart)
        assert json.dumps(ours, sort_keys=True, default=repr) == json.dumps(streamlits, sort_keys=True, default=repr)
