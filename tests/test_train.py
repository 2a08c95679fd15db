"""The training loop: length batching, learning, stopping, and a smoke run on real reviews."""
from __future__ import annotations

import numpy as np
import torch

from gru_core.checkpoint import load_checkpoint
from gru_core.experiment import train_and_save
from gru_core.model import SentimentRNN
from gru_core.text import Vocab, length_batches
from gru_core.train import EncodedSet, PreparedData, TrainConfig, fit


def test_length_batches_cover_everything_once_and_group_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 500, size=1000)
    batches = length_batches(lengths, 32, np.random.default_rng(1))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    random_spread = np.mean([np.ptp(lengths[rng.permutation(1000)[:32]]) for _ in range(20)])
    assert spread < random_spread / 5  # similar lengths share a batch
    again = length_batches(lengths, 32, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    det = length_batches(lengths, 32, None)
    assert np.all(np.diff(lengths[np.concatenate(det)]) >= 0)


def _toy(n: int, seed: int) -> EncodedSet:
    """Label 1 when token 5 appears; ids 2..9, varying lengths, pre-padded to 12."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, 12), dtype=np.int64)
    labels = np.zeros(n, dtype=np.int64)
    for i in range(n):
        k = int(rng.integers(2, 12))
        row = rng.choice([2, 3, 4, 6, 7, 8, 9], size=k)
        if rng.random() < 0.5:
            row[rng.integers(k)] = 5
            labels[i] = 1
        ids[i, 12 - k:] = row
    return EncodedSet(ids, labels)


def _toy_setup(**kw):
    cfg = TrainConfig(vocab_size=10, embed_dim=8, hidden=8, batch_size=16, lr=1e-2, warmup_steps=5,
                      embed_dropout=0.0, dropout=0.0, **kw)
    data = PreparedData(Vocab([str(i) for i in range(8)]), _toy(400, 0), _toy(100, 1))
    torch.manual_seed(0)
    return cfg, data, SentimentRNN("gru", 10, 8, 8)


def test_fit_learns_a_toy_task():
    cfg, data, module = _toy_setup(epochs=6)
    history, best = fit(module, data, cfg)
    assert len(history) == 6
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert max(h["val_acc"] for h in history) > 0.9
    module.load_state_dict(best)


def test_callback_stops_training_cleanly():
    cfg, data, module = _toy_setup(epochs=5)
    events = []

    def cb(ev):
        events.append(ev.kind)
        return ev.kind == "step" and ev.step == 3

    history, best = fit(module, data, cfg, cb)
    assert len(history) == 1 and not history[0]["complete"] and history[0]["steps"] == 3
    assert events == ["step"] * 3 + ["epoch"]  # the cut-short epoch is still reported
    assert set(best) == set(module.state_dict())


def test_smoke_training_on_real_reviews(tmp_path, imdb_path):
    cfg = TrainConfig(epochs=3, limit=400, vocab_size=2000, lr=3e-3, warmup_steps=5)
    folder, metrics = train_and_save(cfg, tmp_path / "smoke", str(imdb_path), command="test", evaluate_test=False)
    losses = [h["train_loss"] for h in metrics["history"]]
    assert losses[-1] < losses[0]
    assert metrics["train_reviews"] == 360 and metrics["val_reviews"] == 40
    _, vocab, config, saved = load_checkpoint(folder)
    assert config["arch"] == "gru" and len(vocab) == 2000 and saved["history"] == metrics["history"]
