"""GRU vs LSTM (and plain RNN), measured side by side."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from gru_core.analysis.compare import (
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

require_app()
st.title("GRU vs LSTM vs RNN")
st.caption("Every number here is computed from the models' files or measured: the table's **source** column says "
           "which (the weights, metrics.json written by the training run on its machine, stats.json written by the "
           "stats command, or a measurement live on this server). The seed's claims are checked against them.")

names = model_names()
if not names:
    st.error("No trained model found in models/. Restore the shipped ones with `git checkout models/`.")
    st.stop()
# The shipped models, named after their architectures, and the seed's own recipe trained with Keras.
default = [n for n in (*NAMES, "keras-seed") if n in names] or names[:3]
chosen = st.multiselect("Models to compare", names, default=default,
                        help="Every checkpoint in models/, including ones you train yourself.")
models = load_named(chosen)
if not models:
    st.info("Pick at least one model to compare.")
    st.stop()
by_name = {m.name: m for m in models}
stats = {m.name: s for m in models if (s := model_stats(m))}

# --- 1. The table ------------------------------------------------------------------
st.subheader("Side by side")
if st.button("Measure latency, throughput and memory on this server", type="primary",
             help="Times one review of 100 and 500 words, batches of 256, and the peak memory of a batch "
                  "(which otherwise comes from stats.json); takes a few seconds per model, then stays cached."):
    st.session_state["live_requested"] = True
live = {}
if st.session_state.get("live_requested"):
    with st.spinner("Measuring on this machine…"):
        live = {m.name: live_measurements(m) for m in models}
st.dataframe(comparison_table(models, live, stats), width="stretch")

# --- 2. The seed's claims -----------------------------------------------------------------
st.subheader("The seed's claims, checked")
grus = [m for m in models if m.arch == "gru"]
lstms = [m for m in models if m.arch == "lstm"]
if grus and lstms:
    rows = claims(grus[0], lstms[0], live, stats)
    st.caption(f"Comparing **{grus[0].name}** with **{lstms[0].name}**.")
    st.table(pd.DataFrame(rows).set_index("claim"))
else:
    st.info("Pick a GRU and an LSTM model to check the seed's claims.")

# --- 3. Learning curves ------------------------------------------------------------------
st.subheader("Learning curves")
hist = history_frame(models)
if len(hist):
    for col, measure in zip(st.columns(2), ("loss", "accuracy")):
        col.altair_chart(learning_curves(hist, measure), width="stretch")
else:
    st.info("These models have no training history in metrics.json.")

# --- 4. Confusion and agreement ------------------------------------------------------------
st.subheader("Errors and agreement on the 25,000 test reviews")
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
        rows.append({"models": f"{a} vs {b}", "agree": f"{ag['agree']:.2%}", "disagree on": f"{ag['disagree_count']:,}",
                     "both right": f"{ag['both_right']:.2%}", "both wrong": f"{ag['both_wrong']:.2%}",
                     "only first right": f"{ag['only_a_right']:.2%}", "only second right": f"{ag['only_b_right']:.2%}",
                     "accuracy first − second (95% CI)": f"{pc['difference'] * 100:+.2f} points "
                     f"[{pc['ci'][0] * 100:+.2f}, {pc['ci'][1] * 100:+.2f}]",
                     "McNemar exact p": f"{pc['p_value']:.2g}"})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption("Each pair is the same paired test on the same test reviews as the claim above: McNemar's exact test "
               "on the reviews only one of the two gets right, and a 95% confidence interval for the accuracy "
               "difference. keras-seed is the seed tutorial's own recipe trained with Keras here.")
    a, b = (st.columns(2)[i].selectbox(lbl, list(stats), index=min(i, len(stats) - 1), key=f"pair{i}",
                                       help="The two models whose disagreements are listed below.")
            for i, lbl in enumerate(("First model", "Second model")))
    if test is None:
        st.info("To browse the reviews they disagree on, point GRU_EXPLORER_IMDB at the IMDB archive "
                "(or run `python -m gru_core download-imdb`).")
    elif a != b and ids_digest(test.ids) == stats[a]["test_ids_sha256"] == stats[b]["test_ids_sha256"]:
        pa, pb = np.asarray(stats[a]["test_proba"]), np.asarray(stats[b]["test_proba"])
        idx = np.flatnonzero((pa > 0.5) != (pb > 0.5))
        table = pd.DataFrame({"review": [test.texts[i][:200] for i in idx],
                              "true label": ["positive" if test.labels[i] else "negative" for i in idx],
                              "stars": test.ratings[idx], f"P(positive) {a}": pa[idx].round(3),
                              f"P(positive) {b}": pb[idx].round(3)})
        st.caption(f"{len(idx):,} test reviews on which **{a}** and **{b}** disagree. Select one to open it "
                   "in the Gate Explorer.")
        event = st.dataframe(table, hide_index=True, width="stretch", height=260, on_select="rerun",
                             selection_mode="single-row", key="disagree")
        picked = event.selection.rows if event else []
        if picked and st.button("Open the selected review in the Gate Explorer",
                                help="Shows this review, with its true label, on the first page."):
            i = int(idx[picked[0]])
            open_test_review(test, i)
            st.session_state["example"] = "(your own review)"
            st.switch_page("pages/explorer.py")
else:
    st.info("Agreement needs test-set statistics for two models: `python -m gru_core stats --model models/NAME`.")

# --- 5. The same review through every model ---------------------------------------------------
st.subheader("The same review through every model")
text = st.text_area("Review", value=st.session_state.get("review") or EXAMPLES["Slow start, brilliant ending"], key="compare_review", height=100,
                    max_chars=200_000, help="Press Ctrl+Enter to apply.")
traces = {}
if text.strip():
    for m in models:
        try:
            traces[m.name] = get_trace(m, text)
        except ValueError:
            st.info("This review contains no words the models can read.")
            break
if traces:
    cols = st.columns(len(traces))
    for col, (name, tr) in zip(cols, traces.items()):
        col.metric(f"{name} ({ARCHS[by_name[name].arch].display})", f"{tr.proba:.3f}",
                   "positive" if tr.proba > 0.5 else "negative", delta_color="off")
    frames = pd.concat([words_frame(tr).assign(model=name) for name, tr in traces.items()])
    st.altair_chart(trajectory(frames, series="model"), width="stretch")
    tabs = st.tabs(list(traces))
    for tab, (name, tr) in zip(tabs, traces.items()):
        with tab:
            m = by_name[name]
            for q in ARCHS[m.arch].gates or ["hidden"]:
                st.altair_chart(heatmap(heatmap_frame(m, tr, q, "weight", last_window(tr)), q), width="stretch")
elif not text.strip():
    st.info("Type a review to read it with every model.")

# --- 6. Gate saturation -----------------------------------------------------------------------
st.subheader("Gate saturation")
sat = saturation_frame({n: s for n, s in stats.items() if n in by_name})
if len(sat):
    st.caption(f"Each point is one unit: how often its gate is nearly shut (< {SATURATED_LOW}, left-saturated) or "
               f"wide open (> {SATURATED_HIGH}, right-saturated), over every word of a random sample of test reviews "
               "(Karpathy, Johnson & Fei-Fei 2015). Points near the origin are gates that mostly stay in between.")
    labels = list(dict.fromkeys(sat["label"]))
    for start in range(0, len(labels), 3):
        for col, label in zip(st.columns(3), labels[start:start + 3]):
            col.altair_chart(saturation_scatter(sat[sat["label"] == label], (SATURATED_LOW, SATURATED_HIGH), label),
                             width="stretch")
else:
    st.info("No gate statistics for these models yet: `python -m gru_core stats --model models/NAME`.")

# --- 7. Memory reach -----------------------------------------------------------------------------
st.subheader("Memory reach: how far back can the verdict still feel a word?")
raw, relative, reviews = {}, {}, {}
for name, tr in traces.items():
    g = memory_reach(by_name[name], text)
    raw[f"{name} (this review)"], relative[f"{name} (this review)"] = g, g / g[0]
for name, s in stats.items():
    g = s["gradient_by_distance"]
    label = f"{name} (test average)"
    raw[label] = np.array([np.nan if v is None else v for v in g["mean"]], dtype=float)
    relative[label] = np.array([np.nan if v is None else v for v in g.get("relative_median", [])], dtype=float)
    reviews[label] = np.asarray(g["count"])
if raw:
    left, right = st.columns(2)
    left.altair_chart(gradient_curve(gradient_frame(raw, reviews), "‖∂ logit / ∂ word embedding‖",
                                     "Raw: on each model's own logit scale"), width="stretch")
    right.altair_chart(gradient_curve(gradient_frame(relative, reviews), "share of the last word's gradient",
                                      "Scale-free: divided by the last word's"), width="stretch")
    samples = " / ".join(str(n) for n in sorted({s["sample_size"] for s in stats.values()}))
    st.caption("Both charts show the gradient of the verdict's logit with respect to each word's embedding, "
               "against how many words before the end the word stands (gradient on a log scale). Left, its size "
               "‖∂ logit / ∂ e_t‖, measured on each model's own logit scale: a model with larger logits tends to "
               "sit higher at every distance. Right, the same divided by the last word's gradient in the same "
               "review (the median over reviews for a test average), which removes the scale: a vanishing "
               "gradient shows as a curve that falls steeply, meaning words far back can no longer change the "
               "verdict and cannot be learned from."
               + (f" Test averages are over a random sample of {samples} test reviews (stats.json); only reviews "
                  "longer than d words count at distance d (hover for how many), and a curve stops where fewer "
                  f"than {MIN_REVIEWS} reviews remain." if stats else ""))
    for line in reach_summary(stats):
        st.markdown(line)
