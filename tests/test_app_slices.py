"""AppTest for the "Where models fail" page (pages/slices.py): the stored files without the dataset, the messages
when one is missing or stale, computing one on made-up data, and with the real dataset a phrase of one's own and
the misread reviews opening in the Gate Explorer."""
from __future__ import annotations

import json
import re
from itertools import pairwise

import pytest

from gru_core import load_model
from gru_core.analysis.slices import SLICES_FILE, read_slices

from . import apphelpers
from .apphelpers import ROOT, charts, no_exception, run_app, shipped_models_only

SHIPPED = ["gru", "lstm", "rnn", "keras-seed"]  # every shipped model has its slices.json
made_up_imdb = apphelpers.made_up_imdb


def open_slices(**state):
    at = run_app(model="gru")
    at.switch_page("pages/slices.py")
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    no_exception(at)
    return at


def text(at) -> str:
    return "\n".join(x.value for x in [*at.markdown, *at.caption, *at.info, *at.warning, *at.error])


def stored(name: str) -> dict:
    return json.loads((ROOT / "models" / name / SLICES_FILE).read_text())


@pytest.fixture
def no_data(monkeypatch, tmp_path):
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(tmp_path / "missing.tar.gz"))


def test_without_the_dataset_the_page_shows_every_stored_number(no_data):
    at = open_slices()
    assert at.title[0].value == "Where models fail"
    files = {n: stored(n) for n in SHIPPED}
    # The chart: one dot per model and slice, at the stored accuracy with the stored interval.
    [(_, chart)] = [c for c in charts(at) if "yOffset" in json.dumps(c[0])]
    table = chart.to_pandas()
    for name in SHIPPED:
        mine = table[table["model"] == name].set_index("slice")
        for slice_name, row in files[name]["slices"].items():
            assert mine.loc[slice_name, "accuracy"] == pytest.approx(row["accuracy"])
            assert mine.loc[slice_name, "ci_low"] == pytest.approx(row["ci_low"])
            assert mine.loc[slice_name, "n"] == row["n"]
    # The table beside it.
    acc = at.dataframe[0].value.set_index("slice")
    assert acc.loc["has a negation", "lstm accuracy"] == pytest.approx(files["lstm"]["slices"]["negation"]["accuracy"])
    # Model against model: on the same reviews the difference is the difference of the two accuracies.
    pairs = at.dataframe[1].value.set_index("slice")
    for slice_name, label in (("negation", "has a negation"), ("rating_4", "4★"), ("rating_7", "7★")):
        want = files["gru"]["slices"][slice_name]["accuracy"] - files["lstm"]["slices"][slice_name]["accuracy"]
        assert pairs.loc[label, "Δ gru − lstm"] == pytest.approx(want, abs=1e-12)
        assert 0 < pairs.loc[label, "p (gru vs lstm)"] <= 1
    # Calibration: each model's expected calibration error.
    ece = {m.label: m.value for m in at.metric}
    for name in SHIPPED:
        assert ece[f"ECE {name}"] == f"{files[name]['ece']:.4f}"
    # The misread reviews: counted, but listed only with the dataset.
    neg = files["gru"]["slices"]["negation"]
    assert f"**gru** misreads **{neg['n'] - neg['correct']:,}** of the {neg['n']:,} reviews" in text(at)
    assert "needs the IMDB dataset" in text(at) and not [b for b in at.button if b.label.startswith("Open")]
    assert at.text_input(key="sl_phrase").disabled


def test_picking_a_slice_and_a_model_counts_its_misread_reviews(no_data):
    at = open_slices(sl_slice="rating_7", sl_model="rnn")
    row = stored("rnn")["slices"]["rating_7"]
    assert f"**rnn** misreads **{row['n'] - row['correct']:,}** of the {row['n']:,} reviews in “7★”" in text(at)
    at.number_input(key="sl_limit").set_value(100).run()
    no_exception(at)


def test_a_missing_or_stale_file_says_which_command_computes_it(no_data, tmp_path):
    with shipped_models_only(tmp_path / "models") as root:
        (root / "lstm" / SLICES_FILE).unlink()
        data = json.loads((root / "rnn" / SLICES_FILE).read_text())
        data["weights_sha256"] = "0" * 64
        (root / "rnn" / SLICES_FILE).write_text(json.dumps(data))
        at = open_slices()
        infos = " ".join(i.value for i in at.info)
        assert "no slice file" in infos and f"python -m gru_core slices --model {root / 'lstm'}" in infos
        assert "other weights" in infos
        assert not [b for b in at.button if b.label.startswith("Compute it now")]  # no dataset to compute with
        assert at.dataframe and "Δ gru − lstm" not in at.dataframe[0].value.columns  # gru and keras-seed are left
        (root / "gru" / SLICES_FILE).write_text("{not json")
        (root / "keras-seed" / SLICES_FILE).unlink()
        at.run()
        no_exception(at)
        assert "Pick at least one model with a stored slice file" in text(at)


def test_compute_it_now_with_the_dataset(made_up_imdb, tmp_path):
    with shipped_models_only(tmp_path / "models") as root:
        (root / "rnn" / SLICES_FILE).unlink()
        at = open_slices()
        [button] = [b for b in at.button if b.label == "Compute it now for rnn"]
        button.click().run()
        no_exception(at)
        data, why = read_slices(root / "rnn", load_model(root / "rnn").config["weights_sha256"])
        assert why is None and len(data) == 8  # the made-up test set's reviews
        # Its reviews are not the other files' 25,000: it is not paired with them, and they cannot be listed.
        assert "not paired with it" in text(at) and "holds other reviews" in text(at)


@pytest.fixture
def real_data(imdb_path, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(imdb_path))


def test_a_phrase_of_ones_own_and_its_misread_reviews(real_data, imdb_test):
    at = open_slices()
    at.text_input(key="sl_phrase").input("Not, BAD!").run()
    no_exception(at)
    # Counted independently: consecutive words "not", "bad" in each review's tokens.
    hits = [i for i, t in enumerate(imdb_test.tokens) if any(a == "not" and b == "bad" for a, b in pairwise(t))]
    assert f"{len(hits):,} test reviews contain “not bad”." in text(at)
    table = at.dataframe[0].value.set_index("slice")
    files = {n: read_slices(ROOT / "models" / n, load_model(ROOT / "models" / n).config["weights_sha256"])[0]
             for n in SHIPPED}
    right = sum(bool(files["gru"].correct[i]) for i in hits)
    assert table.loc["contains “not bad”", "gru accuracy"] == pytest.approx(right / len(hits))
    at.selectbox(key="sl_slice").select("phrase").run()
    at.selectbox(key="sl_model").select("lstm").run()
    no_exception(at)
    wrong = [i for i in hits if not files["lstm"].correct[i]]
    assert f"**lstm** misreads **{len(wrong):,}** of the {len(hits):,} reviews in “contains “not bad””" in text(at)
    listed = [c.value for c in at.caption if c.value.startswith("true label")]
    assert len(listed) == min(10, len(wrong))
    shown = [m.value for m in at.markdown if ":orange-background[" in m.value]
    assert len(shown) == len(listed) and all(re.search(r"background\[not\W+bad\]", t, re.IGNORECASE)
                                          for t in shown)
    ids = [re.search(r"review (test/(?:pos|neg)/\d+\\_\d+)", c).group(1).replace("\\", "") for c in listed]
    assert all(imdb_test.ids.index(i) in wrong for i in ids)
    # Most confidently wrong first.
    p = [abs(files["lstm"].columns["p_positive"][imdb_test.ids.index(i)] - 0.5) for i in ids]
    assert p == sorted(p, reverse=True)
    [first, *_] = [b for b in at.button if b.label == "Open in the Gate Explorer"]
    first.click().run()
    no_exception(at)
    i = imdb_test.ids.index(ids[0])
    assert at.session_state["review"] == imdb_test.texts[i]
    assert any(m.label == "True label" for m in at.metric)  # on the Gate Explorer, with the review's truth


def test_a_phrase_nobody_wrote(real_data):
    at = open_slices()
    at.text_input(key="sl_phrase").input("zzqx qqzx").run()
    no_exception(at)
    assert "No test review contains “zzqx qqzx”." in text(at)
    at.text_input(key="sl_phrase").input("?! …").run()
    assert "holds no words" in text(at)
