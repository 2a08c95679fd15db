"""Gate Explorer: type a review, see every gate at every word."""
from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from gru_core.analysis.explain import (
    WINDOW,
    heatmap_frame,
    last_window,
    output_weights,
    quantities,
    trace_csv,
    unit_frame,
    word_summaries,
    words_frame,
)
from gru_core.archs import ARCHS, CANDIDATE_LATEX, GATE_LABELS, GRU_FORM_NOTE
from gru_core.charts.gates import heatmap, picked_cell, trajectory, unit_lines, word_summary_chart
from gru_core.charts.text import coloured_text_html, md_escape
from gru_core.examples import EXAMPLES
from gru_core.i18n import N_, _, language
from pages.common import (
    cache_key,
    chart,
    current_model,
    get_influence,
    get_trace,
    imdb_test,
    new_pick,
    open_test_review,
    require_app,
    set_unit,
    start_influence,
    unit_input,
)
from pages.interventions_panel import interventions_panel
from pages.state_search_panel import state_search_panel

MAX_CHARS = 200_000
URL_MAX_CHARS = 2_000  # longer reviews are not put in the shareable link
OWN, RANDOM = N_("(your own review)"), N_("A random IMDB test review")  # option values: shown with _()
ORDERS = {"index": N_("index"), "weight": N_("output-layer weight"), "mean": N_("mean activation")}
VERDICTS = {True: N_("positive"), False: N_("negative")}  # P(positive) > 0.5 -> the verdict

require_app(__file__)
st.title(_("Gate Explorer"))
st.caption(_("Type a movie review and watch, word by word, what the recurrent network trained on IMDB does with it."))
model = current_model()

# --- Input -----------------------------------------------------------------
if "review" not in st.session_state:
    st.session_state["review"] = st.query_params.get("review", EXAMPLES["Slow start, brilliant ending"])


def _pick_example() -> None:
    choice = st.session_state["example"]
    if choice == RANDOM:
        test = imdb_test()
        open_test_review(test, int(np.random.default_rng().integers(len(test))))
    elif choice in EXAMPLES:
        st.session_state["review"] = EXAMPLES[choice]


options = [OWN, *EXAMPLES] + ([RANDOM] if imdb_test() is not None else [])
# Labels translated now, not in format_func: Streamlit may call it outside this run (and its language).
st.selectbox(_("Example"), options, key="example", on_change=_pick_example, format_func={o: _(o) for o in options}.get,
             help=_("Short reviews that show the gates at work; a random test review shows its true label and star "
                    "rating.") if RANDOM in options
             else _("Short reviews that show the gates at work. Set GRU_EXPLORER_IMDB to the IMDB archive for random "
                    "test reviews."))
with st.form("review_form", border=False):
    st.text_area(_("Review"), key="review", height=140, max_chars=MAX_CHARS, persist_state="session",
                 help=_("Press Ctrl+Enter or the button to apply."))
    st.form_submit_button(_("Explore"), type="primary", help=_("Read the review with the chosen model (Ctrl+Enter)."))
text: str = st.session_state["review"]

if len(text) <= URL_MAX_CHARS:
    st.query_params["review"] = text
elif "review" in st.query_params:
    del st.query_params["review"]

if not text.strip():
    st.info(_("Type a review above (or pick an example) to see how the model reads it."))
    st.stop()
try:
    trace = get_trace(model, text)
    start_influence(model, text)  # the word-influence section's work, on a worker thread while the charts build
except ValueError:
    st.info(_("This review contains no words the model can read (only spaces, punctuation or symbols). "
              "Type a few words to see how the model reads them."))
    st.stop()

# --- Verdict ---------------------------------------------------------------
label = VERDICTS[trace.proba > 0.5]
cols = st.columns(4)
cols[0].metric(_("P(positive)"), f"{trace.proba:.3f}", help=_("The output layer applied to the last hidden state."))
cols[1].metric(_("Verdict"), _(label))
cols[2].metric(_("Model"), f"{model.name} ({_(ARCHS[model.arch].display)})")
truth = st.session_state.get("truth")
if truth is not None and truth[3] == text:  # the true label of an IMDB test review, while it is unedited
    true_label = VERDICTS[bool(truth[0])]
    cols[3].metric(_("True label"), f"{_(true_label)} ({truth[1]}★)",
                   delta=_("model is right") if true_label == label else _("model is wrong"),
                   delta_color="normal" if true_label == label else "inverse")
if len(text) > URL_MAX_CHARS:
    st.caption(_("This review is too long to keep in the page's link; shorter reviews are shareable by URL."))

n_unknown = int((~trace.known).sum())
if trace.truncated:
    st.warning(_("The review has {total:,} words; the model reads only the last {maxlen} (from character {start:,}: "
                 "“{snippet}…”), as it was trained.").format(
        total=trace.total_tokens, maxlen=model.maxlen, start=trace.used_from,
        snippet=md_escape(text[trace.used_from:trace.used_from + 40])))
if (note := model.prefix_note(trace)) is not None:  # a Keras model that reads padding and a start mark
    st.caption(note)
if n_unknown == len(trace.tokens):
    st.warning(_("None of these words is in the model's vocabulary: it reads every one as the same "
                 "unknown word, so its verdict says nothing about this text."))
elif n_unknown:
    st.caption(_("{n} of {total} words are not in the model's {vocab:,}-word vocabulary (shown in italics, dotted): "
                 "the model reads them all as one 'unknown' word.").format(n=n_unknown, total=len(trace.tokens),
                                                                           vocab=model.vocab.n_words))

# --- Words coloured by the running verdict ----------------------------------
st.subheader(_("How the verdict forms"))
frame = words_frame(trace)
tip, unknown_tip = (_("{word}: P(positive) after this word = {p:.4f}"),
                    _("{word}: P(positive) after this word = {p:.4f} (unknown word)"))
tips = [(tip if k else unknown_tip).format(word=w, p=p)
        for w, p, k in zip(frame["word"], frame["p_positive"], frame["known"])]
skip = trace.used_from if trace.truncated else 0
st.markdown(coloured_text_html(text, trace.spans, 2 * trace.step_proba - 1, tips, ~trace.known, skip),
            unsafe_allow_html=True)  # every piece of user text in it is HTML-escaped
st.caption(_("Each word is coloured by the model's verdict after reading it (blue positive, red negative); hover for "
             "the value."))

# --- Display options (do not recompute the trace) ----------------------------
T = len(trace.tokens)
if T > WINDOW:
    start = st.slider(_("Words shown in the charts (window start)"), 1, T - WINDOW + 1, T - WINDOW + 1,
                      help=_("Charts show {n} words at a time; slide to move through the review.").format(n=WINDOW))
    window = (start - 1, start - 1 + WINDOW)
else:
    window = (0, T)
shown = frame.iloc[window[0]:window[1]]
version = cache_key(model)  # with the review and the options: what each chart below shows
chart(("trajectory", version, text, window), lambda: trajectory(shown), width="stretch")
st.page_link(page="pages/dynamics.py", label=_("How the network keeps this verdict: its state-space dynamics"),
             icon=":material/timeline:")

st.subheader(_("Gates at every word"))
order_by = st.radio(_("Order units by"), list(ORDERS), horizontal=True, format_func={v: _(label) for v, label in ORDERS.items()}.get,
                    key="order_by",
                    help=_("Output-layer weight: units that push the verdict towards positive at the top, "
                           "towards negative at the bottom."))
names = list(quantities(trace))
# Lazy: only the open tab's heatmap is built and sent (a tab switch reruns the page from the cached trace). The
# tab's state is its label, so each language keeps its own (English keeps the plain key).
tab_key = f"gate_tab_{model.arch}" + ("" if language() == "en" else f"_{language()}")
tabs = st.tabs([_(GATE_LABELS[n]) for n in names], key=tab_key, on_change="rerun")
for tab, name in zip(tabs, names):
    if not tab.open:
        continue
    with tab:
        event = chart(("heatmap", version, text, name, order_by, window),
                      lambda name=name: heatmap(heatmap_frame(model, trace, name, order_by, window), name, select=True),
                      width="stretch", on_select="rerun", key=f"heat_{name}")
        cell = picked_cell(event)
        if new_pick(f"heat_{name}", cell):
            set_unit(cell[0])
            st.session_state["unit_step"] = (text, cell[1])  # the word, while this review is on screen
st.caption(_("Click a cell to inspect its unit and word below (the Unit atlas shows the same unit)."))

# --- Per-word summaries ------------------------------------------------------
st.subheader(_("Which words made the network rewrite its memory"))
chart(("summary", version, text, window),
      lambda: word_summary_chart(word_summaries(trace).iloc[window[0]:window[1]]), width="stretch")
if model.arch == "gru":
    st.caption(_("Mean update gate near 1: the GRU kept its memory at this word; near 0: it overwrote it with the "
                 "candidate. ‖h_t − h_{t−1}‖ is how far the hidden state moved."))

# --- Unit inspector -----------------------------------------------------------
st.subheader(_("Unit inspector"))
weights = output_weights(model)
# One choice shared with the Unit atlas and kept in the URL; first the unit that sways the verdict most.
unit = unit_input(len(weights), int(np.argmax(np.abs(weights))), _("Or click a cell in a heatmap, or a row of the "
                                                                  "Unit atlas."))
chart(("unit", version, text, unit, window), lambda: unit_lines(unit_frame(trace, unit, window)), width="stretch")
st.caption((_("Unit {unit} has output-layer weight {w:+.4f}: a high hidden value pushes the verdict towards positive.")
            if weights[unit] > 0 else
            _("Unit {unit} has output-layer weight {w:+.4f}: a high hidden value pushes the verdict towards negative."))
           .format(unit=unit, w=weights[unit]))
st.page_link(page="pages/cell.py", label=_("Follow this unit through the cell, word by word, and the loss back through time"),
             icon=":material/memory:")
picked_step = st.session_state.get("unit_step")
if picked_step is not None and picked_step[0] == text and 1 <= picked_step[1] <= T:
    t = picked_step[1] - 1
    values = " · ".join(f"{_(GATE_LABELS[q])} = {v[t, unit]:+.4f}" for q, v in quantities(trace).items())
    st.markdown(_("At word {n}, “{word}”: {values}").format(n=t + 1, word=md_escape(trace.tokens[t]), values=values))

# --- Word influence ------------------------------------------------------------
st.subheader(_("Word influence"))
occ, gxi = get_influence(model, text)  # computed meanwhile, from the moment the trace was ready
scale_occ = max(float(np.abs(occ).max()), 1e-9)
scale_gxi = max(float(np.abs(gxi).max()), 1e-9)
left, right = st.columns(2)
with left:
    st.markdown(_("**Occlusion**: verdict change when the word is removed"))
    tip = _("{word}: removing it changes P(positive) by {d:+.4f}")
    st.markdown(coloured_text_html(text, trace.spans, occ / scale_occ,
                                   [tip.format(word=w, d=-d) for w, d in zip(trace.tokens, occ)], ~trace.known, skip),
                unsafe_allow_html=True)
with right:
    st.markdown(_("**Gradient × input**: first-order saliency of the verdict's logit"))
    tip = _("{word}: gradient × input = {g:+.4f}")
    st.markdown(coloured_text_html(text, trace.spans, gxi / scale_gxi,
                                   [tip.format(word=w, g=g) for w, g in zip(trace.tokens, gxi)],
                                   ~trace.known, skip), unsafe_allow_html=True)
st.caption(_("Blue: the word pushes towards positive; red: towards negative. Colours are scaled to each "
             "method's largest value."))

# --- Compare with an edited review -----------------------------------------------
# Lazy: the second trace and its charts are computed only while the expander is open.
compare_box = st.expander(_("Compare with an edited review"), key="compare_open", on_change="rerun")
with compare_box:
    if compare_box.open:
        # The edited box follows the main review: it is (re)seeded whenever the main review changes, and
        # the user's edit is kept only while the main review it was made from stays on screen.
        seed = text if len(text) <= 5_000 else text[-5_000:]
        if st.session_state.get("edited_from") != seed:
            st.session_state["edited_from"] = st.session_state["edited_text"] = st.session_state["edited"] = seed
        elif "edited" not in st.session_state:  # the box was hidden (expander closed): bring the edit back
            st.session_state["edited"] = st.session_state["edited_text"]
        edited = st.text_area(_("Edited review"), key="edited", max_chars=MAX_CHARS,
                              help=_("Change a word or two and compare. A new main review starts this box afresh."))
        st.session_state["edited_text"] = edited
        try:
            other = get_trace(model, edited)
        except ValueError:
            st.info(_("The edited review contains no words."))
        else:
            a, b = st.columns(2)
            a.metric(_("Original P(positive)"), f"{trace.proba:.3f}")
            b.metric(_("Edited P(positive)"), f"{other.proba:.3f}", delta=f"{other.proba - trace.proba:+.3f}")
            both = pd.concat([words_frame(trace).assign(review=_("original")),
                              words_frame(other).assign(review=_("edited"))])
            st.altair_chart(trajectory(both, series="review"), width="stretch")
            gate = names[0]
            c1, c2 = st.columns(2)
            for col, tr, title in ((c1, trace, _("original")), (c2, other, _("edited"))):
                with col:
                    st.caption(_("{quantity} — {which}").format(quantity=_(GATE_LABELS[gate]), which=title))
                    st.altair_chart(heatmap(heatmap_frame(model, tr, gate, order_by, last_window(tr)), gate),
                                    width="stretch")
            diff = {n: float(np.abs(quantities(other)[n][-1] - quantities(trace)[n][-1]).mean()) for n in names}
            st.dataframe(pd.DataFrame({_("quantity"): [_(GATE_LABELS[n]) for n in diff],
                                       _("mean |edited − original| at the last word"): list(diff.values())}),
                         hide_index=True)

interventions_panel(model, trace)  # lazy: computed only while its expander is open
state_search_panel(model, trace)  # lazy too; needs the dataset

# --- Equations ---------------------------------------------------------------------
with st.expander(_("The equations this page computes"), expanded=False):
    if model.arch == "gru":
        st.latex(r"r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})")
        st.latex(r"z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})")
        st.latex(CANDIDATE_LATEX[model.gru_form])
        st.latex(r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}")
        st.markdown(
            _("- **Update gate z**: how much of the old memory to keep. z = 1 keeps the old state, "
              "z = 0 replaces it with the candidate.\n"
              "- **Reset gate r**: how much of the old memory to use when proposing new content.\n"
              "- **Candidate n**: the new content proposed from this word and the (reset) memory.")
            + "\n\n" + _(GRU_FORM_NOTE[model.gru_form]))
    elif model.arch == "lstm":
        for eq in (r"i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})",
                   r"f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})",
                   r"g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})",
                   r"o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})",
                   r"c_t = f_t \odot c_{t-1} + i_t \odot g_t", r"h_t = o_t \odot \tanh(c_t)"):
            st.latex(eq)
        st.markdown(_("- **Input gate i**: how much of the cell candidate g to write.\n"
                      "- **Forget gate f**: how much of the old cell state to keep.\n"
                      "- **Output gate o**: how much of the cell to expose as the hidden state."))
    else:
        st.latex(r"h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})")
        st.markdown(_("A plain RNN has no gates: every word rewrites the whole state."))
    st.latex(r"P(\text{positive after word } t) = \sigma(w^\top h_t + b)")
    if model.module.prefix is not None:
        st.markdown(model.prefix_note())

# --- Downloads ------------------------------------------------------------------------
# Deferred (built on click): no CSV work on every rerun, and no stale media URL for the
# browser to fetch after a rerun has replaced it (a 404 in the console under load).
st.download_button(_("Download the trace as CSV"), partial(trace_csv, trace), file_name=f"trace-{model.name}.csv",
                   mime="text/csv", on_click="ignore",
                   help=_("One row per word, unit and quantity. Charts: use each chart's ⋯ menu for PNG/SVG."))
