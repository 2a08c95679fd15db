"""Charts of the model comparison: confusion matrices, gate saturation, memory reach."""
from __future__ import annotations

import altair as alt
import pandas as pd


def confusion_chart(df: pd.DataFrame, title: str = "") -> alt.LayerChart:
    """One confusion matrix: columns true, predicted, count."""
    base = alt.Chart(df, title=title).encode(
        x=alt.X("predicted:N", title="predicted", axis=alt.Axis(labelAngle=0)), y=alt.Y("true:N", title="true"))
    cells = base.mark_rect().encode(color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None),
                                    tooltip=[alt.Tooltip("true:N"), alt.Tooltip("predicted:N"), alt.Tooltip("count:Q", format=",")])
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
        x=alt.X("left:Q", title=f"left-saturated (< {low})", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("right:Q", title=f"right-saturated (> {high})", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("gate:N", scale=alt.Scale(scheme="tableau10"), legend=None),
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("gate:N"), alt.Tooltip("unit:Q"), alt.Tooltip("left:Q", format=".3f"),
                 alt.Tooltip("right:Q", format=".3f")],
    ).properties(height=230)


def gradient_curve(df: pd.DataFrame, y_title: str = "‖∂ logit / ∂ word embedding‖", title: str = "") -> alt.Chart:
    """Gradient size against distance from the end: columns model, distance, gradient (log scale), reviews
    (how many reviews each point averages)."""
    return alt.Chart(df, title=title).mark_line().encode(
        x=alt.X("distance:Q", title="words before the end (0 = last word)"),
        y=alt.Y("gradient:Q", scale=alt.Scale(type="log"), title=y_title),
        color=alt.Color("model:N", scale=alt.Scale(scheme="tableau10")),
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("distance:Q"), alt.Tooltip("gradient:Q", format=".3g"),
                 alt.Tooltip("reviews:Q", title="reviews averaged")],
    ).properties(height=280)
