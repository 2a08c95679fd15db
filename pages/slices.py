"""Where models fail: accuracy on slices of the IMDB test set, model against model, and calibration."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from gru_core import CheckpointError
from gru_core.analysis.slices import (
    CONTRASTS,
    NEGATIONS,
    SliceData,
    calibration_frame,
    containing,
    kept_reviews,
    misread,
    pairwise_rows,
    phrase_span,
    phrase_words,
    same_reviews,
    slice_frame,
    slice_masks,
)
from gru_core.charts.slices import picked_slice, reliability_chart, slice_chart
from gru_core.charts.text import md_escape
from gru_core.i18n import _
from pages.common import (
    compute_slices_now,
    get_model,
    imdb_test,
    model_names,
    new_pick,
    open_test_review,
    require_app,
    stored_slices,
    test_words_joined,
)

PHRASE_CHARS = 200
SNIPPET_CHARS = 320
OWN = "phrase"  # the user's own slice, by name

require_app(__file__)
st.title(_("Where models fail"))
st.caption(_("Accuracy of every model on slices of the 25,000 IMDB test reviews, each with a Wilson 95% interval; "
             "for each pair of models the difference on the same reviews with McNemar's exact p; and how well each "
             "model's P(positive) is calibrated. Everything comes from `slices.json` next to each model, so this "
             "page works without the dataset; with it, you can cut a slice of your own and read the misread "
             "reviews."))

names = model_names()
if not names:
    st.error(_("No trained model found in models/. Restore the shipped ones with `git checkout models/`."))
    st.stop()
# All models at first; later, the choice without any model that has left the list since (deleted, renamed).
st.session_state["sl_models"] = [n for n in st.session_state.get("sl_models", names) if n in names]
chosen = st.multiselect(_("Models"), names, key="sl_models",
                        help=_("Every model in the sidebar's list: the shipped ones and any trained on the Train "
                               "page."))
test = imdb_test()

named: dict[str, SliceData] = {}
for name in chosen:
    try:
        model = get_model(st.session_state["model_paths"][name])
    except CheckpointError as e:
        st.error(_("Model **{model}** cannot be loaded and is left out.").format(model=md_escape(name)) + f"\n\n{e}")
        continue
    data, why = stored_slices(model)
    if data is not None:
        named[name] = data
        continue
    st.info(_("**{model}** is left out: {why}. Compute it (about a minute, with the IMDB dataset) with "
              "`python -m gru_core slices --model {path}`.").format(model=md_escape(name), why=md_escape(why),
                                                                   path=model.path))
    if test is not None and st.button(_("Compute it now for {model}").format(model=name), key=f"sl_compute_{name}",
                                      help=_("Reads all 25,000 test reviews with the model on this server and "
                                             "stores slices.json next to it.")):
        err = compute_slices_now(model)
        if err:
            st.error(_("Could not compute it: {error}").format(error=md_escape(err)))
        else:
            st.rerun()
if not named:
    st.info(_("Pick at least one model with a stored slice file."))
    st.stop()

first = next(iter(named.values()))
comparable = {n: d for n, d in named.items() if same_reviews(d, first)}
if len(comparable) < len(named):
    st.warning(_("Some slice files are over other test reviews than the first model's: {models} are not paired with "
                 "it.").format(models=", ".join(md_escape(n) for n in named if n not in comparable)))

# --- The user's own slice (needs the dataset) --------------------------------------------------------------------
extra: dict = {}
words: list[str] = []
keep, listed = None, {}  # listed: the models whose stored reviews are this copy of the dataset's, in its order
if test is not None:
    keep, digest = kept_reviews(test)
    listed = {n: d for n, d in named.items() if d.test_ids_sha256 == digest}
phrase = st.text_input(_("Your own slice: reviews containing the word or phrase"), key="sl_phrase",
                       max_chars=PHRASE_CHARS, disabled=not listed,
                       help=_("Whole words, in order, anywhere in the review (the same tokenizer the models use; "
                              "case and punctuation do not matter).") if listed else
                       _("Needs the IMDB dataset: set GRU_EXPLORER_IMDB to the archive."))
if test is None:
    st.caption(_("A slice of your own and the misread reviews need the IMDB dataset (set GRU_EXPLORER_IMDB to "
                 "the archive); everything else here comes from the stored files."))
elif len(listed) < len(named):
    st.warning(_("This copy of the IMDB test set holds other reviews than the stored files of {models} were computed "
                 "on: their reviews cannot be listed or cut by a phrase.").format(
                     models=", ".join(md_escape(n) for n in named if n not in listed)))
if listed and phrase.strip():
    words = phrase_words(phrase)
    if not words:
        st.info(_("The phrase holds no words (only spaces, punctuation or symbols)."))
    else:
        mask = containing(test_words_joined(), words)[keep]
        shown = " ".join(words)
        label = _("contains “{phrase}”").format(phrase=shown[:40] + ("…" if len(shown) > 40 else ""))
        if mask.any():
            extra = {OWN: (_("your slice"), label, mask)}
        st.caption(_("{n:,} test reviews contain “{phrase}”.").format(n=int(mask.sum()), phrase=md_escape(shown))
                   if mask.any() else _("No test review contains “{phrase}”.").format(phrase=md_escape(shown)))

# --- Accuracy per slice --------------------------------------------------------------------------------------------
st.subheader(_("Accuracy per slice"))
frame = pd.concat([slice_frame({n: d for n, d in named.items() if n in listed}, extra),
                   slice_frame({n: d for n, d in named.items() if n not in listed})])
frame = frame[frame["n"] > 0].sort_values("order", kind="stable")
event = st.altair_chart(slice_chart(frame, select=True), width="stretch", on_select="rerun", key="sl_chart")
picked = picked_slice(event)
if new_pick("sl_chart", picked) and picked[1] in named:
    st.session_state["sl_slice"], st.session_state["sl_model"] = picked
st.caption(_(
    "Click a row to list that slice's misread reviews below. Words read: what the model reads (its last {maxlen} "
    "words), in quartiles of this test set. Negation: a word that is {negations} or ends in n't; contrast: "
    "{contrasts}; both anywhere in the review. Unknown words: the share of the words read that are not in the "
    "model's vocabulary. IMDB's test set has no 5 or 6 star reviews.").format(
        maxlen=first.maxlen, negations=", ".join(sorted(NEGATIONS)), contrasts=", ".join(sorted(CONTRASTS))))

SLICE = _("slice")
table = frame.pivot_table(index=["order", "label"], columns="model", values=["accuracy", "n"], sort=False)
accuracy_cols = {m: _("{model} accuracy").format(model=m) for m in named if ("accuracy", m) in table}
review_cols = {m: _("{model} reviews").format(model=m) for m in named if ("n", m) in table}
table = pd.DataFrame({
    **{col: table[("accuracy", m)] for m, col in accuracy_cols.items()},
    **{col: table[("n", m)] for m, col in review_cols.items()},
}).droplevel(0).rename_axis(SLICE).reset_index()
st.dataframe(table, width="stretch", hide_index=True, column_config={
    SLICE: st.column_config.TextColumn(width="medium"),
    **{c: st.column_config.NumberColumn(format="%.4f") for c in accuracy_cols.values()},
    **{c: st.column_config.NumberColumn(format="%d") for c in review_cols.values()}})

# --- Model against model ---------------------------------------------------------------------------------------------
if len(comparable) > 1:
    st.subheader(_("Model against model, slice by slice"))
    pairs = pd.DataFrame(pairwise_rows(comparable, extra if set(comparable) <= set(listed) else None))
    wide = pairs.pivot_table(index=["slice", "label"], columns="pair", values=["difference", "p_value"], sort=False)
    order = pairs.drop_duplicates("pair")[["pair", "model_a", "model_b"]].itertuples(index=False)
    diff_cols, p_cols = {}, {}
    for p, a, b in order:
        diff_cols[p] = f"Δ {p}"
        p_cols[p] = "p ({pair})".format(pair=_("{first} vs {second}").format(first=a, second=b))
    wide = pd.DataFrame({**{col: wide[("difference", p)] for p, col in diff_cols.items()},
                         **{col: wide[("p_value", p)] for p, col in p_cols.items()}}
                        ).droplevel(0).rename_axis(SLICE).reset_index()
    st.dataframe(wide, width="stretch", hide_index=True, column_config={
        SLICE: st.column_config.TextColumn(width="medium"),
        **{c: st.column_config.NumberColumn(format="%+.4f") for c in diff_cols.values()},
        **{c: st.column_config.NumberColumn(format="%.2g") for c in p_cols.values()}})
    tests = len(pairs)
    st.caption(_("Δ: accuracy of the first model minus the second's on the same reviews of the slice. p: McNemar's "
                 "exact test on the reviews only one of the two gets right (two-sided). These are {tests} tests: "
                 "with a Bonferroni correction, p < {threshold:.1g} is significant at 5% overall.").format(
                     tests=tests, threshold=0.05 / tests))

# --- Calibration --------------------------------------------------------------------------------------------------------
st.subheader(_("Calibration"))
bins, ece = calibration_frame(named)
st.altair_chart(reliability_chart(bins[bins["n"] > 0]), width="stretch")
for start in range(0, len(ece), 4):
    cols = st.columns(4)
    for col, (name, value) in zip(cols, list(ece.items())[start:start + 4]):
        col.metric(_("ECE {model}").format(model=name), f"{value:.4f}",
                   help=_("Expected calibration error: the reviews' share-weighted mean of |share positive − mean "
                          "P(positive)| over the ten bins."))
st.caption(_("P(positive) in ten equal bins against the share of the bin's reviews that is positive; on the dashed "
             "diagonal a model's P(positive) would be exactly the chance that the review is positive."))

# --- Misread reviews ---------------------------------------------------------------------------------------------------
st.subheader(_("Misread reviews"))
labels = {name: label for name, (_group, label, _mask) in slice_masks(first).items()}
labels |= {n: e[1] for n, e in extra.items()}
if st.session_state.get("sl_slice") not in labels:
    st.session_state["sl_slice"] = "negation"
if st.session_state.get("sl_model") not in named:
    st.session_state["sl_model"] = next(iter(named))
left, right, count = st.columns([3, 2, 1])
slice_name = left.selectbox(_("Slice"), list(labels), format_func=labels.get, key="sl_slice",
                            help=_("Or click a row of the chart above."))
model_name = right.selectbox(_("Model"), list(named), key="sl_model", help=_("Whose misreadings to list."))
limit = int(count.number_input(_("Listed"), 1, 100, 10, key="sl_limit",
                               help=_("How many reviews to list, the most confidently misread first.")))
data = named[model_name]
if slice_name in extra and model_name not in listed:
    slice_name = "all"  # the phrase's slice exists only for the models whose reviews match the dataset
mask = extra[slice_name][2] if slice_name in extra else slice_masks(data)[slice_name][2]
wrong = misread(data, mask)
st.markdown(_("**{model}** misreads **{wrong:,}** of the {n:,} reviews in “{slice}”.").format(
    model=md_escape(model_name), wrong=len(wrong), n=int(mask.sum()), slice=md_escape(labels[slice_name])))


def _snippet(text: str, words: list[str]) -> str:
    """The review's beginning, or with ``words`` (the user's phrase) the text around its first place, highlighted;
    escaped either way."""
    span = phrase_span(text, words) if words else None
    if span is None:
        return md_escape(text[:SNIPPET_CHARS]) + ("…" if len(text) > SNIPPET_CHARS else "")
    a, b = span
    lo, hi = max(0, a - SNIPPET_CHARS // 2), min(len(text), b + SNIPPET_CHARS // 2)
    return (("…" if lo else "") + md_escape(text[lo:a]) + f"**:orange-background[{md_escape(text[a:b])}]**"
            + md_escape(text[b:hi]) + ("…" if hi < len(text) else ""))


def _open(i: int) -> None:
    open_test_review(test, i)
    st.session_state["_slices_open"] = True


if st.session_state.pop("_slices_open", False):
    st.switch_page("pages/explorer.py")
if test is None:
    st.info(_("Listing the reviews needs the IMDB dataset: set GRU_EXPLORER_IMDB to the archive."))
elif model_name not in listed:
    st.info(_("The stored file of {model} belongs to other test reviews than this copy of the dataset holds.").format(
        model=md_escape(model_name)))
else:
    for n, j in enumerate(wrong[:limit]):
        i = keep[j]
        text = test.texts[i]
        with st.container(border=True):
            st.markdown(_snippet(text, words if slice_name == OWN else []))
            truth = _("positive") if data.columns["label"][j] else _("negative")
            others = " · ".join(f"{md_escape(m)} {d.columns['p_positive'][j]:.3f}" for m, d in listed.items())
            st.caption(_("true label {truth}, {stars}★ · P(positive): {others} · {words} words read · review "
                         "{review}").format(truth=truth, stars=data.columns["rating"][j], others=others,
                                            words=data.columns["words_read"][j], review=md_escape(test.ids[i])))
            st.button(_("Open in the Gate Explorer"), key=f"sl_open_{n}", on_click=_open, args=(i,),
                      help=_("Read the whole review there, word by word, with its true label."))
