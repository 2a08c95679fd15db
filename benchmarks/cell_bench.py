"""Server-side time of the Inside the cell page (AppTest, no browser), against the trace of the same review.

    python benchmarks/cell_bench.py [--model gru] [--words 200] [--repeats 3] [--play 10]

A new review of ``--words`` words, not seen before: the diagram and forward pass (sections 1 and 2, the page's
fragment) and the backward section (BPTT of the GRU, the LSTM and the RNN, the two paths, the heatmap, the weight
gradients and one SGD step followed on the examples, and on 200 IMDB test reviews when the dataset is set), as
the page measures them (``st.session_state["_cell_timing"]``). A Play step: the median server time of one word of
▶ Play over the last ``--play`` words, the pause between words left out. Each time is printed with its ratio to
the trace of the same review (``model.trace``) measured in this run, with the CPU and the load average.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gru_core import load_model
from gru_core.examples import review_of
from gru_core.experiment import hardware
from tests.apphelpers import app

TARGETS = {"cell": 0.5, "backward": 1.0, "play_frame": 0.3}  # seconds, from the issue


def _run(at) -> float:
    t = time.perf_counter()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return time.perf_counter() - t


def trace_seconds(model, text: str, repeats: int = 9) -> float:
    """Median seconds of ``model.trace(text)`` after one untimed call."""
    model.trace(text)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.trace(text)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_cell(model_name: str = "gru", words: int = 200, repeats: int = 3, play: int = 10) -> dict:
    model = load_model(ROOT / "models" / model_name)
    texts = [review_of(model, words, k) for k in range(repeats)]
    traces = [trace_seconds(model, text) for text in texts]  # before the app's threads are busy
    load_before = os.getloadavg()
    at = app(timeout=600)
    at.session_state["model"] = model_name
    at.session_state["review"] = review_of(model, words, 999)
    _run(at)
    at.switch_page("pages/cell.py")
    _run(at)  # imports, the three models, functorch's first vjp, the probe reviews
    rows = []
    for text, trace in zip(texts, traces):
        at.session_state["review"] = text
        total = _run(at)
        timing = dict(at.session_state["_cell_timing"])
        rows.append({"total": total, "cell": timing["cell"], "backward": timing["backward"], "trace": trace})
    at.slider(key="_cell_word_slider").set_value(words - play + 1)
    _run(at)
    at.button(key="cell_play").click()
    _run(at)
    frame = at.session_state["_cell_timing"]["play_frame"]
    trace = statistics.median(r["trace"] for r in rows)
    return {"model": model_name, "words": words, "repeats": repeats, "play_words": play,
            "cell_s": statistics.median(r["cell"] for r in rows),
            "backward_s": statistics.median(r["backward"] for r in rows),
            "total_s": statistics.median(r["total"] for r in rows), "play_frame_s": frame, "trace_s": trace,
            "load_before": load_before, "load_after": os.getloadavg(), "machine": hardware(),
            "dataset": "IMDB test reviews followed" if os.environ.get("GRU_EXPLORER_IMDB") else "no dataset"}


def summary(r: dict) -> str:
    lines = [(f"Inside the cell, new {r['words']}-word review, model {r['model']}, median of {r['repeats']} "
             f"({r['dataset']}); trace of the same review {r['trace_s'] * 1000:.0f} ms:")]
    for key, label in (("cell", "diagram and forward pass"), ("backward", "backward section, three models"),
                       ("play_frame", f"one Play step (over {r['play_words']} words)")):
        s = r[f"{key}_s"]
        lines.append(f"  {label}: {s:.2f} s = {s / r['trace_s']:.1f}x the trace (target <= {TARGETS[key]:g} s: "
                     f"{'met' if s <= TARGETS[key] else 'NOT met'})")
    lines.append(f"  whole page run: {r['total_s']:.2f} s")
    lines.append(f"  machine: {r['machine']}; load average {r['load_before'][0]:.1f} before, "
                 f"{r['load_after'][0]:.1f} after")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="gru")
    p.add_argument("--words", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--play", type=int, default=10, help="words of ▶ Play timed (the last ones of the review)")
    a = p.parse_args()
    print(summary(bench_cell(a.model, a.words, a.repeats, a.play)))


if __name__ == "__main__":
    main()
