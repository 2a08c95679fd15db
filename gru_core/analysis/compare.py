"""GRU vs LSTM vs RNN: architecture facts, live measurements, and the seed's claims checked.

The seed material claims a GRU has a simpler structure (2 gates vs 3), fewer
parameters (3 weight matrices vs 4), trains faster, uses less memory and
performs about as well as an LSTM. ``claims`` turns each into a measured
verdict from the shipped models' files and this machine.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..archs import ARCHS
from ..examples import review_of
from ..model import parameter_counts
from ..predictor import SentimentModel
from ..timing import interleaved
from .memprobe import BATCH, N_WORDS, inference_memory
from .stats import paired_comparison

SIGNIFICANCE = 0.05
MIN_REVIEWS = 50  # a memory-reach average over fewer test reviews is not drawn


def architecture_facts(model: SentimentModel) -> dict:
    """Gates, weight matrices, parameters by layer and the weights' bytes on disk (model.safetensors)."""
    counts = parameter_counts(model.module)
    weights = Path(model.path) / "model.safetensors" if model.path else None
    spec = ARCHS[model.arch]
    return {
        "arch": model.arch,
        "gates": len(spec.gates),
        "gate_names": list(spec.gates),
        # One input and one recurrent matrix per gate/candidate block.
        "weight_matrices": spec.n_blocks,
        "params_embedding": counts["embedding"],
        "params_recurrent": counts["rnn"],
        "params_dense": counts["dense"],
        "params_total": counts["total"],
        "weights_bytes": weights.stat().st_size if weights and weights.exists() else 0,
    }


def latency(model: SentimentModel, n_words: int, repeats: int = 15) -> float:
    """Median seconds to score one review of ``n_words`` words (tokenising included)."""
    text = review_of(model, n_words)
    return interleaved({"one": lambda: model.predict_proba([text])}, repeats)["one"]


def throughput(model: SentimentModel, batch: int = 256, n_words: int = 200, repeats: int = 5) -> float:
    """Reviews per second scoring a batch of ``batch`` reviews of ``n_words`` words (median of repeats)."""
    seqs = [model.encode(review_of(model, n_words, seed))[1] for seed in range(batch)]
    return batch / interleaved({"batch": lambda: model.predict_ids(seqs, batch_size=batch)}, repeats)["batch"]


def measure_live(model: SentimentModel) -> dict:
    """Latency (100 and 500 words), throughput at batch 256, and peak inference memory (``inference_memory``:
    the same record stats.json stores, with why it failed where it did)."""
    return {"latency_100_s": latency(model, 100), "latency_500_s": latency(model, 500),
            "throughput_256": throughput(model), "inference_memory": inference_memory(model.path)}


def stored_memory(record: dict | None) -> int | None:
    """Peak inference memory in a stats.json or a live measurement (``inference_memory``), or None."""
    mem = (record or {}).get("inference_memory") or {}
    return mem.get("peak_bytes")


def memory_error(record: dict | None) -> str | None:
    """Why the peak inference memory of a stats.json or a live measurement could not be measured, or None."""
    return ((record or {}).get("inference_memory") or {}).get("error")


def epoch_seconds(metrics: dict) -> float | None:
    secs = [h["seconds"] for h in metrics.get("history", []) if h.get("complete", True)]
    return float(np.mean(secs)) if secs else None


def claims(gru: SentimentModel, lstm: SentimentModel, live: dict[str, dict] | None = None,
           stats: dict[str, dict] | None = None) -> list[dict]:
    """Each of the seed's claims about GRU vs LSTM with what was measured and a verdict.

    ``live``: measurements on this server by model name (they replace the stored memory);
    ``stats``: each model's stats.json by name (stored predictions and peak memory).
    Verdicts: "holds", "does not hold here", "depends", or "not measured yet".
    """
    fg, fl = architecture_facts(gru), architecture_facts(lstm)
    rows = [{
        "claim": "Simpler structure: 2 gates instead of 3",
        "measured": f"GRU gates: {', '.join(fg['gate_names'])}; LSTM gates: {', '.join(fl['gate_names'])} "
                    f"(plus a separate cell state)",
        "verdict": "holds" if fg["gates"] < fl["gates"] else "does not hold here",
    }]
    rec = 1 - fg["params_recurrent"] / fl["params_recurrent"]
    tot = 1 - fg["params_total"] / fl["params_total"]
    rows.append({
        "claim": "Fewer parameters: 3 weight matrices instead of 4",
        "measured": f"{fg['weight_matrices']} vs {fl['weight_matrices']} blocks per matrix; recurrent layer "
                    f"{fg['params_recurrent']:,} vs {fl['params_recurrent']:,} ({rec:.0%} fewer); whole model "
                    f"{fg['params_total']:,} vs {fl['params_total']:,} ({tot:.1%} fewer: the embedding dominates)",
        "verdict": "holds" if fg["params_total"] < fl["params_total"] else "does not hold here",
    })
    rows.append(_speed_claim(gru, lstm))
    rows.append(_memory_claim(gru, lstm, fg, fl, live or {}, stats or {}))
    rows.append(_accuracy_claim(gru, lstm, stats or {}))
    return rows


def _speed_claim(gru: SentimentModel, lstm: SentimentModel) -> dict:
    eg, el = epoch_seconds(gru.metrics), epoch_seconds(lstm.metrics)
    hw_g, hw_l = gru.metrics.get("hardware"), lstm.metrics.get("hardware")
    dev_g, dev_l = gru.metrics.get("device"), lstm.metrics.get("device")
    if eg is None or el is None:
        return {"claim": "Trains faster", "measured": "no training history in metrics.json",
                "verdict": "not measured yet"}
    if (hw_g, dev_g) != (hw_l, dev_l):
        return {"claim": "Trains faster",
                "measured": f"GRU {eg:.1f} s/epoch on {dev_g}, LSTM {el:.1f} s/epoch on {dev_l}: "
                            "different hardware, not comparable",
                "verdict": "depends"}
    why = ""
    if el < eg and dev_g == "cpu":
        why = (" On CPU PyTorch runs nn.LSTM on a fused oneDNN kernel but nn.GRU step by step, "
               "so the LSTM's extra gate costs less than the GRU's unfused arithmetic.")
    return {"claim": "Trains faster",
            "measured": f"mean epoch: GRU {eg:.1f} s, LSTM {el:.1f} s on {dev_g} ({hw_g}), from metrics.json.{why}",
            "verdict": "holds" if eg < 0.95 * el else ("does not hold here" if eg > 1.05 * el else "depends")}


def _memory_claim(gru: SentimentModel, lstm: SentimentModel, fg: dict, fl: dict, live: dict, stats: dict) -> dict:
    weights = f"weights {fg['weights_bytes'] / 2**20:.2f} vs {fl['weights_bytes'] / 2**20:.2f} MiB"
    lg, ll = live.get(gru.name), live.get(lstm.name)
    if lg and ll:  # measured live: those numbers (or why they failed), not the stored ones
        mg, ml, where = stored_memory(lg), stored_memory(ll), "measured live on this server"
        failed = memory_error(lg) or memory_error(ll)
    else:
        mg, ml = stored_memory(stats.get(gru.name)), stored_memory(stats.get(lstm.name))
        where, failed = "stored by the stats command (stats.json)", None
    if mg is None or ml is None:
        return {"claim": "Uses less memory",
                "measured": f"{weights}; peak inference memory "
                            + (f"could not be measured: {failed}" if failed else
                               "not stored: run `python -m gru_core stats` or the live measurement"),
                "verdict": "not measured yet"}
    return {"claim": "Uses less memory",
            "measured": f"peak inference memory, batch {BATCH} × {N_WORDS} words, {where}: GRU {mg / 2**20:.1f} MiB, "
                        f"LSTM {ml / 2**20:.1f} MiB; {weights}",
            "verdict": "holds" if mg < 0.95 * ml else ("does not hold here" if mg > 1.05 * ml else "depends")}


def _accuracy_claim(gru: SentimentModel, lstm: SentimentModel, stats: dict) -> dict:
    sg, sl = stats.get(gru.name) or {}, stats.get(lstm.name) or {}
    if not sg.get("test_proba") or not sl.get("test_proba") or sg.get("test_ids_sha256") != sl.get("test_ids_sha256"):
        return {"claim": "Performs about as well",
                "measured": "needs both models' predictions on the same test reviews: "
                            "`python -m gru_core stats --model ...`",
                "verdict": "not measured yet"}
    return {"claim": "Performs about as well", **accuracy_verdict(
        paired_comparison(sg["test_proba"], sl["test_proba"], sg["test_labels"]))}


def accuracy_verdict(cmp: dict, first: str = "GRU", second: str = "LSTM") -> dict:
    """The "performs about as well" verdict from a paired comparison (``stats.paired_comparison``).

    No significant difference (McNemar p ≥ 0.05), or the first model significantly better: holds;
    the second significantly better: does not hold here. The interval says how large the gap can be.
    """
    low, high = cmp["ci"]
    points = (f"difference {first} − {second} {cmp['difference'] * 100:+.2f} points, "
              f"{cmp['level']:.0%} CI [{low * 100:+.2f}, {high * 100:+.2f}]")
    counts = (f"IMDB test accuracy {first} {cmp['accuracy_a']:.2%}, {second} {cmp['accuracy_b']:.2%} on the same "
              f"{cmp['n']:,} reviews; only {first} right on {cmp['only_a_right']:,}, only {second} right on "
              f"{cmp['only_b_right']:,}")
    p = cmp["p_value"]
    if p >= SIGNIFICANCE:
        return {"measured": f"{counts}. No significant difference (McNemar exact p = {p:.2g}); {points}.",
                "verdict": "holds"}
    better = first if cmp["difference"] > 0 else second
    return {"measured": f"{counts}. {better} is significantly more accurate (McNemar exact p = {p:.2g}); {points}.",
            "verdict": "holds" if better == first else "does not hold here"}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.2%}"


def _one_or_each(values: list[str]) -> str:
    return values[0] if len(set(values)) == 1 else "differs by model"


def comparison_table(models: list[SentimentModel], live: dict[str, dict] | None = None,
                     stats: dict[str, dict] | None = None) -> pd.DataFrame:
    """One column per model, one row per quantity (as display strings), and a last column, "source",
    saying where each row comes from: the weights, metrics.json (the training run's machine),
    stats.json (the stats command's machine) or a measurement live on this server."""
    live, stats = live or {}, stats or {}
    trained = _one_or_each([f"{m.metrics.get('device', '?')}: {m.metrics.get('hardware', '?')}" for m in models])
    stored = _one_or_each([((stats.get(m.name) or {}).get("inference_memory") or {}).get("hardware", "?")
                           for m in models])
    live_now = any(live.get(m.name) for m in models)
    here = "measured live on this server" if live_now else "measured live on this server (press the button)"
    weights, training = "the weights (model.safetensors, config.json)", f"metrics.json (the training run; {trained})"
    memory_source = here if live_now else f"stats.json (the stats command; {stored})"
    cols: dict[str, dict[str, str]] = {}
    sources: dict[str, str] = {}
    for m in models:
        f = architecture_facts(m)
        test, rt = m.metrics.get("imdb_test", {}), m.metrics.get("rt_polarity", {})
        eps = epoch_seconds(m.metrics)
        lv = live.get(m.name) or {}
        if lv:
            mem, why = stored_memory(lv), memory_error(lv) or "not measurable here"
        else:
            mem, why = stored_memory(stats.get(m.name)), "not measured (run the stats command)"
        rows = [  # (row, value, where it comes from): each row named once
            ("architecture", ARCHS[m.arch].display, weights),
            ("gates", f"{f['gates']} ({', '.join(f['gate_names'])})" if f["gates"] else "0 (no gates)", weights),
            ("weight matrices (blocks)", str(f["weight_matrices"]), weights),
            ("parameters: embedding", f"{f['params_embedding']:,}", weights),
            ("parameters: recurrent layer", f"{f['params_recurrent']:,}", weights),
            ("parameters: output layer", f"{f['params_dense']:,}", weights),
            ("parameters: total", f"{f['params_total']:,}", weights),
            ("weights on disk (model.safetensors)", f"{f['weights_bytes'] / 2**20:.2f} MiB", "the file's size"),
            ("IMDB test accuracy", _pct(test.get("accuracy")), training),
            ("IMDB test precision", _pct(test.get("precision")), training),
            ("IMDB test recall", _pct(test.get("recall")), training),
            ("IMDB test F1", "—" if test.get("f1") is None else f"{test['f1']:.4f}", training),
            ("Rotten Tomatoes accuracy (out of domain)", _pct(rt.get("accuracy")), training),
            ("training seconds per epoch", "—" if eps is None else f"{eps:.1f} s", training),
            ("training hardware", f"{m.metrics.get('device', '?')}: {m.metrics.get('hardware', '?')}", "metrics.json"),
            ("latency, one 100-word review", f"{lv['latency_100_s'] * 1e3:.1f} ms" if lv else "not measured", here),
            ("latency, one 500-word review", f"{lv['latency_500_s'] * 1e3:.1f} ms" if lv else "not measured", here),
            ("throughput, batch 256 × 200 words", f"{lv['throughput_256']:,.0f} reviews/s" if lv else "not measured",
             here),
            (f"peak inference memory, batch {BATCH} × {N_WORDS} words",
             f"{mem / 2**20:.1f} MiB" if mem is not None else why, memory_source),
        ]
        cols[m.name] = {row: value for row, value, _ in rows}
        sources = {row: source for row, _, source in rows}
    table = pd.DataFrame(cols)
    if models:
        table["source"] = [sources[row] for row in table.index]
    return table


def history_frame(models: list[SentimentModel]) -> pd.DataFrame:
    """Long table of per-epoch train/validation loss and accuracy for each model."""
    rows = [row for m in models for row in history_rows(m.name, m.metrics.get("history", []))]
    return pd.DataFrame(rows, columns=["model", "epoch", "split", "measure", "value"])


def history_rows(name: str, history: list[dict]) -> list[dict]:
    """Rows of one run's per-epoch history (as ``fit`` records it): model, epoch, split, measure, value. A run
    without a validation split (the seed's Keras recipe) has training rows only."""
    return [{"model": name, "epoch": h["epoch"], "split": split, "measure": measure, "value": h[f"{prefix}_{key}"]}
            for h in history for split, prefix in (("train", "train"), ("validation", "val"))
            for measure, key in (("loss", "loss"), ("accuracy", "acc")) if f"{prefix}_{key}" in h]


def confusion_frame(models: list[SentimentModel]) -> pd.DataFrame:
    rows = []
    for m in models:
        conf = m.metrics.get("imdb_test", {}).get("confusion")
        if conf:
            for ti, t in enumerate(("negative", "positive")):
                for pi, p in enumerate(("negative", "positive")):
                    rows.append({"model": m.name, "true": t, "predicted": p, "count": int(conf[ti][pi])})
    return pd.DataFrame(rows, columns=["model", "true", "predicted", "count"])


def saturation_frame(stats: dict[str, dict]) -> pd.DataFrame:
    """Long table for the saturation scatter, from each model's stats.json."""
    rows = []
    for name, s in stats.items():
        for gate, v in s.get("saturation", {}).items():
            for unit, (left, right) in enumerate(zip(v["left"], v["right"])):
                rows.append({"model": name, "gate": gate, "label": f"{name}: {gate}", "unit": unit,
                             "left": left, "right": right})
    return pd.DataFrame(rows, columns=["model", "gate", "label", "unit", "left", "right"])


def gradient_frame(curves: dict[str, np.ndarray], reviews: dict[str, np.ndarray] | None = None,
                   min_reviews: int = MIN_REVIEWS) -> pd.DataFrame:
    """Long table of gradient size by distance from the end, one curve per model (NaNs and non-positive
    values dropped). A curve with a ``reviews`` count per distance is an average over that many reviews:
    it stops at the first distance where fewer than ``min_reviews`` remain. Curves without counts are
    single reviews (``reviews`` = 1)."""
    rows = []
    for name, curve in curves.items():
        counts = (reviews or {}).get(name)
        for d, g in enumerate(curve):
            n = 1 if counts is None else int(counts[d])
            if counts is not None and n < min_reviews:
                break
            if g is not None and np.isfinite(g) and g > 0:
                rows.append({"model": name, "distance": d, "gradient": float(g), "reviews": n})
    return pd.DataFrame(rows, columns=["model", "distance", "gradient", "reviews"])


def mean_abs_logit(proba: list[float] | np.ndarray) -> float:
    """Mean |logit| of stored probabilities (rounded to 6 decimals, so clipped to [1e-6, 1 − 1e-6])."""
    p = np.clip(np.asarray(proba, dtype=float), 1e-6, 1 - 1e-6)
    return float(np.mean(np.abs(np.log(p / (1 - p)))))


def reach_summary(stats: dict[str, dict], min_reviews: int = MIN_REVIEWS) -> list[str]:
    """What the test-average memory-reach curves of these models show, in sentences computed from them.

    Compares the raw curves (on each model's own logit scale) and the scale-free ones (each review's
    gradients divided by its last word's, median over reviews) up to the last distance that every model
    reaches with at least ``min_reviews`` reviews.
    """
    curves = {}
    for name, s in stats.items():
        g = s.get("gradient_by_distance") or {}
        if not g.get("relative_median"):
            continue
        reach = int(np.sum(np.asarray(g["count"]) >= min_reviews))  # counts never grow with distance
        if reach >= 2:
            raw = np.array([np.nan if v is None else v for v in g["mean"][:reach]], dtype=float)
            rel = np.array([np.nan if v is None else v for v in g["relative_median"][:reach]], dtype=float)
            curves[name] = (raw, rel, mean_abs_logit(s["test_proba"]))
    if not curves:
        return []
    d = min(len(raw) for raw, _, _ in curves.values()) - 1
    top = max(curves, key=lambda n: curves[n][0][0])
    others = [n for n in curves if n != top]
    above = bool(others) and all(np.all(curves[top][0][:d + 1] > curves[n][0][:d + 1]) for n in others)
    far = max(curves, key=lambda n: curves[n][0][d])
    lines = [
        f"Raw gradients (test average): **{top}**'s curve is the highest at the last word"
        + (f" and lies above {', '.join(others)} at every distance up to {d}" if above else
           f"; at distance {d} the highest is **{far}**'s")
        + ". Their logit scales differ: mean |logit| on the test reviews is "
        + ", ".join(f"{n} {curves[n][2]:.2f}" for n in curves)
        + ". The gradient of a larger logit tends to be larger at every word, so the raw heights mix each "
          "model's scale with how far back it remembers; the scale-free curves separate the two."
    ]
    parts = []
    for n, (_, rel, _) in curves.items():
        tenth = np.flatnonzero(rel[:d + 1] < 0.1)
        parts.append(f"**{n}** {rel[d]:.2g}" + (f" (below a tenth from distance {tenth[0]})" if len(tenth)
                                                else " (never below a tenth)"))
    order = sorted(curves, key=lambda n: curves[n][1][d])
    lines.append(f"Normalised to the last word, a word {d} words before the end keeps this share of the last "
                 f"word's gradient (median over reviews): {'; '.join(parts)}."
                 + (f" It falls fastest for **{order[0]}** and slowest for **{order[-1]}**." if len(order) > 1
                    else ""))
    return lines
