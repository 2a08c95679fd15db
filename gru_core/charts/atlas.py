"""Chart builders for the unit atlas: pure functions, data frame in, Altair chart out."""
from __future__ import annotations

import altair as alt
import pandas as pd

from ..i18n import _


def cocluster_heatmap(df: pd.DataFrame) -> alt.Chart:
    """Units × words reordered by co-cluster (from ``atlas.cocluster_frame``), coloured by mean Δh."""
    word_order = list(dict.fromkeys(df.sort_values("word_rank")["word"]))
    return alt.Chart(df, title=_("Expected response Δh, units × words, grouped")).mark_rect().encode(
        x=alt.X("word:N", sort=word_order, title=_("words (grouped)"),
                axis=alt.Axis(labelAngle=-90, labelLimit=90, labelOverlap=False, labelFontSize=9)),
        y=alt.Y("unit_rank:O", title=_("units (grouped)"), axis=alt.Axis(labels=False, ticks=False)),
        color=alt.Color("response:Q", scale=alt.Scale(scheme="purpleorange", domainMid=0), title=_("mean Δh")),
        tooltip=[alt.Tooltip("word:N", title=_("word")), alt.Tooltip("word_group:Q", title=_("word group")),
                 alt.Tooltip("unit:Q", title=_("unit")), alt.Tooltip("unit_group:Q", title=_("unit group")),
                 alt.Tooltip("response:Q", format="+.4f", title=_("mean Δh"))],
    ).properties(height=max(200, 4 * int(df["unit_rank"].max() + 1) if len(df) else 200))


def ablation_chart(df: pd.DataFrame, baseline: float) -> alt.LayerChart:
    """Test accuracy against the number of ablated units k, one line per choice (from ``atlas.ablation_frame``);
    random choices with ± 1 std error bars; the dashed rule is the accuracy with nothing ablated."""
    ks = sorted(set(df["k"]))
    x = alt.X("k:Q", title=_("units ablated (k, log scale)"),
              scale=alt.Scale(type="log", domain=[ks[0] * 0.9, ks[-1] * 1.1] if ks else None, nice=False),
              axis=alt.Axis(values=ks))
    colour = alt.Color("choice:N", title=None, scale=alt.Scale(scheme="tableau10"))
    accuracy = _("test accuracy")
    lines = alt.Chart(df).mark_line(point=True).encode(
        x=x, y=alt.Y("accuracy:Q", title=accuracy, scale=alt.Scale(zero=False)), color=colour,
        tooltip=[alt.Tooltip("choice:N", title=_("units")), alt.Tooltip("k:Q", title=_("k")),
                 alt.Tooltip("accuracy:Q", format=".4f", title=accuracy),
                 alt.Tooltip("low:Q", format=".4f", title=_("low")),
                 alt.Tooltip("high:Q", format=".4f", title=_("high"))])
    bars = alt.Chart(df[df["high"] > df["low"]]).mark_errorbar(ticks=True).encode(
        x=x, y=alt.Y("low:Q", title=accuracy), y2=alt.Y2("high:Q"), color=colour)
    base = alt.Chart(pd.DataFrame({"accuracy": [baseline], "label": [_("nothing ablated")]})).mark_rule(
        strokeDash=[4, 4], color="gray").encode(y=alt.Y("accuracy:Q"), tooltip=[
            alt.Tooltip("label:N", title=_("units")), alt.Tooltip("accuracy:Q", format=".4f", title=accuracy)])
    return (base + bars + lines).properties(height=300)
