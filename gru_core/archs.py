"""The three recurrent architectures, described once; every other module reads this.

PyTorch stacks one weight block per gate in ``weight_ih_l0``/``weight_hh_l0``,
in the order of ``blocks``. ``traced`` lists what a trace records at each word
besides the hidden state, in the order the pages show it; ``state`` is what
the layer carries from one word to the next.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .i18n import N_


@dataclass(frozen=True)
class Arch:
    name: str  # "gru": config.json's "arch", CLI choice, shipped folder name
    display: str  # "GRU": what the pages call it (an N_() constant: show it with _())
    module: type[nn.RNNBase]  # the native PyTorch layer
    blocks: tuple[str, ...]  # weight blocks, PyTorch's order
    block_labels: tuple[str, ...]  # the same blocks as the equations name them
    traced: tuple[str, ...]  # quantities traced per word (besides the hidden state)
    sigmoid: frozenset[str]  # the traced quantities that are sigmoid gates, in [0, 1]
    state: tuple[str, ...]  # carried from word to word: ("h",) or ("h", "c")

    @property
    def gates(self) -> tuple[str, ...]:
        """The sigmoid gates, in trace order: ("update", "reset") for the GRU."""
        return tuple(g for g in self.traced if g in self.sigmoid)

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)


ARCHS: dict[str, Arch] = {
    "gru": Arch(
        "gru", "GRU", nn.GRU,
        blocks=("reset", "update", "candidate"),
        block_labels=(N_("reset gate r"), N_("update gate z"), N_("candidate n")),
        traced=("update", "reset", "candidate"),
        sigmoid=frozenset({"update", "reset"}),
        state=("h",),
    ),
    "lstm": Arch(
        "lstm", "LSTM", nn.LSTM,
        blocks=("input", "forget", "cell_candidate", "output"),
        block_labels=(N_("input gate i"), N_("forget gate f"), N_("cell candidate g"), N_("output gate o")),
        traced=("input", "forget", "cell_candidate", "output", "cell"),
        sigmoid=frozenset({"input", "forget", "output"}),
        state=("h", "c"),
    ),
    "rnn": Arch(
        "rnn", N_("plain RNN"), nn.RNN,
        blocks=("hidden",),
        block_labels=(N_("hidden state h"),),
        traced=(),
        sigmoid=frozenset(),
        state=("h",),
    ),
}
# The GRU's two forms: where the reset gate acts on the memory in the candidate n.
RESET_AFTER, RESET_BEFORE = "reset_after", "reset_before"
GRU_FORMS: dict[str, str] = {
    RESET_AFTER: "reset after the recurrent product, n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)): "
                 "PyTorch's nn.GRU, cuDNN, Keras reset_after=True (Keras 3's default)",
    RESET_BEFORE: "reset before the recurrent product, n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn): "
                  "Cho et al. 2014, Keras reset_after=False (Keras 2 and older tutorials); no native PyTorch layer",
}
# The candidate's equation in each form, as the pages write it, and what the pages say about the form.
CANDIDATE_LATEX: dict[str, str] = {
    RESET_AFTER: r"n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))",
    RESET_BEFORE: r"n_t = \tanh(W_{in} x_t + b_{in} + W_{hn} (r_t \odot h_{t-1}) + b_{hn})",
}
GRU_FORM_NOTE: dict[str, str] = {  # N_() constants: show them with _()
    RESET_AFTER: N_("This is PyTorch's form: the reset gate multiplies the recurrent product *after* the matrix "
                 "(W_hn h + b_hn), as in cuDNN and Keras `reset_after=True`. Cho et al. (2014) apply it before: "
                 "n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn). The two are different models; these weights were "
                 "trained with PyTorch's form."),
    RESET_BEFORE: N_("This is the form of Cho et al. (2014), Keras `reset_after=False`: the reset gate multiplies the "
                  "memory *before* the recurrent matrix, W_hn (r ⊙ h), and b_hn is 0 (Keras keeps one bias). "
                  "PyTorch's nn.GRU applies it after the product, r ⊙ (W_hn h + b_hn), and cannot run these "
                  "weights: every step here is computed by the step-by-step cell with the equation above."),
}
NAMES: tuple[str, ...] = tuple(ARCHS)  # ("gru", "lstm", "rnn"): also the shipped models' folders
SIGMOID_GATES: frozenset[str] = frozenset().union(*(a.sigmoid for a in ARCHS.values()))


def arch(name: str) -> Arch:
    """The description of ``name``; ValueError naming the choices otherwise."""
    try:
        return ARCHS[name]
    except (KeyError, TypeError):
        raise ValueError(f"arch must be one of {NAMES}, not {name!r}") from None

# Traced quantity -> the name the equations give it: each weight block's label (the plain RNN's
# one block is its hidden state), plus the LSTM's cell, which has no block of its own. N_() constants: show them
# with _().
GATE_LABELS: dict[str, str] = {
    **{block: label for a in ARCHS.values() for block, label in zip(a.blocks, a.block_labels, strict=True)},
    "cell": N_("cell state c"),
}
