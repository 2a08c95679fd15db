"""The Dynamics page in a real browser (Chromium via Playwright), reached through the app's navigation."""
from __future__ import annotations

import pytest

pytest.importorskip("playwright.sync_api")

from . import test_browser as shared

ROOT, Page = shared.ROOT, shared.Page
server, browser = shared.server, shared.browser  # the shared app server and Chromium fixtures


def test_dynamics_page_renders_its_charts(server, browser):
    p = Page(browser, server[0])
    p.page.get_by_role("link", name="state-space dynamics").click()  # the Gate Explorer's link to this page
    p.page.wait_for_selector("text=1 · The state space", timeout=120_000)
    p.settle()
    p.charts(10)
    # The unit circle of the eigenvalue plane is round, whatever the width of its column.
    ring = p.page.locator('.vega-embed:has-text("Eigenvalues of ∂F/∂h") g.mark-line path').first.bounding_box()
    assert ring["width"] == pytest.approx(ring["height"], rel=0.03), ring
    p.type_review("The acting was not good, but the ending was brilliant and moving.")
    p.charts(11)  # the review's own kicks appear
    body = p.body()
    assert "fixed points" in body and "modified phrases" in body and "not good" in body
    p.settle()
    p.page.locator(".vega-embed").nth(1).scroll_into_view_if_needed()  # the state plane with the trajectory
    p.shot("screenshot-dynamics")  # the README's (docs/refresh_screenshots.py copies it)
    for section in ("3 · Linearisation", "4 · Word kicks", "6 · Modifiers"):
        p.page.get_by_text(section).scroll_into_view_if_needed()
        p.shot("dynamics-" + section.split(" · ")[1].split()[0].lower())
    p.clean()
