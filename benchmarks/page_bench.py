"""Server-side run time of the Gate Explorer page for a 200-word review (AppTest, no browser).

    python benchmarks/page_bench.py [--model gru] [--repeats 5]

Cold: a review not seen before (trace and word influence computed). Warm: the
same review again (served from the caches). Option: a display option changed
(unit order), which must not recompute the trace.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gru_core import load_model
from gru_core.examples import review_of
from tests.apphelpers import app


def run_once(at: AppTest) -> float:
    t = time.perf_counter()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return time.perf_counter() - t


def bench_page(model_name: str = "gru", words: int = 200, repeats: int = 5) -> dict:
    """Median seconds of the Gate Explorer's server-side run: new review, same review, option changed."""
    model = load_model(ROOT / "models" / model_name)
    at = app(timeout=300)
    at.session_state["model"] = model_name
    at.session_state["review"] = review_of(model, words, 999)
    run_once(at)  # imports, model load, first page build
    cold, warm, option = [], [], []
    for k in range(repeats):
        at.session_state["review"] = review_of(model, words, k)
        cold.append(run_once(at))
        warm.append(run_once(at))
        at.radio[0].set_value(["weight", "mean", "index"][k % 3])
        option.append(run_once(at))
    return {"model": model_name, "words": words, "repeats": repeats, "cold_s": statistics.median(cold),
            "warm_s": statistics.median(warm), "option_s": statistics.median(option)}


def summary(r: dict) -> str:
    return (f"Gate Explorer, {r['words']}-word review, model {r['model']}, median of {r['repeats']}: "
            f"new review {r['cold_s']:.2f} s, same review again {r['warm_s']:.2f} s, "
            f"display option changed {r['option_s']:.2f} s (option/new {r['option_s'] / r['cold_s']:.2f}x)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="gru")
    p.add_argument("--words", type=int, default=200)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    print(summary(bench_page(a.model, a.words, a.repeats)))


if __name__ == "__main__":
    main()
