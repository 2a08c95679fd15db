"""Every page in Chinese in a real browser (Debian's Chromium): the words are Chinese, drawn with a CJK font
(the glyphs Chromium actually used, read through the DevTools protocol, not a tofu box), the charts render and the
console stays clean; the language switch in the sidebar turns a page back to English and the URL keeps it.
Screenshots land in test-artifacts/ (the Chinese README's is ``screenshot-zh-explorer.png``)."""
from __future__ import annotations

import re

import pytest

from gru_core import i18n
from gru_core.i18n import _

from .apphelpers import CJK
from .test_browser import Page, browser, server  # noqa: F401  (fixtures)

# st.navigation's url path -> the page's English title (app.py); the link shows its Chinese
PAGES = {"": "Gate Explorer", "cell": "Inside the cell", "units": "Unit atlas", "compare": "GRU vs LSTM",
         "slices": "Where models fail", "dynamics": "Dynamics", "descent": "Gradient descent", "train": "Train"}


def in_chinese(text: str) -> str:
    """``text`` as the Chinese catalog has it."""
    i18n.set_language("zh")
    try:
        return _(text)
    finally:
        i18n.set_language("en")


def fonts_of(page, selector: str) -> dict[str, int]:
    """Font family → glyphs drawn in the first element matching ``selector``, as Chromium rendered it."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, f"nothing matches {selector}"
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return {f["familyName"]: f["glyphCount"] for f in fonts}


@pytest.mark.parametrize("path", PAGES)
def test_every_page_in_chinese(server, browser, path):  # noqa: F811
    p = Page(browser, f"{server[0]}/?lang=zh&model=gru")
    if path:  # through the navigation, in Chinese
        link = in_chinese(PAGES[path])
        assert CJK.search(link) or link == "GRU vs LSTM", link
        p.page.get_by_role("link", name=link, exact=True).click()
        p.page.wait_for_function("p => location.pathname.endsWith('/' + p)", arg=path, timeout=60_000)
        p.settle()
    heading = p.page.locator("h1").first
    heading.wait_for(timeout=120_000)
    title = heading.inner_text()
    assert CJK.search(title), f"/{path}: the title is not Chinese: {title!r}"
    if path not in ("train",):  # the Train page without the dataset shows text and a form, no chart
        p.charts(1)
    body = p.body()
    cjk_share = len(CJK.findall(body)) / max(1, len(re.findall(r"[A-Za-z]+", body)) + len(CJK.findall(body)))
    assert cjk_share > 0.3, f"/{path}: mostly not Chinese ({cjk_share:.0%} of the words)"
    fonts = fonts_of(p.page, "h1")
    cjk_fonts = {f: n for f, n in fonts.items() if "SC" in f}  # Simplified forms (.streamlit/config.toml's font)
    assert sum(cjk_fonts.values()) >= len(CJK.findall(title)), f"/{path}: title drawn with {fonts}"
    assert "lang=zh" in p.page.url
    p.shot(f"zh-{path or 'explorer'}")
    if path == "":
        area = p.page.get_by_label("评论", exact=True)
        area.fill("The first half was dull, but the ending was brilliant and moving.")
        area.press("Control+Enter")
        p.wait_text("brilliant")
        p.settle()
        p.charts(4)
        p.shot("screenshot-zh-explorer")
    p.clean()


def test_the_language_switch_goes_back_to_english(server, browser):  # noqa: F811
    p = Page(browser, f"{server[0]}/?lang=zh&model=gru")
    assert CJK.search(p.page.locator("h1").first.inner_text())
    p.page.get_by_role("combobox", name=re.compile("Language")).click()
    p.page.get_by_role("option", name="English").click()
    p.page.wait_for_function("() => new URLSearchParams(location.search).get('lang') === 'en'", timeout=60_000)
    p.settle()
    assert p.page.locator("h1").first.inner_text().strip() == "Gate Explorer"
    assert "How the verdict forms" in p.body()
    p.clean()
