"""AppTest for the Gate Explorer page, with every shipped model."""
from __future__ import annotations

import html
import re
import shutil
from functools import cache

import numpy as np
import pytest

from gru_core import load_model
from gru_core.archs import ARCHS, GATE_LABELS
from gru_core.examples import EXAMPLES

from .apphelpers import ROOT, SHIPPED, chart_titles, charts, no_exception, run_app, shipped_models_only

MODELS = SHIPPED
DISPLAY = {"gru": "gru (GRU)", "lstm": "lstm (LSTM)", "rnn": "rnn (plain RNN)", "keras-seed": "keras-seed (GRU)"}
HOSTILE = 'Great film <img src=x onerror=alert(1)> and <script>alert("x")</script> **bold** [link](http://x)'
WORDS = list(EXAMPLES.values())


def run_with(model: str, review: str | None = None, example: str | None = None):
    at = run_app(model=model, **({} if review is None else {"review": review}))
    if example is not None:
        at.selectbox(key="example").select(example).run()
        no_exception(at)
    return at


def heatmaps(at):
    names = set(GATE_LABELS.values())
    return [(spec, table) for spec, table in charts(at) if spec.get("title") in names]


@pytest.fixture(scope="module", autouse=True)
def models_root(tmp_path_factory):
    """The app sees the shipped models only, whatever else is in the repository's models/."""
    with shipped_models_only(tmp_path_factory.mktemp("models")) as root:
        yield root


@cache
def shipped(name: str):
    return load_model(ROOT / "models" / name)


def test_model_picker_offers_the_shipped_models_then_the_users_own(models_root):
    at = run_app()
    picker = at.selectbox(key="_model_picker")
    assert picker.options == SHIPPED and picker.value == "gru"
    shutil.copytree(models_root / "gru", models_root / "aaa-mine")  # sorts before "gru" by name
    try:
        at = run_app()
        picker = at.selectbox(key="_model_picker")
        assert picker.options == [*SHIPPED, "aaa-mine"] and picker.value == "gru"
    finally:
        shutil.rmtree(models_root / "aaa-mine")


@pytest.mark.parametrize("model", MODELS)
def test_default_review_shows_verdict_and_one_row_per_unit_and_word(model):
    at = run_with(model)
    m = shipped(model)
    metrics = {x.label: x.value for x in at.metric}
    trace = m.trace(at.session_state["review"])
    assert metrics["P(positive)"] == f"{trace.proba:.3f}"
    assert metrics["Verdict"] == ("positive" if trace.proba > 0.5 else "negative")
    names = [*ARCHS[m.arch].traced, "hidden"]
    assert len(names) == {"gru": 4, "lstm": 6, "rnn": 1}[m.arch]
    for name in names:  # the tabs are lazy: each shows its own heatmap, and only the open one is built
        at.session_state[f"gate_tab_{m.arch}"] = GATE_LABELS[name]
        at.run()
        no_exception(at)
        maps = heatmaps(at)
        assert [spec["title"] for spec, _ in maps] == [GATE_LABELS[name]]  # nor anything in the closed expander
        (_, table), = maps
        assert table.num_rows == len(trace.tokens) * m.module.rnn.hidden_size
        assert set(table.column("word").to_pylist()) == set(trace.tokens)
        np.testing.assert_allclose(sorted(table.column("value").to_pylist()),
                                   np.sort(({**trace.gates, "hidden": trace.hidden})[name].ravel()), atol=1e-6)
    assert "How the verdict forms" in [s.value for s in at.subheader]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("example", list(EXAMPLES))
def test_every_example_runs(model, example):
    at = run_with(model, example=example)
    assert at.session_state["review"] == EXAMPLES[example]
    proba = shipped(model).trace(EXAMPLES[example]).proba
    metrics = {x.label: x.value for x in at.metric}
    assert metrics["P(positive)"] == f"{proba:.3f}" and metrics["Model"] == DISPLAY[model]
    assert metrics["Verdict"] == ("positive" if proba > 0.5 else "negative")


@pytest.mark.parametrize("model", MODELS)
def test_empty_and_wordless_reviews_get_a_friendly_prompt(model):
    at = run_with(model, review="   ")
    assert any("Type a review" in i.value for i in at.info) and not charts(at)
    at = run_with(model, review="!!! ... 😀😀")
    assert any("no words" in i.value for i in at.info) and not charts(at)


@pytest.mark.parametrize("model", MODELS)
def test_hostile_html_is_shown_as_text(model):
    at = run_with(model, review=HOSTILE)
    page = "".join(m.value for m in at.markdown)
    assert "<img" not in page and "<script" not in page
    # Remove the page's own colouring markup: what is left, unescaped, is the review itself.
    coloured = next(m.value for m in at.markdown if "onerror" in m.value)
    plain = html.unescape(re.sub(r"</?(span|div)[^>]*>", "", coloured))
    assert HOSTILE in plain


@pytest.mark.parametrize("model", MODELS)
def test_long_review_uses_a_window_and_says_what_was_read(model):
    rng = np.random.default_rng(0)
    text = " ".join(rng.choice(" ".join(WORDS).split(), size=5000))
    at = run_with(model, review=text)
    assert any("reads only the last" in w.value for w in at.warning)
    assert at.slider  # window over the words instead of silent truncation
    (_, table), *_ = heatmaps(at)
    assert table.num_rows == 60 * 100


def test_only_unknown_words_are_said_plainly():
    at = run_with(MODELS[0], review="zxqv blorft snarfle")
    assert any("None of these words" in w.value for w in at.warning)


def test_switching_model_changes_the_gates():
    at = run_with("gru")
    assert "update gate z" in chart_titles(at)
    at.selectbox(key="_model_picker").select("lstm").run()
    no_exception(at)
    titles = chart_titles(at)
    assert "input gate i" in titles and "update gate z" not in titles  # the first tab's heatmap is open
    assert "forget gate f" in [t.label for t in at.tabs] and "update gate z" not in [t.label for t in at.tabs]


def test_display_option_does_not_change_values():
    at = run_with("gru")
    before = sorted(heatmaps(at)[0][1].column("value").to_pylist())
    at.radio[0].set_value("weight").run()
    no_exception(at)
    after = sorted(heatmaps(at)[0][1].column("value").to_pylist())
    assert before == after  # same numbers, another order


def test_review_is_kept_in_the_url():
    at = run_with("gru", review="A lovely little film.")
    assert at.query_params["review"] == "A lovely little film."
    assert at.query_params["model"] == "gru"


def test_a_shared_link_reopens_the_same_view():
    at = run_app({"review": "Dreadful acting, a total waste of time.", "model": "lstm"})
    assert at.session_state["review"] == "Dreadful acting, a total waste of time."
    assert at.session_state["model"] == "lstm"
    assert "input gate i" in chart_titles(at) and "forget gate f" in [t.label for t in at.tabs]


def test_random_test_review_shows_true_label_and_rating(imdb_path):
    at = run_with("gru", example="A random IMDB test review")
    truth = at.session_state["truth"]
    metrics = {m.label: m.value for m in at.metric}
    label = "positive" if truth[0] else "negative"
    assert metrics["True label"] == f"{label} ({truth[1]}★)"
    assert (truth[0] == 1) == (truth[1] >= 7)


def test_compare_with_an_edited_review_is_lazy_and_exact():
    at = run_with("gru", review="The acting was good and the plot was fun.")
    assert [t.key for t in at.text_area] == ["review"]  # closed: no second trace computed
    assert "Edited P(positive)" not in {m.label for m in at.metric}
    at.session_state["compare_open"] = True
    at.run()
    assert at.text_area(key="edited").value == "The acting was good and the plot was fun."  # pre-filled
    at.text_area(key="edited").input("The acting was not good and the plot was dull.").run()
    no_exception(at)
    m = load_model("models/gru")
    a, b = m.trace("The acting was good and the plot was fun."), m.trace("The acting was not good and the plot was dull.")
    metrics = {x.label: x for x in at.metric}
    assert metrics["Original P(positive)"].value == f"{a.proba:.3f}"
    assert metrics["Edited P(positive)"].value == f"{b.proba:.3f}"
    assert metrics["Edited P(positive)"].delta == f"{b.proba - a.proba:+.3f}"
    assert len(heatmaps(at)) == 1 + 2  # the open tab's heatmap, and the update-gate heatmaps of both reviews
    diff = at.dataframe[-1].value
    expect = [np.abs(b.gates[n][-1] - a.gates[n][-1]).mean() for n in ("update", "reset", "candidate")]
    expect.append(np.abs(b.hidden[-1] - a.hidden[-1]).mean())
    np.testing.assert_allclose(diff.iloc[:, 1].to_numpy(), expect, rtol=1e-6)



@pytest.mark.parametrize("damage", ["truncate", "delete", "config"])
def test_damaged_model_files_get_a_clear_message(tmp_path, monkeypatch, damage):
    import shutil

    root = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "gru", root / "gru")
    target = {"truncate": "model.safetensors", "delete": "model.safetensors", "config": "config.json"}[damage]
    f = root / "gru" / target
    if damage == "truncate":
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    elif damage == "delete":
        f.unlink()
    else:
        f.write_text("{ not json", encoding="utf-8")
    monkeypatch.setenv("GRU_EXPLORER_MODELS", str(root))
    at = run_app()
    msg = " ".join(e.value for e in at.error)
    assert target in msg and "git checkout" in msg and "python -m gru_core train" in msg
    assert not charts(at)
    shutil.copy(ROOT / "models" / "gru" / target, f)  # restored: the app works again
    at.run()
    no_exception(at)
    assert not at.error and charts(at)


def test_no_models_at_all(tmp_path, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_MODELS", str(tmp_path))
    at = run_app()
    assert any("No trained model" in e.value for e in at.error)


def explore(at, review: str):
    """Type ``review`` in the main box and press Explore (the box is in a form)."""
    at.text_area(key="review").input(review)
    next(b for b in at.button if b.label == "Explore").click().run()
    no_exception(at)


def test_edited_review_follows_the_main_review_until_edited():
    a, b, c = "The acting was good.", "A dull and boring plot.", "Brilliant ending, slow start."
    at = run_with("gru", review=a)
    at.session_state["compare_open"] = True
    at.run()
    assert at.text_area(key="edited").value == a
    explore(at, b)  # a new main review with the comparison open: the edited box starts from it
    assert at.text_area(key="edited").value == b
    assert {m.label: m.value for m in at.metric}["Edited P(positive)"] == \
        {m.label: m.value for m in at.metric}["Original P(positive)"]
    mine = "A dull but never boring plot."
    at.text_area(key="edited").input(mine).run()
    no_exception(at)
    assert at.text_area(key="edited").value == mine
    at.radio[0].set_value("mean").run()  # any other rerun keeps the edit
    assert at.text_area(key="edited").value == mine
    at.session_state["compare_open"] = False
    at.run()
    at.session_state["compare_open"] = True
    at.run()  # closing and reopening the comparison keeps it too
    assert at.text_area(key="edited").value == mine
    explore(at, c)  # the edit belonged to review b; a new main review starts the box afresh
    assert at.text_area(key="edited").value == c
