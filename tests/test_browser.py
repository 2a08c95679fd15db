"""Every page in a real browser (Debian's Chromium driven by Playwright), through the app's own navigation.

Starts ``streamlit run app.py`` on a free local port (with a scratch copy of
models/ so a training run writes nowhere in the repo), uses each page's main
controls, checks that charts render and the console stays clean, and keeps
screenshots at 1280 px and 800 px in test-artifacts/.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

sync_api = pytest.importorskip("playwright.sync_api")

from benchmarks.harness import CHROMIUM, CHROMIUM_FLAGS, ROOT, SETTLED_JS, streamlit_server

from .apphelpers import EPOCHS_TO_STOP

ARTIFACTS = ROOT / "test-artifacts"
# The outermost element of the main area that reaches past its right edge: test id, width, first text.
WIDEST_JS = """() => { const m = document.querySelector('[data-testid="stMain"]'), right = m.getBoundingClientRect().right;
  const e = [...m.querySelectorAll('[data-testid]')].find(e => e.getBoundingClientRect().right > right + 2);
  return e && [e.getAttribute('data-testid'), Math.round(e.getBoundingClientRect().width), e.innerText.slice(0, 80)]; }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    models = tmp_path_factory.mktemp("browser") / "models"
    shutil.copytree(ROOT / "models", models)
    with streamlit_server(ARTIFACTS / "streamlit.log", env={"GRU_EXPLORER_MODELS": str(models)}) as (url, _):
        yield url, models


@pytest.fixture(scope="module")
def train_server(tmp_path_factory):
    """A server over made-up IMDB data (so the Train page trains with or without the real dataset)."""
    from .tiny import write_imdb_tar

    folder = tmp_path_factory.mktemp("browser-train")
    shutil.copytree(ROOT / "models" / "gru", folder / "models" / "gru")
    write_imdb_tar(folder / "imdb.tar.gz", n_train=2_000, n_test=8, length=(150, 250))
    env = {"GRU_EXPLORER_MODELS": str(folder / "models"), "GRU_EXPLORER_IMDB": str(folder / "imdb.tar.gz"),
           "GRU_EXPLORER_CACHE": str(folder / "cache"), "GRU_EXPLORER_MAX_RUNS": "1"}
    with streamlit_server(ARTIFACTS / "streamlit-train.log", env=env) as (url, _):
        yield url, folder / "models"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


class Page:
    """A browser tab on the app that records console errors and dialogs."""

    def __init__(self, browser, url: str, width: int = 1280):
        self.context = browser.new_context(viewport={"width": width, "height": 900})  # a browser session of its own
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(url)
        self.settle()

    def settle(self, timeout: float = 120_000) -> None:
        self.page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
        # Every run of app.py puts the model in the URL: until then the first run has not ended (a page
        # link clicked before that may be lost on a busy machine).
        self.page.wait_for_function("() => new URLSearchParams(location.search).has('model')", timeout=timeout)
        self.page.wait_for_timeout(300)
        self.page.wait_for_function(SETTLED_JS, timeout=timeout)

    def nav(self, title: str, marker: str) -> None:
        self.page.get_by_role("link", name=title, exact=True).click()
        self.page.wait_for_selector(f"text={marker}", timeout=120_000)
        self.settle()

    def charts(self, at_least: int, timeout: float = 120_000) -> int:
        self.page.wait_for_function(
            f"() => [...document.querySelectorAll('.vega-embed')].filter("
            f"e => e.querySelector('canvas, svg.marks') && e.getBoundingClientRect().width > 0).length >= {at_least}",
            timeout=timeout)
        return self.page.locator(".vega-embed").count()

    def type_review(self, text: str) -> None:
        area = self.page.get_by_label("Review", exact=True)
        area.fill(text)
        area.press("Control+Enter")
        self.page.wait_for_timeout(300)
        self.settle()

    def body(self) -> str:
        return self.page.inner_text("body")

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def clean(self) -> None:
        assert not self.dialogs, self.dialogs
        assert not self.errors, self.errors
        self.context.close()

    def wait_text(self, text: str, timeout: float = 180_000) -> None:
        self.page.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=timeout)


def test_gate_explorer(server, browser):
    p = Page(browser, server[0])
    p.type_review("The first half was dull, but the ending was brilliant and moving.")
    p.charts(4)
    body = p.body()
    assert "P(positive)" in body and "brilliant" in body and "ending" in body
    p.shot("screenshot-explorer")
    # pick an example
    p.page.get_by_role("combobox", name="Example").click()
    p.page.get_by_role("option", name="Negation: not good at all").click()
    p.page.wait_for_function("() => document.body.innerText.includes('not good at all')", timeout=60_000)
    p.settle()
    # switch model in the sidebar
    p.page.get_by_role("combobox", name="Model").click()
    p.page.get_by_role("option", name="lstm", exact=True).click()
    p.page.wait_for_function("() => document.body.innerText.includes('lstm (LSTM)')", timeout=60_000)
    p.settle()
    p.charts(4)  # trajectory, word summaries, the open heatmap tab, the unit inspector
    p.page.get_by_role("tab", name="forget gate f").click()  # another tab shows its own heatmap
    p.page.wait_for_function(
        "() => document.querySelector('[role=tab][aria-selected=true]').innerText.includes('forget gate f')"
        " && [...document.querySelectorAll('[role=tabpanel]')].some(t => t.getBoundingClientRect().width > 0"
        " && t.querySelector('.vega-embed canvas, .vega-embed svg.marks'))", timeout=60_000)
    p.shot("explorer-lstm")
    p.clean()


def test_trace_download(server, browser):
    """The CSV is built on click (deferred) and holds the trace of the review on screen."""
    p = Page(browser, server[0])
    p.type_review("A slow start, then a brilliant ending.")
    with p.page.expect_download(timeout=60_000) as d:
        p.page.get_by_role("button", name="Download the trace as CSV").click()
    assert d.value.suggested_filename == "trace-gru.csv"
    csv = Path(d.value.path()).read_text()
    assert csv.startswith("step,word,unit,quantity,value\n") and "\n6,brilliant,0,update," in csv
    p.clean()


def test_compare_with_an_edited_review(server, browser):
    p = Page(browser, server[0])
    p.type_review("The acting was good.")
    before = p.charts(4)
    p.page.get_by_text("Compare with an edited review").click()  # opening it reruns and computes
    area = p.page.get_by_label("Edited review", exact=True)
    area.wait_for(timeout=60_000)
    area.fill("The acting was not good.")
    area.press("Control+Enter")
    p.page.wait_for_timeout(300)
    p.settle()
    p.page.wait_for_function("() => document.body.innerText.includes('Edited P(positive)')", timeout=60_000)
    p.charts(before + 3)  # waits for them: trajectories of both reviews + two heatmaps
    p.shot("explorer-edited")
    p.clean()


def test_hostile_review_does_not_execute(server, browser):
    p = Page(browser, server[0])
    p.type_review('Nice <img src=x onerror=alert(1)> film <script>alert(2)</script>')
    p.wait_text("<img src=x onerror=alert(1)>", timeout=60_000)  # shown as text, and no dialog opened
    p.clean()


def test_comparison_page(server, browser):
    p = Page(browser, server[0])
    p.nav("GRU vs LSTM", "The seed's claims, checked")
    p.charts(5)
    # The claims table (HTML, unlike the canvas-drawn data frames) names the exact parameter counts.
    table = p.page.locator('[data-testid="stTable"]').first
    table.wait_for(timeout=60_000)
    p.page.wait_for_function("() => document.querySelector('[data-testid=\"stTable\"]').innerText"
                             ".includes('560,701')", timeout=60_000)
    assert "Trains faster" in table.inner_text()
    p.shot("screenshot-compare")
    p.clean()


def test_gradient_descent_page(server, browser):
    p = Page(browser, server[0])
    p.nav("Gradient descent", "Learning rate α")
    p.charts(1)
    slider = p.page.get_by_role("slider").nth(1)  # start θ0, learning rate α, step k
    slider.focus()
    slider.press("End")  # the largest α
    p.settle()
    p.page.wait_for_function("() => document.body.innerText.includes('Diverg')", timeout=60_000)
    p.shot("screenshot-descent")
    p.page.get_by_text("Two parameters", exact=True).click()
    p.settle()
    p.charts(4)
    p.shot("descent-2d")
    p.clean()


def test_train_page_start_watch_and_stop(train_server, browser):
    """One session starts a run; another watches its progress without a Stop button; the first stops it."""
    url, models = train_server
    owner = Page(browser, url)
    owner.nav("Train", "Start training")
    owner.page.get_by_role("textbox", name="Name of the new model").fill("browser-run")
    owner.page.get_by_role("spinbutton", name="Training reviews").fill("2000")
    owner.page.get_by_role("spinbutton", name="Epochs").fill(str(EPOCHS_TO_STOP))  # still going when Stop is clicked
    owner.page.get_by_role("spinbutton", name="Hidden units").fill("8")
    owner.page.get_by_text("Evaluate on the 25,000 test reviews when done (about 30 s)").click()
    owner.page.get_by_role("button", name="Start training").click()
    owner.page.get_by_role("button", name="Stop").wait_for(timeout=120_000)

    watcher = Page(browser, url)
    watcher.nav("Train", "another visitor's run")
    watcher.page.wait_for_function(r"() => /step [1-9][\d,]* of/.test(document.body.innerText)", timeout=120_000)
    assert "browser-run: another visitor's run" in watcher.body()
    assert watcher.page.get_by_role("button", name="Stop").count() == 0

    owner.page.get_by_role("button", name="Stop").click()
    owner.wait_text("Saved")
    owner.settle()
    owner.shot("screenshot-train")
    assert (models / "local" / "browser-run" / "model.safetensors").exists()
    assert not (models / "browser-run").exists()  # nothing among the shipped models
    assert "stopped" in owner.body()
    owner.page.get_by_role("combobox", name="Model").click()
    assert owner.page.get_by_role("option", name="browser-run (trained here)").count() == 1
    owner.page.keyboard.press("Escape")
    owner.page.get_by_role("button", name="Clear").click()
    owner.wait_text("Pick the settings and start a run")

    watcher.wait_text("Saved")
    assert watcher.page.get_by_role("button", name="Clear").count() == 0
    owner.clean()
    watcher.clean()


def test_train_page_without_data_offers_the_download(tmp_path, browser):
    env = {"GRU_EXPLORER_IMDB": str(tmp_path / "missing.tar.gz")}
    with streamlit_server(ARTIFACTS / "streamlit-nodata.log", env=env) as (url, _):
        p = Page(browser, url)
        p.page.get_by_role("link", name="Train").click()
        p.wait_text("Training needs the IMDB dataset", timeout=120_000)
        p.settle()
        assert p.page.get_by_role("button", name="Download the IMDB dataset (84 MB)").count() == 1
        assert p.page.get_by_role("button", name="Start training").count() == 0
        p.clean()


def test_a_fresh_servers_first_request_to_a_page_link_opens_that_page(tmp_path, browser):
    """Before app.py has run once, Streamlit serves a page URL by itself: the page goes through app.py and comes
    back with the link's query (a teacher's link to the Chinese cell page with the LSTM)."""
    with streamlit_server(ARTIFACTS / "streamlit-first.log") as (url, _):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url + "/cell?lang=zh&model=lstm&review=Not+good+at+all.")
        page.wait_for_function("() => new URLSearchParams(location.search).get('word') !== null", timeout=120_000)
        page.wait_for_function(SETTLED_JS, timeout=120_000)
        assert page.url.split("?")[0].endswith("/cell")
        query = dict(p.split("=", 1) for p in page.url.split("?", 1)[1].split("&"))
        assert (query["lang"], query["model"], query["review"]) == ("zh", "lstm", "Not+good+at+all.")
        assert query["word"] == "4"  # the cell stands at the last of the review's four words: that review was read
        page.get_by_role("heading", name="循环单元内部").wait_for(timeout=60_000)
        context.close()


@pytest.mark.parametrize("title,marker,name,charts", [
    ("Gate Explorer", "How the verdict forms", "explorer", 4),
    ("Inside the cell", "1 · The cell at one word", "cell", 8),
    ("Unit atlas", "All 100 units of gru", "units", 2),
    ("GRU vs LSTM", "The seed's claims, checked", "compare", 5),
    ("Where models fail", "Accuracy per slice", "slices", 2),
    ("Dynamics", "1 · The state space", "dynamics", 10),
    ("Gradient descent", "Learning rate α", "descent", 1),
    ("Train", "Start training", "train", 0),
])
def test_layout_holds_at_800_px(server, train_server, browser, title, marker, name, charts):
    p = Page(browser, (train_server if title == "Train" else server)[0], width=800)
    if title != "Gate Explorer":  # the first page is already open
        p.nav(title, marker)
    if charts:
        p.charts(charts)  # measured once the charts are drawn (before that, any page fits)
    js = ("() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth "
          "- document.querySelector('[data-testid=\"stMain\"]').clientWidth")
    try:  # a chart drawn before its container's width is known is wide for a moment: wait for the layout to settle
        p.page.wait_for_function(js + " <= 2", timeout=20_000)
    except sync_api.TimeoutError:
        pass  # measured and reported below
    overflow = p.page.evaluate(js)
    p.shot(f"{name}-800")
    wide = p.page.evaluate(WIDEST_JS) if overflow > 2 else None
    assert overflow <= 2, f"{name} scrolls sideways at 800 px by {overflow} px; the widest element: {wide}"
    p.clean()
