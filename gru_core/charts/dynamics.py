"""Chart builders for the Dynamics page: pure functions, data frames in, Altair charts out."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..i18n import _

LABEL_COLOURS = ["#ca0020", "#0571b0"]  # negative, positive: as the verdict's red–blue in charts/text.py


def _label_scale() -> alt.Scale:
    return alt.Scale(domain=[_("negative"), _("positive")], range=LABEL_COLOURS)


def variance_bars(df: pd.DataFrame) -> alt.Chart:
    """Share of variance per principal component (``component``, ``fraction``, ``weights``: "trained" or
    "fresh initialisation", shown translated)."""
    kinds = [_("trained"), _("fresh initialisation")]
    df = df.assign(weights=df["weights"].map({"trained": kinds[0], "fresh initialisation": kinds[1]}))
    return alt.Chart(df, title=_("Variance explained by each principal component")).mark_bar().encode(
        x=alt.X("component:O", title=_("principal component")),
        xOffset=alt.XOffset("weights:N"),
        y=alt.Y("fraction:Q", title=_("share of variance"), axis=alt.Axis(format="%")),
        color=alt.Color("weights:N", title=_("weights"), sort=kinds,
                        scale=alt.Scale(domain=kinds, range=["#5e3c99", "#bbbbbb"])),
        tooltip=[alt.Tooltip("weights:N", title=_("weights")),
                 alt.Tooltip("component:O", title=_("principal component")),
                 alt.Tooltip("fraction:Q", format=".2%", title=_("share of variance"))],
    ).properties(height=220)


def state_plane(states: pd.DataFrame, fixed: pd.DataFrame, path: pd.DataFrame, marks: pd.DataFrame,
                title: str | None = None) -> alt.LayerChart:
    """Test states (``pc1``, ``pc2``, ``label``: "positive" or "negative", shown translated), fixed points, a
    trajectory (``word``, ``step``, ``p_positive``) and labelled marks (h₀, the readout arrow's tip, the verdict:
    ``pc1``, ``pc2``, ``text``, each shown through the catalog)."""
    x = alt.X("pc1:Q", title=_("PC1")), alt.Y("pc2:Q", title=_("PC2"))
    layers = [alt.Chart(states.assign(label=states["label"].map(_))).mark_circle(size=9, opacity=0.25).encode(
        *x, color=alt.Color("label:N", scale=_label_scale(), title=_("review label")))]
    if len(fixed):
        layers.append(alt.Chart(fixed).mark_point(shape="diamond", size=30, filled=True, color="black").encode(
            *x, tooltip=[alt.Tooltip("line_coord:Q", title=_("position on line"), format=".3f"),
                         alt.Tooltip("q:Q", format=".2e", title=_("q")),
                         alt.Tooltip("abs_eig:Q", title=_("top |λ|"), format=".4f")]))
    if len(path):
        layers.append(alt.Chart(path).mark_line(color="#ff7f00", strokeWidth=1.5).encode(*x, order=alt.Order("step:Q")))
        layers.append(alt.Chart(path).mark_circle(size=35, color="#ff7f00").encode(
            *x, tooltip=[alt.Tooltip("step:Q", title=_("step")), alt.Tooltip("word:N", title=_("word")),
                         alt.Tooltip("p_positive:Q", format=".3f", title=_("P(positive)"))]))
    if len(marks):
        marks = marks.assign(text=marks["text"].map(_))
        layers.append(alt.Chart(marks).mark_point(size=120, filled=True, shape="square", color="#333").encode(*x))
        layers.append(alt.Chart(marks).mark_text(align="left", dx=8, dy=-8, fontWeight="bold").encode(
            *x, text=alt.Text("text:N")))
    return alt.layer(*layers, title=_("State space: PC1–PC2") if title is None else title).properties(height=420)


def arrow(start: pd.DataFrame) -> alt.Chart:
    """A segment from (``pc1``, ``pc2``) to (``pc1_end``, ``pc2_end``) (the readout direction)."""
    return alt.Chart(start).mark_rule(color="#333", strokeWidth=2.5, strokeDash=[6, 3]).encode(
        x=alt.X("pc1:Q"), y=alt.Y("pc2:Q"), x2=alt.X2("pc1_end:Q"), y2=alt.Y2("pc2_end:Q"))


def eigen_plane(eigs: pd.DataFrame, reach: float = 1.1) -> alt.LayerChart:
    """Eigenvalues (``re``, ``im``) with the unit circle, at any width: the shorter side spans ±``reach``, the
    longer one more, so one unit is as long across as up and the circle stays round."""
    t = np.linspace(0, 2 * np.pi, 181)
    circle = pd.DataFrame({"re": np.cos(t), "im": np.sin(t), "i": np.arange(len(t))})

    def axis_scale(longer: str, shorter: str) -> alt.Scale:
        half = f"{reach} * max(1, {longer} / max(1, {shorter}))"  # Vega's width and height signals, in pixels
        return alt.Scale(domainMin=alt.ExprRef(f"-{half}"), domainMax=alt.ExprRef(half), nice=False, zero=False)

    base = alt.Chart(circle).mark_line(color="#999", strokeDash=[4, 3], clip=True).encode(
        x=alt.X("re:Q", title=_("Re λ"), scale=axis_scale("width", "height")),
        y=alt.Y("im:Q", title=_("Im λ"), scale=axis_scale("height", "width")), order=alt.Order("i:Q"))
    pts = alt.Chart(eigs).mark_circle(size=30, color="#5e3c99").encode(
        x=alt.X("re:Q"), y=alt.Y("im:Q"), tooltip=[alt.Tooltip("re:Q", format=".4f", title=_("Re λ")),
                                                   alt.Tooltip("im:Q", format=".4f", title=_("Im λ")),
                                                   alt.Tooltip("abs:Q", title=_("|λ|"), format=".4f"),
                                                   alt.Tooltip("tau:Q", title=_("τ (words)"), format=".1f")])
    title = alt.Title(_("Eigenvalues of ∂F/∂h"), subtitle=_("at the middle fixed point"))  # two lines fit a column
    return alt.layer(base, pts, title=title).properties(height=300)


def along_line(df: pd.DataFrame) -> tuple[alt.Chart, alt.Chart]:
    """Top |λ| and τ at each fixed point (``line_coord``, ``abs_eig``, ``tau``): two charts, for two columns."""
    x = alt.X("line_coord:Q", title=_("position along the line (fixed points)"))
    a = alt.Chart(df, title=_("Largest |λ| along the line")).mark_circle(size=25).encode(
        x, alt.Y("abs_eig:Q", title=_("|λ|"), scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("abs_eig:Q", format=".5f", title=_("|λ|")),
                 alt.Tooltip("tau:Q", format=".1f", title=_("τ (words)"))])
    b = alt.Chart(df, title=_("Time constant τ = 1/|ln|λ|| (words)")).mark_circle(size=25, color="#e66101").encode(
        x, alt.Y("tau:Q", title=_("τ (words, log)"), scale=alt.Scale(type="log")),
        tooltip=[alt.Tooltip("tau:Q", format=".1f", title=_("τ (words)"))])
    return a.properties(height=220), b.properties(height=220)


def linearisation_chart(df: pd.DataFrame) -> alt.Chart:
    """Relative error of the linear prediction (``scale``, ``rel_error``), log–log."""
    return alt.Chart(df, title=_("Linearisation check: ‖ΔF − J·δ‖ / ‖ΔF‖")).mark_line(point=True).encode(
        x=alt.X("scale:Q", title=_("perturbation size ‖δ‖"), scale=alt.Scale(type="log")),
        y=alt.Y("rel_error:Q", title=_("relative error"), scale=alt.Scale(type="log")),
        tooltip=[alt.Tooltip("scale:Q", title=_("‖δ‖")), alt.Tooltip("rel_error:Q", format=".2e", title=_("relative error"))],
    ).properties(height=220)


def kick_bars(df: pd.DataFrame, title: str) -> alt.Chart:
    """Horizontal bars of ``kick`` per ``word`` (sorted as given)."""
    return alt.Chart(df, title=title).mark_bar().encode(
        x=alt.X("kick:Q", title=_("kick along the line's mode")),
        y=alt.Y("word:N", sort=list(df["word"]), title=None, axis=alt.Axis(labelOverlap=False)),
        color=alt.ColorValue("#ca0020", condition={"test": "datum.kick > 0", "value": "#0571b0"}),
        tooltip=[alt.Tooltip("word:N", title=_("word")), alt.Tooltip("kick:Q", format=".4f", title=_("kick"))],
    ).properties(height=alt.Step(16))


def kick_bow_scatter(df: pd.DataFrame, r: float) -> alt.Chart:
    """Each word's kick against its bag-of-words weight (``word``, ``kick``, ``bow``)."""
    title = _("Kick vs bag-of-words weight (r = {r:.2f})").format(r=r)
    return alt.Chart(df, title=title).mark_circle(size=12, opacity=0.5).encode(
        x=alt.X("bow:Q", title=_("logistic-regression weight (word present)")),
        y=alt.Y("kick:Q", title=_("kick along the line's mode")),
        tooltip=[alt.Tooltip("word:N", title=_("word")), alt.Tooltip("kick:Q", format=".4f", title=_("kick")),
                 alt.Tooltip("bow:Q", format=".3f", title=_("bag-of-words weight"))],
    ).properties(height=320)


def review_kicks(df: pd.DataFrame) -> alt.LayerChart:
    """Per word of a review: the predicted kick (bars) and the actual movement along the line's mode (points)."""
    long = df.melt(id_vars=["label", "word", "step"], value_vars=["kick", "movement"], var_name="what")
    long["what"] = long["what"].map({"kick": "predicted kick", "movement": "actual movement"})
    x = alt.X("label:N", sort=list(df["label"]), title=None, axis=alt.Axis(labelAngle=-60, labelLimit=90))
    bars = alt.Chart(long[long["what"] == "predicted kick"]).mark_bar(color="#b2abd2").encode(
        x, y=alt.Y("value:Q", title=_("along the line's mode")),
        tooltip=[alt.Tooltip("word:N", title=_("word")), alt.Tooltip("value:Q", title=_("kick"), format=".4f")])
    dots = alt.Chart(long[long["what"] == "actual movement"]).mark_point(color="#e66101", filled=True).encode(
        x, y=alt.Y("value:Q"), tooltip=[alt.Tooltip("word:N", title=_("word")),
                                        alt.Tooltip("value:Q", title=_("movement"), format=".4f")])
    title = _("Each word: predicted kick (bars) and actual movement (dots)")
    return alt.layer(bars, dots, title=title).properties(
        height=240)


def alignment_chart(df: pd.DataFrame) -> alt.Chart:
    """|cos| with the readout vector (``against``, ``abs_cos``, ``kind``: "measured" or "random directions", the
    random null, shown translated)."""
    kinds = [_("measured"), _("random directions")]
    df = df.assign(kind=df["kind"].map({"measured": kinds[0], "random directions": kinds[1]}))
    return alt.Chart(df, title=_("Readout alignment")).mark_bar().encode(
        x=alt.X("abs_cos:Q", title=_("|cos| with the readout vector"), scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("against:N", title=None, sort=list(df["against"]), axis=alt.Axis(labelLimit=260)),
        color=alt.Color("kind:N", title=None, scale=alt.Scale(domain=kinds, range=["#5e3c99", "#bbbbbb"])),
        tooltip=[alt.Tooltip("against:N", title=_("against")), alt.Tooltip("abs_cos:Q", format=".3f", title=_("|cos|"))],
    ).properties(height=alt.Step(28))


def modifier_plane(paths: pd.DataFrame, fixed: pd.DataFrame) -> alt.LayerChart:
    """Trajectories of short phrases (``phrase``, ``step``, ``word``, ``pc1``, ``pc2``) over the fixed points."""
    x = alt.X("pc1:Q", title=_("PC1")), alt.Y("pc2:Q", title=_("PC2"))
    layers = []
    if len(fixed):
        layers.append(alt.Chart(fixed).mark_point(shape="diamond", size=20, filled=True, color="#999").encode(*x))
    layers.append(alt.Chart(paths).mark_line(point=True).encode(
        *x, color=alt.Color("phrase:N", title=None), order=alt.Order("step:Q"),
        tooltip=[alt.Tooltip("phrase:N", title=_("phrase")), alt.Tooltip("step:Q", title=_("step")),
                 alt.Tooltip("word:N", title=_("word")),
                 alt.Tooltip("p_positive:Q", format=".3f", title=_("P(positive)"))]))
    return alt.layer(*layers, title=_("Modifiers: trajectories in the PC1–PC2 plane")).properties(height=360)
