"""Model sizes, exactness of the gate trace, padding invariance, and SentimentModel (predictor.py)."""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from gru_core.archs import ARCHS as SPECS
from gru_core.archs import NAMES as ARCHS
from gru_core.model import SentimentRNN, left_align, parameter_counts
from gru_core.predictor import SentimentModel
from gru_core.text import PAD_ID, UNK_ID, pad_sequences
from gru_core.trace import trace_ids

from .tiny import clone_state, same_state, tiny_model, tiny_module

V, E, H = 50, 8, 6
ATOL = 1e-5


tiny = partial(tiny_module, vocab_size=V, embed=E, hidden=H, std=0.5)


def rand_ids(n: int, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed)
    return g.integers(1, V, size=n).astype(np.int64)  # includes UNK (1), never PAD (0)


def weights(m: SentimentRNN) -> dict[str, np.ndarray]:
    return {k: v.detach().double().numpy() for k, v in m.state_dict().items()}


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# --------------------------------------------------------------------------- parameter counts


def test_parameter_counts_gru_default_is_keras_seed_model():
    c = parameter_counts(SentimentRNN("gru"))
    assert c == {"embedding": 500_000, "rnn": 60_600, "dense": 101, "total": 560_701}


@pytest.mark.parametrize("arch, rnn", [("lstm", 80_800), ("rnn", 20_200)])
def test_parameter_counts_other_archs(arch, rnn):
    c = parameter_counts(SentimentRNN(arch))
    assert c["embedding"] == 500_000 and c["dense"] == 101 and c["rnn"] == rnn
    assert c["total"] == 500_000 + rnn + 101


def test_unknown_arch_rejected():
    with pytest.raises(ValueError):
        SentimentRNN("transformer", V, E, H)


def test_init_pad_row_zero_and_lstm_forget_bias():
    torch.manual_seed(0)
    m = SentimentRNN("lstm", V, E, H)
    assert torch.count_nonzero(m.embedding.weight[PAD_ID]) == 0
    b = m.rnn.bias_ih_l0.detach()
    assert torch.all(b[H:2 * H] == 1.0)
    assert torch.all(b[:H] == 0.0) and torch.all(b[2 * H:] == 0.0)


# --------------------------------------------------------------------------- trace exactness


def native(m: SentimentRNN, ids: np.ndarray):
    with torch.no_grad():
        x = m.embedding(torch.as_tensor(ids)[None])
        out, state = m.rnn(x)
    return out[0].numpy(), state


@pytest.mark.parametrize("arch", ARCHS)
def test_trace_gate_names_and_shapes(arch):
    m = tiny(arch)
    r = trace_ids(m, [rand_ids(7, 1)])[0]
    assert set(r["gates"]) == set(SPECS[arch].traced)
    assert r["hidden"].shape == (7, H)
    assert r["step_proba"].shape == (7,)
    for g in r["gates"].values():
        assert g.shape == (7, H)
        assert np.isfinite(g).all()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("n", [1, 5, 60])
def test_trace_hidden_equals_native(arch, n):
    m = tiny(arch, seed=n)
    ids = rand_ids(n, n)
    r = trace_ids(m, [ids])[0]
    out, _ = native(m, ids)
    np.testing.assert_allclose(r["hidden"], out, atol=1e-6)
    # the running verdict is the output layer applied to every hidden state
    w = weights(m)
    expect = sigmoid(r["hidden"].astype(np.float64) @ w["dense.weight"][0] + w["dense.bias"][0])
    np.testing.assert_allclose(r["step_proba"], expect, atol=1e-6)


@pytest.mark.parametrize("n", [5, 80])
def test_gru_hidden_follows_from_traced_gates(n):
    m = tiny("gru", seed=3)
    r = trace_ids(m, [rand_ids(n, 3)])[0]
    z, c, h = r["gates"]["update"], r["gates"]["candidate"], r["hidden"]
    h_prev = np.vstack([np.zeros((1, H)), h[:-1]])
    np.testing.assert_allclose((1 - z) * c + z * h_prev, h, atol=ATOL)
    # gates are not trivial (the weights are large and random)
    assert z.std() > 0.05 and r["gates"]["reset"].std() > 0.05


@pytest.mark.parametrize("n", [5, 80])
def test_lstm_cell_and_hidden_follow_from_traced_gates(n):
    m = tiny("lstm", seed=4)
    ids = rand_ids(n, 4)
    r = trace_ids(m, [ids])[0]
    g = r["gates"]
    i, f, cc, o, cell = g["input"], g["forget"], g["cell_candidate"], g["output"], g["cell"]
    c = np.zeros(H)
    for t in range(n):
        c = f[t] * c + i[t] * cc[t]
        np.testing.assert_allclose(cell[t], c, atol=ATOL)
        np.testing.assert_allclose(o[t] * np.tanh(cell[t]), r["hidden"][t], atol=ATOL)
    _, (h_n, c_n) = native(m, ids)
    np.testing.assert_allclose(cell[-1], c_n[0, 0].numpy(), atol=ATOL)
    np.testing.assert_allclose(r["hidden"][-1], h_n[0, 0].numpy(), atol=1e-6)


@pytest.mark.parametrize("n", [5, 200])
def test_rnn_matches_manual_tanh_recurrence(n):
    m = tiny("rnn", seed=5)
    ids = rand_ids(n, 5)
    r = trace_ids(m, [ids])[0]
    w = weights(m)
    h = np.zeros(H)
    for t, idx in enumerate(ids):
        x = w["embedding.weight"][idx]
        h = np.tanh(w["rnn.weight_ih_l0"] @ x + w["rnn.bias_ih_l0"] + w["rnn.weight_hh_l0"] @ h + w["rnn.bias_hh_l0"])
        np.testing.assert_allclose(r["hidden"][t], h, atol=ATOL)


def reference_gru(m: SentimentRNN, ids: np.ndarray) -> dict[str, np.ndarray]:
    """The GRU equations step by step in float64, PyTorch's gate order (r, z, n)."""
    w = weights(m)
    W_ih, W_hh, b_ih, b_hh = w["rnn.weight_ih_l0"], w["rnn.weight_hh_l0"], w["rnn.bias_ih_l0"], w["rnn.bias_hh_l0"]
    W_ir, W_iz, W_in = W_ih[:H], W_ih[H:2 * H], W_ih[2 * H:]
    W_hr, W_hz, W_hn = W_hh[:H], W_hh[H:2 * H], W_hh[2 * H:]
    b_ir, b_iz, b_in = b_ih[:H], b_ih[H:2 * H], b_ih[2 * H:]
    b_hr, b_hz, b_hn = b_hh[:H], b_hh[H:2 * H], b_hh[2 * H:]
    h = np.zeros(H)
    rows = {"reset": [], "update": [], "candidate": [], "hidden": [], "proba": []}
    for idx in ids:
        x = w["embedding.weight"][idx]
        r = sigmoid(W_ir @ x + b_ir + W_hr @ h + b_hr)
        z = sigmoid(W_iz @ x + b_iz + W_hz @ h + b_hz)
        n = np.tanh(W_in @ x + b_in + r * (W_hn @ h + b_hn))
        h = (1 - z) * n + z * h
        rows["reset"].append(r)
        rows["update"].append(z)
        rows["candidate"].append(n)
        rows["hidden"].append(h)
        rows["proba"].append(sigmoid(w["dense.weight"][0] @ h + w["dense.bias"][0]))
    return {k: np.array(v) for k, v in rows.items()}


@pytest.mark.parametrize("n, seed", [(5, 0), (500, 1), (500, 2)])
def test_gru_trace_matches_independent_reference(n, seed):
    m = tiny("gru", seed=seed)
    ids = rand_ids(n, seed)
    r = trace_ids(m, [ids])[0]
    ref = reference_gru(m, ids)
    for gate in ("reset", "update", "candidate"):
        np.testing.assert_allclose(r["gates"][gate], ref[gate], atol=ATOL, err_msg=gate)
    np.testing.assert_allclose(r["hidden"], ref["hidden"], atol=ATOL)
    np.testing.assert_allclose(r["step_proba"], ref["proba"], atol=ATOL)
    assert ref["update"].max() - ref["update"].min() > 0.5  # non-trivial gates


@pytest.mark.parametrize("arch", ARCHS)
def test_batch_trace_equals_tracing_each_alone(arch):
    m = tiny(arch, seed=7)
    seqs = [rand_ids(n, 100 + n) for n in (9, 1, 30, 4, 17)]
    together = trace_ids(m, seqs)
    assert len(together) == len(seqs)
    for s, r in zip(seqs, together):
        alone = trace_ids(m, [s])[0]
        assert r["hidden"].shape == (len(s), H)
        np.testing.assert_allclose(r["hidden"], alone["hidden"], atol=1e-6)
        np.testing.assert_allclose(r["step_proba"], alone["step_proba"], atol=1e-6)
        for k in alone["gates"]:
            np.testing.assert_allclose(r["gates"][k], alone["gates"][k], atol=1e-6, err_msg=k)


def test_trace_empty_sequence_raises():
    with pytest.raises(ValueError):
        trace_ids(tiny("gru"), [rand_ids(3, 0), np.array([], dtype=np.int64)])


# --------------------------------------------------------------------------- padding invariance


def test_left_align_moves_words_to_front():
    ids = torch.tensor([[0, 0, 5, 6], [7, 8, 9, 2], [0, 0, 0, 4]])
    lengths = (ids != PAD_ID).sum(1)
    np.testing.assert_array_equal(left_align(ids, lengths).numpy(), [[5, 6, 0, 0], [7, 8, 9, 2], [4, 0, 0, 0]])


@pytest.mark.parametrize("arch", ARCHS)
def test_forward_on_padded_batch_equals_each_review_alone(arch):
    m = tiny(arch, seed=11)
    seqs = [rand_ids(n, 200 + n) for n in (3, 12, 1, 7, 12, 5)]
    batch = torch.from_numpy(pad_sequences(seqs, 15))
    with torch.no_grad():
        logits = m(batch).numpy()
        alone = [m(torch.as_tensor(s)[None]).item() for s in seqs]
        # extra leading padding changes nothing either
        more_pad = m(torch.from_numpy(pad_sequences(seqs, 40))).numpy()
    assert logits.shape == (len(seqs),)
    np.testing.assert_allclose(logits, alone, atol=1e-5)
    np.testing.assert_allclose(more_pad, alone, atol=1e-5)
    # the last traced step is the model's verdict
    tr = trace_ids(m, seqs)
    np.testing.assert_allclose([r["step_proba"][-1] for r in tr], 1 / (1 + np.exp(-np.array(alone))), atol=1e-6)


def test_forward_all_padding_row_raises():
    m = tiny("gru")
    with pytest.raises(ValueError):
        m(torch.tensor([[0, 0, 3], [0, 0, 0]]))


@pytest.mark.parametrize("ids", [[[5, 6, 0, 0]], [[0, 5, 6], [5, 0, 6]], [[0, 0, 7], [4, 5, 0]]])
def test_forward_refuses_padding_after_a_word(ids):
    """Read as pre-padded, [5, 6, 0, 0] would lose its words and answer logit 0: refused instead."""
    m = tiny("gru")
    with pytest.raises(ValueError, match="after a word.*pre-padded"):
        m(torch.tensor(ids))


def test_pre_padded_rows_still_read_and_name_the_bad_row():
    m = tiny("gru", seed=2)
    with torch.no_grad():
        ok = m(torch.tensor([[0, 0, 5, 6], [7, 8, 9, 2]]))
        # the native layer on the words alone, no padding anywhere
        for row, words in zip(ok, ([5, 6], [7, 8, 9, 2]), strict=True):
            out, _ = m.rnn(m.embedding(torch.tensor([words])))
            assert row.item() == pytest.approx(m.dense(out[0, -1]).item(), abs=1e-6)
    with pytest.raises(ValueError, match="row 1 "):
        m(torch.tensor([[0, 0, 5, 6], [7, 8, 0, 0]]))


# --------------------------------------------------------------------------- SentimentModel

WORDS = ["good", "bad", "movie", "great", "awful", "the", "was", "don't", "plot", "acting"]


def sentiment_model(arch: str = "gru", maxlen: int = 20, seed: int = 0) -> SentimentModel:
    """``tiny(arch, seed=seed)`` with a vocabulary of these words, filled up with w0, w1, ... to V entries."""
    sm = tiny_model(arch, seed=seed, maxlen=maxlen, words=WORDS + [f"w{i}" for i in range(V - 2 - len(WORDS))],
                    embed=E, hidden=H, std=0.5)
    assert len(sm.vocab) == V
    return sm


@pytest.mark.parametrize("arch", ARCHS)
def test_trace_proba_equals_predict_proba(arch):
    sm = sentiment_model(arch)
    for text in ["The movie was GOOD", "bad", "Don’t watch: awful acting, the plot was bad!",
                 "good " * 30]:
        tr = sm.trace(text)
        p = sm.predict_proba([text])[0]
        assert abs(tr.proba - p) < 1e-6
        # every per-word verdict is the native layer's, run on the words alone (no padding, no trace code)
        with torch.no_grad():
            out, _ = sm.module.rnn(sm.module.embedding(torch.as_tensor(tr.ids)[None]))
            native = torch.sigmoid(sm.module.dense(out[0])).squeeze(-1).double().numpy()
        np.testing.assert_allclose(tr.step_proba, native, atol=1e-6)
        assert 0.0 < tr.proba < 1.0
        assert tr.arch == arch


def test_trace_tokens_are_original_substrings():
    sm = sentiment_model()
    text = "  The MOVIE<br />was Don\u2019t-GOOD!! 日本 "
    tr = sm.trace(text)
    assert tr.tokens == ["The", "MOVIE", "was", "Don\u2019t", "GOOD", "日本"]
    assert tr.words == ["the", "movie", "was", "don't", "good", "日本"]
    assert [text[a:b] for a, b in tr.spans] == tr.tokens
    assert tr.ids.tolist() == [sm.vocab.id(w) for w in tr.words]
    assert tr.known.tolist() == [True, True, True, True, True, False]
    assert not tr.truncated and tr.total_tokens == 6
    assert tr.used_from == 2
    assert tr.text == text


def test_truncation_keeps_last_words():
    sm = sentiment_model(maxlen=5)
    words = [f"w{i}" for i in range(12)]
    text = " ".join(words)
    tr = sm.trace(text)
    assert tr.truncated
    assert tr.total_tokens == 12
    assert tr.tokens == words[-5:]
    assert tr.used_from == text.index("w7")
    assert len(tr.step_proba) == 5 and tr.hidden.shape == (5, H)
    # predict_proba reads the same last 5 words
    assert abs(sm.predict_proba([text])[0] - sm.predict_proba([" ".join(words[-5:])])[0]) < 1e-7
    assert abs(sm.predict_proba([text])[0] - tr.proba) < 1e-6


def test_exactly_maxlen_words_not_truncated():
    sm = sentiment_model(maxlen=5)
    tr = sm.trace("a b c d e")
    assert not tr.truncated and tr.total_tokens == 5


def test_only_unknown_words_still_valid():
    sm = sentiment_model()
    tr = sm.trace("zzzq qqqz xyzzy")
    assert tr.ids.tolist() == [UNK_ID] * 3
    assert not tr.known.any()
    assert 0.0 < tr.proba < 1.0 and np.isfinite(tr.hidden).all()
    assert abs(sm.predict_proba(["zzzq qqqz xyzzy"])[0] - tr.proba) < 1e-6


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "!!! ... ???", "😀😀", "<br /><br/>", "___", "\x00\x01"])
def test_no_words_raises(text):
    sm = sentiment_model()
    with pytest.raises(ValueError, match="no words"):
        sm.trace(text)
    with pytest.raises(ValueError, match="no words"):
        sm.predict_proba([text])


def test_no_words_in_a_batch_names_the_review():
    sm = sentiment_model()
    with pytest.raises(ValueError, match="review 2: .*no words"):
        sm.predict_proba(["good", "...", "bad"])


def test_non_text_rejected():
    sm = sentiment_model()
    with pytest.raises(ValueError):
        sm.predict_proba([None])  # type: ignore[list-item]


def test_one_megabyte_paste():
    sm = sentiment_model(maxlen=20)
    text = ("the movie was good but the plot was awful " * 30_000)[: 1 << 20]
    assert len(text) == 1 << 20
    tr = sm.trace(text)
    assert len(tr.tokens) == 20
    assert tr.truncated and tr.total_tokens > 100_000
    assert abs(sm.predict_proba([text])[0] - tr.proba) < 1e-6


@pytest.mark.parametrize("text", [
    "😀 great movie 👍🏽", "日本語の映画 good", "مرحبا good فيلم", "\u202egood\u202c movie",
    "bad\x00movie\x07\x1b[31m", "<script>alert('bad')</script><br />good", "e\u0301 İ ß ﬁ",
    "a" * 10_000, "\ud7ff\uffff\U0010ffff good",
])
def test_unusual_text_does_not_crash(text):
    sm = sentiment_model()
    tr = sm.trace(text)
    assert 0.0 < tr.proba < 1.0
    assert [text[a:b] for a, b in tr.spans] == tr.tokens
    assert abs(sm.predict_proba([text])[0] - tr.proba) < 1e-6


def test_predict_many_matches_one_by_one_and_keeps_order():
    sm = sentiment_model("lstm", maxlen=10)
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 25)))) for _ in range(23)]
    batched = sm.predict_proba(texts, batch_size=4)
    single = np.array([sm.predict_proba([t])[0] for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-6)
    traces = sm.trace(texts)
    assert isinstance(traces, list) and len(traces) == len(texts)
    np.testing.assert_allclose([t.proba for t in traces], single, atol=1e-6)
    assert sm.predict_proba([]).shape == (0,)


def test_batches_at_once_on_worker_threads_give_the_same_verdicts():
    sm = sentiment_model("gru", maxlen=12)
    rng = np.random.default_rng(1)
    texts = [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 30)))) for _ in range(57)]
    threads = torch.get_num_threads()
    serial = sm.predict_proba(texts, batch_size=5)
    # each batch is computed as alone; only one torch thread instead of several may round differently
    np.testing.assert_allclose(sm.predict_proba(texts, batch_size=5, workers=3), serial, atol=1e-6, rtol=0)
    assert torch.get_num_threads() == threads  # the process's torch threads are given back
    seqs = [sm.encode(t)[1] for t in texts]
    np.testing.assert_allclose(sm.final_states(seqs, 5), sm._by_length(
        seqs, 5, sm.module.final_hidden, np.float32, (sm.module.rnn.hidden_size,), workers=2), atol=1e-6, rtol=0)
    for t in texts + ["  <br />Good!! movie's “quote”  ", "x" * 3]:  # the ids-only path reads the same ids
        np.testing.assert_array_equal(sm.encode_ids(t), sm.encode(t)[1])
    with pytest.raises(ValueError, match="no words"):
        sm.encode_ids("!!! ...")


def test_model_is_not_changed_by_use():
    sm = sentiment_model()
    before = clone_state(sm.module)
    sm.trace("good movie")
    sm.predict_proba(["bad movie", "great"])
    assert same_state(sm.module, before)
