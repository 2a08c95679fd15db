"""Per-word, per-unit charts of one trace: heatmaps of every gate, the verdict's trajectory, unit lines.

Pure functions, data frame in, Altair chart out. Colour scales are colour-blind-safe:
red–blue for the verdict, viridis for gates in [0, 1], purple–orange centred on 0 for
signed quantities (candidate, cell, hidden state).
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from ..archs import GATE_LABELS, SIGMOID_GATES
from ..i18n import N_, _

# A traced quantity's short name, the heatmap legend's title.
QUANTITY_NAMES = {"update": N_("update"), "reset": N_("reset"), "candidate": N_("candidate"), "hidden": N_("hidden"),
                  "input": N_("input"), "forget": N_("forget"), "cell_candidate": N_("cell_candidate"),
                  "output": N_("output"), "cell": N_("cell")}
# What a trajectory's series column names (its tooltip's title).
SERIES_NAMES = {"model": N_("model"), "run": N_("run"), "review": N_("review")}


def quantity_scale(quantity: str) -> alt.Scale:
    if quantity in SIGMOID_GATES:
        return alt.Scale(scheme="viridis", domain=[0, 1])
    if quantity == "cell":  # unbounded: centre on 0, let the data set the range
        return alt.Scale(scheme="purpleorange", domainMid=0)
    return alt.Scale(scheme="purpleorange", domain=[-1, 1])


def word_axis(df: pd.DataFrame) -> alt.X:
    """The words on the x axis, in reading order (``label`` is '3 · good', unique per step)."""
    return alt.X("label:N", sort=pd.unique(df["label"]).tolist(), title=None,
                 axis=alt.Axis(labelAngle=-60, labelLimit=90))


def word_tips() -> list[alt.Tooltip]:
    """The tooltip's first two fields on every per-word chart: the word and its position."""
    return [alt.Tooltip("word:N", title=_("word")), alt.Tooltip("step:Q", title=_("step"))]


def heatmap(df: pd.DataFrame, quantity: str, height_per_unit: int = 5, select: bool = False) -> alt.Chart:
    """Units × words (from ``explain.gate_frame``); tooltip: word, unit, value.

    With ``select``, clicking a cell selects its unit and word (selection ``cell``,
    fields unit and step: for the unit inspector; see ``picked_cell``).
    """
    n_units = int(df["rank"].max()) + 1 if len(df) else 1
    chart = alt.Chart(df, title=_(GATE_LABELS.get(quantity, quantity))).mark_rect().encode(
        x=word_axis(df),
        y=alt.Y("rank:O", title=_("unit (in chosen order)"), axis=alt.Axis(labels=False, ticks=False)),
        color=alt.Color("value:Q", scale=quantity_scale(quantity), title=_(QUANTITY_NAMES.get(quantity, quantity))),
        tooltip=word_tips() + [alt.Tooltip("unit:Q", title=_("unit")), alt.Tooltip("value:Q", format=".4f", title=_("value"))],
    ).properties(height=max(120, n_units * height_per_unit))
    if select:
        pick = alt.selection_point(name="cell", fields=["unit", "step"], on="click")
        chart = chart.add_params(pick).encode(
            opacity=alt.OpacityValue(0.55, condition={"param": pick.name, "value": 1.0}))
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
    x = word_axis(df) if series is None else alt.X("step:Q", title=_("word position"))
    tooltip = word_tips() + [alt.Tooltip("p_positive:Q", format=".4f", title=_("P(positive)"))]
    enc = {"x": x, "y": alt.Y("p_positive:Q", scale=alt.Scale(domain=[0, 1]), title=_("P(positive)")),
           "tooltip": tooltip + ([alt.Tooltip(f"{series}:N", title=_(SERIES_NAMES.get(series, series)))] if series else [])}
    if series:
        enc["color"] = alt.Color(f"{series}:N", title=None, scale=alt.Scale(scheme="tableau10"))
    line = alt.Chart(df).mark_line(point=True, interpolate="linear").encode(**enc)
    mid = alt.Chart(pd.DataFrame({"y": [0.5]})).mark_rule(strokeDash=[4, 4], color="gray").encode(y=alt.Y("y:Q"))
    return (mid + line).properties(height=260)


def bar_rows(long: pd.DataFrame, field: str, field_title: str, value_title: str, row_height: int) -> alt.VConcatChart:
    """One row of bars per value of ``field`` (in first-seen order; the row's title), words along a shared x axis.

    Stacked views rather than a row facet: Streamlit stretches a vconcat to its container but leaves a facet
    at its natural width, wider than a column on a narrow screen. Rows are titled on top (no label column
    beside them) and their y axes have one width, so the bars of a word line up down the stack.
    """
    names = list(dict.fromkeys(long[field]))
    colour = alt.Scale(scheme="tableau10", domain=names)
    words = word_axis(long)  # one order of the words for every row
    bare = words.axis(labels=False, ticks=False, domain=True)  # the words are written once, under the bottom row
    rows = []
    for i, name in enumerate(names):
        x = words if i == len(names) - 1 else bare
        rows.append(alt.Chart(long[long[field] == name], title=alt.Title(name, anchor="start", fontSize=12))
                    .mark_bar().encode(
            x=x, y=alt.Y("value:Q", title=None, axis=alt.Axis(minExtent=40, maxExtent=40, tickCount=3)),
            color=alt.Color(f"{field}:N", legend=None, scale=colour),
            tooltip=word_tips() + [alt.Tooltip(f"{field}:N", title=field_title),
                                   alt.Tooltip("value:Q", format=".4f", title=value_title)],
        ).properties(height=row_height))
    return alt.vconcat(*rows, spacing=12)


def word_summary_chart(df: pd.DataFrame) -> alt.VConcatChart:
    """Per-word gate means and ‖h_t − h_{t−1}‖ (from ``explain.word_summaries``), one row each."""
    cols = [c for c in df.columns if c.startswith("mean_") or c == "h_change"]
    long = df.melt(id_vars=["step", "label", "word"], value_vars=cols, var_name="measure", value_name="value")
    names = {c: (_("mean {quantity}").format(quantity=_(GATE_LABELS.get(c[5:], c[5:]))) if c.startswith("mean_")
                 else "‖h_t − h_{t−1}‖") for c in cols}
    long["measure"] = long["measure"].map(names)
    return bar_rows(long, "measure", _("measure"), _("value"), row_height=90)


def unit_lines(df: pd.DataFrame) -> alt.Chart:
    """One unit's quantities over the words: columns step, label, word, quantity, value."""
    return alt.Chart(df).mark_line(point=True).encode(
        x=word_axis(df),
        y=alt.Y("value:Q", title=None),
        color=alt.Color("quantity:N", title=None, scale=alt.Scale(scheme="tableau10")),
        tooltip=word_tips() + [alt.Tooltip("quantity:N", title=_("quantity")),
                               alt.Tooltip("value:Q", format=".4f", title=_("value"))],
    ).properties(height=240)
