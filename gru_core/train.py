"""The one training loop (CLI and dashboard alike), with batches grouped by length.

Most IMDB reviews are far shorter than maxlen (median 174 words, 8% longer than
500), so instead of running every batch over 500 pre-padded steps, reviews of
similar length are batched together and each batch runs only up to its longest
review. The verdict reads the hidden state at each review's own last word
(see ``SentimentRNN``), so padding never changes a result.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .data import Split, load_imdb, validation_split
from .distributed import ONE_PROCESS, Ranks
from .i18n import N_
from .model import SentimentRNN
from .text import PAD_ID, Vocab, length_batches, pad_sequences


@dataclass
class TrainConfig:
    arch: str = "gru"
    epochs: int = 6
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0
    maxlen: int = 500
    vocab_size: int = 5000
    embed_dim: int = 100
    hidden: int = 100
    embed_dropout: float = 0.5
    dropout: float = 0.3
    weight_decay: float = 0.0
    clip: float = 1.0
    warmup_steps: int = 200
    val_fraction: float = 0.1
    limit: int | None = None  # use only the first N (shuffled) training reviews
    device: str = "auto"


@dataclass
class EncodedSet:
    """Pre-padded ids [N, maxlen] (Keras pad_sequences defaults) with labels."""

    ids: np.ndarray
    labels: np.ndarray
    lengths: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.lengths = (self.ids != PAD_ID).sum(1)

    def __len__(self) -> int:
        return len(self.labels)


def encode(split: Split, vocab: Vocab, maxlen: int) -> EncodedSet:
    """Encode and pad a split; reviews with no words are dropped (nothing to read)."""
    seqs = split.encode(vocab)
    keep = [i for i, s in enumerate(seqs) if len(s)]
    return EncodedSet(pad_sequences([seqs[i] for i in keep], maxlen), split.labels[keep])


@dataclass
class PreparedData:
    vocab: Vocab
    train: EncodedSet
    val: EncodedSet


class TrainingStopped(Exception):
    """A stop was asked for before anything worth saving existed (no epoch had ended). Its message is one of
    ``STOPPED`` (English, as the progress file carries it; the page shows it with ``_()``)."""


STOPPED = {"data preparation": N_("stopped during data preparation; nothing was saved"),
           "the final evaluation": N_("stopped during the final evaluation; nothing was saved"),
           "training": N_("training stopped before the first epoch ended; nothing was saved")}


def check_stop(stop: Callable[[], bool] | None, during: str) -> None:
    """Raise TrainingStopped when ``stop()`` says so: the check between and inside the slow phases (``during``:
    a key of ``STOPPED``)."""
    if stop is not None and stop():
        raise TrainingStopped(STOPPED[during])


def prepare(cfg: TrainConfig, data_path: str | None = None, train_split: Split | None = None,
            stop: Callable[[], bool] | None = None) -> PreparedData:
    """Carve a validation split from IMDB train, build the vocabulary on the rest, encode.

    ``stop`` is checked between the steps (TrainingStopped when it returns True).
    """
    split = train_split if train_split is not None else load_imdb("train", data_path)
    check_stop(stop, "data preparation")
    if cfg.limit is not None:
        order = np.random.default_rng(cfg.seed).permutation(len(split))[: cfg.limit]
        split = split.subset(np.sort(order))
    tr_idx, va_idx = validation_split(len(split), cfg.val_fraction, cfg.seed)
    tr, va = split.subset(tr_idx), split.subset(va_idx)
    vocab = Vocab.build(tr.tokens, cfg.vocab_size)
    check_stop(stop, "data preparation")
    train = encode(tr, vocab, cfg.maxlen)
    check_stop(stop, "data preparation")
    return PreparedData(vocab, train, encode(va, vocab, cfg.maxlen))


def batch_tensor(ids: np.ndarray, index: np.ndarray, lengths: np.ndarray, device: torch.device) -> torch.Tensor:
    """Rows of pre-padded ids, trimmed to the longest review in the batch."""
    t = int(lengths[index].max())
    return torch.from_numpy(ids[index, ids.shape[1] - t:]).to(device)


@dataclass
class TrainEvent:
    """What the loop reports to its callback (every step, and after each epoch)."""

    kind: str  # "step" or "epoch"
    epoch: int  # 1-based
    step: int  # steps done in this epoch
    steps_per_epoch: int
    loss: float  # running mean over this epoch
    acc: float
    elapsed: float
    history: list[dict]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA GPU is available")
    return torch.device(name)


@torch.no_grad()
def evaluate_logits(module: SentimentRNN, data: EncodedSet, batch_size: int = 256,
                    device: torch.device | None = None) -> np.ndarray:
    """Logits for every row, batched by length (deterministic order), in input order."""
    device = device or next(module.parameters()).device
    was_training = module.training
    module.eval()
    out = np.empty(len(data), dtype=np.float32)
    for idx in length_batches(data.lengths, batch_size, None):
        out[idx] = module(batch_tensor(data.ids, idx, data.lengths, device)).float().cpu().numpy()
    module.train(was_training)
    return out


def _loss_acc(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    y = labels.astype(np.float64)
    z = logits.astype(np.float64)
    loss = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    return float(loss), float(np.mean((z > 0) == (y > 0.5)))


def train_step(module: SentimentRNN, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on a batch (binary cross-entropy, optional gradient clipping): (logits, loss)."""
    logits = module(x)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip:
        nn.utils.clip_grad_norm_(module.parameters(), clip)
    opt.step()
    return logits, loss


def fit(module: SentimentRNN, data: PreparedData, cfg: TrainConfig,
        callback: Callable[[TrainEvent], bool | None] | None = None,
        ranks: Ranks = ONE_PROCESS) -> tuple[list[dict], dict]:
    """Train ``module`` in place; return (per-epoch history, best-by-validation state_dict).

    The callback sees every step and every epoch end; returning True stops
    training cleanly (the best state so far is still returned).

    Under torchrun (``ranks``) each rank trains on its share of every epoch's
    batches with gradients averaged over the ranks (DistributedDataParallel);
    the loss and accuracy are summed over the ranks, rank 0 alone validates and
    calls the callback, and its stop decision reaches every rank.
    """
    device = next(module.parameters()).device
    # The run's own generators: the same epoch order on every rank; dropout masks differ per rank.
    # Nothing else in the process (a model load, torch.manual_seed elsewhere) changes them.
    rng = np.random.default_rng(cfg.seed)
    module.use_dropout_generator(torch.Generator(device).manual_seed(cfg.seed + ranks.rank))
    opt = torch.optim.AdamW(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    net = ranks.wrap(module)
    steps_per_epoch = ranks.steps(math.ceil(len(data.train) / cfg.batch_size))
    total = steps_per_epoch * cfg.epochs
    warm = min(cfg.warmup_steps, max(total // 10, 1))

    def lr_factor(step: int) -> float:  # linear warm-up, then cosine decay to 0
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(total - warm, 1)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    labels = torch.from_numpy(data.train.labels.astype(np.float32))
    history: list[dict] = []
    best_state, best_acc = copy.deepcopy(module.state_dict()), -1.0
    start = time.perf_counter()
    stop = False
    for epoch in range(1, cfg.epochs + 1):
        module.train()
        t0 = time.perf_counter()
        sum_loss = sum_correct = seen = 0.0
        all_loss = all_correct = all_seen = 0.0  # the same sums over every rank
        batches = ranks.shard(length_batches(data.train.lengths, cfg.batch_size, rng))
        for step, idx in enumerate(batches, 1):
            x = batch_tensor(data.train.ids, idx, data.train.lengths, device)
            y = labels[idx].to(device)
            logits, loss = train_step(net, opt, x, y, cfg.clip)
            sched.step()
            ranks.record_weights(module)
            n = len(idx)
            sum_loss += float(loss.detach()) * n
            sum_correct += float(((logits > 0) == (y > 0.5)).sum())
            seen += n
            all_loss, all_correct, all_seen = ranks.sum(sum_loss, sum_correct, seen)
            if _stop(ranks, callback, TrainEvent("step", epoch, step, steps_per_epoch, all_loss / all_seen,
                                                 all_correct / all_seen, time.perf_counter() - start, history)):
                stop = True
                break
        train_seconds = time.perf_counter() - t0
        val_loss, val_acc = ranks.from_main(*(_loss_acc(evaluate_logits(module, data.val), data.val.labels)
                                              if ranks.main else (0.0, 0.0)))
        history.append({
            "epoch": epoch, "train_loss": all_loss / max(all_seen, 1), "train_acc": all_correct / max(all_seen, 1),
            "val_loss": val_loss, "val_acc": val_acc, "seconds": train_seconds,
            "steps": step, "complete": not stop, "lr_end": sched.get_last_lr()[0],
        })
        if val_acc > best_acc:
            best_acc, best_state = val_acc, copy.deepcopy(module.state_dict())
        if _stop(ranks, callback, TrainEvent("epoch", epoch, step, steps_per_epoch, all_loss / max(all_seen, 1),
                                             all_correct / max(all_seen, 1), time.perf_counter() - start, history)):
            stop = True
        if stop:
            break
    module.use_dropout_generator(None)
    return history, best_state


def _stop(ranks: Ranks, callback: Callable[[TrainEvent], bool | None] | None, event: TrainEvent) -> bool:
    """Rank 0 shows ``event`` to the callback; whether it asked to stop, on every rank."""
    asked = bool(callback(event)) if callback and ranks.main else False
    return bool(ranks.from_main(float(asked))[0])


def build_module(cfg: TrainConfig) -> SentimentRNN:
    """A freshly initialised module, its weights drawn from a generator of its own seeded with ``cfg.seed``."""
    return SentimentRNN(cfg.arch, cfg.vocab_size, cfg.embed_dim, cfg.hidden, cfg.embed_dropout, cfg.dropout,
                        generator=torch.Generator().manual_seed(cfg.seed))

