"""Charts of the "Where models fail" page: accuracy per slice with models side by side, and the reliability
diagram."""
from __future__ import annotations

import altair as alt
import pandas as pd

from ..i18n import _

PICK = "slice_pick"  # the selection's name in Streamlit's event


def slice_chart(df: pd.DataFrame, select: bool = False) -> alt.LayerChart:
    """Accuracy per slice (rows, in ``order``), one dot per model with its 95% interval as a bar, models side by
    side. Columns: slice, label, group, order, model, n, accuracy, ci_low, ci_high. With ``select``, clicking a
    dot (or its interval) picks (slice, model)."""
    low = max(0.0, float(df["ci_low"].min()) - 0.02) if len(df) else 0.0
    labels = df.sort_values("order")["label"].drop_duplicates().tolist()
    models = list(dict.fromkeys(df["model"]))
    y = alt.Y("label:N", sort=labels, title=None, axis=alt.Axis(labelLimit=260))
    colour = alt.Color("model:N", scale=alt.Scale(domain=models, scheme="tableau10"), title=_("model"),
                       legend=alt.Legend(orient="top"))
    tooltip = [alt.Tooltip("model:N", title=_("model")), alt.Tooltip("group:N", title=_("slice group")),
               alt.Tooltip("label:N", title=_("slice")), alt.Tooltip("n:Q", format=",", title=_("reviews")),
               alt.Tooltip("accuracy:Q", format=".4f", title=_("accuracy")),
               alt.Tooltip("ci_low:Q", format=".4f", title=_("95% CI low")),
               alt.Tooltip("ci_high:Q", format=".4f", title=_("95% CI high"))]
    x_scale = alt.Scale(domain=[low, 1.0], zero=False)
    base = alt.Chart(df).encode(y=y, yOffset=alt.YOffset("model:N", sort=models), tooltip=tooltip)
    # A faint band across each (slice, model) row: a click anywhere in the row picks it.
    band = base.mark_bar(opacity=0.06, color="gray").encode(x=alt.datum(low, scale=x_scale), x2=alt.datum(1.0))
    interval = base.mark_bar(height=5, opacity=0.4).encode(
        x=alt.X("ci_low:Q", scale=x_scale, title=_("accuracy (dot) with its Wilson 95% interval (bar)")),
        x2=alt.X2("ci_high:Q"), color=colour)
    dots = base.mark_point(filled=True, size=70).encode(x=alt.X("accuracy:Q", scale=x_scale), color=colour)
    if select:
        pick = alt.selection_point(name=PICK, fields=["slice", "model"], on="click", clear="dblclick")
        band = band.add_params(pick)
        dots = dots.encode(opacity=alt.OpacityValue(0.3, condition={"param": pick.name, "value": 1.0}))
    rows = max(len(labels), 1)
    return alt.layer(band, interval, dots).properties(height=max(200, rows * (7 * len(models) + 6)))


def picked_slice(event: object) -> tuple[str, str] | None:
    """(slice, model) clicked in ``slice_chart(..., select=True)``, from Streamlit's selection event."""
    try:
        chosen = event["selection"][PICK]  # type: ignore[index]
        return str(chosen[0]["slice"]), str(chosen[0]["model"])
    except (KeyError, IndexError, TypeError):
        return None


def reliability_chart(df: pd.DataFrame) -> alt.LayerChart:
    """The reliability diagram: per model, the mean P(positive) of each bin against the share of its reviews that
    is positive, with the diagonal of perfect calibration. Columns: model, low, high, n, mean_p, share_positive."""
    models = list(dict.fromkeys(df["model"]))
    diagonal = alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x=alt.X("x:Q"), y=alt.Y("y:Q"))
    lines = alt.Chart(df).mark_line(point=alt.OverlayMarkDef(filled=True, size=50)).encode(
        x=alt.X("mean_p:Q", scale=alt.Scale(domain=[0, 1]), title=_("mean P(positive) in the bin")),
        y=alt.Y("share_positive:Q", scale=alt.Scale(domain=[0, 1]),
                title=_("share of the bin's reviews that is positive")),
        color=alt.Color("model:N", scale=alt.Scale(domain=models, scheme="tableau10"), title=_("model")),
        tooltip=[alt.Tooltip("model:N", title=_("model")), alt.Tooltip("low:Q", format=".1f", title=_("bin from")),
                 alt.Tooltip("high:Q", format=".1f", title=_("bin to")),
                 alt.Tooltip("n:Q", format=",", title=_("reviews")),
                 alt.Tooltip("mean_p:Q", format=".4f", title=_("mean P(positive)")),
                 alt.Tooltip("share_positive:Q", format=".4f", title=_("share positive"))])
    return (diagonal + lines).properties(height=320)
