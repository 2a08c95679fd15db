"""The Dynamics page in a real browser (Chromium via Playwright), reached through the app's navigation."""
from __future__ import annotations

import pytest

pytest.importorskip("playwright.sync_api")

from .test_browser import ROOT, Page, browser, server  # noqa: E402, F401  (the shared server and browser fixtures)


def test_dynamics_page_renders_its_charts(server, browser):
    p = Page(browser, server[0])
    p.nav("Dynamics", "1 · The state space")
    p.charts(10)
    p.type_review("The acting was not good, but the ending was brilliant and moving.")
    p.charts(11)  # the review's own kicks appear
    body = p.body()
    assert "fixed points" in body and "modified phrases" in body and "not good" in body
    p.page.get_by_text("1 · The state space").scroll_into_view_if_needed()
    p.page.screenshot(path=str(ROOT / "docs" / "screenshot-dynamics.png"))
    p.shot("dynamics")
    p.clean()
