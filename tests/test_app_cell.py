"""AppTest for the Inside the cell page, with every shipped model: the numbers shown are the model's, the controls
work at their ends, the review, model, unit and word are shared and kept in the link, and the cached model never
changes."""
from __future__ import annotations

import hashlib
import json
from functools import cache

import numpy as np
import pyarrow as pa
import pytest
from safetensors.torch import save

from gru_core import load_model
from gru_core.analysis.bptt import backprop
from gru_core.analysis.cell_forward import boxes, cell_step
from gru_core.archs import ARCHS
from gru_core.charts.text import md_escape
from gru_core.examples import EXAMPLES

from .apphelpers import ROOT, SHIPPED, charts, no_exception, open_page, run_app, shipped_models_only

PAGE = "pages/cell.py"
DEFAULT = EXAMPLES["Slow start, brilliant ending"]


@pytest.fixture(scope="module", autouse=True)
def models_root(tmp_path_factory):
    with shipped_models_only(tmp_path_factory.mktemp("models")) as root:
        yield root


@cache
def shipped(name: str):
    return load_model(ROOT / "models" / name)


def open_cell(model: str = "gru", **state):
    return open_page(PAGE, model=model, **state)


def submit(at, text: str):
    at.text_area(key="cell_review").input(text)
    next(b for b in at.button if b.label == "Read").click().run()
    no_exception(at)
    return at


def tables(at, element=None) -> list[pa.Table]:
    """Every data table of every chart (a layered chart holds one per layer), or of one chart element."""
    els = [element] if element is not None else at.get("vega_lite_chart")
    return [pa.ipc.open_stream(d.data.data).read_all() for el in els for d in el.proto.datasets]


def diagram_boxes(at) -> set[str]:
    el = next(e for e in at.get("vega_lite_chart") if '"pick"' in e.proto.spec)
    return {b for t in tables(at, el) if "box" in t.column_names for b in t.column("box").to_pylist()}


def markdown(at) -> str:
    return "\n".join(m.value for m in (*at.markdown, *at.caption, *at.info, *at.warning))


def latex(at) -> list[str]:
    return [x.value.strip("$\n") for x in at.latex]


def word(at) -> int:
    return int(at.session_state["cell_word"])


@pytest.mark.parametrize("model", SHIPPED)
def test_every_section_shows_the_models_own_numbers(model):
    at = open_cell(model)
    m = shipped(model)
    trace = m.trace(DEFAULT)
    assert [s.value for s in at.subheader] == ["1 · The cell at one word", "2 · The forward pass, with numbers",
                                               "3 · Backpropagation through time, for this review"]
    t, unit = word(at), int(at.number_input(key="_unit_input").value)
    assert t == len(trace.tokens)  # a new review starts at its last word, where the verdict is read
    step = cell_step(m, trace, t - 1)
    assert diagram_boxes(at) == set(boxes(step))
    shown = latex(at)
    for q in step.defined():  # the forward pass, every step of it, exactly as the code writes it out
        assert q.latex(unit) in shown, q.key
    assert step.quantities["readout"].latex(unit) in shown
    label = int(trace.proba > 0.5)  # your own review starts with the model's verdict as its label
    assert at.radio(key="cell_label").value == ("positive" if label else "negative")
    metrics = {x.label: x.value for x in at.metric}
    assert metrics["Loss L"] == f"{backprop(m.module, trace.ids, label).loss:.4f}"
    body = markdown(at)
    assert f"Word {t} of {t}" in body and "Every number here equals the model's own step" in body
    names = {r for r in at.table[0].value.index}
    assert names == {"gru", "lstm", "rnn", model}  # the three architectures side by side, and the picked model


def test_word_controls_move_the_word_and_keep_it_in_the_link():
    at = open_cell()
    T = word(at)
    assert at.button(key="cell_next").disabled
    at.button(key="cell_prev").click().run()
    assert word(at) == T - 1 and at.query_params["word"] in ("20", ["20"])
    at.button(key="cell_next").click().run()
    assert word(at) == T
    at.slider(key="_cell_word_slider").set_value(1).run()
    no_exception(at)
    assert word(at) == 1 and at.button(key="cell_prev").disabled
    assert any("Word 1 of 21: “The”" in m.value for m in at.markdown)
    at.button(key="cell_play").click().run()  # plays from word 1 to the end
    no_exception(at)
    assert word(at) == T and at.slider(key="_cell_word_slider").value == T
    at.button(key="cell_play").click().run()  # at the end: plays again from the start
    assert word(at) == T


def test_a_link_opens_the_review_word_and_unit():
    text = "Not bad at all, really quite fun."
    at = run_app({"review": text, "word": "3", "unit": "5", "model": "lstm"})
    at.switch_page(PAGE).run()
    no_exception(at)
    assert at.text_area(key="cell_review").value == text
    assert word(at) == 3 and int(at.number_input(key="_unit_input").value) == 5
    assert any("Word 3 of 7: “at”" in m.value for m in at.markdown)
    lat = cell_step(shipped("lstm"), shipped("lstm").trace(text), 2).quantities["forget"].latex(5)
    assert lat in latex(at)


def test_the_review_and_unit_are_shared_with_the_gate_explorer():
    at = run_app(model="gru")
    at.number_input(key="_unit_input").set_value(12).run()
    at.switch_page(PAGE).run()
    no_exception(at)
    assert int(at.number_input(key="_unit_input").value) == 12
    submit(at, "The plot was thin but the cast was wonderful.")
    assert word(at) == 9
    at.switch_page("pages/explorer.py").run()
    no_exception(at)
    assert at.text_area(key="review").value == "The plot was thin but the cast was wonderful."
    assert int(at.number_input(key="_unit_input").value) == 12


def test_the_explorer_links_here():
    at = open_page("pages/explorer.py")
    assert any(el.proto.page == "cell" for el in at.get("page_link"))


@pytest.mark.parametrize("model", SHIPPED)
def test_empty_and_wordless_reviews_get_a_prompt(model):
    at = open_cell(model, review="   ")
    assert any("Type a review" in i.value for i in at.info) and not charts(at)
    at = submit(at, "!!! ... 😀😀")
    assert any("no words" in i.value for i in at.info) and not charts(at)


@pytest.mark.parametrize("model", SHIPPED)
def test_hostile_html_is_read_as_words(model):
    payload = 'Great <script>alert("x")</script> <img src=x onerror=alert(1)> **bold** [link](http://x)'
    at = open_cell(model)
    submit(at, payload)
    body = markdown(at)
    assert "<script" not in body and "<img" not in body and "onerror=" not in body
    assert all(not m.proto.allow_html for m in at.markdown)  # nothing on this page renders HTML
    spec = json.dumps([s for s, _ in charts(at)])
    assert "<script" not in spec  # Vega draws text as text; the review's words reach it only as data
    at.slider(key="_cell_word_slider").set_value(2).run()
    assert any("Word 2 of" in m.value and "script" in m.value for m in at.markdown)


@pytest.mark.parametrize("model", SHIPPED)
def test_a_5000_word_review_reads_the_last_maxlen_words(model):
    rng = np.random.default_rng(0)
    text = " ".join(rng.choice(" ".join(EXAMPLES.values()).split(), size=5000))
    at = open_cell(model, review=text)
    no_exception(at)
    assert any("reads only the last 500" in w.value for w in at.warning)
    assert at.slider(key="_cell_word_slider").max == 500 and word(at) == 500
    window = next(s for s in at.slider if s.label == "Words shown (window start)")
    window.set_value(window.min).run()
    no_exception(at)
    at.slider(key="_cell_word_slider").set_value(1).run()
    no_exception(at)
    assert any("Word 1 of 500" in m.value for m in at.markdown)


def weights_sha256(model) -> str:
    """The sha256 of the model's weights as the checkpoint stores them (config.json's weights_sha256)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.module.state_dict().items()}
    return hashlib.sha256(save(state)).hexdigest()


@pytest.mark.parametrize("model", SHIPPED)
def test_every_control_at_its_ends_and_the_cached_model_never_changes(models_root, model):
    from pages.common import get_model

    at = open_cell(model, review="An awful, boring film that I loved anyway.")
    cached = get_model(models_root / model)
    assert weights_sha256(cached) == cached.config["weights_sha256"]
    unit = at.number_input(key="_unit_input")
    for end in (int(unit.min), int(unit.max)):
        at.number_input(key="_unit_input").set_value(end).run()
        no_exception(at)
        assert f"Unit **{end}** at word" in markdown(at)
    for order in ("weight", "mean", "index"):
        at.radio(key="cell_order").set_value(order).run()
        no_exception(at)
    m = shipped(model)
    step = cell_step(m, m.trace("An awful, boring film that I loved anyway."), 7)
    for box, name in boxes(step).items():  # every box's formula opens
        at.radio(key="_cell_box_radio").set_value(box).run()
        no_exception(at)
        assert at.session_state["cell_box"] == box and f"**{md_escape(name)}**" in markdown(at)
    for gate in ARCHS[m.arch].blocks:
        at.radio(key="cell_drivers").set_value(gate).run()
        no_exception(at)
    for label in ("negative", "positive"):
        at.radio(key="cell_label").set_value(label).run()
        no_exception(at)
    at.toggle(key="cell_grad_per_word").set_value(False).run()
    no_exception(at)
    for alpha, steps in ((1e-4, 1), (10.0, 10)):  # the α slider's ends
        at.select_slider(key="cell_alpha").set_value(alpha)
        at.slider(key="cell_steps").set_value(steps).run()
        no_exception(at)
        assert "P(positive) of this review" in {m.label for m in at.metric}
    at.button(key="cell_sgd_play").click().run()
    no_exception(at)
    assert weights_sha256(get_model(models_root / model)) == cached.config["weights_sha256"]
    assert weights_sha256(cached) == cached.config["weights_sha256"]


def test_a_one_word_review_has_no_slider_and_play_is_off():
    at = open_cell(review="brilliant")
    assert not [s for s in at.slider if s.key == "_cell_word_slider"]
    assert at.button(key="cell_play").disabled and at.button(key="cell_prev").disabled
    assert word(at) == 1


def test_an_imdb_test_review_starts_with_its_true_label():
    text = "A tedious film, though the lead is good."
    at = open_cell(review=text, truth=(1, 8, "123_8", text))
    assert at.radio(key="cell_label").value == "positive"
    assert "true label is **positive** (8★)" in markdown(at)
    at.radio(key="cell_label").set_value("negative").run()
    assert "you picked **negative** instead" in markdown(at)


def test_with_the_dataset_a_random_test_review_and_200_test_reviews_followed(imdb_path, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(imdb_path))
    at = open_cell("gru")
    at.selectbox(key="cell_example").select("A random IMDB test review").run()
    no_exception(at)
    truth = at.session_state["truth"]
    assert at.session_state["review"] == truth[3]
    assert at.radio(key="cell_label").value == ("positive" if truth[0] else "negative")
    assert "its true label is" in markdown(at)
    metrics = {m.label: m for m in at.metric}
    acc = metrics["Accuracy on 200 random test reviews"]
    points = [t for t in tables(at) if "before" in t.column_names]
    assert len(points) == 1 and points[0].num_rows == 200
    before = np.asarray(points[0].column("before").to_pylist())
    after = np.asarray(points[0].column("after").to_pylist())
    labels = np.asarray(points[0].column("label").to_pylist()) == "positive"
    assert acc.value == f"{((after > 0.5) == labels).mean():.1%}"
    assert 0.8 < ((before > 0.5) == labels).mean() <= 1.0  # the shipped GRU's own accuracy on them (89.8% overall)
