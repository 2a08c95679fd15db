"""Helpers for AppTest: run the app with chosen inputs and read chart data back."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent


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


def charts(at: AppTest) -> list[tuple[dict, "pa.Table | None"]]:
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


def open_page(page: str, model: str = "gru", **state) -> AppTest:
    """Run the app, go to ``page`` with ``model`` picked and extra session state set."""
    at = app()
    at.session_state["model"] = model
    at.run()
    no_exception(at)
    at.switch_page(page)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    no_exception(at)
    return at
