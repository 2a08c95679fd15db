"""Hostile input through every page (property-based, with Hypothesis, driven by AppTest).

Every text input gets arbitrary Unicode (control characters included, no
surrogates), huge texts (200,000 characters of words, 1 MB of one character)
and HTML / script / markdown payloads; every slider, number input and select
slider goes to its extremes. For every example: no exception, and no HTML of
the user's in any markdown element (the page's own coloured-word HTML uses
only <div>, <span> and <br>).

Kept bounded: a few examples per test, no example database (nothing is written
into the repository), and the Train page only ever starts tiny runs, in a
temporary models folder, stopped and waited for before the test ends.
"""
from __future__ import annotations

import html
import re
from functools import cache

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gru_core import load_model
from gru_core.data import DataNotFoundError, resolve_imdb_path
from gru_core.descent import COSTS_1D, COSTS_2D, OPTIMIZERS
from gru_core.examples import EXAMPLES
from gru_core.jobs.runs import BUDGET, NAME, SHIPPED
from gru_core.text import tokenize

from . import apphelpers
from .apphelpers import ROOT, finish_job, no_exception, open_page, run_app
from .conftest import REQUIRE_DATA

SETTINGS = settings(max_examples=10, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large, HealthCheck.large_base_example])
MODELS = ["gru", "lstm", "rnn"]
MAX_CHARS = 200_000  # the review text areas' max_chars; the server cuts longer widget values to it

# --- hostile texts ----------------------------------------------------------------------------------------

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "'><IMG SRC=x OnError=alert(document.cookie)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "javascript:alert(1)",
    "[x](javascript:alert(1))",
    "![x](https://example.invalid/pixel.png)",
    "**bold** _it_ `code` ~~strike~~",
    "# heading",
    "$$\\frac{}{}$$",
    "$x^2$",
    ":red[red] :material/warning:",
    "<br> <br/> <BR />",
    "&lt;img src=x&gt; &amp; &#60;script&#62; &#x3C;",
    "</div></span><div onclick=alert(1)>",
    "<!-- comment --> <![CDATA[x]]>",
    '" title="x" onmouseover="alert(1)',
]
WORDS = sorted({w for text in EXAMPLES.values() for w in tokenize(text)})
CONTROL = ["\x00", "\x01", "\x07", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\r\n", "\x1b", "\x1f", "\x7f",
           "\x85", "\u00a0", "\u200b", "\u200d", "\u2028", "\u2029", "\u202e", "\ufeff", "\U0001f600"]
CHARS = st.characters(exclude_categories=("Cs",))  # every code point but surrogates, control characters included
UNICODE = st.text(st.one_of(CHARS, st.sampled_from([c for c in CONTROL if len(c) == 1])), max_size=300)
PIECE = st.one_of(st.sampled_from(PAYLOADS), st.sampled_from(WORDS), st.sampled_from(CONTROL),
                  st.text(CHARS, max_size=12))
MIXED = st.builds(lambda pieces, sep: sep.join(pieces), st.lists(PIECE, max_size=14),
                  st.sampled_from([" ", "", "\n", "\r\n", "\t", " \u2028 "]))
TEXTS = st.one_of(UNICODE, MIXED)


def _repeat(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


WORDS_200K = _repeat("the film was great but the ending was awful and boring ", 200_000)
PAYLOAD_200K = _repeat(" good ".join(PAYLOADS) + " ", 200_000)
ONE_CHAR_1MB = "a" * 1_000_000  # one 1 MB "word" (the widget path cuts it to 200,000 characters)
SYMBOL_1MB = "<" * 1_000_000  # 1 MB without a single word

# --- checks -------------------------------------------------------------------------------------------------

RAW = ("<img", "<script", "<svg", "<iframe", "onerror=", "onload=", "onclick=", "onmouseover=")
OWN_TAGS = {"div", "span", "br"}
TAG = re.compile(r"<\s*/?\s*([A-Za-z][A-Za-z0-9-]*)")
OWN_MARKUP = re.compile(r"</?(?:span|div)\b[^>]*>")


def markdown_bodies(at) -> list[tuple[str, bool]]:
    """(body, renders raw HTML?) for every markdown element on the page (st.markdown and st.caption)."""
    return [(el.value, bool(el.proto.allow_html)) for el in [*at.markdown, *at.caption]]


def assert_no_user_html(at) -> None:
    for body, allow_html in markdown_bodies(at):
        low = body.lower()
        for raw in RAW:
            assert raw not in low, f"unescaped {raw!r} in a markdown element: {body[:300]!r}"
        if allow_html:
            tags = {t.lower() for t in TAG.findall(body)}
            assert tags <= OWN_TAGS, f"tags {tags - OWN_TAGS} in HTML markdown: {body[:300]!r}"


def coloured(at) -> list[str]:
    return [body for body, allow_html in markdown_bodies(at) if allow_html]


def shown_text(body: str) -> str:
    """The text a coloured-words block shows: our tags removed, <br> back to newlines, entities decoded."""
    return html.unescape(OWN_MARKUP.sub("", body).replace("<br>", "\n"))


def messages(at, kind: str) -> str:
    return " ".join(x.value for x in getattr(at, kind))


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@cache
def shipped(model: str):
    return load_model(ROOT / "models" / model)


def maxlen(model: str) -> int:
    return shipped(model).maxlen


def have_imdb() -> bool:
    """Whether the IMDB data is here; under CI (GRU_EXPLORER_REQUIRE_DATA=1) missing data fails the test."""
    try:
        resolve_imdb_path()
    except DataNotFoundError as e:
        if REQUIRE_DATA:
            pytest.fail(f"the IMDB dataset is required here (GRU_EXPLORER_REQUIRE_DATA=1): {e}")
        return False
    return True


def type_into(widget, text: str):
    """What a user types; longer than max_chars is what only a hand-made client sends (the server cuts it)."""
    if widget.max_chars and len(text) > widget.max_chars:
        return widget.set_value(text)
    return widget.input(text)


def button(at, label: str):
    return next(b for b in at.button if b.label == label)




# --- Gate Explorer --------------------------------------------------------------------------------------------

def check_explorer(at, text: str, model: str) -> None:
    """The verdict for a text with words, a friendly message for one without; the text shown as text."""
    no_exception(at)
    assert_no_user_html(at)
    assert at.session_state["review"] == text
    m = metrics(at)
    if not text.strip():
        assert any("Type a review" in i.value for i in at.info) and "P(positive)" not in m
        return
    if not tokenize(text):
        assert any("no words" in i.value for i in at.info) and "P(positive)" not in m
        return
    assert 0.0 <= float(m["P(positive)"]) <= 1.0
    assert m["Verdict"] in ("positive", "negative")
    blocks = coloured(at)
    assert len(blocks) == 3  # the verdict as it forms, occlusion, gradient × input
    lines = text.replace("\r\n", "\n").replace("\r", "\n")  # every line break is shown as one
    for body in blocks:
        shown = shown_text(body)
        if len(tokenize(text)) > maxlen(model):  # only the words the model reads, after an ellipsis
            assert shown.startswith("… ") and lines.endswith(shown[2:]) and any(
                "reads only the last" in w.value for w in at.warning)
        else:
            assert shown == lines  # every character of the review, shown as text
    if len(text) <= 2_000:
        assert at.query_params["review"] in (text, [text])  # kept in the shareable link


@SETTINGS
@given(model=st.sampled_from(MODELS), text=TEXTS)
@example(model="gru", text=" ".join(PAYLOADS))
@example(model="gru", text=WORDS_200K)
@example(model="lstm", text=PAYLOAD_200K)
@example(model="gru", text=SYMBOL_1MB)
def test_explorer_review_from_the_link_or_state(model, text):
    """The review as a shared link (or another page) puts it in the session before the page runs."""
    at = run_app(model=model, review=text)
    check_explorer(at, text, model)


@SETTINGS
@given(model=st.sampled_from(MODELS), text=TEXTS)
@example(model="rnn", text=" ".join(PAYLOADS))
@example(model="gru", text=ONE_CHAR_1MB)
@example(model="gru", text=WORDS_200K + " tail")
def test_explorer_review_typed_and_submitted(model, text):
    at = run_app(model=model)
    type_into(at.text_area(key="review"), text)
    button(at, "Explore").click().run()
    check_explorer(at, text[:MAX_CHARS], model)


@SETTINGS
@given(text=TEXTS)
@example(text=" ".join(PAYLOADS))
@example(text=ONE_CHAR_1MB)
def test_explorer_edited_review(text):
    at = run_app(model="gru", compare_open=True)
    type_into(at.text_area(key="edited"), text).run()
    no_exception(at)
    assert_no_user_html(at)
    edited = text[:MAX_CHARS]
    assert at.text_area(key="edited").value == edited
    m = metrics(at)
    if tokenize(edited):
        assert 0.0 <= float(m["Edited P(positive)"]) <= 1.0
    else:
        assert "Edited P(positive)" not in m
        assert any("edited review contains no words" in i.value for i in at.info)


@settings(SETTINGS, max_examples=12)
@given(model=st.sampled_from(MODELS), n=st.sampled_from([1, 60, 61, 150, 700]),
       payload=st.sampled_from(PAYLOADS), window=st.sampled_from(["min", "max"]),
       unit=st.sampled_from(["min", "max"]), order=st.sampled_from(["index", "weight", "mean"]))
def test_explorer_display_controls_at_their_extremes(model, n, payload, window, unit, order):
    words = (WORDS * (n // len(WORDS) + 1))[:n]
    text = " ".join(words[:n // 2] + [payload] + words[n // 2:])
    at = run_app(model=model, review=text)
    check_explorer(at, text, model)
    T = min(len(tokenize(text)), maxlen(model))
    assert bool(at.slider) == (T > 60)  # a window over the words only when there are more than 60
    if at.slider:
        s = at.slider[0]
        s.set_value(int(s.min if window == "min" else s.max))
    u = at.number_input(key="_unit_input")
    u.set_value(int(u.min if unit == "min" else u.max))
    next(r for r in at.radio if r.label == "Order units by").set_value(order)
    at.run()
    check_explorer(at, text, model)
    picked = int(at.number_input(key="_unit_input").value)
    assert picked == (0 if unit == "min" else shipped(model).module.rnn.hidden_size - 1)
    assert any(c.value.startswith(f"Unit {picked} has output-layer weight") for c in at.caption)


# --- GRU vs LSTM ----------------------------------------------------------------------------------------------

@settings(SETTINGS, max_examples=8)
@given(text=TEXTS, chosen=st.lists(st.sampled_from(MODELS), unique=True, max_size=3),
       via=st.sampled_from(["state", "widget"]))
@example(text=" ".join(PAYLOADS), chosen=MODELS, via="widget")
@example(text=WORDS_200K, chosen=MODELS, via="state")
@example(text=ONE_CHAR_1MB, chosen=["gru", "lstm"], via="widget")
def test_compare_review_and_model_choice(text, chosen, via):
    at = open_page("pages/compare.py", **({"review": text} if via == "state" else {}))
    at.multiselect[0].set_value(chosen)
    if via == "widget":
        type_into(at.text_area(key="compare_review"), text)
    at.run()
    no_exception(at)
    assert_no_user_html(at)
    if not chosen:
        assert any("Pick at least one" in i.value for i in at.info)
        return
    shown = at.text_area(key="compare_review").value
    # The text area starts from the Gate Explorer's review, or an example when that is empty.
    assert shown == (text or EXAMPLES["Slow start, brilliant ending"] if via == "state" else text)[:MAX_CHARS]
    verdicts = [m for m in at.metric if m.label.split(" (")[0] in chosen]
    if not shown.strip():
        assert any("Type a review" in i.value for i in at.info) and not verdicts
    elif not tokenize(shown):
        assert any("no words" in i.value for i in at.info) and not verdicts
    else:
        assert sorted(m.label.split(" (")[0] for m in verdicts) == sorted(chosen)
        assert all(0.0 <= float(m.value) <= 1.0 for m in verdicts)


# --- Gradient descent ------------------------------------------------------------------------------------------

ENDS = st.sampled_from(["min", "max"])


def to_end(widget, end: str):
    if hasattr(widget, "options") and not hasattr(widget, "min"):  # select slider
        return widget.set_value(widget.options[0 if end == "min" else -1])
    value = widget.min if end == "min" else widget.max
    return widget.set_value(type(widget.value)(value))


@settings(SETTINGS, max_examples=12)
@given(cost=st.sampled_from(list(COSTS_1D)), start=ENDS, alpha=ENDS, k=ENDS, play=st.booleans())
def test_descent_one_parameter_extremes(cost, start, alpha, k, play):
    at = open_page("pages/descent.py")
    at.selectbox(key="gd_cost").select(cost).run()
    no_exception(at)
    at.slider(key=f"gd_start_{cost}").set_value(COSTS_1D[cost].domain[0 if start == "min" else 1])
    at.select_slider(key="gd_alpha").set_value(1e-4 if alpha == "min" else 3.0)
    at.run()
    no_exception(at)
    gd_k = at.slider(key="gd_k")
    gd_k.set_value(int(gd_k.min if k == "min" else gd_k.max)).run()
    no_exception(at)
    if play and k == "max":  # ▶ Play from the last step: one frame, no waiting
        button(at, "▶ Play").click().run()
        no_exception(at)
    step = int(at.slider(key="gd_k").value)
    assert any(m.label == f"θ at step {step}" for m in at.metric)
    assert at.latex and rf"\theta_{{{step + 1}}}" in at.latex[0].value
    assert [*at.success, *at.error, *at.warning, *at.info]  # the diagnosis
    assert_no_user_html(at)


@settings(SETTINGS, max_examples=10)
@given(surface=st.sampled_from(list(COSTS_2D)), t0=ENDS, t1=ENDS, steps=ENDS,
       alphas=st.tuples(ENDS, ENDS, ENDS))
def test_descent_two_parameters_extremes(surface, t0, t1, steps, alphas):
    at = open_page("pages/descent.py", gd_section="Two parameters")
    at.selectbox(key="gd2_cost").select(surface).run()
    no_exception(at)
    to_end(at.slider(key=f"gd2_t0_{surface}"), t0)
    to_end(at.slider(key=f"gd2_t1_{surface}"), t1)
    to_end(at.slider(key="gd2_steps"), steps)
    for name, end in zip(OPTIMIZERS, alphas):
        at.select_slider(key=f"gd2_alpha_{name}_{surface}").set_value(1e-4 if end == "min" else 3.0)
    at.run()
    no_exception(at)
    assert [m.label.startswith("J after") for m in at.metric] == [True] * 3
    assert len(at.get("vega_lite_chart")) == 4
    assert_no_user_html(at)


@settings(SETTINGS, max_examples=3)
@given(block=ENDS, row=ENDS, col=ENDS, start=ENDS, alpha=ENDS, steps=ENDS)
@example(block="max", row="max", col="max", start="max", alpha="max", steps="max")
def test_descent_real_model_extremes(block, row, col, start, alpha, steps):
    at = open_page("pages/descent.py", gd_section="The real model")
    if not have_imdb():
        assert "GRU_EXPLORER_IMDB" in messages(at, "info")
        return
    box = at.selectbox(key="ls_block")
    label = box.options[0 if block == "min" else -1]
    box.select(label).run()
    no_exception(at)
    to_end(at.number_input(key=f"ls_row_{label}"), row)
    to_end(at.number_input(key=f"ls_col_{label}"), col)
    to_end(at.slider(key="ls_start"), start)
    at.select_slider(key="ls_alpha").set_value(1e-4 if alpha == "min" else 3.0)
    to_end(at.slider(key="ls_steps"), steps)
    at.run()
    no_exception(at)
    assert {"loss", "autograd slope", "finite-difference slope"} <= set(metrics(at))
    if (block, row, col, start, alpha, steps) == ("max",) * 6:  # once: the 2-D surface with extreme seeds
        to_end(at.number_input(key="ls_seed1"), "min")
        to_end(at.number_input(key="ls_seed2"), "max")
        at.toggle(key="ls_surface").set_value(True).run()
        no_exception(at)
        assert len(at.get("vega_lite_chart")) == 2
    assert_no_user_html(at)


# --- Inside the cell ------------------------------------------------------------------------------------------

CELL = "pages/cell.py"


def check_cell(at, text: str, model: str) -> None:
    """The cell at a word of a text with words, a friendly message for one without; no HTML of the user's."""
    no_exception(at)
    assert_no_user_html(at)
    assert at.session_state["review"] == text
    if not text.strip():
        assert any("Type a review" in i.value for i in at.info) and not at.get("vega_lite_chart")
        return
    if not tokenize(text):
        assert any("no words" in i.value for i in at.info) and not at.get("vega_lite_chart")
        return
    T = min(len(tokenize(text)), maxlen(model))
    t = int(at.session_state["cell_word"])
    assert 1 <= t <= T and any(m.value.startswith(f"**Word {t} of {T}:") for m in at.markdown)
    assert "Loss L" in metrics(at) and len(at.get("vega_lite_chart")) >= 8
    if len(text) <= 2_000:
        assert at.query_params["review"] in (text, [text])


@SETTINGS
@given(model=st.sampled_from(MODELS), text=TEXTS)
@example(model="gru", text=" ".join(PAYLOADS))
@example(model="lstm", text=WORDS_200K)
@example(model="rnn", text=PAYLOAD_200K)
@example(model="gru", text=SYMBOL_1MB)
def test_cell_review_from_the_link_or_the_explorer(model, text):
    """The Explorer's review (its text area holds at most MAX_CHARS, as the browser enforces) comes with the page."""
    at = open_page(CELL, model=model, review=text)
    check_cell(at, text[:MAX_CHARS], model)


@SETTINGS
@given(model=st.sampled_from(MODELS), text=TEXTS)
@example(model="lstm", text=" ".join(PAYLOADS))
@example(model="gru", text=ONE_CHAR_1MB)
def test_cell_review_typed_and_submitted(model, text):
    at = open_page(CELL, model=model)
    type_into(at.text_area(key="cell_review"), text)
    button(at, "Read").click().run()
    check_cell(at, text[:MAX_CHARS], model)


@settings(SETTINGS, max_examples=10)
@given(model=st.sampled_from(MODELS), n=st.sampled_from([1, 2, 61, 700]), payload=st.sampled_from(PAYLOADS),
       word=ENDS, unit=ENDS, alpha=ENDS, steps=ENDS, play=st.booleans(), label=st.sampled_from(["positive",
                                                                                                "negative"]))
@example(model="rnn", n=700, payload=PAYLOADS[1], word="min", unit="max", alpha="max", steps="max", play=False,
         label="negative")
@example(model="lstm", n=61, payload=PAYLOADS[0], word="max", unit="min", alpha="min", steps="min", play=True,
         label="positive")
def test_cell_controls_at_their_extremes(model, n, payload, word, unit, alpha, steps, play, label):
    words = (WORDS * (n // len(WORDS) + 1))[:n]
    text = " ".join(words[:n // 2] + [payload] + words[n // 2:])
    at = open_page(CELL, model=model, review=text)
    check_cell(at, text, model)
    sliders = [s for s in at.slider if s.key == "_cell_word_slider"]
    if sliders:
        to_end(sliders[0], word)
    to_end(at.number_input(key="_unit_input"), unit)
    at.radio(key="cell_label").set_value(label)
    at.select_slider(key="cell_alpha").set_value(1e-4 if alpha == "min" else 10.0)
    to_end(at.slider(key="cell_steps"), steps)
    at.run()
    check_cell(at, text, model)
    if play and n <= 61:  # a walk through 500 words takes minutes, as it should in a browser
        assert button(at, "▶ Play").disabled == (len(tokenize(text)) == 1)  # nothing to walk through in one word
    if play and n <= 61 and len(tokenize(text)) > 1:
        button(at, "▶ Play").click().run()
        check_cell(at, text, model)
        assert int(at.session_state["cell_word"]) == min(len(tokenize(text)), maxlen(model))
    at.button(key="cell_sgd_play").click().run()  # the SGD steps, one by one
    check_cell(at, text, model)
    assert {"P(positive) of this review", "Its loss"} <= set(metrics(at))


# --- Train -------------------------------------------------------------------------------------------------------

NUMBERS = ["Training reviews", "Epochs", "Batch size", "Learning rate", "Hidden units", "Vocabulary size",
           "Max words per review (the last ones)"]
TINY = {"Training reviews": 100, "Epochs": 1, "Batch size": 512, "Hidden units": 2, "Vocabulary size": 100,
        "Max words per review (the last ones)": 10}


models_root = apphelpers.models_root  # the fixture: a temporary models folder, no run left going
made_up_imdb = apphelpers.made_up_imdb  # the Train page on made-up data, with or without the real dataset


def number(at, label: str):
    return next(n for n in at.number_input if n.label == label)


def open_train():
    return open_page("pages/train.py")


def errors(at) -> str:
    return messages(at, "error")


@settings(SETTINGS, max_examples=12)
@given(name=st.one_of(TEXTS, st.sampled_from(PAYLOADS)))
@example(name="<img src=x onerror=alert(1)>")
@example(name="gru")
@example(name="../../etc/passwd")
@example(name="CON")
@example(name="a b")
@example(name="tiny-run_1")  # a valid name: a tiny run starts and is stopped at once
@example(name=WORDS_200K)
@example(name=SYMBOL_1MB)
def test_train_hostile_names(models_root, made_up_imdb, name):
    at = open_train()
    type_into(at.text_input[0], name)
    for label, value in TINY.items():
        number(at, label).set_value(value)
    at.checkbox[0].uncheck()  # no test-set evaluation
    sent = name[:40]  # the name field's max_chars
    before = sorted(p.name for p in models_root.iterdir())
    valid = bool(NAME.fullmatch(sent)) and sent not in SHIPPED and sent not in before
    button(at, "Start training").click().run()
    no_exception(at)
    assert_no_user_html(at)
    assert at.text_input[0].value == sent
    started = finish_job()
    if valid:
        assert started == sent and not errors(at)
    else:
        assert started is None, f"a training run started for the refused name {sent!r}"
        assert ("model name must be" in errors(at) or "shipped model" in errors(at)
                or "already exists" in errors(at)), errors(at)
        assert sorted(p.name for p in models_root.iterdir()) == before  # nothing written


@settings(SETTINGS, max_examples=10)
@given(arch=st.sampled_from(MODELS), ends=st.tuples(*[ENDS] * len(NUMBERS)), overwrite=st.booleans(),
       name=st.sampled_from(["gru", "<script>alert(1)</script>", "Bad Name!"]))
@example(arch="lstm", ends=("max",) * len(NUMBERS), overwrite=True, name="gru")
@example(arch="rnn", ends=("min",) * len(NUMBERS), overwrite=False, name="<script>alert(1)</script>")
def test_train_number_inputs_at_their_extremes(models_root, made_up_imdb, arch, ends, overwrite, name):
    """Every setting at its lowest or highest, with a name that is refused: the request is checked, no run starts."""
    at = open_train()
    next(s for s in at.selectbox if s.label == "Architecture").select(arch).run()
    no_exception(at)
    type_into(at.text_input[0], name)
    values = {}
    for label, end in zip(NUMBERS, ends):
        to_end(number(at, label), end)
        values[label] = number(at, label).value
    at.checkbox[0].uncheck()
    if overwrite:
        at.checkbox[1].check()
    button(at, "Start training").click().run()
    no_exception(at)
    assert_no_user_html(at)
    assert at.text_input[0].value == name
    assert finish_job() is None
    msg = errors(at)
    assert "shipped model" in msg or "model name must be" in msg
    over_budget = values["Training reviews"] * values["Epochs"] > BUDGET
    assert ("command line" in msg) == over_budget
    assert "must be between" not in msg  # the widgets' own limits are the ones the check accepts


# --- Where models fail ---------------------------------------------------------------------------------------

@settings(SETTINGS, max_examples=12)
@given(phrase=st.one_of(TEXTS, st.sampled_from(PAYLOADS)), model=st.sampled_from(MODELS))
@example(phrase=" ".join(PAYLOADS), model="gru")
@example(phrase="<script>alert(1)</script>", model="lstm")
@example(phrase=WORDS_200K, model="rnn")  # 5,000 words and more: the box keeps 200 characters
@example(phrase="😀 🎬 👍", model="gru")
@example(phrase="", model="gru")
@example(phrase="not bad", model="gru")
def test_slices_phrase(phrase, model):
    at = open_page("pages/slices.py", sl_model=model)
    box = at.text_input(key="sl_phrase")
    if not have_imdb():
        assert box.disabled and "needs the IMDB dataset" in messages(at, "info")
        assert_no_user_html(at)
        return
    type_into(box, phrase).run()
    no_exception(at)
    assert_no_user_html(at)
    kept = phrase[:box.max_chars]
    said = " ".join(c.value for c in at.caption) + messages(at, "info")
    if not kept.strip():
        assert "test reviews contain “" not in said and "No test review contains" not in said
    elif not tokenize(kept):
        assert "holds no words" in said
    else:
        assert "test reviews contain “" in said or "No test review contains “" in said
    own = "test reviews contain “" in said
    at.selectbox(key="sl_slice").select("phrase" if own else "unknown_20_plus").run()  # its own slice, if any
    at.number_input(key="sl_limit").set_value(100).run()
    no_exception(at)
    assert_no_user_html(at)


# --- Gate Explorer: state search --------------------------------------------------------------------------------

def settled_search(at) -> None:
    """Rerun until the state search shows its controls: the background build is waited for, not slept on."""
    from pages.common import _state_shelf

    for _ in range(4):
        assert _state_shelf().wait(300)
        at.run()
        no_exception(at)
        if not at.get("progress") and "other models" not in messages(at, "info"):
            return
    pytest.fail("the state index did not become ready")


@settings(SETTINGS, max_examples=10)
@given(model=st.sampled_from(MODELS), text=TEXTS, stretch=st.tuples(ENDS, ENDS), threshold=ENDS,
       measure=st.sampled_from(["jaccard", "lstmvis"]))
@example(model="gru", text=" ".join(PAYLOADS), stretch=("min", "max"), threshold="min", measure="jaccard")
@example(model="lstm", text=PAYLOAD_200K, stretch=("max", "max"), threshold="min", measure="lstmvis")
@example(model="rnn", text="😀", stretch=("min", "min"), threshold="max", measure="jaccard")
def test_state_search_hostile_reviews_and_controls_at_their_ends(made_up_imdb, model, text, stretch, threshold,
                                                                 measure):
    at = run_app(model=model, review=text, ss_open=True)
    if not tokenize(text):
        check_explorer(at, text, model)
        return
    settled_search(at)
    check_explorer(at, text, model)
    sliders = [s for s in at.select_slider if s.label.startswith("Stretch")]
    if sliders:
        last = len(sliders[0].options) - 1
        a = 0 if stretch[0] == "min" else last
        b = last if stretch[1] == "max" else a
        sliders[0].set_range(min(a, b), max(a, b))
    to_end(at.slider(key="ss_threshold"), threshold)
    at.radio(key="ss_measure").set_value(measure)
    at.run()
    no_exception(at)
    assert_no_user_html(at)
    said = " ".join(x.value for x in [*at.markdown, *at.caption, *at.info])
    assert "best matches" in said or "No unit is in the pattern" in said


# --- bugs found by these tests, kept as regression tests ------------------------------------------------

def test_train_typed_name_survives_a_change_of_architecture(models_root, made_up_imdb):
    at = open_page("pages/train.py")
    next(s for s in at.selectbox if s.label == "Architecture").select("lstm")  # same submission as the name
    at.text_input[0].input("Bad Name!")
    for label, value in TINY.items():
        number(at, label).set_value(value)
    at.checkbox[0].uncheck()
    button(at, "Start training").click().run()
    no_exception(at)
    started = finish_job()
    assert started is None, f"a run started as {started!r} although the typed name was 'Bad Name!'"
    assert "model name must be" in errors(at)


def test_review_from_a_link_with_carriage_returns_stays_text():
    at = run_app({"review": "A great film.\r\r# Injected heading\r\r**bold** and [here](/)", "model": "gru"})
    assert_no_user_html(at)
    blocks = coloured(at)
    assert len(blocks) == 3
    for body in blocks:
        assert not re.search(r"[\r\n]", body), f"a line ending inside the HTML block: {body[:200]!r}"
