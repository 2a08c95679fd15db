"""The "Where models fail" page in a real browser (Debian's Chromium via Playwright), through the app's navigation:
the slice chart renders, a click on one of its rows lists that slice's misread reviews (with the dataset), the
console stays clean; the README's screenshot."""
from __future__ import annotations

import json
import re

import pytest

from gru_core.analysis.slices import SLICES_FILE

pytest.importorskip("playwright.sync_api")


from .apphelpers import ROOT
from .test_browser import Page, browser, server  # noqa: F401  (fixtures, used by name)

HEADER = re.compile(r"(\S+) misreads ([\d,]+) of the ([\d,]+) reviews in “(.+?)”")


def header(p: Page) -> tuple[str, str]:
    m = HEADER.search(p.body())
    return m.group(1), m.group(4)


def test_slice_chart_renders_and_a_click_lists_reviews(server, browser, imdb_path):  # noqa: F811
    p = Page(browser, server[0])
    p.nav("Where models fail", "Accuracy per slice")
    p.charts(2)  # the slice chart and the reliability diagram
    p.wait_text("Open in the Gate Explorer")  # with the dataset the misread reviews are listed
    assert header(p) == ("gru", "has a negation")
    # Click the LSTM's dot on the 4-star row (Vega's SVG marks carry their data in aria-label).
    dot = p.page.locator(".vega-embed").first.locator('g.mark-symbol path[aria-label*="label: 4★; model: lstm;"]')
    assert dot.count() == 1
    dot.scroll_into_view_if_needed()
    dot.click(force=True)  # force: the faint row band under it is part of the same chart and takes the click too
    p.page.wait_for_function("() => document.body.innerText.includes('reviews in “4★”')", timeout=60_000)
    p.settle()
    row = json.loads((ROOT / "models" / "lstm" / SLICES_FILE).read_text())["slices"]["rating_4"]
    assert header(p) == ("lstm", "4★")
    assert f"lstm misreads {row['n'] - row['correct']:,} of the {row['n']:,} reviews" in p.body()
    # A click anywhere else in a row, on its band, picks that row too.
    band = p.page.locator(".vega-embed").first.locator('g.mark-rect path[aria-label^="label: 9★; model: gru;"]')
    band.first.click(force=True)
    p.page.wait_for_function("() => document.body.innerText.includes('reviews in “9★”')", timeout=60_000)
    p.settle()
    assert p.page.get_by_role("button", name="Open in the Gate Explorer").count() >= 1
    assert re.search(r"true label (positive|negative), \d+★", p.body())
    p.page.get_by_role("heading", name="Accuracy per slice").evaluate(
        "e => { e.scrollIntoView({block: 'start'}); window.scrollBy(0, -60); }")
    p.page.wait_for_timeout(500)  # let the scroll paint before the picture
    p.shot("screenshot-slices")  # the README's (docs/refresh_screenshots.py copies it)
    # A listed review opens in the Gate Explorer with its true label.
    p.page.get_by_role("button", name="Open in the Gate Explorer").first.click()
    p.wait_text("True label")
    p.settle()
    p.clean()


def test_state_search_builds_in_the_background_and_opens_a_match(server, browser, imdb_path):  # noqa: F811
    """The panel shows the build's progress (a fragment redrawn every second) and then the matches by itself."""
    p = Page(browser, server[0])
    p.type_review("I expected to hate this film, but it was not bad at all.")
    p.page.get_by_text("State search: where else the network was in this state").click()
    p.wait_text("best matches", timeout=300_000)  # no reload: the page reruns itself when the index is there
    p.settle()
    assert "stretches of 3 words in" in p.body()
    assert p.page.get_by_role("button", name="Open in the Gate Explorer").count() == 10
    p.page.get_by_role("button", name="Open in the Gate Explorer").first.click()
    p.wait_text("True label")
    p.settle()
    assert "not bad at all" not in p.page.get_by_label("Review", exact=True).input_value()
    p.clean()
