"""GRU vs LSTM (and plain RNN), measured side by side."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from gru_core.analysis.compare import (
    GATE_NAMES,
    MIN_REVIEWS,
    claims,
    comparison_table,
    confusion_frame,
    gradient_frame,
    history_frame,
    reach_summary,
    saturation_frame,
)
from gru_core.analysis.explain import heatmap_frame, last_window, words_frame
from gru_core.analysis.stats import SATURATED_HIGH, SATURATED_LOW, agreement, ids_digest, paired_comparison
from gru_core.archs import ARCHS, NAMES
from gru_core.charts.compare import confusion_chart, gradient_curve, saturation_scatter
from gru_core.charts.gates import heatmap, trajectory
from gru_core.charts.training import learning_curves
from gru_core.examples import EXAMPLES
from gru_core.i18n import _
from pages.common import (
    get_trace,
    imdb_test,
    live_measurements,
    load_named,
    memory_reach,
    model_names,
    model_stats,
    open_test_review,
    require_app,
)

require_app(__file__)
st.title(_("GRU vs LSTM vs RNN"))
st.caption(_("Every number here is computed from the models' files or measured: the table's **source** column "
             "says which (the weights, metrics.json written by the training run on its machine, stats.json written "
             "by the stats command, or a measurement live on this server). The seed's claims are checked against "
             "them."))

names = model_names()
if not names:
    st.error(_("No trained model found in models/. Restore the shipped ones with `git checkout models/`."))
    st.stop()
# The shipped models, named after their architectures, and the seed's own recipe trained with Keras.
default = [n for n in (*NAMES, "keras-seed") if n in names] or names[:3]
chosen = st.multiselect(_("Models to compare"), names, default=default,
                        help=_("Every checkpoint in models/, including ones you train yourself."))
models = load_named(chosen)
if not models:
    st.info(_("Pick at least one model to compare."))
    st.stop()
by_name = {m.name: m for m in models}
stats = {m.name: s for m in models if (s := model_stats(m))}

# --- 1. The table ------------------------------------------------------------------
st.subheader(_("Side by side"))
if st.button(_("Measure latency, throughput and memory on this server"), type="primary",
             help=_("Times one review of 100 and 500 words, batches of 256, and the peak memory of a batch "
                    "(which otherwise comes from stats.json); takes a few seconds per model, then stays cached.")):
    st.session_state["live_requested"] = True
live = {}
if st.session_state.get("live_requested"):
    with st.spinner(_("Measuring on this machine…")):
        live = {m.name: live_measurements(m) for m in models}
st.dataframe(comparison_table(models, live, stats), width="stretch")

# --- 2. The seed's claims -----------------------------------------------------------------
st.subheader(_("The seed's claims, checked"))
grus = [m for m in models if m.arch == "gru"]
lstms = [m for m in models if m.arch == "lstm"]
if grus and lstms:
    rows = claims(grus[0], lstms[0], live, stats)
    st.caption(_("Comparing **{gru}** with **{lstm}**.").format(gru=grus[0].name, lstm=lstms[0].name))
    st.table(pd.DataFrame(rows).rename(columns={"claim": _("claim"), "measured": _("measured"),
                                                "verdict": _("verdict")}).set_index(_("claim")))
else:
    st.info(_("Pick a GRU and an LSTM model to check the seed's claims."))

# --- 3. Learning curves ------------------------------------------------------------------
st.subheader(_("Learning curves"))
hist = history_frame(models)
if len(hist):
    for col, measure in zip(st.columns(2), ("loss", "accuracy")):
        col.altair_chart(learning_curves(hist, measure), width="stretch")
else:
    st.info(_("These models have no training history in metrics.json."))

# --- 4. Confusion and agreement ------------------------------------------------------------
st.subheader(_("Errors and agreement on the 25,000 test reviews"))
conf = confusion_frame(models)
if len(conf):
    names_with_conf = list(dict.fromkeys(conf["model"]))
    for col, name in zip(st.columns(len(names_with_conf)), names_with_conf):
        col.altair_chart(confusion_chart(conf[conf["model"] == name], name), width="stretch")
test = imdb_test()
if len(stats) >= 2:
    pairs = [(a, b) for i, a in enumerate(stats) for b in list(stats)[i + 1:]
             if stats[a]["test_ids_sha256"] == stats[b]["test_ids_sha256"]]
    rows = []
    for a, b in pairs:
        ag = agreement(stats[a]["test_proba"], stats[b]["test_proba"], np.asarray(stats[a]["test_labels"]))
        pc = paired_comparison(stats[a]["test_proba"], stats[b]["test_proba"], stats[a]["test_labels"])
        rows.append({_("models"): _("{first} vs {second}").format(first=a, second=b),
                     _("agree"): f"{ag['agree']:.2%}", _("disagree on"): f"{ag['disagree_count']:,}",
                     _("both right"): f"{ag['both_right']:.2%}", _("both wrong"): f"{ag['both_wrong']:.2%}",
                     _("only first right"): f"{ag['only_a_right']:.2%}",
                     _("only second right"): f"{ag['only_b_right']:.2%}",
                     _("accuracy first − second (95% CI)"): _("{difference:+.2f} points [{low:+.2f}, {high:+.2f}]").format(
                         difference=pc["difference"] * 100, low=pc["ci"][0] * 100, high=pc["ci"][1] * 100),
                     _("McNemar exact p"): f"{pc['p_value']:.2g}"})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(_("Each pair is the same paired test on the same test reviews as the claim above: McNemar's exact "
                 "test on the reviews only one of the two gets right, and a 95% confidence interval for the accuracy "
                 "difference. keras-seed is the seed tutorial's own recipe trained with Keras here."))
    a, b = (st.columns(2)[i].selectbox(lbl, list(stats), index=min(i, len(stats) - 1), key=f"pair{i}",
                                       help=_("The two models whose disagreements are listed below."))
            for i, lbl in enumerate((_("First model"), _("Second model"))))
    if test is None:
        st.info(_("To browse the reviews they disagree on, point GRU_EXPLORER_IMDB at the IMDB archive "
                  "(or run `python -m gru_core download-imdb`)."))
    elif a != b and ids_digest(test.ids) == stats[a]["test_ids_sha256"] == stats[b]["test_ids_sha256"]:
        pa, pb = np.asarray(stats[a]["test_proba"]), np.asarray(stats[b]["test_proba"])
        idx = np.flatnonzero((pa > 0.5) != (pb > 0.5))
        positive, negative = _("positive"), _("negative")
        table = pd.DataFrame({_("review"): [test.texts[i][:200] for i in idx],
                              _("true label"): [positive if test.labels[i] else negative for i in idx],
                              _("stars"): test.ratings[idx], _("P(positive) {model}").format(model=a): pa[idx].round(3),
                              _("P(positive) {model}").format(model=b): pb[idx].round(3)})
        st.caption(_("{n:,} test reviews on which **{first}** and **{second}** disagree. Select one to open it in "
                     "the Gate Explorer.").format(n=len(idx), first=a, second=b))
        event = st.dataframe(table, hide_index=True, width="stretch", height=260, on_select="rerun",
                             selection_mode="single-row", key="disagree")
        picked = event.selection.rows if event else []
        if picked and st.button(_("Open the selected review in the Gate Explorer"),
                                help=_("Shows this review, with its true label, on the first page.")):
            i = int(idx[picked[0]])
            open_test_review(test, i)
            st.session_state["example"] = "(your own review)"
            st.switch_page("pages/explorer.py")
else:
    st.info(_("Agreement needs test-set statistics for two models: `python -m gru_core stats --model models/NAME`."))

# --- 5. The same review through every model ---------------------------------------------------
st.subheader(_("The same review through every model"))
text = st.text_area(_("Review"), value=st.session_state.get("review") or EXAMPLES["Slow start, brilliant ending"],
                    key="compare_review", height=100, max_chars=200_000, help=_("Press Ctrl+Enter to apply."))
traces = {}
if text.strip():
    for m in models:
        try:
            traces[m.name] = get_trace(m, text)
        except ValueError:
            st.info(_("This review contains no words the models can read."))
            break
if traces:
    cols = st.columns(len(traces))
    for col, (name, tr) in zip(cols, traces.items()):
        col.metric(f"{name} ({_(ARCHS[by_name[name].arch].display)})", f"{tr.proba:.3f}",
                   _("positive") if tr.proba > 0.5 else _("negative"), delta_color="off")
    frames = pd.concat([words_frame(tr).assign(model=name) for name, tr in traces.items()])
    st.altair_chart(trajectory(frames, series="model"), width="stretch")
    tabs = st.tabs(list(traces))
    for tab, (name, tr) in zip(tabs, traces.items()):
        with tab:
            m = by_name[name]
            for q in ARCHS[m.arch].gates or ["hidden"]:
                st.altair_chart(heatmap(heatmap_frame(m, tr, q, "weight", last_window(tr)), q), width="stretch")
elif not text.strip():
    st.info(_("Type a review to read it with every model."))

# --- 6. Gate saturation -----------------------------------------------------------------------
st.subheader(_("Gate saturation"))
sat = saturation_frame({n: s for n, s in stats.items() if n in by_name})
if len(sat):
    st.caption(_("Each point is one unit: how often its gate is nearly shut (< {low}, left-saturated) or wide open "
                 "(> {high}, right-saturated), over every word of a random sample of test reviews (Karpathy, Johnson "
                 "& Fei-Fei 2015). Points near the origin are gates that mostly stay in between.").format(
                     low=SATURATED_LOW, high=SATURATED_HIGH))
    labels = list(dict.fromkeys(sat["label"]))
    for start in range(0, len(labels), 3):
        for col, label in zip(st.columns(3), labels[start:start + 3]):
            one = sat[sat["label"] == label]
            model, gate = one.iloc[0][["model", "gate"]]
            title = _("{model}: {gate}").format(model=model, gate=_(GATE_NAMES.get(gate, gate)))
            col.altair_chart(saturation_scatter(one, (SATURATED_LOW, SATURATED_HIGH), title), width="stretch")
else:
    st.info(_("No gate statistics for these models yet: `python -m gru_core stats --model models/NAME`."))

# --- 7. Memory reach -----------------------------------------------------------------------------
st.subheader(_("Memory reach: how far back can the verdict still feel a word?"))
raw, relative, reviews = {}, {}, {}
for name, tr in traces.items():
    g = memory_reach(by_name[name], text)
    label = _("{model} (this review)").format(model=name)
    raw[label], relative[label] = g, g / g[0]
for name, s in stats.items():
    g = s["gradient_by_distance"]
    label = _("{model} (test average)").format(model=name)
    raw[label] = np.array([np.nan if v is None else v for v in g["mean"]], dtype=float)
    relative[label] = np.array([np.nan if v is None else v for v in g.get("relative_median", [])], dtype=float)
    reviews[label] = np.asarray(g["count"])
if raw:
    left, right = st.columns(2)
    left.altair_chart(gradient_curve(gradient_frame(raw, reviews), "‖∂ logit / ∂ word embedding‖",
                                     _("Raw: on each model's own logit scale")), width="stretch")
    right.altair_chart(gradient_curve(gradient_frame(relative, reviews), _("share of the last word's gradient"),
                                      _("Scale-free: divided by the last word's")), width="stretch")
    samples = " / ".join(str(n) for n in sorted({s["sample_size"] for s in stats.values()}))
    st.caption(_("Both charts show the gradient of the verdict's logit with respect to each word's embedding, "
                 "against how many words before the end the word stands (gradient on a log scale). Left, its size "
                 "‖∂ logit / ∂ e_t‖, measured on each model's own logit scale: a model with larger logits tends to "
                 "sit higher at every distance. Right, the same divided by the last word's gradient in the same "
                 "review (the median over reviews for a test average), which removes the scale: a vanishing "
                 "gradient shows as a curve that falls steeply, meaning words far back can no longer change the "
                 "verdict and cannot be learned from.")
               + (_(" Test averages are over a random sample of {samples} test reviews (stats.json); only "
                          "reviews longer than d words count at distance d (hover for how many), and a curve stops "
                          "where fewer than {min_reviews} reviews remain.").format(samples=samples,
                                                                                   min_reviews=MIN_REVIEWS)
                  if stats else ""))
    for line in reach_summary(stats):
        st.markdown(line)
