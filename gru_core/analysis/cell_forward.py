"""One word through one cell, written out with the model's numbers: every term of every gate, per unit.

Each architecture's step is one *form* below (``FORMS``): a few lines that read like its equations, built
from small expression objects. The same objects compute the values (for all H units at once, in float64)
and write them out (LaTeX with symbols, then with unit k's numbers), so the page can only show what was
computed. Every value is checked against ``cell.step`` (the one recurrent step the model runs) and the
trace: ``CellStep.deviation``. The leaves of an expression are the terms of the CLI's ``cell`` command;
its references to other quantities and to the previous state are the diagram's wires.

The GRU has two forms (``archs.GRU_FORMS``): PyTorch's, n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), and
Cho et al.'s (Keras ``reset_after=False``), n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn): one entry of
``FORMS`` each, keyed by ``cell.form``. The previous state of the first word is the model's start state (zero,
or for a model that reads Keras's padding and start mark the state after them: ``Trace.initial``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
import torch

from ..archs import ARCHS, GATE_LABELS, RESET_AFTER, RESET_BEFORE
from ..cell import form, step, weights
from ..i18n import N_, _
from ..predictor import SentimentModel
from ..trace import Trace
from .explain import output_weights, short
from .stats import SATURATED_HIGH, SATURATED_LOW

K = "§"  # stands for the picked unit's number in a formula until it is written out


def fmt(v: float, bracket: bool = True) -> str:
    """A number in a formula: 4 decimals; inside a sum or product a negative one is bracketed ('a + (−b)')."""
    s = f"{v:.4f}"
    if s == "-0.0000":
        s = "0.0000"
    return f"({s})" if bracket and s.startswith("-") else s


# --- expressions: each one a value for all units, and its formula ---------------------------------------

class Expr:
    """A value [H] (or a scalar) with its formula; + and * build bigger ones, ``1 - e`` too."""

    value: np.ndarray

    def __add__(self, other: Expr) -> Expr:
        return Sum((*_summands(self), *_summands(other)))

    def __mul__(self, other: Expr) -> Expr:
        return Prod((self, other))

    def __rsub__(self, one: int) -> Expr:
        if one != 1:
            raise ValueError("only 1 - gate is written out")
        return OneMinus(self)

    def tex(self) -> str:  # with symbols; K stands for the unit
        raise NotImplementedError

    def num(self, k: int) -> str:  # with unit k's numbers
        raise NotImplementedError

    def children(self) -> tuple[Expr, ...]:
        return ()

    def at(self, k: int) -> float:
        return float(self.value[k] if np.ndim(self.value) else self.value)


def _summands(e: Expr) -> tuple[Expr, ...]:
    return e.terms if isinstance(e, Sum) else (e,)


@dataclass(eq=False)
class Leaf(Expr):
    """A term read off the weights and the inputs: its ``key`` names it in the CLI's JSON."""

    key: str
    symbol: str
    value: np.ndarray
    source: str | None = None  # the diagram box it comes from: "x", "h_prev", "c_prev"

    def tex(self) -> str:
        return self.symbol

    def num(self, k: int) -> str:
        return fmt(self.at(k))


@dataclass(eq=False)
class Ref(Expr):
    """Another quantity of this step (a gate, the candidate...), used by name."""

    key: str
    symbol: str
    value: np.ndarray

    def tex(self) -> str:
        return self.symbol

    def num(self, k: int) -> str:
        return fmt(self.at(k))


@dataclass(eq=False)
class Through(Expr):
    """A term that reads other quantities without multiplying unit by unit, W_hn[k]·(r ⊙ h_{t−1}): its leaf holds
    the number; the quantities it reads are wires into it (and terms of the CLI's JSON)."""

    leaf: Leaf
    reads: tuple[Ref, ...]

    def __post_init__(self):
        self.value = self.leaf.value

    def tex(self) -> str:
        return self.leaf.tex()

    def num(self, k: int) -> str:
        return self.leaf.num(k)

    def children(self) -> tuple[Expr, ...]:
        return (*self.reads, self.leaf)


@dataclass(eq=False)
class Sum(Expr):
    terms: tuple[Expr, ...]

    def __post_init__(self):
        self.value = sum(t.value for t in self.terms)

    def tex(self) -> str:
        return " + ".join(t.tex() for t in self.terms)

    def num(self, k: int) -> str:
        return " + ".join(t.num(k) for t in self.terms)

    def children(self) -> tuple[Expr, ...]:
        return self.terms


@dataclass(eq=False)
class Prod(Expr):
    factors: tuple[Expr, ...]

    def __post_init__(self):
        self.value = np.prod([f.value for f in self.factors], axis=0)

    def _wrap(self, f: Expr, s: str) -> str:
        return rf"\left({s}\right)" if isinstance(f, Sum) else s

    def tex(self) -> str:
        return r" \cdot ".join(self._wrap(f, f.tex()) for f in self.factors)

    def num(self, k: int) -> str:
        return r" \cdot ".join(self._wrap(f, f.num(k)) for f in self.factors)

    def children(self) -> tuple[Expr, ...]:
        return self.factors


@dataclass(eq=False)
class OneMinus(Expr):
    arg: Expr

    def __post_init__(self):
        self.value = 1 - self.arg.value

    def tex(self) -> str:
        return rf"(1 - {self.arg.tex()})"

    def num(self, k: int) -> str:
        return rf"(1 - {self.arg.num(k)})"

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


ACTIVATIONS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "sigmoid": (r"\sigma", lambda v: 1 / (1 + np.exp(-v))),
    "tanh": (r"\tanh", np.tanh),
}


@dataclass(eq=False)
class Act(Expr):
    fn: str  # a key of ACTIVATIONS
    arg: Expr

    def __post_init__(self):
        self.value = ACTIVATIONS[self.fn][1](self.arg.value)

    def tex(self) -> str:
        return rf"{ACTIVATIONS[self.fn][0]}\left({self.arg.tex()}\right)"

    def num(self, k: int) -> str:
        inner = fmt(self.arg.at(k), False) if isinstance(self.arg, (Leaf, Ref)) else self.arg.num(k)
        return rf"{ACTIVATIONS[self.fn][0]}\left({inner}\right)"

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


@dataclass(eq=False)
class Tag(Expr):
    """A named part of a bigger expression (z ⊙ h_{t−1}: what the GRU keeps): a box of its own in the diagram."""

    key: str
    arg: Expr

    def __post_init__(self):
        self.value = self.arg.value

    def tex(self) -> str:
        return self.arg.tex()

    def num(self, k: int) -> str:
        return self.arg.num(k)

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


def sigmoid(e: Expr) -> Expr:
    return Act("sigmoid", e)


def tanh(e: Expr) -> Expr:
    return Act("tanh", e)


def parts(e: Expr) -> Iterator[Leaf | Ref]:
    """The terms an expression is made of, in reading order, not looking inside the other quantities it uses."""
    if isinstance(e, (Leaf, Ref)):
        yield e
        return
    for c in e.children():
        yield from parts(c)


def wires(e: Expr) -> Iterator[tuple[str, Expr]]:
    """(box it comes from, what the wire carries) for every input of an expression, tags as boxes of their own.

    A quantity or tag used through 1 − · or an activation carries that (the 1 − z branch, tanh(c))."""
    for c in e.children():
        if isinstance(c, (Tag, Ref)):
            yield c.key, c
        elif isinstance(c, Leaf):
            if c.source is not None:
                yield c.source, c
        elif isinstance(c, (OneMinus, Act)) and isinstance(c.arg, (Ref, Tag)):
            yield c.arg.key, c
        else:
            yield from wires(c)


# --- a form: the step of one architecture, written with the terms of one word ---------------------------

@dataclass(eq=False)
class Quantity:
    key: str  # the trace's name ("update"), "hidden", "cell", a tag's name or "readout"
    symbol: str  # for unit K: "z_{§}"
    label: str  # what the page calls it: "update gate z" (English, marked for translation: shown with _())
    expr: Expr
    about: str  # one sentence: what it does (likewise)
    box: str = ""  # its short name in the diagram (likewise)

    @property
    def value(self) -> np.ndarray:
        return self.expr.value

    def lines(self, k: int) -> list[str]:
        """The formula, then unit k's numbers, then what they come to: for an aligned LaTeX block."""
        e = self.expr.arg if isinstance(self.expr, Tag) else self.expr
        out = [e.tex().replace(K, str(k)), e.num(k)]
        if isinstance(e, Act):
            out.append(rf"{ACTIVATIONS[e.fn][0]}\left({fmt(e.arg.at(k), False)}\right)")
        elif isinstance(e, (Sum, Prod)) and not all(isinstance(c, (Leaf, Ref)) for c in e.children()):
            out.append((" + " if isinstance(e, Sum) else r" \cdot ").join(fmt(c.at(k)) for c in e.children()))
        out.append(fmt(e.at(k), False))
        return out

    def latex(self, k: int) -> str:
        """The aligned LaTeX block: symbol = formula = numbers = … = value (a tag is its own formula). An
        activation of more than two terms is broken after the word's two, so that it fits a narrow page."""
        lines = self.lines(k)
        e = self.expr
        if isinstance(e, Act) and isinstance(e.arg, Sum) and len(e.arg.terms) > 2:
            fn, terms = ACTIVATIONS[e.fn][0], e.arg.terms
            for i, render in enumerate((lambda t: t.tex().replace(K, str(k)), lambda t: t.num(k))):
                head, tail = (" + ".join(render(t) for t in part) for part in (terms[:2], terms[2:]))
                lines[i] = rf"{fn}\bigl({head} \\ &\qquad + {tail}\bigr)"
        lhs = self.symbol.replace(K, str(k)) if self.symbol else lines.pop(0)
        return r"\begin{aligned}" + rf"{lhs} &= " + r" \\ &= ".join(lines) + r"\end{aligned}"


def block_symbol(block: str) -> str:
    """A weight block's letter in the equations: "update" -> "z" (the last word of its label in archs.py)."""
    return GATE_LABELS[block].split()[-1]


class Terms:
    """The terms of one word for every unit, read off the weights; a form builds its step from them."""

    def __init__(self, arch: str, w: dict[str, np.ndarray], x: np.ndarray, previous: dict[str, np.ndarray]):
        self.arch, self.w, self.x, self.previous_states = arch, w, x, previous
        self.h = len(previous["h"])
        self.blocks = ARCHS[arch].blocks
        self.quantities: dict[str, Quantity] = {}

    def _rows(self, name: str, block: str) -> np.ndarray:
        i = self.blocks.index(block)
        return self.w[name][i * self.h:(i + 1) * self.h]

    def symbol(self, block: str) -> str:
        return block_symbol(block)

    def x_part(self, block: str) -> Expr:
        """W_i·[k]·x_t + b_i·[k]: what the word brings."""
        s = self.symbol(block)
        return (Leaf("input_term", rf"W_{{i{s}}}[{K}] \cdot x_t", self._rows("w_ih", block) @ self.x, "x")
                + Leaf("input_bias", rf"b_{{i{s}}}[{K}]", self._rows("b_ih", block)))

    def h_part(self, block: str) -> Expr:
        """W_h·[k]·h_{t−1} + b_h·[k]: what the memory brings."""
        s = self.symbol(block)
        return (Leaf("hidden_term", rf"W_{{h{s}}}[{K}] \cdot h_{{t-1}}", self._rows("w_hh", block)
                     @ self.previous_states["h"], "h_prev")
                + Leaf("hidden_bias", rf"b_{{h{s}}}[{K}]", self._rows("b_hh", block)))

    def reset_memory_part(self, block: str, r: Ref) -> Expr:
        """W_h·[k]·(r ⊙ h_{t−1}) + b_h·[k]: the memory the reset gate let through, then the matrix (Cho et al.)."""
        s = self.symbol(block)
        term = Leaf("hidden_term", rf"W_{{h{s}}}[{K}] \cdot (r \odot h_{{t-1}})",
                    self._rows("w_hh", block) @ (r.value * self.previous_states["h"]), "h_prev")
        return Through(term, (r,)) + Leaf("hidden_bias", rf"b_{{h{s}}}[{K}]", self._rows("b_hh", block))

    def memory_terms(self, block: str, k: int) -> np.ndarray:
        """[H] W_h·[k, j]·h_{t−1}[j]: what each unit j of the memory adds to unit k's gate."""
        return self._rows("w_hh", block)[k] * self.previous_states["h"]

    def previous(self, state: str) -> Leaf:
        return Leaf("previous", rf"{state}_{{t-1}}[{K}]", self.previous_states[state], f"{state}_prev")

    def define(self, key: str, symbol: str, expr: Expr, box: str, about: str, label: str | None = None) -> Ref:
        self.quantities[key] = Quantity(key, symbol, label or GATE_LABELS.get(key, key), expr, about, box)
        return Ref(key, symbol, expr.value)

    def tag(self, key: str, box: str, expr: Expr, about: str) -> Tag:
        self.quantities[key] = Quantity(key, "", box, expr, about, box)
        return Tag(key, expr)


def _gru(p: Terms, reset_before: bool = False) -> str:
    z = p.define("update", rf"z_{{{K}}}", sigmoid(p.x_part("update") + p.h_part("update")), N_("z · update gate"),
                 N_("How much of its memory the unit keeps: 1 keeps hₜ₋₁, 0 replaces it with the candidate."))
    r = p.define("reset", rf"r_{{{K}}}", sigmoid(p.x_part("reset") + p.h_part("reset")), N_("r · reset gate"),
                 N_("How much of each unit of the memory the candidate may use (r ⊙ hₜ₋₁, before W_hn).")
                 if reset_before else N_("How much of the memory the candidate may use (it scales W_hn·hₜ₋₁ + b_hn)."))
    memory = p.reset_memory_part("candidate", r) if reset_before else r * p.h_part("candidate")
    n = p.define("candidate", rf"n_{{{K}}}", tanh(p.x_part("candidate") + memory),
                 N_("n · candidate"), N_("The new content proposed from this word and the reset memory, in (−1, 1)."))
    keep = p.tag("keep", N_("z⊙hₜ₋₁ · kept"), z * p.previous("h"), N_("The part of the old memory that is kept."))
    write = p.tag("write", N_("(1−z)⊙n · written"), (1 - z) * n, N_("The part of the candidate that is written."))
    p.define("hidden", rf"h_t[{K}]", write + keep, N_("hₜ · new state"),
             N_("The new memory: the written candidate plus the kept memory."), N_("hidden state hₜ"))
    return "hidden"


def _lstm(p: Terms) -> str:
    i = p.define("input", rf"i_{{{K}}}", sigmoid(p.x_part("input") + p.h_part("input")), N_("i · input gate"),
                 N_("How much of the cell candidate g is written into the cell."))
    f = p.define("forget", rf"f_{{{K}}}", sigmoid(p.x_part("forget") + p.h_part("forget")), N_("f · forget gate"),
                 N_("How much of the old cell state cₜ₋₁ is kept: 1 keeps it all."))
    g = p.define("cell_candidate", rf"g_{{{K}}}", tanh(p.x_part("cell_candidate") + p.h_part("cell_candidate")),
                 N_("g · cell candidate"), N_("The new content proposed for the cell, in (−1, 1)."))
    o = p.define("output", rf"o_{{{K}}}", sigmoid(p.x_part("output") + p.h_part("output")), N_("o · output gate"),
                 N_("How much of tanh(cₜ) is shown as the hidden state."))
    keep = p.tag("keep", N_("f⊙cₜ₋₁ · kept"), f * p.previous("c"), N_("The part of the old cell state that is kept."))
    write = p.tag("write", N_("i⊙g · written"), i * g, N_("The part of the cell candidate that is written."))
    c = p.define("cell", rf"c_t[{K}]", keep + write, N_("cₜ · cell state"),
                 N_("The new cell state: kept plus written."), N_("cell state cₜ"))
    p.define("hidden", rf"h_t[{K}]", o * tanh(c), N_("hₜ · hidden state"),
             N_("The hidden state: the output gate times tanh of the cell."), N_("hidden state hₜ"))
    return "hidden"


def _rnn(p: Terms) -> str:
    p.define("hidden", rf"h_t[{K}]", tanh(p.x_part("hidden") + p.h_part("hidden")), N_("hₜ · new state"),
             N_("No gates: every word rewrites the whole state from the word and the memory."), N_("hidden state hₜ"))
    return "hidden"


# (arch, cell.form) -> the form that writes its step out (it defines the quantities and names the new hidden state)
FORMS: dict[tuple[str, str | None], Callable[[Terms], str]] = {
    ("gru", RESET_AFTER): _gru, ("gru", RESET_BEFORE): partial(_gru, reset_before=True),
    ("lstm", None): _lstm, ("rnn", None): _rnn}


# --- one word: every quantity, checked against the cell and the trace -----------------------------------

@dataclass
class CellStep:
    """Everything that happens in the cell at word ``t`` (0-based) of a trace."""

    arch: str
    t: int
    word: str
    token_id: int
    terms: Terms
    quantities: dict[str, Quantity]  # definition order; tags and the readout included
    deviation: float  # max |written out − cell.step|, over every quantity the cell returns
    trace_deviation: float  # max |written out − trace| (gates, hidden state, verdict)
    inputs: dict[str, np.ndarray] = field(default_factory=dict)  # diagram inputs: x, h_prev (, c_prev)
    readout_terms: np.ndarray | None = None  # [H] w_j·h_t[j]: each unit's part of the verdict's logit

    @property
    def p_positive(self) -> float:
        return float(self.quantities["readout"].value)

    def defined(self) -> list[Quantity]:
        """The quantities the cell computes (no tags, no readout), in the order of the equations."""
        return [q for q in self.quantities.values() if q.symbol and q.key != "readout"]

    def unit_json(self, k: int) -> dict:
        """Unit k's numbers, as the CLI's ``cell --json`` prints them: word (1-based), unit, p_positive, and per
        quantity its value and terms."""
        out: dict = {"word": self.t + 1, "unit": k, "p_positive": self.p_positive}
        for q in self.defined():
            out[q.key] = {"value": q.expr.at(k), **{e.key: e.at(k) for e in parts(q.expr)}}
        return out


def _previous(trace: Trace, t: int, arch: str) -> dict[str, np.ndarray]:
    """The state word ``t`` is read from: the trace's after word t − 1, or before the first word the model's start
    state (zero, or the state after the padding and start mark it reads)."""
    h = trace.hidden.shape[1]
    start = trace.initial if trace.initial is not None else np.zeros(h * len(ARCHS[arch].state), np.float32)
    prev = {"h": trace.hidden[t - 1] if t > 0 else start[:h].astype(np.float32)}
    if "c" in ARCHS[arch].state:
        prev["c"] = trace.gates["cell"][t - 1] if t > 0 else start[h:].astype(np.float32)
    return prev


@torch.no_grad()
def cell_step(model: SentimentModel, trace: Trace, t: int) -> CellStep:
    """Word ``t`` (0-based) of ``trace`` through the model's cell, every term written out."""
    if not 0 <= t < len(trace.tokens):
        raise ValueError(f"word must be between 1 and {len(trace.tokens)}")
    module, arch = model.module, model.arch
    w32 = weights(module)
    x32 = module.embedding.weight[int(trace.ids[t])]
    prev32 = _previous(trace, t, arch)
    w = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in w32.items()}
    prev = {k: v.astype(np.float64) for k, v in prev32.items()}
    p = Terms(arch, w, x32.cpu().numpy().astype(np.float64), prev)
    out_key = FORMS[arch, form(module)](p)
    wout = output_weights(model)
    bias = float(module.dense.bias[0])
    h_t = p.quantities[out_key].value
    p.quantities["readout"] = Quantity(
        "readout", r"P(\text{positive})", N_("P(positive)"),
        sigmoid(Leaf("weighted_sum", r"w \cdot h_t", np.asarray(wout @ h_t), out_key)
                + Leaf("output_bias", "b", np.asarray(bias))),
        N_("The output layer read after this word: σ(w·hₜ + b)."), N_("P(positive)"))
    # The same word through the model's own step (float32), and the trace's values.
    state = tuple(torch.tensor(prev32[s]).to(x32) for s in ARCHS[arch].state)
    new_state, gates = step(arch, w32, x32, state, form=form(module))
    cell = {**gates, "hidden": new_state[0]}
    deviation = max(float(np.abs(p.quantities[k].value - v.cpu().numpy()).max()) for k, v in cell.items())
    traced = {**{k: v[t] for k, v in trace.gates.items()}, "hidden": trace.hidden[t]}
    trace_dev = max(float(np.abs(p.quantities[k].value - v).max()) for k, v in traced.items())
    trace_dev = max(trace_dev, abs(float(p.quantities["readout"].value) - float(trace.step_proba[t])))
    inputs = {"x": p.x, **{f"{s}_prev": v for s, v in prev.items()}}
    return CellStep(arch, t, trace.tokens[t], int(trace.ids[t]), p, p.quantities, deviation, trace_dev, inputs,
                    wout * h_t)


def summary(step_: CellStep, k: int) -> str:
    """A plain sentence on what unit k did at this word (in the session's language)."""
    q = step_.quantities
    if step_.arch == "gru":
        z = q["update"].expr.at(k)
        return _("Unit {k} kept {kept:.0%} of its memory (z = {z:.3f}) and took {took:.0%} of the candidate (n = "
                 "{n:+.3f}): h went from {before:+.3f} to {after:+.3f}.").format(
            k=k, kept=z, z=z, took=1 - z, n=q["candidate"].expr.at(k), before=step_.inputs["h_prev"][k],
            after=q["hidden"].expr.at(k))
    if step_.arch == "lstm":
        f, i, o = (q[n].expr.at(k) for n in ("forget", "input", "output"))
        return _("Unit {k} kept {f:.0%} of its cell state (f = {f:.3f}), wrote {i:.0%} of the candidate (i = {i:.3f}, "
                 "g = {g:+.3f}), and shows {o:.0%} of tanh(c) (o = {o:.3f}): c went from {c_before:+.3f} to "
                 "{c_after:+.3f}, h to {h:+.3f}.").format(
            k=k, f=f, i=i, o=o, g=q["cell_candidate"].expr.at(k), c_before=step_.inputs["c_prev"][k],
            c_after=q["cell"].expr.at(k), h=q["hidden"].expr.at(k))
    x_in = sum(e.at(k) for e in parts(q["hidden"].expr) if e.key.startswith("input"))
    h_in = sum(e.at(k) for e in parts(q["hidden"].expr) if e.key.startswith("hidden"))
    return _("Unit {k} has no gate: the word brings {word:+.3f} and the memory {memory:+.3f}, and the new state is "
             "tanh({total:+.3f}) = {h:+.3f}.").format(k=k, word=x_in, memory=h_in, total=x_in + h_in,
                                                      h=q["hidden"].expr.at(k))


def gate_drivers(step_: CellStep, block: str, k: int, top: int = 5) -> list[dict]:
    """What drives unit k's ``block`` at this word: the ``top`` largest W_h·[k, j]·h_{t−1}[j] (which units of the
    memory open or close it), the rest of the memory, the hidden bias and the input's total (W_i·x_t + b_i).
    They add up to the gate's argument (for the GRU's candidate, the memory's part before r multiplies it)."""
    p = step_.terms
    terms = p.memory_terms(block, k)
    order = np.argsort(-np.abs(terms), kind="stable")[:top]
    s = p.symbol(block)
    rows = [{"term": f"W_h{s}[{k}, {j}] · hₜ₋₁[{j}]", "kind": _("memory unit"), "unit": int(j),
             "value": float(terms[j])} for j in order]
    rest = float(terms.sum() - terms[order].sum())
    rows.append({"term": _("the other {n} units of the memory").format(n=len(terms) - len(order)),
                 "kind": _("rest of the memory"), "unit": -1, "value": rest})
    rows.append({"term": f"b_h{s}[{k}]", "kind": _("bias"), "unit": -1, "value": float(p._rows("b_hh", block)[k])})
    x_total = float(p._rows("w_ih", block)[k] @ p.x + p._rows("b_ih", block)[k])
    rows.append({"term": _("the word: W_i{s}[{k}] · xₜ + b_i{s}[{k}]").format(s=s, k=k), "kind": _("word input"),
                 "unit": -1, "value": x_total})
    return rows


def readout_drivers(step_: CellStep, model: SentimentModel, top: int = 5) -> list[dict]:
    """The units that move the verdict most after this word: the ``top`` largest w_j·h_t[j], the rest, the bias."""
    h_t = step_.quantities["hidden"].value
    contrib = output_weights(model) * h_t
    order = np.argsort(-np.abs(contrib), kind="stable")[:top]
    rows = [{"term": f"w[{j}] · hₜ[{j}]", "unit": int(j), "value": float(contrib[j])} for j in order]
    rows.append({"term": _("the other {n} units").format(n=len(contrib) - len(order)), "unit": -1,
                 "value": float(contrib.sum() - contrib[order].sum())})
    rows.append({"term": "b", "unit": -1, "value": float(model.module.dense.bias[0])})
    return rows


# --- the diagram: every box with all its units, every wire with what it carries --------------------------

INPUTS = {"x": N_("xₜ · the word"), "h_prev": N_("hₜ₋₁ · memory"), "c_prev": N_("cₜ₋₁ · old cell")}
INPUT_ABOUT = {
    "x": N_("The word's embedding: its row of the embedding matrix (every unknown word shares one row)."),
    "h_prev": N_("The hidden state after the previous word (h₀ = 0 before the first word)."),
    "c_prev": N_("The cell state after the previous word (c₀ = 0 before the first word)."),
}


def _box_names(step_: CellStep) -> dict[str, str]:
    """Every box's short name in English (its symbol comes before " · "): key -> name."""
    return {**{k: INPUTS[k] for k in step_.inputs}, **{k: q.box for k, q in step_.quantities.items()}}


def boxes(step_: CellStep) -> dict[str, str]:
    """Every box of the diagram (key -> short name, in the session's language), inputs first, then the step's
    quantities in order."""
    return {k: _(name) for k, name in _box_names(step_).items()}


def box_values(step_: CellStep, key: str) -> np.ndarray:
    """What a box's strip shows: its value for every unit (the embedding's dimensions for x; each unit's
    w_j·h_t[j] for the readout)."""
    if key in step_.inputs:
        return step_.inputs[key]
    if key == "readout":
        return step_.readout_terms
    return step_.quantities[key].value


def _scale(step_: CellStep, key: str, v: np.ndarray) -> str:
    """How a strip is coloured: a sigmoid gate on [0, 1], a value in [−1, 1] as it is, anything else (the
    embedding, the readout's terms, an LSTM cell state beyond ±1) relative to its largest |value|."""
    if key in ARCHS[step_.arch].sigmoid:
        return "gate"
    if key in ("x", "readout") or np.abs(v).max() > 1:
        return "relative"
    return "signed"


def _wire_name(e: Expr, src_label: str) -> str:
    """What a wire carries, in the diagram's words: 'W·xₜ', '1 − z', 'tanh(cₜ)', or the source's symbol."""
    sym = src_label.split(" · ")[0]
    if isinstance(e, Leaf) and e.key in ("input_term", "hidden_term", "weighted_sum"):
        return {"input_term": "W·xₜ", "hidden_term": "W·hₜ₋₁", "weighted_sum": "w·hₜ"}[e.key]
    if isinstance(e, OneMinus):
        return f"1 − {sym}"
    if isinstance(e, Act):
        return f"{e.fn}({sym})"
    return sym


def diagram(step_: CellStep, k: int, order: np.ndarray) -> dict[str, pd.DataFrame]:
    """The frames the cell diagram draws, for unit ``k`` with the units in ``order``.

    ``nodes``: box, label, scale, value (unit k's; the verdict for the readout), text. ``cells``: box, unit (−1
    for the embedding's dimensions), rank, value, shade (in [0, 1] or [−1, 1]), picked. ``wires``: src, dst,
    value (what the wire brings to unit k), text, what, strength (a gate's openness, else NaN).
    """
    sigmoid_gates = ARCHS[step_.arch].sigmoid
    nodes, cells, lines = [], [], []
    names = _box_names(step_)
    for key, label in boxes(step_).items():
        v = np.asarray(box_values(step_, key), dtype=np.float64)
        scale = _scale(step_, key, v)
        if key == "x":
            value, text = float("nan"), _("“{word}” (id {id})").format(word=short(step_.word, 18), id=step_.token_id)
        elif key == "readout":
            value = step_.p_positive
            text = f"{value:.3f}"
        else:
            value = float(v[k])
            if scale != "gate":
                text = f"[{k}] {value:+.3f}"
            elif SATURATED_LOW < value < SATURATED_HIGH:
                text = f"[{k}] {value:.3f}"
            else:
                text = (_("[{k}] {value:.3f} · open") if value >= SATURATED_HIGH else
                        _("[{k}] {value:.3f} · shut")).format(k=k, value=value)
        nodes.append({"box": key, "label": label, "scale": scale, "value": value, "text": text})
        units = np.arange(len(v)) if key == "x" else np.asarray(order)
        shade = v[units] / max(float(np.abs(v).max()), 1e-12) if scale == "relative" else v[units]
        cells.append(pd.DataFrame({"box": key, "unit": -1 if key == "x" else units, "rank": np.arange(len(v)),
                                   "value": v[units], "shade": np.clip(shade, -1, 1),
                                   "picked": (units == k) & (key != "x")}))
        if key in step_.quantities:
            for src, e in wires(step_.quantities[key].expr):
                gate = (src in sigmoid_gates and isinstance(e, (Ref, OneMinus)))
                val = e.at(k)
                lines.append({"src": src, "dst": key, "value": val, "text": f"{val:+.2f}",
                              "what": _wire_name(e, names[src]),
                              "strength": val if gate else float("nan")})
    return {"nodes": pd.DataFrame(nodes), "cells": pd.concat(cells, ignore_index=True),
            "wires": pd.DataFrame(lines).drop_duplicates(["src", "dst"], ignore_index=True)}


def box_latex(step_: CellStep, key: str, k: int) -> str:
    """The formula of a box with unit k's numbers (the inputs: where they come from)."""
    if key == "x":
        return rf"x_t = E[{step_.token_id}] \in \mathbb{{R}}^{{{len(step_.inputs['x'])}}},\quad \lVert x_t \rVert = " \
               + fmt(float(np.linalg.norm(step_.inputs["x"])), False)
    if key in step_.inputs:
        s = key.split("_")[0]
        return rf"{s}_{{t-1}}[{k}] = {fmt(float(step_.inputs[key][k]), False)}"
    return step_.quantities[key].latex(k)


def box_about(step_: CellStep, key: str) -> str:
    """What a box is, in one sentence (in the session's language)."""
    return _(INPUT_ABOUT[key] if key in step_.inputs else step_.quantities[key].about)
