"""Two Streamlit replicas over one models folder, as behind a reverse proxy (README: deployment).

Each replica is its own ``streamlit run app.py`` on its own free port with its
own caches; the models folder is the one thing they share. Both must serve the
Explorer with the verdict the model itself gives, and a model saved into the
shared folder must be offered by both without a restart.
"""
from __future__ import annotations

import shutil
import urllib.request

from benchmarks.harness import ROOT, streamlit_server
from gru_core.checkpoint import save_checkpoint
from gru_core.predictor import load_model
from gru_core.text import Vocab

from .test_browser import ARTIFACTS, Page, browser  # noqa: F401  (the browser fixture; skips without Playwright)
from .tiny import WORDS, tiny_module

REVIEWS = ("The acting was superb and the zqreplicaa ending moving.",
           "A dull plot, zqreplicab and awful dialogue throughout.")


def _shows(p: Page, *texts: str) -> None:
    cond = " && ".join(f"document.body.innerText.includes({t!r})" for t in texts)
    p.page.wait_for_function(f"() => {cond}", timeout=120_000)


def test_two_servers_serve_the_explorer_over_one_models_folder(tmp_path, browser):  # noqa: F811  (the fixture)
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models", models)
    env = {"GRU_EXPLORER_MODELS": str(models)}
    with streamlit_server(ARTIFACTS / "replica-a.log", env) as (url_a, _), \
            streamlit_server(ARTIFACTS / "replica-b.log", env) as (url_b, _):
        assert url_a != url_b
        for url in (url_a, url_b):
            assert urllib.request.urlopen(url + "/_stcore/health", timeout=10).read() == b"ok"

        gru = load_model(models / "gru")
        for url, text in zip((url_a, url_b), REVIEWS):
            p = Page(browser, url)
            p.type_review(text)
            _shows(p, text.split()[-3], "gru (GRU)", f"{gru.trace(text).proba:.3f}")
            p.clean()

        # A model saved into the shared folder while both run: each replica offers it and reads it itself.
        vocab = Vocab(WORDS)
        save_checkpoint(models / "shared-new", tiny_module("gru", len(vocab)), vocab, 50, {})
        expected = f"{load_model(models / 'shared-new').trace('good fun movie').proba:.3f}"
        for url in (url_a, url_b):
            p = Page(browser, url + "/?model=shared-new")
            p.type_review("good fun movie")
            _shows(p, "shared-new (GRU)", expected)
            p.clean()
