"""Training charts: per-epoch learning curves and a live run's running loss and accuracy."""
from __future__ import annotations

import altair as alt
import pandas as pd


def learning_curves(df: pd.DataFrame, measure: str) -> alt.Chart:
    """Per-epoch curves of one measure (loss or accuracy): columns model, epoch, split, measure, value."""
    return alt.Chart(df[df["measure"] == measure], title=measure).mark_line(point=True).encode(
        x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("model:N", scale=alt.Scale(scheme="tableau10")),
        strokeDash=alt.StrokeDash("split:N", title=None),
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("epoch:Q"), alt.Tooltip("split:N"), alt.Tooltip("measure:N"), alt.Tooltip("value:Q", format=".4f")],
    ).properties(height=240)


def training_progress(df: pd.DataFrame) -> alt.Chart:
    """Running loss and accuracy during a training run (columns step, measure, value)."""
    return alt.Chart(df).mark_line().encode(
        x=alt.X("step:Q", title="training step"),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("measure:N", scale=alt.Scale(scheme="tableau10")),
        tooltip=[alt.Tooltip("step:Q"), alt.Tooltip("measure:N"), alt.Tooltip("value:Q", format=".4f")],
    ).properties(height=240)
