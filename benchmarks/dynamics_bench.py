"""Server time of the Dynamics page without the dataset (AppTest, first open and rerun) for each shipped model.

Run: ``python benchmarks/dynamics_bench.py``. The first open includes reading ``dynamics.json``, the kick
table and tracing the modifier phrases; the model itself is already loaded by the app's first page.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["GRU_EXPLORER_IMDB"] = "/nonexistent"  # the page must not need the dataset

from tests.apphelpers import app


def main() -> None:
    for model in ("gru", "lstm", "rnn"):
        at = app()
        at.session_state["model"] = model
        at.run()
        at.switch_page("pages/dynamics.py")
        t = time.perf_counter()
        at.run()
        first = time.perf_counter() - t
        t = time.perf_counter()
        at.run()
        again = time.perf_counter() - t
        if at.exception:
            raise SystemExit(f"{model}: {at.exception[0].value}")
        print(f"{model}: first open {first:.2f} s, rerun {again:.2f} s (server time, AppTest)")


if __name__ == "__main__":
    main()
