"""The Gate Explorer's server time for a new 200-word review while a dashboard training run trains, against idle.

    python benchmarks/train_load_bench.py [--words 200] [--repeats 5] [--unbounded]

One script, one process: the page runs as the server runs it (AppTest through
app.py, as page_bench.py does); the run is started through the same registry
the Train page uses (a child process at a lower priority with a bounded number
of torch threads), on the IMDB data when it is available and on made-up reviews
otherwise. Idle is measured before and after the run, and the medians compared.
``--unbounded`` also measures a run at normal priority with every core's threads,
to show what the bounds buy. Target: loaded / idle ≤ 1.5.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.page_bench import run_once
from gru_core import DataNotFoundError, load_model
from gru_core.data import ENV_CACHE, resolve_imdb_path
from gru_core.examples import review_of
from gru_core.jobs.runs import NICE, Registry, train_threads
from gru_core.train import TrainConfig
from tests.apphelpers import app

RUN = TrainConfig(limit=10_000, epochs=20, device="cpu")  # the page's defaults, long enough to outlast the timing


def data_for_the_run(tmp: Path) -> tuple[str, str]:
    """(archive, what it is): the IMDB data, else made-up reviews (their cache in ``tmp``)."""
    try:
        return str(resolve_imdb_path()), "IMDB"
    except DataNotFoundError:
        from tests.tiny import write_imdb_tar

        os.environ[ENV_CACHE] = str(tmp / "cache")  # inherited by the run's process
        write_imdb_tar(tmp / "imdb.tar.gz", n_train=10_000, n_test=8, length=(150, 250))
        return str(tmp / "imdb.tar.gz"), "made-up reviews (no IMDB data here)"


def page_times(at, model, words: int, repeats: int, first_seed: int) -> list[float]:
    """Server seconds of the Gate Explorer for ``repeats`` reviews it has not seen."""
    times = []
    for k in range(repeats):
        at.session_state["review"] = review_of(model, words, first_seed + k)
        times.append(run_once(at))
    return times


def while_training(at, model, words: int, repeats: int, first_seed: int, data: str, tmp: Path,
                   threads: int, nice: int) -> list[float]:
    """Page times while a run trains (started as the Train page starts one, waited for until it takes steps)."""
    reg = Registry(local_root=tmp / f"local-{threads}-{nice}", limit=1, threads=threads, nice=nice)
    run = reg.start("bench", RUN, "bench-run", data, evaluate_test=False)
    try:
        while run.snapshot().step == 0:
            if run.finished:
                raise RuntimeError(f"the run ended before training: {run.snapshot().error}\n{run.output_tail()}")
            time.sleep(0.2)
        times = page_times(at, model, words, repeats, first_seed)
        if run.finished:
            raise RuntimeError("the run ended while the page was timed; the figure would be partly idle")
        return times
    finally:
        reg.shutdown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--words", type=int, default=200)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--unbounded", action="store_true", help="also time a run at normal priority, all threads")
    a = p.parse_args()
    model = load_model(ROOT / "models" / "gru")
    at = app(timeout=300)
    at.session_state["model"] = "gru"
    at.session_state["review"] = review_of(model, a.words, 999)
    run_once(at)  # imports, model load, first page build
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        data, what = data_for_the_run(tmp)
        idle = page_times(at, model, a.words, a.repeats, 0)
        busy = while_training(at, model, a.words, a.repeats, 100, data, tmp, train_threads(), NICE)
        idle += page_times(at, model, a.words, a.repeats, 200)
        loose = (while_training(at, model, a.words, a.repeats, 300, data, tmp, os.cpu_count() or 1, 0)
                 if a.unbounded else None)
    base = statistics.median(idle)
    print(f"Gate Explorer, new {a.words}-word review, server time, median of {a.repeats} "
          f"({os.cpu_count()} cores; run: {RUN.limit:,} reviews of {what}, hidden {RUN.hidden}):")
    print(f"  idle (before and after the run)            {base:.2f} s")
    print(f"  while a run trains (nice {NICE}, {train_threads()} thread(s)) {statistics.median(busy):.2f} s"
          f"  = {statistics.median(busy) / base:.2f}x idle (target <= 1.5x)")
    if loose is not None:
        print(f"  while a run trains (nice 0, {os.cpu_count()} threads)    {statistics.median(loose):.2f} s"
              f"  = {statistics.median(loose) / base:.2f}x idle")


if __name__ == "__main__":
    main()
