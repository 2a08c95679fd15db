"""The dynamics of a trained model, measured once with the dataset and stored next to it.

``compute_dynamics`` runs every analysis of ``dynamics.py`` on a model and the
IMDB reviews; ``write_dynamics`` stores the result as ``dynamics.json`` (keyed
to the weights' sha256) so the Dynamics page opens without the dataset;
``review_frame`` and ``modifier_frame`` place any typed text in that picture live.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..atomic import write_json_atomic
from ..data import Split
from ..i18n import N_, _
from ..model import SentimentRNN
from ..predictor import SentimentModel
from ..text import PAD_ID
from ..trace import Trace, trace_batches
from . import dynamics as D

FILE = "dynamics.json"
VERSION = 1
DRIFT = 0.01  # a fixed point drifts by at most 1% of the median word's step per word: q <= ½(DRIFT·step)²
SCALES = [1e-3, 1e-2, 1e-1, 0.3, 1.0]  # perturbation norms for the linearisation check
# (plain phrase, modified phrase, modifier, the verdict a reader expects for each)
MODIFIERS = [
    ("the movie was good", "the movie was not good", "not", "positive", "negative"),
    ("the movie was bad", "the movie was not bad", "not", "negative", "positive"),
    ("the movie was good", "the movie was very good", "very", "positive", "positive"),
    ("the movie was bad", "the movie was very bad", "very", "negative", "negative"),
    ("the movie was boring", "the movie was never boring", "never", "negative", "positive"),
    ("the movie had problems", "the movie had no problems", "no", "negative", "positive"),
    ("the movie was good", "the movie was extremely good", "extremely", "positive", "positive"),
    ("the movie was bad", "the movie was extremely bad", "extremely", "negative", "negative"),
]


def states_of(arch: str, result: dict) -> np.ndarray:
    """The state after each word [T, D] from a trace result: h, or [h; c] for the LSTM."""
    if arch == "lstm":
        return np.concatenate([result["hidden"], result["gates"]["cell"]], 1)
    return result["hidden"]


def _states(module: SentimentRNN, id_lists: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """(the state after each word [T, D] per review, the state each review starts from [N, D])."""
    out: list[np.ndarray] = [np.empty(0)] * len(id_lists)
    start = np.zeros((len(id_lists), 0))
    for idx, res in trace_batches(module, id_lists):
        for i, r in zip(idx, res):
            out[i] = states_of(module.arch, r).astype(np.float64)
            if start.shape[1] == 0:
                start = np.zeros((len(id_lists), out[i].shape[1]))
            start[i] = np.concatenate(r["initial"])
    return out, start


def no_word_input(module: SentimentRNN) -> np.ndarray:
    """[E] the input x of "no word" for F(h, x): the padding embedding for a model that reads padding (a learned
    row, what it reads at every padding step), else 0 (our models' padding embedding is exactly 0)."""
    if module.prefix is not None and module.prefix.padding:
        return module.embedding.weight[PAD_ID].detach().double().cpu().numpy()
    return np.zeros(module.embedding.embedding_dim)


def no_word_text(dyn: dict) -> str:
    """What x₀, the "no word" input of the fixed-point search, is for the stored model (the page's sentence, in
    the current language)."""
    emb = dyn["embedding"]
    if dyn.get("no_word", "zero") == "padding":
        return _("x₀ is this model's padding embedding, a learned row (‖e_pad‖ = {norm:.3f}): Keras fed it padding in "
                 "front of every review (mask_zero=False), so the padding is what it reads when there is no word, "
                 "and its padding steps follow F(h, x₀)").format(norm=emb["padding_norm"])
    return _("x₀ = 0 means *no word*: the padding embedding is exactly 0 (‖e_pad‖ = {pad:.1g}), and the mean word "
             "embedding is small (‖mean e‖ = {mean:.3f} over the vocabulary, {token_mean:.3f} over the words read) "
             "beside a typical word (median ‖e‖ = {median:.3f})").format(
        pad=emb["padding_norm"], mean=emb["mean_norm"], token_mean=emb["token_mean_norm"], median=emb["median_norm"])


def fresh_like(module: SentimentRNN, seed: int = 0) -> SentimentRNN:
    """The same architecture and shapes with a fresh initialisation (as training starts)."""
    torch.manual_seed(seed)
    fresh = SentimentRNN(module.arch, module.embedding.num_embeddings, module.embedding.embedding_dim,
                         module.rnn.hidden_size, gru_form=module.gru_form, prefix=module.prefix)
    return fresh.eval()


def readout_vector(module: SentimentRNN) -> np.ndarray:
    """The output layer's weights as a direction in state space (zero on the LSTM's cell half)."""
    w = module.dense.weight.detach().double().numpy()[0]
    return np.concatenate([w, np.zeros_like(w)]) if module.arch == "lstm" else w


def bag_of_words(vocab_size: int, train_ids: list[np.ndarray], train_y: np.ndarray, test_ids: list[np.ndarray],
                 test_y: np.ndarray, first_id: int = 2) -> tuple[np.ndarray, float]:
    """(weight per vocabulary id, test accuracy) of a logistic regression on word presence (ids from ``first_id``:
    the unknown word is not a word)."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    def matrix(ids: list[np.ndarray]):
        rows = [np.unique(r[r >= first_id]) for r in ids]
        indptr = np.cumsum([0] + [len(r) for r in rows])
        cols = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        return csr_matrix((np.ones(len(cols)), cols, indptr), shape=(len(ids), vocab_size))

    clf = LogisticRegression(C=0.1, max_iter=2000)
    clf.fit(matrix(train_ids), train_y)
    return clf.coef_[0], float(clf.score(matrix(test_ids), test_y))


def _r(x, digits: int = 6):
    """Rounded floats for JSON (lists kept small)."""
    return np.round(np.asarray(x, dtype=np.float64), digits).tolist()


def compute_dynamics(model: SentimentModel, train: Split, test: Split, reviews: int = 500, starts: int = 256,
                     seed: int = 0) -> dict:
    """Everything the Dynamics page shows that needs the dataset (see the module docstring)."""
    clock, t0, c0 = {}, time.perf_counter(), time.process_time()
    module, rng = model.module, np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(test), size=min(reviews, len(test)), replace=False))
    ids = [model.encode(test.texts[i])[1] for i in pick]
    labels = test.labels[pick]
    per_review, start = _states(module, ids)
    states = np.concatenate(per_review)
    fresh_states = np.concatenate(_states(fresh_like(module, seed), ids)[0])
    readout = readout_vector(module)
    basis = D.pca(states, 10)
    basis.components *= np.where(basis.components @ readout < 0, -1.0, 1.0)[:, None]  # PC1: + = positive
    steps = np.concatenate([np.linalg.norm(np.diff(np.vstack([s0, s]), axis=0), axis=1)
                            for s0, s in zip(start, per_review)])
    clock["states_and_pca"] = time.perf_counter() - t0
    clock["states_and_pca_cpu"] = time.process_time() - c0

    t0, c0 = time.perf_counter(), time.process_time()
    F = D.update_fn(module)
    x0 = no_word_input(module)
    fp = D.find_fixed_points(F, states[rng.choice(len(states), size=min(starts, len(states)), replace=False)],
                             x0, tolerance=0.5 * (DRIFT * float(np.median(steps))) ** 2, search_dtype=torch.float32)
    clock["fixed_points"] = time.perf_counter() - t0
    clock["fixed_points_cpu"] = time.process_time() - c0
    if len(fp.points) < 2:
        raise ValueError(f"only {len(fp.points)} fixed point(s) within q <= {fp.tolerance:g}: no line to fit")

    t0 = time.perf_counter()
    centre, direction, line_share = D.line_fit(fp.points)
    if np.corrcoef(states @ direction, states @ readout)[0, 1] < 0:
        direction = -direction  # the positive end of the line: where the readout says positive on visited states
    coord = (fp.points - centre) @ direction
    order = np.argsort(coord)
    points, q, coord = fp.points[order], fp.q[order], coord[order]
    jac = D.jacobian_state(F, torch.as_tensor(points), torch.as_tensor(x0)).numpy()
    mid = len(coord) // 2  # the fixed point with the median position on the line
    mid_eigs, mid_right = np.linalg.eig(jac[mid])  # once: its vectors give the mode along the line
    eigs = np.insert(np.linalg.eigvals(np.delete(jac, mid, axis=0)), mid, mid_eigs, axis=0)
    eig_abs = np.sort(np.abs(eigs), axis=1)[:, ::-1]
    mode = D.slow_mode(jac[mid], direction, eig=(mid_eigs, mid_right))  # the mode along the line
    if mode.right @ direction < 0:
        mode.right, mode.left = -mode.right, -mode.left
    lin_err = D.linearisation_error(F, points[mid], x0, SCALES, seed=seed, jac=jac[mid])
    clock["linearisation"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    emb = module.embedding.weight.detach().double().numpy()
    # Along the mode, and the plain projection on the line for comparison: one ∂F/∂x for both.
    kick, kick_line = D.kicks(F, points[mid], np.stack([mode.left, direction], axis=1), emb, x0).T
    with torch.no_grad():
        moved = F(torch.as_tensor(points[mid]).expand(len(emb), -1), torch.as_tensor(emb)).numpy() - points[mid]
    kick_true = moved @ mode.left
    words = slice(model.vocab.first_id, None)  # real words: not padding, start or "unknown"
    vocab_ids = [np.asarray(r, dtype=np.int64) for r in train.encode(model.vocab)]
    test_ids = [np.asarray(r, dtype=np.int64) for r in test.encode(model.vocab)]
    bow, bow_acc = bag_of_words(len(model.vocab), vocab_ids, train.labels, test_ids, test.labels, model.vocab.first_id)
    token_counts = np.bincount(np.concatenate(ids), minlength=len(emb))
    clock["kicks_and_bag_of_words"] = time.perf_counter() - t0

    sample = rng.choice(len(states), size=min(2000, len(states)), replace=False)
    step_label = np.concatenate([np.full(len(s), lab) for s, lab in zip(per_review, labels)])
    finals = np.stack([s[-1] for s in per_review])
    null = D.null_abs_cos(direction, mask=readout != 0, seed=seed)
    return {
        "version": VERSION,
        "weights_sha256": model.config.get("weights_sha256"),
        "arch": model.arch,
        "state": "[h; c]" if model.arch == "lstm" else "h",
        "state_dim": int(states.shape[1]),
        "sample": {"reviews": len(pick), "states": len(states), "seed": seed},
        "pca": {"mean": _r(basis.mean), "components": _r(basis.components), "variance": _r(basis.variance_ratio),
                "variance_fresh": _r(D.pca(fresh_states, 10).variance_ratio)},
        "h0": _r(basis.project(start.mean(0))),  # where reviews start: 0, or (reading padding) after it
        "h0_spread": float(np.linalg.norm(start - start.mean(0), axis=1).max()),
        "no_word": "padding" if module.prefix is not None and module.prefix.padding else "zero",
        "word_step_median": float(np.median(steps)),
        "embedding": {"mean_norm": float(np.linalg.norm(emb[words].mean(0))),
                      "token_mean_norm": float(np.linalg.norm(token_counts @ emb / token_counts.sum())),
                      "median_norm": float(np.median(np.linalg.norm(emb[words], axis=1))),
                      "padding_norm": float(np.linalg.norm(emb[PAD_ID]))},
        "states_sample": {"pc": _r(basis.project(states[sample])[:, :2], 4), "label": step_label[sample].tolist()},
        "final_states": {"pc": _r(basis.project(finals)[:, :2], 4), "label": labels.tolist()},
        "offline_median": float(np.median(D.distance_from_line(states, centre, direction))),
        "fixed_points": {"tolerance": fp.tolerance, "drift": DRIFT, "candidates": fp.candidates, "converged": fp.converged,
                         "outliers": fp.outliers, "merge_distance": 1e-3,
                         "pc": _r(basis.project(points)[:, :2], 5), "q": _r(q, 12), "line_coord": _r(coord),
                         "top_abs_eig": _r(eig_abs[:, :3], 8)},
        "line": {"centre": _r(centre, 8), "direction": _r(direction, 8), "variance_share": line_share},
        "middle": {"index": mid, "point": _r(points[mid], 8), "eig_re": _r(mid_eigs.real), "eig_im": _r(mid_eigs.imag),
                   "slow_re": mode.value.real, "slow_im": mode.value.imag,
                   "slow_line_cos": D.abs_cos(mode.right, direction),
                   "right": _r(mode.right, 8), "left": _r(mode.left, 8)},
        "linearisation": {"scales": SCALES, "rel_error": _r(lin_err, 8)},
        "kicks": {"linear": _r(kick, 7), "left_norm": float(np.linalg.norm(mode.left)),
                  "line_bow_correlation": float(np.corrcoef(kick_line[words], bow[words])[0, 1]),
                  "nonlinear_correlation": float(np.corrcoef(kick[words], kick_true[words])[0, 1])},
        "bow": {"weights": _r(bow, 6), "accuracy": bow_acc, "train": len(train), "test": len(test), "C": 0.1},
        "kick_bow_correlation": float(np.corrcoef(kick[words], bow[words])[0, 1]),
        "readout": {"pc": _r(basis.components[:2] @ readout), "alignment": D.abs_cos(readout, direction),
                    "alignment_slow_mode": D.abs_cos(readout, mode.right), "null95": null},
        "modifiers": modifier_rows(model, {"centre": centre, "direction": direction, "left": mode.left}),
        "seconds": {k: round(v, 2) for k, v in clock.items()},
    }


def modifier_rows(model: SentimentModel, geometry: dict) -> list[dict]:
    """For each pair in MODIFIERS: both verdicts, the last word's movement along the slow mode, and the
    distance from the line of fixed points after the modifier."""
    rows = []
    for plain, modified, mod, want_plain, want_mod in MODIFIERS:
        out = {"plain": plain, "modified": modified, "modifier": mod}
        for key, text, want in (("plain", plain, want_plain), ("modified", modified, want_mod)):
            t = model.trace(text)
            s = trace_states(t)
            p = float(t.proba)
            out[f"p_{key}"] = p
            out[f"right_{key}"] = ("positive" if p > 0.5 else "negative") == want
            out[f"last_move_{key}"] = float((s[-1] - s[-2]) @ geometry["left"])
            if key == "modified":
                at = t.words.index(mod)
                out["offline_after_modifier"] = float(D.distance_from_line(s[at], geometry["centre"],
                                                                           geometry["direction"]))
        rows.append(out)
    return rows


def trace_start(trace: Trace) -> np.ndarray:
    """[D] the state a trace's first word is read from (h₀, or [h₀; c₀] for the LSTM)."""
    D_ = trace.hidden.shape[1] * (2 if trace.arch == "lstm" else 1)
    return np.zeros(D_) if trace.initial is None else np.asarray(trace.initial, dtype=np.float64)


def trace_states(trace: Trace) -> np.ndarray:
    """[T, D] float64 states of a trace (h, or [h; c] for the LSTM)."""
    return states_of(trace.arch, {"hidden": trace.hidden, "gates": trace.gates}).astype(np.float64)


# --- The stored file ---------------------------------------------------------------------

def write_dynamics(model: SentimentModel, result: dict) -> Path:
    if model.path is None:
        raise ValueError("the model has no folder to write to")
    path = Path(model.path) / FILE
    write_json_atomic(path, result)
    return path


def read_dynamics(folder: str | os.PathLike, sha256: str | None) -> dict | None:
    """The stored analysis when it exists, parses and belongs to weights ``sha256``; None otherwise."""
    try:
        data = json.loads((Path(folder) / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("version") == VERSION and sha256 and data.get("weights_sha256") == sha256
    return data if ok else None


def summary(dyn: dict) -> dict:
    """The headline numbers (the CLI's --json)."""
    fp = dyn["fixed_points"]
    slow = max(a[0] for a in fp["top_abs_eig"])
    return {
        "arch": dyn["arch"],
        "weights_sha256": dyn["weights_sha256"],
        "state": dyn["state"],
        "pc_variance": dyn["pca"]["variance"],
        "pc_variance_fresh": dyn["pca"]["variance_fresh"],
        "fixed_points": len(fp["q"]),
        "fixed_point_tolerance": fp["tolerance"],
        "fixed_point_q_max": max(fp["q"]),
        "line_variance_share": dyn["line"]["variance_share"],
        "slowest_abs_eigenvalue": slow,
        "slowest_tau_words": float(D.time_constant(slow)),
        "line_mode_eigenvalue": dyn["middle"]["slow_re"],
        "line_mode_cos": dyn["middle"]["slow_line_cos"],
        "readout_alignment": dyn["readout"]["alignment"],
        "readout_alignment_slow_mode": dyn["readout"]["alignment_slow_mode"],
        "readout_alignment_null95": dyn["readout"]["null95"],
        "kick_bow_correlation": dyn["kick_bow_correlation"],
        "kick_bow_correlation_line_projection": dyn["kicks"]["line_bow_correlation"],
        "left_eigenvector_norm": dyn["kicks"]["left_norm"],
        "bow_test_accuracy": dyn["bow"]["accuracy"],
        "linearisation_rel_error": dict(zip(map(str, dyn["linearisation"]["scales"]), dyn["linearisation"]["rel_error"])),
        "modifiers_right": sum(r["right_modified"] for r in dyn["modifiers"]),
        "modifiers": len(dyn["modifiers"]),
        "seconds": dyn["seconds"],
    }


# --- A typed review in that picture (live) ------------------------------------------------

def review_frame(dyn: dict, trace: Trace) -> pd.DataFrame:
    """Per word: PC1/PC2 of the state, P(positive), the word's kick (from the table) and the actual
    movement along the slow mode, and the distance from the line of fixed points."""
    s = trace_states(trace)
    mean, comps = np.asarray(dyn["pca"]["mean"]), np.asarray(dyn["pca"]["components"])[:2]
    pc = (s - mean) @ comps.T
    left = np.asarray(dyn["middle"]["left"])
    prev = np.vstack([trace_start(trace), s[:-1]])
    kick = np.asarray(dyn["kicks"]["linear"])
    ids = np.asarray(trace.ids)
    return pd.DataFrame({
        "step": np.arange(1, len(s) + 1), "word": trace.tokens,
        "label": [f"{i + 1} · {w}" for i, w in enumerate(trace.tokens)],
        "pc1": pc[:, 0], "pc2": pc[:, 1], "p_positive": trace.step_proba,
        "kick": kick[ids] if ids.max() < len(kick) else np.full(len(ids), np.nan),
        "movement": (s - prev) @ left,
        "off_line": D.distance_from_line(s, np.asarray(dyn["line"]["centre"]), np.asarray(dyn["line"]["direction"])),
    })


# --- Tables for the page ------------------------------------------------------------------

def _labels(codes) -> list[str]:
    """The true labels as the charts' keys (English; the chart builders show them translated)."""
    return ["positive" if int(c) else "negative" for c in codes]


def plane_frames(dyn: dict) -> dict[str, pd.DataFrame]:
    """The stored picture as frames: test states, final states, fixed points, h₀ and the readout arrow."""
    fp = dyn["fixed_points"]
    pc = np.asarray(fp["pc"])
    top = np.asarray(fp["top_abs_eig"])[:, 0]
    fixed = pd.DataFrame({"pc1": pc[:, 0], "pc2": pc[:, 1], "q": fp["q"], "line_coord": fp["line_coord"],
                          "abs_eig": top, "tau": D.time_constant(top)})
    s, f = np.asarray(dyn["states_sample"]["pc"]), np.asarray(dyn["final_states"]["pc"])
    states = pd.DataFrame({"pc1": s[:, 0], "pc2": s[:, 1], "label": _labels(dyn["states_sample"]["label"])})
    finals = pd.DataFrame({"pc1": f[:, 0], "pc2": f[:, 1], "label": _labels(dyn["final_states"]["label"])})
    h0 = np.asarray(dyn["h0"])[:2]
    r = np.asarray(dyn["readout"]["pc"])
    span = float(np.ptp(s[:, 0])) if len(s) else 1.0
    tip = h0 + 0.3 * span * r / max(np.linalg.norm(r), 1e-12)
    arrow = pd.DataFrame({"pc1": [h0[0]], "pc2": [h0[1]], "pc1_end": [tip[0]], "pc2_end": [tip[1]]})
    marks = pd.DataFrame({"pc1": [h0[0], tip[0]], "pc2": [h0[1], tip[1]], "text": ["h₀", N_("readout")]})  # shown translated by the chart
    return {"states": states, "finals": finals, "fixed": fixed, "arrow": arrow, "marks": marks}


def kick_table(dyn: dict, model: SentimentModel) -> pd.DataFrame:
    """Every vocabulary word with its kick and bag-of-words weight, by kick."""
    kick, bow = np.asarray(dyn["kicks"]["linear"]), np.asarray(dyn["bow"]["weights"])
    ids = np.arange(model.vocab.first_id, min(len(kick), len(model.vocab)))
    return pd.DataFrame({"word": [model.vocab.word(int(i)) for i in ids], "kick": kick[ids],
                         "bow": bow[ids]}).sort_values("kick", ascending=False, ignore_index=True)


def modifier_paths(dyn: dict, model: SentimentModel) -> pd.DataFrame:
    """The trajectory of every phrase in MODIFIERS (each once) in the stored PC1–PC2 plane."""
    phrases = list(dict.fromkeys(p for row in MODIFIERS for p in row[:2]))
    frames = [review_frame(dyn, t).assign(phrase=p) for p, t in zip(phrases, model.trace(phrases))]
    return pd.concat(frames, ignore_index=True)
