"""Tiny random models for unit tests: one builder, so every test file makes them the same way."""
from __future__ import annotations

import torch

from gru_core.model import SentimentRNN
from gru_core.predictor import SentimentModel
from gru_core.text import PAD_ID, Vocab

WORDS = ["good", "bad", "movie", "great", "awful", "the", "was", "plot", "acting", "fun"]


def tiny_module(arch: str = "gru", vocab_size: int = len(WORDS) + 2, embed: int = 6, hidden: int = 5,
                seed: int = 0, std: float = 0.7, freeze: bool = True, zero_pad: bool = False) -> SentimentRNN:
    """A small module with large random weights, so gates saturate and gradients are non-trivial.

    ``freeze`` leaves it as ``load_checkpoint`` leaves a shared model (no grad); ``zero_pad``
    zeroes the padding embedding as training does (``padding_idx``).
    """
    torch.manual_seed(seed)
    module = SentimentRNN(arch, vocab_size, embed, hidden)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, std)
        if zero_pad:
            module.embedding.weight[PAD_ID].zero_()
    module.eval()
    if freeze:
        for p in module.parameters():
            p.requires_grad_(False)
    return module


def tiny_model(arch: str = "gru", seed: int = 0, maxlen: int = 50, words: list[str] = WORDS,
               **kw) -> SentimentModel:
    """``tiny_module`` wrapped with a vocabulary of ``words`` (its size fixes the embedding rows)."""
    vocab = Vocab(words)
    return SentimentModel(tiny_module(arch, len(vocab), seed=seed, **kw), vocab, {"maxlen": maxlen})
