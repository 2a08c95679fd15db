"""Chart builders for interventions: pure functions, frame in (from ``interventions``), Altair chart out.

The trajectories of both runs use ``charts.trajectory`` with ``series="run"``.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from ..archs import GATE_LABELS
from ..i18n import _
from .gates import word_axis, word_tips


def delta_heatmap(df: pd.DataFrame, quantity: str, height_per_unit: int = 5) -> alt.Chart:
    """Units × words of intervened − plain (from ``interventions.delta_frame``), purple–orange centred on 0."""
    n_units = int(df["rank"].max()) + 1 if len(df) else 1
    return alt.Chart(df, title=_("Δ {quantity}").format(quantity=_(GATE_LABELS.get(quantity, quantity)))).mark_rect().encode(
        x=word_axis(df),
        y=alt.Y("rank:O", title=_("unit"), axis=alt.Axis(labels=False, ticks=False)),
        color=alt.Color("value:Q", scale=alt.Scale(scheme="purpleorange", domainMid=0), title=_("Δ")),
        tooltip=word_tips() + [alt.Tooltip("unit:Q", title=_("unit")),
                               alt.Tooltip("intervened:N", title=_("changed by hand")),
                               alt.Tooltip("value:Q", format="+.4f", title=_("intervened − plain"))],
    ).properties(height=max(120, n_units * height_per_unit))


def _label_expr(template: str) -> str:
    """A Vega expression that writes ``template`` (one ``{quantity}`` placeholder) around a header's value."""
    before, after = template.split("{quantity}")
    return " + ".join([*([repr(before)] if before else []), "datum.value", *([repr(after)] if after else [])])


def change_by_word_chart(df: pd.DataFrame) -> alt.Chart:
    """Mean |Δ| over the units at each word, one row of bars per quantity (from ``change_by_word_frame``)."""
    return alt.Chart(df).mark_bar().encode(
        x=word_axis(df),
        y=alt.Y("value:Q", title=None),
        color=alt.Color("quantity:N", legend=None, scale=alt.Scale(scheme="tableau10")),
        row=alt.Row("quantity:N", title=None, sort=list(dict.fromkeys(df["quantity"])),
                    header=alt.Header(labelAngle=0, labelAlign="left", labelExpr=_label_expr(_("mean |Δ| {quantity}")))),
        tooltip=word_tips() + [alt.Tooltip("quantity:N", title=_("quantity")),
                               alt.Tooltip("value:Q", format=".4f", title=_("mean |Δ|"))],
    ).properties(height=80).resolve_scale(y="independent")
