"""Gradient-descent charts: the 1-D cost with its tangent and path, 2-D contours with optimizer paths,
cost per step, and the real model's loss along a slice or over a plane."""
from __future__ import annotations

import altair as alt
import pandas as pd

from ..descent import OPTIMIZER_LABELS
from ..i18n import _


def _shown(paths: pd.DataFrame) -> pd.DataFrame:
    """The paths with each optimizer named in the interface's language (the legend shows these values)."""
    return paths.assign(optimizer=paths["optimizer"].map(lambda n: _(OPTIMIZER_LABELS.get(n, n))))


def descent_1d_chart(curve: pd.DataFrame, path: pd.DataFrame, tangent: pd.DataFrame) -> alt.LayerChart:
    """J(θ) (columns theta, J), the steps so far (step, theta, J; the last is current), and the tangent."""
    x_dom = [float(curve["theta"].min()), float(curve["theta"].max())]
    lo, hi = float(curve["J"].min()), float(curve["J"].max())
    y_dom = [lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)]
    x = alt.X("theta:Q", title=_("θ"), scale=alt.Scale(domain=x_dom, clamp=True))
    y = alt.Y("J:Q", title=_("J(θ)"), scale=alt.Scale(domain=y_dom, clamp=True))
    line = alt.Chart(curve).mark_line(color="gray").encode(x=x, y=y)
    tan = alt.Chart(tangent).mark_line(color="#ca0020", strokeDash=[6, 3]).encode(x=x, y=y)
    steps = alt.Chart(path).mark_line(point=True, color="#0571b0", opacity=0.8).encode(
        x=x, y=y, order=alt.Order("step:Q"),
        tooltip=[alt.Tooltip("step:Q", title=_("step k")), alt.Tooltip("theta:Q", title=_("θ"), format=".5f"),
                 alt.Tooltip("J:Q", title=_("J(θ)"), format=".5f")])
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
        x=alt.X("t0:Q", title=_("θ0"), scale=alt.Scale(domain=x_dom, nice=False)), x2=alt.X2("t0b:Q"),
        y=alt.Y("t1:Q", title=_("θ1"), scale=alt.Scale(domain=y_dom, nice=False)), y2=alt.Y2("t1b:Q"),
        color=alt.Color("logJ:Q", title=_("log10 J"), scale=alt.Scale(scheme="viridis"),
                        bin=alt.Bin(maxbins=14)),
        tooltip=[alt.Tooltip("t0:Q", title=_("θ0"), format=".2f"), alt.Tooltip("t1:Q", title=_("θ1"), format=".2f"),
                 alt.Tooltip("logJ:Q", title=_("log10 J"), format=".3f")])
    clipped = _shown(paths).assign(t0=paths["t0"].clip(*x_dom), t1=paths["t1"].clip(*y_dom))
    lines = alt.Chart(clipped).mark_line(point=alt.OverlayMarkDef(size=18), strokeWidth=2).encode(
        x=alt.X("t0:Q"), y=alt.Y("t1:Q"), order=alt.Order("step:Q"),
        color=alt.Color("optimizer:N", title=_("optimizer"), scale=alt.Scale(range=["#ffffff", "#ff7f0e", "#e7298a"])),
        tooltip=[alt.Tooltip("optimizer:N", title=_("optimizer")), alt.Tooltip("step:Q", title=_("step k")),
                 alt.Tooltip("t0:Q", title=_("θ0"), format=".4f"), alt.Tooltip("t1:Q", title=_("θ1"), format=".4f")])
    return (heat + lines).properties(height=380, title=title).resolve_scale(color="independent")


def loss_per_step(df: pd.DataFrame, y: str = "J", log: bool = True) -> alt.Chart:
    """Cost against step, one line per optimizer (columns optimizer, step, and ``y``)."""
    return alt.Chart(_shown(df)).mark_line().encode(
        x=alt.X("step:Q", title=_("step k")),
        y=alt.Y(f"{y}:Q", title=y, scale=alt.Scale(type="symlog" if log else "linear")),
        color=alt.Color("optimizer:N", title=_("optimizer"),
                        scale=alt.Scale(range=["#444444", "#ff7f0e", "#e7298a"])),
        tooltip=[alt.Tooltip("optimizer:N", title=_("optimizer")), alt.Tooltip("step:Q", title=_("step k")),
                 alt.Tooltip(f"{y}:Q", title=y, format=".5g")],
    ).properties(height=220)


def slice_chart(df: pd.DataFrame, path: pd.DataFrame | None = None) -> alt.LayerChart:
    """Loss along a 1-D slice (columns offset, loss), with an optional descent path (offset, loss, step)."""
    base = alt.Chart(df).mark_line(color="gray").encode(
        x=alt.X("offset:Q", title=_("θ (offset from the trained value)")),
        y=alt.Y("loss:Q", title=_("loss on the batch"), scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("offset:Q", title=_("offset"), format=".4f"),
                 alt.Tooltip("loss:Q", title=_("loss"), format=".5f")])
    zero = alt.Chart(pd.DataFrame({"offset": [0.0]})).mark_rule(color="lightgray", strokeDash=[3, 3]).encode(
        x=alt.X("offset:Q"))
    chart = zero + base
    if path is not None and len(path):
        chart += alt.Chart(path).mark_line(point=True, color="#0571b0").encode(
            x=alt.X("offset:Q"), y=alt.Y("loss:Q"), order=alt.Order("step:Q"),
            tooltip=[alt.Tooltip("step:Q", title=_("step k")), alt.Tooltip("offset:Q", title=_("offset"), format=".5f"),
                     alt.Tooltip("loss:Q", title=_("loss"), format=".6f")])
    return chart.properties(height=300)


def surface_chart(grid: pd.DataFrame) -> alt.Chart:
    """2-D loss surface over two directions (columns a, b, loss)."""
    return alt.Chart(grid).mark_rect().encode(
        x=alt.X("a:O", title=_("direction 1"), axis=alt.Axis(format=".2f", labelAngle=0)),
        y=alt.Y("b:O", title=_("direction 2"), sort="descending", axis=alt.Axis(format=".2f")),
        color=alt.Color("loss:Q", scale=alt.Scale(scheme="viridis", type="log"), title=_("loss")),
        tooltip=[alt.Tooltip("a:Q", title=_("direction 1"), format=".2f"),
                 alt.Tooltip("b:Q", title=_("direction 2"), format=".2f"),
                 alt.Tooltip("loss:Q", title=_("loss"), format=".5f")],
    ).properties(height=360)
