"""Dynamics: how the network keeps its verdict (line attractor, fixed points, word kicks)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from gru_core.analysis.dynamics import time_constant
from gru_core.analysis.dynamics_report import FILE, no_word_text, review_frame
from gru_core.charts import dynamics as C
from gru_core.charts.text import md_escape
from gru_core.examples import EXAMPLES
from gru_core.i18n import N_, _
from pages.common import current_model, dynamics_tables, get_trace, require_app, stored_dynamics

MAX_CHARS = 200_000
STATES_SHOWN = {"steps": N_("after every word (sample)"), "finals": N_("at the end of each review")}

require_app(__file__)
st.title(_("Dynamics"))
st.caption(_("How the network keeps its verdict: a line of fixed points, word kicks along it, and a readout that "
             "reads the position on the line (Maheswaranathan, Williams, Golub, Ganguli & Sussillo, NeurIPS 2019; "
             "modifiers: Maheswaranathan & Sussillo, ICML 2020). Measured on this model."))
model = current_model()


dyn = stored_dynamics(model)
if dyn is None:
    st.warning(_("No dynamics analysis for **{model}**'s current weights (`{file}` is missing or belongs to other "
                 "weights). It needs the IMDB dataset once: run `python -m gru_core dynamics --model {path}`.").format(
                     model=md_escape(model.name), file=FILE, path=md_escape(str(model.path))))
    st.stop()
tables = dynamics_tables(model)
pca, fp, line = dyn["pca"], dyn["fixed_points"], dyn["line"]
state = _("[h; c] (hidden and cell state)") if dyn["state"] != "h" else "h"

# --- The review -----------------------------------------------------------------------------------
if "dyn_review" not in st.session_state:
    st.session_state["dyn_review"] = (st.session_state.get("review") or st.query_params.get("review")
                                      or EXAMPLES["Slow start, brilliant ending"])
with st.form("dyn_form", border=False):
    st.text_area(_("Review"), key="dyn_review", height=100, max_chars=MAX_CHARS,
                 help=_("Its trajectory is drawn over the state space below. Ctrl+Enter or the button applies it."))
    st.form_submit_button(_("Trace"), type="primary", help=_("Draw this review's trajectory over the state space."))
text: str = st.session_state["dyn_review"]
frame = None
if not text.strip():
    st.info(_("Type a review above to draw its trajectory; the rest of the page does not need one."))
else:
    try:
        trace = get_trace(model, text)
        frame = review_frame(dyn, trace)
    except ValueError:
        st.info(_("This review contains no words the model can read; type a few words to draw a trajectory."))
    else:
        if trace.truncated:
            st.caption(_("The review has {n:,} words; the model reads only the last {maxlen}.").format(
                n=trace.total_tokens, maxlen=model.maxlen))

# --- 1. State space ----------------------------------------------------------------------------
st.subheader(_("1 · The state space"))
var, fresh = np.asarray(pca["variance"]), np.asarray(pca["variance_fresh"])
st.markdown(_(
    "PCA of the state {state} after every word of {reviews:,} IMDB test reviews ({states:,} states, {dims} "
    "dimensions). With the trained weights PC1 holds **{pc1:.1%}** of the variance and PC1+PC2 **{pc12:.1%}**; the "
    "same network freshly initialised, reading the same reviews, spreads it out: **{fresh1:.1%}** and "
    "**{fresh12:.1%}**.").format(state=state, reviews=dyn["sample"]["reviews"], states=dyn["sample"]["states"],
                                 dims=dyn["state_dim"], pc1=var[0], pc12=var[:2].sum(), fresh1=fresh[0],
                                 fresh12=fresh[:2].sum()))
bars = pd.concat([pd.DataFrame({"component": np.arange(1, len(v) + 1), "fraction": v, "weights": w})
                  for v, w in ((var, "trained"), (fresh, "fresh initialisation"))])
st.altair_chart(C.variance_bars(bars), width="stretch")

path = pd.DataFrame(columns=["pc1", "pc2", "step", "word", "p_positive"])
marks = tables["marks"]
if frame is not None:
    path = frame if len(frame) <= 600 else frame.iloc[-600:]
    last = frame.iloc[-1]
    verdict = _("positive") if last["p_positive"] > 0.5 else _("negative")
    marks = pd.concat([marks, pd.DataFrame({"pc1": [last["pc1"]], "pc2": [last["pc2"]],
                                            "text": [f"{verdict} ({last['p_positive']:.2f})"]})])
shown_as = {k: _(v) for k, v in STATES_SHOWN.items()}  # translated here: format_func may run in another thread
which = st.radio(_("Test states shown"), list(STATES_SHOWN), format_func=shown_as.get,
                 horizontal=True, key="dyn_states",
                 help=_("Every step of the sampled test reviews, or only each review's final state (what the "
                        "readout reads)."))
states = tables["states"] if which == "steps" else tables["finals"]
plane = C.state_plane(states, tables["fixed"], path, marks) + C.arrow(tables["arrow"])
st.altair_chart(plane, width="stretch")
st.caption(_("Dots: test states coloured by the review's true label. Black diamonds: fixed points. Orange: the "
             "review above, word by word (hover for the word). Dashed: the readout vector projected into the plane, "
             "from h₀ (the state before the first word)."))

# --- 2. Fixed points -------------------------------------------------------------------------------
st.subheader(_("2 · Fixed points: a line attractor"))
st.markdown(_(
    "Fixed points of the update with no word, F(h, x₀) = h, found by minimising q(h) = ½‖F(h, x₀) − h‖² (Adam, "
    "autograd) from {candidates} visited states. {no_word}. A point counts as fixed when q ≤ {tolerance:.2g}: it "
    "drifts at most {drift_max:.4f} per word, {drift:.0%} of the median word's step ({step:.3f}). **{converged}** of "
    "{candidates} searches reached it; after merging duplicates (closer than {merge:g}) and dropping {outliers} "
    "outliers, **{n} fixed points** remain (largest q {q_max:.2g}). One line holds **{share:.1%}** of their "
    "variance.").format(candidates=fp["candidates"], no_word=no_word_text(dyn), tolerance=fp["tolerance"],
                        drift_max=np.sqrt(2 * fp["tolerance"]), drift=fp["drift"], step=dyn["word_step_median"],
                        converged=fp["converged"], merge=fp["merge_distance"], outliers=fp["outliers"],
                        n=len(fp["q"]), q_max=max(fp["q"]), share=line["variance_share"]))

# --- 3. Linearisation --------------------------------------------------------------------------------
st.subheader(_("3 · Linearisation: which mode keeps the verdict"))
top = np.asarray(fp["top_abs_eig"])[:, 0]
mid = dyn["middle"]
lam = complex(mid["slow_re"], mid["slow_im"])
tau_mid = float(time_constant(abs(lam)))
eigs = pd.DataFrame({"re": mid["eig_re"], "im": mid["eig_im"]})
eigs["abs"] = np.hypot(eigs["re"], eigs["im"])
eigs["tau"] = time_constant(eigs["abs"].to_numpy())
tau_median = float(eigs["tau"].median())
memory = mid["slow_line_cos"] > 0.9 and tau_mid > 10 * tau_median
lam_text = f"{lam.real:.4f}" + (f" {lam.imag:+.4f}i" if abs(lam.imag) > 1e-9 else "")
tau_text = _("**{tau:,.1f} words**").format(tau=tau_mid) if np.isfinite(tau_mid) else "**∞**"
st.markdown(
    _("At each fixed point the Jacobian ∂F/∂h (torch.func) linearises the update: h* + δ → h* + J·δ. Its largest "
      "|λ| over the fixed points ranges from {low:.4f} to {high:.4f}. At the middle fixed point the mode along the "
      "line (|cos| of its eigenvector with the line: {cos:.2f}) has λ = {lam}, time constant τ = 1/|ln|λ|| = "
      "{tau}").format(low=top.min(), high=top.max(), cos=mid["slow_line_cos"], lam=lam_text, tau=tau_text)
    + (_(" (|λ| > 1: a displacement along the line grows slowly)") if abs(lam) > 1 else "")
    + _("; half of all {n} modes there have τ below {tau:.1f} words.").format(n=len(eigs), tau=tau_median)
    + (_(" The mode along the line is far slower than the rest: it is where the verdict is kept.")
       if memory else _(" Here the mode along the line is not much slower than the rest, or not along the line: "
                        "this model keeps its verdict less like a clean line attractor.")))
c1, c2 = st.columns(2)
c1.altair_chart(C.eigen_plane(eigs), width="stretch")
lin = pd.DataFrame({"scale": dyn["linearisation"]["scales"], "rel_error": dyn["linearisation"]["rel_error"]})
c2.altair_chart(C.linearisation_chart(lin), width="stretch")
c2.caption(_("Random perturbations δ at the middle fixed point: the linear prediction J·δ is off by {small:.1e} of "
             "the true change for ‖δ‖ = {small_scale:g} and {large:.1%} for ‖δ‖ = {large_scale:g}.").format(
                 small=lin["rel_error"].iloc[0], small_scale=lin["scale"].iloc[0], large=lin["rel_error"].iloc[-1],
                 large_scale=lin["scale"].iloc[-1]))
fixed = tables["fixed"].replace([np.inf], np.nan)
for col, chart in zip(st.columns(2), C.along_line(fixed.dropna(subset=["tau"]))):
    col.altair_chart(chart, width="stretch")

# --- 4. Word kicks ------------------------------------------------------------------------------------
st.subheader(_("4 · Word kicks"))
kt = tables["kicks"]
bow = dyn["bow"]
st.markdown(_(
    "A word's kick is how far it pushes the state along the line's mode from the middle fixed point, "
    "ℓ₁ᵀ · ∂F/∂x · e(word) (ℓ₁: that mode's left eigenvector; positive = towards a positive verdict). A bag-of-words "
    "logistic regression on word presence, fitted on the {train:,} training reviews, scores **{accuracy:.1%}** on "
    "the {test:,} test reviews; its weights correlate with the kicks at **r = {r:.2f}**: the network adds up word "
    "evidence much like it. (The linear kick and the true one-step movement from the fixed point correlate at "
    "r = {r_true:.2f}.)").format(train=bow["train"], accuracy=bow["accuracy"], test=bow["test"],
                                 r=dyn["kick_bow_correlation"], r_true=dyn["kicks"]["nonlinear_correlation"]))
if (dyn["kick_bow_correlation"] > 0) != (dyn["kicks"]["line_bow_correlation"] > 0):
    st.warning(_("For this model ℓ₁ is ill-conditioned (‖ℓ₁‖ = {norm:.1f} with ℓ₁ᵀr₁ = 1: the Jacobian is far from "
                 "normal), and kicks measured along it disagree with the plain projection on the line, whose "
                 "correlation with the bag-of-words weights is r = {r:.2f}. Read the kick signs below with that in "
                 "mind.").format(norm=dyn["kicks"]["left_norm"], r=dyn["kicks"]["line_bow_correlation"]))
k1, k2 = st.columns(2)
k1.altair_chart(C.kick_bars(kt.head(15), _("Most positive kicks")), width="stretch")
k2.altair_chart(C.kick_bars(kt.tail(15).iloc[::-1], _("Most negative kicks")), width="stretch")
st.altair_chart(C.kick_bow_scatter(kt, dyn["kick_bow_correlation"]), width="stretch")
if frame is not None:
    shown = frame.iloc[-60:]
    total_kick, moved = float(frame["kick"].sum()), float(frame["movement"].sum())
    st.markdown(_("The review above: the kicks of its {n:,} words sum to **{kick:+.3f}**; the state actually moved "
                  "**{moved:+.3f}** along the line's mode from h₀ to its last word").format(
                      n=len(frame), kick=total_kick, moved=moved)
                + (_(" (the chart shows the last {n} words).").format(n=len(shown)) if len(shown) < len(frame)
                   else _(".")))
    st.altair_chart(C.review_kicks(shown), width="stretch")

# --- 5. Readout alignment -------------------------------------------------------------------------------
st.subheader(_("5 · Readout alignment"))
ro = dyn["readout"]
st.markdown(
    _("|cos| between the output layer's weight vector and the line of fixed points is **{alignment:.3f}** (with the "
      "line's mode at the middle fixed point: {slow:.3f}); random directions in the readout's space reach "
      "**{null:.3f}** at their 95th percentile.").format(alignment=ro["alignment"], slow=ro["alignment_slow_mode"],
                                                       null=ro["null95"])
    + (_(" The readout reads the position on the line.") if ro["alignment"] > max(ro["null95"], 0.3) else
       _(" The readout is aligned with the line above chance, but weakly: most of the line lies in directions the "
         "readout does not read directly.") if ro["alignment"] > ro["null95"] else
       _(" The readout is not better aligned with the line than chance."))
    + (_(" (For the LSTM the readout sees only h, half of the state [h; c].)") if dyn["state"] != "h" else ""))
al = pd.DataFrame({"against": [_("line of fixed points"), _("mode along the line"),
                               _("random directions (95th percentile)")],
                   "abs_cos": [ro["alignment"], ro["alignment_slow_mode"], ro["null95"]],
                   "kind": ["measured", "measured", "random directions"]})
st.altair_chart(C.alignment_chart(al), width="stretch")

# --- 6. Modifiers -------------------------------------------------------------------------------------------
st.subheader(_("6 · Modifiers"))
rows = pd.DataFrame(dyn["modifiers"])
wrong = rows[~rows["right_modified"]]
st.markdown(_(
    "Each pair below is read from h₀. The table gives how far the state is from the line of fixed points right "
    "after the modifier (test states: median {median:.3f}) and how far the last word then moves the state along the "
    "line's mode, with and without the modifier. The model reads **{right} of {n}** modified phrases the way a "
    "reader would.").format(median=dyn["offline_median"], right=int(rows["right_modified"].sum()), n=len(rows)))


def _failure(r) -> str:
    """One modified phrase the model misreads, as a sentence part (phrases and numbers as placeholders)."""
    values = {"modified": r.modified, "p_modified": r.p_modified, "plain": r.plain, "p_plain": r.p_plain,
              "move_modified": r.last_move_modified, "move_plain": r.last_move_plain, "modifier": r.modifier,
              "scale": r.last_move_modified / r.last_move_plain}
    if r.last_move_modified * r.last_move_plain < 0:
        return _("“{modified}” gets P(positive) = {p_modified:.2f} (plain “{plain}”: {p_plain:.2f}); the last word "
                 "moved {move_modified:+.3f} along the line's mode, against {move_plain:+.3f} without “{modifier}”: "
                 "the modifier scales the word's push to {scale:.0%} of its usual size").format(**values)
    return _("“{modified}” gets P(positive) = {p_modified:.2f} (plain “{plain}”: {p_plain:.2f}); the last word moved "
             "{move_modified:+.3f} along the line's mode, against {move_plain:+.3f} without “{modifier}”: the "
             "modifier scales the word's push to {scale:.0%} of its usual size without reversing it").format(**values)


if len(wrong):
    st.markdown(_("**Where it fails:** {failures}.").format(
        failures=_("; ").join(_failure(r) for r in wrong.itertuples())))
table = rows.assign(off_line=rows["offline_after_modifier"].round(3))[
    ["plain", "p_plain", "modified", "p_modified", "right_modified", "last_move_plain", "last_move_modified",
     "off_line"]]
st.dataframe(table.rename(columns={"plain": _("plain phrase"), "modified": _("modified"), "p_plain": _("P(pos) plain"),
                                   "p_modified": _("P(pos) modified"), "right_modified": _("read right"),
                                   "last_move_plain": _("last word's move (plain)"),
                                   "last_move_modified": _("last word's move (modified)"),
                                   "off_line": _("off the line after modifier")}),
             hide_index=True, width="stretch")
mp = tables["modifiers"]
picked = st.multiselect(_("Phrases"), list(dict.fromkeys(mp["phrase"])),
                        default=["the movie was good", "the movie was not good", "the movie was bad",
                                 "the movie was not bad"],
                        help=_("Each phrase's trajectory word by word in the PC1–PC2 plane, over the fixed points."))
st.altair_chart(C.modifier_plane(mp[mp["phrase"].isin(picked)], tables["fixed"]), width="stretch")
