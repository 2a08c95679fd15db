"""The model family: Embedding(V, E) -> {GRU | LSTM | RNN(tanh)} with H units -> Linear(H, 1) -> sigmoid.

With the defaults V=5000, E=100, H=100 this is the seed's Keras model: the GRU
version has exactly 560,701 trainable parameters (embedding 500,000, GRU 60,600,
dense 101).

A model imported from Keras may be a GRU of the other form (``gru_form``, see
``archs.GRU_FORMS``) and may read what Keras fed it before a review's words
(``Prefix``: the padding up to maxlen, the start mark); it then starts each review
from the state after that prefix (``initial_state``) instead of zero.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import archs, cell
from .text import PAD_ID


@dataclass(frozen=True)
class Prefix:
    """What a Keras model reads before a review's own words, as ``pad_sequences(maxlen)`` feeds it.

    ``padding``: the 0-padding in front is read (Keras ``mask_zero=False``: a learned
    embedding row at every padding step); False: it is skipped (``mask_zero=True``).
    ``start_id``: the start mark ``keras.datasets.imdb`` puts before every review (None: none).
    A review of ``maxlen`` words or more is cut to its last ``maxlen`` ids, as Keras cuts
    [start] + words: no padding and no start mark are read then.
    """

    maxlen: int
    padding: bool
    start_id: int | None

    def ids(self, n_words: int) -> list[int]:
        """The ids read before a review of ``n_words`` word ids."""
        if n_words >= self.maxlen:
            return []
        lead = [] if self.start_id is None else [self.start_id]
        return [PAD_ID] * ((self.maxlen - n_words - len(lead)) if self.padding else 0) + lead

    def padding_steps(self, n_words: int) -> int:
        return sum(i == PAD_ID for i in self.ids(n_words))

    def to_json(self) -> dict:
        return {"maxlen": self.maxlen, "reads_padding": self.padding, "start_id": self.start_id}


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
                 generator: torch.Generator | None = None, gru_form: str = archs.RESET_AFTER,
                 prefix: Prefix | None = None):
        super().__init__()
        spec = archs.arch(arch)  # ValueError naming the choices
        if gru_form not in archs.GRU_FORMS or (arch != "gru" and gru_form != archs.RESET_AFTER):
            raise ValueError(f"gru_form must be one of {tuple(archs.GRU_FORMS)} (and only a GRU has another form)")
        self.arch, self.gru_form, self.prefix = arch, gru_form, prefix
        self._prefix_cache: tuple | None = None
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.rnn = (spec.module(embed_dim, hidden, batch_first=True) if gru_form == archs.RESET_AFTER
                    else cell.CellRNN(embed_dim, hidden, gru_form))
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

    def initial_state(self, lengths: torch.Tensor) -> cell.State:
        """The state each review starts its first word from, by its length in word ids [B]: zero, or
        for a model with a ``prefix`` the state after reading that prefix (([B, H],) or, LSTM, (h, c))."""
        if self.prefix is None:
            return cell.zero_state(self, (len(lengths),))
        table = self._prefix_states()
        idx = lengths.clamp(max=self.prefix.maxlen).to(table[0].device)
        return tuple(t[idx] for t in table)

    def _prefix_states(self) -> cell.State:
        """[maxlen + 1, H] per state part: row n is the state after the prefix of an n-word review. Cached with
        the weights it was computed from (the recurrent layer's and the padding and start rows), compared
        exactly on every call, so a weight changed in any way (``p.data[...] =``, a copy, a dtype) recomputes
        it; with gradients on it is computed afresh, so they flow through the padding steps too."""
        P, M = self.prefix, self.prefix.maxlen
        rows = [PAD_ID] + ([P.start_id] if P.start_id is not None else [])
        inputs = (self.embedding.weight[rows], *self.rnn.parameters())
        track = torch.is_grad_enabled() and any(p.requires_grad for p in (self.embedding.weight, *inputs[1:]))
        cached = self._prefix_cache
        if not track and cached is not None and len(cached[0]) == len(inputs) and all(
                a.dtype == b.dtype and a.device == b.device and a.shape == b.shape and torch.equal(a, b)
                for a, b in zip(cached[0], inputs)):
            return cached[1]
        w, form, emb = cell.weights(self), cell.form(self), self.embedding.weight
        zero = cell.zero_state(self, (1,))
        after_pads, s = [zero], zero  # the state after k padding steps, k = 0..M
        for _ in range(M if P.padding else 0):
            s, _ = cell.step(self.arch, w, emb[PAD_ID][None], s, form=form)
            after_pads.append(s)
        n = torch.arange(M + 1, device=emb.device)  # words in the review
        pads = (M - n - int(P.start_id is not None)).clamp(min=0) if P.padding else torch.zeros_like(n)
        base = tuple(torch.cat([a[i] for a in after_pads])[pads] for i in range(len(zero)))
        if P.start_id is not None:
            started, _ = cell.step(self.arch, w, emb[P.start_id].expand(M + 1, -1), base, form=form)
            base = tuple(torch.where((n < M)[:, None], a, b) for a, b in zip(started, base))
        base = tuple(torch.where((n < M)[:, None], b, torch.zeros_like(b)) for b in base)  # cut: nothing before
        if not track:
            base = tuple(b.detach() for b in base)
            self._prefix_cache = (tuple(t.detach().clone() for t in inputs), base)
        return base

    def last_hidden(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Run the recurrent layer over embedded reviews; [B, H] state after each one's last word."""
        out, _ = self.rnn(x, self.initial_hx(lengths))  # [B, T, H]
        return out[torch.arange(len(lengths), device=out.device), lengths - 1]

    def initial_hx(self, lengths: torch.Tensor):
        """``initial_state`` as the recurrent layer takes it (None: zero, the native default)."""
        if self.prefix is None:
            return None
        state = tuple(s[None].contiguous() for s in self.initial_state(lengths))
        return state if len(state) == 2 else state[0]

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
