"""The Gate Explorer's Interventions panel in a real browser (the server, browser and Page of test_browser.py).

Opens the panel, applies an intervention, waits for the new verdict and its
charts, checks the console stays clean, and keeps test-artifacts/screenshot-interventions.png
(the README's docs/screenshot-interventions.png, copied by docs/refresh_screenshots.py).
"""
from __future__ import annotations

from gru_core import load_model
from gru_core.analysis.ablation import top_units
from gru_core.analysis.explain import output_weights
from gru_core.analysis.interventions import Intervention, run_intervention

from .test_browser import Page, browser, server, sync_api  # noqa: F401  (fixtures, used by name)


def choose(p: Page, box: str, option: str, tries: int = 3) -> None:
    """Pick ``option`` in a selectbox; a rerun that lands while the list is open closes it, so open it again."""
    for attempt in range(tries):
        p.page.get_by_role("combobox", name=box).click()
        try:
            p.page.get_by_role("option", name=option).click(timeout=20_000)
            return
        except sync_api.TimeoutError:
            if attempt == tries - 1:
                raise
            p.page.keyboard.press("Escape")
            p.settle()


REVIEW = "The acting was good and the plot was fun, but the ending was awful."


def test_interventions_panel(server, browser):  # noqa: F811
    p = Page(browser, server[0])
    p.type_review(REVIEW)
    before = p.charts(4)
    p.page.get_by_text("Interventions: change units and see what breaks").click()  # opening it reruns and computes
    p.page.wait_for_function("() => document.body.innerText.includes('P(positive) with intervention')",
                             timeout=120_000)
    p.settle()
    choose(p, "Intervention", "always overwrite")
    p.page.wait_for_function("() => document.body.innerText.includes('always overwrite on units')", timeout=120_000)
    p.settle()
    p.charts(before + 3)  # both trajectories, the open Δ heatmap tab, mean |Δ| per word
    m = load_model(server[1] / "gru")
    direct = run_intervention(m, REVIEW, Intervention(top_units(output_weights(m), 5), "overwrite"))
    body = p.body()
    assert f"to {direct.changed.proba:.3f}" in body and "Verdict with intervention" in body
    p.page.get_by_role("tab", name="Δ hidden state h").click()
    p.page.wait_for_function(
        "() => [...document.querySelectorAll('[role=tabpanel]')].some(t => t.getBoundingClientRect().width > 0"
        " && t.innerText !== undefined && t.querySelector('.vega-embed canvas, .vega-embed svg.marks'))",
        timeout=60_000)
    # A taller window from the chosen intervention down: verdicts, both trajectories and the Δ heatmap.
    p.page.set_viewport_size({"width": 1280, "height": 1500})
    p.settle()
    p.page.get_by_text("Units by |output weight|").evaluate("e => e.scrollIntoView()")
    p.charts(before + 3)
    p.shot("screenshot-interventions")
    p.clean()
