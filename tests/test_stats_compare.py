"""Test-set statistics (stats.py), the GRU vs LSTM comparison (compare.py) and its charts, on tiny models."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from gru_core import charts, compare, load_model, memprobe, stats
from gru_core.checkpoint import save_checkpoint
from gru_core.data import Split
from gru_core.model import SentimentRNN, parameter_counts
from gru_core.predictor import SentimentModel
from gru_core.text import Vocab, tokenize

from .tiny import WORDS, random_review, tiny_model, tiny_module
from .vegaspec import data_of, mark_type, tooltip_fields

H = 5
MAXLEN = 50
SAT_GATES = {"gru": ["update", "reset"], "lstm": ["input", "forget", "output"], "rnn": []}


def saved(tmp_path: Path, name: str, arch: str, metrics: dict | None = None, seed: int = 0) -> SentimentModel:
    """Save a tiny checkpoint with the given metrics.json into tmp_path/name and load it back."""
    folder = save_checkpoint(tmp_path / name, tiny_module(arch, seed=seed), Vocab(WORDS), MAXLEN, metrics or {})
    return load_model(folder)


# --------------------------------------------------------------------------- saturation_fractions


def test_saturation_fractions_known_values():
    values = np.array([
        [0.05, 0.10, 0.95],
        [0.10, 0.50, 0.90],
        [0.00, 0.91, 1.00],
        [0.09, 0.90, 0.50],
    ])
    left, right = stats.saturation_fractions(values)
    np.testing.assert_array_equal(left, [0.75, 0.0, 0.0])  # 0.1 itself is not saturated
    np.testing.assert_array_equal(right, [0.0, 0.25, 0.5])  # 0.9 itself is not saturated
    assert left.shape == right.shape == (3,)


def test_saturation_fractions_custom_thresholds_and_lists():
    left, right = stats.saturation_fractions([[0.2], [0.4], [0.6], [0.8]], low=0.5, high=0.7)
    np.testing.assert_array_equal(left, [0.5])
    np.testing.assert_array_equal(right, [0.25])


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.zeros(4), [], np.zeros((2, 2, 2))])
def test_saturation_fractions_rejects_empty_or_not_2d(bad):
    with pytest.raises(ValueError):
        stats.saturation_fractions(bad)


# --------------------------------------------------------------------------- agreement

PA = [0.9, 0.2, 0.7, 0.4, 0.6, 0.1, 0.5, 0.51]  # > 0.5: T F T F T F F T  (0.5 is negative)
PB = [0.8, 0.3, 0.2, 0.6, 0.7, 0.9, 0.52, 0.3]  # > 0.5: T F F T T T T F
LABELS = [1, 0, 0, 1, 0, 0, 1, 1]


def test_agreement_with_labels():
    out = stats.agreement(np.array(PA), np.array(PB), np.array(LABELS))
    assert out["n"] == 8
    assert out["agree"] == pytest.approx(3 / 8)
    assert out["disagree_count"] == 5
    assert out["both_right"] == pytest.approx(2 / 8)  # reviews 0, 1
    assert out["both_wrong"] == pytest.approx(1 / 8)  # review 4
    assert out["only_a_right"] == pytest.approx(2 / 8)  # reviews 5, 7
    assert out["only_b_right"] == pytest.approx(3 / 8)  # reviews 2, 3, 6
    parts = ("both_right", "both_wrong", "only_a_right", "only_b_right")
    assert sum(out[k] for k in parts) == pytest.approx(1.0)
    assert isinstance(out["n"], int) and isinstance(out["disagree_count"], int)
    assert all(isinstance(out[k], float) for k in ("agree",) + parts)


def test_agreement_without_labels_and_from_lists():
    out = stats.agreement(PA, PB)  # lists, as read from stats.json
    assert set(out) == {"n", "agree", "disagree_count"}
    assert out == {"n": 8, "agree": pytest.approx(3 / 8), "disagree_count": 5}
    same = stats.agreement(PA, PA, LABELS)
    assert same["agree"] == 1.0 and same["disagree_count"] == 0
    assert same["only_a_right"] == same["only_b_right"] == 0.0


@pytest.mark.parametrize("a, b", [(PA, PB[:-1]), ([], []), (PA[:3], PA[:4])])
def test_agreement_rejects_mismatched_or_empty(a, b):
    with pytest.raises(ValueError):
        stats.agreement(np.array(a), np.array(b))


# --------------------------------------------------------------------------- gradient_by_position


def reference_norms(module: SentimentRNN, ids: np.ndarray) -> np.ndarray:
    """‖∂ logit / ∂ e_t‖ for one review alone, reversed (index 0 = last word): no padding, no batching."""
    x = module.embedding.weight[torch.as_tensor(ids, dtype=torch.long)].detach().clone()[None]
    x.requires_grad_(True)
    with torch.enable_grad():
        seq, _ = module.rnn(x)
        logit = module.dense(seq[0, -1]).squeeze()
        (grad,) = torch.autograd.grad(logit, x)
    return grad[0].norm(dim=-1).numpy()[::-1]


def test_gradient_by_position_matches_autograd_per_review(arch, tiny_arch_model):
    rng = np.random.default_rng(5)
    lengths = [7, 1, 12, 3, 9]
    id_lists = [tiny_arch_model.encode(random_review(rng, n))[1] for n in lengths]
    before = {k: v.clone() for k, v in tiny_arch_model.module.state_dict().items()}

    grads = stats.gradient_by_position(tiny_arch_model, id_lists, batch_size=2)

    assert grads.shape == (5, 12)
    for i, (ids, n) in enumerate(zip(id_lists, lengths)):
        ref = reference_norms(tiny_arch_model.module, ids)
        np.testing.assert_allclose(grads[i, :n], ref, rtol=1e-4, atol=1e-7, err_msg=f"review {i}")
        assert np.isnan(grads[i, n:]).all()
        assert (grads[i, :n] > 0).all()
    # batching changes nothing
    one_by_one = np.vstack([
        np.pad(stats.gradient_by_position(tiny_arch_model, [ids])[0], (0, 12 - len(ids)), constant_values=np.nan)
        for ids in id_lists])
    np.testing.assert_allclose(grads, one_by_one, rtol=1e-5, atol=1e-8, equal_nan=True)
    np.testing.assert_allclose(stats.gradient_by_position(tiny_arch_model, id_lists, batch_size=64), grads,
                               rtol=1e-5, atol=1e-8, equal_nan=True)
    # the shared model is untouched
    after = tiny_arch_model.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not tiny_arch_model.module.training
    for p in tiny_arch_model.module.parameters():
        assert p.grad is None and not p.requires_grad


def test_gradient_by_position_leaves_trainable_weights_without_grad():
    sm = tiny_model("lstm", seed=7, freeze=False)
    grads = stats.gradient_by_position(sm, [np.array([2, 3, 4]), np.array([5, 6])])
    assert grads.shape == (2, 3) and np.isnan(grads[1, 2])
    for p in sm.module.parameters():
        assert p.grad is None


def test_gradient_by_position_under_no_grad(tiny_arch_model):
    ids = [np.array([2, 5, 1, 7])]
    with torch.no_grad():
        inside = stats.gradient_by_position(tiny_arch_model, ids)
    np.testing.assert_allclose(inside[0], reference_norms(tiny_arch_model.module, ids[0]), rtol=1e-4, atol=1e-7)


# --------------------------------------------------------------------------- mean_by_distance


def test_mean_by_distance():
    nan = np.nan
    grads = np.array([
        [1.0, 2.0, nan, nan],
        [3.0, nan, nan, nan],
        [5.0, 4.0, 6.0, nan],
    ])
    mean, count = stats.mean_by_distance(grads)
    np.testing.assert_allclose(mean[:3], [3.0, 3.0, 6.0])
    assert np.isnan(mean[3])
    assert count.tolist() == [3, 2, 1, 0]


# --------------------------------------------------------------------------- compute / write / read stats


def make_split() -> Split:
    rng = np.random.default_rng(11)
    texts = [random_review(rng, n) for n in (5, 1, 17, 8, 60, 3, 12, 2, 9, 25, 4)]
    texts.insert(6, "!!! ... ???")  # no words: left out of the statistics
    labels = np.array([i % 2 for i in range(len(texts))], dtype=np.int64)
    ids = [f"test/{'pos' if y else 'neg'}/{i}_{7 if y else 2}" for i, y in enumerate(labels)]
    return Split(texts, labels, np.where(labels == 1, 7, 2).astype(np.int64), ids, [tokenize(t) for t in texts])


@pytest.fixture(scope="module")
def split() -> Split:
    return make_split()


def test_compute_stats(arch, tiny_arch_model, split):
    keep = [i for i, t in enumerate(split.tokens) if t]
    assert len(keep) == 11 and 6 not in keep
    texts = [split.texts[i] for i in keep]
    out = stats.compute_stats(tiny_arch_model, split)

    np.testing.assert_allclose(out["test_proba"], tiny_arch_model.predict_proba(texts), rtol=0, atol=5e-7)
    assert out["test_proba"] == np.round(tiny_arch_model.predict_proba(texts), 6).tolist()
    assert out["test_labels"] == split.labels[keep].tolist()
    assert out["test_ids_sha256"] == stats.ids_digest([split.ids[i] for i in keep])
    assert out["test_ids_sha256"] != stats.ids_digest(split.ids)
    assert out["sample_size"] == 11 and out["sample_seed"] == 0
    assert out["saturation_thresholds"] == [0.1, 0.9]

    sat = out["saturation"]
    assert list(sat) == SAT_GATES[arch]
    traces = tiny_arch_model.trace(texts)
    for gate, v in sat.items():
        assert len(v["left"]) == len(v["right"]) == H
        assert all(0.0 <= x <= 1.0 for x in v["left"] + v["right"])
        left, right = stats.saturation_fractions(np.concatenate([t.gates[gate] for t in traces]))
        np.testing.assert_allclose(v["left"], left.round(5), atol=1e-12)
        np.testing.assert_allclose(v["right"], right.round(5), atol=1e-12)

    g = out["gradient_by_distance"]
    assert len(g["mean"]) == len(g["count"]) == MAXLEN  # the 60-word review is read as its last 50
    assert g["count"][0] == 11 and g["count"][-1] == 1
    assert g["count"] == sorted(g["count"], reverse=True)
    encoded = [tiny_arch_model.encode(t)[1] for t in texts]
    mean, count = stats.mean_by_distance(stats.gradient_by_position(tiny_arch_model, encoded))
    assert g["count"] == count.tolist()
    np.testing.assert_allclose(g["mean"], mean, rtol=1e-6)
    assert all(isinstance(x, float) and x > 0 for x in g["mean"])
    json.dumps(out, allow_nan=False)  # plain JSON, no NaN


def test_compute_stats_sample(split):
    sm = tiny_model("gru", seed=2)
    a = stats.compute_stats(sm, split, sample=4, seed=3)
    b = stats.compute_stats(sm, split, sample=4, seed=3)
    assert a == b
    assert a["sample_size"] == 4 and a["sample_seed"] == 3
    assert len(a["test_proba"]) == 11  # predictions always cover every review with words
    assert a["gradient_by_distance"]["count"][0] == 4
    assert len(a["gradient_by_distance"]["mean"]) <= MAXLEN


def test_write_and_read_stats(tmp_path, split):
    sm = saved(tmp_path, "gru_small", "gru")
    assert stats.read_stats(sm.path) is None
    path = stats.write_stats(sm, split, sample=6)
    assert path == sm.path / "stats.json" and path.is_file()
    assert (path.stat().st_mode & 0o777) == 0o644
    assert not [p.name for p in sm.path.iterdir() if p.name.startswith(".")]  # no temp file left
    got = stats.read_stats(sm.path)
    assert got == json.loads(path.read_text(encoding="utf-8"))
    assert got == stats.compute_stats(sm, split, sample=6)
    assert got["sample_size"] == 6
    # the checkpoint still loads (stats.json is an extra file)
    assert load_model(sm.path).arch == "gru"


def test_write_stats_needs_a_folder(split):
    with pytest.raises(ValueError):
        stats.write_stats(tiny_model("gru"), split)


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'{"sample_size": 3}', b""])
def test_read_stats_corrupt_is_none(tmp_path, content):
    (tmp_path / "stats.json").write_bytes(content)
    assert stats.read_stats(tmp_path) is None


def test_read_stats_missing_is_none(tmp_path):
    assert stats.read_stats(tmp_path) is None
    assert stats.read_stats(tmp_path / "nowhere") is None


# --------------------------------------------------------------------------- architecture_facts


@pytest.mark.parametrize("arch_, gates, names, blocks, recurrent, total", [
    ("gru", 2, ["update", "reset"], 3, 60_600, 560_701),
    ("lstm", 3, ["input", "forget", "output"], 4, 80_800, 580_901),
    ("rnn", 0, [], 1, 20_200, 520_301),
])
def test_architecture_facts_default_sizes(arch_, gates, names, blocks, recurrent, total):
    module = SentimentRNN(arch_)
    facts = compare.architecture_facts(SentimentModel(module.eval(), Vocab(WORDS), {"maxlen": 500}))
    counts = parameter_counts(module)
    assert facts["arch"] == arch_
    assert facts["gates"] == gates and facts["gate_names"] == names
    assert facts["weight_matrices"] == blocks
    assert facts["params_recurrent"] == counts["rnn"] == recurrent
    assert facts["params_total"] == counts["total"] == total
    assert facts["params_embedding"] == counts["embedding"] == 500_000
    assert facts["params_dense"] == counts["dense"] == 101
    assert facts["checkpoint_bytes"] == 0 and facts["weights_bytes"] == 0  # no folder


def test_architecture_facts_bytes_on_disk(tmp_path):
    sm = saved(tmp_path, "lstm_small", "lstm", {"note": "x" * 1000})
    (sm.path / "stats.json").write_text('{"test_proba": []}')
    facts = compare.architecture_facts(sm)
    assert facts["checkpoint_bytes"] == sum(f.stat().st_size for f in sm.path.iterdir() if f.is_file())
    assert facts["checkpoint_bytes"] > 1000
    assert facts["weights_bytes"] == (sm.path / "model.safetensors").stat().st_size
    assert facts["params_total"] == parameter_counts(sm.module)["total"]


# --------------------------------------------------------------------------- claims


def metrics(seconds: list[float] | None = None, device: str = "cpu", hardware: str = "2 cores",
            accuracy: float | None = 0.88) -> dict:
    m: dict = {"device": device, "hardware": hardware}
    if seconds is not None:
        m["history"] = [{"epoch": i + 1, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.4, "val_acc": 0.85,
                         "seconds": s, "complete": True} for i, s in enumerate(seconds)]
    if accuracy is not None:
        m["imdb_test"] = {"accuracy": accuracy}
    return m


def pair(tmp_path, gru_metrics: dict, lstm_metrics: dict) -> tuple[SentimentModel, SentimentModel]:
    return (saved(tmp_path, "my_gru", "gru", gru_metrics, seed=1),
            saved(tmp_path, "my_lstm", "lstm", lstm_metrics, seed=2))


def claim(rows: list[dict], start: str) -> dict:
    (row,) = [r for r in rows if r["claim"].startswith(start)]
    return row


def test_claims_structure_gates_and_parameters(tmp_path):
    g, l = pair(tmp_path, metrics([10, 12]), metrics([20, 22]))
    rows = compare.claims(g, l)
    assert [r["claim"].split(":")[0] for r in rows] == [
        "Simpler structure", "Fewer parameters", "Trains faster", "Uses less memory", "Performs about as well"]
    assert all(set(r) == {"claim", "measured", "verdict"} for r in rows)
    gates = claim(rows, "Simpler")
    assert gates["verdict"] == "holds" and "update, reset" in gates["measured"]
    assert "input, forget, output" in gates["measured"]
    params = claim(rows, "Fewer")
    assert params["verdict"] == "holds"
    fg, fl = compare.architecture_facts(g), compare.architecture_facts(l)
    assert f"{fg['params_total']:,}" in params["measured"] and f"{fl['params_total']:,}" in params["measured"]
    assert "3 vs 4" in params["measured"]


@pytest.mark.parametrize("gru_s, lstm_s, device, verdict, onednn", [
    ([10, 10], [20, 20], "cpu", "holds", False),
    ([30, 30], [20, 20], "cpu", "does not hold here", True),
    ([30], [20], "cuda", "does not hold here", False),
    ([20], [20.5], "cpu", "depends", False),
])
def test_claims_trains_faster(tmp_path, gru_s, lstm_s, device, verdict, onednn):
    g, l = pair(tmp_path, metrics(gru_s, device), metrics(lstm_s, device))
    row = claim(compare.claims(g, l), "Trains faster")
    assert row["verdict"] == verdict
    assert ("oneDNN" in row["measured"]) == onednn
    assert f"GRU {np.mean(gru_s):.1f} s" in row["measured"] and f"LSTM {np.mean(lstm_s):.1f} s" in row["measured"]


def test_claims_trains_faster_ignores_incomplete_epochs(tmp_path):
    gm = metrics([10, 10])
    gm["history"].append({**gm["history"][0], "epoch": 3, "seconds": 500.0, "complete": False})
    g, l = pair(tmp_path, gm, metrics([20]))
    assert claim(compare.claims(g, l), "Trains faster")["verdict"] == "holds"


@pytest.mark.parametrize("gm, lm, verdict", [
    (metrics([10], "cpu", "AMD EPYC"), metrics([20], "cuda", "AMD EPYC"), "depends"),
    (metrics([10], "cpu", "AMD EPYC"), metrics([20], "cpu", "Intel Xeon"), "depends"),
    (metrics(None), metrics([20]), "not measured yet"),
    (metrics([10]), metrics(None), "not measured yet"),
    (metrics([]), metrics([20]), "not measured yet"),
])
def test_claims_trains_faster_not_comparable(tmp_path, gm, lm, verdict):
    g, l = pair(tmp_path, gm, lm)
    row = claim(compare.claims(g, l), "Trains faster")
    assert row["verdict"] == verdict
    if verdict == "depends":
        assert "different hardware" in row["measured"]


@pytest.mark.parametrize("acc_g, acc_l, verdict", [
    (0.885, 0.88, "holds"),
    (0.87, 0.875, "holds"),
    (0.88, 0.90, "does not hold here"),
    (0.92, 0.90, "does not hold here"),
    (None, 0.90, "not measured yet"),
])
def test_claims_accuracy(tmp_path, acc_g, acc_l, verdict):
    g, l = pair(tmp_path, metrics([10], accuracy=acc_g), metrics([20], accuracy=acc_l))
    row = claim(compare.claims(g, l), "Performs about as well")
    assert row["verdict"] == verdict
    if acc_g is not None:
        assert f"GRU {acc_g:.2%}" in row["measured"] and f"LSTM {acc_l:.2%}" in row["measured"]


def test_claims_accuracy_exactly_one_point_holds(tmp_path):
    g, l = pair(tmp_path, metrics([10], accuracy=0.90), metrics([20], accuracy=0.89))
    assert claim(compare.claims(g, l), "Performs about as well")["verdict"] == "holds"


def test_claims_memory(tmp_path):
    g, l = pair(tmp_path, metrics([10]), metrics([20]))
    assert (g.name, l.name) == ("my_gru", "my_lstm")
    mib = 2 ** 20
    row = claim(compare.claims(g, l), "Uses less memory")
    assert row["verdict"] == "not measured yet"
    row = claim(compare.claims(g, l, {"my_gru": {"peak_memory_bytes": 10 * mib},
                                      "my_lstm": {"peak_memory_bytes": 20 * mib}}), "Uses less memory")
    assert row["verdict"] == "holds" and "10.0 MiB" in row["measured"] and "20.0 MiB" in row["measured"]
    row = claim(compare.claims(g, l, {"my_gru": {"peak_memory_bytes": 30 * mib},
                                      "my_lstm": {"peak_memory_bytes": 20 * mib}}), "Uses less memory")
    assert row["verdict"] == "does not hold here"
    # keyed by the folder name, not the architecture
    row = claim(compare.claims(g, l, {"gru": {"peak_memory_bytes": 1}, "lstm": {"peak_memory_bytes": 2}}),
                "Uses less memory")
    assert row["verdict"] == "not measured yet"
    # not measurable on one side
    row = claim(compare.claims(g, l, {"my_gru": {"peak_memory_bytes": None},
                                      "my_lstm": {"peak_memory_bytes": 20 * mib}}), "Uses less memory")
    assert row["verdict"] == "not measured yet"


# --------------------------------------------------------------------------- comparison_table

LIVE_FULL = {"latency_100_s": 0.0123, "latency_500_s": 0.0456, "throughput_256": 12345.6,
             "peak_memory_bytes": 3 * 2 ** 20}


def test_comparison_table(tmp_path):
    gm = metrics([10, 12], hardware="AMD EPYC")
    gm["imdb_test"].update(accuracy=0.89796, precision=0.8943, recall=0.90256, f1=0.898427,
                           confusion=[[1, 2], [3, 4]])
    gm["rt_polarity"] = {"accuracy": 0.7054}
    g, l = pair(tmp_path, gm, {})
    r = saved(tmp_path, "plain", "rnn", metrics(None, accuracy=0.8))
    table = compare.comparison_table([g, l, r])
    assert list(table.columns) == ["my_gru", "my_lstm", "plain"]
    assert {"parameters: total", "IMDB test accuracy"} <= set(table.index)
    for m in (g, l, r):
        assert table.loc["parameters: total", m.name] == f"{parameter_counts(m.module)['total']:,}"
        assert table.loc["weight matrices (blocks)", m.name] == str({"gru": 3, "lstm": 4, "rnn": 1}[m.arch])
        assert table.loc["latency, one 100-word review", m.name] == "not measured"
        assert table.loc["peak inference memory, batch 256", m.name] == "not measured"
    col = table["my_gru"]
    assert col["architecture"] == "GRU" and col["gates"] == "2 (update, reset)"
    assert col["IMDB test accuracy"] == "89.80%" and col["IMDB test precision"] == "89.43%"
    assert col["IMDB test recall"] == "90.26%" and col["IMDB test F1"] == "0.8984"
    assert col["Rotten Tomatoes accuracy (out of domain)"] == "70.54%"
    assert col["training seconds per epoch"] == "11.0 s"
    assert col["training hardware"] == "cpu: AMD EPYC"
    bytes_ = sum(f.stat().st_size for f in g.path.iterdir() if f.is_file())
    assert col["checkpoint size on disk"] == f"{bytes_ / 2 ** 20:.2f} MiB"
    empty = table["my_lstm"]  # no metrics at all
    assert empty["IMDB test accuracy"] == "—" and empty["IMDB test F1"] == "—"
    assert empty["training seconds per epoch"] == "—" and empty["training hardware"] == "?: ?"
    assert table.loc["gates", "plain"] == "0 (no gates)" and table.loc["architecture", "plain"] == "plain RNN"
    assert table.loc["IMDB test accuracy", "plain"] == "80.00%"


def test_comparison_table_live(tmp_path):
    g, l = pair(tmp_path, metrics([10]), metrics([20]))
    live = {"my_gru": LIVE_FULL, "my_lstm": {**LIVE_FULL, "peak_memory_bytes": None}}
    table = compare.comparison_table([g, l], live)
    col = table["my_gru"]
    assert col["latency, one 100-word review"] == "12.3 ms"
    assert col["latency, one 500-word review"] == "45.6 ms"
    assert col["throughput, batch 256 × 200 words"] == "12,346 reviews/s"
    assert col["peak inference memory, batch 256"] == "3.0 MiB"
    assert table.loc["peak inference memory, batch 256", "my_lstm"] == "not measurable here"
    # a model missing from ``live`` is not measured
    t2 = compare.comparison_table([g, l], {"my_gru": LIVE_FULL})
    assert t2.loc["latency, one 100-word review", "my_lstm"] == "not measured"


# --------------------------------------------------------------------------- frames


def test_history_frame(tmp_path):
    g, l = pair(tmp_path, metrics([10, 11, 12]), metrics(None))
    df = compare.history_frame([g, l])
    assert list(df.columns) == ["model", "epoch", "split", "measure", "value"]
    assert len(df) == 3 * 4 and set(df["model"]) == {"my_gru"}
    assert sorted(set(df["epoch"])) == [1, 2, 3]
    pick = df.set_index(["epoch", "split", "measure"])["value"]
    assert pick[(2, "train", "loss")] == 0.5 and pick[(2, "train", "accuracy")] == 0.8
    assert pick[(2, "validation", "loss")] == 0.4 and pick[(2, "validation", "accuracy")] == 0.85
    assert len(compare.history_frame([l])) == 0
    assert list(compare.history_frame([l]).columns) == list(df.columns)


def test_confusion_frame(tmp_path):
    gm = metrics([10])
    gm["imdb_test"]["confusion"] = [[11167, 1333], [1218, 11282]]
    g, l = pair(tmp_path, gm, metrics([20]))
    df = compare.confusion_frame([g, l])
    assert list(df.columns) == ["model", "true", "predicted", "count"]
    assert len(df) == 4 and set(df["model"]) == {"my_gru"}
    cells = {(r.true, r.predicted): r.count for r in df.itertuples()}
    assert cells == {("negative", "negative"): 11167, ("negative", "positive"): 1333,
                     ("positive", "negative"): 1218, ("positive", "positive"): 11282}
    assert len(compare.confusion_frame([l])) == 0


SAT_STATS = {
    "g": {"saturation": {"update": {"left": [0.1, 0.2, 0.3], "right": [0.5, 0.4, 0.0]},
                         "reset": {"left": [0.0, 0.0, 1.0], "right": [1.0, 0.0, 0.0]}}},
    "l": {"saturation": {"forget": {"left": [0.25, 0.75, 0.5], "right": [0.0, 0.25, 0.5]}}},
    "r": {"saturation": {}},
}


def test_saturation_frame():
    df = compare.saturation_frame(SAT_STATS)
    assert list(df.columns) == ["model", "gate", "label", "unit", "left", "right"]
    assert len(df) == 9
    assert df.groupby("label").size().to_dict() == {"g: update": 3, "g: reset": 3, "l: forget": 3}
    row = df[(df["label"] == "l: forget") & (df["unit"] == 1)].iloc[0]
    assert (row["model"], row["gate"], row["left"], row["right"]) == ("l", "forget", 0.75, 0.25)
    assert df[df["label"] == "g: reset"]["right"].tolist() == [1.0, 0.0, 0.0]
    assert len(compare.saturation_frame({})) == 0


def test_gradient_frame_drops_missing_and_non_positive():
    curves = {
        "a": np.array([0.5, 0.25, np.nan, 0.0, -1.0, np.inf, 1e-9]),
        "b": [2.0, None, 1.0],
    }
    df = compare.gradient_frame(curves)
    assert list(df.columns) == ["model", "distance", "gradient"]
    assert df[df["model"] == "a"][["distance", "gradient"]].values.tolist() == [[0, 0.5], [1, 0.25], [6, 1e-9]]
    assert df[df["model"] == "b"][["distance", "gradient"]].values.tolist() == [[0, 2.0], [2, 1.0]]
    assert len(compare.gradient_frame({"c": [None, np.nan]})) == 0


# --------------------------------------------------------------------------- live measurements


@pytest.fixture(scope="module")
def saved_gru(tmp_path_factory) -> SentimentModel:
    return saved(tmp_path_factory.mktemp("live"), "live_gru", "gru", metrics([10]))


def test_review_of_uses_known_words(saved_gru):
    text = compare.review_of(saved_gru, 40, seed=3)
    assert text == compare.review_of(saved_gru, 40, seed=3)
    _, ids, total = saved_gru.encode(text)
    assert total == len(ids) == 40 and (ids >= 2).all()


def test_latency_and_throughput(saved_gru):
    lat = compare.latency(saved_gru, 30, repeats=3)
    assert isinstance(lat, float) and 0 < lat < 5
    tp = compare.throughput(saved_gru, batch=16, n_words=30, repeats=2)
    assert isinstance(tp, float) and tp > 0


def test_measure_live_keys(saved_gru, monkeypatch):
    monkeypatch.setattr(compare, "peak_inference_memory", lambda m: 1234)
    monkeypatch.setattr(compare, "latency", lambda m, n: n / 1e4)
    monkeypatch.setattr(compare, "throughput", lambda m: 99.0)
    assert compare.measure_live(saved_gru) == {"latency_100_s": 0.01, "latency_500_s": 0.05,
                                               "throughput_256": 99.0, "peak_memory_bytes": 1234}


def test_peak_inference_memory_subprocess(saved_gru):
    value = compare.peak_inference_memory(saved_gru, batch=32, n_words=50)
    if os.path.exists("/proc/self/clear_refs"):
        assert isinstance(value, int) and value >= 0
    else:
        assert value is None or (isinstance(value, int) and value >= 0)
    assert compare.peak_inference_memory(tiny_model("gru")) is None  # no folder to load in a fresh process


def test_peak_inference_memory_relative_path_from_another_cwd(saved_gru, monkeypatch):
    """The app may run from any folder and hold a relative model path."""
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("the kernel offers no peak-RSS reset here")
    monkeypatch.chdir(saved_gru.path.parent)
    rel = load_model(saved_gru.path.name)
    assert not rel.path.is_absolute()
    value = compare.peak_inference_memory(rel, batch=8, n_words=20)
    assert isinstance(value, int) and value >= 0


def test_memprobe_main_prints_json(saved_gru, capsys):
    memprobe.main([str(saved_gru.path), "4", "10"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) == {"peak_extra_bytes"}
    assert out["peak_extra_bytes"] is None or (isinstance(out["peak_extra_bytes"], int) and out["peak_extra_bytes"] >= 0)


# --------------------------------------------------------------------------- charts on compare frames


def test_learning_curves_chart(tmp_path):
    g, l = pair(tmp_path, metrics([10, 11]), metrics([20, 21, 22]))
    df = compare.history_frame([g, l])
    for measure in ("loss", "accuracy"):
        spec = charts.learning_curves(df, measure).to_dict()
        assert mark_type(spec) == "line" and spec["title"] == measure
        enc = spec["encoding"]
        assert enc["x"]["field"] == "epoch" and enc["x"]["type"] == "quantitative"
        assert enc["y"]["field"] == "value" and enc["color"]["field"] == "model"
        assert enc["strokeDash"]["field"] == "split"
        assert {"model", "epoch", "split", "value"} <= set(tooltip_fields(enc))
        got = data_of(spec, spec)
        assert len(got) == 5 * 2 and set(got["measure"]) == {measure}


def test_confusion_chart(tmp_path):
    gm, lm = metrics([10]), metrics([20])
    gm["imdb_test"]["confusion"] = [[10, 2], [3, 9]]
    lm["imdb_test"]["confusion"] = [[8, 4], [1, 11]]
    df = compare.confusion_frame(list(pair(tmp_path, gm, lm)))
    one = df[df["model"] == df["model"].iloc[0]]
    spec = charts.confusion_chart(one, "title").to_dict()
    layers = spec["layer"]
    assert sorted(mark_type(v) for v in layers) == ["rect", "text"]
    rect = next(v for v in layers if mark_type(v) == "rect")
    text = next(v for v in layers if mark_type(v) == "text")
    assert rect["encoding"]["color"]["field"] == "count"
    assert rect["encoding"]["x"]["field"] == "predicted" and rect["encoding"]["y"]["field"] == "true"
    assert text["encoding"]["text"]["field"] == "count"
    assert sorted(data_of(spec, spec)["count"]) == [2, 3, 9, 10]


def test_saturation_scatter():
    df = compare.saturation_frame(SAT_STATS)
    label = df["label"].iloc[0]
    spec = charts.saturation_scatter(df[df["label"] == label], label).to_dict()
    assert mark_type(spec) == "circle" and spec["title"] == label
    enc = spec["encoding"]
    assert enc["x"]["field"] == "left" and enc["x"]["scale"]["domain"] == [0, 1]
    assert enc["y"]["field"] == "right" and enc["y"]["scale"]["domain"] == [0, 1]
    assert enc["color"]["field"] == "gate"
    assert {"model", "gate", "unit"} <= set(tooltip_fields(enc))
    assert len(data_of(spec, spec)) == (df["label"] == label).sum()


def test_gradient_curve(tiny_arch_model):
    grads = stats.gradient_by_position(tiny_arch_model, [np.array([2, 3, 4, 5]), np.array([6, 7])])
    mean, _ = stats.mean_by_distance(grads)
    df = compare.gradient_frame({"tiny": mean, "one": grads[1]})
    assert len(df) == 4 + 2
    spec = charts.gradient_curve(df).to_dict()
    assert mark_type(spec) == "line"
    enc = spec["encoding"]
    assert enc["x"]["field"] == "distance" and enc["y"]["field"] == "gradient"
    assert enc["y"]["scale"]["type"] == "log"
    assert enc["color"]["field"] == "model"
    got = data_of(spec, spec)
    assert len(got) == 6 and (got["gradient"] > 0).all()
