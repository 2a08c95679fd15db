"""AppTest for the GRU vs LSTM comparison page."""
from __future__ import annotations

import json
import shutil

import pytest

from .apphelpers import ROOT, chart_titles, charts, no_exception, open_page


def open_compare(review: str | None = None):
    return open_page("pages/compare.py", **({"review": review} if review is not None else {}))


def table(at):
    return at.dataframe[0].value


def test_table_holds_the_numbers_from_metrics_json():
    at = open_compare()
    t = table(at)
    assert list(t.columns)[:3] == ["gru", "lstm", "rnn"]
    for name in ("gru", "lstm", "rnn"):
        m = json.loads((ROOT / "models" / name / "metrics.json").read_text())
        assert t.loc["parameters: total", name] == f"{m['parameters']['total']:,}"
        assert t.loc["IMDB test accuracy", name] == f"{m['imdb_test']['accuracy']:.2%}"
        assert t.loc["Rotten Tomatoes accuracy (out of domain)", name] == f"{m['rt_polarity']['accuracy']:.2%}"
    assert t.loc["parameters: total", "gru"] == "560,701"
    assert t.loc["latency, one 100-word review", "gru"] == "not measured"


def test_claims_are_checked_and_live_measurements_fill_the_table():
    at = open_compare()
    claims = at.table[0].value
    assert "Trains faster" in claims.index and set(claims["verdict"]) <= {
        "holds", "does not hold here", "depends", "not measured yet"}
    at.button[0].click().run()
    no_exception(at)
    t = table(at)
    assert t.loc["latency, one 100-word review", "gru"].endswith("ms")
    assert t.loc["throughput, batch 256 × 200 words", "lstm"].endswith("reviews/s")
    claims = at.table[0].value
    assert claims.loc["Uses less memory", "verdict"] != "not measured yet"


def test_charts_for_every_section():
    at = open_compare()
    specs = [s for s, _ in charts(at)]
    assert len(specs) >= 6  # curves, confusion, trajectories, heatmaps, saturation, memory reach
    subheaders = [s.value for s in at.subheader]
    assert "Gate saturation" in subheaders and any("Memory reach" in s for s in subheaders)
    assert {"update gate z", "forget gate f"} <= set(chart_titles(at))


@pytest.mark.parametrize("subset", [["gru"], ["lstm", "rnn"], ["gru", "lstm"], []])
def test_each_model_set(subset):
    at = open_compare()
    at.multiselect[0].set_value(subset).run()
    no_exception(at)
    if subset:
        assert list(table(at).columns) == subset
    else:
        assert any("Pick at least one" in i.value for i in at.info)


def test_empty_review_is_a_prompt():
    at = open_compare()
    at.text_area(key="compare_review").input("   ").run()
    no_exception(at)
    assert any("Type a review" in i.value for i in at.info)


def test_without_the_dataset_the_page_shows_what_it_can(tmp_path, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(tmp_path / "missing.tar.gz"))
    at = open_compare()
    assert any("GRU_EXPLORER_IMDB" in i.value for i in at.info)
    assert at.dataframe  # the table and agreement still come from the shipped files


def test_disagreements_browser_opens_a_review_in_the_explorer(imdb_path):
    at = open_compare()
    browser = next(d for d in at.dataframe if "true label" in d.value.columns)
    assert len(browser.value) > 100
    row = browser.value.iloc[3]
    at.session_state["disagree"] = {"selection": {"rows": [3], "columns": [], "cells": []}}
    at.run()
    next(b for b in at.button if b.label.startswith("Open the selected review")).click().run()
    no_exception(at)
    review = at.session_state["review"]
    assert review[:200] == row["review"] and "How the verdict forms" in [s.value for s in at.subheader]
    assert {m.label: m.value for m in at.metric}["True label"] == f"{row['true label']} ({row['stars']}★)"
    # once the review is edited, its true label no longer applies and is not shown
    at.text_area(key="review").input(review + " Edited.")
    next(b for b in at.button if b.label == "Explore").click().run()
    no_exception(at)
    assert "True label" not in {m.label for m in at.metric}


def test_every_model_shows_each_of_its_gates():
    titles = chart_titles(open_compare())
    for title in ("update gate z", "reset gate r", "input gate i", "forget gate f", "output gate o", "hidden state h"):
        assert title in titles


def test_model_without_stats_or_history(tmp_path, monkeypatch):
    root = tmp_path / "models"
    for name in ("gru", "lstm"):
        shutil.copytree(ROOT / "models" / name, root / name)
    (root / "lstm" / "stats.json").unlink()
    metrics = json.loads((root / "gru" / "metrics.json").read_text())
    metrics.pop("history")
    (root / "gru" / "metrics.json").write_text(json.dumps(metrics))
    monkeypatch.setenv("GRU_EXPLORER_MODELS", str(root))
    at = open_compare()
    claims = at.table[0].value
    assert claims.loc["Trains faster", "verdict"] == "not measured yet"
