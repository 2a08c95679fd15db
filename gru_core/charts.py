"""Chart builders: pure functions, data frame in, Altair chart (or escaped HTML) out.

Colour scales are colour-blind-safe: red–blue for the verdict (red negative,
blue positive), viridis for gates in [0, 1], purple–orange centred on 0 for
signed quantities (candidate, cell, hidden state).
"""
from __future__ import annotations

import html

import altair as alt
import numpy as np
import pandas as pd

from .archs import SIGMOID_GATES
from .explain import GATE_LABELS
from .stats import SATURATED_HIGH, SATURATED_LOW

NEG_RGB = (202, 0, 32)  # ends of Vega's redblue scheme
POS_RGB = (5, 113, 176)


def quantity_scale(quantity: str) -> alt.Scale:
    if quantity in SIGMOID_GATES:
        return alt.Scale(scheme="viridis", domain=[0, 1])
    if quantity == "cell":  # unbounded: centre on 0, let the data set the range
        return alt.Scale(scheme="purpleorange", domainMid=0)
    return alt.Scale(scheme="purpleorange", domain=[-1, 1])


def word_axis(df: pd.DataFrame) -> alt.X:
    """The words on the x axis, in reading order (``label`` is '3 · good', unique per step)."""
    return alt.X("label:N", sort=list(dict.fromkeys(df["label"])), title=None,
                 axis=alt.Axis(labelAngle=-60, labelLimit=90))


def heatmap(df: pd.DataFrame, quantity: str, height_per_unit: int = 5, select: bool = False) -> alt.Chart:
    """Units × words (from ``explain.gate_frame``); tooltip: word, unit, value.

    With ``select``, clicking a cell selects its unit and word (selection ``cell``,
    fields unit and step: for the unit inspector; see ``picked_cell``).
    """
    n_units = int(df["rank"].max()) + 1 if len(df) else 1
    chart = alt.Chart(df, title=GATE_LABELS.get(quantity, quantity)).mark_rect().encode(
        x=word_axis(df),
        y=alt.Y("rank:O", title="unit (in chosen order)", axis=alt.Axis(labels=False, ticks=False)),
        color=alt.Color("value:Q", scale=quantity_scale(quantity), title=quantity),
        tooltip=[alt.Tooltip("word:N"), alt.Tooltip("step:Q"), alt.Tooltip("unit:Q"),
                 alt.Tooltip("value:Q", format=".4f")],
    ).properties(height=max(120, n_units * height_per_unit))
    if select:
        pick = alt.selection_point(name="cell", fields=["unit", "step"], on="click")
        chart = chart.add_params(pick).encode(
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.55)))
    return chart


def picked_cell(event: object) -> tuple[int, int] | None:
    """(unit, step) of the cell clicked in a ``heatmap(..., select=True)``, from Streamlit's selection event."""
    try:
        chosen = event["selection"]["cell"]  # type: ignore[index]
        return int(chosen[0]["unit"]), int(chosen[0]["step"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def trajectory(df: pd.DataFrame, series: str | None = None) -> alt.Chart:
    """P(positive) after each word (from ``explain.words_frame``), with the 0.5 line.

    With ``series`` (a column naming the review or model), one line per series.
    """
    x = word_axis(df) if series is None else alt.X("step:Q", title="word position")
    tooltip = [alt.Tooltip("word:N"), alt.Tooltip("step:Q"), alt.Tooltip("p_positive:Q", format=".4f", title="P(positive)")]
    enc = {"x": x, "y": alt.Y("p_positive:Q", scale=alt.Scale(domain=[0, 1]), title="P(positive)"),
           "tooltip": tooltip + ([alt.Tooltip(f"{series}:N")] if series else [])}
    if series:
        enc["color"] = alt.Color(f"{series}:N", title=None, scale=alt.Scale(scheme="tableau10"))
    line = alt.Chart(df).mark_line(point=True, interpolate="linear").encode(**enc)
    mid = alt.Chart(pd.DataFrame({"y": [0.5]})).mark_rule(strokeDash=[4, 4], color="gray").encode(y="y:Q")
    return (mid + line).properties(height=260)


def word_summary_chart(df: pd.DataFrame) -> alt.Chart:
    """Per-word gate means and ‖h_t − h_{t−1}‖ (from ``explain.word_summaries``), one row each."""
    cols = [c for c in df.columns if c.startswith("mean_") or c == "h_change"]
    long = df.melt(id_vars=["step", "label", "word"], value_vars=cols, var_name="measure", value_name="value")
    names = {c: (GATE_LABELS.get(c[5:], c[5:]) if c.startswith("mean_") else "‖h_t − h_{t−1}‖") for c in cols}
    long["measure"] = long["measure"].map(lambda c: ("mean " + names[c]) if c.startswith("mean_") else names[c])
    return alt.Chart(long).mark_bar().encode(
        x=word_axis(df),
        y=alt.Y("value:Q", title=None),
        color=alt.Color("measure:N", legend=None, scale=alt.Scale(scheme="tableau10")),
        row=alt.Row("measure:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
        tooltip=["word:N", "step:Q", "measure:N", alt.Tooltip("value:Q", format=".4f")],
    ).properties(height=90).resolve_scale(y="independent")


def unit_lines(df: pd.DataFrame) -> alt.Chart:
    """One unit's quantities over the words: columns step, label, word, quantity, value."""
    return alt.Chart(df).mark_line(point=True).encode(
        x=word_axis(df),
        y=alt.Y("value:Q", title=None),
        color=alt.Color("quantity:N", title=None, scale=alt.Scale(scheme="tableau10")),
        tooltip=["word:N", "step:Q", "quantity:N", alt.Tooltip("value:Q", format=".4f")],
    ).properties(height=240)


def md_escape(text: str) -> str:
    """User text for a Markdown-rendering element: every Markdown/HTML character backslash-escaped."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|$<>~&:" else c for c in text.replace("\n", " "))


def _mix(value: float) -> str:
    """Background colour for a value in [-1, 1]: red (−1) – white (0) – blue (+1)."""
    v = float(np.clip(value, -1, 1))
    end = POS_RGB if v >= 0 else NEG_RGB
    a = abs(v)
    r, g, b = (round(255 + (c - 255) * a) for c in end)
    return f"rgb({r},{g},{b})"


def coloured_text_html(text: str, spans: list[tuple[int, int]], values: np.ndarray, tips: list[str],
                       unknown: np.ndarray | None = None, start: int | None = None) -> str:
    """The user's own text with each word's background coloured by a value in [-1, 1].

    Every piece of user text is HTML-escaped, so markup in a review shows as
    text. ``tips`` become hover titles. Text before ``start`` (the part a
    truncated review's model did not read) is left out and marked with an ellipsis.
    """
    out = []
    pos = start or 0
    if pos > 0:
        out.append('<span style="color:#888">… </span>')
    for (a, b), v, tip, unk in zip(spans, values, tips, unknown if unknown is not None else [False] * len(spans)):
        out.append(html.escape(text[pos:a]))
        style = f"background:{_mix(v)};color:{'#fff' if abs(v) > 0.6 else '#111'};padding:1px 2px;border-radius:3px"
        if unk:
            style += ";text-decoration:underline dotted;font-style:italic"
        out.append(f'<span style="{style}" title="{html.escape(tip, quote=True)}">{html.escape(text[a:b])}</span>')
        pos = b
    out.append(html.escape(text[pos:]))
    # Any line break (\r too) becomes <br>: a bare \r could end Markdown's HTML block.
    body = "".join(out).replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")
    return f'<div style="line-height:1.9;font-size:1.05rem">{body}</div>'


def learning_curves(df: pd.DataFrame, measure: str) -> alt.Chart:
    """Per-epoch curves of one measure (loss or accuracy): columns model, epoch, split, measure, value."""
    return alt.Chart(df[df["measure"] == measure], title=measure).mark_line(point=True).encode(
        x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("model:N", scale=alt.Scale(scheme="tableau10")),
        strokeDash=alt.StrokeDash("split:N", title=None),
        tooltip=["model:N", "epoch:Q", "split:N", "measure:N", alt.Tooltip("value:Q", format=".4f")],
    ).properties(height=240)


def confusion_chart(df: pd.DataFrame, title: str = "") -> alt.LayerChart:
    """One confusion matrix: columns true, predicted, count."""
    base = alt.Chart(df, title=title).encode(
        x=alt.X("predicted:N", title="predicted", axis=alt.Axis(labelAngle=0)), y=alt.Y("true:N", title="true"))
    cells = base.mark_rect().encode(color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None),
                                    tooltip=["true:N", "predicted:N", alt.Tooltip("count:Q", format=",")])
    text = base.mark_text(fontSize=14).encode(
        text=alt.Text("count:Q", format=","),
        color=alt.condition(alt.datum.count > float(df["count"].max()) / 2 if len(df) else False,
                            alt.value("white"), alt.value("black")))
    return (cells + text).properties(height=180)


def saturation_scatter(df: pd.DataFrame, title: str = "") -> alt.Chart:
    """One point per unit of one gate: columns unit, left, right (fractions of time steps)."""
    return alt.Chart(df, title=title).mark_circle(size=40, opacity=0.7).encode(
        x=alt.X("left:Q", title=f"left-saturated (< {SATURATED_LOW})", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("right:Q", title=f"right-saturated (> {SATURATED_HIGH})", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("gate:N", scale=alt.Scale(scheme="tableau10"), legend=None),
        tooltip=["model:N", "gate:N", "unit:Q", alt.Tooltip("left:Q", format=".3f"),
                 alt.Tooltip("right:Q", format=".3f")],
    ).properties(height=230)


def gradient_curve(df: pd.DataFrame, y_title: str = "‖∂ logit / ∂ word embedding‖", title: str = "") -> alt.Chart:
    """Gradient size against distance from the end: columns model, distance, gradient (log scale), reviews
    (how many reviews each point averages)."""
    return alt.Chart(df, title=title).mark_line().encode(
        x=alt.X("distance:Q", title="words before the end (0 = last word)"),
        y=alt.Y("gradient:Q", scale=alt.Scale(type="log"), title=y_title),
        color=alt.Color("model:N", scale=alt.Scale(scheme="tableau10")),
        tooltip=["model:N", "distance:Q", alt.Tooltip("gradient:Q", format=".3g"),
                 alt.Tooltip("reviews:Q", title="reviews averaged")],
    ).properties(height=280)


def descent_1d_chart(curve: pd.DataFrame, path: pd.DataFrame, tangent: pd.DataFrame) -> alt.LayerChart:
    """J(θ) (columns theta, J), the steps so far (step, theta, J; the last is current), and the tangent."""
    x_dom = [float(curve["theta"].min()), float(curve["theta"].max())]
    lo, hi = float(curve["J"].min()), float(curve["J"].max())
    y_dom = [lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)]
    x = alt.X("theta:Q", title="θ", scale=alt.Scale(domain=x_dom, clamp=True))
    y = alt.Y("J:Q", title="J(θ)", scale=alt.Scale(domain=y_dom, clamp=True))
    line = alt.Chart(curve).mark_line(color="gray").encode(x=x, y=y)
    tan = alt.Chart(tangent).mark_line(color="#ca0020", strokeDash=[6, 3]).encode(x=x, y=y)
    steps = alt.Chart(path).mark_line(point=True, color="#0571b0", opacity=0.8).encode(
        x=x, y=y, order="step:Q",
        tooltip=["step:Q", alt.Tooltip("theta:Q", format=".5f"), alt.Tooltip("J:Q", format=".5f")])
    now = alt.Chart(path.tail(1)).mark_point(size=180, filled=True, color="#ca0020").encode(x=x, y=y)
    return (line + tan + steps + now).properties(height=340)


def contour_chart(grid: pd.DataFrame, paths: pd.DataFrame, title: str = "") -> alt.LayerChart:
    """Filled contour-like heatmap of log J (columns t0, t1, logJ) with optimizer paths (optimizer, step, t0, t1)."""
    nx = grid["t0"].nunique()
    ny = grid["t1"].nunique()
    dx = (grid["t0"].max() - grid["t0"].min()) / max(nx - 1, 1)
    dy = (grid["t1"].max() - grid["t1"].min()) / max(ny - 1, 1)
    g = grid.assign(t0b=grid["t0"] + dx, t1b=grid["t1"] + dy)
    x_dom = [float(grid["t0"].min()), float(grid["t0"].max() + dx)]
    y_dom = [float(grid["t1"].min()), float(grid["t1"].max() + dy)]
    heat = alt.Chart(g).mark_rect().encode(
        x=alt.X("t0:Q", title="θ0", scale=alt.Scale(domain=x_dom, nice=False)), x2="t0b:Q",
        y=alt.Y("t1:Q", title="θ1", scale=alt.Scale(domain=y_dom, nice=False)), y2="t1b:Q",
        color=alt.Color("logJ:Q", title="log10 J", scale=alt.Scale(scheme="viridis"),
                        bin=alt.Bin(maxbins=14)),
        tooltip=[alt.Tooltip("t0:Q", format=".2f"), alt.Tooltip("t1:Q", format=".2f"),
                 alt.Tooltip("logJ:Q", format=".3f")])
    clipped = paths.assign(t0=paths["t0"].clip(*x_dom), t1=paths["t1"].clip(*y_dom))
    lines = alt.Chart(clipped).mark_line(point=alt.OverlayMarkDef(size=18), strokeWidth=2).encode(
        x="t0:Q", y="t1:Q", order="step:Q",
        color=alt.Color("optimizer:N", scale=alt.Scale(range=["#ffffff", "#ff7f0e", "#e7298a"])),
        tooltip=["optimizer:N", "step:Q", alt.Tooltip("t0:Q", format=".4f"), alt.Tooltip("t1:Q", format=".4f")])
    return (heat + lines).properties(height=380, title=title).resolve_scale(color="independent")


def loss_per_step(df: pd.DataFrame, y: str = "J", log: bool = True) -> alt.Chart:
    """Cost against step, one line per optimizer (columns optimizer, step, and ``y``)."""
    return alt.Chart(df).mark_line().encode(
        x=alt.X("step:Q"),
        y=alt.Y(f"{y}:Q", title=y, scale=alt.Scale(type="symlog" if log else "linear")),
        color=alt.Color("optimizer:N", scale=alt.Scale(range=["#444444", "#ff7f0e", "#e7298a"])),
        tooltip=["optimizer:N", "step:Q", alt.Tooltip(f"{y}:Q", format=".5g")],
    ).properties(height=220)


def slice_chart(df: pd.DataFrame, path: pd.DataFrame | None = None) -> alt.LayerChart:
    """Loss along a 1-D slice (columns offset, loss), with an optional descent path (offset, loss, step)."""
    base = alt.Chart(df).mark_line(color="gray").encode(
        x=alt.X("offset:Q", title="θ (offset from the trained value)"),
        y=alt.Y("loss:Q", title="loss on the batch", scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("offset:Q", format=".4f"), alt.Tooltip("loss:Q", format=".5f")])
    zero = alt.Chart(pd.DataFrame({"offset": [0.0]})).mark_rule(color="lightgray", strokeDash=[3, 3]).encode(
        x="offset:Q")
    chart = zero + base
    if path is not None and len(path):
        chart += alt.Chart(path).mark_line(point=True, color="#0571b0").encode(
            x="offset:Q", y="loss:Q", order="step:Q",
            tooltip=["step:Q", alt.Tooltip("offset:Q", format=".5f"), alt.Tooltip("loss:Q", format=".6f")])
    return chart.properties(height=300)


def surface_chart(grid: pd.DataFrame) -> alt.Chart:
    """2-D loss surface over two directions (columns a, b, loss)."""
    return alt.Chart(grid).mark_rect().encode(
        x=alt.X("a:O", title="direction 1", axis=alt.Axis(format=".2f", labelAngle=0)),
        y=alt.Y("b:O", title="direction 2", sort="descending", axis=alt.Axis(format=".2f")),
        color=alt.Color("loss:Q", scale=alt.Scale(scheme="viridis", type="log"), title="loss"),
        tooltip=[alt.Tooltip("a:Q", format=".2f"), alt.Tooltip("b:Q", format=".2f"),
                 alt.Tooltip("loss:Q", format=".5f")],
    ).properties(height=360)


def training_progress(df: pd.DataFrame) -> alt.Chart:
    """Running loss and accuracy during a training run (columns step, measure, value)."""
    return alt.Chart(df).mark_line().encode(
        x=alt.X("step:Q", title="training step"),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("measure:N", scale=alt.Scale(scheme="tableau10")),
        tooltip=["step:Q", "measure:N", alt.Tooltip("value:Q", format=".4f")],
    ).properties(height=240)
