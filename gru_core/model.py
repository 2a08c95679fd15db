"""The model family: Embedding(V, E) -> {GRU | LSTM | RNN(tanh)} with H units -> Linear(H, 1) -> sigmoid.

With the defaults V=5000, E=100, H=100 this is the seed's Keras model: the GRU
version has exactly 560,701 trainable parameters (embedding 500,000, GRU 60,600,
dense 101).
"""
from __future__ import annotations

import torch
from torch import nn

from . import archs
from .text import PAD_ID


class SentimentRNN(nn.Module):
    """Reads pre-padded id sequences; padding never reaches the verdict.

    Each row is moved to the front (padding after its last word) and the
    verdict reads the hidden state at the row's own last word, so it is the
    same as for the review alone, whatever the batch. This runs the fast
    unpacked kernels (packed sequences are ~3x slower on CPU); batches grouped
    by length waste little on the steps after a short review ends.
    Rows with padding after a word (post-padded) are refused with a ValueError:
    read as pre-padded they would lose their words.
    """

    def __init__(self, arch: str = "gru", vocab_size: int = 5000, embed_dim: int = 100,
                 hidden: int = 100, embed_dropout: float = 0.0, dropout: float = 0.0,
                 generator: torch.Generator | None = None):
        super().__init__()
        spec = archs.arch(arch)  # ValueError naming the choices
        self.arch = arch
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.rnn = spec.module(embed_dim, hidden, batch_first=True)
        self.dense = nn.Linear(hidden, 1)
        # Spatial dropout (Keras SpatialDropout1D): one mask per review and channel.
        self.embed_dropout = SeededDropout(embed_dropout, channels=True)
        self.dropout = SeededDropout(dropout)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Initialise every weight, drawing from ``generator`` (a run's own) or else torch's global one."""
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05, generator=generator)  # Keras' default
        with torch.no_grad():
            self.embedding.weight[PAD_ID].zero_()
        blocks = archs.ARCHS[self.arch].blocks
        g = len(blocks)
        for name, w in self.rnn.named_parameters():
            if name.startswith("weight_ih"):
                for block in w.chunk(g, 0):
                    nn.init.xavier_uniform_(block, generator=generator)
            elif name.startswith("weight_hh"):
                for block in w.chunk(g, 0):
                    nn.init.orthogonal_(block, generator=generator)
            else:
                nn.init.zeros_(w)
        if "forget" in blocks:
            # Forget-gate bias 1 (Jozefowicz et al. 2015), as Keras' unit_forget_bias.
            h, k = self.rnn.hidden_size, blocks.index("forget")
            with torch.no_grad():
                self.rnn.bias_ih_l0[k * h:(k + 1) * h].fill_(1.0)
        nn.init.xavier_uniform_(self.dense.weight, generator=generator)
        nn.init.zeros_(self.dense.bias)

    def use_dropout_generator(self, generator: torch.Generator | None) -> None:
        """Draw the dropout masks from ``generator`` (None: torch's global one again)."""
        self.embed_dropout.generator = self.dropout.generator = generator

    def embed(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """([B, T, E] embeddings with each review moved to the front of its row and trimmed to
        the longest, [B] lengths) for pre-padded ids."""
        real = ids != PAD_ID
        pad_after_word = (real[:, :-1] & ~real[:, 1:]).any(1)
        if bool(pad_after_word.any()):
            row = int(pad_after_word.nonzero()[0, 0])
            raise ValueError(f"row {row} has padding (id {PAD_ID}) after a word: ids must be pre-padded "
                             "(padding first, as text.pad_sequences does)")
        lengths = real.sum(1)
        if bool((lengths == 0).any()):
            raise ValueError("every review needs at least one token")
        t_max = int(lengths.max())
        return self.embedding(left_align(ids, lengths)[:, :t_max]), lengths

    def last_hidden(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Run the recurrent layer over embedded reviews; [B, H] state after each one's last word."""
        out, _ = self.rnn(x)  # [B, T, H]
        return out[torch.arange(len(lengths), device=out.device), lengths - 1]

    def final_hidden(self, ids: torch.Tensor) -> torch.Tensor:
        """[B, H] hidden state after each review's last real word."""
        x, lengths = self.embed(ids)
        x = self.embed_dropout(x.transpose(1, 2)).transpose(1, 2)
        return self.last_hidden(x, lengths)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits [B] for pre-padded ids [B, T]."""
        return self.dense(self.dropout(self.final_hidden(ids))).squeeze(-1)


class SeededDropout(nn.Module):
    """Dropout whose masks come from ``generator`` when one is set, so a training run's result does
    not depend on what else in the process draws random numbers; else it is ``nn.Dropout``.
    ``channels=True`` drops whole channels of [B, C, T] input, as ``nn.Dropout1d`` (Keras SpatialDropout1D)."""

    def __init__(self, p: float, channels: bool = False):
        super().__init__()
        self.p, self.channels = p, channels
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.generator is None:
            return (nn.functional.dropout1d if self.channels else nn.functional.dropout)(x, self.p, True)
        if self.p >= 1:
            return torch.zeros_like(x)
        shape = (*x.shape[:2], *(1,) * (x.dim() - 2)) if self.channels else x.shape
        keep = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(1 - self.p, generator=self.generator)
        return x * keep / (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}, channels={self.channels}"


def left_align(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Move each row's real ids (at the end of a pre-padded row) to the front."""
    T = ids.shape[1]
    idx = (torch.arange(T, device=ids.device)[None, :] + (T - lengths)[:, None]) % T
    return ids.gather(1, idx)


def parameter_counts(module: SentimentRNN) -> dict[str, int]:
    """Parameters by layer, and the total (all are trained; a loaded model freezes them)."""
    counts = {
        name: sum(p.numel() for p in getattr(module, name).parameters())
        for name in ("embedding", "rnn", "dense")
    }
    counts["total"] = sum(counts.values())
    return counts
