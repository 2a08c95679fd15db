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
from ..i18n import N_, _
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


# The gates by the name ``ARCHS`` gives them, as the claims table says them.
GATE_NAMES = {"update": N_("update"), "reset": N_("reset"), "input": N_("input"), "forget": N_("forget"),
              "output": N_("output")}
VERDICTS = {"holds": N_("holds"), "does not hold here": N_("does not hold here"), "depends": N_("depends"),
            "not measured yet": N_("not measured yet")}


def _gates(names: list[str]) -> str:
    return _(", ").join(_(GATE_NAMES.get(g, g)) for g in names)


def claims(gru: SentimentModel, lstm: SentimentModel, live: dict[str, dict] | None = None,
           stats: dict[str, dict] | None = None) -> list[dict]:
    """Each of the seed's claims about GRU vs LSTM with what was measured and a verdict, in the current language
    (the keys stay "claim", "measured", "verdict").

    ``live``: measurements on this server by model name (they replace the stored memory);
    ``stats``: each model's stats.json by name (stored predictions and peak memory).
    Verdicts: "holds", "does not hold here", "depends", or "not measured yet" (``VERDICTS``).
    """
    fg, fl = architecture_facts(gru), architecture_facts(lstm)
    rows = [{
        "claim": _("Simpler structure: 2 gates instead of 3"),
        "measured": _("GRU gates: {gru}; LSTM gates: {lstm} (plus a separate cell state)").format(
            gru=_gates(fg["gate_names"]), lstm=_gates(fl["gate_names"])),
        "verdict": _verdict("holds" if fg["gates"] < fl["gates"] else "does not hold here"),
    }]
    rec = 1 - fg["params_recurrent"] / fl["params_recurrent"]
    tot = 1 - fg["params_total"] / fl["params_total"]
    rows.append({
        "claim": _("Fewer parameters: 3 weight matrices instead of 4"),
        "measured": _("{gru_blocks} vs {lstm_blocks} blocks per matrix; recurrent layer {gru_rec:,} vs {lstm_rec:,} "
                      "({rec:.0%} fewer); whole model {gru_total:,} vs {lstm_total:,} ({tot:.1%} fewer: the "
                      "embedding dominates)").format(
            gru_blocks=fg["weight_matrices"], lstm_blocks=fl["weight_matrices"], gru_rec=fg["params_recurrent"],
            lstm_rec=fl["params_recurrent"], rec=rec, gru_total=fg["params_total"], lstm_total=fl["params_total"],
            tot=tot),
        "verdict": _verdict("holds" if fg["params_total"] < fl["params_total"] else "does not hold here"),
    })
    rows.append(_speed_claim(gru, lstm))
    rows.append(_memory_claim(gru, lstm, fg, fl, live or {}, stats or {}))
    rows.append(_accuracy_claim(gru, lstm, stats or {}))
    return rows


def _verdict(key: str) -> str:
    return _(VERDICTS[key])


def _speed_claim(gru: SentimentModel, lstm: SentimentModel) -> dict:
    eg, el = epoch_seconds(gru.metrics), epoch_seconds(lstm.metrics)
    hw_g, hw_l = gru.metrics.get("hardware"), lstm.metrics.get("hardware")
    dev_g, dev_l = gru.metrics.get("device"), lstm.metrics.get("device")
    claim = _("Trains faster")
    if eg is None or el is None:
        return {"claim": claim, "measured": _("no training history in metrics.json"),
                "verdict": _verdict("not measured yet")}
    if (hw_g, dev_g) != (hw_l, dev_l):
        return {"claim": claim,
                "measured": _("GRU {gru:.1f} s/epoch on {gru_device}, LSTM {lstm:.1f} s/epoch on {lstm_device}: "
                              "different hardware, not comparable").format(gru=eg, gru_device=dev_g, lstm=el,
                                                                           lstm_device=dev_l),
                "verdict": _verdict("depends")}
    why = ""
    if el < eg and dev_g == "cpu":
        why = _(" On CPU PyTorch runs nn.LSTM on a fused oneDNN kernel but nn.GRU step by step, "
                "so the LSTM's extra gate costs less than the GRU's unfused arithmetic.")
    return {"claim": claim,
            "measured": _("mean epoch: GRU {gru:.1f} s, LSTM {lstm:.1f} s on {device} ({hardware}), from "
                          "metrics.json.{why}").format(gru=eg, lstm=el, device=dev_g, hardware=hw_g, why=why),
            "verdict": _verdict("holds" if eg < 0.95 * el else ("does not hold here" if eg > 1.05 * el
                                                                 else "depends"))}


def _memory_claim(gru: SentimentModel, lstm: SentimentModel, fg: dict, fl: dict, live: dict, stats: dict) -> dict:
    weights = _("weights {gru:.2f} vs {lstm:.2f} MiB").format(gru=fg["weights_bytes"] / 2**20,
                                                             lstm=fl["weights_bytes"] / 2**20)
    lg, ll = live.get(gru.name), live.get(lstm.name)
    if lg and ll:  # measured live: those numbers (or why they failed), not the stored ones
        mg, ml, where = stored_memory(lg), stored_memory(ll), _("measured live on this server")
        failed = memory_error(lg) or memory_error(ll)
    else:
        mg, ml = stored_memory(stats.get(gru.name)), stored_memory(stats.get(lstm.name))
        where, failed = _("stored by the stats command (stats.json)"), None
    claim = _("Uses less memory")
    if mg is None or ml is None:
        return {"claim": claim,
                "measured": (_("{on_disk}; peak inference memory could not be measured: {why}").format(
                    on_disk=weights, why=failed) if failed else
                    _("{on_disk}; peak inference memory not stored: run `python -m gru_core stats` or the live "
                      "measurement").format(on_disk=weights)),
                "verdict": _verdict("not measured yet")}
    return {"claim": claim,
            "measured": _("peak inference memory, batch {batch} × {words} words, {where}: GRU {gru:.1f} MiB, "
                          "LSTM {lstm:.1f} MiB; {on_disk}").format(batch=BATCH, words=N_WORDS, where=where,
                                                                   gru=mg / 2**20, lstm=ml / 2**20, on_disk=weights),
            "verdict": _verdict("holds" if mg < 0.95 * ml else ("does not hold here" if mg > 1.05 * ml
                                                                 else "depends"))}


def _accuracy_claim(gru: SentimentModel, lstm: SentimentModel, stats: dict) -> dict:
    sg, sl = stats.get(gru.name) or {}, stats.get(lstm.name) or {}
    claim = _("Performs about as well")
    if not sg.get("test_proba") or not sl.get("test_proba") or sg.get("test_ids_sha256") != sl.get("test_ids_sha256"):
        return {"claim": claim,
                "measured": _("needs both models' predictions on the same test reviews: "
                              "`python -m gru_core stats --model ...`"),
                "verdict": _verdict("not measured yet")}
    return {"claim": claim, **accuracy_verdict(
        paired_comparison(sg["test_proba"], sl["test_proba"], sg["test_labels"]))}


def accuracy_verdict(cmp: dict, first: str = "GRU", second: str = "LSTM") -> dict:
    """The "performs about as well" verdict from a paired comparison (``stats.paired_comparison``).

    No significant difference (McNemar p ≥ 0.05), or the first model significantly better: holds;
    the second significantly better: does not hold here. The interval says how large the gap can be.
    """
    low, high = cmp["ci"]
    points = _("difference {first} − {second} {difference:+.2f} points, {level:.0%} CI [{low:+.2f}, {high:+.2f}]"
               ).format(first=first, second=second, difference=cmp["difference"] * 100, level=cmp["level"],
                        low=low * 100, high=high * 100)
    counts = _("IMDB test accuracy {first} {accuracy_first:.2%}, {second} {accuracy_second:.2%} on the same {n:,} "
               "reviews; only {first} right on {only_first:,}, only {second} right on {only_second:,}").format(
        first=first, second=second, accuracy_first=cmp["accuracy_a"], accuracy_second=cmp["accuracy_b"],
        n=cmp["n"], only_first=cmp["only_a_right"], only_second=cmp["only_b_right"])
    p = cmp["p_value"]
    if p >= SIGNIFICANCE:
        return {"measured": _("{counts}. No significant difference (McNemar exact p = {p:.2g}); {points}.").format(
                    counts=counts, p=p, points=points),
                "verdict": _verdict("holds")}
    better = first if cmp["difference"] > 0 else second
    return {"measured": _("{counts}. {better} is significantly more accurate (McNemar exact p = {p:.2g}); "
                          "{points}.").format(counts=counts, better=better, p=p, points=points),
            "verdict": _verdict("holds" if better == first else "does not hold here")}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.2%}"


def _one_or_each(values: list[str]) -> str:
    return values[0] if len(set(values)) == 1 else _("differs by model")


# The rows of the comparison table, by key (the English label is the row's name in English).
ROWS = {
    "architecture": N_("architecture"),
    "gates": N_("gates"),
    "weight matrices (blocks)": N_("weight matrices (blocks)"),
    "parameters: embedding": N_("parameters: embedding"),
    "parameters: recurrent layer": N_("parameters: recurrent layer"),
    "parameters: output layer": N_("parameters: output layer"),
    "parameters: total": N_("parameters: total"),
    "weights on disk (model.safetensors)": N_("weights on disk (model.safetensors)"),
    "IMDB test accuracy": N_("IMDB test accuracy"),
    "IMDB test precision": N_("IMDB test precision"),
    "IMDB test recall": N_("IMDB test recall"),
    "IMDB test F1": N_("IMDB test F1"),
    "Rotten Tomatoes accuracy (out of domain)": N_("Rotten Tomatoes accuracy (out of domain)"),
    "training seconds per epoch": N_("training seconds per epoch"),
    "training hardware": N_("training hardware"),
    "latency, one 100-word review": N_("latency, one 100-word review"),
    "latency, one 500-word review": N_("latency, one 500-word review"),
    "throughput, batch 256 × 200 words": N_("throughput, batch 256 × 200 words"),
}


def comparison_table(models: list[SentimentModel], live: dict[str, dict] | None = None,
                     stats: dict[str, dict] | None = None) -> pd.DataFrame:
    """One column per model, one row per quantity (as display strings, in the current language), and a last
    column, "source", saying where each row comes from: the weights, metrics.json (the training run's machine),
    stats.json (the stats command's machine) or a measurement live on this server."""
    live, stats = live or {}, stats or {}
    trained = _one_or_each([f"{m.metrics.get('device', '?')}: {m.metrics.get('hardware', '?')}" for m in models])
    stored = _one_or_each([((stats.get(m.name) or {}).get("inference_memory") or {}).get("hardware", "?")
                           for m in models])
    live_now = any(live.get(m.name) for m in models)
    here = _("measured live on this server") if live_now else _("measured live on this server (press the button)")
    weights = _("the weights (model.safetensors, config.json)")
    training = _("metrics.json (the training run; {hardware})").format(hardware=trained)
    memory_source = here if live_now else _("stats.json (the stats command; {hardware})").format(hardware=stored)
    not_measured = _("not measured")
    memory_row = _("peak inference memory, batch {batch} × {words} words").format(batch=BATCH, words=N_WORDS)
    cols: dict[str, dict[str, str]] = {}
    sources: dict[str, str] = {}
    for m in models:
        f = architecture_facts(m)
        test, rt = m.metrics.get("imdb_test", {}), m.metrics.get("rt_polarity", {})
        eps = epoch_seconds(m.metrics)
        lv = live.get(m.name) or {}
        if lv:
            mem, why = stored_memory(lv), memory_error(lv) or _("not measurable here")
        else:
            mem, why = stored_memory(stats.get(m.name)), _("not measured (run the stats command)")
        rows = [  # (row, value, where it comes from): each row named once
            ("architecture", _(ARCHS[m.arch].display), weights),
            ("gates", _("{n} ({names})").format(n=f["gates"], names=_gates(f["gate_names"])) if f["gates"]
             else _("0 (no gates)"), weights),
            ("weight matrices (blocks)", str(f["weight_matrices"]), weights),
            ("parameters: embedding", f"{f['params_embedding']:,}", weights),
            ("parameters: recurrent layer", f"{f['params_recurrent']:,}", weights),
            ("parameters: output layer", f"{f['params_dense']:,}", weights),
            ("parameters: total", f"{f['params_total']:,}", weights),
            ("weights on disk (model.safetensors)", f"{f['weights_bytes'] / 2**20:.2f} MiB", _("the file's size")),
            ("IMDB test accuracy", _pct(test.get("accuracy")), training),
            ("IMDB test precision", _pct(test.get("precision")), training),
            ("IMDB test recall", _pct(test.get("recall")), training),
            ("IMDB test F1", "—" if test.get("f1") is None else f"{test['f1']:.4f}", training),
            ("Rotten Tomatoes accuracy (out of domain)", _pct(rt.get("accuracy")), training),
            ("training seconds per epoch", "—" if eps is None else f"{eps:.1f} s", training),
            ("training hardware", f"{m.metrics.get('device', '?')}: {m.metrics.get('hardware', '?')}", "metrics.json"),
            ("latency, one 100-word review", f"{lv['latency_100_s'] * 1e3:.1f} ms" if lv else not_measured, here),
            ("latency, one 500-word review", f"{lv['latency_500_s'] * 1e3:.1f} ms" if lv else not_measured, here),
            ("throughput, batch 256 × 200 words",
             _("{n:,.0f} reviews/s").format(n=lv["throughput_256"]) if lv else not_measured, here),
            (memory_row, f"{mem / 2**20:.1f} MiB" if mem is not None else why, memory_source),
        ]
        cols[m.name] = {_(ROWS[row]) if row in ROWS else row: value for row, value, _source in rows}
        sources = {_(ROWS[row]) if row in ROWS else row: source for row, _value, source in rows}
    table = pd.DataFrame(cols)
    if models:
        table[_("source")] = [sources[row] for row in table.index]
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
    d = min(len(raw) for raw, _rel, _scale in curves.values()) - 1
    top = max(curves, key=lambda n: curves[n][0][0])
    others = [n for n in curves if n != top]
    above = bool(others) and all(np.all(curves[top][0][:d + 1] > curves[n][0][:d + 1]) for n in others)
    far = max(curves, key=lambda n: curves[n][0][d])
    raw_line = (_("Raw gradients (test average): **{top}**'s curve is the highest at the last word and lies above "
                  "{others} at every distance up to {d}.") if above else
                _("Raw gradients (test average): **{top}**'s curve is the highest at the last word; at distance {d} "
                  "the highest is **{far}**'s.")).format(top=top, others=_(", ").join(others), d=d, far=far)
    scales = _(", ").join(_("{model} {value:.2f}").format(model=n, value=curves[n][2]) for n in curves)
    lines = [raw_line + _(" Their logit scales differ: mean |logit| on the test reviews is {scales}. The "
                                "gradient of a larger logit tends to be larger at every word, so the raw heights mix "
                                "each model's scale with how far back it remembers; the scale-free curves separate "
                                "the two.").format(scales=scales)]
    parts = []
    for n, (_raw, rel, _scale) in curves.items():
        tenth = np.flatnonzero(rel[:d + 1] < 0.1)
        parts.append(_("**{model}** {share:.2g} (below a tenth from distance {d})").format(
            model=n, share=rel[d], d=tenth[0]) if len(tenth) else
            _("**{model}** {share:.2g} (never below a tenth)").format(model=n, share=rel[d]))
    order = sorted(curves, key=lambda n: curves[n][1][d])
    lines.append(_("Normalised to the last word, a word {d} words before the end keeps this share of the last "
                   "word's gradient (median over reviews): {parts}.").format(d=d, parts=_("; ").join(parts))
                 + (_(" It falls fastest for **{fastest}** and slowest for **{slowest}**.").format(
                     fastest=order[0], slowest=order[-1]) if len(order) > 1 else ""))
    return lines
