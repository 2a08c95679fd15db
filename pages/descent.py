"""Gradient descent, live: toy cost curves, optimizers side by side, and the real model's loss."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import streamlit as st

from gru_core.analysis.landscape import (
    FD_STEP,
    SLOPE_RTOL,
    weight_block_titles,
    weight_blocks,
)
from gru_core.charts.descent import contour_chart, descent_1d_chart, loss_per_step, slice_chart, surface_chart
from gru_core.descent import (
    COSTS_1D,
    COSTS_2D,
    OPTIMIZER_LABELS,
    OPTIMIZERS,
    SLOPE_RULES,
    curve_frame,
    descend_1d,
    diagnose,
    grid_frame,
    log_alphas,
    optimize,
    path_frame,
    paths_frame,
    slope_sign,
    tangent_frame,
)
from gru_core.i18n import N_, _
from pages.common import current_model, imdb_train, landscape_batch, require_app, section_along, steepest, surface

ALPHAS = log_alphas()  # 1e-4 … 3.2, ten per decade
ALPHA_HELP = N_("Evenly spaced on a log scale, ten values per factor of 10.")
N_STEPS = 100
SECTIONS = {"One parameter": N_("One parameter"), "Two parameters": N_("Two parameters"),
            "The real model": N_("The real model")}


def shown(options: dict) -> dict[str, str]:
    """Each option key in this run's language: a format_func that needs no session context (AppTest calls it
    from outside the script's thread)."""
    return {k: _(v if isinstance(v, str) else k) for k, v in options.items()}


require_app(__file__)
st.title(_("Gradient descent"))
st.caption(_("Plot a cost J(θ); at the current θ take the slope; if it is positive decrease θ, if negative increase "
             "it: θ := θ − α · dJ/dθ, with learning rate α. Repeat until convergence."))
section = st.radio(_("Section"), list(SECTIONS), horizontal=True, format_func=shown(SECTIONS).get,
                   label_visibility="collapsed", key="gd_section", help=_("Which part of the page to show."))

if section == "One parameter":
    c1, c2, c3 = st.columns(3)
    cost = COSTS_1D[c1.selectbox(_("Cost function"), list(COSTS_1D), key="gd_cost",
                                 format_func=shown(COSTS_1D).get,
                                 help=_("A convex bowl, a curve with a local and a global minimum, or a flat "
                                        "plateau."))]
    start = c2.slider(_("Start θ₀"), *cost.domain, value=cost.start, step=0.1, key=f"gd_start_{cost.name}",
                      help=_("Where descent begins."))
    alpha = c3.select_slider(_("Learning rate α (log scale)"), ALPHAS, value=0.1, key="gd_alpha",
                             format_func=lambda a: f"{a:g}",
                             help=_("Small α crawls; too large an α oscillates or diverges. {scale}").format(
                                 scale=_(ALPHA_HELP)))
    thetas = descend_1d(cost.df, start, alpha, N_STEPS)
    last = len(thetas) - 1
    if "gd_k" in st.session_state and st.session_state["gd_k"] > last:
        st.session_state["gd_k"] = last
    col_k, col_play = st.columns([5, 1])
    k = col_k.slider(_("Step k"), 0, max(last, 1), value=min(10, last), key="gd_k", disabled=last == 0,
                     help=_("Move through the steps; ▶ plays them."))
    play = col_play.button(_("▶ Play"), help=_("Advance k automatically from the current step."))
    st.caption(_(cost.note))
    curve = curve_frame(cost)
    chart_slot, text_slot = st.empty(), st.empty()

    def draw(step: int) -> None:
        path = path_frame(cost, thetas[: step + 1])
        theta = float(thetas[step])
        chart_slot.altair_chart(descent_1d_chart(curve, path, tangent_frame(cost, theta)), width="stretch")
        slope = cost.df(theta)
        nxt = theta - alpha * slope
        text_slot.latex(
            rf"\theta_{{{step + 1}}} = \theta_{{{step}}} - \alpha \cdot J'(\theta_{{{step}}}) = {theta:.5g} - "
            rf"{alpha:g} \times ({slope:.5g}) = {nxt:.5g}")

    if play:
        for step in range(k, last + 1):
            draw(step)
            time.sleep(0.12)
        k = last
    draw(k)
    theta_k = float(thetas[k])
    slope_k = cost.df(theta_k)
    sign = slope_sign(slope_k)[0]
    m1, m2, m3 = st.columns(3)
    m1.metric(_("θ at step {k}").format(k=k), f"{theta_k:.5g}")
    m2.metric(_("J(θ)"), f"{cost.f(theta_k):.5g}")
    m3.metric(_("slope dJ/dθ"), f"{slope_k:.4g}", help=_(SLOPE_RULES[sign]))
    seen = thetas[: k + 1]
    with np.errstate(over="ignore", invalid="ignore"):
        d = diagnose(seen, [cost.f(t) for t in seen], [cost.df(t) for t in seen])
    {"converged": st.success, "diverged": st.error, "oscillating": st.warning,
     "crawling": st.warning}.get(d.status, st.info)(d.message)

elif section == "Two parameters":
    c1, c2 = st.columns([2, 3])
    cost = COSTS_2D[c1.selectbox(_("Cost surface"), list(COSTS_2D), key="gd2_cost",
                                 format_func=shown(COSTS_2D).get,
                                 help=_("The function J(θ0, θ1) the three optimizers minimise."))]
    c2.caption(_(cost.note))
    s1, s2, s3 = st.columns(3)
    t0 = s1.slider(_("Start θ0"), *cost.domain[0], value=cost.start[0], step=0.1, key=f"gd2_t0_{cost.name}",
                   help=_("Where all three optimizers start."))
    t1 = s2.slider(_("Start θ1"), *cost.domain[1], value=cost.start[1], step=0.1, key=f"gd2_t1_{cost.name}",
                   help=_("Where all three optimizers start."))
    steps = s3.slider(_("Steps"), 1, 500, 100, key="gd2_steps", help=_("Simultaneous updates of θ0 and θ1."))
    defaults = {"bowl with unequal curvature": (0.1, 0.032, 0.32), "Rosenbrock": (1e-3, 3.2e-4, 0.1),
                "line fit (mean squared error)": (0.1, 0.032, 0.32)}[cost.name]
    cols = st.columns(3)
    alphas = {name: col.select_slider(_("α for {optimizer} (log scale)").format(optimizer=_(OPTIMIZER_LABELS[name])),
                                      ALPHAS, value=default, format_func=lambda a: f"{a:g}",
                                      key=f"gd2_alpha_{name}_{cost.name}",
                                      help=_("Learning rate of {optimizer}. {scale}").format(
                                          optimizer=_(OPTIMIZER_LABELS[name]), scale=_(ALPHA_HELP)))
              for col, name, default in zip(cols, OPTIMIZERS, defaults)}
    paths = {name: optimize(step, cost.grad, np.array([t0, t1]), alphas[name], steps)
             for name, step in OPTIMIZERS.items()}
    grid = grid_frame(cost)
    frames = paths_frame(cost, paths)
    for col, name in zip(st.columns(3), OPTIMIZERS):
        with col:
            p = frames[frames["optimizer"] == name]
            st.altair_chart(contour_chart(grid, p, _(OPTIMIZER_LABELS[name])), width="stretch")
            end = paths[name][-1]
            dist = float(np.linalg.norm(end - np.array(cost.minimum)))
            blew_up = len(paths[name]) < steps + 1 or not np.isfinite(cost.f(end))
            st.metric(_("J after {n} steps").format(n=len(paths[name]) - 1),
                      _("diverged") if blew_up else f"{cost.f(end):.4g}",
                      help=_("Ends at θ = ({x:.4g}, {y:.4g}), {dist:.3g} from the minimum ({x_min:.3g}, "
                             "{y_min:.3g}).").format(x=end[0], y=end[1], dist=dist, x_min=cost.minimum[0],
                                                     y_min=cost.minimum[1]))
    st.altair_chart(loss_per_step(frames.replace([np.inf, -np.inf], np.nan).dropna()), width="stretch")
    st.caption(_("Momentum: v ← β·v + ∇J, θ ← θ − α·v (β = 0.9). Adam: running means of the gradient and its "
                 "square, bias-corrected, θ ← θ − α·m̂/(√v̂ + ε) (β₁ = 0.9, β₂ = 0.999), as the seed's Keras model "
                 "used."))

else:
    model = current_model()
    if imdb_train() is None:
        st.info(_("The real model's loss needs IMDB reviews: point {env} at {archive} or run `{command}`. The toy "
                  "sections above work without it.").format(env="GRU_EXPLORER_IMDB", archive="aclImdb_v1.tar.gz",
                                                            command="python -m gru_core download-imdb"))
        st.stop()
    st.caption(_("The loss of **{model}** on a fixed batch of {n} training reviews (their last {words} words), "
                 "computed on a private float64 copy of the model; the shared model is never changed.").format(
        model=model.name, n=len(landscape_batch(model)), words=100))
    blocks = weight_blocks(model.module)
    titles = weight_block_titles(model.module)
    c1, c2, c3 = st.columns([3, 1, 1])
    label = c1.selectbox(_("Weight θ (one entry of a matrix)"), list(blocks), index=min(1, len(blocks) - 1),
                         key="ls_block", format_func=lambda b: titles.get(b, b),
                         help=_("This is the seed's θ₁: one number among the model's weights."))
    pname, rows = blocks[label]
    h = model.module.rnn.hidden_size
    best = steepest(model, pname, rows.start, rows.stop)
    unit = c2.number_input(_("Unit (row)"), 0, h - 1, best[0] - rows.start, key=f"ls_row_{label}",
                           help=_("Starts at the entry with the steepest loss slope."))
    col = c3.number_input(_("Column"), 0, model.module.get_parameter(pname).shape[1] - 1, best[1],
                          key=f"ls_col_{label}", help=_("Which input (or previous-state) unit the weight reads."))
    index = (rows.start + int(unit), int(col))
    s1, s2, s3 = st.columns(3)
    start = s1.slider(_("Start offset from the trained value"), -3.0, 3.0, 1.5, 0.1, key="ls_start",
                      help=_("Descent starts this far from the weight the model was trained to."))
    alpha = s2.select_slider(_("Learning rate α (log scale)"), ALPHAS, value=1.0, key="ls_alpha",
                             format_func=lambda a: f"{a:g}",
                             help=_("θ := θ − α · ∂loss/∂θ along this one weight. {scale}").format(
                                 scale=_(ALPHA_HELP)))
    steps = s3.slider(_("Steps"), 0, 30, 10, key="ls_steps", help=_("Gradient-descent steps on this weight."))
    with st.spinner(_("Computing the loss along this weight…")):
        sl = section_along(model, pname, index, start, alpha, steps)
    path_df = pd.DataFrame(sl["path"]).assign(offset=lambda d: d["theta"] - sl["w0"])
    st.altair_chart(slice_chart(pd.DataFrame({"offset": sl["offsets"], "loss": sl["losses"]}),
                                path_df[np.isfinite(path_df["loss"])]), width="stretch")
    l, auto, fd = sl["slopes"]
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(_("θ now (offset)"), f"{sl['path'][-1]['theta'] - sl['w0']:+.5f}")
    m2.metric(_("loss"), f"{l:.6f}")
    m3.metric(_("autograd slope"), f"{auto:.6g}")
    m4.metric(_("finite-difference slope"), f"{fd:.6g}",
              help=_("(L(θ + h) − L(θ − h)) / 2h with h = {h:g}, in float64.").format(h=FD_STEP))
    check = sl["check"]
    numbers = {**check, "rtol": SLOPE_RTOL, "loss0": sl["loss0"]}  # difference, tolerance, truncation, rounding
    if check["agree"]:
        st.caption(_("Autograd and finite differences **agree**: they differ by {difference:.2e}, within the "
                     "tolerance {tolerance:.2e} = truncation estimate |FD(h) − FD(2h)| {truncation:.1e} + rounding "
                     "estimate 4·ε·L/h {rounding:.1e} + {rtol:g}·max(1, |autograd slope|). At offset 0 (the trained "
                     "value) the loss is {loss0:.6f}.").format(**numbers))
    else:
        st.warning(_("Autograd and finite differences **disagree**: they differ by {difference:.2e}, outside the "
                     "tolerance {tolerance:.2e} = truncation estimate |FD(h) − FD(2h)| {truncation:.1e} + rounding "
                     "estimate 4·ε·L/h {rounding:.1e} + {rtol:g}·max(1, |autograd slope|). At offset 0 (the trained "
                     "value) the loss is {loss0:.6f}.").format(**numbers))

    st.subheader(_("Along random directions (Li et al. 2018)"))
    d1, d2 = st.columns(2)
    seed1 = d1.number_input(_("Direction 1 seed"), 0, 10_000, 0, key="ls_seed1",
                            help=_("Seed of the first random direction."))
    seed2 = d2.number_input(_("Direction 2 seed"), 0, 10_000, 1, key="ls_seed2",
                            help=_("Seed of the second random direction."))
    if st.toggle(_("Compute the 2-D surface (11 × 11 losses)"), key="ls_surface",
                 help=_("Each direction is random, with each row rescaled to the norm of the weights' row.")):
        with st.spinner(_("Computing the loss surface…")):
            surf = surface(model, int(seed1), int(seed2))
        st.altair_chart(surface_chart(surf), width="stretch")
        st.caption(_("The trained model sits at the centre (0, 0); a sharp or flat basin around it is what "
                     "Li et al. compare across architectures and training settings."))
