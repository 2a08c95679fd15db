"""Many users at once: concurrent browser sessions against one server, and memory over many reviews.

    python benchmarks/load_test.py [--sessions 8] [--reviews 200]

Each session types its own review, waits for its verdict and heatmaps, then
switches the model and waits again; its page must show its own words and the
verdicts the models give for its own text (no crosstalk through caches or
shared state). Prints p50/p95 time from Enter to the rendered result. Then one
session sends many distinct reviews while the server's resident memory is
sampled: the caches are bounded, so it must level off.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import CHROMIUM, CHROMIUM_FLAGS, ROOT, SETTLED_JS, rss_bytes, streamlit_server
from gru_core import load_model

WORDS = ["film", "movie", "acting", "plot", "story", "great", "awful", "boring", "brilliant", "fun", "dull", "superb", "waste", "loved", "hated", "ending", "music", "scenes", "characters", "director", "script", "funny", "sad", "slow", "beautiful", "terrible"]


def make_review(i: int, n: int = 14, seed: int = 0) -> tuple[str, str]:
    """A review with a unique marker word (so each session's own words can be recognised)."""
    rng = np.random.default_rng(seed * 100_003 + i)
    marker = f"zq{i:04d}x"
    return " ".join([*rng.choice(WORDS, size=n // 2), marker, *rng.choice(WORDS, size=n // 2)]) + ".", marker


async def _wait_text(page, *texts: str, timeout: float = 120_000) -> None:
    cond = " && ".join(f"document.body.innerText.includes({t!r})" for t in texts)
    await page.wait_for_function(f"() => ({cond}) && ({SETTLED_JS})()", timeout=timeout)
    await page.wait_for_function("() => document.querySelectorAll('.vega-embed').length >= 4", timeout=timeout)


async def _session(browser, url: str, i: int, expected: dict[str, dict[str, str]], markers: list[str]) -> dict:
    text, marker = expected["_reviews"][i]
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(url)
    await page.wait_for_selector('[data-testid="stMetric"]', timeout=120_000)
    await page.wait_for_function(SETTLED_JS, timeout=120_000)
    area = page.get_by_label("Review", exact=True)
    await area.fill(text)
    t0 = time.perf_counter()
    await area.press("Control+Enter")
    await _wait_text(page, marker, expected["gru"][text])
    first = time.perf_counter() - t0
    await page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()  # the model picker
    await page.get_by_role("option", name="lstm", exact=True).click()
    t1 = time.perf_counter()
    await _wait_text(page, marker, expected["lstm"][text], "lstm (LSTM)")
    second = time.perf_counter() - t1
    body = await page.inner_text("body")
    crosstalk = [m for m in markers if m != marker and m in body]
    await ctx.close()
    return {"session": i, "enter_to_result_s": first, "switch_model_s": second, "errors": errors,
            "crosstalk": crosstalk}


async def _memory(browser, url: str, pid: int, reviews: int, every: int = 25) -> list[tuple[int, int]]:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    await page.goto(url)
    await page.wait_for_selector('[data-testid="stMetric"]', timeout=120_000)
    area = page.get_by_label("Review", exact=True)
    samples = [(0, rss_bytes(pid))]
    for i in range(1, reviews + 1):
        text, marker = make_review(10_000 + i, seed=1)
        await area.fill(text)
        await area.press("Control+Enter")
        await page.wait_for_function(
            f"() => document.body.innerText.includes({marker!r}) && ({SETTLED_JS})()", timeout=120_000)
        if i % every == 0:
            samples.append((i, rss_bytes(pid)))
    await ctx.close()
    return samples


def expected_verdicts(n: int) -> dict:
    reviews = [make_review(i) for i in range(n)]
    out: dict = {"_reviews": reviews}
    for name in ("gru", "lstm"):
        model = load_model(ROOT / "models" / name)
        out[name] = {t: f"{model.trace(t).proba:.3f}" for t, _ in reviews}
    return out


async def run_load_async(url: str, pid: int, sessions: int = 8, reviews: int = 200) -> dict:
    from playwright.async_api import async_playwright

    expected = expected_verdicts(sessions)
    markers = [m for _, m in expected["_reviews"]]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        t = time.perf_counter()
        results = await asyncio.gather(*[_session(browser, url, i, expected, markers) for i in range(sessions)])
        wall = time.perf_counter() - t
        memory = await _memory(browser, url, pid, reviews) if reviews else []
        await browser.close()
    times = sorted(r["enter_to_result_s"] for r in results)
    return {
        "sessions": sessions, "wall_s": wall, "results": results,
        "p50_s": statistics.median(times),
        "p95_s": float(np.percentile(times, 95)),
        "switch_p50_s": statistics.median(r["switch_model_s"] for r in results),
        "memory": memory,
    }


def run_load(url: str, pid: int, sessions: int = 8, reviews: int = 200) -> dict:
    return asyncio.run(run_load_async(url, pid, sessions, reviews))


def summary(r: dict) -> str:
    lines = [(f"{r['sessions']} simultaneous browser sessions: Enter to rendered verdict and heatmaps "
              f"p50 {r['p50_s']:.2f} s, p95 {r['p95_s']:.2f} s; model switch p50 {r['switch_p50_s']:.2f} s "
              f"(all sessions done in {r['wall_s']:.1f} s).")]
    if r["memory"]:
        mem = ", ".join(f"{n}: {b / 2**20:.0f} MiB" for n, b in r["memory"])
        lines.append(f"Server resident memory after N distinct reviews — {mem}.")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument("--reviews", type=int, default=200)
    a = p.parse_args()
    with streamlit_server(ROOT / "test-artifacts" / "load-streamlit.log") as (url, proc):
        r = run_load(url, proc.pid, a.sessions, a.reviews)
    print(summary(r))


if __name__ == "__main__":
    main()
