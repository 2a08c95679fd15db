"""The Inside the cell page in Chinese in a real browser: it renders, and the controls of its fragment (the word
buttons, the box picker) keep it Chinese: a fragment's rerun skips app.py, which sets the language of the other runs
(AppTest runs the whole script every time, so only a browser shows this). The console stays clean."""
from __future__ import annotations

import pytest

pytest.importorskip("playwright.sync_api")

from .test_browser import ARTIFACTS, Page, browser, server  # noqa: F401  (fixtures, used by name)


def test_inside_the_cell_in_chinese(server, browser):  # noqa: F811
    p = Page(browser, server[0] + "/?lang=zh")
    p.nav("循环单元内部", "1 · 一个词处的循环单元")
    p.charts(8)
    p.wait_text("第 21 个词（共 21 个）")
    p.page.get_by_role("button", name="◀").click()  # a fragment rerun
    p.wait_text("第 20 个词（共 21 个）")
    p.settle()
    p.page.get_by_role("radiogroup", name="框").get_by_text("r · 重置门", exact=True).click()  # another
    p.wait_text("r · 重置门：候选隐藏状态可以使用多少记忆")
    p.settle()
    body = p.body()
    assert "Word 20 of 21" not in body and "reset gate" not in body.replace("reset gate r", "")
    p.page.set_viewport_size({"width": 1280, "height": 1200})
    top = "e => { e.scrollIntoView({block: 'start'}); window.scrollBy(0, -60); }"
    for heading, name in (("1 · 一个词处的循环单元", "cell-zh"), ("2 · 前向传播，代入数字", "cell-forward-zh"),
                          ("3 · 这条评论的随时间反向传播", "cell-bptt-zh")):
        p.page.get_by_role("heading", name=heading).evaluate(top)
        p.page.wait_for_timeout(500)  # let the scroll paint before the picture
        p.shot(name)
    p.clean()
