"""AppTest for the GRU vs LSTM comparison page."""
from __future__ import annotations

import json
import shutil

import numpy as np
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


MEMORY_ROW = "peak inference memory, batch 256 × 200 words"


def shipped_stats(name: str) -> dict:
    return json.loads((ROOT / "models" / name / "stats.json").read_text())


def test_every_row_says_where_it_comes_from_and_memory_is_shown_without_a_click():
    t = table(open_compare())
    assert "source" in t.columns and (t["source"] != "").all()
    hw = json.loads((ROOT / "models" / "gru" / "metrics.json").read_text())["hardware"]
    assert t.loc["IMDB test accuracy", "source"].startswith("metrics.json (the training run")
    # The seed's recipe was trained by Keras (another run on another setup): each model's own row says which.
    assert "differs by model" in t.loc["IMDB test accuracy", "source"]
    assert hw in t.loc["training hardware", "gru"] and "Keras 3.15.1" in t.loc["training hardware", "keras-seed"]
    machines = {shipped_stats(n)["inference_memory"]["hardware"] for n in ("gru", "lstm", "rnn", "keras-seed")}
    stored_on = machines.pop() if len(machines) == 1 else "differs by model"
    assert t.loc[MEMORY_ROW, "source"] == f"stats.json (the stats command; {stored_on})"
    for name in ("gru", "lstm", "rnn"):
        stored = shipped_stats(name)["inference_memory"]["peak_bytes"]
        assert t.loc[MEMORY_ROW, name] == f"{stored / 2 ** 20:.1f} MiB"
        size = (ROOT / "models" / name / "model.safetensors").stat().st_size
        assert t.loc["weights on disk (model.safetensors)", name] == f"{size / 2 ** 20:.2f} MiB"


def test_performs_about_as_well_is_a_paired_test_on_the_shipped_predictions():
    g, l = shipped_stats("gru"), shipped_stats("lstm")
    y = np.asarray(g["test_labels"]).astype(bool)
    rg, rl = (np.asarray(g["test_proba"]) > 0.5) == y, (np.asarray(l["test_proba"]) > 0.5) == y
    b, c = int(np.sum(rg & ~rl)), int(np.sum(~rg & rl))
    row = open_compare().table[0].value.loc["Performs about as well"]
    assert f"only GRU right on {b:,}, only LSTM right on {c:,}" in row["measured"]
    assert "McNemar exact p = " in row["measured"] and "95% CI [" in row["measured"]
    assert f"{(b - c) / len(y) * 100:+.2f} points" in row["measured"]
    claims = open_compare().table[0].value
    assert claims.loc["Uses less memory", "verdict"] != "not measured yet"  # stored, no click needed


def test_metrics_json_changes_are_picked_up(tmp_path, monkeypatch):
    root = tmp_path / "models"
    for name in ("gru", "lstm"):
        shutil.copytree(ROOT / "models" / name, root / name)
    monkeypatch.setenv("GRU_EXPLORER_MODELS", str(root))
    at = open_compare()
    assert table(at).loc["IMDB test accuracy", "gru"] == f"{json.loads((root / 'gru' / 'metrics.json').read_text())['imdb_test']['accuracy']:.2%}"
    m = json.loads((root / "gru" / "metrics.json").read_text())
    m["imdb_test"]["accuracy"] = 0.12345
    m["history"][0]["seconds"] += 600.0  # one epoch 10 minutes longer: the mean moves by 100 s
    (root / "gru" / "metrics.json").write_text(json.dumps(m))
    at.run()
    no_exception(at)
    t = table(at)
    assert t.loc["IMDB test accuracy", "gru"] == "12.35%"
    secs = [h["seconds"] for h in m["history"] if h.get("complete", True)]
    assert t.loc["training seconds per epoch", "gru"] == f"{np.mean(secs):.1f} s"


def test_memory_reach_counts_reviews_and_says_what_the_curves_show():
    at = open_compare()
    reach = [(spec, data) for spec, data in charts(at) if "reviews" in (data.column_names if data else [])]
    assert {spec["title"].split(":")[0] for spec, _ in reach} == {"Raw", "Scale-free"}
    for _, data in reach:
        df = data.to_pandas()
        averages = df[df["model"].str.endswith("(test average)")]
        assert len(averages) and averages["reviews"].min() >= 50  # the stated cut-off
    counts = np.asarray(shipped_stats("gru")["gradient_by_distance"]["count"])
    gru_avg = reach[0][1].to_pandas().query("model == 'gru (test average)'")
    assert gru_avg["distance"].max() == int(np.sum(counts >= 50)) - 1
    said = " ".join(m.value for m in at.markdown)
    assert "mean |logit| on the test reviews is" in said and "Normalised to the last word" in said


def test_claims_are_checked_and_live_measurements_fill_the_table():
    at = open_compare()
    claims = at.table[0].value
    assert "Trains faster" in claims.index and set(claims["verdict"]) <= {
        "holds", "does not hold here", "depends", "not measured yet"}
    at.button[0].click().run(timeout=600)  # three models, each with a fresh memory-probe process
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
        assert list(table(at).columns) == [*subset, "source"]
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
