"""AppTest for the Unit atlas page: each shipped model's stored index, the unit shared with the
Gate Explorer through the URL, escaping of dataset text, and the messages when something is missing."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from gru_core import load_model
from gru_core.analysis.explain import heatmap_frame
from gru_core.analysis.units import INDEX_FILE, read_index
from gru_core.charts.gates import heatmap, picked_cell

from .apphelpers import ROOT, chart_titles, models_root, no_exception, run_app  # noqa: F401

SHIPPED = ["gru", "lstm", "rnn", "keras-seed"]
HOSTILE = '<script>alert("x")</script>'


def open_atlas(query: dict | None = None, **state):
    at = run_app(query=query, **state)
    at.switch_page("pages/units.py")
    at.run()
    no_exception(at)
    return at


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_index_matches_the_weights_and_is_small(name):
    folder = ROOT / "models" / name
    model = load_model(folder)
    index, why = read_index(folder, model.config["weights_sha256"])
    assert why is None
    assert (folder / INDEX_FILE).stat().st_size <= 5 * 1024 * 1024
    assert len(index["units"]) == model.module.rnn.hidden_size
    assert index["test_reviews"] == 25_000


@pytest.mark.parametrize("name", SHIPPED)
def test_atlas_shows_every_unit_and_the_picked_unit(name):
    at = open_atlas(model=name)
    index, _ = read_index(ROOT / "models" / name, load_model(ROOT / "models" / name).config["weights_sha256"])
    assert at.title[0].value == "Unit atlas"
    table = at.dataframe[0].value
    assert len(table) == len(index["units"])
    assert table["r(final h, label)"].tolist() == pytest.approx(
        [r["label_correlation"] for r in index["units"]], abs=1e-9)
    at.number_input(key="_unit_input").set_value(7).run()
    no_exception(at)
    assert "Unit 7" in [s.value for s in at.subheader]
    assert at.query_params["unit"] == "7"
    shown = markdown(at)
    for ctx in index["units"][7]["contexts"]["top"][:3]:
        assert ctx["review"] in shown.replace("\\", "")
    titles = chart_titles(at)
    assert "Expected response Δh, units × words, grouped" in titles
    # The same unit is the one the Gate Explorer's unit inspector shows.
    at.switch_page("pages/explorer.py")
    at.run()
    no_exception(at)
    assert at.number_input(key="_unit_input").value == 7
    assert any(c.value.startswith("Unit 7 has output-layer weight") for c in at.caption)


def test_unit_in_the_link_is_picked_on_both_pages():
    at = open_atlas(query={"unit": "12"}, model="gru")
    assert "Unit 12" in [s.value for s in at.subheader]
    at = run_app(query={"unit": "31"})
    assert at.number_input(key="_unit_input").value == 31
    at.number_input(key="_unit_input").set_value(40).run()
    at.switch_page("pages/units.py")
    at.run()
    no_exception(at)
    assert "Unit 40" in [s.value for s in at.subheader]


@pytest.mark.parametrize("bad", ["999", "-3", "abc"])
def test_a_bad_unit_in_the_link_falls_back(bad):
    at = open_atlas(query={"unit": bad}, model="gru")
    assert any(s.value.startswith("Unit ") for s in at.subheader)


def test_hostile_dataset_text_stays_escaped(models_root):  # noqa: F811
    path = models_root / "gru" / INDEX_FILE
    index = json.loads(path.read_text())
    ctx = index["units"][0]["contexts"]["top"][0]
    ctx["word"], ctx["before"], ctx["review"] = HOSTILE, ["<br", "/>", "**x**"], HOSTILE
    path.write_text(json.dumps(index))
    at = open_atlas(model="gru", unit=0)
    assert "Unit 0" in [s.value for s in at.subheader]
    hostile = [el.value for el in (*at.markdown, *at.caption) if "alert" in el.value]
    assert len(hostile) == 2  # the snippet and its caption (review id)
    for text in hostile:
        assert not re.search(r"(?<!\\)[<>]", text)  # every angle bracket escaped: shown as text, never markup
        assert "\\<script\\>" in text
    assert "\\*\\*x\\*\\*" in hostile[0]
    for el in at.markdown:
        assert not el.proto.allow_html


def test_missing_or_stale_index_gives_a_message(models_root):  # noqa: F811
    path = models_root / "gru" / INDEX_FILE
    index = json.loads(path.read_text())
    index["weights_sha256"] = "0" * 64
    path.write_text(json.dumps(index))
    at = open_atlas(model="gru")
    assert "other weights" in at.info[0].value and "python -m gru_core units" in at.info[0].value
    path.unlink()
    at = open_atlas(model="gru")
    assert "no unit index" in at.info[0].value


def test_open_in_explorer_needs_the_dataset(monkeypatch, tmp_path):
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(tmp_path / "missing.tar.gz"))
    at = open_atlas(model="gru")
    buttons = [b for b in at.button if b.label == "Open in the Gate Explorer"]
    assert buttons and all(b.disabled for b in buttons)
    assert any("needs the IMDB dataset" in c.value for c in at.caption)


def test_open_a_context_in_the_explorer(imdb_test):
    at = open_atlas(model="gru", unit=5)
    index, _ = read_index(ROOT / "models" / "gru", load_model(ROOT / "models" / "gru").config["weights_sha256"])
    ctx = index["units"][5]["contexts"]["top"][0]
    at.button(key="open_top_0").click().run()
    no_exception(at)
    assert at.session_state["review"] == imdb_test.texts[ctx["index"]]
    assert imdb_test.ids[ctx["index"]] == ctx["review"]
    assert at.metric  # the Explorer's verdict, with the true label
    assert any(m.label == "True label" for m in at.metric)


def test_heatmap_selection_reads_unit_and_word():
    model = load_model(ROOT / "models" / "gru")
    trace = model.trace("A slow start, then a brilliant ending.")
    spec = heatmap(heatmap_frame(model, trace, "update", "index"), "update", select=True).to_dict()
    params = [p for p in spec.get("params", []) if p["name"] == "cell"]
    assert params and params[0]["select"]["fields"] == ["unit", "step"]
    assert picked_cell({"selection": {"cell": [{"unit": 4, "step": 6}]}}) == (4, 6)
    assert picked_cell({"selection": {"cell": []}}) is None
    assert picked_cell(None) is None


def test_page_without_index_for_a_new_model(models_root):  # noqa: F811
    shutil.copytree(models_root / "gru", models_root / "mine")
    (models_root / "mine" / INDEX_FILE).unlink()
    at = open_atlas(model="mine")
    assert "python -m gru_core units --model" in at.info[0].value
