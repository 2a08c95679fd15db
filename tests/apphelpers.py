"""Helpers for AppTest: run the app with chosen inputs and read chart data back."""
from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pytest
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ["gru", "lstm", "rnn", "keras-seed"]  # the models shipped in models/


@contextmanager
def shipped_models_only(root: Path) -> Iterator[Path]:
    """Copies of the shipped models in ``root``, which the app reads while this lasts: a model a
    user trained into models/ cannot change what a test sees."""
    for name in SHIPPED:
        shutil.copytree(ROOT / "models" / name, root / name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRU_EXPLORER_MODELS", str(root))
        yield root


class _ServerLikePages(PagesManager):
    """AppTest resets Streamlit's "pages/ folder means old-style pages" flag before every
    run, so later runs would execute a page file without app.py. The real server keeps
    the flag app.py sets; this makes AppTest run app.py (shared controls, navigation)
    every time, as the server does."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


app_test_module.PagesManager = _ServerLikePages


def app(timeout: float = 120) -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)


def charts(at: AppTest) -> list[tuple[dict, pa.Table | None]]:
    """(Vega-Lite spec, data table) for every Altair chart on the page."""
    out = []
    for el in at.get("vega_lite_chart"):
        spec = json.loads(el.proto.spec)
        table = pa.ipc.open_stream(el.proto.datasets[0].data.data).read_all() if el.proto.datasets else None
        out.append((spec, table))
    return out


def chart_titles(at: AppTest) -> list[str]:
    titles = []
    for spec, _ in charts(at):
        t = spec.get("title")
        titles.append(t if isinstance(t, str) else (t or {}).get("text", ""))
    return titles


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def run_app(query: dict | None = None, **state) -> AppTest:
    """Run the app once with the link's ``query`` parameters and ``state`` in the session; no exception."""
    at = app()
    for k, v in (query or {}).items():
        at.query_params[k] = v
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    no_exception(at)
    return at


def open_page(page: str, model: str = "gru", query: dict | None = None, **state) -> AppTest:
    """Run the app (with the link's ``query``), go to ``page`` with ``model`` picked and extra session state set."""
    at = run_app(query=query, model=model)
    at.switch_page(page)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    no_exception(at)
    return at


CJK = re.compile(r"[\u4e00-\u9fff]")


def chinese(text: str | None) -> bool:
    """Whether ``text`` holds Chinese characters."""
    return bool(CJK.search(text or ""))


def open_zh(page: str, model: str = "gru", **state) -> AppTest:
    """``open_page`` through a link that asks for Chinese (``?lang=zh``)."""
    return open_page(page, model, query={"lang": "zh"}, **state)


def shown_messages(at: AppTest) -> list[str]:
    """Every success, info, warning and error box on the page, in that order."""
    return [x.value for x in [*at.success, *at.info, *at.warning, *at.error]]


def progress_text(at: AppTest) -> str:
    return " ".join(p.proto.text for p in at.get("progress"))


def rerun_until(at: AppTest, condition, what: str, seconds: float = 180) -> None:
    """Rerun the page (as its 1 s refresh does) until ``condition(at)`` holds."""
    end = time.monotonic() + seconds
    while not condition(at):
        if time.monotonic() > end:
            pytest.fail(f"{what} did not happen: {shown_messages(at)} {progress_text(at)}")
        time.sleep(0.2)
        at.run()
        no_exception(at)


# --- Train page: temporary models folders, made-up data, and no run left going ---------------------------

# A run that a test stops: the most epochs the page allows, so that it is still going when Stop is clicked
# (3 epochs of 2,000 made-up reviews can end in 4 s, before the click lands on a busy machine).
EPOCHS_TO_STOP = 20


def finish_job() -> str | None:
    """Kill every training run of the server's registry (as a server exit does) and forget them;
    the name of the run that was going, if any."""
    from gru_core.jobs.runs import registry

    names = [r.name for r in registry().runs()]
    registry().shutdown()
    return names[0] if names else None


@pytest.fixture
def models_root(tmp_path, monkeypatch):
    """A temporary models folder (a copy of models/gru; runs save into its local/ folder): nothing is
    written into the repository's. Any training run is ended before and after the test.

    A test module uses it by binding the name: ``models_root = apphelpers.models_root``."""
    root = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "gru", root / "gru")
    monkeypatch.setenv("GRU_EXPLORER_MODELS", str(root))
    monkeypatch.delenv("GRU_EXPLORER_LOCAL_MODELS", raising=False)
    finish_job()
    yield root
    finish_job()


@pytest.fixture
def made_up_imdb(tmp_path_factory, monkeypatch):
    """A made-up IMDB tarball (2,000 training reviews of 150–250 words: a run takes a while) as the
    dataset, its tokenized cache in a temporary folder: the Train page works without the real data."""
    from .tiny import write_imdb_tar

    folder = tmp_path_factory.getbasetemp() / "made-up-imdb"
    tar = folder / "imdb.tar.gz"
    if not tar.exists():
        folder.mkdir(exist_ok=True)
        write_imdb_tar(tar, n_train=2_000, n_test=8, length=(150, 250))
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(tar))
    monkeypatch.setenv("GRU_EXPLORER_CACHE", str(folder / "cache"))
    return tar
