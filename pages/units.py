"""Unit atlas: every hidden unit across the whole IMDB test set, and what breaks without it."""
from __future__ import annotations

import numpy as np
import streamlit as st

from gru_core.analysis.atlas import (
    ablation_frame,
    cocluster_frame,
    cocluster_groups,
    context_rows,
    fit_on_text,
    unit_table,
    word_frame,
)
from gru_core.archs import ARCHS, GATE_LABELS
from gru_core.charts.atlas import ablation_chart, cocluster_heatmap
from gru_core.charts.text import md_escape
from gru_core.i18n import _
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

require_app(__file__)
st.title(_("Unit atlas"))
model = current_model()
index, why = unit_index(model)
if index is None:
    st.info(_("The atlas reads a unit index stored next to the model, but {why}. Compute it (a few minutes, with "
              "the IMDB dataset) with `python -m gru_core units --model {path}`.").format(why=why, path=model.path))
    st.stop()
st.caption(_("What each hidden unit does across all {n:,} IMDB test reviews: how it relates to the verdict, where it "
             "fires, which words move it, and what the model loses without it.").format(n=index["test_reviews"]))

# --- All units ------------------------------------------------------------------------------------------------
st.subheader(_("All {n} units of {model} ({arch})").format(n=len(index["units"]), model=model.name,
                                                            arch=_(ARCHS[model.arch].display)))
table = unit_table(index)
event = st.dataframe(table, hide_index=True, width="stretch", height=320, on_select="rerun",
                     selection_mode="single-row", key="atlas_table",
                     column_config={c: st.column_config.NumberColumn(format="%.4f") for c in table.columns[1:]})
rows = event.selection.rows if event else []
picked = int(table.iloc[rows[0], 0]) if rows else None  # the first column: the unit
if new_pick("atlas_table", picked):
    set_unit(picked)
gates = index["settings"]["gates"]
st.caption(
    _("Click a column header to sort, a row to pick a unit (the Gate Explorer's unit inspector shows the same unit). "
      "r: Pearson correlation of the unit's final hidden value with the true label over {n:,} test reviews. "
      "One-unit accuracy: test accuracy of the best threshold on that unit alone (threshold and direction fitted on "
      "{fit_on}).").format(n=index["test_reviews"], fit_on=fit_on_text(index))
    + (_(" Means and spreads are over all {words:,} words read; '< 0.1' and '> 0.9' are the fractions of words at "
         "which a gate is saturated (as on the comparison page).") if gates else
       _(" Means and spreads are over all {words:,} words read.")).format(words=index["words_read"]))

weights = np.asarray([row["output_weight"] for row in index["units"]])
unit = unit_input(len(index["units"]), int(np.argmax(np.abs(weights))), _("Or click a row of the table."))
row = index["units"][unit]

# --- The picked unit ------------------------------------------------------------------------------------------
st.subheader(_("Unit {unit}").format(unit=unit))
cols = st.columns(4)
cols[0].metric(_("Output-layer weight"), f"{row['output_weight']:+.4f}")
cols[1].metric(_("r(final h, label)"),
               _("n/a") if row["label_correlation"] is None else f"{row['label_correlation']:+.3f}")
cols[2].metric(_("One-unit accuracy"), f"{row['one_unit_accuracy']:.3f}",
               help=_("Positive when h {sign} {threshold:+.4f} at the last word.").format(
                   sign=">" if row["one_unit_direction"] > 0 else "<", threshold=row["one_unit_threshold"]))
cols[3].metric(_("Mean h ± std"), f"{row['h_mean']:+.2f} ± {row['h_std']:.2f}",
               help=_("Over every word of every test review."))

test = imdb_test()


def _open(ctx: dict) -> None:
    """Open the context's whole review in the Gate Explorer (the dataset is needed for its full text)."""
    i = ctx["index"]
    if not (0 <= i < len(test)) or test.ids[i] != ctx["review"]:
        i = test.ids.index(ctx["review"]) if ctx["review"] in test.ids else -1
    if i < 0:
        st.session_state["_atlas_error"] = _("Review {review} is not in this copy of the dataset.").format(
            review=ctx["review"])
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
    parts += [f"{_(GATE_LABELS.get(q, q))} = {v:+.3f}" for q, v in ctx["values"].items() if q != "hidden"]
    label = _("positive") if ctx["label"] else _("negative")
    return " · ".join(parts) + " — " + _("{label}, {stars}★, review {review}, word {step} read").format(
        label=label, stars=ctx["stars"], review=md_escape(ctx["review"]), step=ctx["step"] + 1)


st.markdown(_("**Where it fires most, and least** (one context per review; ±8 words around the word where h peaks)"))
if test is None:
    st.caption(_("Opening a whole review needs the IMDB dataset: set GRU_EXPLORER_IMDB to the archive."))
if st.session_state.pop("_atlas_open", False):
    st.switch_page("pages/explorer.py")
if (err := st.session_state.pop("_atlas_error", None)) is not None:
    st.warning(err)
left, right = st.columns(2)
for col, which, title in ((left, "top", _("*Most activating (highest h)*")),
                          (right, "bottom", _("*Most suppressing (lowest h)*"))):
    with col:
        st.markdown(title)
        for n, ctx in enumerate(context_rows(index, unit, which)):
            with st.container(border=True):
                st.markdown(_snippet(ctx))
                st.caption(_values(ctx))
                st.button(_("Open in the Gate Explorer"), key=f"open_{which}_{n}", disabled=test is None,
                          on_click=_open, args=(ctx,),
                          help=_("Needs the IMDB dataset.") if test is None else _("Read the whole review there."))

st.markdown(_("**Words that move it most** (expected response: the average h_t − h_{{t−1}} when the word is read, "
              "over the test set; words read at least {min_count} times)").format(
                  min_count=index["settings"]["min_count"]))
a, b = st.columns(2)
a.dataframe(word_frame(index, unit, "up"), hide_index=True, width="stretch",
            column_config={_("mean Δh"): st.column_config.NumberColumn(format="%+.4f")})
b.dataframe(word_frame(index, unit, "down"), hide_index=True, width="stretch",
            column_config={_("mean Δh"): st.column_config.NumberColumn(format="%+.4f")})

# --- Co-clustering --------------------------------------------------------------------------------------------
st.subheader(_("Units and words that go together"))
c = index["cocluster"]
st.altair_chart(cocluster_heatmap(cocluster_frame(index)), width="stretch")
st.caption(_("The {words} most frequent words and all units, co-clustered into {groups} groups (scikit-learn's "
             "SpectralCoclustering on |mean Δh|, as RNNVis): each group of units responds most to its group of "
             "words. The heatmap shows the signed mean Δh for each group's 8 strongest words.").format(
                 words=len(c["words"]), groups=c["n_clusters"]))
st.dataframe(cocluster_groups(index), hide_index=True, width="stretch",
             column_config={_("units"): st.column_config.TextColumn(width="medium"),
                            _("words"): st.column_config.TextColumn(width="large")})

# --- Ablation -------------------------------------------------------------------------------------------------
st.subheader(_("What breaks without them: ablation"))
abl = index["ablation"]
st.altair_chart(ablation_chart(ablation_frame(index), abl["baseline"]), width="stretch")
st.caption(_("Test accuracy over {reviews:,} test reviews with k units silenced (h_k := 0 at every word): the k "
             "units with the largest |label correlation|, the largest |output weight|, or k random units (mean ± 1 "
             "std over {draws} draws). Dashed: nothing ablated ({baseline:.4f}). A steep fall for the chosen units "
             "against a flat random line means the verdict lives in a few units.").format(
                 reviews=abl["reviews"], draws=abl["random_draws"], baseline=abl["baseline"]))
