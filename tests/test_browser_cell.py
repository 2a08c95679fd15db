"""The Inside the cell page in a real browser (Debian's Chromium via Playwright), reached from the Gate Explorer's
link: the diagram renders, ◀ ▶ and Play move the word, picking a box (a click on the diagram or the control beside
it) opens its formula, a click on a strip picks its unit, the console stays clean; screenshot for the README."""
from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api")

from .test_browser import Page, browser, server  # noqa: F401  (fixtures, used by name)

DIAGRAM = ".vega-embed:has(canvas, svg.marks) >> nth=1"  # the words chart is the first, the diagram the second
GRU_GRID = (6, 4)  # the GRU diagram's columns and rows (charts/cell.py LAYOUTS)


def wait_word(p: Page, t: int, n: int) -> None:
    p.wait_text(f"Word {t} of {n}:", timeout=120_000)


def diagram_box(p: Page) -> dict:
    el = p.page.locator(".vega-embed").nth(1)
    el.scroll_into_view_if_needed()
    return el.bounding_box()


def click_grid(p: Page, col: float, row: float) -> None:
    """Click the diagram at a point of its grid (column, row in grid units)."""
    box = diagram_box(p)
    cols, rows = GRU_GRID
    p.page.mouse.click(box["x"] + box["width"] * col / cols, box["y"] + box["height"] * row / rows)


def test_inside_the_cell(server, browser):  # noqa: F811
    p = Page(browser, server[0])
    p.type_review("The first half was dull, but the ending was brilliant and moving.")
    p.page.get_by_role("link", name=re.compile("Follow this unit through the cell")).click()  # the Explorer's link
    p.page.wait_for_selector("text=1 · The cell at one word", timeout=120_000)
    p.settle()
    p.charts(8)
    wait_word(p, 12, 12)  # a new review starts at its last word
    p.page.get_by_role("button", name="◀").click()
    wait_word(p, 11, 12)
    p.settle()
    p.page.get_by_role("button", name="▶", exact=True).click()
    wait_word(p, 12, 12)
    p.settle()
    p.page.get_by_role("button", name="▶ Play").click()  # from the end it plays from the start
    wait_word(p, 3, 12)  # seen on the way
    wait_word(p, 12, 12)
    p.settle()
    assert "word=12" in p.page.url
    # A click on the reset gate's box (column 1, row 1; its title line) opens its formula.
    click_grid(p, 1.35, 1.22)
    p.wait_text("r · reset gate: How much of the memory the candidate may use")
    p.settle()
    # The control beside the diagram does the same; then a click on the reset gate again opens it again.
    p.page.get_by_role("radiogroup", name="Box").get_by_text("n · candidate", exact=True).click()
    p.wait_text("n · candidate: The new content proposed")
    p.settle()
    click_grid(p, 1.35, 1.22)
    p.wait_text("r · reset gate: How much of the memory the candidate may use")
    p.settle()
    # A click on a unit of the update gate's strip (column 1, row 2) picks that unit for the whole page.
    before = re.search(r"[?&]unit=(\d+)", p.page.url).group(1)
    click_grid(p, 1.25, 2.6)
    p.page.wait_for_function("u => !location.search.includes('unit=' + u + '&') && "
                             "!location.search.endsWith('unit=' + u)", arg=before, timeout=60_000)
    p.settle()
    unit = re.search(r"[?&]unit=(\d+)", p.page.url).group(1)
    p.wait_text(f"Unit {unit} at word 12")
    body = p.body()
    assert "Backpropagation through time" in body and "first / last" in body and "gradient highway" in body
    # A review read here is the Gate Explorer's too.
    p.page.get_by_role("heading", name="Inside the cell").first.scroll_into_view_if_needed()
    area = p.page.get_by_label("Review", exact=True)
    area.fill("Not good, not bad: just dull.")
    area.press("Control+Enter")
    p.page.wait_for_timeout(300)
    p.settle()
    wait_word(p, 6, 6)
    p.nav("Gate Explorer", "How the verdict forms")
    assert p.page.get_by_label("Review", exact=True).input_value() == "Not good, not bad: just dull."
    p.nav("Inside the cell", "1 · The cell at one word")
    wait_word(p, 6, 6)
    p.page.set_viewport_size({"width": 1280, "height": 1200})
    top = "e => { e.scrollIntoView({block: 'start'}); window.scrollBy(0, -60); }"
    p.page.get_by_role("heading", name="1 · The cell at one word").evaluate(top)
    p.page.wait_for_timeout(500)  # let the scroll paint before the picture
    p.shot("screenshot-cell")  # the README's (docs/refresh_screenshots.py copies it)
    for heading, name in (("3 · Backpropagation through time, for this review", "cell-bptt"),
                          ("2 · The forward pass, with numbers", "cell-forward")):
        p.page.get_by_role("heading", name=heading).evaluate(top)
        p.page.wait_for_timeout(500)
        p.shot(name)
    p.clean()


def test_inside_the_cell_at_800_px(server, browser):  # noqa: F811
    p = Page(browser, server[0], width=800)
    p.nav("Inside the cell", "1 · The cell at one word")
    p.charts(8)
    overflow = p.page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth "
                               "- document.querySelector('[data-testid=\"stMain\"]').clientWidth")
    p.page.get_by_role("heading", name="1 · The cell at one word").scroll_into_view_if_needed()
    p.shot("cell-800")
    assert overflow <= 2, f"the page scrolls sideways at 800 px by {overflow} px"
    p.clean()
