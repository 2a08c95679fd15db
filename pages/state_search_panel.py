"""The Gate Explorer's state search (LSTMVis's match view): pick a stretch of the review, take the hidden units on
across it as a pattern, and find the stretches of IMDB test reviews where the network was in the same state.

``explorer.py`` calls ``state_search_panel(model, trace)`` once. The section is lazy: nothing is computed while it
is closed. Opened the first time in a server process, it starts the test reviews' states building in the
background (``common.state_index_job``) and shows its progress.
"""
from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from gru_core.analysis.state_search import BUDGET_BYTES, CONTEXT, MAX_LENGTH, MEASURES, TOP, Match, StateIndex, on_units
from gru_core.charts.text import md_escape
from gru_core.i18n import _
from gru_core.predictor import SentimentModel
from gru_core.trace import Trace
from pages.common import fragment, imdb_test, open_test_review, state_index_job

MIB = 2**20


def state_search_panel(model: SentimentModel, trace: Trace) -> None:
    """A closed expander; opened, it searches the test reviews' hidden states for a stretch of this review's."""
    box = st.expander(_("State search: where else the network was in this state"), key="ss_open", on_change="rerun")
    with box:
        if box.open:
            _panel(model, trace)


@fragment(run_every=1.0)
def _building(model: SentimentModel) -> None:
    """The build's progress, redrawn every second; the whole page reruns once the index is there."""
    job = state_index_job(model)
    if job is None:
        st.info(_("The server is building the state indexes of other models; this one starts when one of them is "
                  "done."))
        return
    if job.finished:
        st.rerun()
    st.progress(job.fraction, text=_("Reading test reviews with {model} to index its hidden states: {done:,} of {total} "
                                     "reviews (once per server, in the background)").format(
        model=model.name, done=job.done, total=job.total or "…"))


def _panel(model: SentimentModel, trace: Trace) -> None:
    test = imdb_test()
    if test is None:
        st.info(_("State search looks through the hidden states of the IMDB test reviews, so it needs the dataset: set "
                  "GRU_EXPLORER_IMDB to the archive (or run `python -m gru_core download-imdb`)."))
        return
    job = state_index_job(model)
    if job is None or not job.finished:
        _building(model)
        return
    if job.error is not None:
        st.error(_("The state index could not be built: {error}").format(error=md_escape(job.error)))
        return
    index: StateIndex = job.result
    T, H = len(trace.tokens), index.units
    st.caption(_("Pick a stretch of your review and a threshold: the units whose hidden value h is at or above it at "
                 "every word of the stretch are the pattern. The search scores every stretch of as many words in the "
                 "indexed test reviews by how well the set of units on across it matches the pattern, and shows each "
                 "review's best."))
    default = (max(0, T - 3), T - 1)
    if T > 1:
        a, b = st.select_slider(_("Stretch: first and last word"), options=list(range(T)), value=default,
                                format_func=lambda i: f"{i + 1}: {trace.tokens[i][:30]}", key=f"ss_stretch_{T}",
                                help=_("Words of your review, as the model read them (at most {n} at once).")
                                .format(n=MAX_LENGTH))
    else:
        a, b = 0, 0
    if b - a + 1 > MAX_LENGTH:
        st.warning(_("A stretch holds at most {n} words: searching words {first}–{last}.").format(
            n=MAX_LENGTH, first=a + 1, last=a + MAX_LENGTH))
        b = a + MAX_LENGTH - 1
    left, right = st.columns(2)
    threshold = left.slider(_("Threshold"), 0.05, 0.95, 0.2, 0.05, key="ss_threshold",
                            help=_("A unit is on where h ≥ this (h lies in (−1, 1); in these models most |h| are "
                                   "below 0.4). Decided on int8 states, to within 0.004."))
    measure = right.radio(_("Rank by"), list(MEASURES), format_func={m: _(label) for m, label in MEASURES.items()}.get, key="ss_measure",
                          help=_("S: the units on across a test stretch; P: the pattern. Jaccard is 1 when S = P. "
                                 "LSTMVis ranks by matching units minus extra units."))
    found = on_units(trace.hidden, a, b + 1, threshold)
    stretch = " ".join(trace.tokens[a:b + 1])
    seed = hashlib.sha256(f"{trace.text}|{a}|{b}|{threshold}".encode()).hexdigest()[:12]
    units = st.multiselect(_("Pattern: units"), list(range(H)), default=[int(u) for u in found],
                           key=f"ss_units_{seed}",
                           help=_("Starts with the units on across the stretch; add or drop units to change the "
                                  "pattern."))
    on_text = ", ".join(str(int(u)) for u in found) if len(found) else _("none")
    st.caption(_("On (h ≥ {threshold:.2f}) at every word of “{stretch}” (words {first}–{last}): {n} of {total} units: "
                 "{units}.").format(threshold=threshold, stretch=md_escape(stretch[:300]), first=a + 1, last=b + 1,
                                    n=len(found), total=H, units=on_text))
    if not units:
        st.info(_("No unit is in the pattern: lower the threshold, shorten the stretch, or add units by hand."))
        return
    key = (str(model.path), id(index), tuple(sorted(units)), b - a + 1, threshold, measure)
    last = st.session_state.get("_ss_last")
    if last is None or last[0] != key:
        last = (key, index.search(units, b - a + 1, threshold, measure))
        st.session_state["_ss_last"] = last
    result = last[1]
    st.caption(_("{windows:,} stretches of {length} words in {reviews:,} reviews searched in {seconds:.2f} s. The index "
                 "holds a seeded random sample of {sample:,} of the {total:,} test reviews ({words:,} words), as many "
                 "as fit in {budget:.0f} MiB; it uses {used:.0f} MiB.").format(
        windows=result.windows, length=b - a + 1, reviews=result.reviews, seconds=result.seconds, sample=len(index),
        total=len(test), words=index.words, budget=BUDGET_BYTES / MIB, used=index.nbytes / MIB))
    if not result.matches:
        st.info(_("No test review of the sample is long enough for a stretch this long."))
        return
    st.markdown(_("**The {n} best matches** (one per review, ±{context} words)").format(
        n=min(TOP, len(result.matches)), context=CONTEXT))
    for n, match in enumerate(result.matches):
        _match(model, index, test, trace, match, measure, n)
    _following(model, result, units)


def _match(model: SentimentModel, index: StateIndex, test, trace: Trace, match: Match, measure: str, n: int) -> None:
    text = test.texts[match.test_index]
    tokens = model.encode(text)[0]  # the words the model read, with their places in the text
    before, stretch, after = index.context(match, tokens)
    start, end = stretch[0].start, stretch[-1].end
    pieces = (text[before[0].start:start] if before else "", text[start:end], text[end:after[-1].end] if after else "")
    more_before, more_after = match.start > CONTEXT, match.start + match.length + CONTEXT < len(tokens)
    snippet = (("…" if more_before else "") + md_escape(pieces[0]) + f"**:orange-background[{md_escape(pieces[1])}]**"
               + md_escape(pieces[2]) + ("…" if more_after else ""))
    label = _("positive") if match.label else _("negative")
    score = (_("Jaccard {score:.3f}") if measure == "jaccard" else _("score {score:+.0f}")).format(score=match.score)
    about = _("{score} · {matched} matching, {extra} extra units · {label}, {rating}★ · P(positive) {p:.3f} · review "
              "{review}, words {first}–{last} of {total} read").format(
        score=score, matched=match.matched, extra=match.extra, label=label, rating=match.rating, p=match.proba,
        review=md_escape(test.ids[match.test_index]), first=match.start + 1, last=match.start + match.length,
        total=len(tokens))
    if text == trace.text:
        about = _("{about} · **this review**").format(about=about)
    with st.container(border=True):
        st.markdown(snippet)
        st.caption(about)
        st.button(_("Open in the Gate Explorer"), key=f"ss_open_{n}", on_click=open_test_review,
                  args=(test, match.test_index), help=_("Read this whole review here, with its true label."))


def _following(model: SentimentModel, result, units: list[int]) -> None:
    st.markdown(_("**Words that most often follow a match**"))
    if not result.following:
        st.caption(_("No stretch of the sample has every pattern unit on throughout and a word after it."))
        return
    word, times, matches, every, lift = _("word"), _("times"), _("share of matches"), _("share of all words"), _("lift")
    rows = [{word: _("(unknown word)") if model.vocab.word(w) == "<unk>" else model.vocab.word(w), times: count,
             matches: share, every: base, lift: share / base if base else None}
            for w, count, share, base in result.following]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
        matches: st.column_config.NumberColumn(format="%.3f"),
        every: st.column_config.NumberColumn(format="%.4f"),
        lift: st.column_config.NumberColumn(format="%.1f×")})
    st.caption(_("All {n} pattern units are on at every word of {full:,} stretches of the sample; the table counts the "
                 "word right after each of the {followed:,} with a word after them. Lift: how much more often than "
                 "among all the sample's words.").format(n=len(units), full=result.full_matches,
                                                         followed=result.followed))
