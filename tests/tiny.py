"""Tiny random models and data for unit tests: one builder each, so every test file makes them the same way."""
from __future__ import annotations

import io
import tarfile

import numpy as np
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


def random_review(rng: np.random.Generator, n: int) -> str:
    """``n`` words drawn from ``WORDS`` plus one unknown word ("zzzq")."""
    return " ".join(rng.choice(WORDS + ["zzzq"], size=n))


def clone_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every tensor of ``module``'s state, to check later that nothing changed it."""
    return {k: v.clone() for k, v in module.state_dict().items()}


def same_state(module: torch.nn.Module, state: dict[str, torch.Tensor]) -> bool:
    """Whether every tensor of ``module``'s state equals the one in ``state`` (from ``clone_state``)."""
    return all(torch.equal(v, state[k]) for k, v in module.state_dict().items())


def write_tar(path, members: dict[str, str]) -> None:
    """A gzipped tarball at ``path`` holding one UTF-8 text file per ``{name: text}`` member."""
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


POS_WORDS = ["great", "wonderful", "loved", "superb", "fun", "moving"]
NEG_WORDS = ["awful", "boring", "hated", "dull", "terrible", "waste"]
FILLER = ("the film was plot acting and a story it movie this that with for but not very just one scene "  # noqa: SIM905
          "cast end music script camera light actor actress director role part time year dialogue score "
          "character twist ending line shot set costume effects sound pace tone mood theme idea style").split()
assert len(set(FILLER)) == 50


def write_imdb_tar(path, n_train: int = 64, n_test: int = 16, seed: int = 0, filler: list[str] = FILLER,
                   length: tuple[int, int] = (3, 12)) -> None:
    """A made-up aclImdb tarball; with the full filler list every review has 2 rare-ish words so
    that the training part always holds more than 48 different words (vocab_size=50 is filled).
    ``length``: the range of filler words per review (longer reviews train slower)."""
    rng = np.random.default_rng(seed)
    members = {}
    for split, n in (("train", n_train), ("test", n_test)):
        for i in range(n):
            pol = "pos" if i % 2 == 0 else "neg"
            words = [filler[i % len(filler)], filler[(i + 25) % len(filler)]]
            words += list(rng.choice(filler, size=int(rng.integers(*length))))
            words += list(rng.choice(POS_WORDS if pol == "pos" else NEG_WORDS, size=int(rng.integers(1, 4))))
            rng.shuffle(words)
            rating = int(rng.integers(7, 11)) if pol == "pos" else int(rng.integers(1, 5))
            members[f"aclImdb/{split}/{pol}/{i}_{rating}.txt"] = " ".join(words).capitalize() + ".<br /><br />"
    write_tar(path, members)
