"""Train, evaluate and save a checkpoint: the one pipeline behind the CLI and the Train page."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from .checkpoint import save_checkpoint
from .data import DataNotFoundError, Split, load_imdb, load_rt_polarity
from .distributed import Ranks, process_group
from .evaluate import classification_metrics
from .model import parameter_counts
from .predictor import SentimentModel
from .train import (
    STOPPED,
    TrainConfig,
    TrainEvent,
    TrainingStopped,
    build_module,
    check_stop,
    fit,
    prepare,
    resolve_device,
)


def hardware() -> str:
    """A one-line description of the machine that ran a measurement."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads"


def predict_split(model: SentimentModel, split: Split, stop: Callable[[], bool] | None = None,
                  chunk: int = 2_000, workers: int = 1) -> tuple[list[int], np.ndarray]:
    """(indices of the reviews that hold words, their P(positive)) through the public predict path.

    ``stop`` is checked between chunks of reviews (TrainingStopped when it returns True); ``workers``: batches
    scored at once (``SentimentModel.predict_ids``).
    """
    keep = [i for i, toks in enumerate(split.tokens) if toks]
    parts = []
    for a in range(0, len(keep), chunk):
        check_stop(stop, "the final evaluation")
        parts.append(model.predict_proba([split.texts[i] for i in keep[a:a + chunk]], workers=workers))
    return keep, np.concatenate(parts) if parts else np.empty(0)


def evaluate_split(model: SentimentModel, split: Split, stop: Callable[[], bool] | None = None,
                   workers: int = 1) -> dict:
    """Metrics of ``model`` on a labelled split."""
    keep, proba = predict_split(model, split, stop, workers=workers)
    metrics = classification_metrics(split.labels[keep], proba)
    metrics["skipped_without_words"] = len(split) - len(keep)
    return metrics


def train_and_save(cfg: TrainConfig, out: str | os.PathLike, data_path: str | None = None,
                   rt_path: str | None = None, command: str = "",
                   callback: Callable[[TrainEvent], bool | None] | None = None,
                   evaluate_test: bool = True, stop: Callable[[], bool] | None = None,
                   phase: Callable[[str], None] | None = None,
                   replace_existing: bool = True) -> tuple[Path | None, dict]:
    """Train with ``cfg``, keep the best epoch by validation accuracy, evaluate, save atomically.

    Returns (checkpoint folder, metrics). ``stop()`` is checked during data
    preparation (TrainingStopped: nothing is written), at every training step
    (the best epoch so far is kept) and during the final evaluation (skipped;
    the model is saved without test metrics). ``phase`` hears each phase's
    name as it begins. With ``replace_existing=False`` a model that appeared
    at ``out`` meanwhile is never replaced (FileExistsError). Under torchrun
    every process trains its share (see ``fit``); rank 0 alone evaluates and
    saves while the others wait, and they return (None, {}).
    """
    with process_group(resolve_device(cfg.device)) as (ranks, device):
        folder, metrics = _train_and_save(cfg, out, data_path, rt_path, command, callback, evaluate_test,
                                          stop, phase, replace_existing, ranks, device)
        ranks.barrier()  # the ranks leave the process group together, once rank 0 has saved
        return folder, metrics


def _train_and_save(cfg: TrainConfig, out: str | os.PathLike, data_path: str | None, rt_path: str | None,
                    command: str, callback: Callable[[TrainEvent], bool | None] | None, evaluate_test: bool,
                    stop: Callable[[], bool] | None, phase: Callable[[str], None] | None, replace_existing: bool,
                    ranks: Ranks, device: torch.device) -> tuple[Path | None, dict]:
    def begin(name: str) -> None:
        if phase is not None:
            phase(name)

    started = time.perf_counter()
    begin("preparing data")
    data = prepare(cfg, data_path, stop=stop)
    # The vocabulary can hold fewer words than asked for (a small training set):
    # size the embedding to the vocabulary actually built.
    module = build_module(replace(cfg, vocab_size=len(data.vocab))).to(device)
    begin("training")

    def step(ev: TrainEvent) -> bool:
        wants = bool(callback(ev)) if callback else False
        return wants or bool(stop and stop())

    history, best_state = fit(module, data, cfg, step, ranks)
    if not ranks.main:
        return None, {}
    if not history:
        raise TrainingStopped(STOPPED["training"])
    module.load_state_dict(best_state)
    module = module.cpu().eval()
    model = SentimentModel(module, data.vocab, {"maxlen": cfg.maxlen})
    best = max(history, key=lambda h: h["val_acc"])
    metrics: dict = {
        "command": command,
        "seed": cfg.seed,
        "train_config": asdict(cfg),
        "processes": ranks.world,
        "train_reviews": len(data.train),
        "val_reviews": len(data.val),
        "history": history,
        "best_epoch": best["epoch"],
        "val_acc": best["val_acc"],
        "epoch_seconds_mean": float(np.mean([h["seconds"] for h in history if h["complete"]] or [history[0]["seconds"]])),
        "stopped_early": not all(h["complete"] for h in history) or len(history) < cfg.epochs,
        "parameters": parameter_counts(module),
        "torch": torch.__version__,
        "device": str(device) if device.type != "cuda" else f"cuda ({torch.cuda.get_device_name(device)})",
        "hardware": hardware(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    if evaluate_test:
        begin("evaluating")
        try:
            test = evaluate_split(model, load_imdb("test", data_path), stop)
            try:
                rt = evaluate_split(model, load_rt_polarity(rt_path), stop)
            except DataNotFoundError as e:
                rt = {"error": str(e)}
            metrics.update(imdb_test=test, rt_polarity=rt)
        except TrainingStopped:
            metrics["evaluation"] = "stopped before the test evaluation ended"
    metrics["total_seconds"] = time.perf_counter() - started
    begin("saving")
    folder = save_checkpoint(out, module, data.vocab, cfg.maxlen, metrics, replace=replace_existing)
    return folder, metrics
