"""Helpers for AppTest: run the app with chosen inputs and read chart data back."""
from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pytest
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ["gru", "lstm", "rnn"]  # the models shipped in models/


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


def open_page(page: str, model: str = "gru", **state) -> AppTest:
    """Run the app, go to ``page`` with ``model`` picked and extra session state set."""
    at = run_app(model=model)
    at.switch_page(page)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    no_exception(at)
    return at


# --- Train page: a temporary models folder and the one training slot -------------------------------------

def finish_job() -> str | None:
    """Stop any started run, wait for it, and empty the slot; the name it ran under."""
    from pages.common import training_slot

    slot = training_slot()
    job, name = slot.get("job"), slot.get("name")
    if job is not None:
        job.stop()
        assert job.wait(120), "a started training run did not stop"
    slot.clear()
    return name if job is not None else None


@pytest.fixture
def models_root(tmp_path, monkeypatch):
    """A temporary models folder (a copy of models/gru): nothing is written into the repository's.
    Any training run is stopped and waited for before and after the test.

    A test module uses it by binding the name: ``models_root = apphelpers.models_root``."""
    root = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "gru", root / "gru")
    monkeypatch.setenv("GRU_EXPLORER_MODELS", str(root))
    finish_job()
    yield root
    finish_job()
