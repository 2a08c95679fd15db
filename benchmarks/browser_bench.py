"""One browser session on the Gate Explorer, timed the way a user feels it (Debian's Chromium, headless).

    python benchmarks/browser_bench.py [--reviews 10] [--words 200]

- Enter → verdict and heatmap: for ``--reviews`` new reviews of ``--words`` words, the time from Ctrl+Enter
  until the page shows the model's own P(positive) for the new text, until the open gate tab's heatmap has
  been repainted with the new review, and until the whole run (word influence included) has finished.
- A 500-word review's heatmap: the time from moving the mouse onto a cell until the tooltip shows that cell,
  and from clicking a cell until the unit inspector shows the clicked unit (a server run).

Every step waits on a condition in the page; the trace of the same review is timed in this process beside
it, so the figures can be read as ratios.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import CHROMIUM, CHROMIUM_FLAGS, ROOT, SETTLED_JS, streamlit_server
from gru_core import load_model
from gru_core.examples import review_of
from gru_core.experiment import hardware
from gru_core.timing import timed

HEAT = "[data-testid='stTabs'] [role='tabpanel']:not([hidden]) .vega-embed canvas"
PAINT_JS = f"""() => {{ const c = document.querySelector("{HEAT}");
    if (!c || !c.width) return ""; const u = c.toDataURL(); let h = 0;
    for (let i = 0; i < u.length; i += 7) h = (h * 31 + u.charCodeAt(i)) | 0; return String(h) + ":" + u.length; }}"""


def metric_js(label: str, value: str) -> str:
    return (f"() => [...document.querySelectorAll('[data-testid=\"stMetric\"]')].some(m => "
            f"m.innerText.includes({label!r}) && m.innerText.includes({value!r}))")


def enter_times(page, model, reviews: int, words: int, first_seed: int = 1000) -> list[dict]:
    area = page.get_by_label("Review", exact=True)
    out = []
    for k in range(reviews):
        text = review_of(model, words, first_seed + k)  # each a new review
        expected = f"{model.trace(text).proba:.3f}"
        before = page.evaluate(PAINT_JS)
        area.fill(text)
        t0 = time.perf_counter()
        area.press("Control+Enter")
        page.wait_for_function(metric_js("P(positive)", expected), timeout=120_000)
        verdict = time.perf_counter() - t0
        page.wait_for_function(f"() => {{ const p = ({PAINT_JS})(); return p && p !== {before!r}; }}",
                               timeout=120_000, polling=20)
        heat = time.perf_counter() - t0
        page.wait_for_function(SETTLED_JS, timeout=120_000)
        done = time.perf_counter() - t0
        trace_s = timed(lambda text=text: model.trace(text))
        out.append({"verdict_s": verdict, "heatmap_s": heat, "done_s": done, "trace_s": trace_s})
    return out


def hover_and_click(page, model, words: int = 500, points: int = 20) -> dict:
    area = page.get_by_label("Review", exact=True)
    text = review_of(model, words, 77)
    area.fill(text)
    area.press("Control+Enter")
    page.wait_for_function(metric_js("P(positive)", f"{model.trace(text).proba:.3f}"), timeout=120_000)
    page.wait_for_function(SETTLED_JS, timeout=120_000)
    canvas = page.locator(HEAT).first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    rng = np.random.default_rng(0)
    hovers, shown = [], ""
    for k in range(points):  # a different word (column) each time: more than a cell's width apart
        x = box["x"] + box["width"] * (0.3 + 0.5 * k / points)  # the colour legend is on the right
        y = box["y"] + box["height"] * rng.uniform(0.1, 0.8)
        t0 = time.perf_counter()
        page.mouse.move(x, y, steps=2)
        page.wait_for_function("(prev) => { const t = document.querySelector('#vg-tooltip-element');"
                               " return t && t.classList.contains('visible') && t.innerText.includes('unit')"
                               " && t.innerText !== prev; }", arg=shown, timeout=10_000, polling=5)
        hovers.append(time.perf_counter() - t0)
        shown = page.inner_text("#vg-tooltip-element")
    lines = [line.strip() for line in shown.splitlines() if line.strip()]
    unit = int(lines[lines.index("unit") + 1])  # the tooltip lists field, value, field, value…
    t0 = time.perf_counter()
    page.mouse.click(x, y)
    page.wait_for_function(f"() => [...document.querySelectorAll('input[type=number]')].some(e => e.value === '{unit}')",
                           timeout=120_000)
    click = time.perf_counter() - t0
    page.wait_for_function(SETTLED_JS, timeout=120_000)
    return {"hover_s": hovers, "click_s": click, "cells": int(page.evaluate(
        f"() => {{ const c = document.querySelector(\"{HEAT}\"); return c.width * c.height; }}"))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reviews", type=int, default=10)
    p.add_argument("--words", type=int, default=200)
    p.add_argument("--app-root", type=Path, default=ROOT, help="serve the app of another checkout (an older commit)")
    a = p.parse_args()
    from playwright.sync_api import sync_playwright

    model = load_model(ROOT / "models" / "gru")
    with streamlit_server(ROOT / "test-artifacts" / "browser-bench-streamlit.log", root=a.app_root) as (url, _), \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(url + "/?model=gru")
        page.wait_for_selector("[data-testid='stMetric']", timeout=120_000)
        page.wait_for_function(SETTLED_JS, timeout=120_000)
        enter_times(page, model, 1, a.words, first_seed=999)  # warm-up: first chart code, first model use
        runs = enter_times(page, model, a.reviews, a.words)
        hc = hover_and_click(page, model)
        browser.close()
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"{a.app_root}: {hardware()}; Chromium headless, one session, 1280×900")
    print(f"Enter → verdict and heatmap, {a.reviews} new {a.words}-word reviews, median: verdict {med['verdict_s']:.2f} s, "
          f"heatmap repainted {med['heatmap_s']:.2f} s, run finished (word influence too) {med['done_s']:.2f} s; "
          f"the trace of the same review here: {med['trace_s'] * 1e3:.1f} ms "
          f"(heatmap / trace {med['heatmap_s'] / med['trace_s']:.0f}×)")
    hv = hc["hover_s"]
    print(f"500-word review, heatmap of the last 60 words drawn on canvas: hover → tooltip median "
          f"{statistics.median(hv) * 1e3:.0f} ms, p95 {float(np.percentile(hv, 95)) * 1e3:.0f} ms over {len(hv)} cells; "
          f"click → unit inspector shows the unit {hc['click_s']:.2f} s")


if __name__ == "__main__":
    main()
