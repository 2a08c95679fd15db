"""Opening one's own Keras model in a real browser (Debian's Chromium via Playwright): upload the model and
its word index on the Train page, the model appears as "NAME (imported)", the Explorer reads it; and the
shipped keras-seed on the Gate Explorer. The console stays clean."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("playwright.sync_api")

from .test_browser import ARTIFACTS, Page, browser, server  # noqa: F401  (fixtures, used by name)


@pytest.fixture(scope="module")
def keras_upload(tmp_path_factory):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((50,), dtype="int32"), keras.layers.Embedding(200, 8),
                              keras.layers.LSTM(6), keras.layers.Dense(1, activation="sigmoid")])
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    folder = tmp_path_factory.mktemp("upload")
    model.save(folder / "mine.keras")
    words = ["the", "movie", "was", "good", "bad", "great", "plot"]
    (folder / "imdb_word_index.json").write_text(json.dumps({w: r for r, w in enumerate(words, 1)}))
    return folder


def test_upload_a_keras_model_and_explore_it(server, browser, keras_upload):  # noqa: F811
    p = Page(browser, server[0])
    p.nav("Train", "Open your own Keras model")
    p.page.get_by_text("Open your own Keras model").click()
    inputs = p.page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    inputs.nth(0).set_input_files(str(keras_upload / "mine.keras"))
    inputs.nth(1).set_input_files(str(keras_upload / "imdb_word_index.json"))
    panel = p.page.get_by_test_id("stExpanderDetails")
    panel.get_by_role("textbox", name="Name", exact=True).fill("browser-upload")
    panel.get_by_role("spinbutton", name="maxlen", exact=True).fill("50")
    panel.get_by_role("spinbutton", name="num_words", exact=True).fill("200")
    p.page.get_by_role("button", name="Import").click()
    p.wait_text("browser-upload (imported)")
    p.settle()
    assert (server[1] / "local" / "browser-upload" / "model.safetensors").is_file()
    p.shot("keras-import")
    p.nav("Gate Explorer", "How the verdict forms")
    p.type_review("The movie was good, a great plot")
    p.wait_text("padding steps")
    body = p.body()
    assert "browser-upload" in body and "start mark" in body
    p.charts(3)
    p.clean()


def test_the_seeds_keras_model_on_the_explorer(server, browser):  # noqa: F811
    p = Page(browser, server[0] + "?model=keras-seed")
    p.type_review("Not what I expected: slow, but the acting was wonderful and the ending moved me.")
    p.charts(4)
    body = p.body()
    assert "keras-seed" in body and "padding steps" in body
    p.page.get_by_text("The equations this page computes").click()
    p.page.wait_for_timeout(500)
    p.shot("keras-seed-explorer")
    p.clean()
