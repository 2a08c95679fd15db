"""Inside the cell: one word through one cell with every number, then the loss flowing back through time."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import streamlit as st

from gru_core import CheckpointError
from gru_core.analysis import cell_forward as cf
from gru_core.analysis.bptt import embedding_table, gradient_frame, norms_frame, weight_grad_norms
from gru_core.analysis.explain import WINDOW, last_window, output_weights, unit_order, words_frame
from gru_core.archs import ARCHS, GATE_LABELS, NAMES, RESET_AFTER
from gru_core.charts import cell as C
from gru_core.charts.text import md_escape
from gru_core.descent import log_alphas
from gru_core.examples import EXAMPLES
from gru_core.i18n import N_, _
from pages.common import (
    current_model,
    fragment,
    get_backprop,
    get_model,
    get_trace,
    imdb_test,
    open_test_review,
    probe_reviews,
    require_app,
    set_unit,
    sgd_steps,
    unit_input,
)

MAX_CHARS = 200_000
URL_MAX_CHARS = 2_000  # longer reviews are not put in the shareable link
OWN, RANDOM = N_("(your own review)"), N_("A random IMDB test review")  # option values: shown with _()
FRAME_S = 0.35  # ▶ Play: at most one word per this many seconds
ALPHAS = log_alphas(-4, 1)  # 1e-4 … 10, ten per decade
SGD_MAX_STEPS = 10
DRIVEN = {"gru": "update", "lstm": "forget", "rnn": "hidden"}  # the gate whose drivers are shown first
TIMING = "_cell_timing"  # server seconds of the page's parts, for benchmarks/cell_bench.py
VERDICTS = {"positive": N_("positive"), "negative": N_("negative")}  # the label radio's values -> their names
ORDERS = {"index": N_("index"), "weight": N_("output-layer weight"), "mean": N_("mean hidden state")}
PARTS = {"W_out": N_("output layer"), "b_out": N_("output layer"), "embedding": N_("embedding rows of the review's words"),
         "input": N_("input weights"), "recurrent": N_("recurrent weights"), "bias": N_("biases")}


def timed(part: str, began: float) -> None:
    st.session_state.setdefault(TIMING, {})[part] = time.perf_counter() - began


require_app(__file__)
st.title(_("Inside the cell"))
st.caption(_("One word through one cell of the model, every number written out; then the loss of the review "
             "flowing back through time, and one step of gradient descent on real weights."))
model = current_model()
spec = ARCHS[model.arch]
page_began = time.perf_counter()

# --- The review: the Gate Explorer's, kept in the link -----------------------------------------------------
if "review" not in st.session_state:
    st.session_state["review"] = st.session_state.get(
        "_cell_text", st.query_params.get("review", EXAMPLES["Slow start, brilliant ending"]))
text: str = st.session_state["review"]


def _pick_example() -> None:
    choice = st.session_state["cell_example"]
    if choice == RANDOM:
        test = imdb_test()
        open_test_review(test, int(np.random.default_rng().integers(len(test))))
    elif choice in EXAMPLES:
        st.session_state["review"] = EXAMPLES[choice]


options = [OWN, *EXAMPLES] + ([RANDOM] if imdb_test() is not None else [])
st.selectbox(_("Example"), options, key="cell_example", on_change=_pick_example, format_func=_,
             help=_("The same examples as the Gate Explorer; a random test review comes with its true label."))
if st.session_state.get("_cell_box_for") != text or "cell_review" not in st.session_state:
    st.session_state["cell_review"] = st.session_state["_cell_box_for"] = text
with st.form("cell_form", border=False):
    st.text_area(_("Review"), key="cell_review", height=100, max_chars=MAX_CHARS,
                 help=_("The Gate Explorer's review: a change here shows there too. Ctrl+Enter or the button applies "
                        "it."))
    if st.form_submit_button(_("Read"), type="primary", help=_("Read this review with the chosen model (Ctrl+Enter).")):
        text = st.session_state["cell_review"]
st.session_state["review"] = st.session_state["_cell_text"] = text
if len(text) <= URL_MAX_CHARS:
    st.query_params["review"] = text
elif "review" in st.query_params:
    del st.query_params["review"]

if not text.strip():
    st.info(_("Type a review above (or pick an example) to follow it through the cell."))
    st.stop()
try:
    trace = get_trace(model, text)
except ValueError:
    st.info(_("This review contains no words the model can read (only spaces, punctuation or symbols). "
              "Type a few words to follow them through the cell."))
    st.stop()
T, H = len(trace.tokens), trace.hidden.shape[1]
if trace.truncated:
    st.warning(_("The review has {total:,} words; the model reads only the last {maxlen}, as it was trained: word 1 "
                 "below is “{word}”.").format(total=trace.total_tokens, maxlen=model.maxlen,
                                             word=md_escape(trace.tokens[0])))
if (note := model.prefix_note(trace)) is not None:  # a Keras model that reads its padding and start mark first
    st.caption(_("{note} Word 1 below is read from that state.").format(note=note))

# --- The word, the unit and the order of the strips (shared with the Gate Explorer) --------------------------


def set_word(w: int) -> None:
    st.session_state["cell_word"] = int(w)
    st.query_params["word"] = str(int(w))


def current_word() -> int:
    """The chosen word (1-based): kept while this review stays; a new review starts where the Explorer's clicked
    cell was, or from the link's ?word= on the first run, or at the last word (where the verdict is read)."""
    w = st.session_state.get("cell_word")
    if st.session_state.get("_cell_word_for") != text:
        first = "_cell_word_for" not in st.session_state
        st.session_state["_cell_word_for"] = text
        w = None
        step = st.session_state.get("unit_step")
        if step is not None and step[0] == text:
            w = step[1]
        elif first:
            try:
                w = int(st.query_params.get("word", ""))
            except ValueError:
                w = None
    if not isinstance(w, int) or not 1 <= w <= T:
        w = T
    set_word(w)
    return w


weights = output_weights(model)
c1, c2 = st.columns([1, 3])
with c1:
    unit = unit_input(H, int(np.argmax(np.abs(weights))), _("The unit whose numbers are written out; shared with "
                      "the Gate Explorer and the Unit atlas. Clicking a unit in a box's strip picks it too."))
order_by = c2.radio(_("Order units by"), list(ORDERS), horizontal=True, key="cell_order",
                    format_func=lambda v: _(ORDERS[v]),
                    help=_("The order of the units in every strip and in the gradient heatmap (as in the Explorer)."))
order = unit_order(model, trace, "hidden", order_by)


# --- 1 · The cell, and 2 · the forward pass ------------------------------------------------------------------

def draw_cell(t: int, box: str, interactive: bool, slots: dict) -> None:
    """Diagram, formula and forward pass at word t (1-based) into the slots; widgets only when ``interactive``."""
    step_ = cf.cell_step(model, trace, t - 1)
    frame = words_frame(trace)
    a = min(max(0, t - 1 - WINDOW // 2), max(0, T - WINDOW))
    slots["words"].altair_chart(C.words_chart(frame.iloc[a:a + WINDOW], t, interactive), width="stretch",
                                **({"on_select": "rerun", "key": click_key("cell_words")} if interactive else {}))
    where = (_("**Word {t} of {n}: “{word}”** · P(positive) after it: **{p:.3f}**") if trace.known[t - 1] else
             _("**Word {t} of {n}: “{word}”** (not in the vocabulary: read as the unknown word) · P(positive) after "
               "it: **{p:.3f}**"))
    slots["where"].markdown(where.format(t=t, n=T, word=md_escape(trace.tokens[t - 1]), p=trace.step_proba[t - 1]))
    d = cf.diagram(step_, unit, order)
    chart = C.cell_diagram(d["nodes"], d["cells"], d["wires"], model.arch, box, interactive)
    slots["diagram"].altair_chart(chart, width="stretch",
                                  **({"on_select": "rerun", "key": click_key("cell_diagram")} if interactive else {}))
    with slots["formula"].container():
        st.markdown(_("**{name}**: {about}").format(name=md_escape(cf.boxes(step_)[box]),
                                                    about=md_escape(cf.box_about(step_, box))))
        st.latex(cf.box_latex(step_, box, unit))
    with slots["forward"].container():
        forward_pass(step_, interactive)


def forward_pass(step_: cf.CellStep, interactive: bool) -> None:
    k = unit
    st.markdown(_("Unit **{k}** at word **{t}**, “{word}”: each step of the {arch} with the model's own numbers (xₜ "
                  "is the word's embedding, hₜ₋₁ the state after the previous word).").format(
        k=k, t=step_.t + 1, word=md_escape(step_.word), arch=_(spec.display)))
    for i, q in enumerate(step_.defined(), 1):
        st.markdown(_("**{i} · {label}**: {about}").format(i=i, label=md_escape(_(q.label)),
                                                          about=md_escape(_(q.about))))
        st.latex(q.latex(k))
    st.info(cf.summary(step_, k))
    blocks = list(spec.blocks)
    st.markdown(_("**What drives the gate**: the five largest terms W_h·[k, j]·hₜ₋₁[j] (the units of the "
                  "memory that open or close it), the rest of the memory, the bias and the word's total."))
    if st.session_state.get("cell_drivers") not in blocks:
        st.session_state["cell_drivers"] = DRIVEN[model.arch]
    if interactive:
        block = st.radio(_("Gate"), blocks, horizontal=True, key="cell_drivers",
                         format_func=lambda b: _(GATE_LABELS[b]), help=_("Whose argument to break down."),
                         label_visibility="collapsed")
    else:
        block = st.session_state["cell_drivers"]
    rows = pd.DataFrame(cf.gate_drivers(step_, block, k))
    st.altair_chart(C.drivers_chart(rows), width="stretch")
    if model.arch == "gru" and block == "candidate":
        st.caption(_("For the candidate the memory's terms are multiplied by r_{k} = {r:.4f} before they are added "
                     "to the word's.").format(k=k, r=step_.quantities['reset'].expr.at(k))
                   if model.gru_form == RESET_AFTER else
                   _("For the candidate (Cho et al.'s form) each unit j of the memory is first multiplied by its own "
                     "reset gate r_j, then by W_hn[k, j]: these terms are W_hn[k, j]·r_j·hₜ₋₁[j]."))
    st.markdown(_("**The readout after this word**: the output layer applied to hₜ, and the units that "
                  "contribute most to its argument."))
    st.latex(step_.quantities["readout"].latex(k))
    st.altair_chart(C.drivers_chart(pd.DataFrame(cf.readout_drivers(step_, model)).assign(kind=_("unit")),
                                    _("contribution to w·hₜ + b")), width="stretch")
    st.caption(_("Every number here equals the model's own step (`cell.step`) to {dev:.1e} and the trace (the "
                 "native `nn.{module}`) to {trace_dev:.1e}; they are computed in float64 from the float32 "
                 "weights.").format(dev=step_.deviation, module=spec.module.__name__,
                                    trace_dev=step_.trace_deviation))


def click_key(chart: str) -> str:
    """The widget key of a clickable chart: a new one after every click it gets, so that clicking the same box
    or word again (after picking another with the controls) is a click too."""
    return f"{chart}_{st.session_state.get('_clicks_' + chart, 0)}"


def take_click(chart: str) -> object:
    """The chart's selection since the last run, or None; a selection is taken once (the chart gets a new key)."""
    event = st.session_state.get(click_key(chart))
    try:
        clicked = any(event["selection"].values())
    except (KeyError, TypeError, AttributeError):
        clicked = False
    if clicked:
        st.session_state["_clicks_" + chart] = st.session_state.get("_clicks_" + chart, 0) + 1
        return event
    return None


@fragment()
def cell_view() -> None:
    """Sections 1 and 2: the word controls, the diagram, the picked box's formula, the forward pass. A fragment:
    moving through the words reruns only this part."""
    step0 = cf.cell_step(model, trace, 0)
    names = cf.boxes(step0)
    # Clicks on the charts since the last run (read before the controls are drawn, so they show the new choice).
    clicked_word = C.picked_word(take_click("cell_words"))
    if clicked_word is not None and 1 <= clicked_word <= T:
        set_word(clicked_word)
    clicked = C.picked(take_click("cell_diagram"))
    if clicked is not None and clicked[0] in names:
        st.session_state["cell_box"] = clicked[0]
        if 0 <= clicked[1] < H and clicked[1] != unit:
            set_unit(clicked[1])
            st.rerun()  # the unit is shared with the rest of the page
    if st.session_state.get("cell_box") not in names:
        st.session_state["cell_box"] = "update" if "update" in names else "hidden"
    t = current_word()

    controls = st.columns([6, 1, 1, 1.6], vertical_alignment="bottom")
    controls[1].button("◀", key="cell_prev", disabled=t <= 1, on_click=set_word, args=(max(1, t - 1),),
                       help=_("The previous word."), width="stretch")
    controls[2].button("▶", key="cell_next", disabled=t >= T, on_click=set_word, args=(min(T, t + 1),),
                       help=_("The next word."), width="stretch")
    play = controls[3].button(_("▶ Play"), key="cell_play", disabled=T == 1, width="stretch",
                              help=_("Walk through the review word by word from here (from the start at the end)."))
    slots = {"where": st.empty(), "words": st.empty()}
    st.caption(_("Click a word of the chart to go there."))
    st.session_state["_cell_box_radio"] = st.session_state["cell_box"]
    st.radio(_("Box"), list(names), format_func=names.get, horizontal=True, key="_cell_box_radio",
             on_change=lambda: st.session_state.update(cell_box=st.session_state["_cell_box_radio"]),
             help=_("Pick a box to open its formula below (or click it in the diagram)."))
    slots["diagram"] = st.empty()
    st.caption(_("Each box shows all its units (in the chosen order; the picked unit outlined) and the picked "
                 "unit's value; each wire what it carries to that unit. Gates: viridis from 0 (shut, dark) to 1 "
                 "(open, yellow); other values purple (−1) – white – orange (+1); the word's embedding, the "
                 "readout's terms and an LSTM cell beyond ±1 relative to their largest value. A gate wire is as "
                 "thick as the gate is open, dashed when nearly shut. Click a box for its formula, a unit of a strip "
                 "to pick that unit."))
    slots["formula"] = st.empty()
    st.subheader(_("2 · The forward pass, with numbers"))
    slots["forward"] = st.empty()
    box = st.session_state["cell_box"]
    if play:
        start, frames = (1 if t >= T else t), []
        for w in range(start, T + 1):
            began = time.perf_counter()
            draw_cell(w, box, False, slots)
            frames.append(time.perf_counter() - began)
            time.sleep(max(0.0, FRAME_S - frames[-1]))
        st.session_state.setdefault(TIMING, {})["play_frame"] = float(np.median(frames))
        set_word(T)
        t = T
    st.session_state["_cell_word_slider"] = t
    if T > 1:
        controls[0].slider(_("Word"), 1, T, key="_cell_word_slider",
                           help=_("Which word of the review goes through the cell."),
                           on_change=lambda: set_word(st.session_state["_cell_word_slider"]))
    else:
        controls[0].caption(_("The review has one word."))
    draw_cell(t, box, True, slots)


st.subheader(_("1 · The cell at one word"))
cell_view()
timed("cell", page_began)  # from the review to the end of the forward pass: the trace, the diagram, the numbers

# --- 3 · Backpropagation through time -------------------------------------------------------------------------
began = time.perf_counter()
st.subheader(_("3 · Backpropagation through time, for this review"))
truth = st.session_state.get("truth")
known_truth = truth is not None and truth[3] == text  # an IMDB test review, unedited
if st.session_state.get("_cell_label_for") != text or "cell_label" not in st.session_state:
    st.session_state["_cell_label_for"] = text
    st.session_state["cell_label"] = ("positive" if truth[0] else "negative") if known_truth else (
        "positive" if trace.proba > 0.5 else "negative")
label_name = st.radio(_("The review is really"), list(VERDICTS), horizontal=True, key="cell_label",
                      format_func=lambda v: _(VERDICTS[v]),
                      help=_("The label the loss compares the verdict with. An IMDB test review starts with its true "
                             "label; your own starts with the model's verdict."))
label = int(label_name == "positive")
if known_truth:
    truth_name = "positive" if truth[0] else "negative"
    said = {"id": md_escape(str(truth[2])), "truth": _(VERDICTS[truth_name]), "stars": truth[1]}
    st.caption(_("IMDB test review {id}: its true label is **{truth}** ({stars}★); used.").format(**said)
               if label_name == truth_name else
               _("IMDB test review {id}: its true label is **{truth}** ({stars}★); you picked **{picked}** "
                 "instead.").format(**said, picked=_(VERDICTS[label_name])))
else:
    st.caption((_("Using **{label}**, the model's own verdict (pick the other label if it is wrong).")
                if label_name == ("positive" if trace.proba > 0.5 else "negative")
                else _("Using **{label}**, as you picked.")).format(label=_(VERDICTS[label_name])))
bp = get_backprop(model, text, label)
m1, m2, m3 = st.columns(3)
m1.metric(_("Loss L"), f"{bp.loss:.4f}", help=_("Binary cross-entropy of the verdict: −log P(the label)."))
m2.metric(_("P(positive)"), f"{bp.p_positive:.4f}")
m3.metric(_("‖∂L/∂h_T‖ at the last word"), f"{np.linalg.norm(bp.grad_h[-1]):.3e}")
st.latex(r"L = -\left[y \log p + (1 - y) \log(1 - p)\right],\quad p = \sigma(w^\top h_T + b),\quad y = "
         + str(label))
if bp.prefix_steps:
    st.caption(_("This model reads {n} steps before the review's first word (Keras's padding and start mark), and "
                 "the first word starts from the state after them, which depends on the weights too: the gradient "
                 "reaching that state is followed on through those steps, so ∂L/∂W below includes their share (the "
                 "padding's and the start mark's embedding rows get a gradient as well).").format(n=bp.prefix_steps))

# The same review through the three shipped models (and the picked one, if it is another).
paths = st.session_state.get("model_paths", {})
wanted = [n for n in NAMES if n in paths] + ([model.name] if model.name not in NAMES and model.name in paths
                                             else [])
missing = [n for n in NAMES if n not in paths]
runs, tokens = {}, {}
for name in wanted:
    try:
        other = get_model(paths[name])
    except CheckpointError as e:  # reported; the others are shown
        st.warning(_("Model **{name}** cannot be loaded and is left out: {error}").format(
            name=md_escape(name), error=md_escape(str(e))))
        continue
    runs[name] = get_backprop(other, text, label)
    tokens[name] = get_trace(other, text).tokens
if missing:
    st.warning(_("Not in the model list, so not compared: {models} (restore the shipped models with `git checkout "
                 "models/`).").format(models=", ".join(f"**{n}**" for n in missing)))

st.markdown(_("**Vanishing gradients, measured on this review.** ‖∂L/∂hₜ‖ is how much the loss changes with the "
              "state after word t: how strongly the error at the end reaches back to that word."))
norms = norms_frame(runs, tokens)
st.altair_chart(C.gradient_norms_chart(norms), width="stretch")
rows = []
for name, r in runs.items():
    n = r.norms()
    share = r.keep_share()
    rows.append({_("model"): name, _("architecture"): _(ARCHS[r.arch].display), _("words read"): len(r.ids),
                 "‖∂L/∂h₁‖": f"{n['grad_h'][0]:.3e}", "‖∂L/∂h_T‖": f"{n['grad_h'][-1]:.3e}",
                 _("first / last"): f"{r.first_last_ratio:.3e}",
                 _("highway share (median)"): _("none") if r.highway is None else f"{np.median(share):.1%}"})
st.table(pd.DataFrame(rows).set_index(_("model")))
st.caption(_("first / last below 1: the gradient shrinks on its way back to the first word; above 1 it grows. "
             "The highway share is defined below."))

st.markdown(_("**The gradient highway.** At word t the state before the word gets its gradient by two paths:"))
st.latex(r"\frac{\partial L}{\partial h_{t-1}} = \underbrace{z_t \odot \frac{\partial L}{\partial h_t}}_{"
         r"\text{keep path}} + \underbrace{\left(\frac{\partial L}{\partial h_{t-1}} - z_t \odot "
         r"\frac{\partial L}{\partial h_t}\right)}_{\text{through the gates and the candidate}}"
         r"\quad\text{(GRU)}")
st.latex(r"\frac{\partial L}{\partial c_{t-1}} = \underbrace{f_t \odot \frac{\partial L}{\partial c_t}}_{"
         r"\text{cell path}} + \underbrace{\left(\frac{\partial L}{\partial c_{t-1}} - f_t \odot "
         r"\frac{\partial L}{\partial c_t}\right)}_{\text{through } h_{t-1} = o_{t-1} \odot \tanh c_{t-1}}"
         r"\quad\text{(LSTM)}")
st.caption(_("The GRU's hₜ = (1 − zₜ) ⊙ nₜ + zₜ ⊙ hₜ₋₁ hands zₜ ⊙ ∂L/∂hₜ straight back: where zₜ ≈ 1 the "
             "gradient passes unchanged. The LSTM's cell cₜ = fₜ ⊙ cₜ₋₁ + iₜ ⊙ gₜ does the same with fₜ. "
             "A plain RNN has no such path: all of its gradient goes through tanh and W_hh. Every ∂L/∂(state) is the "
             "total derivative (for the LSTM's cₜ it includes the path through hₜ = oₜ ⊙ tanh cₜ), computed by "
             "the explicit recursion over the cell's one-step vector–Jacobian products (torch.func.vjp on the step "
             "the model runs), which equals plain autograd over the whole review. Highway share at a word: "
             "‖keep‖ / (‖keep‖ + ‖rest‖)."))
for name, r in runs.items():
    kind = r.highway
    part = norms[norms["model"] == name]
    d = [part.assign(path=_("the rest") if kind else _("all of it (no highway)"), norm=part["other"])]
    if kind:
        d.append(part.assign(path=kind, norm=part["keep"]))
    st.altair_chart(C.highway_chart(pd.concat(d)[["step", "word", "path", "norm"]],
                                    f"{name} ({_(ARCHS[r.arch].display)})"), width="stretch")

st.markdown(_("**∂L/∂hₜ per unit** ({model}), units in the order chosen above.").format(model=md_escape(model.name)))
if T > WINDOW:
    w0 = st.slider(_("Words shown (window start)"), 1, T - WINDOW + 1, T - WINDOW + 1,
                   help=_("The heatmap shows {n} words at a time.").format(n=WINDOW))
    window = (w0 - 1, w0 - 1 + WINDOW)
else:
    window = last_window(trace)
per_word = st.toggle(_("Scale each word to its own largest value"), value=True, key="cell_grad_per_word",
                     help=_("On: the pattern at every word, however small its gradient. Off: one scale, so the "
                            "vanishing shows as fading."))
st.altair_chart(C.gradient_heatmap(gradient_frame(bp, trace.tokens, order, window, per_word)), width="stretch")

st.markdown(_("**Which weights this review would change**: ‖∂L/∂W‖ for every block, and the words whose "
              "embeddings get the largest gradient."))
wn = weight_grad_norms(bp, model.module)


def part_of(block: str) -> str:
    """The legend's group of a weight block: "W_iz" input weights, "W_hz" recurrent, "b_iz" a bias, or its own."""
    return PARTS.get(block, PARTS["input"] if block[:3] == "W_i" else PARTS["recurrent"] if block[0] == "W"
                     else PARTS["bias"])


left, right = st.columns([3, 2])
left.altair_chart(C.weight_grads_chart(pd.DataFrame({
    "block": list(wn), "norm": list(wn.values()), "part": [_(part_of(b)) for b in wn]})), width="stretch")
right.dataframe(embedding_table(bp, model), hide_index=True,
                column_config={_("gradient norm"): st.column_config.NumberColumn(format="%.3e")})

# --- One gradient-descent step on real weights --------------------------------------------------------------
st.markdown(_("**Gradient descent on this review** (the tutorial's θ := θ − α·∂J/∂θ): plain SGD on all trainable "
              "weights of a private copy of the model; the shared model is never changed."))
s1, s2, s3 = st.columns([3, 3, 1.3], vertical_alignment="bottom")
alpha = s1.select_slider(_("Learning rate α (log scale)"), ALPHAS, value=0.1, key="cell_alpha",
                         format_func=lambda a: f"{a:g}", help=_("Evenly spaced on a log scale, ten per factor of 10."))
steps = s2.slider(_("Steps"), 1, SGD_MAX_STEPS, 1, key="cell_steps", help=_("SGD steps on this review alone."))
sgd_play = s3.button(_("▶ Steps"), key="cell_sgd_play",
                     help=_("Take the steps one by one, from 1 to the slider's value."))
test_ids, test_labels, test_before = probe_reviews(model)[1:]
sgd_slot = st.empty()


def draw_sgd(path: dict, k: int) -> None:
    """The chart after step k; the test reviews are read after the last step only."""
    frames = [pd.DataFrame({"step": np.arange(k + 1), "review": _("this review (black)"),
                            "p_positive": path["p_review"][: k + 1], "this": True})]
    for i, name in enumerate(EXAMPLES):
        frames.append(pd.DataFrame({"step": np.arange(k + 1), "review": _(name),
                                    "p_positive": path["p_follow"][: k + 1, i], "this": False}))
    with sgd_slot.container():
        a, b = st.columns([3, 2])
        a.altair_chart(C.sgd_chart(pd.concat(frames, ignore_index=True)), width="stretch")
        with b:
            before, after = path["p_review"][0], path["p_review"][k]
            st.metric(_("P(positive) of this review"), f"{after:.4f}", delta=f"{after - before:+.4f}",
                      help=_("Before: {before:.4f}. Label: {label}.").format(before=before,
                                                                             label=_(VERDICTS[label_name])))
            st.metric(_("Its loss"), f"{path['loss'][k]:.4f}", delta=f"{path['loss'][k] - path['loss'][0]:+.4f}",
                      delta_color="inverse")
            if len(test_ids) and k == len(path["p_review"]) - 1:
                tb, ta, y = test_before, path["p_final"], test_labels
                acc0, acc1 = float(((tb > 0.5) == y).mean()), float(((ta > 0.5) == y).mean())
                st.metric(_("Accuracy on {n} random test reviews").format(n=len(y)), f"{acc1:.1%}",
                          delta=f"{acc1 - acc0:+.1%}", help=_("Before the steps: the model's own accuracy on them."))
                st.caption(_("Their P(positive) moved by {mean:.4f} on average (at most {max:.4f}); {changed} changed "
                             "verdict.").format(mean=np.abs(ta - tb).mean(), max=np.abs(ta - tb).max(),
                                                changed=int(((tb > 0.5) != (ta > 0.5)).sum())))
        if not len(test_ids):
            st.caption(_("With the IMDB dataset (GRU_EXPLORER_IMDB) this also follows 200 random test reviews."))
        elif k == len(path["p_review"]) - 1:
            st.altair_chart(C.probes_chart(pd.DataFrame({
                "before": test_before, "after": path["p_final"],
                "label": np.where(test_labels == 1, _("positive"), _("negative"))})), width="stretch")
        else:
            st.caption(_("The {n} test reviews are read again after the last step.").format(n=len(test_ids)))


if sgd_play:
    path = sgd_steps(model, text, label, alpha, steps)
    for k in range(1, steps + 1):
        draw_sgd(path, k)
        time.sleep(FRAME_S)
else:
    draw_sgd(sgd_steps(model, text, label, alpha, steps), steps)
timed("backward", began)
