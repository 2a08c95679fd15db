"""AppTest for the Dynamics page: every shipped model, empty, hostile and very long reviews, a missing file."""
from __future__ import annotations

import json

import pyarrow as pa
import pytest

from gru_core.analysis.dynamics_report import FILE

from . import apphelpers
from .apphelpers import ROOT, charts, no_exception, open_page

models_root = apphelpers.models_root


def open_dynamics(model: str = "gru", review: str | None = None):
    at = open_page("pages/dynamics.py", model=model)
    if review is not None:
        at.text_area(key="dyn_review").input(review)
        at.button[0].click().run()  # the form's submit button applies the text
        no_exception(at)
    return at


def tables(at) -> list:
    """Every data table of every chart (a layered chart holds one per layer)."""
    return [pa.ipc.open_stream(d.data.data).read_all() for el in at.get("vega_lite_chart") for d in el.proto.datasets]


def words_drawn(at) -> list[str]:
    return [w for t in tables(at) if "word" in t.column_names and "p_positive" in t.column_names
            for w in t.column("word").to_pylist()]


def text_of(at) -> str:
    return "\n".join(m.value for m in (*at.markdown, *at.caption, *at.info, *at.warning))


@pytest.mark.parametrize("model", ["gru", "lstm", "rnn"])
def test_each_shipped_model_shows_every_section_from_its_file(model):
    at = open_dynamics(model)
    dyn = json.loads((ROOT / "models" / model / FILE).read_text())
    assert [s.value for s in at.subheader][:6] == [
        "1 · The state space", "2 · Fixed points: a line attractor", "3 · Linearisation: which mode keeps the verdict",
        "4 · Word kicks", "5 · Readout alignment", "6 · Modifiers"]
    assert len(charts(at)) >= 10
    body = text_of(at)
    var = dyn["pca"]["variance"]
    assert f"**{var[0]:.1%}**" in body and f"**{len(dyn['fixed_points']['q'])} fixed points**" in body
    assert f"r = {dyn['kick_bow_correlation']:.2f}" in body and f"**{dyn['readout']['null95']:.3f}**" in body
    assert f"**{dyn['bow']['accuracy']:.1%}**" in body
    # the default review's trajectory is drawn, one point per word (and the modifier phrases)
    assert "brilliant" in words_drawn(at) and "not" in words_drawn(at)


def test_empty_review_is_a_prompt_and_the_rest_of_the_page_stays():
    at = open_dynamics(review="   ")
    assert any("Type a review" in i.value for i in at.info)
    assert len(at.subheader) == 6 and len(charts(at)) >= 9


def test_hostile_html_review_is_shown_only_escaped():
    payload = "<script>alert(1)</script> <img src=x onerror=alert(2)> great"
    at = open_dynamics(review=payload)
    assert "<script>" not in text_of(at) and "onerror=" not in text_of(at)
    words = words_drawn(at)
    assert "script" in words and "great" in words  # read as words, never as markup


def test_a_5000_word_review_reads_the_last_maxlen_words():
    at = open_dynamics(review=" ".join(["good", "bad", "plot"] * 1667))
    assert any("reads only the last 500" in c.value for c in at.caption)
    assert any("the chart shows the last 60 words" in m.value for m in at.markdown)


def test_a_model_without_its_file_says_how_to_make_it(models_root):
    (models_root / "gru" / FILE).unlink()
    at = open_dynamics("gru")
    assert any("python -m gru_core dynamics --model" in w.value for w in at.warning)
    assert not at.subheader


def test_the_explorer_links_here():
    at = open_page("pages/explorer.py")
    assert any(el.proto.page == "dynamics" and "dynamics" in el.proto.label for el in at.get("page_link"))
