"""Checkpoint folders: round trip, every damaged-file case, atomic replacement, no pickle."""
from __future__ import annotations

import ast
import hashlib
import json
import os
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

import gru_core.checkpoint as ckpt_mod
from gru_core.atomic import write_atomic, write_json_atomic
from gru_core.checkpoint import CheckpointError, list_checkpoints, load_checkpoint, save_checkpoint, sha256_file
from gru_core.predictor import SentimentModel, load_model
from gru_core.text import Vocab

from .tiny import tiny_module

REPO = Path(__file__).resolve().parent.parent
V, E, H = 50, 8, 6
TEXTS = ["good movie", "bad plot, awful acting", "the w3 w4 w5 zzz", "Don't"]


tiny = partial(tiny_module, vocab_size=V, embed=E, hidden=H, std=0.5, freeze=False)


def vocab() -> Vocab:
    words = ["good", "bad", "movie", "plot", "awful", "acting", "the", "don't"]
    return Vocab(words + [f"w{i}" for i in range(V - 2 - len(words))])


@pytest.fixture
def saved(tmp_path):
    """(folder, in-memory SentimentModel) for a freshly saved GRU checkpoint."""
    m, v = tiny(), vocab()
    folder = save_checkpoint(tmp_path / "models" / "gru", m, v, maxlen=20, metrics={"val_acc": 0.5})
    return folder, SentimentModel(m, v, {"maxlen": 20})


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


def _write_config(folder: Path, cfg: dict) -> None:
    (folder / "config.json").write_text(json.dumps(cfg), encoding="utf-8")


def _load_error(folder: Path) -> CheckpointError:
    with pytest.raises(CheckpointError) as ei:
        load_model(folder)
    return ei.value


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("arch", ["gru", "lstm", "rnn"])
def test_round_trip_identical_predictions(tmp_path, arch):
    m, v = tiny(arch, seed=3), vocab()
    folder = save_checkpoint(tmp_path / arch, m, v, maxlen=7, metrics={"note": "x"})
    assert folder == tmp_path / arch
    for name in ("model.safetensors", "config.json", "vocab.json", "metrics.json"):
        assert (folder / name).is_file(), name
    loaded = load_model(folder)
    assert loaded.arch == arch and loaded.maxlen == 7 and loaded.name == arch
    assert loaded.vocab.words == v.words
    assert loaded.metrics["note"] == "x"
    m.requires_grad_(False)  # as loaded: torch picks another nn.RNN kernel for trainable weights (~3e-8 apart)
    original = SentimentModel(m, v, {"maxlen": 7})
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), original.predict_proba(TEXTS))
    for k, t in m.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[k], t), k
    # loaded modules are read-only and in eval mode
    assert not loaded.module.training
    assert not any(p.requires_grad for p in loaded.module.parameters())


def test_config_records_sha256_and_sizes(saved):
    folder, _ = saved
    cfg = _config(folder)
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert cfg["weights_sha256"] == digest == sha256_file(folder / "model.safetensors")
    assert json.loads((folder / "metrics.json").read_text())["weights_sha256"] == digest
    assert json.loads((folder / "metrics.json").read_text())["val_acc"] == 0.5
    assert {k: cfg[k] for k in ("arch", "vocab_size", "embed_dim", "hidden", "maxlen", "padding", "truncating")} == {
        "arch": "gru", "vocab_size": V, "embed_dim": E, "hidden": H, "maxlen": 20,
        "padding": "pre", "truncating": "pre"}


def test_metrics_optional(saved):
    folder, mem = saved
    (folder / "metrics.json").unlink()
    loaded = load_model(folder)
    assert loaded.metrics == {}
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), mem.predict_proba(TEXTS))


# --------------------------------------------------------------------------- damaged checkpoints


def test_missing_folder(tmp_path):
    folder = tmp_path / "nope"
    err = _load_error(folder)
    assert str(folder) in str(err)
    assert "does not exist" in str(err)


def test_missing_weights(saved):
    folder, _ = saved
    (folder / "model.safetensors").unlink()
    err = _load_error(folder)
    assert err.file.name == "model.safetensors"
    assert "model.safetensors" in str(err) and "missing" in str(err)


def test_truncated_weights(saved):
    folder, _ = saved
    w = folder / "model.safetensors"
    data = w.read_bytes()
    w.write_bytes(data[: len(data) // 2])
    err = _load_error(folder)
    assert err.file.name == "model.safetensors" and "model.safetensors" in str(err)
    assert "SHA-256" in str(err)


@pytest.mark.parametrize("cut", [0, 4, 0.5])
def test_truncated_weights_with_matching_sha(saved, cut):
    # The safetensors parser itself must also be turned into a CheckpointError.
    folder, _ = saved
    w = folder / "model.safetensors"
    data = w.read_bytes()
    w.write_bytes(data[: int(len(data) * cut) if isinstance(cut, float) else cut])
    cfg = _config(folder)
    cfg["weights_sha256"] = hashlib.sha256(w.read_bytes()).hexdigest()
    _write_config(folder, cfg)
    err = _load_error(folder)
    assert err.file.name == "model.safetensors" and "model.safetensors" in str(err)


@pytest.mark.parametrize("value", ["missing", None, ""])
def test_missing_sha_is_refused(saved, value):
    folder, _ = saved
    cfg = _config(folder)
    if value == "missing":
        del cfg["weights_sha256"]
    else:
        cfg["weights_sha256"] = value
    _write_config(folder, cfg)
    err = _load_error(folder)
    assert err.file.name == "config.json" and "weights_sha256" in str(err)


@pytest.mark.parametrize("name", ["gru", "lstm", "rnn"])
def test_shipped_configs_record_the_weights_sha(name):
    folder = REPO / "models" / name
    assert _config(folder)["weights_sha256"] == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


def test_changed_weights(saved):
    folder, _ = saved
    w = folder / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-3] ^= 0xFF
    w.write_bytes(bytes(data))
    err = _load_error(folder)
    assert err.file.name == "model.safetensors" and "model.safetensors" in str(err)
    assert "SHA-256" in str(err)


def test_config_invalid_json(saved):
    folder, _ = saved
    (folder / "config.json").write_text('{"arch": "gru", ', encoding="utf-8")
    err = _load_error(folder)
    assert err.file.name == "config.json" and "config.json" in str(err)


@pytest.mark.parametrize("content", [b"[1, 2]", b"\xff\xfe\x00", b""])
def test_config_not_an_object_or_not_text(saved, content):
    folder, _ = saved
    (folder / "config.json").write_bytes(content)
    err = _load_error(folder)
    assert err.file.name == "config.json"


def test_config_missing(saved):
    folder, _ = saved
    (folder / "config.json").unlink()
    err = _load_error(folder)
    assert err.file.name == "config.json" and "missing" in str(err)


def test_vocab_missing(saved):
    folder, _ = saved
    (folder / "vocab.json").unlink()
    err = _load_error(folder)
    assert err.file.name == "vocab.json" and "vocab.json" in str(err)


def test_vocab_invalid(saved):
    folder, _ = saved
    (folder / "vocab.json").write_text('{"pad_id": 0, "unk_id": 1, "words": "abc"}')
    err = _load_error(folder)
    assert err.file.name == "vocab.json"


def test_vocab_size_mismatching_config(saved):
    folder, _ = saved
    data = json.loads((folder / "vocab.json").read_text())
    data["words"] = data["words"][:-1]
    (folder / "vocab.json").write_text(json.dumps(data))
    err = _load_error(folder)
    assert err.file.name == "vocab.json" and "vocab.json" in str(err)
    assert str(V - 1) in str(err) and str(V) in str(err)


def test_shapes_mismatching(saved):
    # Only the hidden size changes; the weights file (and its recorded SHA-256)
    # is untouched, so the SHA check passes and the shape check must catch it.
    folder, _ = saved
    cfg = _config(folder)
    assert cfg["weights_sha256"] == sha256_file(folder / "model.safetensors")
    cfg["hidden"] = H + 1
    _write_config(folder, cfg)
    err = _load_error(folder)
    assert err.file.name == "model.safetensors" and "model.safetensors" in str(err)
    assert "do not load" in str(err)


def test_arch_mismatching_weights(saved):
    folder, _ = saved
    cfg = _config(folder)
    cfg["arch"] = "lstm"
    _write_config(folder, cfg)
    err = _load_error(folder)
    assert err.file.name == "model.safetensors"


CONFIG = ("config.json",)
CONFIG_OR_WEIGHTS = ("config.json", "model.safetensors")


@pytest.mark.parametrize("key, value, blamed", [
    ("arch", "transformer", CONFIG_OR_WEIGHTS), ("arch", None, CONFIG_OR_WEIGHTS),
    ("hidden", "six", CONFIG_OR_WEIGHTS), ("hidden", 0, CONFIG_OR_WEIGHTS), ("embed_dim", 0, CONFIG_OR_WEIGHTS),
    ("maxlen", None, CONFIG_OR_WEIGHTS), ("maxlen", 0, CONFIG_OR_WEIGHTS), ("tokenizer", "other-v9", CONFIG_OR_WEIGHTS),
    # non-positive sizes: the config itself is blamed
    ("vocab_size", 0, CONFIG), ("vocab_size", -1, CONFIG), ("embed_dim", -1, CONFIG),
])
def test_bad_config_values(saved, key, value, blamed):
    folder, _ = saved
    cfg = _config(folder)
    cfg[key] = value
    _write_config(folder, cfg)
    err = _load_error(folder)
    assert err.file.name in blamed


@pytest.mark.parametrize("key", ["arch", "vocab_size", "embed_dim", "hidden", "maxlen"])
def test_config_missing_key(saved, key):
    folder, _ = saved
    cfg = _config(folder)
    del cfg[key]
    _write_config(folder, cfg)
    err = _load_error(folder)
    assert err.file.name == "config.json"


def test_error_message_says_how_to_restore(saved):
    folder, _ = saved
    (folder / "model.safetensors").unlink()
    msg = str(_load_error(folder))
    assert "git checkout" in msg and "python -m gru_core train --out" in msg


# --------------------------------------------------------------------------- saving


def test_saving_twice_replaces_and_leaves_no_temp(tmp_path):
    parent = tmp_path / "models"
    v = vocab()
    save_checkpoint(parent / "gru", tiny(seed=1), v, maxlen=20)
    (parent / "gru" / "stray.txt").write_text("from the old folder")
    m2 = tiny(seed=2)
    save_checkpoint(parent / "gru", m2, v, maxlen=12)
    assert sorted(p.name for p in parent.iterdir()) == ["gru"]
    assert sorted(p.name for p in (parent / "gru").iterdir()) == [
        "config.json", "metrics.json", "model.safetensors", "vocab.json"]
    loaded = load_model(parent / "gru")
    assert loaded.maxlen == 12
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), SentimentModel(m2, v, {"maxlen": 12}).predict_proba(TEXTS))


def test_failed_save_keeps_old_checkpoint_and_no_temp(tmp_path, monkeypatch):
    parent = tmp_path / "models"
    v, m1 = vocab(), tiny(seed=1)
    save_checkpoint(parent / "gru", m1, v, maxlen=20)
    before = {p.name: p.read_bytes() for p in (parent / "gru").iterdir()}

    real = ckpt_mod.write_json_atomic

    def failing(path, obj):
        if Path(path).name == "vocab.json":
            raise OSError("disk full (simulated)")
        return real(path, obj)

    monkeypatch.setattr(ckpt_mod, "write_json_atomic", failing)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(parent / "gru", tiny(seed=2), v, maxlen=20)
    assert sorted(p.name for p in parent.iterdir()) == ["gru"]
    assert {p.name: p.read_bytes() for p in (parent / "gru").iterdir()} == before
    load_model(parent / "gru")


class Crash(Exception):
    """The process died here."""


class CrashAt:
    """Counts file operations (renames, removals, fsyncs); the ``k``-th and every later one fails,
    as if the process had died there: nothing after it, not even clean-up, reaches the disk."""

    OPS = (("os", "replace"), ("os", "fsync"), ("shutil", "rmtree"))

    def __init__(self, monkeypatch, k: int):
        import shutil
        self.k, self.calls = k, 0
        for module, name in self.OPS:
            real = getattr({"os": os, "shutil": shutil}[module], name)
            monkeypatch.setattr({"os": os, "shutil": shutil}[module], name, self._wrap(real))

    def _wrap(self, real):
        def op(*args, **kwargs):
            self.calls += 1
            if self.calls >= self.k:
                raise Crash(f"crash at file operation {self.k}")
            return real(*args, **kwargs)
        return op


def _version(folder: Path, v: Vocab, old, new) -> str:
    """Which of two saved checkpoints ``folder`` holds, checking that every file belongs to that one."""
    loaded = load_model(folder)
    config, metrics = _config(folder), json.loads((folder / "metrics.json").read_text())
    version = metrics["version"]
    module, maxlen = {"old": old, "new": new}[version]
    assert loaded.maxlen == maxlen and config["maxlen"] == maxlen
    assert metrics["weights_sha256"] == config["weights_sha256"] == sha256_file(folder / "model.safetensors")
    assert (folder / "stats.json").exists() == (version == "old")  # the old folder's extra file goes with it
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS),
                                  SentimentModel(module, v, {"maxlen": maxlen}).predict_proba(TEXTS))
    return version


def test_crash_at_every_step_of_a_replacing_save_leaves_a_complete_checkpoint(tmp_path, monkeypatch):
    v, old, new = vocab(), tiny(seed=1), tiny(seed=2)
    steps = None
    seen = set()
    k = 1
    while steps is None or k <= steps + 1:
        parent = tmp_path / f"run{k}"
        save_checkpoint(parent / "gru", old, v, maxlen=20, metrics={"version": "old"})
        (parent / "gru" / "stats.json").write_text("{}")  # an extra file keyed to the old weights
        with monkeypatch.context() as m:
            crash = CrashAt(m, k)
            try:
                save_checkpoint(parent / "gru", new, v, maxlen=12, metrics={"version": "new"})
            except Crash:
                pass
            else:
                steps = crash.calls  # no crash: the save needs this many file operations
        # after the "restart": the name is there, whole, and is the old or the new checkpoint
        assert [p.name for p in list_checkpoints(parent)] == ["gru"]
        seen.add(_version(parent / "gru", v, (old, 20), (new, 12)))
        # the next save works and cleans up what the crash left besides temporary folders
        save_checkpoint(parent / "gru", new, v, maxlen=12, metrics={"version": "new"})
        assert _version(parent / "gru", v, (old, 20), (new, 12)) == "new"
        assert not [p for p in parent.iterdir() if p.name.startswith(".") and not p.name.endswith(".tmp")]
        k += 1
    assert steps >= 10 and seen == {"old", "new"}


def test_crash_between_the_renames_is_recovered_on_load(tmp_path, monkeypatch):
    """The state a crash between step 2 and 3 leaves: only .gru.old. Loading restores it as gru."""
    v, m1 = vocab(), tiny(seed=1)
    folder = save_checkpoint(tmp_path / "gru", m1, v, maxlen=20, metrics={"version": "old"})
    (folder / "stats.json").write_text("{}")
    os.replace(folder, ckpt_mod.old_folder(folder))
    assert not folder.exists() and (tmp_path / ".gru.old").is_dir()
    assert _version(folder, v, (m1, 20), (None, 0)) == "old"
    assert folder.is_dir() and not (tmp_path / ".gru.old").exists()
    # where the models folder cannot be written, the old folder is read where it is
    os.replace(folder, ckpt_mod.old_folder(folder))

    def read_only(*a, **k):
        raise PermissionError("read-only file system (simulated)")

    monkeypatch.setattr(os, "replace", read_only)
    assert load_model(folder).name == "gru"
    assert not folder.exists()


def test_write_atomic_failure_leaves_nothing(tmp_path):
    target = tmp_path / "f.json"

    def boom(tmp):
        Path(tmp).write_text("partial")
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        write_atomic(target, boom)
    assert list(tmp_path.iterdir()) == []
    write_json_atomic(target, {"a": "日本"})
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": "日本"}
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


# --------------------------------------------------------------------------- no pickle


def _python_sources() -> list[Path]:
    files = sorted((REPO / "gru_core").rglob("*.py"))
    if (REPO / "app.py").is_file():
        files.append(REPO / "app.py")
    if (REPO / "pages").is_dir():
        files += sorted((REPO / "pages").rglob("*.py"))
    return files


def test_source_never_unpickles():
    files = _python_sources()
    assert any(f.name == "checkpoint.py" for f in files)
    unsafe_modules = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
    problems = []
    for f in files:
        src = f.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(src, filename=str(f))):
            if isinstance(node, ast.Import):
                problems += [f"{f}: import {a.name}" for a in node.names if a.name.split(".")[0] in unsafe_modules]
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in unsafe_modules:
                problems.append(f"{f}: from {node.module} import ...")
        for needle in ("torch.load(", "allow_pickle=True", "torch.serialization"):
            if needle in src:
                problems.append(f"{f}: {needle}")
    assert problems == []


def test_loading_does_not_call_torch_load(saved, monkeypatch):
    folder, _ = saved

    def forbidden(*a, **k):
        raise AssertionError("torch.load must never be called")

    monkeypatch.setattr(torch, "load", forbidden)
    import pickle
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    load_checkpoint(folder)


# --------------------------------------------------------------------------- listing


def test_list_checkpoints_orders_gru_lstm_rnn_first(tmp_path):
    for name in ("zeta", "rnn", "alpha", "lstm", "gru", ".gru.abc.tmp", "no-config"):
        (tmp_path / name).mkdir()
        if name != "no-config":
            (tmp_path / name / "config.json").write_text("{}")
    (tmp_path / "file.json").write_text("{}")
    assert [p.name for p in list_checkpoints(tmp_path)] == ["gru", "lstm", "rnn", "alpha", "zeta"]
    assert list_checkpoints(tmp_path / "missing") == []


def test_list_checkpoints_after_save(tmp_path):
    v = vocab()
    for arch in ("rnn", "gru"):
        save_checkpoint(tmp_path / arch, tiny(arch), v, maxlen=5)
    save_checkpoint(tmp_path / "my-lstm", tiny("lstm"), v, maxlen=5)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["gru", "rnn", "my-lstm"]
    assert not any(n.startswith(".") for n in os.listdir(tmp_path))
