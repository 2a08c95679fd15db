"""AppTest for the Gate Explorer's state search panel (pages/state_search_panel.py): closed it computes nothing,
without the dataset it says so, with (made-up) test reviews it builds the index in the background and shows the
same matches as the index searched directly, and its controls at their ends."""
from __future__ import annotations

import re

import pytest

from gru_core import load_model
from gru_core.analysis.state_search import MAX_LENGTH, build_state_index, on_units
from gru_core.data import load_imdb

from . import apphelpers
from .apphelpers import ROOT, no_exception, run_app

made_up_imdb = apphelpers.made_up_imdb
REVIEW = "The first half was dull, but the ending was brilliant and moving."
TITLE = "State search: where else the network was in this state"


@pytest.fixture(autouse=True)
def empty_shelf():
    """No build left from another test (the shelf lives as long as the process)."""
    from pages.common import _state_shelf

    _state_shelf().clear()
    yield
    _state_shelf().clear()


def opened(review: str = REVIEW, model: str = "gru", **state):
    at = run_app(model=model, review=review, ss_open=True, **state)
    from pages.common import _state_shelf

    assert _state_shelf().wait(300)  # the background build, started by the first run
    at.run()
    no_exception(at)
    return at


def text(at) -> str:
    return "\n".join(x.value for x in [*at.markdown, *at.caption, *at.info, *at.warning, *at.error])


def snippets(at) -> list[str]:
    return [m.value for m in at.markdown if ":orange-background[" in m.value]


def test_closed_panel_computes_nothing(made_up_imdb):
    from pages.common import _state_shelf

    at = run_app(model="gru", review=REVIEW)
    assert any(e.label == TITLE for e in at.expander)
    assert not _state_shelf().running() and "best matches" not in text(at)


def test_without_the_dataset_the_panel_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(tmp_path / "missing.tar.gz"))
    at = run_app(model="gru", review=REVIEW, ss_open=True)
    assert "needs the dataset" in text(at) and "GRU_EXPLORER_IMDB" in text(at)


@pytest.mark.parametrize("model", ["gru", "lstm"])
def test_the_matches_are_the_index_searched_directly(made_up_imdb, model):
    at = opened(model=model, ss_threshold=0.05)
    m = load_model(ROOT / "models" / model)
    test = load_imdb("test")
    index = build_state_index(m, test)  # an independent build, the same seeded sample
    trace = m.trace(REVIEW)
    T = len(trace.tokens)
    units = on_units(trace.hidden, T - 3, T, 0.05)
    assert f"{len(units)} of {m.module.rnn.hidden_size} units" in text(at)
    result = index.search(units, 3, 0.05)
    shown = [re.search(r"review (test/(?:pos|neg)/\d+\\_\d+)", c.value).group(1).replace("\\", "")
             for c in at.caption if c.value.startswith("Jaccard ")]
    assert shown == [test.ids[x.test_index] for x in result.matches]
    assert len(snippets(at)) == len(result.matches) == len(index)  # every one of the 8 made-up reviews
    assert f"seeded random sample of {len(index):,} of the 8 test reviews" in text(at)
    assert "Words that most often follow a match" in text(at)


def test_lstmvis_ranking_and_units_edited_by_hand(made_up_imdb):
    at = opened(ss_threshold=0.05)
    at.radio(key="ss_measure").set_value("lstmvis").run()
    no_exception(at)
    assert [c for c in at.caption if c.value.startswith("score ")]
    [units] = [w for w in at.multiselect if w.label == "Pattern: units"]
    units.set_value([0, 99]).run()
    no_exception(at)
    assert all(" 2 matching" in c.value or " 1 matching" in c.value or " 0 matching" in c.value
               for c in at.caption if c.value.startswith("score "))
    [units] = [w for w in at.multiselect if w.label == "Pattern: units"]
    units.set_value([]).run()
    assert "No unit is in the pattern" in text(at)


def test_controls_at_their_ends_and_a_long_hostile_review(made_up_imdb):
    review = "<script>alert(1)</script> **bold** " + "the film was good but awful " * 200
    at = opened(review=review)

    def stretch():
        return next(s for s in at.select_slider if s.label == "Stretch: first and last word")

    last = len(stretch().options) - 1
    assert last == 499  # the 500 words the model reads
    stretch().set_range(0, last).run()
    no_exception(at)
    assert f"at most {MAX_LENGTH} words" in text(at)
    at.slider(key="ss_threshold").set_value(0.95).run()
    no_exception(at)
    assert "No unit is in the pattern" in text(at)
    stretch().set_range(last - 1, last).run()
    at.slider(key="ss_threshold").set_value(0.05).run()
    no_exception(at)
    for body in [*snippets(at), *[c.value for c in at.caption]]:
        assert "<script" not in body
    [first, *_] = [b for b in at.button if b.label == "Open in the Gate Explorer"]
    first.click().run()
    no_exception(at)
    assert at.session_state["review"] in load_imdb("test").texts
    assert any(m.label == "True label" for m in at.metric)


def test_a_one_word_review_has_no_stretch_slider(made_up_imdb):
    at = opened(review="Brilliant!", ss_threshold=0.05)
    assert not [s for s in at.select_slider if s.label.startswith("Stretch")]
    assert "(words 1–1)" in text(at)
