"""Inside the cell: the diagram of one step with every unit's value, the words to pick from, and the charts of
backpropagation through time. Pure functions, data frames in, Altair charts out.

The diagram is one layered chart on a grid: boxes at the places ``LAYOUTS`` gives each architecture's boxes
(a box without a place goes one column right of its inputs), wires routed at right angles through the gaps
between columns. Every box holds a strip of all units (in the chosen order; the picked one outlined) coloured
as the Explorer's heatmaps: viridis for sigmoid gates in [0, 1], purple–orange centred on 0 for the rest.
Every mark carries the ``box`` and ``unit`` it belongs to, so a click anywhere picks a box (a strip cell picks
its unit too): the selection ``pick``.
"""
from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from ..i18n import _

# box -> (column, row) on the diagram's grid, per architecture
LAYOUTS: dict[str, dict[str, tuple[float, float]]] = {
    "gru": {"h_prev": (0, 0), "x": (0, 3), "reset": (1, 1), "update": (1, 2), "candidate": (2, 1), "keep": (3, 0),
            "write": (3, 1), "hidden": (4, 0), "readout": (5, 0)},
    "lstm": {"c_prev": (0, 0), "h_prev": (0, 1), "x": (0, 4), "forget": (1, 1), "input": (1, 2),
             "cell_candidate": (1, 3), "output": (1, 4), "keep": (2, 0), "write": (2, 2), "cell": (3, 0),
             "hidden": (4, 2), "readout": (5, 2)},
    "rnn": {"h_prev": (0, 0), "x": (0, 1), "hidden": (1, 0.5), "readout": (2, 0.5)},
}
BOX_W, BOX_H = 0.78, 0.76  # of a grid cell
STRIP_COLUMNS = 25  # units per strip row: 100 units are 4 rows of 25
ROW_PX = 104
PICK = "pick"

VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#fde725"]
PURPLE_ORANGE = ["#2d004b", "#542788", "#8073ac", "#b2abd2", "#d8daeb", "#f7f7f7", "#fee0b6", "#fdb863", "#e08214",
                 "#b35806", "#7f3b08"]


def _interpolate(stops: list[str], t: np.ndarray) -> list[str]:
    """Colours at positions t in [0, 1] along evenly spaced hex stops."""
    rgb = np.array([[int(s[i:i + 2], 16) for i in (1, 3, 5)] for s in stops], dtype=np.float64)
    pos = np.clip(np.nan_to_num(np.asarray(t, dtype=np.float64), nan=0.5), 0, 1) * (len(stops) - 1)
    lo = np.minimum(pos.astype(int), len(stops) - 2)
    frac = (pos - lo)[:, None]
    out = np.rint(rgb[lo] * (1 - frac) + rgb[lo + 1] * frac).astype(int)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in out]


def strip_colours(shade: np.ndarray, scale: np.ndarray) -> list[str]:
    """A strip cell's colour: viridis over [0, 1] for a gate, purple (−1) – white – orange (+1) otherwise."""
    shade = np.asarray(shade, dtype=np.float64)
    gate = np.asarray(scale) == "gate"
    out = np.array(_interpolate(PURPLE_ORANGE, (shade + 1) / 2), dtype=object)
    if gate.any():
        out[gate] = _interpolate(VIRIDIS, shade[gate])
    return list(out)


def positions(nodes: pd.DataFrame, wires: pd.DataFrame, arch: str) -> dict[str, tuple[float, float]]:
    """(column, row) of every box: the architecture's layout, and for a box it lacks, one column right of its
    inputs, below what is already there."""
    pos = {b: p for b, p in LAYOUTS.get(arch, {}).items() if b in set(nodes["box"])}
    for box in nodes["box"]:
        if box in pos:
            continue
        srcs = [pos[s] for s in wires.loc[wires["dst"] == box, "src"] if s in pos] if len(wires) else []
        col = max((c for c, _r in srcs), default=-1) + 1
        row = max((r for c, r in pos.values() if c == col), default=-1) + 1
        pos[box] = (col, row)
    return pos


def _wire_paths(wires: pd.DataFrame, pos: dict[str, tuple[float, float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Right-angled wires: out of the source's right side, along its row, up or down a lane in the gap before
    the destination's column, into a port on the destination's left side. (points, ends) frames."""
    gap = 1 - BOX_W
    points, ends = [], []
    by_dst = {d: g.assign(srow=[pos[s][1] for s in g["src"]]).sort_values("srow") for d, g in wires.groupby("dst")}
    lanes: dict[float, list[str]] = {}  # column -> sources with a lane in the gap before it
    for d, g in by_dst.items():
        lanes.setdefault(pos[d][0], [])
        for s in g["src"]:
            if s not in lanes[pos[d][0]]:
                lanes[pos[d][0]].append(s)
    for srcs in lanes.values():
        srcs.sort(key=lambda s: pos[s][1])
    wid = 0
    for d, g in by_dst.items():
        dc, dr = pos[d]
        left, cy = dc + gap / 2, dr + 0.5
        n = len(g)
        spread = min(0.16, 0.5 / max(n, 1))
        for i, w in enumerate(g.itertuples(index=False)):
            sc, sr = pos[w.src]
            port = cy + (i - (n - 1) / 2) * spread
            col_lanes = lanes[dc]
            lane = dc - gap / 2 + gap * 0.55 * (col_lanes.index(w.src) + 1) / (len(col_lanes) + 1)
            start = (sc + gap / 2 + BOX_W, sr + 0.5)
            path = [start, (lane, start[1]), (lane, port), (left, port)]
            for j, (x, y) in enumerate(path):
                points.append({"wire": wid, "order": j, "x": x, "y": y, "box": d, "unit": -1, "what": w.what,
                               "value": w.value, "width": 1.2 if math.isnan(w.strength) else 0.6 + 3.4 * w.strength,
                               "shut": bool(not math.isnan(w.strength) and w.strength <= 0.1)})
            ends.append({"x": left, "y": port, "tx": (lane + left) / 2 + gap * 0.08, "box": d, "unit": -1,
                         "text": w.text, "what": w.what, "value": w.value})
            wid += 1
    return pd.DataFrame(points), pd.DataFrame(ends)


def cell_diagram(nodes: pd.DataFrame, cells: pd.DataFrame, wires: pd.DataFrame, arch: str,
                 picked_box: str | None = None, interactive: bool = True) -> alt.LayerChart:
    """The cell at one word (frames from ``cell_forward.diagram``): boxes with their strips, wires with what
    they carry for the picked unit, the picked box drawn darker. ``interactive`` adds the selection ``pick``.

    Colours and widths are columns of the data (scale None), not conditions: Altair validates every condition
    against the whole schema, which would cost more than drawing the chart."""
    pos = positions(nodes, wires, arch)
    n_cols = max(c for c, _r in pos.values()) + 1
    n_rows = math.ceil(max(r for _c, r in pos.values()) + 1)
    gap_x, gap_y = (1 - BOX_W) / 2, (1 - BOX_H) / 2
    b = nodes.assign(x0=[pos[k][0] + gap_x for k in nodes["box"]], y0=[pos[k][1] + gap_y for k in nodes["box"]])
    is_picked = (b["box"] == picked_box).to_numpy()
    b = b.assign(x1=b["x0"] + BOX_W, y1=b["y0"] + BOX_H, unit=-1,
                 fill=np.where(is_picked, "#eef3fb", "#ffffff"), stroke=np.where(is_picked, "#1f3b73", "#8a8a8a"),
                 sw=np.where(is_picked, 2.6, 1.0))
    header = 0.36 * BOX_H  # title and value lines; the strip below
    left, top = dict(zip(b["box"], b["x0"])), dict(zip(b["box"], b["y0"]))
    label_of, scale_of = dict(zip(nodes["box"], nodes["label"])), dict(zip(nodes["box"], nodes["scale"]))

    c = cells.copy()
    counts = c.groupby("box")["rank"].transform("max") + 1
    cw = (BOX_W - 0.06) / np.minimum(counts, STRIP_COLUMNS)
    ch = (BOX_H - header - 0.05) / np.ceil(counts / STRIP_COLUMNS)
    c["x0"] = c["box"].map(left) + 0.03 + (c["rank"] % STRIP_COLUMNS) * cw
    c["y0"] = c["box"].map(top) + header + (c["rank"] // STRIP_COLUMNS) * ch
    c["x1"], c["y1"] = c["x0"] + cw, c["y0"] + ch
    c["fill"] = strip_colours(c["shade"].to_numpy(), c["box"].map(scale_of).to_numpy())
    c["stroke"], c["sw"] = "transparent", 0.0
    outline = c[c["picked"]].assign(fill="transparent", stroke="#000000", sw=1.6)
    cols = ["box", "unit", "value", "x0", "y0", "x1", "y1", "fill", "stroke", "sw"]
    rects = pd.concat([b[cols], c[cols], outline[cols]], ignore_index=True)  # drawn in this order
    rects["label"] = rects["box"].map(label_of)

    xs = alt.Scale(domain=[0, n_cols], nice=False, zero=False)
    ys = alt.Scale(domain=[0, n_rows], nice=False, zero=False, reverse=True)
    x, y = alt.X("x0:Q", scale=xs, axis=None), alt.Y("y0:Q", scale=ys, axis=None)
    tip = [alt.Tooltip("label:N", title=_("box")), alt.Tooltip("unit:Q", title=_("unit")),
           alt.Tooltip("value:Q", format=".4f", title=_("value"))]
    boxes = alt.Chart(rects).mark_rect().encode(
        x=x, x2=alt.X2("x1"), y=y, y2=alt.Y2("y1"), fill=alt.Fill("fill:N", scale=None),
        stroke=alt.Stroke("stroke:N", scale=None), strokeWidth=alt.StrokeWidth("sw:Q", scale=None), tooltip=tip)
    if interactive:
        boxes = boxes.add_params(alt.selection_point(name=PICK, fields=["box", "unit"], on="click", clear=False))
    # Text shrinks with the chart (a column is width / n_cols pixels wide) and is cut to its box.
    size = alt.expr(f"clamp(width / {n_cols} / 12, 8, 11)")
    limit = alt.expr(f"width / {n_cols} * {BOX_W - 0.05}")
    tx, ty = alt.X("tx:Q", scale=xs, axis=None), alt.Y("ty:Q", scale=ys, axis=None)
    words = b[["box", "unit", "label", "text", "x0", "y0"]].assign(tx=b["x0"] + 0.03)
    titles = alt.Chart(words.assign(ty=b["y0"] + 0.12 * BOX_H)).mark_text(
        align="left", baseline="middle", fontSize=size, fontWeight="bold", limit=limit, color="#222").encode(
        x=tx, y=ty, text=alt.Text("label:N"))
    values = alt.Chart(words.assign(ty=b["y0"] + 0.27 * BOX_H)).mark_text(
        align="left", baseline="middle", fontSize=size, limit=limit, color="#333").encode(x=tx, y=ty, text=alt.Text("text:N"))
    layers = [boxes, titles, values]
    if len(wires):
        points, ends = _wire_paths(wires, pos)
        wx, wy = alt.X("x:Q", scale=xs, axis=None), alt.Y("y:Q", scale=ys, axis=None)
        wtip = [alt.Tooltip("what:N", title=_("carries")),
                alt.Tooltip("value:Q", format=".4f", title=_("to this unit"))]
        lines = alt.Chart(points).mark_line(interpolate="linear", color="#555").encode(
            x=wx, y=wy, detail=alt.Detail("wire:N"), order=alt.Order("order:Q"), strokeWidth=alt.StrokeWidth("width:Q", scale=None),
            strokeDash=alt.StrokeDash("shut:N", scale=alt.Scale(domain=[False, True], range=[[1, 0], [3, 3]]),
                                      legend=None), tooltip=wtip)
        arrows = alt.Chart(ends).mark_point(shape="triangle-right", filled=True, size=28, color="#555",
                                            opacity=1).encode(x=wx, y=wy)
        badges = alt.Chart(ends).mark_text(fontSize=alt.expr(f"clamp(width / {n_cols} / 17, 7, 9.5)"),
                                           baseline="bottom", dy=-1, color="#1f3b73").encode(
            x=alt.X("tx:Q", scale=xs, axis=None), y=wy, text=alt.Text("text:N"), tooltip=wtip)
        layers = [lines, arrows, *layers, badges]
    return alt.layer(*layers).properties(height=n_rows * ROW_PX).configure_view(stroke=None)


def picked(event: object) -> tuple[str, int] | None:
    """(box, unit or −1) clicked in an interactive ``cell_diagram``, from Streamlit's selection event."""
    try:
        chosen = event["selection"][PICK][0]  # type: ignore[index]
        return str(chosen["box"]), int(chosen["unit"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def words_chart(df: pd.DataFrame, current: int, interactive: bool = True) -> alt.LayerChart:
    """P(positive) after each word of a window (columns step, label, word, p_positive), the current word marked;
    clicking a word picks it (selection ``word`` on ``step``)."""
    sort = list(dict.fromkeys(df["label"]))
    x = alt.X("label:N", sort=sort, title=None, axis=alt.Axis(labelAngle=-60, labelLimit=90))
    y = alt.Y("p_positive:Q", scale=alt.Scale(domain=[0, 1]), title=_("P(positive)"))
    tip = [alt.Tooltip("word:N", title=_("word")), alt.Tooltip("step:Q", title=_("word number")),
           alt.Tooltip("p_positive:Q", format=".4f", title=_("P(positive)"))]
    line = alt.Chart(df).mark_line(color="#8a8a8a").encode(x=x, y=y)
    now = (df["step"] == current).to_numpy()
    points = alt.Chart(df.assign(size=np.where(now, 170, 60), colour=np.where(now, "#d62728", "#1f77b4"))).mark_circle(
        opacity=1).encode(x=x, y=y, size=alt.Size("size:Q", scale=None), color=alt.Color("colour:N", scale=None),
                          tooltip=tip)
    if interactive:
        points = points.add_params(alt.selection_point(name="word", fields=["step"], on="click", clear=False))
    mid = alt.Chart(pd.DataFrame({"y": [0.5]})).mark_rule(strokeDash=[4, 4], color="gray").encode(y=alt.Y("y:Q"))
    rule = alt.Chart(df[now]).mark_rule(color="#d62728", opacity=0.5).encode(x=x)
    return alt.layer(mid, rule, line, points).properties(height=220)


def picked_word(event: object) -> int | None:
    """The word (1-based step) clicked in an interactive ``words_chart``."""
    try:
        return int(event["selection"]["word"][0]["step"])  # type: ignore[index]
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def drivers_chart(df: pd.DataFrame, title: str | None = None) -> alt.Chart:
    """What drives a gate (or the readout): one bar per term (columns term, kind, value), signed; the x axis is
    ``title`` (by default the gate's argument)."""
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("term:N", sort=None, title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("value:Q", title=title or _("contribution to the gate's argument")),
        color=alt.Color("kind:N", title=None, scale=alt.Scale(scheme="tableau10"), legend=None),
        tooltip=[alt.Tooltip("term:N", title=_("term")), alt.Tooltip("kind:N", title=_("kind")),
                 alt.Tooltip("value:Q", format="+.4f", title=_("value"))]).properties(height=24 * len(df) + 50)


def _log_y(title: str) -> alt.Y:
    return alt.Y("norm:Q", scale=alt.Scale(type="log"), title=title)


def gradient_norms_chart(df: pd.DataFrame) -> alt.Chart:
    """‖∂L/∂h_t‖ per word for each model (columns model, step, word, grad_norm), log scale."""
    d = df[df["grad_norm"] > 0].rename(columns={"grad_norm": "norm"})
    return alt.Chart(d).mark_line(point=alt.OverlayMarkDef(size=14)).encode(
        x=alt.X("step:Q", title=_("word t"), axis=alt.Axis(tickMinStep=1, format="d")),
        y=_log_y(_("‖∂L/∂hₜ‖ (log scale)")),
        color=alt.Color("model:N", title=None, scale=alt.Scale(scheme="tableau10")),
        tooltip=[alt.Tooltip("model:N", title=_("model")), alt.Tooltip("step:Q", title=_("word t")),
                 alt.Tooltip("word:N", title=_("word")), alt.Tooltip("norm:Q", format=".3e", title=_("‖∂L/∂hₜ‖"))],
    ).properties(height=300)


def highway_chart(df: pd.DataFrame, title: str) -> alt.Chart:
    """The two paths of the gradient into the state before each word (columns step, word, path, norm), log scale."""
    d = df[df["norm"] > 0]
    return alt.Chart(d, title=title).mark_line(point=alt.OverlayMarkDef(size=12)).encode(
        x=alt.X("step:Q", title=_("word t"), axis=alt.Axis(tickMinStep=1, format="d")), y=_log_y(_("norm (log scale)")),
        color=alt.Color("path:N", title=None, scale=alt.Scale(scheme="set1"), legend=alt.Legend(labelLimit=160)),
        tooltip=[alt.Tooltip("path:N", title=_("path")), alt.Tooltip("step:Q", title=_("word t")),
                 alt.Tooltip("word:N", title=_("word")), alt.Tooltip("norm:Q", format=".3e", title=_("norm"))],
    ).properties(height=230)


def gradient_heatmap(df: pd.DataFrame, height_per_unit: int = 4) -> alt.Chart:
    """∂L/∂h_t per unit and word (from ``bptt.gradient_frame``), coloured by ``shade`` in [−1, 1]."""
    n_units = int(df["rank"].max()) + 1 if len(df) else 1
    return alt.Chart(df, title=_("∂L/∂hₜ per unit")).mark_rect().encode(
        x=alt.X("label:N", sort=list(dict.fromkeys(df["label"])), title=None,
                axis=alt.Axis(labelAngle=-60, labelLimit=90)),
        y=alt.Y("rank:O", title=_("unit (in chosen order)"), axis=alt.Axis(labels=False, ticks=False)),
        color=alt.Color("shade:Q", scale=alt.Scale(scheme="purpleorange", domain=[-1, 1]), title=_("scaled")),
        tooltip=[alt.Tooltip("word:N", title=_("word")), alt.Tooltip("step:Q", title=_("word t")),
                 alt.Tooltip("unit:Q", title=_("unit")), alt.Tooltip("value:Q", format=".3e", title=_("∂L/∂h"))],
    ).properties(height=max(120, n_units * height_per_unit))


def weight_grads_chart(df: pd.DataFrame) -> alt.Chart:
    """‖∂L/∂W‖ per block (columns block, part, norm), log scale."""
    d = df[df["norm"] > 0]
    base = 10.0 ** np.floor(np.log10(d["norm"].min())) if len(d) else 1.0  # a log-scale bar starts somewhere
    return alt.Chart(d.assign(base=base)).mark_bar().encode(
        y=alt.Y("block:N", sort=None, title=None),
        x=alt.X("norm:Q", scale=alt.Scale(type="log"), title=_("‖∂L/∂W‖ (Frobenius, log scale)")), x2=alt.X2("base"),
        color=alt.Color("part:N", title=None, scale=alt.Scale(scheme="tableau10"),
                        legend=alt.Legend(orient="bottom", columns=2, labelLimit=240)),
        tooltip=[alt.Tooltip("block:N", title=_("block")), alt.Tooltip("part:N", title=_("part")),
                 alt.Tooltip("norm:Q", format=".3e", title=_("‖∂L/∂W‖"))]).properties(height=24 * len(d) + 150)


def sgd_chart(df: pd.DataFrame) -> alt.LayerChart:
    """P(positive) after each SGD step (columns step, review, p_positive, this): the example reviews coloured,
    the review the steps are taken on (``this``) thick and black."""
    x = alt.X("step:Q", title=_("SGD steps on this review"), axis=alt.Axis(tickMinStep=1, format="d"))
    y = alt.Y("p_positive:Q", scale=alt.Scale(domain=[0, 1]), title=_("P(positive)"))
    tip = [alt.Tooltip("review:N", title=_("review")), alt.Tooltip("step:Q", title=_("SGD steps")),
           alt.Tooltip("p_positive:Q", format=".4f", title=_("P(positive)"))]
    others = alt.Chart(df[~df["this"]]).mark_line(point=True, strokeWidth=1.5).encode(
        x=x, y=y, tooltip=tip, color=alt.Color("review:N", title=None, scale=alt.Scale(scheme="tableau10"),
                                               legend=alt.Legend(orient="bottom", columns=2, labelLimit=240)))
    this = alt.Chart(df[df["this"]]).mark_line(point=True, strokeWidth=4, color="#000000").encode(
        x=x, y=y, tooltip=tip)
    return alt.layer(others, this).properties(height=400)


def probes_chart(df: pd.DataFrame) -> alt.LayerChart:
    """P(positive) of the test reviews before and after (columns before, after, label: "positive" or "negative"
    in the session's language), with the diagonal."""
    diag = alt.Chart(pd.DataFrame({"a": [0, 1], "b": [0, 1]})).mark_line(color="gray", strokeDash=[4, 4]).encode(
        x=alt.X("a:Q"), y=alt.Y("b:Q"))
    dots = alt.Chart(df).mark_circle(size=30, opacity=0.7).encode(
        x=alt.X("before:Q", scale=alt.Scale(domain=[0, 1]), title=_("P(positive) before")),
        y=alt.Y("after:Q", scale=alt.Scale(domain=[0, 1]), title=_("after")),
        color=alt.Color("label:N", title=_("true label"), scale=alt.Scale(domain=[_("negative"), _("positive")],
                                                                          range=["#ca0020", "#0571b0"])),
        tooltip=[alt.Tooltip("label:N", title=_("true label")), alt.Tooltip("before:Q", format=".4f", title=_("before")),
                 alt.Tooltip("after:Q", format=".4f", title=_("after"))])
    return alt.layer(diag, dots).properties(height=320)
