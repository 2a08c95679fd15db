"""Run every benchmark, each in its own process, and write benchmarks/RESULTS.md (machine, versions, date, figures).

    python benchmarks/report.py [--against DIR] [--only NAME,...]

Each section is what one benchmark printed, with the load average before it (these machines are shared and
noisy: ratios printed by one benchmark are measured side by side in one run). ``--against DIR`` passes another
checkout (an older commit) to the benchmarks that measure two side by side. Needs the IMDB data
(GRU_EXPLORER_IMDB) for ``python -m gru_core bench`` and Debian's Chromium for the browser benchmarks.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import altair
import streamlit
import torch

from gru_core.atomic import write_bytes_atomic
from gru_core.experiment import hardware

# (name, title, command, takes --against): in the order the README's speed section cites them.
BENCHMARKS = [
    ("core", "Core (`python -m gru_core bench`)", ["-m", "gru_core", "bench"], False),
    ("page", "Gate Explorer page, server side (`python benchmarks/page_bench.py`)", ["benchmarks/page_bench.py"], True),
    ("pages", "Every page's first open without the dataset (`python benchmarks/pages_bench.py`)",
     ["benchmarks/pages_bench.py"], True),
    ("cell", "Inside the cell page, server side (`python benchmarks/cell_bench.py`)", ["benchmarks/cell_bench.py"],
     False),
    ("browser", "One browser session (`python benchmarks/browser_bench.py`)", ["benchmarks/browser_bench.py"], False),
    ("capacity", "One server's capacity (`python benchmarks/capacity.py`)", ["benchmarks/capacity.py"], False),
    ("burst", "A class pressing Explore at once (`python benchmarks/capacity.py --burst 30`)",
     ["benchmarks/capacity.py", "--burst", "30"], False),
    ("load", "Many browsers at once (`python benchmarks/load_test.py`)", ["benchmarks/load_test.py"], False),
]


def run_one(args: list[str], against: Path | None, takes_against: bool) -> str:
    cmd = [sys.executable, *args] + (["--against", str(against)] if against and takes_against else [])
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, timeout=3600)
    out = done.stdout.strip()
    if done.returncode != 0:
        out += f"\n(exit {done.returncode})\n" + done.stderr.strip()[-1500:]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--against", type=Path, help="another checkout, measured beside this one where a benchmark can")
    p.add_argument("--only", help="comma-separated names: " + ", ".join(b[0] for b in BENCHMARKS))
    a = p.parse_args()
    only = set(a.only.split(",")) if a.only else {b[0] for b in BENCHMARKS}
    sections = []
    for name, title, args, takes_against in BENCHMARKS:
        if name not in only:
            continue
        load = os.getloadavg()[0]
        print(f"== {title}", flush=True)
        out = run_one(args, a.against.resolve() if a.against else None, takes_against)
        print(out, flush=True)
        sections += [f"## {title}", "", f"Load average before: {load:.1f}.", "", "```text", out, "```", ""]
    text = "\n".join([
        "# Benchmark results",
        "",
        f"Written by `python benchmarks/report.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
        + (f", against `{a.against}`" if a.against else "") + ".",
        (f"Machine: {hardware()}; Python {platform.python_version()}, torch {torch.__version__}, "
         f"streamlit {streamlit.__version__}, altair {altair.__version__}."),
        ("Each section is what one benchmark printed, in its own process; ratios are measured side by side in one "
         "run (these machines are noisy)."),
        "",
        *sections,
    ])
    write_bytes_atomic(ROOT / "benchmarks" / "RESULTS.md", text.encode())


if __name__ == "__main__":
    main()
