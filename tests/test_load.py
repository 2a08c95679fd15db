"""Many users at once against one real server (Playwright + Debian's Chromium)."""
from __future__ import annotations

import pytest

pytest.importorskip("playwright.async_api")

from benchmarks.harness import CHROMIUM, ROOT, streamlit_server
from benchmarks.load_test import run_load, summary


def test_eight_sessions_see_their_own_results_and_memory_stays_bounded(tmp_path):
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    with streamlit_server(ROOT / "test-artifacts" / "load-streamlit.log") as (url, proc):
        r = run_load(url, proc.pid, sessions=8, reviews=200)
    print("\n" + summary(r))
    for s in r["results"]:
        assert not s["crosstalk"], f"session {s['session']} saw another session's words: {s['crosstalk']}"
        assert not s["errors"], s["errors"]
    mem = dict(r["memory"])
    # The caches are bounded: after the first 100 reviews the server's memory levels off.
    assert mem[200] - mem[100] < 120 * 2**20, summary(r)
