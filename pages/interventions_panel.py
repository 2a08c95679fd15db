"""The Gate Explorer's Interventions section: change chosen units at every word and see what breaks.

``explorer.py`` calls ``interventions_panel(model, trace)`` once. The section is
lazy, like the edited-review comparison: nothing is computed while it is closed.
The intervened run goes through the step-by-step cell (``gru_core/cell.py``);
everything else on the page keeps using the fast trace.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from gru_core.analysis.ablation import top_units
from gru_core.analysis.explain import WINDOW, last_window, output_weights, quantities
from gru_core.analysis.interventions import (
    KIND_LABELS,
    change_by_word_frame,
    change_summary,
    delta_frame,
    kinds_for,
    label_correlations,
    meaning,
    not_available,
    trajectory_frame,
)
from gru_core.analysis.units import INDEX_FILE
from gru_core.archs import GATE_LABELS
from gru_core.archs import arch as get_arch
from gru_core.charts.gates import trajectory
from gru_core.charts.interventions import change_by_word_chart, delta_heatmap
from gru_core.i18n import N_, _
from gru_core.predictor import SentimentModel
from gru_core.trace import Trace
from pages.common import intervened, unit_index

# The unit sources (option values, shown with _()).
PICK, BY_WEIGHT, BY_CORRELATION = N_("units I pick"), N_("top k by |output weight|"), N_("top k by label correlation")


def _verdict(p: float) -> str:
    return _("positive") if p > 0.5 else _("negative")


def interventions_panel(model: SentimentModel, trace: Trace) -> None:
    """A closed expander; opened, it reruns the review with chosen units changed and shows what moved."""
    box = st.expander(_("Interventions: change units and see what breaks"), key="iv_open", on_change="rerun")
    with box:
        if box.open:
            _panel(model, trace)


def _correlations(model: SentimentModel, n_units: int) -> tuple[np.ndarray | None, str | None]:
    """(label correlations or None, why they are not offered or None), from the cached atlas index."""
    if model.path is None:
        return None, _("this model has no folder to hold the unit atlas's index.")
    if not (Path(model.path) / INDEX_FILE).is_file():
        return None, _("this model's folder has no unit atlas index (`{file}`); build it with "
                       "`python -m gru_core units --model {folder}`.").format(file=INDEX_FILE, folder=model.path)
    index, why = unit_index(model)
    if index is None:
        return None, why
    try:
        return label_correlations(index, n_units), None
    except ValueError as e:
        return None, f"{e}"


def _choose_units(model: SentimentModel, n_units: int) -> tuple[int, ...]:
    weights = output_weights(model)
    corr, why_not = _correlations(model, n_units)
    sources = [PICK, BY_WEIGHT] + ([BY_CORRELATION] if corr is not None else [])
    source = st.radio(_("Units"), sources, index=1, horizontal=True, key="iv_source",
                      format_func={s: _(s) for s in sources}.get,
                      help=_("|output weight|: the units whose value moves the verdict most per unit of h. "
                             "Label correlation: Pearson r of the unit's final h with the true label over the "
                             "IMDB test set (from the unit atlas), largest |r| first."))
    if why_not:
        st.caption(_("“{source}” is not offered: {why}").format(source=_(BY_CORRELATION), why=why_not))
    if source == PICK:
        inspected = st.session_state.get("unit")  # start from the unit inspector's unit, when it fits this model
        first = int(inspected) if isinstance(inspected, int) and 0 <= inspected < n_units else top_units(weights, 1)[0]
        return tuple(sorted(st.multiselect(_("Units to change"), list(range(n_units)), default=[first],
                                           key=f"iv_units_{n_units}",
                                           help=_("Starts with the unit shown in the unit inspector above."))))
    k = int(st.number_input(_("k"), 1, n_units, min(5, n_units), key=f"iv_k_{n_units}",
                            help=_("How many units, taken from the top of the ranking.")))
    scores = weights if source == BY_WEIGHT else corr
    units = top_units(scores, k)
    listed = ", ".join(f"{u} ({scores[u]:+.3f})" for u in units)
    st.caption((_("Units by |output weight|: {units}") if source == BY_WEIGHT
                else _("Units by |label correlation|: {units}")).format(units=listed))
    return units


def _panel(model: SentimentModel, trace: Trace) -> None:
    arch, n_units, T = model.arch, model.module.rnn.hidden_size, len(trace.tokens)
    st.caption(_("The review is read again by the step-by-step cell (the same weights and equations, one word at "
                 "a time) with the chosen units changed at every word; each change feeds into the next word."))
    units = _choose_units(model, n_units)
    kinds = kinds_for(arch)
    left, right = st.columns(2)
    kind = left.selectbox(_("Intervention"), kinds, format_func={k: _(KIND_LABELS[k]) for k in kinds}.get, key=f"iv_kind_{arch}",
                          help=_("What is done to the chosen units at every word; the caption below says it in "
                                 "equations for this architecture."))
    value = 0.0
    if kind == "clamp":
        value = right.slider(_("Clamp value v"), -1.0, 1.0, 0.5, 0.05, key="iv_value",
                             help=_("h stays within (−1, 1) in all three architectures; this slider covers that "
                                    "range."))
    start = 0
    if T > 1:
        start = st.slider(_("Apply from word"), 1, T, 1, key=f"iv_start_{T}",
                          help=_("1: from the first word. Later: the words before it are read as usual.")) - 1
    display = _(get_arch(arch).display)
    st.caption(_("**{kind}** ({arch}): {meaning}").format(kind=_(KIND_LABELS[kind]), arch=display,
                                                           meaning=meaning(kind, arch)))
    missing: dict[str, list[str]] = {}
    for name, why in not_available(arch).items():
        missing.setdefault(why, []).append(f"**{_(KIND_LABELS[name])}**")
    for why, names in missing.items():
        st.caption(_("Not offered for the {arch}: {kinds}. {why}").format(arch=display, kinds=", ".join(names), why=why))
    if not units:
        st.info(_("Pick at least one unit to change."))
        return

    result = intervened(model, trace.text, units, kind, value, start)
    before, after = result.plain.proba, result.changed.proba
    cols = st.columns(3)
    cols[0].metric(_("P(positive) as trained"), f"{before:.3f}")
    cols[1].metric(_("P(positive) with intervention"), f"{after:.3f}", delta=f"{after - before:+.3f}")
    cols[2].metric(_("Verdict with intervention"), _verdict(after),
                   delta=_("flipped from {verdict}").format(verdict=_verdict(before)) if result.verdict_flipped
                   else _("unchanged"),
                   delta_color="inverse" if result.verdict_flipped else "off", delta_arrow="off")
    numbers = {"what": result.intervention.describe(), "before": before, "after": after, "change": after - before,
               "was": _verdict(before), "now": _verdict(after)}
    st.markdown((_("With **{what}**, P(positive) goes from {before:.3f} to {after:.3f} ({change:+.3f}): the verdict "
                   "flips from {was} to {now}.") if result.verdict_flipped else
                 _("With **{what}**, P(positive) goes from {before:.3f} to {after:.3f} ({change:+.3f}): the verdict "
                   "stays {now}.")).format(**numbers))

    st.altair_chart(trajectory(trajectory_frame(result), series="run"), width="stretch")
    window = last_window(trace)
    if T > WINDOW:
        st.caption(_("The charts below show the last {n} of {total} words read, where the verdict is decided.")
                   .format(n=WINDOW, total=T))
    names = list(quantities(result.changed))
    tabs = st.tabs([_("Δ {quantity}").format(quantity=_(GATE_LABELS[n])) for n in names])
    for tab, name in zip(tabs, names):
        with tab:
            st.altair_chart(delta_heatmap(delta_frame(result, name, window), name), width="stretch")
    st.caption(_("Δ = intervened run − run as trained, for each unit (rows, by index) and word; "
                 "orange: higher with the intervention, purple: lower."))
    st.altair_chart(change_by_word_chart(change_by_word_frame(result, window)), width="stretch")
    st.dataframe(change_summary(result), hide_index=True)
