"""The Unit atlas in a real browser (Debian's Chromium via Playwright), through the app's navigation:
the table and charts render, a row can be picked, the console stays clean; screenshot for the README."""
from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api")


from .test_browser import ARTIFACTS, Page, browser, server  # noqa: F401  (fixtures, used by name)

ROW_PX = 35  # st.dataframe's row height (and its header's)


def test_unit_atlas(server, browser):  # noqa: F811
    p = Page(browser, server[0])
    p.nav("Unit atlas", "All 100 units of gru")
    p.charts(2)  # the co-clustering heatmap and the ablation chart
    body = p.body()
    assert "Most activating" in body and "Most suppressing" in body and "What breaks without them" in body
    # Pick the row of unit 3 (the table starts in unit order): its row marker, left of the first column.
    grid = p.page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    p.page.mouse.click(box["x"] + 12, box["y"] + ROW_PX + 3 * ROW_PX + ROW_PX / 2)
    p.page.wait_for_function("() => document.body.innerText.includes('Unit 3\\n')", timeout=60_000)
    p.settle()
    assert "unit=3" in p.page.url
    top = "e => { e.scrollIntoView({block: 'start'}); window.scrollBy(0, -60); }"
    p.page.get_by_role("heading", name="Unit 3", exact=True).evaluate(top)
    p.page.wait_for_timeout(500)  # let the scroll paint before the picture
    p.shot("screenshot-units")  # the README's (docs/refresh_screenshots.py copies it)
    for heading, name in (("Units and words that go together", "units-cocluster"),
                          ("What breaks without them: ablation", "units-ablation")):
        p.page.get_by_role("heading", name=heading).evaluate(top)
        p.page.wait_for_timeout(500)
        p.shot(name)
    # The Gate Explorer's unit inspector shows the same unit.
    p.nav("Gate Explorer", "Unit inspector")
    p.page.wait_for_function(
        "() => [...document.querySelectorAll('input[type=number]')].some(e => e.value === '3')", timeout=60_000)
    assert "Unit 3 has output-layer weight" in p.body()
    # Clicking a heatmap cell picks its unit and word for the inspector (an Altair selection event).
    heat = p.page.locator('[role=tabpanel] .vega-embed').first
    heat.scroll_into_view_if_needed()
    box = heat.bounding_box()
    p.page.mouse.click(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.4)
    p.page.wait_for_function("() => document.body.innerText.includes('At word ')", timeout=60_000)
    p.settle()
    unit = int(re.search(r"[?&]unit=(\d+)", p.page.url).group(1))
    assert f"Unit {unit} has output-layer weight" in p.body()
    p.clean()
