"""Slices of the test set (gru_core/analysis/slices.py): the rules on hand-written reviews, Wilson intervals and the
expected calibration error against textbook values, planted predictions with a known accuracy per slice, the
paired test per slice, the stored files against a recompute, and the ``slices`` command."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.calibration import calibration_curve

from gru_core import load_model
from gru_core.analysis.slices import (
    CLI_SLICES,
    SLICES_FILE,
    SliceData,
    accuracy_with_interval,
    calibration_bins,
    cli_summary,
    compute_slices,
    containing,
    expected_calibration_error,
    has_contrast,
    has_negation,
    joined_words,
    misread,
    pairwise_rows,
    phrase_span,
    phrase_words,
    read_slices,
    slice_masks,
    slice_table,
    wilson_interval,
    write_slices,
)
from gru_core.cli import main
from gru_core.data import Split
from gru_core.predictor import SentimentModel
from gru_core.text import tokenize

from .apphelpers import ROOT
from .tiny import tiny_model

SHIPPED = ["gru", "lstm", "rnn", "keras-seed"]  # every shipped model has its slices.json


# --- The rules, on hand-written reviews -------------------------------------------------------------------------

@pytest.mark.parametrize("review,negated", [
    ("Not bad at all.", True),
    ("I didn't like it", True),
    ("It wasn’t boring (curly apostrophe)", True),
    ("You cannot miss it", True),
    ("None of the actors could act", True),
    ("Nothing happens", True),
    ("Neither the plot nor the acting", True),
    ("I will never watch it again", True),
    ("No, just no.", True),
    ("I can't", True),
    ("A note on Notting Hill: nobody knows the knot of noon", False),  # words that only begin like one
    ("Nowhere near as good; notably dull", False),
    ("A wonderful film", False),
    ("", False),
])
def test_negation_rule(review, negated):
    assert has_negation(tokenize(review)) is negated


@pytest.mark.parametrize("review,contrast", [
    ("I expected to hate this film, but I loved it", True),
    ("However, the ending drags", True),
    ("Although it is long, it works", True),
    ("Good, though slow", True),
    ("Yet another sequel", True),
    ("BUT WHY", True),
    ("Butter, a yeti and some thoughtful butlers", False),  # but-, yet-, though- inside other words
    ("Brilliant from start to finish", False),
])
def test_contrast_rule(review, contrast):
    assert has_contrast(tokenize(review)) is contrast


# --- Wilson and ECE against textbook values ------------------------------------------------------------------------

@pytest.mark.parametrize("k,n,low,high", [  # Newcombe (1998), Statistics in Medicine 17:857, Table II, method 3
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_textbook_values(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert (round(lo, 4), round(hi, 4)) == (low, high)


@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (7, 10), (500, 1000), (2274, 22116), (25000, 25000)])
def test_wilson_interval_matches_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_refuses_nonsense_and_empty_slices_have_no_accuracy():
    for k, n in [(1, 0), (-1, 5), (6, 5)]:
        with pytest.raises(ValueError):
            wilson_interval(k, n)
    assert accuracy_with_interval(np.zeros(0, bool)) == {"n": 0, "correct": 0, "accuracy": None, "ci_low": None,
                                                          "ci_high": None}


def test_ece_by_hand():
    # Bins [0, .1): 0.05 (label 0); [.1, .2): 0.15, 0.15 (labels 0, 1); [.8, .9): 0.85 (1); [.9, 1]: 0.95, 0.95 (1, 0).
    # |share − mean p| per bin: 0.05, 0.35, 0.15, 0.45; ECE = (1·0.05 + 2·0.35 + 1·0.15 + 2·0.45) / 6 = 0.3.
    p = np.array([0.05, 0.15, 0.15, 0.85, 0.95, 0.95])
    y = np.array([0, 0, 1, 1, 1, 0])
    bins = calibration_bins(p, y)
    assert [b["n"] for b in bins] == [1, 2, 0, 0, 0, 0, 0, 0, 1, 2]
    assert bins[1]["share_positive"] == 0.5 and bins[1]["mean_p"] == pytest.approx(0.15)
    assert bins[2]["mean_p"] is None and bins[2]["share_positive"] is None
    assert expected_calibration_error(bins) == pytest.approx(0.3)
    # Perfect calibration: a bin of P = 0.25 with one positive in four, and one of P = 0.75 with three.
    p2 = np.array([0.25] * 4 + [0.75] * 4)
    y2 = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert expected_calibration_error(calibration_bins(p2, y2)) == pytest.approx(0.0)


def test_bin_edges_and_the_reliability_diagram_match_scikit_learn():
    assert [b["n"] for b in calibration_bins(np.array([0.0, 0.1, 0.5, 0.9, 1.0]), np.zeros(5))] == \
        [1, 1, 0, 0, 0, 1, 0, 0, 0, 2]  # an inner edge goes to the bin above; 1.0 to the last bin
    rng = np.random.default_rng(0)
    p = rng.random(5000)
    y = rng.random(5000) < p ** 1.5  # miscalibrated on purpose
    bins = [b for b in calibration_bins(p, y) if b["n"]]
    share, mean = calibration_curve(y, p, n_bins=10, strategy="uniform")
    assert [b["share_positive"] for b in bins] == pytest.approx(share.tolist())
    assert [b["mean_p"] for b in bins] == pytest.approx(mean.tolist())
    with pytest.raises(ValueError):
        calibration_bins(np.array([1.2]), np.array([1]))


# --- Planted predictions with a known accuracy per slice ----------------------------------------------------------

class PlantedModel(SentimentModel):
    """The tiny model's encoding and vocabulary, with P(positive) planted per review text."""

    def __init__(self, proba: dict[str, float], maxlen: int = 8):
        tiny = tiny_model("gru", maxlen=maxlen)
        super().__init__(tiny.module, tiny.vocab, {"maxlen": maxlen})
        self.planted = proba

    def predict_proba(self, texts: list[str], batch_size: int = 256, workers: int = 1) -> np.ndarray:
        return np.array([self.planted[t] for t in texts])


# The tiny vocabulary: good bad movie great awful the was plot acting fun. maxlen 8.
# review text                                   label stars  P     words read  truncated  unknown  neg  contrast
REVIEWS = [
    ("the movie was not good",                     0,  2,  0.20,  5,  False,  1 / 5,  True,  False),  # right
    ("the movie was good but the plot was awful",  0,  4,  0.70,  8,  True,   1 / 8,  False, True),   # wrong
    ("great acting great fun",                     1, 10,  0.90,  4,  False,  0.0,    False, False),  # right
    ("I didn't like the plot",                     1,  7,  0.40,  5,  False,  3 / 5,  True,  False),  # wrong
    ("good movie however the acting was bad",      1,  8,  0.60,  7,  False,  1 / 7,  False, True),   # right
    ("awful",                                      0,  1,  0.10,  1,  False,  0.0,    False, False),  # right
    ("no plot no acting no fun yet a good movie",  0,  3,  0.55,  8,  True,   4 / 8,  True,  True),   # wrong
    ("was it good it was great",                   1,  9,  0.95,  6,  False,  2 / 6,  False, False),  # right
]


def planted_split() -> Split:
    texts = [r[0] for r in REVIEWS]
    return Split(texts, np.array([r[1] for r in REVIEWS]), np.array([r[2] for r in REVIEWS]),
                 [f"test/{'pos' if r[1] else 'neg'}/{i}_{r[2]}" for i, r in enumerate(REVIEWS)],
                 [tokenize(t) for t in texts])


@pytest.fixture(scope="module")
def planted() -> SliceData:
    return compute_slices(PlantedModel({r[0]: r[3] for r in REVIEWS}), planted_split())


def test_planted_properties_are_read_as_the_model_reads(planted):
    c = planted.columns
    assert c["words_read"].tolist() == [r[4] for r in REVIEWS]
    assert c["truncated"].tolist() == [r[5] for r in REVIEWS]
    assert c["unknown_share"] == pytest.approx([r[6] for r in REVIEWS], abs=1e-6)
    assert c["negation"].tolist() == [r[7] for r in REVIEWS]
    assert c["contrast"].tolist() == [r[8] for r in REVIEWS]
    assert planted.predictions_from == "computed"  # no stats.json for a model without a folder


def test_unknown_words_are_the_models_own_unknown_id():
    """A model with Keras's conventions (start mark 1, unknown 2, words from 3) counts its own unknown id."""
    from gru_core.text import Vocab

    from .tiny import WORDS

    model = PlantedModel({r[0]: r[3] for r in REVIEWS})
    model.vocab = Vocab.keras_imdb({w: rank + 1 for rank, w in enumerate(WORDS)}, num_words=len(WORDS) + 4)
    assert model.vocab.unk_id == 2
    c = compute_slices(model, planted_split()).columns
    assert c["unknown_share"] == pytest.approx([r[6] for r in REVIEWS], abs=1e-6)


def test_planted_accuracy_per_slice(planted):
    table = slice_table(planted)
    # Right: reviews 0, 2, 4, 5, 7; wrong: 1, 3, 6.
    expect = {"all": (8, 5), "negation": (3, 1), "no_negation": (5, 4), "contrast": (3, 1), "no_contrast": (5, 4),
              "truncated": (2, 0), "not_truncated": (6, 5), "rating_2": (1, 1), "rating_4": (1, 0),
              "rating_7": (1, 0), "rating_10": (1, 1), "unknown_0_5": (2, 2), "unknown_20_plus": (4, 2),
              "unknown_10_15": (2, 1)}
    for name, (n, k) in expect.items():
        assert (table[name]["n"], table[name]["correct"]) == (n, k), name
        assert table[name]["accuracy"] == pytest.approx(k / n)
        assert (table[name]["ci_low"], table[name]["ci_high"]) == pytest.approx(wilson_interval(k, n))
    # Words read 1 4 5 5 6 7 8 8: quartile cut points 4.75, 5.5, 7.25 (linear interpolation).
    assert planted.length_cuts == pytest.approx((4.75, 5.5, 7.25))
    assert [table[f"length_q{q}"]["n"] for q in range(1, 5)] == [2, 2, 2, 2]
    assert table["length_q1"]["label"] == "words read ≤ 4" and table["length_q4"]["label"] == "words read ≥ 8"
    assert sum(table[f"rating_{r}"]["n"] for r in (1, 2, 3, 4, 7, 8, 9, 10)) == 8


def test_misread_lists_the_most_confidently_wrong_first(planted):
    assert misread(planted, np.ones(8, bool)).tolist() == [1, 3, 6]  # |P − 0.5| = 0.20, 0.10, 0.05
    assert misread(planted, slice_masks(planted)["contrast"][2]).tolist() == [1, 6]


def test_pairwise_per_slice_by_hand(planted):
    other = SliceData({**planted.columns, "pred": planted.columns["label"].copy()}, planted.length_cuts,
                      planted.test_ids_sha256, planted.maxlen)  # always right
    rows = {r["slice"]: r for r in pairwise_rows({"a": planted, "b": other})}
    neg = rows["negation"]  # 3 reviews: a gets 1 right, b all 3: b = 0 only-a-right, c = 2 only-b-right
    assert (neg["n"], neg["only_a_right"], neg["only_b_right"]) == (3, 0, 2)
    assert neg["difference"] == pytest.approx(-2 / 3)
    assert neg["p_value"] == pytest.approx(0.5)  # 2·P(X ≤ 0), X ~ Bin(2, ½) = 2·¼
    assert rows["all"]["p_value"] == pytest.approx(0.25)  # 3 disagreements, all for b: 2·⅛
    assert rows["rating_10"]["p_value"] == 1.0  # no disagreement


def test_pairwise_textbook_mcnemar():
    n = 40
    label = np.ones(n, bool)
    a = np.zeros(n, bool)
    a[:1] = True  # a right on review 0 only
    b = np.zeros(n, bool)
    b[1:10] = True  # b right on reviews 1–9: b = 1, c = 9, exact two-sided p = 2·11/1024
    cols = {"words_read": np.full(n, 10), "truncated": np.zeros(n, bool), "unknown_share": np.zeros(n),
            "negation": np.ones(n, bool), "contrast": np.zeros(n, bool), "rating": np.full(n, 8), "label": label,
            "p_positive": np.full(n, 0.5)}
    da = SliceData({**cols, "pred": a}, (10, 10, 10), "x", 500)
    db = SliceData({**cols, "pred": b}, (10, 10, 10), "x", 500)
    row = next(r for r in pairwise_rows({"a": da, "b": db}) if r["slice"] == "negation")
    assert row["p_value"] == pytest.approx(0.021484375)
    assert row["difference"] == pytest.approx(-8 / 40)
    assert not pairwise_rows({"a": da, "b": SliceData({**cols, "pred": b}, (10, 10, 10), "other reviews", 500)})


def test_phrase_slice_is_whole_words_in_order():
    tokens = [tokenize(t) for t in ("It was not bad at all.", "Not, bad!", "not badly done", "bad, not good",
                                    "NOT BAD", "nothing bad")]
    joined = joined_words(tokens)
    assert containing(joined, phrase_words("not bad")).tolist() == [True, True, False, False, True, False]
    assert containing(joined, phrase_words("  BAD ")).tolist() == [True, True, False, True, True, True]
    assert phrase_words("<script>…!!</script>") == ["script", "script"]
    assert phrase_words("!!! ...") == []
    text = "Not badly done. It was NOT, bad… not bad"
    assert text[slice(*phrase_span(text, ["not", "bad"]))] == "NOT, bad"
    assert phrase_span(text, ["bad", "not", "bad"]) == (text.index("bad…"), len(text))
    assert phrase_span(text, ["good"]) is None
    with pytest.raises(ValueError):
        containing(joined, [])


# --- Storage ---------------------------------------------------------------------------------------------------

def test_roundtrip_and_hostile_files(planted, tmp_path):
    planted.weights_sha256 = "a" * 64
    write_slices(tmp_path, planted)
    back, why = read_slices(tmp_path, "a" * 64)
    assert why is None
    for name, v in planted.columns.items():
        assert back.columns[name].tolist() == pytest.approx(v.tolist()), name
    assert slice_table(back)["negation"]["accuracy"] == slice_table(planted)["negation"]["accuracy"]
    assert read_slices(tmp_path, "b" * 64)[1].endswith("other weights than this model's")
    path = tmp_path / SLICES_FILE
    good = json.loads(path.read_text())
    bad_files = {
        "not json": "{",
        "a list": "[]",
        "no version": json.dumps({**good, "version": 99}),
        "short column": json.dumps({**good, "reviews": {**good["reviews"], "label": [1]}}),
        "strings": json.dumps({**good, "reviews": {**good["reviews"], "rating": ["<script>"] * 8}}),
        "NaN": json.dumps({**good, "reviews": {**good["reviews"], "p_positive": [None] * 8}}),
        "bool out of range": json.dumps({**good, "reviews": {**good["reviews"], "pred": [2] * 8}}),
        "P above 1": json.dumps({**good, "reviews": {**good["reviews"], "p_positive": [1.5] * 8}}),
        "nested": json.dumps({**good, "reviews": {**good["reviews"], "label": [[1]] * 8}}),
        "cuts": json.dumps({**good, "length_cuts": [3, 2, 1]}),
        "deep": "[" * 100_000 + "]" * 100_000,
    }
    for what, text in bad_files.items():
        path.write_text(text)
        data, why = read_slices(tmp_path, "a" * 64)
        assert data is None and why, what
    path.unlink()
    assert "no slice file" in read_slices(tmp_path, "a" * 64)[1]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_files_belong_to_the_weights_and_agree_with_their_summary(name):
    folder = ROOT / "models" / name
    model = load_model(folder)
    data, why = read_slices(folder, model.config["weights_sha256"])
    assert why is None and len(data) == 25_000
    stored = json.loads((folder / SLICES_FILE).read_text())
    for slice_name, row in slice_table(data).items():
        assert {k: v for k, v in row.items() if k != "mask"} == stored["slices"][slice_name]
    assert cli_summary(data)["ece"] == stored["ece"]
    # The same predictions as the model's stats.json, and its accuracy in metrics.json.
    stats = json.loads((folder / "stats.json").read_text())
    assert stats["test_ids_sha256"] == data.test_ids_sha256
    assert data.columns["label"].tolist() == [bool(x) for x in stats["test_labels"]]
    assert data.columns["pred"].tolist() == [p > 0.5 for p in stats["test_proba"]]
    assert stored["accuracy"] == pytest.approx(model.metrics["imdb_test"]["accuracy"], abs=1e-9)
    assert (folder / SLICES_FILE).stat().st_size < 1.5 * 2**20


def test_the_stored_file_against_a_recompute(imdb_test):
    folder = ROOT / "models" / "gru"
    model = load_model(folder)
    stored, _ = read_slices(folder, model.config["weights_sha256"])
    again = compute_slices(model, imdb_test)
    for name in stored.columns:
        assert again.columns[name].tolist() == stored.columns[name].tolist(), name
    assert again.length_cuts == stored.length_cuts and again.test_ids_sha256 == stored.test_ids_sha256
    # The reused stats.json predictions are the model's own: predict a sample afresh.
    pick = np.random.default_rng(1).choice(len(imdb_test), 300, replace=False)
    fresh = model.predict_proba([imdb_test.texts[i] for i in pick])
    assert stored.columns["p_positive"][pick] == pytest.approx(fresh, abs=1e-6)
    assert stored.columns["pred"][pick].tolist() == (fresh > 0.5).tolist()
    # Negation and contrast by a plain scan of the words, independent of the module's helpers.
    neg = [any(w in {"not", "no", "never", "nothing", "nor", "none", "cannot"} or w[-3:] == "n't" for w in t)
           for t in imdb_test.tokens]
    assert stored.columns["negation"].tolist() == neg


# --- The command ---------------------------------------------------------------------------------------------------

def test_cli_json_prints_exactly_the_listed_keys(capsys):
    assert main(["slices", "--model", str(ROOT / "models" / "gru"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == [*CLI_SLICES, "ece"]
    assert set(CLI_SLICES) == {"negation", "no_negation", "contrast", "no_contrast", "truncated",
                               *(f"rating_{r}" for r in (1, 2, 3, 4, 7, 8, 9, 10)),
                               *(f"length_q{q}" for q in range(1, 5))}
    stored = json.loads((ROOT / "models" / "gru" / SLICES_FILE).read_text())
    for k in CLI_SLICES:
        assert set(out[k]) == {"n", "accuracy", "ci_low", "ci_high"}
        assert out[k]["accuracy"] == stored["slices"][k]["accuracy"]
    assert out["ece"] == stored["ece"] and 0 < out["ece"] < 0.2


def test_cli_without_a_file_or_the_dataset_says_what_to_do(tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "models" / "rnn", tmp_path / "rnn")
    (tmp_path / "rnn" / SLICES_FILE).unlink()
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(tmp_path / "missing.tar.gz"))
    assert main(["slices", "--model", str(tmp_path / "rnn")]) == 2
    err = capsys.readouterr().err
    assert "no slice file" in err and "GRU_EXPLORER_IMDB" in err


def test_cli_computes_and_writes_with_made_up_data(tmp_path, monkeypatch, capsys):
    from .tiny import write_imdb_tar

    write_imdb_tar(tmp_path / "imdb.tar.gz", n_train=8, n_test=40)
    monkeypatch.setenv("GRU_EXPLORER_CACHE", str(tmp_path / "cache"))
    shutil.copytree(ROOT / "models" / "rnn", tmp_path / "rnn")
    (tmp_path / "rnn" / SLICES_FILE).unlink()
    assert main(["slices", "--model", str(tmp_path / "rnn"), "--data", str(tmp_path / "imdb.tar.gz")]) == 0
    out = capsys.readouterr().out
    assert "40 test reviews (computed into" in out and "expected calibration error" in out
    data, why = read_slices(tmp_path / "rnn", load_model(tmp_path / "rnn").config["weights_sha256"])
    assert why is None and len(data) == 40 and data.predictions_from == "computed"  # stats.json is for IMDB's
    assert main(["slices", "--model", str(tmp_path / "rnn")]) == 0  # read back, no dataset needed
    assert "read from" in capsys.readouterr().out
