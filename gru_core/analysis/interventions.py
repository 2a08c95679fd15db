"""Interventions on one review: change chosen units at every word and see what breaks.

An intervention is a set of units, a kind and (for ``clamp``) a value. It
becomes an edit for ``cell.run``, the step-by-step cell, so a changed unit
feeds into the next word exactly as the model would carry it. The kinds:

- ``ablate``: h_k := 0 after every word; ``clamp``: h_k := v.
- ``freeze`` (keep the memory): GRU update gate z_k := 1, so h_k(t) = h_k(t−1);
  LSTM forget gate f_k := 1 and input gate i_k := 0, so the cell c_k(t) = c_k(t−1)
  (h_k = o_k·tanh(c_k) still follows the output gate); the plain RNN has no
  gate, so freezing is defined directly as h_k(t) := h_k(t−1).
- ``overwrite`` (always rewrite): GRU z_k := 0, so h_k = n_k; LSTM f_k := 0 and
  i_k := 1, so c_k = g_k. Not defined for the plain RNN (it has no gate to force).
- ``reset_open`` / ``reset_closed``: GRU reset gate r_k := 1 / r_k := 0 (GRU only).

Every kind applies from word ``start`` on (0 = the first word). The intervened
run is read like a trace: the same tokens (from ``SentimentModel.trace``), its
own gates, hidden states and running verdict, plus its differences to the plain run.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..archs import GATE_LABELS
from ..archs import arch as get_arch
from ..cell import Edit, run
from ..i18n import N_, _
from ..predictor import SentimentModel
from ..trace import Trace
from .explain import gate_frame, quantities, words_frame
from .units import INDEX_FILE, read_index

KINDS: tuple[str, ...] = ("ablate", "clamp", "freeze", "overwrite", "reset_open", "reset_closed")
KIND_LABELS = {  # N_() constants: show them with _()
    "ablate": N_("ablate (h := 0)"),
    "clamp": N_("clamp h to a value"),
    "freeze": N_("freeze memory"),
    "overwrite": N_("always overwrite"),
    "reset_open": N_("reset gate r := 1"),
    "reset_closed": N_("reset gate r := 0"),
}
# What each kind does to unit k, per architecture; a kind missing for an architecture is in _NOT_FOR. Both are
# N_() constants: ``meaning`` and ``not_available`` translate them.
_MEANING = {
    "ablate": {a: N_("h_k := 0 after every word: the unit is silenced, and the next word, the other units and "
                  "the verdict all read 0 from it.") for a in ("gru", "lstm", "rnn")},
    "clamp": {a: N_("h_k := v after every word: the unit holds the value v whatever the review says.")
              for a in ("gru", "lstm", "rnn")},
    "freeze": {
        "gru": N_("update gate z_k := 1, so h_k(t) = h_k(t−1): the unit keeps its memory and ignores every word. "
               "From the first word this holds h_k at h_0 (0, so the same hidden states as ablating; for a "
               "Keras model that reads padding, the state the padding left); "
               "from a later word it holds the value it had just before."),
        "lstm": N_("forget gate f_k := 1 and input gate i_k := 0 (the LSTM's analogue of z = 1), so the cell "
                "c_k(t) = c_k(t−1) keeps its memory; h_k = o_k·tanh(c_k) still follows the output gate. "
                "From the first word the cell stays at c_0 (0, so h_k = 0; for a Keras model that reads "
                "padding, the cell the padding left)."),
        "rnn": N_("a plain RNN has no gate to hold, so freezing is defined directly as h_k(t) := h_k(t−1). "
               "From the first word this holds h_k at h_0 (0, or the state the padding left)."),
    },
    "overwrite": {
        "gru": N_("update gate z_k := 0, so h_k(t) = n_k(t): the unit forgets its past at every word and "
               "takes the candidate."),
        "lstm": N_("forget gate f_k := 0 and input gate i_k := 1 (the LSTM's analogue of z = 0), so the cell "
                "c_k(t) = g_k(t) forgets its past at every word; h_k = o_k·tanh(g_k)."),
    },
    "reset_open": {"gru": N_("reset gate r_k := 1: the candidate n_k uses the whole recurrent term W_hn h + b_hn.")},
    "reset_closed": {"gru": N_("reset gate r_k := 0: the candidate ignores the memory, n_k = tanh(W_in x + b_in).")},
}
_NOT_FOR = {
    ("overwrite", "rnn"): N_("A plain RNN has no gates: every word already rewrites its whole state "
                          "(h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)), so there is no gate to force open."),
    **{(k, a): N_("Only the GRU has a reset gate.") for k in ("reset_open", "reset_closed") for a in ("lstm", "rnn")},
}
# The gates each gate-forcing kind sets, and to what (ablate, clamp and the RNN's freeze set h instead).
_FORCED = {
    ("freeze", "gru"): {"update": 1.0},
    ("freeze", "lstm"): {"forget": 1.0, "input": 0.0},
    ("overwrite", "gru"): {"update": 0.0},
    ("overwrite", "lstm"): {"forget": 0.0, "input": 1.0},
    ("reset_open", "gru"): {"reset": 1.0},
    ("reset_closed", "gru"): {"reset": 0.0},
}
# The fused native layer and the step-by-step cell agree to ~1e-7 (float32): smaller changes are rounding.
ROUNDING = 1e-6


@dataclass(frozen=True)
class Intervention:
    """Change ``units`` in the way ``kind`` says, from word ``start`` (0-based) on."""

    units: tuple[int, ...]
    kind: str = "ablate"
    value: float = 0.0  # clamp only
    start: int = 0

    def describe(self) -> str:
        """'ablate (h := 0) on units 3, 17' (+ the value, + the first word when not the first), in the interface's
        language."""
        what = (_("clamp h to {value:+.2f}").format(value=self.value) if self.kind == "clamp"
                else _(KIND_LABELS.get(self.kind, self.kind)))
        units, n = ", ".join(map(str, self.units)) or _("no units"), len(self.units)
        # One msgid per English form (not ngettext: the catalog's checks take one string per entry); Chinese has one.
        if self.start:
            return (_("{what} on unit {units}, from word {word}") if n == 1 else
                    _("{what} on units {units}, from word {word}")).format(what=what, units=units, word=self.start + 1)
        return (_("{what} on unit {units}") if n == 1 else _("{what} on units {units}")).format(what=what, units=units)


def kinds_for(arch: str) -> tuple[str, ...]:
    """The kinds defined for an architecture, in KINDS order."""
    get_arch(arch)
    return tuple(k for k in KINDS if arch in _MEANING[k])


def meaning(kind: str, arch: str) -> str:
    """What ``kind`` does to a unit of ``arch`` (shown beside the choice, in the interface's language); ValueError
    when not defined."""
    if kind not in _MEANING:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if arch not in _MEANING[kind]:
        raise ValueError(f"{KIND_LABELS[kind]} is not defined for the {get_arch(arch).display}: "
                         f"{_NOT_FOR[(kind, arch)]}")
    return _(_MEANING[kind][arch])


def not_available(arch: str) -> dict[str, str]:
    """The kinds an architecture lacks, each with the reason (for the page to say why they are missing, in the
    interface's language)."""
    get_arch(arch)
    return {k: _(_NOT_FOR[(k, arch)]) for k in KINDS if arch not in _MEANING[k]}


def check(intervention: Intervention, arch: str, n_units: int) -> None:
    """ValueError naming what is wrong: unknown kind, one not defined for ``arch``, a bad unit, value or start."""
    meaning(intervention.kind, arch)
    units = intervention.units
    if any(not isinstance(u, (int, np.integer)) or not 0 <= u < n_units for u in units):
        raise ValueError(f"units must be whole numbers from 0 to {n_units - 1}, not {list(units)}")
    if len(set(units)) != len(units):
        raise ValueError(f"a unit is listed twice in {list(units)}")
    if not math.isfinite(intervention.value):
        raise ValueError(f"the clamp value must be a finite number, not {intervention.value}")
    if intervention.start < 0:
        raise ValueError(f"start must be a word position >= 0, not {intervention.start}")


def make_edit(intervention: Intervention, arch: str, n_units: int, h0: torch.Tensor | None = None) -> Edit:
    """The ``cell.run`` edit that applies ``intervention``; a fresh one for every run (the RNN's freeze
    remembers the previous word's state, from ``h0``: the state before the first word, zero by default)."""
    check(intervention, arch, n_units)
    idx = torch.tensor([int(u) for u in intervention.units], dtype=torch.long)
    start, kind = intervention.start, intervention.kind

    def put(value: torch.Tensor, new) -> torch.Tensor:
        value = value.clone()
        value[..., idx] = new
        return value

    if kind in ("ablate", "clamp"):
        level = 0.0 if kind == "ablate" else float(intervention.value)

        def edit(name: str, t: int, value: torch.Tensor) -> torch.Tensor:
            return put(value, level) if name == "hidden" and t >= start else value
        return edit
    if (kind, arch) == ("freeze", "rnn"):
        previous: list[torch.Tensor] = [] if h0 is None else [h0]  # h(t−1) as the run carried it

        def edit(name: str, t: int, value: torch.Tensor) -> torch.Tensor:
            if name != "hidden":
                return value
            if t >= start:
                value = put(value, (previous[0] if previous else torch.zeros_like(value))[..., idx])
            previous[:] = [value]
            return value
        return edit
    forced = _FORCED[(kind, arch)]

    def edit(name: str, t: int, value: torch.Tensor) -> torch.Tensor:
        return put(value, forced[name]) if name in forced and t >= start else value
    return edit


@dataclass
class InterventionResult:
    """The plain trace of a review and the run with ``intervention`` (None: no change), word for word."""

    intervention: Intervention | None
    plain: Trace
    changed: Trace  # the intervened run: the same tokens, its own gates, hidden states and verdicts

    @property
    def proba_change(self) -> float:
        return self.changed.proba - self.plain.proba

    @property
    def verdict_flipped(self) -> bool:
        return (self.changed.proba > 0.5) != (self.plain.proba > 0.5)

    @cached_property
    def deltas(self) -> dict[str, np.ndarray]:
        """Intervened − plain for every gate and the hidden state: name -> [T, H]."""
        before = quantities(self.plain)
        return {name: value - before[name] for name, value in quantities(self.changed).items()}

    def change_by_word(self) -> dict[str, np.ndarray]:
        """Mean |Δ| over the units at each word: name -> [T]."""
        return {name: np.abs(d).mean(1) for name, d in self.deltas.items()}

    def change_by_unit(self) -> dict[str, np.ndarray]:
        """Mean |Δ| over the words for each unit: name -> [H]."""
        return {name: np.abs(d).mean(0) for name, d in self.deltas.items()}


@torch.no_grad()
def run_intervention(model: SentimentModel, text: str, intervention: Intervention | None = None,
                     plain: Trace | None = None) -> InterventionResult:
    """Read ``text`` with the step-by-step cell, applying ``intervention`` at every word.

    The words and their ids are those of ``model.trace(text)`` (pass it as
    ``plain`` when already computed). ValueError when the text holds no words or
    the intervention does not fit the model.
    """
    plain = plain if plain is not None else model.trace(text)
    module = model.module
    edit = None
    ids = torch.tensor(plain.ids)[None].to(module.embedding.weight.device)  # a copy: cached traces are read-only
    x, lengths = module.embed(ids)
    if intervention is not None:
        edit = make_edit(intervention, model.arch, module.rnn.hidden_size, module.initial_state(lengths)[0])
    hidden, gates, _last = run(module, x, edit)
    step_proba = torch.sigmoid(module.dense(hidden).squeeze(-1))[0].cpu().numpy().astype(np.float64)
    changed = dataclasses.replace(
        plain, hidden=hidden[0].cpu().numpy(), gates={k: v[0].cpu().numpy() for k, v in gates.items()},
        step_proba=step_proba, proba=float(step_proba[-1]))
    return InterventionResult(intervention, plain, changed)


# --- Choosing units ----------------------------------------------------------------------------------------

def read_label_correlations(model_dir: str | Path, n_units: int, weights_sha256: str | None) -> np.ndarray | None:
    """[H] each unit's correlation with the true label, from the unit atlas's index next to the model;
    None when there is no index. ValueError (saying why) when it cannot be read, names other weights
    (an index built before the model was retrained), or does not fit ``n_units``."""
    if not (Path(model_dir) / INDEX_FILE).is_file():
        return None
    index, why = read_index(model_dir, weights_sha256)
    if index is None:
        raise ValueError(why)
    return label_correlations(index, n_units)


def label_correlations(index: dict, n_units: int) -> np.ndarray:
    """[H] each unit's correlation with the true label from a loaded atlas index (NaN where it has none)."""
    out = np.full(n_units, np.nan)
    for row in index["units"]:
        unit, r = int(row["unit"]), row["label_correlation"]
        if not 0 <= unit < n_units:
            raise ValueError(f"the unit index names unit {unit}, outside this model's {n_units} units")
        out[unit] = np.nan if r is None else float(r)
    return out


# --- Frames for the page's charts and tables ------------------------------------------------------------

def trajectory_frame(result: InterventionResult) -> pd.DataFrame:
    """P(positive) after each word, both runs (column ``run``: 'plain', 'intervened', in the interface's language);
    for ``charts.trajectory``."""
    return pd.concat([words_frame(result.plain).assign(run=_("plain")),
                      words_frame(result.changed).assign(run=_("intervened"))], ignore_index=True)


def delta_frame(result: InterventionResult, quantity: str, window: tuple[int, int] | None = None) -> pd.DataFrame:
    """Units × words of intervened − plain for one quantity (the layout of ``explain.gate_frame``),
    with ``intervened`` marking the changed units."""
    diff = dataclasses.replace(result.plain, gates=result.deltas, hidden=result.deltas["hidden"])
    frame = gate_frame(diff, quantity, window=window)
    units = set(result.intervention.units) if result.intervention else set()
    return frame.assign(intervened=frame["unit"].isin(units))


def change_by_word_frame(result: InterventionResult, window: tuple[int, int] | None = None) -> pd.DataFrame:
    """Long frame of mean |Δ| per word: step, label, word, quantity (as the page names it, translated), value."""
    words = words_frame(result.plain)[["step", "label", "word"]]
    a, b = window if window else (0, len(words))
    rows = [words.iloc[a:b].assign(quantity=_(GATE_LABELS[name]), value=v[a:b])
            for name, v in result.change_by_word().items()]
    return pd.concat(rows, ignore_index=True)


def change_summary(result: InterventionResult, top: int = 3) -> pd.DataFrame:
    """One row per quantity: mean |Δ| over words and units, |Δ| at the last word, and the units outside
    the intervened set that changed most (mean |Δ| over the words, above float rounding). Headers and names in the
    interface's language."""
    chosen = set(result.intervention.units) if result.intervention else set()
    rows = []
    for name, d in result.deltas.items():
        by_unit = np.abs(d).mean(0)
        others = [u for u in np.argsort(-by_unit, kind="stable") if u not in chosen and by_unit[u] > ROUNDING][:top]
        rows.append({_("quantity"): _(GATE_LABELS[name]), _("mean |Δ|"): float(np.abs(d).mean()),
                     _("mean |Δ| at the last word"): float(np.abs(d[-1]).mean()),
                     _("most changed other units"): ", ".join(f"{u} ({by_unit[u]:.3f})" for u in others) or _("none")})
    return pd.DataFrame(rows)
