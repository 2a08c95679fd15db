"""Tables the Unit atlas page shows, read from a stored unit index (``units.json``): pure functions."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..archs import GATE_LABELS
from ..i18n import N_, _

# How the ablated units are chosen (stored keys -> what the chart's legend says).
CHOICES = {"by_correlation": N_("top |label correlation|"), "by_weight": N_("top |output weight|"),
           "random": N_("random units")}


def unit_table(index: dict) -> pd.DataFrame:
    """One row per unit: the measures of ``units.build_index`` (contexts and word lists left out), the columns
    named in the current language (the first is the unit's number)."""
    gates = index["settings"]["gates"]
    columns = {"unit": _("unit"), "output_weight": _("output weight"), "label_correlation": _("r(final h, label)"),
               "one_unit_accuracy": _("one-unit accuracy"), "h_mean": _("mean h"), "h_std": _("std h")}
    for g in gates:
        label = _(GATE_LABELS.get(g, g))
        columns.update({f"{g}_mean": _("mean {gate}").format(gate=label), f"{g}_std": _("std {gate}").format(gate=label),
                        f"{g}_left": f"{label} < 0.1", f"{g}_right": f"{label} > 0.9"})
    rows = [{title: row.get(key) for key, title in columns.items()} for row in index["units"]]
    frame = pd.DataFrame(rows, columns=list(columns.values()))
    return frame.astype({c: "float64" for c in frame.columns if c != columns["unit"]})


def context_rows(index: dict, unit: int, which: str) -> list[dict]:
    """The stored contexts of ``unit``: ``which`` is "top" (most activating) or "bottom" (most suppressing)."""
    return index["units"][unit]["contexts"][which]


def word_frame(index: dict, unit: int, which: str) -> pd.DataFrame:
    """The words that raise (``which`` = "up") or lower ("down") ``unit`` most on average (columns: word, mean Δh,
    times read, in the current language)."""
    rows = index["units"][unit]["top_words"][which]
    return pd.DataFrame(rows, columns=[_("word"), _("mean Δh"), _("times read")])


def cocluster_frame(index: dict, words_per_group: int = 8) -> pd.DataFrame:
    """Long table for the co-clustering heatmap: units and words reordered by group.

    Each word group shows its ``words_per_group`` words with the largest mean
    |Δh| over the units of its own group. Columns: unit, unit_group, unit_rank,
    word, word_group, word_rank, response (signed mean Δh).
    """
    c = index["cocluster"]
    response = np.asarray(c["response"], dtype=np.float64)  # [W, H]
    unit_groups = np.asarray(c["unit_groups"])
    word_groups = np.asarray(c["word_groups"])
    units = np.argsort(unit_groups, kind="stable")
    words = []
    for g in range(c["n_clusters"]):
        members = np.flatnonzero(word_groups == g)
        own = unit_groups == g
        strength = np.abs(response[members][:, own]).mean(1) if own.any() else np.zeros(len(members))
        words += [int(w) for w in members[np.argsort(-strength, kind="stable")[:words_per_group]]]
    block = response[words][:, units]  # [w, H] in display order
    return pd.DataFrame({
        "unit": np.tile(units, len(words)),
        "unit_group": np.tile(unit_groups[units], len(words)),
        "unit_rank": np.tile(np.arange(len(units)), len(words)),
        "word": np.repeat([c["words"][w] for w in words], len(units)),
        "word_group": np.repeat(word_groups[words], len(units)),
        "word_rank": np.repeat(np.arange(len(words)), len(units)),
        "response": block.reshape(-1),
    })


def cocluster_groups(index: dict, words_per_group: int = 15) -> pd.DataFrame:
    """One row per group: its units and its words (strongest first, by mean |Δh| over the group's units); columns
    group, units, n words, words in the current language."""
    c = index["cocluster"]
    response = np.abs(np.asarray(c["response"], dtype=np.float64))
    unit_groups = np.asarray(c["unit_groups"])
    word_groups = np.asarray(c["word_groups"])
    rows = []
    for g in range(c["n_clusters"]):
        members = np.flatnonzero(word_groups == g)
        own = unit_groups == g
        strength = response[members][:, own].mean(1) if own.any() else np.zeros(len(members))
        ranked = members[np.argsort(-strength, kind="stable")]
        rows.append({_("group"): g, _("units"): ", ".join(str(u) for u in np.flatnonzero(own)),
                     _("n words"): len(members), _("words"): ", ".join(c["words"][w] for w in ranked[:words_per_group])})
    return pd.DataFrame(rows)


def ablation_frame(index: dict) -> pd.DataFrame:
    """Accuracy against k for each choice of units: columns choice (``CHOICES``, in the current language), k,
    accuracy, low, high (random: ± 1 std)."""
    a = index["ablation"]
    rows = []
    for key in ("by_correlation", "by_weight"):
        rows += [{"choice": _(CHOICES[key]), "k": int(k), "accuracy": v, "low": v, "high": v}
                 for k, v in a[key].items()]
    key = "random"
    rows += [{"choice": _(CHOICES[key]), "k": int(k), "accuracy": m, "low": m - s, "high": m + s}
             for k, (m, s) in a[key].items()]
    return pd.DataFrame(rows, columns=["choice", "k", "accuracy", "low", "high"])


def fit_on_text(index: dict) -> str:
    """Where the one-unit thresholds were fitted ("20,000 training reviews" or "the test reviews themselves", as
    ``units.build_index`` stores it), in the current language."""
    fit_on = str(index.get("one_unit_fit_on", ""))
    if fit_on == "the test reviews themselves":
        return _("the test reviews themselves")
    n, sep, rest = fit_on.partition(" ")
    if sep and rest == "training reviews" and n.replace(",", "").isdigit():
        return _("{n} training reviews").format(n=n)
    return fit_on
