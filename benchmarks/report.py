"""Run every benchmark and write benchmarks/RESULTS.md (machine, versions, date, figures).

    python benchmarks/report.py [--sessions 8] [--reviews 200]

Needs the IMDB data (GRU_EXPLORER_IMDB) and Debian's Chromium for the load test.
"""
from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import altair
import streamlit
import torch

from benchmarks.cell_bench import bench_cell
from benchmarks.cell_bench import summary as cell_summary
from benchmarks.harness import ROOT, streamlit_server
from benchmarks.load_test import run_load
from benchmarks.load_test import summary as load_summary
from benchmarks.page_bench import bench_page
from benchmarks.page_bench import summary as page_summary
from gru_core.atomic import write_bytes_atomic
from gru_core.bench import run_bench, summary_lines
from gru_core.experiment import hardware


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument("--reviews", type=int, default=200)
    p.add_argument("--steps", type=int, default=30, help="training steps timed per loop")
    a = p.parse_args()
    core = run_bench(str(ROOT / "models" / "gru"), None, a.steps)
    page = bench_page()
    cell = bench_cell()
    with streamlit_server(ROOT / "test-artifacts" / "report-streamlit.log") as (url, proc):
        load = run_load(url, proc.pid, a.sessions, a.reviews)
    text = "\n".join([
        "# Benchmark results",
        "",
        f"Written by `python benchmarks/report.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.",
        (f"Machine: {hardware()}; Python {platform.python_version()}, torch {torch.__version__}, "
         f"streamlit {streamlit.__version__}, altair {altair.__version__}."),
        "Ratios are measured side by side in one run (these machines are noisy).",
        "",
        "## Core (`python -m gru_core bench`)",
        "",
        *[f"- {line}" for line in summary_lines(core)],
        "",
        "## Gate Explorer page, server side (`python benchmarks/page_bench.py`)",
        "",
        f"- {page_summary(page)}",
        "",
        "## Inside the cell page, server side (`python benchmarks/cell_bench.py`)",
        "",
        *[f"- {line.strip()}" for line in cell_summary(cell).splitlines()],
        "",
        "## Many users at once (`python benchmarks/load_test.py`)",
        "",
        *[f"- {line}" for line in load_summary(load).splitlines()],
        "",
    ])
    write_bytes_atomic(ROOT / "benchmarks" / "RESULTS.md", text.encode())
    print(text)


if __name__ == "__main__":
    main()
