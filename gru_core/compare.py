"""GRU vs LSTM vs RNN: architecture facts, live measurements, and the seed's claims checked.

The seed material claims a GRU has a simpler structure (2 gates vs 3), fewer
parameters (3 weight matrices vs 4), trains faster, uses less memory and
performs about as well as an LSTM. ``claims`` turns each into a measured
verdict from the shipped models' files and this machine.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .archs import ARCHS
from .model import parameter_counts
from .predictor import SentimentModel
from .timing import interleaved


def architecture_facts(model: SentimentModel) -> dict:
    """Gates, weight matrices, parameters by layer and bytes on disk."""
    counts = parameter_counts(model.module)
    size = sum(f.stat().st_size for f in Path(model.path).iterdir() if f.is_file()) if model.path else 0
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
        "checkpoint_bytes": size,
        "weights_bytes": weights.stat().st_size if weights and weights.exists() else 0,
    }


def review_of(model: SentimentModel, n_words: int, seed: int = 0) -> str:
    """A review of ``n_words`` known words (so exactly n_words steps are read)."""
    rng = np.random.default_rng(seed)
    words = [model.vocab.word(i) for i in range(2, min(len(model.vocab), 3000))]
    return " ".join(rng.choice(words, size=n_words))


def latency(model: SentimentModel, n_words: int, repeats: int = 15) -> float:
    """Median seconds to score one review of ``n_words`` words (tokenising included)."""
    text = review_of(model, n_words)
    return interleaved({"one": lambda: model.predict_proba([text])}, repeats)["one"]


def throughput(model: SentimentModel, batch: int = 256, n_words: int = 200, repeats: int = 5) -> float:
    """Reviews per second scoring a batch of ``batch`` reviews of ``n_words`` words (median of repeats)."""
    seqs = [model.encode(review_of(model, n_words, seed))[1] for seed in range(batch)]
    return batch / interleaved({"batch": lambda: model.predict_ids(seqs, batch_size=batch)}, repeats)["batch"]


def peak_inference_memory(model: SentimentModel, batch: int = 256, n_words: int = 200) -> int | None:
    """Extra resident memory (bytes) at the peak of scoring one batch, or None where not measurable.

    Measured in a fresh Python process (``gru_core.memprobe``) so that memory
    the allocator kept from earlier work cannot hide the cost.
    """
    if model.path is None:
        return None
    cmd = [sys.executable, "-m", "gru_core.memprobe", str(Path(model.path).resolve()), str(batch), str(n_words)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True,
                             cwd=Path(__file__).resolve().parent.parent).stdout
        value = json.loads(out.strip().splitlines()[-1])["peak_extra_bytes"]
    except (subprocess.SubprocessError, OSError, ValueError, KeyError, IndexError):
        return None
    return int(value) if value is not None else None


def measure_live(model: SentimentModel) -> dict:
    """Latency (100 and 500 words), throughput at batch 256, and peak inference memory."""
    return {
        "latency_100_s": latency(model, 100),
        "latency_500_s": latency(model, 500),
        "throughput_256": throughput(model),
        "peak_memory_bytes": peak_inference_memory(model),
    }


def epoch_seconds(metrics: dict) -> float | None:
    secs = [h["seconds"] for h in metrics.get("history", []) if h.get("complete", True)]
    return float(np.mean(secs)) if secs else None


def claims(gru: SentimentModel, lstm: SentimentModel, live: dict[str, dict] | None = None) -> list[dict]:
    """Each of the seed's claims about GRU vs LSTM with what was measured and a verdict.

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
    eg, el = epoch_seconds(gru.metrics), epoch_seconds(lstm.metrics)
    hw_g, hw_l = gru.metrics.get("hardware"), lstm.metrics.get("hardware")
    dev_g, dev_l = gru.metrics.get("device"), lstm.metrics.get("device")
    if eg is None or el is None:
        rows.append({"claim": "Trains faster", "measured": "no training history in metrics.json",
                     "verdict": "not measured yet"})
    elif (hw_g, dev_g) != (hw_l, dev_l):
        rows.append({"claim": "Trains faster",
                     "measured": f"GRU {eg:.1f} s/epoch on {dev_g}, LSTM {el:.1f} s/epoch on {dev_l}: "
                                 "different hardware, not comparable",
                     "verdict": "depends"})
    else:
        why = ""
        if el < eg and dev_g == "cpu":
            why = (" On CPU PyTorch runs nn.LSTM on a fused oneDNN kernel but nn.GRU step by step, "
                   "so the LSTM's extra gate costs less than the GRU's unfused arithmetic.")
        rows.append({
            "claim": "Trains faster",
            "measured": f"mean epoch: GRU {eg:.1f} s, LSTM {el:.1f} s on {dev_g} ({hw_g}).{why}",
            "verdict": "holds" if eg < 0.95 * el else ("does not hold here" if eg > 1.05 * el else "depends"),
        })
    lg, ll = (live or {}).get(gru.name), (live or {}).get(lstm.name)
    if lg and ll and lg.get("peak_memory_bytes") is not None and ll.get("peak_memory_bytes") is not None:
        mg, ml = lg["peak_memory_bytes"], ll["peak_memory_bytes"]
        rows.append({
            "claim": "Uses less memory",
            "measured": f"peak inference memory, batch 256 × 200 words: GRU {mg / 2**20:.1f} MiB, LSTM "
                        f"{ml / 2**20:.1f} MiB; weights {fg['weights_bytes'] / 2**20:.2f} vs "
                        f"{fl['weights_bytes'] / 2**20:.2f} MiB",
            "verdict": "holds" if mg < 0.95 * ml else ("does not hold here" if mg > 1.05 * ml else "depends"),
        })
    else:
        rows.append({
            "claim": "Uses less memory",
            "measured": f"weights {fg['weights_bytes'] / 2**20:.2f} vs {fl['weights_bytes'] / 2**20:.2f} MiB; "
                        "run the live measurements for peak inference memory",
            "verdict": "not measured yet",
        })
    ag = gru.metrics.get("imdb_test", {}).get("accuracy")
    al = lstm.metrics.get("imdb_test", {}).get("accuracy")
    if ag is None or al is None:
        rows.append({"claim": "Performs about as well", "measured": "no test accuracy in metrics.json",
                     "verdict": "not measured yet"})
    else:
        rows.append({
            "claim": "Performs about as well",
            "measured": f"IMDB test accuracy: GRU {ag:.2%}, LSTM {al:.2%} (difference "
                        f"{(ag - al) * 100:+.2f} points on 25,000 reviews)",
            "verdict": "holds" if round(abs(ag - al), 6) <= 0.01 else "does not hold here",
        })
    return rows


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.2%}"


def comparison_table(models: list[SentimentModel], live: dict[str, dict] | None = None) -> pd.DataFrame:
    """One column per model, one row per measured quantity (as display strings)."""
    cols = {}
    for m in models:
        f = architecture_facts(m)
        mt = m.metrics
        test = mt.get("imdb_test", {})
        rt = mt.get("rt_polarity", {})
        eps = epoch_seconds(mt)
        lv = (live or {}).get(m.name) or {}
        mem = lv.get("peak_memory_bytes")
        cols[m.name] = {
            "architecture": ARCHS[m.arch].display,
            "gates": f"{f['gates']} ({', '.join(f['gate_names'])})" if f["gates"] else "0 (no gates)",
            "weight matrices (blocks)": str(f["weight_matrices"]),
            "parameters: embedding": f"{f['params_embedding']:,}",
            "parameters: recurrent layer": f"{f['params_recurrent']:,}",
            "parameters: output layer": f"{f['params_dense']:,}",
            "parameters: total": f"{f['params_total']:,}",
            "checkpoint size on disk": f"{f['checkpoint_bytes'] / 2**20:.2f} MiB",
            "IMDB test accuracy": _pct(test.get("accuracy")),
            "IMDB test precision": _pct(test.get("precision")),
            "IMDB test recall": _pct(test.get("recall")),
            "IMDB test F1": "—" if test.get("f1") is None else f"{test['f1']:.4f}",
            "Rotten Tomatoes accuracy (out of domain)": _pct(rt.get("accuracy")),
            "training seconds per epoch": "—" if eps is None else f"{eps:.1f} s",
            "training hardware": f"{mt.get('device', '?')}: {mt.get('hardware', '?')}",
            "latency, one 100-word review": f"{lv['latency_100_s'] * 1e3:.1f} ms" if lv else "not measured",
            "latency, one 500-word review": f"{lv['latency_500_s'] * 1e3:.1f} ms" if lv else "not measured",
            "throughput, batch 256 × 200 words": f"{lv['throughput_256']:,.0f} reviews/s" if lv else "not measured",
            "peak inference memory, batch 256": (f"{mem / 2**20:.1f} MiB" if mem is not None else
                                                 ("not measurable here" if lv else "not measured")),
        }
    return pd.DataFrame(cols)


def history_frame(models: list[SentimentModel]) -> pd.DataFrame:
    """Long table of per-epoch train/validation loss and accuracy for each model."""
    rows = [row for m in models for row in history_rows(m.name, m.metrics.get("history", []))]
    return pd.DataFrame(rows, columns=["model", "epoch", "split", "measure", "value"])


def history_rows(name: str, history: list[dict]) -> list[dict]:
    """Rows of one run's per-epoch history (as ``fit`` records it): model, epoch, split, measure, value."""
    return [{"model": name, "epoch": h["epoch"], "split": split, "measure": measure, "value": h[f"{prefix}_{key}"]}
            for h in history for split, prefix in (("train", "train"), ("validation", "val"))
            for measure, key in (("loss", "loss"), ("accuracy", "acc"))]


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


def gradient_frame(curves: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long table of gradient size by distance from the end, one curve per model (NaNs dropped)."""
    rows = []
    for name, curve in curves.items():
        for d, g in enumerate(curve):
            if g is not None and np.isfinite(g) and g > 0:
                rows.append({"model": name, "distance": d, "gradient": float(g)})
    return pd.DataFrame(rows, columns=["model", "distance", "gradient"])
