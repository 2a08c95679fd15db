"""Training charts: per-epoch learning curves and a live run's running loss and accuracy."""
from __future__ import annotations

import altair as alt
import pandas as pd

from ..i18n import N_, _

MEASURES = {"loss": N_("loss"), "accuracy": N_("accuracy")}
SPLITS = {"train": N_("train"), "validation": N_("validation")}


def _shown(df: pd.DataFrame, column: str, labels: dict[str, str]) -> pd.Series:
    """A column's stable values in the interface's language (a legend and the tooltips show them)."""
    return df[column].map(lambda v: _(labels[v]) if v in labels else v)


def learning_curves(df: pd.DataFrame, measure: str) -> alt.Chart:
    """Per-epoch curves of one measure (loss or accuracy): columns model, epoch, split, measure, value."""
    rows = df[df["measure"] == measure]
    rows = rows.assign(split=_shown(rows, "split", SPLITS), measure=_shown(rows, "measure", MEASURES))
    title = _(MEASURES[measure]) if measure in MEASURES else measure
    return alt.Chart(rows, title=title).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title=_("epoch"), axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("model:N", title=_("model"), scale=alt.Scale(scheme="tableau10")),
        strokeDash=alt.StrokeDash("split:N", title=None),
        tooltip=[alt.Tooltip("model:N", title=_("model")), alt.Tooltip("epoch:Q", title=_("epoch")),
                 alt.Tooltip("split:N", title=_("split")), alt.Tooltip("measure:N", title=_("measure")),
                 alt.Tooltip("value:Q", title=_("value"), format=".4f")],
    ).properties(height=240)


def training_progress(df: pd.DataFrame) -> alt.Chart:
    """Running loss and accuracy during a training run (columns step, measure, value)."""
    return alt.Chart(df.assign(measure=_shown(df, "measure", MEASURES))).mark_line().encode(
        x=alt.X("step:Q", title=_("training step")),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("measure:N", title=_("measure"), scale=alt.Scale(scheme="tableau10")),
        tooltip=[alt.Tooltip("step:Q", title=_("training step")), alt.Tooltip("measure:N", title=_("measure")),
                 alt.Tooltip("value:Q", title=_("value"), format=".4f")],
    ).properties(height=240)
