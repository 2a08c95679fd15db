"""Benchmarks that print ratios measured side by side in one run (machines here are noisy).

- trace vs native forward for a 500-token review;
- the GRU of Cho et al.'s form (Keras reset_after=False), which no native layer runs, traced and
  predicted by the step-by-step cell, against the same weights in PyTorch's form on nn.GRU;
- a training epoch of our loop (batches grouped by length) vs the plain loop
  over full 500-step pre-padded batches of 64 (the Keras way);
- evaluation throughput in reviews/s.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from torch import nn

from .data import load_imdb
from .examples import review_of
from .experiment import hardware
from .predictor import load_model
from .text import length_batches
from .timing import interleaved, timed
from .train import TrainConfig, batch_tensor, build_module, encode, train_step

EVAL_BATCH = 64  # reviews per batch when scoring many at once: the fastest here (32 to 128 within 5%; 256 −18%)


def bench_trace(model_path: str, repeats: int = 30) -> dict:
    model = load_model(model_path)
    text = review_of(model, model.maxlen)
    t = interleaved({"native": lambda: model.predict_proba([text]), "trace": lambda: model.trace(text)}, repeats)
    return {"tokens": model.maxlen, "native_s": t["native"], "trace_s": t["trace"], "ratio": t["trace"] / t["native"]}


def bench_gru_forms(model_path: str, repeats: int = 10, batch: int = 64) -> dict:
    """Trace of one ``maxlen``-word review, and P(positive) of a batch of them, in each GRU form (the same weights)."""
    from .archs import RESET_BEFORE
    from .model import SentimentRNN
    from .predictor import SentimentModel

    model = load_model(model_path)
    if model.arch != "gru":
        raise ValueError("the GRU forms are compared on a GRU model")
    m = model.module
    other = SentimentRNN("gru", m.embedding.num_embeddings, m.embedding.embedding_dim, m.rnn.hidden_size,
                         gru_form=RESET_BEFORE, prefix=m.prefix)
    other.load_state_dict(m.state_dict())
    cho = SentimentModel(other.eval(), model.vocab, model.config)
    text = review_of(model, model.maxlen)
    texts = [review_of(model, model.maxlen, seed) for seed in range(batch)]
    t = interleaved({"native_trace": lambda: model.trace(text), "cell_trace": lambda: cho.trace(text),
                     "native_batch": lambda: model.predict_proba(texts), "cell_batch": lambda: cho.predict_proba(texts)},
                    repeats)
    return {"tokens": model.maxlen, "batch": batch, **{f"{k}_s": v for k, v in t.items()},
            "trace_ratio": t["cell_trace"] / t["native_trace"], "batch_ratio": t["cell_batch"] / t["native_batch"]}


def plain_step_fn(module: nn.Module, opt: torch.optim.Optimizer) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """One step of the plain loop: every review pre-padded to maxlen, all steps run (no masking)."""
    loss_fn = nn.BCEWithLogitsLoss()

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        out, _ = module.rnn(module.embedding(x))
        loss = loss_fn(module.dense(out[:, -1]).squeeze(-1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def bench_training(data_path: str | None, steps: int, arch: str = "gru") -> dict:
    """Estimated epoch seconds of both loops from ``steps`` batches each, interleaved.

    Our batches differ in length, so they are sampled evenly across the length range
    (stratified) rather than at random: the estimate then moves far less between runs.
    """
    from .text import Vocab

    cfg = TrainConfig(arch=arch)
    split = load_imdb("train", data_path)
    vocab = Vocab.build(split.tokens, cfg.vocab_size)
    data = encode(split, vocab, cfg.maxlen)
    labels = torch.from_numpy(data.labels.astype(np.float32))
    rng = np.random.default_rng(0)
    ours_batches = length_batches(data.lengths, cfg.batch_size, rng)
    perm = rng.permutation(len(data))
    plain_batches = [perm[i:i + cfg.batch_size] for i in range(0, len(data), cfg.batch_size)]
    m1, m2 = build_module(cfg), build_module(cfg)
    opt1 = torch.optim.Adam(m1.parameters())
    plain = plain_step_fn(m2, torch.optim.Adam(m2.parameters()))
    by_length = np.argsort([data.lengths[b].max() for b in ours_batches], kind="stable")
    pick_ours = by_length[np.linspace(0, len(ours_batches) - 1, steps).round().astype(int)]
    pick_plain = rng.choice(len(plain_batches), steps, replace=False)
    t_ours, t_plain = [], []
    for k in range(steps + 1):  # the first pair warms up
        a, b = ours_batches[pick_ours[k % steps]], plain_batches[pick_plain[k % steps]]
        xa = batch_tensor(data.ids, a, data.lengths, torch.device("cpu"))
        xb = torch.from_numpy(data.ids[b])
        ta = timed(partial(train_step, m1, opt1, xa, labels[a], 1.0))
        tb = timed(partial(plain, xb, labels[b]))
        if k:
            t_ours.append(ta)
            t_plain.append(tb)
    ours_epoch = float(np.mean(t_ours)) * len(ours_batches)
    plain_epoch = float(np.mean(t_plain)) * len(plain_batches)
    return {"arch": arch, "steps_timed": steps, "ours_epoch_s": ours_epoch, "plain_epoch_s": plain_epoch,
            "ratio": ours_epoch / plain_epoch,
            "real_word_fraction": float(data.lengths.sum() / (len(data) * cfg.maxlen))}


def bench_eval(model_path: str, data_path: str | None, n: int = 2000) -> dict:
    """Reviews per second scoring ``n`` test reviews from their text (tokenising included), as ``evaluate`` scores
    them: batches of EVAL_BATCH on one worker per core; and one batch at a time on every torch thread, beside it."""
    model = load_model(model_path)
    texts = load_imdb("test", data_path).texts[:n]
    workers = os.cpu_count() or 1
    t = interleaved({"workers": lambda: model.predict_proba(texts, EVAL_BATCH, workers),
                     "serial": lambda: model.predict_proba(texts)}, 3)
    return {"reviews": len(texts), "seconds": t["workers"], "reviews_per_s": len(texts) / t["workers"],
            "workers": workers, "serial_reviews_per_s": len(texts) / t["serial"]}


def trace_line(tr: dict) -> str:
    return (f"trace vs native forward, {tr['tokens']}-token review: {tr['trace_s'] * 1e3:.2f} ms vs "
            f"{tr['native_s'] * 1e3:.2f} ms -> ratio {tr['ratio']:.2f}x (target <= 1.3x)")


def forms_line(fm: dict) -> str:
    return (f"GRU reset_before (step-by-step cell) vs reset_after (nn.GRU), same weights: trace of a {fm['tokens']}-"
            f"token review {fm['cell_trace_s'] * 1e3:.1f} ms vs {fm['native_trace_s'] * 1e3:.1f} ms -> "
            f"{fm['trace_ratio']:.1f}x; {fm['batch']} reviews {fm['cell_batch_s']:.2f} s vs {fm['native_batch_s']:.2f} s "
            f"-> {fm['batch_ratio']:.1f}x")


def training_line(tb: dict) -> str:
    return (f"training epoch (GRU, batch 64), estimated from {tb['steps_timed']} steps each: ours "
            f"{tb['ours_epoch_s']:.1f} s vs plain full-padding loop {tb['plain_epoch_s']:.1f} s -> ratio "
            f"{tb['ratio']:.2f}x (target <= 0.5x); real words are {tb['real_word_fraction']:.0%} of padded steps")


def eval_line(ev: dict) -> str:
    return (f"evaluation: {ev['reviews']:,} test reviews in {ev['seconds']:.2f} s -> {ev['reviews_per_s']:.0f} reviews/s "
            f"({ev['workers']} batches at once, one torch thread each; one batch at a time on every thread: "
            f"{ev['serial_reviews_per_s']:.0f} reviews/s, ratio {ev['reviews_per_s'] / ev['serial_reviews_per_s']:.2f}x)")


def summary_lines(results: dict) -> list[str]:
    """One line per measurement of ``run_bench``'s results (what it prints, and what the report quotes)."""
    lines = [trace_line(results["trace"]), training_line(results["training"]), eval_line(results["eval"])]
    return lines + ([forms_line(results["forms"])] if "forms" in results else [])


def run_bench(model_path: str, data_path: str | None, steps: int) -> dict:
    """Run every core benchmark, printing each line as soon as it is measured."""
    print(f"machine: {hardware()}")
    tr = bench_trace(model_path)
    print(trace_line(tr))
    tb = bench_training(data_path, steps)
    print(training_line(tb))
    ev = bench_eval(model_path, data_path)
    print(eval_line(ev))
    out = {"trace": tr, "training": tb, "eval": ev}
    if load_model(model_path).arch == "gru":
        out["forms"] = bench_gru_forms(model_path)
        print(forms_line(out["forms"]))
    return out
