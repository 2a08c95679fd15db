"""The unit atlas core (gru_core.analysis): tiny models with planted answers, hand computations, cell.run."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gru_core import cell
from gru_core.analysis import units as U
from gru_core.analysis.ablation import ablated_module, ablated_proba, ablation_study, top_units
from gru_core.data import Split
from gru_core.text import PAD_ID, tokenize

from .tiny import WORDS, clone_state, random_review, same_state, tiny_model


def make_split(texts: list[str], labels: list[int], ratings: list[int] | None = None) -> Split:
    ratings = ratings or [9 if y else 2 for y in labels]
    return Split(texts, np.asarray(labels), np.asarray(ratings), [f"test/x/{i}_{r}" for i, r in enumerate(ratings)],
                 [tokenize(t) for t in texts])


def random_split(n: int = 40, seed: int = 0, length: tuple[int, int] = (3, 25)) -> Split:
    rng = np.random.default_rng(seed)
    texts = [random_review(rng, int(rng.integers(*length))) for _ in range(n)]
    return make_split(texts, rng.integers(0, 2, n).tolist())


# --- A planted unit: unit 0 fires on "great" and on nothing else ----------------------------------------------

def planted_gru(word: str = "great"):
    """A GRU whose unit 0 jumps to ~1 when ``word`` is read and decays back otherwise.

    Embedding dim 0 is 1 only for ``word``; the candidate for unit 0 reads it
    with a large weight; the update gate of unit 0 is ~0 (overwrite) so h_0
    is ~tanh(8 · [word]) at every step. Other weights are small random.
    """
    model = tiny_model("gru", seed=3, std=0.2)
    m, h = model.module, model.module.rnn.hidden_size
    wid = model.vocab.id(word)
    with torch.no_grad():
        m.embedding.weight[:, 0] = 0.0
        m.embedding.weight[wid, 0] = 1.0
        m.rnn.weight_ih_l0[:, 0] = 0.0  # only unit 0's candidate reads dim 0
        m.rnn.weight_ih_l0[2 * h + 0, 0] = 8.0
        m.rnn.weight_hh_l0[[0, h, 2 * h], :] = 0.0  # unit 0 ignores the past...
        m.rnn.bias_ih_l0[h + 0] = -10.0  # ...and its update gate is closed: z_0 ≈ 0, h_0 ≈ n_0
        m.rnn.bias_ih_l0[2 * h + 0] = 0.0
        m.rnn.bias_hh_l0[[0, h, 2 * h]] = 0.0
        m.rnn.bias_ih_l0[0] = 0.0
    return model


def test_planted_unit_top_contexts_and_words_find_the_word():
    model = planted_gru("great")
    split = random_split(60, seed=1)
    revs = U.reviews(model, split)
    s = U.scan(model, revs, batch_size=7)
    ctx = U.contexts(model, revs, s, k=5)[0]
    with_word = sum("great" in t for t in split.tokens)
    assert with_word >= 5
    assert [c["word"] for c in ctx["top"]] == ["great"] * 5
    assert all(c["values"]["hidden"] > 0.99 for c in ctx["top"])
    assert all(c["word"] != "great" for c in ctx["bottom"])
    # The snippet is the review's own words around the step, and the stored values are at that step.
    for c in ctx["top"] + ctx["bottom"]:
        words = split.tokens[c["index"]]
        assert words[c["step"]] == c["word"]
        assert c["before"] == words[max(0, c["step"] - U.CONTEXT_WORDS):c["step"]]
        assert c["after"] == words[c["step"] + 1:c["step"] + 1 + U.CONTEXT_WORDS]
        t = model.trace(split.texts[c["index"]])
        assert c["values"]["hidden"] == pytest.approx(float(t.hidden[c["step"], 0]), abs=1e-4)
        assert c["values"]["update"] == pytest.approx(float(t.gates["update"][c["step"], 0]), abs=1e-4)
    response = U.expected_response(s.dh_sum, s.counts)
    words = U.top_words(response, s.counts, [model.vocab.word(i) for i in range(len(model.vocab))], n=3,
                        min_count=1)
    assert words[0]["up"][0][0] == "great"
    assert "great" not in [w for w, _, _ in words[0]["down"]]


def test_expected_response_matches_a_loop_over_traces():
    model = tiny_model("lstm", seed=2)
    split = random_split(30, seed=4)
    revs = U.reviews(model, split)
    s = U.scan(model, revs, batch_size=4)
    response = U.expected_response(s.dh_sum, s.counts)
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for text in split.texts:
        t = model.trace(text)
        prev = np.zeros(t.hidden.shape[1])
        for word, h in zip(t.words, t.hidden):
            key = word if word in WORDS else "<unk>"
            sums[key] = sums.get(key, 0) + (h - prev)
            counts[key] = counts.get(key, 0) + 1
            prev = h
    for word, total in sums.items():
        wid = model.vocab.id(word) if word != "<unk>" else 1
        assert s.counts[wid] == counts[word]
        np.testing.assert_allclose(response[wid], total / counts[word], atol=1e-5)
    assert np.isnan(response[PAD_ID]).all()  # padding is never read


def test_scan_means_saturation_and_final_states_match_traces(arch):
    model = tiny_model(arch, seed=5)
    split = random_split(25, seed=6)
    revs = U.reviews(model, split)
    s = U.scan(model, revs, batch_size=6)
    traces = model.trace(split.texts)
    np.testing.assert_allclose(s.final_h, np.stack([t.hidden[-1] for t in traces]), atol=1e-6)
    np.testing.assert_allclose(s.proba, [t.proba for t in traces], atol=1e-6)
    np.testing.assert_allclose(model.final_states(revs.seqs, batch_size=5), s.final_h, atol=1e-5)
    all_h = np.concatenate([t.hidden for t in traces])
    assert s.steps == len(all_h)
    np.testing.assert_allclose(s.mean["hidden"], all_h.mean(0), atol=1e-6)
    np.testing.assert_allclose(s.std["hidden"], all_h.std(0), atol=1e-5)
    for g in s.saturation:
        v = np.concatenate([t.gates[g] for t in traces])
        np.testing.assert_allclose(s.saturation[g][0], (v < 0.1).mean(0), atol=1e-9)
        np.testing.assert_allclose(s.saturation[g][1], (v > 0.9).mean(0), atol=1e-9)
    assert set(s.saturation) == set({"gru": ("update", "reset"), "lstm": ("input", "forget", "output"),
                                     "rnn": ()}[arch])


def test_label_correlation_matches_numpy_corrcoef():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4))
    y = rng.integers(0, 2, 50)
    x[:, 2] += 2 * y
    r = U.label_correlation(x, y)
    for u in range(4):
        assert r[u] == pytest.approx(np.corrcoef(x[:, u], y)[0, 1], abs=1e-12)
    x[:, 3] = 1.5  # a constant unit has no correlation
    assert np.isnan(U.label_correlation(x, y)[3])


def test_one_unit_classifier_on_a_planted_case():
    # Positives sit below 0.3, negatives above, except one negative at 0.1: best is "positive when < 0.3...".
    x = np.array([0.0, 0.1, 0.2, 0.25, 0.5, 0.6, 0.7, 0.9])
    y = np.array([1, 0, 1, 1, 0, 0, 0, 0])
    thr, direction, acc = U.fit_threshold(x, y)
    assert direction == -1 and thr == pytest.approx(0.375) and acc == pytest.approx(7 / 8)
    assert U.one_unit_accuracy(np.array([0.3, 0.4, 0.8]), np.array([1, 0, 0]), thr, direction) == 1.0
    thr, direction, acc = U.fit_threshold(-x, y)
    assert direction == 1 and thr == pytest.approx(-0.375) and acc == pytest.approx(7 / 8)
    # Ties: no threshold between equal values.
    thr, direction, acc = U.fit_threshold(np.array([1.0, 1.0, 2.0]), np.array([1, 0, 0]))
    assert acc == pytest.approx(2 / 3) and not 1.0 < thr < 1.0 + 1e-12


def test_cocluster_groups_units_with_the_words_that_move_them():
    # Units 0-2 respond to words 2-4 only, units 3-5 to words 5-7 only.
    response = np.full((8, 6), 0.001)
    response[2:5, 0:3] = 0.5
    response[5:8, 3:6] = -0.5
    counts = np.array([0, 10, 100, 90, 80, 70, 60, 50])
    words = [f"w{i}" for i in range(8)]
    c = U.cocluster(response, counts, words, n_words=6, n_clusters=2)
    assert c["words"] == ["w2", "w3", "w4", "w5", "w6", "w7"]  # by count, unknown word left out
    g = c["unit_groups"]
    assert g[0] == g[1] == g[2] != g[3] == g[4] == g[5]
    wg = dict(zip(c["words"], c["word_groups"]))
    assert wg["w2"] == wg["w3"] == wg["w4"] == g[0]
    assert wg["w5"] == wg["w6"] == wg["w7"] == g[3]
    assert c["response"][3][3] == -0.5  # the signed response is kept for the heatmap


# --- Ablation -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("units", [[0], [1, 3], [0, 2, 4]])
def test_ablation_equals_cell_run_with_h_k_set_to_zero(arch, units):
    model = tiny_model(arch, seed=7)
    rng = np.random.default_rng(1)
    seqs = [rng.integers(1, len(model.vocab), size=n) for n in (9, 9, 9)]
    ids = torch.from_numpy(np.stack(seqs))
    x, _ = model.module.embed(ids)
    keep = torch.ones(model.module.rnn.hidden_size)
    keep[units] = 0.0

    def ablate(name, t, value):
        return value * keep if name == "hidden" else value

    hidden, _, _ = cell.run(model.module, x, ablate)
    expected = torch.sigmoid(model.module.dense(hidden[:, -1])).squeeze(-1).numpy()
    twin = ablated_module(model.module, units)
    np.testing.assert_allclose(ablated_proba(model, seqs, units), expected, atol=1e-5)
    # Every other unit follows the same path as under the edit.
    native, _ = twin.rnn(x)
    others = [u for u in range(model.module.rnn.hidden_size) if u not in units]
    np.testing.assert_allclose(native[..., others].numpy(), hidden[..., others].numpy(), atol=1e-5)
    # And the ablation changed something (so the comparison can fail).
    assert not np.allclose(ablated_proba(model, seqs, units), model.predict_ids(seqs), atol=1e-4)


def test_ablating_nothing_changes_nothing_and_the_model_is_untouched(arch):
    model = tiny_model(arch, seed=8)
    before = clone_state(model.module)
    rng = np.random.default_rng(2)
    seqs = [rng.integers(1, len(model.vocab), size=n) for n in (4, 11, 7)]
    np.testing.assert_array_equal(ablated_proba(model, seqs, []), model.predict_ids(seqs))
    twin = ablated_module(model.module, [])
    np.testing.assert_array_equal(
        twin.rnn.weight_hh_l0.numpy(), model.module.rnn.weight_hh_l0.numpy())
    ablated_proba(model, seqs, [0, 1])
    assert same_state(model.module, before)


def test_ablation_study_structure_and_choices():
    model = tiny_model("gru", seed=9, hidden=6)
    split = random_split(30, seed=9)
    revs = U.reviews(model, split)
    corr = np.array([0.1, -0.9, 0.3, 0.0, 0.5, 0.2])
    weights = np.array([0.0, 0.1, -2.0, 1.0, 0.3, 0.0])
    out = ablation_study(model, revs.seqs, revs.labels, corr, weights, ks=(1, 2, 5, 10), draws=3)
    assert out["ks"] == [1, 2, 5]  # k beyond the hidden size is left out
    assert out["units"]["by_correlation"]["2"] == [1, 4] and out["units"]["by_weight"]["2"] == [2, 3]
    assert top_units(weights, 1) == (2,)
    base = float(np.mean((model.predict_ids(revs.seqs) > 0.5) == revs.labels.astype(bool)))
    assert out["baseline"] == pytest.approx(base)
    expected = float(np.mean((ablated_proba(model, revs.seqs, [1, 4]) > 0.5) == revs.labels.astype(bool)))
    assert out["by_correlation"]["2"] == pytest.approx(expected)
    for k in ("1", "2", "5"):
        mean, std = out["random"][k]
        assert 0 <= mean <= 1 and std >= 0


# --- The stored index ----------------------------------------------------------------------------------------

def test_build_write_and_read_index(tmp_path):
    model = tiny_model("gru", seed=10)
    model.config["weights_sha256"] = "abc"
    test, train = random_split(30, seed=11), random_split(30, seed=12)
    index = U.build_index(model, test, train, k=3, ks=(1, 2), draws=2, n_words=8, n_clusters=2, min_count=1)
    assert index["one_unit_fit_on"] == "30 training reviews"
    assert len(index["units"]) == model.module.rnn.hidden_size
    row = index["units"][0]
    for key in ("unit", "output_weight", "label_correlation", "one_unit_accuracy", "h_mean", "h_std",
                "update_mean", "update_std", "update_left", "update_right", "reset_mean", "contexts", "top_words"):
        assert key in row
    revs = U.reviews(model, test)
    r = np.corrcoef(U.scan(model, revs).final_h[:, 0], revs.labels)[0, 1]
    assert row["label_correlation"] == pytest.approx(r, abs=1e-5)
    path = U.write_index(tmp_path, index)
    assert json.loads(path.read_text()) == json.loads(json.dumps(index))
    assert U.read_index(tmp_path, "abc")[0] == json.loads(json.dumps(index))
    data, why = U.read_index(tmp_path, "other")
    assert data is None and "other weights" in why
    data, why = U.read_index(tmp_path / "nowhere", "abc")
    assert data is None and "no unit index" in why
    path.write_text("{not json")
    data, why = U.read_index(tmp_path, "abc")
    assert data is None and "unreadable" in why
