"""Server time of every page on its first open, without the dataset (AppTest, no browser).

    python benchmarks/pages_bench.py [--against DIR] [--rounds 3]

For each page, in a fresh process (a server just started): a visitor lands on the Gate Explorer and then
opens the page: "first open" is that page's run. Then a second visitor does the same on the now-warm server
("new visitor"). The dataset is hidden (GRU_EXPLORER_IMDB unset, no data/ found), as for a user who has
only the shipped models. ``--against DIR`` measures another checkout the same way, alternating.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MEASURE = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, str(Path.cwd()))
import streamlit.testing.v1.local_script_runner as runner
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from tests.apphelpers import app
_compiled = ScriptCache()  # a server compiles each page once
runner.ScriptCache = lambda: _compiled
page = sys.argv[1]

def visit():
    at = app(timeout=300)
    at.session_state["model"] = "gru"
    at.run()  # the Gate Explorer, where a visitor lands
    t = time.perf_counter()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return time.perf_counter() - t

print(json.dumps({"first_s": visit(), "new_visitor_s": visit()}))
"""


def pages(root: Path) -> list[str]:
    """The pages in the checkout's navigation (app.py), in order."""
    import re

    return re.findall(r'st\.Page\("(pages/[a-z_]+\.py)"', (root / "app.py").read_text(encoding="utf-8"))


def measure(root: Path, page: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("GRU_EXPLORER_IMDB", "GRU_EXPLORER_RT_POLARITY")}
    env["GRU_EXPLORER_IMDB"] = str(root / "no-dataset-here")  # a path that does not exist: no dataset
    done = subprocess.run([sys.executable, "-c", MEASURE, page], cwd=root, env=env, capture_output=True, text=True,
                          check=False, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{root} {page}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from gru_core.experiment import hardware

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--against", type=Path, help="another checkout to measure beside this one")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    roots = [ROOT] + ([a.against.resolve()] if a.against else [])
    print(f"{hardware()}; no dataset; median of {a.rounds} fresh processes per page and checkout")
    order = list(dict.fromkeys(page for root in roots for page in pages(root)))
    for page in order[1:]:  # the Gate Explorer is where every visit starts: its run is page_bench's
        runs: dict[Path, list[dict]] = {r: [] for r in roots if page in pages(r)}
        for _ in range(a.rounds):  # the checkouts alternate
            for root, got in runs.items():
                got.append(measure(root, page))
        print(f"{page}: " + "; ".join(
            f"{root.name} first open {statistics.median(x['first_s'] for x in v):.2f} s, new visitor "
            f"{statistics.median(x['new_visitor_s'] for x in v):.2f} s" for root, v in runs.items()), flush=True)

if __name__ == "__main__":
    main()
