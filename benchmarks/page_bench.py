"""Server-side run time of the Gate Explorer page for a 200-word review (AppTest, no browser).

    python benchmarks/page_bench.py [--model gru] [--words 200] [--repeats 5] [--against DIR] [--rounds 3]

The page runs as a server runs it, with the scripts' bytecode kept between runs (AppTest alone would compile
them again each time). Cold: a review not seen before (trace and word influence computed). Warm: the
same review again (served from the caches). Option: a display option changed
(unit order), which must not recompute the trace. Beside them, the trace of the
same reviews, timed in the same process: the page's cost as a multiple of it.

``--against DIR`` measures another checkout of the project too (an older commit, say), alternating between
the two in fresh processes ``--rounds`` times with the same reviews, and prints both and their ratio.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Runs in a fresh interpreter at the root of the checkout being measured, with only what every version of the
# project has: app.py, tests/apphelpers.py's app(), the model folders and the "Order units by" radio.
MEASURE = r"""
import json, statistics, sys, time
from pathlib import Path
sys.path.insert(0, str(Path.cwd()))
from tests.apphelpers import app
from gru_core import load_model
import streamlit.testing.v1.local_script_runner as runner
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
args = json.loads(sys.argv[1])
# AppTest compiles the page scripts afresh on every run; a server compiles each once and keeps the bytecode.
_compiled = ScriptCache()
runner.ScriptCache = lambda: _compiled

def run_once(at):
    t = time.perf_counter()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return time.perf_counter() - t

model = load_model(Path("models") / args["model"])
at = app(timeout=300)
at.session_state["model"] = args["model"]
at.session_state["review"] = args["warmup"]
run_once(at)  # imports, model load, first page build
cold, warm, option, trace = [], [], [], []
for k, text in enumerate(args["texts"]):
    at.session_state["review"] = text
    cold.append(run_once(at))
    warm.append(run_once(at))
    at.radio[0].set_value(["weight", "mean", "index"][k % 3])
    option.append(run_once(at))
    t = time.perf_counter()
    model.trace(text)
    trace.append(time.perf_counter() - t)
print(json.dumps({"cold_s": statistics.median(cold), "warm_s": statistics.median(warm),
                  "option_s": statistics.median(option), "trace_s": statistics.median(trace)}))
"""


def run_once(at) -> float:
    """Seconds of one AppTest run of the page (no exception allowed)."""
    t = time.perf_counter()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return time.perf_counter() - t


def measure(root: Path, model: str, texts: list[str], warmup: str) -> dict:
    """The page's median times in a fresh process at ``root``, for these reviews."""
    args = json.dumps({"model": model, "texts": texts, "warmup": warmup})
    done = subprocess.run([sys.executable, "-c", MEASURE, args], cwd=root, capture_output=True, text=True,
                          check=False, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"measuring {root} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def reviews(model_name: str, words: int, repeats: int) -> tuple[list[str], str]:
    from gru_core import load_model
    from gru_core.examples import review_of

    model = load_model(ROOT / "models" / model_name)
    return [review_of(model, words, k) for k in range(repeats)], review_of(model, words, 999)


def bench_page(model_name: str = "gru", words: int = 200, repeats: int = 5) -> dict:
    """Median seconds of the Gate Explorer's server-side run: new review, same review, option changed; and
    the trace of the same reviews."""
    texts, warmup = reviews(model_name, words, repeats)
    return {"model": model_name, "words": words, "repeats": repeats, **measure(ROOT, model_name, texts, warmup)}


def summary(r: dict) -> str:
    return (f"Gate Explorer, {r['words']}-word review, model {r['model']}, median of {r['repeats']}: "
            f"new review {r['cold_s']:.3f} s, same review again {r['warm_s']:.3f} s, "
            f"display option changed {r['option_s']:.3f} s; the trace of the same review {r['trace_s'] * 1e3:.1f} ms "
            f"(new review / trace {r['cold_s'] / r['trace_s']:.0f}×, option / new {r['option_s'] / r['cold_s']:.2f}×)")


def main() -> None:
    from gru_core.experiment import hardware

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="gru")
    p.add_argument("--words", type=int, default=200)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--against", type=Path, help="another checkout of the project to measure beside this one")
    p.add_argument("--rounds", type=int, default=3, help="with --against: alternations of the two")
    a = p.parse_args()
    print(hardware())
    if a.against is None:
        print(summary(bench_page(a.model, a.words, a.repeats)))
        return
    texts, warmup = reviews(a.model, a.words, a.repeats)
    runs: dict[str, list[dict]] = {"this": [], "other": []}
    for _ in range(a.rounds):
        runs["other"].append(measure(a.against.resolve(), a.model, texts, warmup))
        runs["this"].append(measure(ROOT, a.model, texts, warmup))
    med = {k: {q: statistics.median(r[q] for r in v) for q in v[0]} for k, v in runs.items()}
    for k, where in (("other", a.against), ("this", ROOT)):
        print(f"{where}: " + summary({"model": a.model, "words": a.words, "repeats": a.repeats, **med[k]}))
    print("this / other: " + ", ".join(f"{q[:-2]} {med['this'][q] / med['other'][q]:.2f}×"
                                        for q in ("cold_s", "warm_s", "option_s")))


if __name__ == "__main__":
    main()
