"""Chart builders for interventions: pure functions, frame in (from ``interventions``), Altair chart out.

The trajectories of both runs use ``charts.trajectory`` with ``series="run"``.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from ..archs import GATE_LABELS
from ..i18n import _
from .gates import bar_rows, word_axis, word_tips


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


def change_by_word_chart(df: pd.DataFrame) -> alt.VConcatChart:
    """Mean |Δ| over the units at each word, one row of bars per quantity (from ``change_by_word_frame``)."""
    rows = df.assign(quantity=[_("mean |Δ| {quantity}").format(quantity=q) for q in df["quantity"]])
    return bar_rows(rows, "quantity", _("quantity"), _("mean |Δ|"), row_height=80)
