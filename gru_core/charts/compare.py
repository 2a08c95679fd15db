"""Charts of the model comparison: confusion matrices, gate saturation, memory reach."""
from __future__ import annotations

import altair as alt
import pandas as pd

from ..i18n import _


def confusion_chart(df: pd.DataFrame, title: str = "") -> alt.LayerChart:
    """One confusion matrix: columns true, predicted, count (labels "negative"/"positive", shown translated)."""
    df = df.assign(true=df["true"].map(_), predicted=df["predicted"].map(_))
    order = [_("negative"), _("positive")]
    base = alt.Chart(df, title=title).encode(
        x=alt.X("predicted:N", title=_("predicted"), sort=order, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("true:N", title=_("true"), sort=order))
    cells = base.mark_rect().encode(color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None),
                                    tooltip=[alt.Tooltip("true:N", title=_("true")),
                                             alt.Tooltip("predicted:N", title=_("predicted")),
                                             alt.Tooltip("count:Q", format=",", title=_("reviews"))])
    text = base.mark_text(fontSize=14).encode(
        text=alt.Text("count:Q", format=","),
        color=alt.ColorValue("black", condition=alt.condition(  # a Value channel: no lookup among Altair's classes
            alt.datum.count > float(df["count"].max()) / 2 if len(df) else False, alt.value("white"),
            alt.value("black"))["condition"]))
    return (cells + text).properties(height=180)


def saturation_scatter(df: pd.DataFrame, thresholds: tuple[float, float], title: str = "") -> alt.Chart:
    """One point per unit of one gate: columns unit, left, right (fractions of time steps below and above
    ``thresholds`` = (low, high), as stored with them)."""
    low, high = thresholds
    return alt.Chart(df, title=title).mark_circle(size=40, opacity=0.7).encode(
        x=alt.X("left:Q", title=_("left-saturated (< {low})").format(low=low), scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("right:Q", title=_("right-saturated (> {high})").format(high=high), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("gate:N", scale=alt.Scale(scheme="tableau10"), legend=None),
        tooltip=[alt.Tooltip("model:N", title=_("model")), alt.Tooltip("gate:N", title=_("gate")),
                 alt.Tooltip("unit:Q", title=_("unit")),
                 alt.Tooltip("left:Q", format=".3f", title=_("left-saturated (< {low})").format(low=low)),
                 alt.Tooltip("right:Q", format=".3f", title=_("right-saturated (> {high})").format(high=high))],
    ).properties(height=230)


def gradient_curve(df: pd.DataFrame, y_title: str = "‖∂ logit / ∂ word embedding‖", title: str = "") -> alt.Chart:
    """Gradient size against distance from the end: columns model, distance, gradient (log scale), reviews
    (how many reviews each point averages)."""
    return alt.Chart(df, title=title).mark_line().encode(
        x=alt.X("distance:Q", title=_("words before the end (0 = last word)")),
        y=alt.Y("gradient:Q", scale=alt.Scale(type="log"), title=y_title),
        color=alt.Color("model:N", scale=alt.Scale(scheme="tableau10"), title=_("model")),
        tooltip=[alt.Tooltip("model:N", title=_("model")), alt.Tooltip("distance:Q", title=_("distance")),
                 alt.Tooltip("gradient:Q", format=".3g", title=_("gradient")),
                 alt.Tooltip("reviews:Q", title=_("reviews averaged"))],
    ).properties(height=280)
