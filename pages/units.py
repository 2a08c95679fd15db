"""Unit atlas: every hidden unit across the whole IMDB test set, and what breaks without it."""
from __future__ import annotations

import numpy as np
import streamlit as st

from gru_core.analysis.atlas import (
    ablation_frame,
    cocluster_frame,
    cocluster_groups,
    context_rows,
    unit_table,
    word_frame,
)
from gru_core.archs import ARCHS, GATE_LABELS
from gru_core.charts.atlas import ablation_chart, cocluster_heatmap
from gru_core.charts.text import md_escape
from pages.common import (
    current_model,
    imdb_test,
    new_pick,
    open_test_review,
    require_app,
    set_unit,
    unit_index,
    unit_input,
)

require_app()
st.title("Unit atlas")
model = current_model()
index, why = unit_index(model)
if index is None:
    st.info(f"The atlas reads a unit index stored next to the model, but {why}. Compute it (a few minutes, with the "
            f"IMDB dataset) with `python -m gru_core units --model {model.path}`.")
    st.stop()
st.caption(f"What each hidden unit does across all {index['test_reviews']:,} IMDB test reviews: how it relates to the "
           "verdict, where it fires, which words move it, and what the model loses without it.")

# --- All units ------------------------------------------------------------------------------------------------
st.subheader(f"All {len(index['units'])} units of {model.name} ({ARCHS[model.arch].display})")
table = unit_table(index)
event = st.dataframe(table, hide_index=True, width="stretch", height=320, on_select="rerun",
                     selection_mode="single-row", key="atlas_table",
                     column_config={c: st.column_config.NumberColumn(format="%.4f") for c in table.columns[1:]})
rows = event.selection.rows if event else []
picked = int(table["unit"].iloc[rows[0]]) if rows else None
if new_pick("atlas_table", picked):
    set_unit(picked)
gates = index["settings"]["gates"]
st.caption(
    f"Click a column header to sort, a row to pick a unit (the Gate Explorer's unit inspector shows the same unit). "
    f"r: Pearson correlation of the unit's final hidden value with the true label over {index['test_reviews']:,} "
    f"test reviews. One-unit accuracy: test accuracy of the best threshold on that unit alone (threshold and "
    f"direction fitted on {index['one_unit_fit_on']}). Means and spreads are over all "
    f"{index['words_read']:,} words read"
    + ("; '< 0.1' and '> 0.9' are the fractions of words at which a gate is saturated (as on the comparison page)."
       if gates else "."))

weights = np.asarray([row["output_weight"] for row in index["units"]])
unit = unit_input(len(index["units"]), int(np.argmax(np.abs(weights))), "Or click a row of the table.")
row = index["units"][unit]

# --- The picked unit ------------------------------------------------------------------------------------------
st.subheader(f"Unit {unit}")
cols = st.columns(4)
cols[0].metric("Output-layer weight", f"{row['output_weight']:+.4f}")
cols[1].metric("r(final h, label)", "n/a" if row["label_correlation"] is None else f"{row['label_correlation']:+.3f}")
cols[2].metric("One-unit accuracy", f"{row['one_unit_accuracy']:.3f}",
               help=f"Positive when h {'>' if row['one_unit_direction'] > 0 else '<'} "
                    f"{row['one_unit_threshold']:+.4f} at the last word.")
cols[3].metric("Mean h ± std", f"{row['h_mean']:+.2f} ± {row['h_std']:.2f}",
               help="Over every word of every test review.")

test = imdb_test()


def _open(ctx: dict) -> None:
    """Open the context's whole review in the Gate Explorer (the dataset is needed for its full text)."""
    i = ctx["index"]
    if not (0 <= i < len(test)) or test.ids[i] != ctx["review"]:
        i = test.ids.index(ctx["review"]) if ctx["review"] in test.ids else -1
    if i < 0:
        st.session_state["_atlas_error"] = f"Review {ctx['review']} is not in this copy of the dataset."
        return
    open_test_review(test, i)
    st.session_state["_atlas_open"] = True


def _snippet(ctx: dict) -> str:
    """The context as Markdown: every dataset word escaped, the step's word highlighted."""
    before = " ".join(md_escape(w) for w in ctx["before"])
    after = " ".join(md_escape(w) for w in ctx["after"])
    return f"…{before} **:orange-background[{md_escape(ctx['word'])}]** {after}…"


def _values(ctx: dict) -> str:
    parts = [f"h = {ctx['values']['hidden']:+.3f}"]
    parts += [f"{GATE_LABELS.get(q, q)} = {v:+.3f}" for q, v in ctx["values"].items() if q != "hidden"]
    label = "positive" if ctx["label"] else "negative"
    return " · ".join(parts) + f" — {label}, {ctx['stars']}★, review {md_escape(ctx['review'])}, word {ctx['step'] + 1} read"


st.markdown("**Where it fires most, and least** (one context per review; ±8 words around the word where h peaks)")
if test is None:
    st.caption("Opening a whole review needs the IMDB dataset: set GRU_EXPLORER_IMDB to the archive.")
if st.session_state.pop("_atlas_open", False):
    st.switch_page("pages/explorer.py")
if (err := st.session_state.pop("_atlas_error", None)) is not None:
    st.warning(err)
left, right = st.columns(2)
for col, which, title in ((left, "top", "Most activating (highest h)"),
                          (right, "bottom", "Most suppressing (lowest h)")):
    with col:
        st.markdown(f"*{title}*")
        for n, ctx in enumerate(context_rows(index, unit, which)):
            with st.container(border=True):
                st.markdown(_snippet(ctx))
                st.caption(_values(ctx))
                st.button("Open in the Gate Explorer", key=f"open_{which}_{n}", disabled=test is None,
                          on_click=_open, args=(ctx,),
                          help="Needs the IMDB dataset." if test is None else "Read the whole review there.")

st.markdown("**Words that move it most** (expected response: the average h_t − h_{t−1} when the word is read, "
            f"over the test set; words read at least {index['settings']['min_count']} times)")
a, b = st.columns(2)
a.dataframe(word_frame(index, unit, "up"), hide_index=True, width="stretch",
            column_config={"mean Δh": st.column_config.NumberColumn(format="%+.4f")})
b.dataframe(word_frame(index, unit, "down"), hide_index=True, width="stretch",
            column_config={"mean Δh": st.column_config.NumberColumn(format="%+.4f")})

# --- Co-clustering --------------------------------------------------------------------------------------------
st.subheader("Units and words that go together")
c = index["cocluster"]
st.altair_chart(cocluster_heatmap(cocluster_frame(index)), width="stretch")
st.caption(f"The {len(c['words'])} most frequent words and all units, co-clustered into {c['n_clusters']} groups "
           "(scikit-learn's SpectralCoclustering on |mean Δh|, as RNNVis): each group of units responds most to its "
           "group of words. The heatmap shows the signed mean Δh for each group's 8 strongest words.")
st.dataframe(cocluster_groups(index), hide_index=True, width="stretch",
             column_config={"units": st.column_config.TextColumn(width="medium"),
                            "words": st.column_config.TextColumn(width="large")})

# --- Ablation -------------------------------------------------------------------------------------------------
st.subheader("What breaks without them: ablation")
abl = index["ablation"]
st.altair_chart(ablation_chart(ablation_frame(index), abl["baseline"]), width="stretch")
st.caption(f"Test accuracy over {abl['reviews']:,} test reviews with k units silenced (h_k := 0 at every word): the k "
           f"units with the largest |label correlation|, the largest |output weight|, or k random units (mean ± 1 "
           f"std over {abl['random_draws']} draws). Dashed: nothing ablated ({abl['baseline']:.4f}). A steep fall "
           "for the chosen units against a flat random line means the verdict lives in a few units.")
