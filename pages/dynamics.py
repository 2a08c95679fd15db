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
from pages.common import current_model, dynamics_tables, get_trace, require_app, stored_dynamics

MAX_CHARS = 200_000

require_app()
st.title("Dynamics")
st.caption("How the network keeps its verdict: a line of fixed points, word kicks along it, and a readout that "
           "reads the position on the line (Maheswaranathan, Williams, Golub, Ganguli & Sussillo, NeurIPS 2019; "
           "modifiers: Maheswaranathan & Sussillo, ICML 2020). Measured on this model.")
model = current_model()


dyn = stored_dynamics(model)
if dyn is None:
    st.warning(f"No dynamics analysis for **{md_escape(model.name)}**'s current weights (`{FILE}` is missing or "
               "belongs to other weights). It needs the IMDB dataset once: run "
               f"`python -m gru_core dynamics --model {md_escape(str(model.path))}`.")
    st.stop()
tables = dynamics_tables(model)
pca, fp, line = dyn["pca"], dyn["fixed_points"], dyn["line"]
state = "[h; c] (hidden and cell state)" if dyn["state"] != "h" else "h"

# --- The review -----------------------------------------------------------------------------------
if "dyn_review" not in st.session_state:
    st.session_state["dyn_review"] = (st.session_state.get("review") or st.query_params.get("review")
                                      or EXAMPLES["Slow start, brilliant ending"])
with st.form("dyn_form", border=False):
    st.text_area("Review", key="dyn_review", height=100, max_chars=MAX_CHARS,
                 help="Its trajectory is drawn over the state space below. Ctrl+Enter or the button applies it.")
    st.form_submit_button("Trace", type="primary", help="Draw this review's trajectory over the state space.")
text: str = st.session_state["dyn_review"]
frame = None
if not text.strip():
    st.info("Type a review above to draw its trajectory; the rest of the page does not need one.")
else:
    try:
        trace = get_trace(model, text)
        frame = review_frame(dyn, trace)
    except ValueError:
        st.info("This review contains no words the model can read; type a few words to draw a trajectory.")
    else:
        if trace.truncated:
            st.caption(f"The review has {trace.total_tokens:,} words; the model reads only the last {model.maxlen}.")

# --- 1. State space ----------------------------------------------------------------------------
st.subheader("1 · The state space")
var, fresh = np.asarray(pca["variance"]), np.asarray(pca["variance_fresh"])
st.markdown(
    f"PCA of the state {state} after every word of {dyn['sample']['reviews']:,} IMDB test reviews "
    f"({dyn['sample']['states']:,} states, {dyn['state_dim']} dimensions). With the trained weights PC1 holds "
    f"**{var[0]:.1%}** of the variance and PC1+PC2 **{var[:2].sum():.1%}**; the same network freshly "
    f"initialised, reading the same reviews, spreads it out: **{fresh[0]:.1%}** and **{fresh[:2].sum():.1%}**.")
bars = pd.concat([pd.DataFrame({"component": np.arange(1, len(v) + 1), "fraction": v, "weights": w})
                  for v, w in ((var, "trained"), (fresh, "fresh initialisation"))])
st.altair_chart(C.variance_bars(bars), width="stretch")

path = pd.DataFrame(columns=["pc1", "pc2", "step", "word", "p_positive"])
marks = tables["marks"]
if frame is not None:
    path = frame if len(frame) <= 600 else frame.iloc[-600:]
    last = frame.iloc[-1]
    verdict = "positive" if last["p_positive"] > 0.5 else "negative"
    marks = pd.concat([marks, pd.DataFrame({"pc1": [last["pc1"]], "pc2": [last["pc2"]],
                                            "text": [f"{verdict} ({last['p_positive']:.2f})"]})])
which = st.radio("Test states shown", ["after every word (sample)", "at the end of each review"], horizontal=True,
                 help="Every step of the sampled test reviews, or only each review's final state (what the "
                      "readout reads).")
states = tables["states"] if which.startswith("after") else tables["finals"]
plane = C.state_plane(states, tables["fixed"], path, marks) + C.arrow(tables["arrow"])
st.altair_chart(plane, width="stretch")
st.caption("Dots: test states coloured by the review's true label. Black diamonds: fixed points. Orange: the "
           "review above, word by word (hover for the word). Dashed: the readout vector projected into the plane, "
           "from h₀ (the state before the first word).")

# --- 2. Fixed points -------------------------------------------------------------------------------
st.subheader("2 · Fixed points: a line attractor")
st.markdown(
    f"Fixed points of the update with no word, F(h, x₀) = h, found by minimising "
    f"q(h) = ½‖F(h, x₀) − h‖² (Adam, autograd) from {fp['candidates']} visited states. {no_word_text(dyn)}. "
    f"A point counts as fixed when q ≤ "
    f"{fp['tolerance']:.2g}: it drifts at most {np.sqrt(2 * fp['tolerance']):.4f} per word, "
    f"{fp['drift']:.0%} of the median word's step ({dyn['word_step_median']:.3f}). "
    f"**{fp['converged']}** of {fp['candidates']} searches reached it; after merging duplicates (closer than "
    f"{fp['merge_distance']:g}) and dropping {fp['outliers']} outliers, **{len(fp['q'])} fixed points** remain "
    f"(largest q {max(fp['q']):.2g}). One line holds **{line['variance_share']:.1%}** of their variance.")

# --- 3. Linearisation --------------------------------------------------------------------------------
st.subheader("3 · Linearisation: which mode keeps the verdict")
top = np.asarray(fp["top_abs_eig"])[:, 0]
mid = dyn["middle"]
lam = complex(mid["slow_re"], mid["slow_im"])
tau_mid = float(time_constant(abs(lam)))
eigs = pd.DataFrame({"re": mid["eig_re"], "im": mid["eig_im"]})
eigs["abs"] = np.hypot(eigs["re"], eigs["im"])
eigs["tau"] = time_constant(eigs["abs"].to_numpy())
tau_median = float(eigs["tau"].median())
memory = mid["slow_line_cos"] > 0.9 and tau_mid > 10 * tau_median
st.markdown(
    f"At each fixed point the Jacobian ∂F/∂h (torch.func) linearises the update: h* + δ → h* + J·δ. "
    f"Its largest |λ| over the fixed points ranges from {top.min():.4f} to {top.max():.4f}. At the middle fixed "
    f"point the mode along the line (|cos| of its eigenvector with the line: {mid['slow_line_cos']:.2f}) has "
    f"λ = {lam.real:.4f}" + (f" {lam.imag:+.4f}i" if abs(lam.imag) > 1e-9 else "")
    + ", time constant τ = 1/|ln|λ|| = " + (f"**{tau_mid:,.1f} words**" if np.isfinite(tau_mid) else "**∞**")
    + (" (|λ| > 1: a displacement along the line grows slowly)" if abs(lam) > 1 else "")
    + f"; half of all {len(eigs)} modes there have τ below {tau_median:.1f} words. "
    + ("The mode along the line is far slower than the rest: it is where the verdict is kept."
       if memory else "Here the mode along the line is not much slower than the rest, or not along the line: "
       "this model keeps its verdict less like a clean line attractor."))
c1, c2 = st.columns([2, 3])
c1.altair_chart(C.eigen_plane(eigs), width="content")
lin = pd.DataFrame({"scale": dyn["linearisation"]["scales"], "rel_error": dyn["linearisation"]["rel_error"]})
c2.altair_chart(C.linearisation_chart(lin), width="stretch")
c2.caption(f"Random perturbations δ at the middle fixed point: the linear prediction J·δ is off by "
           f"{lin['rel_error'].iloc[0]:.1e} of the true change for ‖δ‖ = {lin['scale'].iloc[0]:g} and "
           f"{lin['rel_error'].iloc[-1]:.1%} for ‖δ‖ = {lin['scale'].iloc[-1]:g}.")
fixed = tables["fixed"].replace([np.inf], np.nan)
st.altair_chart(C.along_line(fixed.dropna(subset=["tau"])), width="stretch")

# --- 4. Word kicks ------------------------------------------------------------------------------------
st.subheader("4 · Word kicks")
kt = tables["kicks"]
bow = dyn["bow"]
st.markdown(
    f"A word's kick is how far it pushes the state along the line's mode from the middle fixed point, "
    f"ℓ₁ᵀ · ∂F/∂x · e(word) (ℓ₁: that mode's left eigenvector; positive = towards a positive verdict). "
    f"A bag-of-words logistic regression on word presence, fitted on the {bow['train']:,} training reviews, "
    f"scores **{bow['accuracy']:.1%}** on the {bow['test']:,} test reviews; its weights correlate with the kicks at "
    f"**r = {dyn['kick_bow_correlation']:.2f}**: the network adds up word evidence much like it. (The linear kick "
    f"and the true one-step movement from the fixed point correlate at r = "
    f"{dyn['kicks']['nonlinear_correlation']:.2f}.)")
if (dyn["kick_bow_correlation"] > 0) != (dyn["kicks"]["line_bow_correlation"] > 0):
    st.warning(f"For this model ℓ₁ is ill-conditioned (‖ℓ₁‖ = {dyn['kicks']['left_norm']:.1f} with ℓ₁ᵀr₁ = 1: the "
               f"Jacobian is far from normal), and kicks measured along it disagree with the plain projection on "
               f"the line, whose correlation with the bag-of-words weights is "
               f"r = {dyn['kicks']['line_bow_correlation']:.2f}. Read the kick signs below with that in mind.")
k1, k2 = st.columns(2)
k1.altair_chart(C.kick_bars(kt.head(15), "Most positive kicks"), width="stretch")
k2.altair_chart(C.kick_bars(kt.tail(15).iloc[::-1], "Most negative kicks"), width="stretch")
st.altair_chart(C.kick_bow_scatter(kt, dyn["kick_bow_correlation"]), width="stretch")
if frame is not None:
    shown = frame.iloc[-60:]
    total_kick, moved = float(frame["kick"].sum()), float(frame["movement"].sum())
    st.markdown(f"The review above: the kicks of its {len(frame):,} words sum to **{total_kick:+.3f}**; the state "
                f"actually moved **{moved:+.3f}** along the line's mode from h₀ to its last word"
                + (f" (the chart shows the last {len(shown)} words)." if len(shown) < len(frame) else "."))
    st.altair_chart(C.review_kicks(shown), width="stretch")

# --- 5. Readout alignment -------------------------------------------------------------------------------
st.subheader("5 · Readout alignment")
ro = dyn["readout"]
st.markdown(
    f"|cos| between the output layer's weight vector and the line of fixed points is **{ro['alignment']:.3f}** "
    f"(with the line's mode at the middle fixed point: {ro['alignment_slow_mode']:.3f}); random directions in the "
    f"readout's space reach **{ro['null95']:.3f}** at their 95th percentile. The readout "
    + ("reads the position on the line." if ro["alignment"] > max(ro["null95"], 0.3) else
       "is aligned with the line above chance, but weakly: most of the line lies in directions the readout "
       "does not read directly." if ro["alignment"] > ro["null95"] else
       "is not better aligned with the line than chance.")
    + (" (For the LSTM the readout sees only h, half of the state [h; c].)" if dyn["state"] != "h" else ""))
al = pd.DataFrame({"against": ["line of fixed points", "mode along the line", "random directions (95th percentile)"],
                   "abs_cos": [ro["alignment"], ro["alignment_slow_mode"], ro["null95"]],
                   "kind": ["measured", "measured", "random directions"]})
st.altair_chart(C.alignment_chart(al), width="stretch")

# --- 6. Modifiers -------------------------------------------------------------------------------------------
st.subheader("6 · Modifiers")
rows = pd.DataFrame(dyn["modifiers"])
wrong = rows[~rows["right_modified"]]
st.markdown(
    f"Each pair below is read from h₀. The table gives how far the state is from the line of fixed points "
    f"right after the modifier (test states: median {dyn['offline_median']:.3f}) and how far the last word then "
    f"moves the state along the line's mode, with and without the modifier. The model reads "
    f"**{int(rows['right_modified'].sum())} of {len(rows)}** modified phrases the way a reader would.")
if len(wrong):
    st.markdown("**Where it fails:** " + "; ".join(
        f"“{r.modified}” gets P(positive) = {r.p_modified:.2f} (plain “{r.plain}”: {r.p_plain:.2f}); "
        f"the last word moved {r.last_move_modified:+.3f} along the line's mode, against {r.last_move_plain:+.3f} "
        f"without “{r.modifier}”: the modifier scales the word's push to {r.last_move_modified / r.last_move_plain:.0%}"
        f" of its usual size" + ("" if r.last_move_modified * r.last_move_plain < 0 else " without reversing it")
        for r in wrong.itertuples()) + ".")
table = rows.assign(**{"off the line after modifier": rows["offline_after_modifier"].round(3)})[
    ["plain", "p_plain", "modified", "p_modified", "right_modified", "last_move_plain", "last_move_modified",
     "off the line after modifier"]]
st.dataframe(table.rename(columns={"p_plain": "P(pos) plain", "p_modified": "P(pos) modified",
                                   "right_modified": "read right", "last_move_plain": "last word's move (plain)",
                                   "last_move_modified": "last word's move (modified)"}),
             hide_index=True, width="stretch")
mp = tables["modifiers"]
picked = st.multiselect("Phrases", list(dict.fromkeys(mp["phrase"])),
                        default=["the movie was good", "the movie was not good", "the movie was bad",
                                 "the movie was not bad"],
                        help="Each phrase's trajectory word by word in the PC1–PC2 plane, over the fixed points.")
st.altair_chart(C.modifier_plane(mp[mp["phrase"].isin(picked)], tables["fixed"]), width="stretch")
