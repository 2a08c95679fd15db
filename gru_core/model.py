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
                 hidden: int = 100, embed_dropout: float = 0.0, dropout: float = 0.0):
        super().__init__()
        spec = archs.arch(arch)  # ValueError naming the choices
        self.arch = arch
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.rnn = spec.module(embed_dim, hidden, batch_first=True)
        self.dense = nn.Linear(hidden, 1)
        # Spatial dropout (Keras SpatialDropout1D): one mask per review and channel.
        self.embed_dropout = nn.Dropout1d(embed_dropout)
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)  # Keras' default
        with torch.no_grad():
            self.embedding.weight[PAD_ID].zero_()
        blocks = archs.ARCHS[self.arch].blocks
        g = len(blocks)
        for name, w in self.rnn.named_parameters():
            if name.startswith("weight_ih"):
                for block in w.chunk(g, 0):
                    nn.init.xavier_uniform_(block)
            elif name.startswith("weight_hh"):
                for block in w.chunk(g, 0):
                    nn.init.orthogonal_(block)
            else:
                nn.init.zeros_(w)
        if "forget" in blocks:
            # Forget-gate bias 1 (Jozefowicz et al. 2015), as Keras' unit_forget_bias.
            h, k = self.rnn.hidden_size, blocks.index("forget")
            with torch.no_grad():
                self.rnn.bias_ih_l0[k * h:(k + 1) * h].fill_(1.0)
        nn.init.xavier_uniform_(self.dense.weight)
        nn.init.zeros_(self.dense.bias)

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
