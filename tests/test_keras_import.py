"""Importing a Keras model (gru_core/keras_import.py), checked against Keras 3 itself (torch backend, no TensorFlow).

Every supported variant is built in Keras with random weights and non-zero biases, saved as .keras and as
.h5, imported, and its P(positive) compared with Keras's own ``predict`` on 60 random id sequences of mixed
lengths, padded as Keras pads them (``keras.utils.pad_sequences`` with the start mark in front). The trace, the
step-by-step cell, the dynamics' "no word" input, occlusion, gradients, ablation and interventions are checked
on the imported models against Keras or an independent computation.
"""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":
    pytest.skip("these tests run Keras on its torch backend", allow_module_level=True)

from gru_core import cell, keras_import
from gru_core.analysis import ablation, dynamics, dynamics_report, explain, interventions
from gru_core.archs import RESET_AFTER, RESET_BEFORE
from gru_core.keras_import import KerasImportError, convert, import_keras
from gru_core.predictor import SentimentModel, load_model
from gru_core.text import Vocab

from .apphelpers import ROOT

V, E, H, MAXLEN = 60, 6, 5, 25
WORD_INDEX = {f"w{r}": r for r in range(1, 200)}  # rank r -> id r + 3
VARIANTS = {  # name -> (recurrent layer, its kwargs, mask_zero, functional, extra layers)
    "gru_reset_after": ("GRU", {"reset_after": True}, False, False, ()),
    "gru_reset_before": ("GRU", {"reset_after": False}, False, False, ("Dropout",)),
    "lstm": ("LSTM", {}, False, True, ("SpatialDropout1D",)),
    "simple_rnn": ("SimpleRNN", {}, False, False, ()),
    "gru_reset_after_masked": ("GRU", {"reset_after": True}, True, True, ()),
    "gru_reset_before_masked": ("GRU", {"reset_after": False}, True, False, ()),
    "lstm_masked": ("LSTM", {}, True, False, ("Dropout",)),
    "simple_rnn_masked": ("SimpleRNN", {}, True, True, ()),
}


def build(variant: str, seed: int = 0, return_sequences: bool = False):
    rec, kw, mask_zero, functional, extra = VARIANTS[variant]
    layers = [keras.layers.Embedding(V, E, mask_zero=mask_zero)]
    layers += [getattr(keras.layers, name)(0.3) for name in extra]
    layers += [getattr(keras.layers, rec)(H, return_sequences=return_sequences, **kw),
               keras.layers.Dense(1, activation="sigmoid")]
    if functional:
        inp = keras.Input((MAXLEN,), dtype="int32")
        x = inp
        for la in layers:
            x = la(x)
        model = keras.Model(inp, x)
    else:
        model = keras.Sequential([keras.Input((MAXLEN,), dtype="int32"), *layers])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.6, w.shape).astype("float32") for w in model.get_weights()])  # biases too
    return model


def keras_input(seqs: list[np.ndarray]) -> np.ndarray:
    """What keras.datasets.imdb + pad_sequences(maxlen) feed the model: [start] + ids, padded/cut in front."""
    return keras.utils.pad_sequences([[1, *map(int, s)] for s in seqs], maxlen=MAXLEN)


def random_seqs(n: int = 60, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = np.concatenate([[1, 2, MAXLEN - 1, MAXLEN, MAXLEN + 7], rng.integers(1, MAXLEN + 10, n - 5)])
    seqs = [rng.integers(3, V, size=k).astype(np.int64) for k in lengths]
    return [np.where(s == 3, 2, s) for s in seqs]  # 2 = unknown; ids 4.. = words (3 is never used)


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request):
    return request.param


@pytest.fixture(scope="module")
def saved(variant, tmp_path_factory):
    folder = tmp_path_factory.mktemp(variant)
    km = build(variant)
    km.save(folder / "m.keras")
    km.save(folder / "m.h5")
    (folder / "wi.json").write_text(json.dumps(WORD_INDEX))
    return km, folder


def imported(folder, fmt: str) -> SentimentModel:
    out = import_keras(folder / f"m.{fmt}", folder / "wi.json", folder / f"ckpt-{fmt}", num_words=V, maxlen=MAXLEN)
    return load_model(out)


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_p_positive_equals_keras_predict(saved, variant, fmt):
    km, folder = saved
    model = imported(folder, fmt)
    seqs = random_seqs()
    p_keras = km.predict(keras_input(seqs), verbose=0)[:, 0].astype(np.float64)
    p_ours = model.predict_ids([s[-MAXLEN:] for s in seqs])
    gap = np.abs(p_keras - p_ours).max()
    print(f"{variant} .{fmt}: max |ΔP| = {gap:.2e} over {len(seqs)} sequences")
    assert gap < 1e-5
    assert np.ptp(p_keras) > 0.05  # the weights make a difference: the comparison can fail
    rec, kw, mask_zero, *_ = VARIANTS[variant]
    assert model.gru_form == ({True: RESET_AFTER, False: RESET_BEFORE}[kw["reset_after"]] if rec == "GRU" else None)
    assert model.config["reads_padding"] is (not mask_zero) and model.module.prefix.padding is (not mask_zero)
    assert model.config["source"]["sha256"] == keras_import.sha256_file(folder / f"m.{fmt}")
    assert model.config["text"]["start_id"] == 1 and model.config["text"]["unk_id"] == 2


def test_trace_equals_keras_step_by_step(saved, variant):
    """Hidden states and the running verdict after every word equal a Keras twin with return_sequences=True."""
    km, folder = saved
    model = imported(folder, "keras")
    twin = build(variant, return_sequences=True)
    twin.set_weights(km.get_weights())
    seqs = random_seqs(12, seed=3)
    texts = [" ".join(model.vocab.word(int(i)) if i >= 4 else "zzzunknown" for i in s) for s in seqs]
    traces = model.trace(texts)
    per_step = twin.predict(keras_input(seqs), verbose=0)[..., 0]
    rec = km.get_layer(index=len(km.layers) - 2)
    hidden_model = keras.Model(km.inputs, rec.output) if VARIANTS[variant][3] else None
    for s, t, p in zip(seqs, traces, per_step):
        n = min(len(s), MAXLEN)
        assert t.ids.tolist() == s[-n:].tolist()  # typed text encodes to the same ids
        assert np.abs(t.step_proba - p[-n:]).max() < 1e-5
        assert t.padding_read == (MAXLEN - n - 1 if n < MAXLEN and not VARIANTS[variant][2] else 0)
    if hidden_model is not None:  # functional: read Keras's own final hidden state too
        h = hidden_model.predict(keras_input(seqs), verbose=0)
        assert np.abs(np.stack([t.hidden[-1] for t in traces]) - h).max() < 1e-5
    if model.arch == "gru":  # the gates recompute each step: h_t = (1 − z) n + z h_{t−1}, from h_0
        for t in traces:
            prev = np.vstack([t.h0, t.hidden[:-1]])
            z, n_ = t.gates["update"], t.gates["candidate"]
            assert np.abs((1 - z) * n_ + z * prev - t.hidden).max() < 1e-5


def test_step_by_step_cell_equals_the_fast_path(saved, variant):
    """The interventions' cell (no intervention) reads the review as the trace does, from the state after padding."""
    _, folder = saved
    model = imported(folder, "h5")
    text = " ".join(f"w{i}" for i in (3, 17, 9, 40, 2, 11))
    plain = model.trace(text)
    res = interventions.run_intervention(model, text, None, plain)
    assert abs(res.changed.proba - plain.proba) < 1e-6
    assert np.abs(res.changed.hidden - plain.hidden).max() < 1e-5


def test_a_frozen_unit_keeps_the_state_it_had_after_the_padding(saved, variant):
    """Freeze memory from the first word: the unit holds h₀, the state the padding and start mark left, not 0."""
    _, folder = saved
    model = imported(folder, "keras")
    text = "w5 w9 w30 w14 w22"
    plain = model.trace(text)
    res = interventions.run_intervention(model, text, interventions.Intervention((1,), "freeze"), plain)
    if model.arch == "lstm":  # c_k is held; h_k = o_k tanh(c_k) still follows the output gate
        c0 = plain.initial[H + 1]
        assert np.allclose(res.changed.gates["cell"][:, 1], c0, atol=1e-6)
    else:
        assert np.allclose(res.changed.hidden[:, 1], plain.h0[1], atol=1e-6)
    assert abs(plain.h0[1]) > 1e-3  # not the zero state


def test_ablation_equals_the_cell_with_units_zeroed_at_every_step(saved, variant):
    """Silencing units on a copy of the weights = the cell with h_k := 0 at every step read, padding included."""
    _, folder = saved
    model = imported(folder, "keras")
    seq = np.array([5, 9, 30, 2, 14])
    units = [1, 3]
    p_abl = ablation.ablated_proba(model, [seq], units)[0]
    module = model.module
    full = torch.as_tensor([module.prefix.ids(len(seq)) + seq.tolist()])
    if not module.prefix.padding:  # masked padding is skipped: nothing to read
        full = full[:, full[0] != 0]

    def edit(name, t, v):
        if name == "hidden":
            v = v.clone()
            v[..., units] = 0.0
        return v

    with torch.no_grad():
        x = module.embedding(full)
        hidden, _, _ = cell.run(module, x, edit, state=cell.zero_state(module, (1,)))
        p_cell = torch.sigmoid(module.dense(hidden[:, -1])).item()
    assert abs(p_abl - p_cell) < 1e-5
    assert abs(p_abl - model.predict_ids([seq])[0]) > 1e-4  # the ablation changed something


def test_occlusion_equals_keras_without_each_word(saved, variant):
    km, folder = saved
    model = imported(folder, "keras")
    text = "w1 w20 w7 w33 w2 w15"
    t = model.trace(text)
    without = [np.delete(t.ids, i) for i in range(len(t.ids))]
    expected = t.proba - km.predict(keras_input(without), verbose=0)[:, 0]
    assert np.abs(explain.occlusion(model, t) - expected).max() < 1e-5


def test_gradients_flow_through_the_padding_read(saved, variant):
    """∂logit/∂(word embeddings) equals autograd through the whole padded sequence run by the cell from zero."""
    _, folder = saved
    model = imported(folder, "keras")
    seq = np.array([4, 12, 7, 30])
    _x, grad, _ = explain.logit_gradients(model, [seq])
    module = model.module
    lead = module.prefix.ids(len(seq))
    with torch.enable_grad():
        words = module.embedding(torch.as_tensor(seq)).detach().requires_grad_(True)
        before = module.embedding(torch.as_tensor(lead, dtype=torch.long)) if lead else words[:0]
        hidden, _, _ = cell.run(module, torch.cat([before, words])[None], state=cell.zero_state(module, (1,)))
        (g,) = torch.autograd.grad(module.dense(hidden[:, -1]).sum(), words)
    assert torch.allclose(grad[0, :len(seq)], g, atol=1e-5)


@pytest.mark.parametrize("name, index", [("rnn.weight_hh_l0", (0, 1)), ("embedding.weight", (0, 2))])
def test_the_descent_pages_autograd_slope_equals_finite_differences(saved, variant, name, index):
    """Along a recurrent weight, and along the padding row (which only a model that reads padding feels)."""
    from gru_core.analysis import landscape
    from gru_core.text import pad_sequences

    _, folder = saved
    module = landscape.session_copy(imported(folder, "keras"))
    seqs = random_seqs(16, seed=5)
    batch = landscape.Batch(torch.from_numpy(pad_sequences([q[-MAXLEN:] for q in seqs], MAXLEN)),
                            torch.from_numpy((np.arange(16) % 2).astype(np.float64)))
    w = float(landscape.parameter(module, name).data[index])
    _, auto, fd = landscape.weight_slope(module, name, index, w + 0.3, batch)
    assert abs(auto - fd) < 1e-6 * max(1.0, abs(auto))
    if name == "embedding.weight":
        assert (abs(auto) > 1e-6) is module.prefix.padding  # the padding row matters only when it is read


def test_dynamics_no_word_is_what_the_padding_steps_read(saved, variant):
    """F(h, x₀) iterated from 0 gives Keras's state after a review-less input of padding (mask_zero=False)."""
    km, folder = saved
    if VARIANTS[variant][2]:
        pytest.skip("a masked model skips its padding")
    model = imported(folder, "keras")
    module = model.module
    F = dynamics.update_fn(module)
    x0 = torch.as_tensor(dynamics_report.no_word_input(module))
    assert np.linalg.norm(x0.numpy()) > 0  # the learned padding row, not zero
    D = H * (2 if model.arch == "lstm" else 1)
    h = torch.zeros(1, D, dtype=torch.float64)
    for _ in range(MAXLEN):
        h = F(h, x0[None])
    emb_layer = next(la for la in km.layers if la.__class__.__name__ == "Embedding")
    rec = next(la for la in km.layers if la.__class__.__name__ in ("GRU", "LSTM", "SimpleRNN"))
    only_pads = np.zeros((1, MAXLEN), dtype="int32")
    h_keras = keras.ops.convert_to_numpy(rec(emb_layer(only_pads)))
    assert np.abs(h[0, :H].numpy() - h_keras[0]).max() < 1e-5


def test_the_cell_page_form_is_visible_and_fresh_copies_keep_it(saved, variant):
    _, folder = saved
    model = imported(folder, "keras")
    fresh = dynamics_report.fresh_like(model.module)
    assert cell.form(fresh) == model.gru_form and fresh.prefix == model.module.prefix
    if model.gru_form == RESET_BEFORE:
        assert isinstance(model.module.rnn, cell.CellRNN)  # nn.GRU cannot run it


# --- Text as keras.datasets.imdb encodes it ------------------------------------------------------------

def test_text_encoding_against_a_hand_made_word_index(tmp_path):
    index = {"the": 1, "movie": 2, "was": 3, "good": 4, "bad": 5, "plot": 6, "don't": 7}
    vocab = Vocab.keras_imdb(index, num_words=9, index_from=3)
    # ids: the 4, movie 5, was 6, good 7, bad 8; "plot" (9) and "don't" (10) are >= num_words: unknown (2)
    assert vocab.encode(["the", "movie", "was", "good", "plot", "don't", "zebra"]) == [4, 5, 6, 7, 2, 2, 2]
    assert [vocab.word(i) for i in range(9)] == ["<pad>", "<start>", "<unk>", "<id 3>", "the", "movie", "was",
                                                 "good", "bad"]
    assert vocab.n_words == 5 and len(vocab) == 9
    km = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(9, 4), keras.layers.GRU(3),
                           keras.layers.Dense(1, activation="sigmoid")])
    rng = np.random.default_rng(0)
    km.set_weights([rng.normal(0, 0.8, w.shape).astype("float32") for w in km.get_weights()])
    km.save(tmp_path / "m.keras")
    (tmp_path / "wi.json").write_text(json.dumps(index))
    model = load_model(import_keras(tmp_path / "m.keras", tmp_path / "wi.json", tmp_path / "c", num_words=9, maxlen=6))
    cases = {  # typed text -> what Keras is fed, by hand
        "The movie was GOOD!": [0, 1, 4, 5, 6, 7],
        "Bad plot.": [0, 0, 0, 1, 8, 2],
        "the the the the the bad": [4, 4, 4, 4, 4, 8],  # 6 words fill maxlen: the start mark is cut, as Keras cuts
        "<br />movie don't": [0, 0, 0, 1, 5, 2],
    }
    p = km.predict(np.array(list(cases.values())), verbose=0)[:, 0]
    assert np.abs(model.predict_proba(list(cases)) - p).max() < 1e-5
    assert model.trace("Bad plot.").padding_read == 3 and model.trace("Bad plot.").start_mark
    assert model.trace("the the the the the bad").padding_read == 0
    assert not model.trace("the the the the the bad").start_mark


def test_the_imdb_archive_is_read_as_keras_reads_it(imdb_test, tmp_path):
    """Archive reviews through the app (their text, our tokenizer, Vocab.keras_imdb, the prefix) give Keras's
    predict on the ids the training script builds with plain dict look-ups (start mark, rank + 3, >= num_words
    -> 2, pad_sequences)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_keras_seed", ROOT / "tools" / "train_keras_seed.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    sub = imdb_test.subset(range(0, 25_000, 1250))  # 20 reviews, both labels, long ones cut to maxlen
    index = tool.word_index(sub.tokens[:10])  # the other ten reviews bring words it has never seen
    km = keras.Sequential([keras.Input((tool.MAXLEN,), dtype="int32"), keras.layers.Embedding(tool.NUM_WORDS, 4),
                           keras.layers.GRU(3, reset_after=False), keras.layers.Dense(1, activation="sigmoid")])
    rng = np.random.default_rng(0)
    km.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in km.get_weights()])
    km.save(tmp_path / "m.keras")
    (tmp_path / "wi.json").write_text(json.dumps(index))
    model = load_model(import_keras(tmp_path / "m.keras", tmp_path / "wi.json", tmp_path / "c"))
    x = keras.utils.pad_sequences(tool.encode(sub.tokens, index), maxlen=tool.MAXLEN)
    assert (x == 2).any() and (x[:, 0] == 0).any() and (x[:, 0] > 2).any()  # unknown words, padded and cut rows
    assert np.abs(model.predict_proba(sub.texts) - km.predict(x, verbose=0)[:, 0]).max() < 1e-5


# --- Refusals and hostile files -------------------------------------------------------------------------

def _save(model, path):
    model.save(path)
    return path


REFUSED = {
    "bidirectional": (lambda: [keras.layers.Embedding(V, E), keras.layers.Bidirectional(keras.layers.GRU(H)),
                               keras.layers.Dense(1, activation="sigmoid")], "Bidirectional"),
    "stacked": (lambda: [keras.layers.Embedding(V, E), keras.layers.GRU(H, return_sequences=True),
                         keras.layers.GRU(H), keras.layers.Dense(1, activation="sigmoid")], "stacked"),
    "conv1d": (lambda: [keras.layers.Embedding(V, E), keras.layers.Conv1D(4, 3), keras.layers.GRU(H),
                        keras.layers.Dense(1, activation="sigmoid")], "Conv1D"),
    "hard_sigmoid": (lambda: [keras.layers.Embedding(V, E), keras.layers.GRU(H, recurrent_activation="hard_sigmoid"),
                              keras.layers.Dense(1, activation="sigmoid")], "hard_sigmoid"),
    "softmax_head": (lambda: [keras.layers.Embedding(V, E), keras.layers.LSTM(H),
                              keras.layers.Dense(2, activation="softmax")], "Dense(1, sigmoid)"),
    "return_sequences": (lambda: [keras.layers.Embedding(V, E), keras.layers.GRU(H, return_sequences=True),
                                  keras.layers.Dense(1, activation="sigmoid")], "return_sequences"),
    "no_embedding": (lambda: [keras.layers.Dense(4), keras.layers.Dense(1, activation="sigmoid")], "Embedding"),
}


@pytest.mark.parametrize("case", list(REFUSED))
@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_unsupported_models_are_refused_naming_the_layer(case, fmt, tmp_path):
    layers, named = REFUSED[case]
    shape = (MAXLEN,)
    km = keras.Sequential([keras.Input(shape, dtype="int32" if case != "no_embedding" else "float32"), *layers()])
    path = _save(km, tmp_path / f"m.{fmt}")
    with pytest.raises(KerasImportError) as err:
        convert(path, WORD_INDEX, num_words=V, maxlen=MAXLEN)
    msg = str(err.value)
    assert named in msg and "Supported:" in msg


def _rewrite_config(src, dst, change) -> None:
    """A copy of a .keras file with its config.json changed by ``change(config)``."""
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    change(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(dst, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)


@pytest.fixture(scope="module")
def plain_keras(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plain")
    return _save(build("gru_reset_after"), folder / "m.keras")


@pytest.mark.parametrize("layer", [
    {"module": "keras.layers", "class_name": "Lambda", "config": {"name": "evil", "function": {
        "class_name": "__lambda__", "config": {"code": "", "defaults": None, "closure": None}}}},
    {"module": "keras.layers", "class_name": "TextVectorization", "config": {"name": "tv"}},
    {"module": "my_package.layers", "class_name": "Mystery", "registered_name": "Custom>Mystery",
     "config": {"name": "mystery"}},
])
def test_lambda_text_vectorization_and_unknown_layers_are_refused_never_run(plain_keras, tmp_path, layer):
    marker = tmp_path / "ran"
    if layer["class_name"] == "Lambda":  # code that would leave a file behind if anything ran it
        layer["config"]["function"]["config"]["code"] = f"open({str(marker)!r}, 'w').write('x')"
    dst = tmp_path / "hostile.keras"
    _rewrite_config(plain_keras, dst, lambda c: c["config"]["layers"].insert(2, layer))
    with pytest.raises(KerasImportError, match=layer["config"]["name"]):
        convert(dst, WORD_INDEX, num_words=V, maxlen=MAXLEN)
    assert not marker.exists()


def test_a_zip_bomb_is_refused_before_it_is_unpacked(plain_keras, tmp_path, monkeypatch):
    dst = tmp_path / "bomb.keras"
    with zipfile.ZipFile(plain_keras) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", members["config.json"])
        z.writestr("metadata.json", members["metadata.json"])
        with z.open("model.weights.h5", "w", force_zip64=True) as f:
            block = bytes(1 << 20)
            for _ in range(40):
                f.write(block)  # 40 MB of zeros: a few kB on disk
    assert dst.stat().st_size < 200_000
    monkeypatch.setitem(keras_import.MAX_MEMBER_BYTES, "model.weights.h5", 16 * 2**20)
    with pytest.raises(KerasImportError, match="zip bomb"):
        convert(dst, WORD_INDEX, num_words=V, maxlen=MAXLEN)


def test_a_zip_member_longer_than_its_header_says_is_refused(plain_keras, tmp_path):
    """A header that understates a member's size is not trusted: reading stops at the size it gives."""
    dst = tmp_path / "lying.keras"
    with zipfile.ZipFile(plain_keras) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(dst, "w") as z:  # stored (no compression): sizes sit in the local and central headers
        for n, data in members.items():
            z.writestr(n, data)
    raw = bytearray(dst.read_bytes())
    with zipfile.ZipFile(dst) as z:
        info = z.getinfo("config.json")
    true = info.file_size.to_bytes(4, "little")
    small = (info.file_size // 2).to_bytes(4, "little")
    raw = raw.replace(true + true, small + small)  # compress_size + file_size in both headers
    dst.write_bytes(bytes(raw))
    with pytest.raises(KerasImportError):
        convert(dst, WORD_INDEX, num_words=V, maxlen=MAXLEN)


def test_the_file_size_is_bounded(plain_keras, monkeypatch):
    monkeypatch.setattr(keras_import, "MAX_FILE_BYTES", 1000)
    with pytest.raises(KerasImportError, match="over the"):
        convert(plain_keras, WORD_INDEX, num_words=V, maxlen=MAXLEN)


def _legacy(tmp_path) -> tuple:
    """A legacy .h5 file and the name of its Embedding's weights group."""
    path = tmp_path / "m.h5"
    km = build("lstm")
    km.save(path)
    return path, "model_weights/" + next(la.name for la in km.layers if la.__class__.__name__ == "Embedding")


def test_an_h5_link_to_another_file_is_refused(tmp_path):
    import h5py

    path, emb = _legacy(tmp_path)
    secret = tmp_path / "secret.h5"
    with h5py.File(path, "r") as src, h5py.File(secret, "w") as other:
        src.copy(src[emb], other, "embedding")
    with h5py.File(path, "a") as f:
        del f[emb]
        f[emb] = h5py.ExternalLink(str(secret), "/embedding")
    with pytest.raises(KerasImportError, match="links outside"):
        convert(path, WORD_INDEX, num_words=V, maxlen=MAXLEN)


def test_an_h5_dataset_stored_outside_the_file_is_refused(tmp_path):
    import h5py

    path, emb = _legacy(tmp_path)
    raw = tmp_path / "outside.bin"
    raw.write_bytes(np.zeros((V, E), np.float32).tobytes())
    with h5py.File(path, "a") as f:
        group = f[emb]
        name = next(n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"])
        del group[name]
        group.create_dataset(name, shape=(V, E), dtype="f4", external=[(str(raw), 0, V * E * 4)])
    with pytest.raises(KerasImportError, match="outside the file"):
        convert(path, WORD_INDEX, num_words=V, maxlen=MAXLEN)


def test_weights_that_do_not_match_the_config_are_refused(plain_keras, tmp_path):
    dst = tmp_path / "wrong.keras"

    def more_units(c):
        for la in c["config"]["layers"]:
            if la["class_name"] == "GRU":
                la["config"]["units"] = H + 3

    _rewrite_config(plain_keras, dst, more_units)
    with pytest.raises(KerasImportError, match="shape"):
        convert(dst, WORD_INDEX, num_words=V, maxlen=MAXLEN)


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"PK\x03\x04broken zip", b"\x89HDF\r\n\x1a\nxx"])
def test_files_that_are_not_models_get_a_message(tmp_path, content):
    path = tmp_path / "m.keras"
    path.write_bytes(content)
    with pytest.raises(KerasImportError):
        convert(path, WORD_INDEX, num_words=V, maxlen=MAXLEN)


@pytest.mark.parametrize("index, match", [
    ([1, 2, 3], "JSON object"), ({"a": 1, "b": 1}, "both"), ({"a": "one"}, "ranks"), ({"a": 0}, "ranks"),
])
def test_bad_word_indexes_are_refused(plain_keras, tmp_path, index, match):
    path = tmp_path / "wi.json"
    path.write_text(json.dumps(index))
    with pytest.raises(KerasImportError, match=match):
        import_keras(plain_keras, path, tmp_path / "out", num_words=V, maxlen=MAXLEN)
    assert not (tmp_path / "out").exists()


def test_more_words_than_embedding_rows_is_refused(plain_keras):
    with pytest.raises(KerasImportError, match="num-words"):
        convert(plain_keras, WORD_INDEX, num_words=V + 1, maxlen=MAXLEN)
