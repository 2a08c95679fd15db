"""AppTest: opening one's own Keras model from the Train page, and the shipped seed model on every page."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from gru_core.jobs import imports

from . import apphelpers
from .apphelpers import no_exception, open_page

models_root = apphelpers.models_root  # a temporary models folder; nothing is written into the repository's


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    """A small Keras GRU of Cho et al.'s form (reset_after=False) as .keras bytes, and a word index."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((40,), dtype="int32"), keras.layers.Embedding(300, 8),
                              keras.layers.GRU(6, reset_after=False), keras.layers.Dense(1, activation="sigmoid")])
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    path = tmp_path_factory.mktemp("k") / "mine.keras"
    model.save(path)
    words = ["the", "movie", "was", "good", "bad", "great", "awful", "plot", "acting", "film"]
    index = {w: r for r, w in enumerate(words, 1)}
    return path.read_bytes(), json.dumps(index).encode(), model


def _open_import(at):
    at.switch_page("pages/train.py").run()
    no_exception(at)
    return at


def _upload(at, model: tuple[str, bytes], index: bytes | None, name: str = "mine", **numbers):
    at.file_uploader[0].upload(*model)
    if index is not None:
        at.file_uploader[1].upload("imdb_word_index.json", index, "application/json")
    next(t for t in at.text_input if t.label == "Name").set_value(name)
    for label, v in numbers.items():
        next(n for n in at.number_input if n.label == label).set_value(v)
    next(b for b in at.button if b.label == "Import").click()
    at.run()
    no_exception(at)
    return at


def test_upload_converts_and_opens_the_model_as_imported(models_root, keras_file):
    data, index, km = keras_file
    at = _open_import(apphelpers.run_app(model="gru"))
    assert at.file_uploader and len(at.file_uploader) == 2
    at = _upload(at, ("mine.keras", data), index, maxlen=40, num_words=300)
    assert any("mine (imported)" in s.value for s in at.success), [e.value for e in at.error]
    assert at.session_state["model"] == "mine (imported)"
    assert (models_root / "local" / "mine" / "model.safetensors").is_file()
    # The Explorer reads it as Keras does: its verdict equals Keras's predict on the hand-encoded review.
    at.switch_page("pages/explorer.py")
    at.session_state["review"] = "The movie was good, great acting"
    at.run()
    no_exception(at)
    caps = " ".join(c.value for c in at.caption)
    assert "padding steps" in caps and "start mark" in caps
    # padding, the start mark 1, then rank + 3: the 4, movie 5, was 6, good 7, great 9, acting 12
    ids = [0] * (40 - 7) + [1, 4, 5, 6, 7, 9, 12]
    expected = float(km.predict(np.array([ids]), verbose=0)[0, 0])
    shown = next(m.value for m in at.metric if m.label == "P(positive)")
    assert abs(float(shown) - expected) < 1e-3
    equations = " ".join(x.value for x in at.latex)
    assert r"W_{hn} (r_t \odot h_{t-1})" in equations  # Cho et al.'s candidate, not PyTorch's
    # Inside the cell follows the same form and starts word 1 from the state after the padding and start mark.
    at.switch_page("pages/cell.py").run()
    no_exception(at)
    shown = " ".join(x.value for x in at.latex)
    assert r"(r \odot h_{t-1})" in shown and "read from that state" in " ".join(c.value for c in at.caption)
    assert "followed on through those steps" in " ".join(c.value for c in at.caption)  # the BPTT into the padding
    last = float(next(m.value for m in at.metric if m.label == "P(positive)"))
    assert abs(last - expected) < 1e-3  # the verdict BPTT starts from is Keras's


@pytest.mark.parametrize("payload, name, why", [
    (("evil.keras", b"PK\x03\x04 not really a zip"), "evil", "not imported"),
    (("evil.h5", os.urandom(4096)), "evil", "not imported"),
    (("notes.txt", b"hello"), "evil", ".keras"),
    (("ok.keras", b"x"), "../escape", "Name the model"),
    (("ok.keras", b"x"), "<script>alert(1)</script>", "Name the model"),
])
def test_hostile_uploads_get_a_message(models_root, payload, name, why):
    at = _open_import(apphelpers.run_app(model="gru"))
    if payload[0].endswith(".txt"):  # the uploader itself refuses other types; the function does too
        with pytest.raises(imports.ImportRefused, match=why):
            imports.import_upload(name, payload[0], payload[1], b"{}", dest=models_root / "local")
        return
    at = _upload(at, payload, b'{"good": 1}', name)
    assert any(why in e.value for e in at.error), [e.value for e in at.error]
    assert not (models_root / "local" / "evil").exists() and not (models_root / "escape").exists()


def test_missing_word_index_and_oversized_files_get_a_message(models_root, keras_file, monkeypatch):
    data, index, _ = keras_file
    at = _upload(_open_import(apphelpers.run_app(model="gru")), ("mine.keras", data), None)
    assert any("both files" in e.value for e in at.error)
    monkeypatch.setattr(imports, "MAX_MODEL_MB", 0)
    with pytest.raises(imports.ImportRefused, match="limited to 0 MB"):
        imports.import_upload("big", "big.keras", data, index, dest=models_root / "local")


def test_an_existing_model_is_never_replaced(models_root, keras_file):
    data, index, _ = keras_file
    imports.import_upload("twice", "m.keras", data, index, 300, 40, dest=models_root / "local")
    stamp = (models_root / "local" / "twice" / "config.json").stat().st_mtime_ns
    with pytest.raises(imports.ImportRefused, match="already"):
        imports.import_upload("twice", "m.keras", data, index, 300, 40, dest=models_root / "local")
    assert (models_root / "local" / "twice" / "config.json").stat().st_mtime_ns == stamp


def test_read_only_server_offers_no_upload(models_root, monkeypatch, keras_file):
    monkeypatch.setenv("GRU_EXPLORER_READ_ONLY", "1")
    at = open_page("pages/train.py")
    assert not at.file_uploader
    assert "and so is importing your own model" in " ".join(i.value for i in at.info)
    with pytest.raises(imports.ImportRefused, match="switched off"):
        imports.import_upload("x", "m.keras", keras_file[0], keras_file[1], dest=models_root / "local")


@pytest.mark.parametrize("name, numbers, ok", [
    ("😀 model", {}, False),
    ("x" * 40, {"num_words": 1_000_000}, False),  # more words than the Embedding's rows
    ("ends-low", {"num_words": 10, "maxlen": 1, "index_from": 2}, True),
    ("ends-high", {"num_words": 300, "maxlen": 1_000, "index_from": 100}, True),
])
def test_import_controls_at_their_ends_give_a_model_or_a_message(models_root, keras_file, name, numbers, ok):
    data, index, _ = keras_file
    at = _upload(_open_import(apphelpers.run_app(model="gru")), ("mine.keras", data), index, name, **numbers)
    if ok:
        assert any(f"{name} (imported)" in s.value for s in at.success), [e.value for e in at.error]
        at.switch_page("pages/explorer.py")
        at.session_state["review"] = "good " * 5000  # a 5,000-word review on the imported model
        at.run()
        no_exception(at)
    else:
        assert at.error and not at.success
