"""The running app in a real browser (Debian's Chromium driven by Playwright).

Starts ``streamlit run app.py`` on a free local port, types reviews, waits for
the heatmaps, and checks what a user sees. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("GRU_EXPLORER_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    log = open(ARTIFACTS.mkdir(exist_ok=True) or ARTIFACTS / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("streamlit did not start; see test-artifacts/streamlit.log")
        time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _open(browser, url, width=1280):
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors, dialogs = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    _settle(page)
    return page, errors, dialogs


def _settle(page, timeout=90_000):
    """Wait for the app container and for no script to be running."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    page.wait_for_selector('[data-testid="stMetric"]', timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


def _type_review(page, text):
    area = page.get_by_label("Review", exact=True)
    area.fill(text)
    area.press("Control+Enter")
    page.wait_for_timeout(500)
    _settle(page)


def _heatmaps(page) -> int:
    return page.locator(".vega-embed canvas, .vega-embed svg.marks").count()


def test_type_a_review_and_see_verdict_words_and_heatmaps(server, browser):
    page, errors, dialogs = _open(browser, server)
    _type_review(page, "The first half was dull, but the ending was brilliant and moving.")
    page.wait_for_function("() => document.querySelectorAll('.vega-embed').length >= 4", timeout=60_000)
    assert _heatmaps(page) >= 4
    body = page.inner_text("body")
    assert "P(positive)" in body and ("positive" in body or "negative" in body)
    assert "brilliant" in body and "ending" in body
    page.screenshot(path=str(ARTIFACTS / "explorer.png"), full_page=False)
    assert not dialogs and not errors, (dialogs, errors)
    page.close()


def test_hostile_review_does_not_execute(server, browser):
    page, errors, dialogs = _open(browser, server)
    payload = 'Nice <img src=x onerror=alert(1)> film <script>alert(2)</script>'
    _type_review(page, payload)
    page.wait_for_timeout(1000)
    assert not dialogs
    assert "<img src=x onerror=alert(1)>" in page.inner_text("body")
    assert not errors, errors
    page.close()


def test_comparison_page_through_the_navigation(server, browser):
    page, errors, dialogs = _open(browser, server)
    page.get_by_role("link", name="GRU vs LSTM").click()
    page.wait_for_selector("text=The seed's claims, checked", timeout=60_000)
    _settle(page)
    page.wait_for_function("() => document.querySelectorAll('.vega-embed').length >= 5", timeout=60_000)
    body = page.inner_text("body")
    assert "560,701" in body and "Trains faster" in body
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=False)
    assert not errors, errors
    page.close()
