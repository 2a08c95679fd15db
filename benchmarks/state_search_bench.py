"""The Explorer's state index: build time, memory and search time per model, and how much a build in the server's
background slows the Explorer's own work meanwhile.

Run: ``python benchmarks/state_search_bench.py`` (needs the IMDB dataset, GRU_EXPLORER_IMDB). For each shipped
model, in a fresh process (its memory figures are its own), it times the Explorer's trace of a new 200-word review with nothing else running, then builds the index as
the server does (``jobs.background.BackgroundJob``: a thread at niceness +10 on one torch thread) while timing the
same traces, then idle again; the ratio is build-time median over the idle medians, measured side by side. Then it
times searches: patterns from real stretches at several thresholds, lengths and both measures, each once at a new
threshold (the bit mask is built) and once again (it is reused).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.harness import ROOT, rss_bytes
from gru_core import load_imdb, load_model
from gru_core.analysis.state_search import build_state_index, on_units
from gru_core.experiment import hardware
from gru_core.jobs.background import BackgroundJob

MIB = 2**20


def _reviews(test, n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(test.tokens[i][:200]) + f" take {k}" for k, i in enumerate(rng.choice(len(test), n))]


def _trace_times(model, texts: list[str]) -> list[float]:
    out = []
    for t in texts:
        start = time.perf_counter()
        model.trace(t)
        out.append(time.perf_counter() - start)
    return out


def bench(name: str, test) -> None:
    model = load_model(ROOT / "models" / name)
    texts = _reviews(test, 100, seed=1)
    idle_before = _trace_times(model, texts)
    rss0 = rss_bytes(os.getpid())
    job = BackgroundJob(lambda progress, stop: build_state_index(model, test, progress=progress, stop=stop), name=name)
    peak = [rss0]

    def watch() -> None:
        while not job.finished:
            peak.append(rss_bytes(os.getpid()))
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()
    during, k = [], 0
    while not job.finished:  # the Explorer's work, over and over, for as long as the build runs
        during += _trace_times(model, [texts[k % len(texts)]])
        k += 1
    job.wait()
    if job.error:
        raise SystemExit(f"{name}: {job.error}")
    index = job.result
    idle_after = _trace_times(model, texts)
    idle = statistics.median(idle_before + idle_after)
    rss1 = rss_bytes(os.getpid())
    print(f"{name}: index of {len(index):,} reviews ({index.words:,} words) built in {job.seconds:.1f} s in the "
          f"background; holds {index.nbytes / MIB:.1f} MiB (with the bit mask of one threshold: "
          f"{(index.nbytes + index.words * 8 * -(-index.units // 64)) / MIB:.1f} MiB); the process grew by "
          f"{(max(peak) - rss0) / MIB:.0f} MiB at most during the build and {(rss1 - rss0) / MIB:.0f} MiB after it")
    if during:
        print(f"  Explorer trace of a new 200-word review: {1000 * idle:.1f} ms idle, "
              f"{1000 * statistics.median(during):.1f} ms during the build ({statistics.median(during) / idle:.2f}×, "
              f"{len(during)} traces)")
    first, again = [], []
    for j, text in enumerate(_reviews(test, 12, seed=2)):
        trace = model.trace(text)
        T = len(trace.tokens)
        for thr, length in ((0.1, 1), (0.2, 3), (0.3, 2), (0.2, 10), (0.1, 30)):
            a = (j * 7) % max(T - length, 1)
            units = on_units(trace.hidden, a, a + length, thr) if T >= length else []
            if len(units) == 0:
                continue
            for measure in ("jaccard", "lstmvis"):
                index._mask = None  # as at a new threshold: the bit mask is built
                first.append(index.search(units, length, thr, measure).seconds)
                again.append(index.search(units, length, thr, measure).seconds)
    print(f"  {len(first)} searches: {statistics.median(first):.3f} s median, {max(first):.3f} s at most with the "
          f"bit mask built; {statistics.median(again):.3f} s median, {max(again):.3f} s at most reusing it")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":  # one model in a fresh process: its memory is its own
        bench(sys.argv[2], load_imdb("test"))
        return
    print(hardware(), "| load average", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    for name in ("gru", "lstm", "rnn"):
        subprocess.run([sys.executable, __file__, "--one", name], check=True)
    print("load average after", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
