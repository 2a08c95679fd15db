"""Streamlit glue shared by the pages: the model picker, the shared unit choice, and every cached loader.

Models are loaded once per checkpoint version with ``st.cache_resource`` and never
mutated. What is computed from them (traces, attributions, stored analyses read
from disk, intervened runs) is read-only too, so it is cached with bounded
``st.cache_resource`` as well: a hit hands out the same object instead of a copy
(``st.cache_data`` would unpickle a fresh one on every hit). Arrays of a cached
trace are made read-only, so a page that tried to change one would fail loudly.
The loss-landscape computations each work on a private float64 copy of the model
and return plain frames and dicts, cached with ``st.cache_data``.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

# Streamlit's Arrow data transformer and the lock around Altair's global settings, as st.altair_chart uses
# them (the version is pinned in requirements.txt; tests compare vega_lite with Streamlit's own conversion).
from streamlit.elements.vega_charts import _altair_globals_lock, _to_arrow_dataset

from gru_core import CheckpointError, DataNotFoundError, SentimentModel, Trace, list_checkpoints, load_imdb, load_model
from gru_core.analysis.bptt import Backprop, backprop, sgd_path
from gru_core.analysis.compare import measure_live
from gru_core.analysis.dynamics_report import FILE as DYNAMICS_FILE
from gru_core.analysis.dynamics_report import kick_table, modifier_paths, plane_frames, read_dynamics
from gru_core.analysis.explain import grad_x_input, occlusion
from gru_core.analysis.interventions import Intervention, InterventionResult, run_intervention
from gru_core.analysis.landscape import fixed_batch, session_copy, steepest_entry, surface_frame, weight_section
from gru_core.analysis.slices import SLICES_FILE, SliceData, compute_slices, joined_words, read_slices, write_slices
from gru_core.analysis.state_search import StateIndex, build_state_index
from gru_core.analysis.stats import STATS_FILE, gradient_by_position, read_stats
from gru_core.analysis.units import INDEX_FILE, read_index
from gru_core.checkpoint import FILES, REQUIRED, local_models_dir, models_dir
from gru_core.data import resolve_imdb_path
from gru_core.examples import EXAMPLES
from gru_core.i18n import LANGUAGES, _, from_locale, language, set_language
from gru_core.jobs.background import BackgroundJob, JobShelf
from gru_core.keras_import import is_imported

APP_ROOT = Path(__file__).resolve().parent.parent  # where app.py is: page paths are relative to it
RETURN_TO = "_return_to"  # the session key of the page a first request asked for (require_app)


def _stamp(path: Path) -> tuple:
    """Identity of a checkpoint's files: a retrained or restored model is reloaded, and so is one whose
    metrics.json changed (the pages show its numbers)."""
    stamp = []
    for name in FILES:
        f = path / name
        if not f.is_file():
            if name in REQUIRED:
                raise CheckpointError(f, _("file is missing"))
            continue
        st_ = f.stat()
        stamp.append((name, st_.st_size, st_.st_mtime_ns))
    return tuple(stamp)


# The cached loaders show no spinner of their own (its text is fixed when the module loads, in one language): the
# public wrappers below put their call in st.spinner(_(…)), which shows only when the call takes a while.
@st.cache_resource(max_entries=16, show_spinner=False)
def _load(path: str, stamp: tuple) -> SentimentModel:
    return load_model(path)


def get_model(path: str | Path) -> SentimentModel:
    """The cached model for a checkpoint folder; CheckpointError when a file is bad."""
    path = Path(path)
    stamp = _stamp(path)
    with st.spinner(_("Loading model…")):
        return _load(str(path), stamp)



def require_app(page: str) -> None:
    """Send a page that was started without app.py (a server's very first request, straight to a page URL, which
    Streamlit serves before app.py has declared the navigation) through app.py, which draws the navigation and
    shared controls and then opens this page again with the link's query (``return_to_page``). ``page``: the
    page's ``__file__``."""
    if "model_paths" not in st.session_state:
        st.session_state[RETURN_TO] = (Path(page).resolve().relative_to(APP_ROOT).as_posix(), st.query_params.to_dict())
        st.switch_page("app.py")


def return_to_page() -> None:
    """In app.py, once the navigation is declared: open the page, with its query, that a first request asked for."""
    if (target := st.session_state.pop(RETURN_TO, None)) is not None:
        st.switch_page(target[0], query_params=target[1])


def local_label(name: str, imported: bool = False) -> str:
    """How a model trained from the dashboard (in the local models folder), or imported there, is named in
    every list: its key there (in the session state and the URL), the same in every language (see ``model_label``)."""
    return f"{name} (imported)" if imported else f"{name} (trained here)"


def model_label(key: str) -> str:
    """The model listed as ``key`` (a name from ``model_names``), as the lists show it in the interface's language."""
    path = st.session_state.get("model_paths", {}).get(key)
    if path is None or key == path.name:
        return key
    label = _("{name} (imported)") if key == local_label(path.name, True) else _("{name} (trained here)")
    return label.format(name=path.name)


def choose_language() -> str:
    """The session's interface language, set for this run before anything is drawn: the link's ``?lang=`` when
    it names one, else the session's earlier choice, else the browser's language (``st.context.locale``);
    English otherwise. Kept in the URL."""
    wanted = st.query_params.get("lang")
    if wanted in LANGUAGES:
        st.session_state["lang"] = wanted
    elif st.session_state.get("lang") not in LANGUAGES:
        st.session_state["lang"] = from_locale(st.context.locale)
    st.query_params["lang"] = st.session_state["lang"]
    return set_language(st.session_state["lang"])


def fragment(run_every: float | None = None) -> Callable[[Callable], Callable]:
    """``st.fragment`` that speaks the session's language: a fragment's own rerun skips app.py, where
    ``choose_language`` sets it, and runs in a fresh thread, where the language would be English."""
    def wrap(func: Callable) -> Callable:
        @functools.wraps(func)
        def in_language(*args, **kwargs):
            set_language(st.session_state.get("lang", language()))
            return func(*args, **kwargs)
        return st.fragment(in_language, run_every=run_every)
    return wrap


def language_picker() -> None:
    """The sidebar's language switch (each language named in itself), bound to ``choose_language``'s choice."""
    def switch() -> None:
        st.session_state["lang"] = st.session_state["_language_picker"]
        st.query_params["lang"] = st.session_state["lang"]

    st.session_state["_language_picker"] = st.session_state["lang"]
    st.sidebar.selectbox(_("Language · 语言"), list(LANGUAGES), format_func=LANGUAGES.get, key="_language_picker",
                         on_change=switch, help=_("The interface's language, kept in the link (`?lang=zh` or "
                                                  "`?lang=en`); the reviews stay English, as the models read them."))


def model_picker() -> None:
    """Sidebar selectbox over the shipped checkpoints in models/ (GRU first), then the ones trained
    here (models/local/, marked as such); kept in the URL.

    The choice lives in the plain key "model" (widget keys are dropped when a
    page changes), and the widget is re-seeded from it on every run.
    """
    paths = {p.name: p for p in list_checkpoints()}
    paths |= {local_label(p.name, is_imported(p)): p for p in list_checkpoints(local_models_dir())}
    st.session_state["model_paths"] = paths
    if not paths:
        st.session_state["model"] = None
        return
    names = list(paths)
    previous = st.session_state.get("model")
    if previous not in names:
        wanted = st.query_params.get("model")
        st.session_state["model"] = wanted if wanted in names and wanted != previous else names[0]
        if previous:
            st.sidebar.warning(_("Model **{previous}** is no longer in `{folder}`; showing **{model}**. Restore it "
                                 "with `git checkout models/`.").format(previous=model_label(previous),
                                                                         folder=models_dir(),
                                                                         model=model_label(st.session_state["model"])))
    st.session_state["_model_picker"] = st.session_state["model"]
    st.sidebar.selectbox(_("Model"), names, key="_model_picker", format_func={n: model_label(n) for n in names}.get,
                         on_change=lambda: st.session_state.update(model=st.session_state["_model_picker"]),
                         help=_("The shipped models, then the ones trained or imported on the Train page "
                                "(models/local/)."))
    st.query_params["model"] = st.session_state["model"]


def current_model() -> SentimentModel:
    """The model picked in the sidebar, or a clear message and a stopped page."""
    name = st.session_state.get("model")
    if not name:
        st.error(_("No trained model found in `{folder}`. Restore the shipped ones with `git checkout models/` or "
                   "train one with `python -m gru_core train --arch gru --out models/gru`.").format(folder=models_dir()))
        st.stop()
    try:
        return get_model(st.session_state["model_paths"][name])
    except CheckpointError as e:
        st.error(_("Model **{name}** cannot be loaded.\n\n{error}").format(name=model_label(name), error=e))
        st.stop()


def cache_key(model: SentimentModel) -> tuple:
    return (str(model.path), _stamp(model.path) if model.path else model.arch)


def vega_lite(chart: alt.TopLevelMixin) -> dict:
    """The Vega-Lite spec st.altair_chart would send (data as Arrow datasets, Streamlit's theme left to the
    page), without Altair's schema validation, which costs more than the conversion itself: the chart
    builders' specs are validated by their tests."""
    datasets: dict = {}
    alt.data_transformers.register("to_arrow_dataset", _to_arrow_dataset)
    with _altair_globals_lock:
        theme = alt.theme.enable("none") if alt.theme.active == "default" else nullcontext()
        with theme, alt.data_transformers.enable("to_arrow_dataset", datasets=datasets):
            spec = chart.to_dict(validate=False)
    spec["datasets"] = {**(spec.get("datasets") or {}), **datasets}
    return spec


@st.cache_resource(max_entries=96, show_spinner=False)
def _chart_spec(shows: tuple, _build: Callable[[], alt.TopLevelMixin]) -> dict:
    return vega_lite(_build())


def chart(shows: tuple, build: Callable[[], alt.TopLevelMixin], **kwargs):
    """``st.altair_chart(build(), **kwargs)``, with the chart built and converted to Vega-Lite once per ``shows``, which must name everything the chart shows (model version, review,
    options): a rerun that shows the same chart only sends it again. Returns what st.altair_chart returns."""
    # The language is part of what a chart shows (its titles and labels); the spec is copied: Streamlit edits it.
    return st.vega_lite_chart(spec=dict(_chart_spec((language(), *shows), build)), **kwargs)


def _frozen(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


@st.cache_resource(max_entries=64, show_spinner=False)
def _trace(path: str, stamp: tuple, text: str) -> Trace:
    trace = _load(path, stamp).trace(text)
    _frozen(trace.ids, trace.hidden, trace.step_proba, *trace.gates.values())
    return trace


def get_trace(model: SentimentModel, text: str) -> Trace:
    """Cached trace of ``text``; ValueError when it holds no words."""
    return _trace(*cache_key(model), text)


# Word influence is started as soon as the trace exists and computed on a worker thread while the page builds
# its charts (torch releases the interpreter as it works); the section that shows it waits for the result.
_INFLUENCE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="word-influence")


def _influence_now(model: SentimentModel, trace: Trace) -> tuple[np.ndarray, np.ndarray]:
    out = occlusion(model, trace), grad_x_input(model, trace)
    _frozen(*out)
    return out


@st.cache_resource(max_entries=32, show_spinner=False)
def _influence(path: str, stamp: tuple, text: str) -> Future:
    return _INFLUENCE_POOL.submit(_influence_now, _load(path, stamp), _trace(path, stamp, text))


def start_influence(model: SentimentModel, text: str) -> None:
    """Begin computing the word influence of ``text`` (see ``get_influence``) in the background, once."""
    _influence(*cache_key(model), text)


def get_influence(model: SentimentModel, text: str) -> tuple[np.ndarray, np.ndarray]:
    """(occlusion, gradient × input) per word, cached: waits for the computation ``start_influence`` began."""
    with st.spinner(_("Measuring each word's influence…")):
        return _influence(*cache_key(model), text).result()


@st.cache_resource(max_entries=64, show_spinner=False)
def _reach(path: str, stamp: tuple, text: str) -> np.ndarray:
    out = gradient_by_position(_load(path, stamp), [_trace(path, stamp, text).ids])[0]
    _frozen(out)
    return out


def memory_reach(model: SentimentModel, text: str) -> np.ndarray:
    """Cached gradient size of the verdict by distance from the end, for one review (a backward pass)."""
    return _reach(*cache_key(model), text)


def open_test_review(test, i: int) -> None:
    """Put IMDB test review ``i`` in the Gate Explorer's box with its true label and rating.

    The truth is kept with the text it belongs to, so it is shown only while that text is on screen.
    """
    st.session_state["review"] = test.texts[i]
    st.session_state["truth"] = (int(test.labels[i]), int(test.ratings[i]), test.ids[i], test.texts[i])


@st.cache_resource(max_entries=4, show_spinner=False)
def _imdb(split: str, path: str):
    return load_imdb(split, path)


def _imdb_shown(split: str, path: str):
    """``_imdb`` with a spinner while it loads."""
    with st.spinner(_("Loading IMDB reviews…")):
        return _imdb(split, path)


def _imdb_or_none(split: str):
    try:
        return _imdb_shown(split, str(resolve_imdb_path()))
    except DataNotFoundError:
        return None


def imdb_train():
    """The IMDB training split, or None when the dataset is not available (or unreadable)."""
    return _imdb_or_none("train")


@st.cache_resource(max_entries=8, show_spinner=False)
def _batch(path: str, stamp: tuple):

    return fixed_batch(_load(path, stamp), imdb_train(), n=32, words=100)


def landscape_batch(model: SentimentModel):
    """The fixed batch of training reviews the loss-landscape section uses for this model."""
    return _batch(*cache_key(model))


# Each landscape computation works on its own float64 copy of the cached model (never on the model itself).
@st.cache_data(max_entries=32, show_spinner=False)
def _steepest(path: str, stamp: tuple, pname: str, start: int, stop: int) -> tuple[int, int]:
    model = _load(path, stamp)
    return steepest_entry(session_copy(model), pname, landscape_batch(model), slice(start, stop))


def steepest(model: SentimentModel, pname: str, start: int, stop: int) -> tuple[int, int]:
    """The entry of weight block ``pname`` (rows start:stop) with the steepest loss slope on the fixed batch."""
    return _steepest(*cache_key(model), pname, start, stop)


@st.cache_data(max_entries=32, show_spinner=False)
def _weight_section(path: str, stamp: tuple, pname: str, index: tuple[int, int], start: float, alpha: float,
                    steps: int) -> dict:
    model = _load(path, stamp)
    return weight_section(session_copy(model), landscape_batch(model), pname, index, start, alpha, steps)


def section_along(model: SentimentModel, pname: str, index: tuple[int, int], start: float, alpha: float,
                  steps: int) -> dict:
    """The loss along one weight, with gradient descent on it (``landscape.weight_section``), cached."""
    return _weight_section(*cache_key(model), pname, index, start, alpha, steps)


@st.cache_data(max_entries=8, show_spinner=False)
def _surface(path: str, stamp: tuple, seed1: int, seed2: int) -> pd.DataFrame:
    model = _load(path, stamp)
    return surface_frame(session_copy(model), landscape_batch(model), seed1, seed2)


def surface(model: SentimentModel, seed1: int, seed2: int) -> pd.DataFrame:
    """The loss over a plane of two filter-normalised random directions, cached."""
    return _surface(*cache_key(model), seed1, seed2)


def imdb_test():
    """The IMDB test split, or None when the dataset is not available (or unreadable)."""
    return _imdb_or_none("test")


def model_names() -> list[str]:
    return list(st.session_state.get("model_paths", {}))


def load_named(names: list[str]) -> list[SentimentModel]:
    """The named models; any that cannot be loaded is reported and left out."""
    out = []
    for name in names:
        try:
            out.append(get_model(st.session_state["model_paths"][name]))
        except CheckpointError as e:
            st.error(_("Model **{name}** cannot be loaded and is left out.\n\n{error}").format(name=model_label(name),
                                                                                             error=e))
    return out


@st.cache_data(max_entries=16, show_spinner=False)
def _live(path: str, stamp: tuple) -> dict:

    return measure_live(_load(path, stamp))


def live_measurements(model: SentimentModel) -> dict:
    """Latency, throughput and peak memory measured on this machine (cached per checkpoint)."""
    return _live(*cache_key(model))


def _mtime(model: SentimentModel, name: str) -> int:
    """The modification time of a stored file next to the model (0 when missing): part of its cache key."""
    f = Path(model.path) / name
    return f.stat().st_mtime_ns if f.exists() else 0


@st.cache_resource(max_entries=16, show_spinner=False)
def _stats(path: str, mtime: int, sha: str | None) -> dict | None:
    return read_stats(path, sha)


def model_stats(model: SentimentModel) -> dict | None:
    """The model's stats.json (read once per version of it and of the weights), or None when it is missing
    or was computed from other weights."""
    if model.path is None:
        return None
    return _stats(str(model.path), _mtime(model, STATS_FILE), model.config.get("weights_sha256"))


@st.cache_resource(max_entries=8, show_spinner=False)
def _unit_index(path: str, mtime: int, sha: str | None) -> tuple[dict | None, str | None]:
    return read_index(path, sha)


def unit_index(model: SentimentModel) -> tuple[dict | None, str | None]:
    """(the model's stored unit index, None), or (None, why not): read once per version of units.json."""
    if model.path is None:
        return None, _("this model has no folder")
    path, sha = str(model.path), model.config.get("weights_sha256")
    with st.spinner(_("Reading the unit index…")):
        index = _unit_index(path, _mtime(model, INDEX_FILE), sha)[0]
    # The reason is told in this session's language: read again (cheap; the file is missing or unusable).
    return (index, None) if index is not None else read_index(path, sha)


@st.cache_resource(max_entries=16, show_spinner=False)
def _dynamics(path: str, mtime: int, sha: str | None) -> dict | None:
    return read_dynamics(path, sha)


def stored_dynamics(model: SentimentModel) -> dict | None:
    """The model's dynamics.json, read once per version of it, or None when it is missing or belongs to other
    weights."""
    if model.path is None:
        return None
    return _dynamics(str(model.path), _mtime(model, DYNAMICS_FILE), model.config.get("weights_sha256"))


@st.cache_resource(max_entries=16, show_spinner=False)
def _dynamics_tables(path: str, stamp: tuple, mtime: int, sha: str | None) -> dict:
    dyn, model = _dynamics(path, mtime, sha), _load(path, stamp)
    return {**plane_frames(dyn), "kicks": kick_table(dyn, model), "modifiers": modifier_paths(dyn, model)}


def dynamics_tables(model: SentimentModel) -> dict:
    """Frames the Dynamics page draws from the stored file (the kick table needs the vocabulary), built once per
    version of the model and of the file. Call only when ``stored_dynamics(model)`` is not None."""
    return _dynamics_tables(*cache_key(model), _mtime(model, DYNAMICS_FILE), model.config.get("weights_sha256"))


@st.cache_resource(max_entries=32, show_spinner=False)
def _intervened(path: str, stamp: tuple, text: str, units: tuple[int, ...], kind: str, value: float,
                start: int) -> InterventionResult:
    return run_intervention(_load(path, stamp), text, Intervention(units, kind, value, start),
                            _trace(path, stamp, text))


def intervened(model: SentimentModel, text: str, units: tuple[int, ...], kind: str, value: float = 0.0,
               start: int = 0) -> InterventionResult:
    """The review read again with ``units`` changed at every word from word ``start`` on, cached."""
    with st.spinner(_("Reading the review again with the intervention…")):
        return _intervened(*cache_key(model), text, tuple(units), kind, float(value), int(start))


def new_pick(key: str, picked: object) -> bool:
    """True when ``picked`` (a chart cell or table row from Streamlit's selection event) is a new click.

    A selection stays in the widget's event on every later run; remembering the last one seen under ``key``
    keeps an old selection from undoing picks made elsewhere since.
    """
    seen = f"_seen_{key}"
    if picked == st.session_state.get(seen):
        return False
    st.session_state[seen] = picked
    return picked is not None


def set_unit(unit: int) -> None:
    """Pick ``unit``: the one shared choice of the Unit atlas and the Explorer's unit inspector (URL ``?unit=``)."""
    st.session_state["unit"] = int(unit)
    st.query_params["unit"] = str(int(unit))


def shared_unit(n_units: int, default: int) -> int:
    """The picked unit: this session's choice, else the link's ``?unit=``, else ``default``; kept in the URL.

    A plain session key (not a widget's), so it survives moving between pages.
    """
    unit = st.session_state.get("unit")
    if unit is None:
        try:
            unit = int(st.query_params.get("unit", ""))
        except ValueError:
            unit = None
    if not isinstance(unit, int) or not 0 <= unit < n_units:
        unit = default
    set_unit(unit)
    return unit


def unit_input(n_units: int, default: int, help: str) -> int:
    """A number input bound to the shared unit (re-seeded from it on every run, as the model picker is)."""
    unit = shared_unit(n_units, default)
    st.session_state["_unit_input"] = unit
    st.number_input(_("Unit"), 0, n_units - 1, key="_unit_input", help=help,
                    on_change=lambda: set_unit(st.session_state["_unit_input"]))
    return unit


# --- Where models fail (slices.json), and the Explorer's state search ------------------------------------------

@st.cache_resource(max_entries=16, show_spinner=False)
def _slices(path: str, mtime: int, sha: str | None) -> tuple[SliceData | None, str | None]:
    return read_slices(path, sha)


def stored_slices(model: SentimentModel) -> tuple[SliceData | None, str | None]:
    """(the model's slices.json, None), or (None, why not): read once per version of the file."""
    if model.path is None:
        return None, _("this model has no folder")
    path, sha = str(model.path), model.config.get("weights_sha256")
    data = _slices(path, _mtime(model, SLICES_FILE), sha)[0]
    # The reason is told in this session's language: read again (cheap; the file is missing or unusable).
    return (data, None) if data is not None else read_slices(path, sha)


@st.cache_resource(max_entries=8, show_spinner=False)
def _compute_slices(path: str, stamp: tuple, data_path: str, mtime: int) -> str | None:
    """Compute and store slices.json once per version of the model and of the file there (a second visitor waits
    for the same run); None when written, else why it could not be."""
    try:
        write_slices(path, compute_slices(_load(path, stamp), _imdb("test", data_path)))
    except (OSError, ValueError) as e:
        return f"{e}"
    return None


def compute_slices_now(model: SentimentModel) -> str | None:
    """Compute the model's slices.json with the dataset (None when done, else why not)."""
    try:
        data_path = str(resolve_imdb_path())
    except DataNotFoundError as e:
        return f"{e}"
    with st.spinner(_("Reading all 25,000 test reviews with the model (up to a minute)…")):
        return _compute_slices(*cache_key(model), data_path, _mtime(model, SLICES_FILE))


@st.cache_resource(max_entries=2, show_spinner=False)
def _joined(data_path: str) -> list[str]:
    return joined_words(_imdb("test", data_path).tokens)


def test_words_joined() -> list[str] | None:
    """Every IMDB test review's words, joined for whole-word phrase search, or None without the dataset."""
    try:
        path = str(resolve_imdb_path())
        with st.spinner(_("Indexing the test reviews' words…")):
            return _joined(path)
    except DataNotFoundError:
        return None


STATE_INDEXES = 2  # state indexes a server process holds at once (each within state_search.BUDGET_BYTES)


@st.cache_resource(show_spinner=False)
def _state_shelf() -> JobShelf[StateIndex]:
    return JobShelf(STATE_INDEXES)


def state_index_job(model: SentimentModel) -> BackgroundJob[StateIndex] | None:
    """The background build of ``model``'s state index over the test set (started on the first request, once per
    server process), or None while every place on the shelf is building for other models. Call only with the
    dataset available."""
    data_path = str(resolve_imdb_path())
    test = _imdb_shown("test", data_path)

    def start() -> BackgroundJob[StateIndex]:
        return BackgroundJob(lambda progress, stop: build_state_index(model, test, progress=progress, stop=stop),
                             name=model.name)

    return _state_shelf().get((*cache_key(model), data_path), start)
# --- Inside the cell: backpropagation through time for one review, and SGD on a private copy -------------

@st.cache_resource(max_entries=48, show_spinner=False)
def _backprop(path: str, stamp: tuple, text: str, label: int) -> Backprop:
    bp = backprop(_load(path, stamp).module, _trace(path, stamp, text).ids, label)
    _frozen(bp.grad_h, bp.keep, bp.other, *bp.carried, *([bp.grad_c] if bp.grad_c is not None else []))
    return bp


def get_backprop(model: SentimentModel, text: str, label: int) -> Backprop:
    """BPTT of ``text`` with the true label ``label`` (1 positive, 0 negative), cached; ValueError without words."""
    return _backprop(*cache_key(model), text, int(label))


PROBE_REVIEWS = 200  # random IMDB test reviews whose verdicts the SGD section follows (when the dataset is here)


@st.cache_resource(max_entries=8, show_spinner=False)
def _probes(path: str, stamp: tuple, with_data: bool) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray,
                                                                np.ndarray]:
    model = _load(path, stamp)
    examples = [model.encode(t)[1] for t in EXAMPLES.values()]
    test, seqs, labels = imdb_test() if with_data else None, [], []
    if test is not None:
        pick = np.random.default_rng(0).choice(len(test), size=min(PROBE_REVIEWS, len(test)), replace=False)
        seqs = [np.asarray(model.vocab.encode(test.tokens[i][-model.maxlen:]), dtype=np.int64) for i in pick]
        seqs = [s for s in seqs if len(s)]
        labels = [int(test.labels[i]) for i in pick]
    before = model.predict_ids(seqs) if seqs else np.empty(0)
    out = examples, seqs, np.asarray(labels), before
    _frozen(out[2], before)
    return out


def probe_reviews(model: SentimentModel) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
    """The reviews the SGD section follows: the examples' ids (in EXAMPLES' order), and 200 random IMDB test reviews
    (seeded; none without the dataset) with their true labels and the model's own P(positive) for them."""
    with_data = imdb_test() is not None
    with st.spinner(_("Reading {n} test reviews…").format(n=PROBE_REVIEWS)):
        return _probes(*cache_key(model), with_data)


@st.cache_resource(max_entries=16, show_spinner=False)
def _sgd(path: str, stamp: tuple, text: str, label: int, alpha: float, steps: int, with_data: bool) -> dict:
    model = _load(path, stamp)
    examples, test, _labels, _before = _probes(path, stamp, with_data)
    out = sgd_path(model, _trace(path, stamp, text).ids, label, alpha, steps, examples, test)
    _frozen(*(v for v in out.values() if isinstance(v, np.ndarray)))
    return out


def sgd_steps(model: SentimentModel, text: str, label: int, alpha: float, steps: int) -> dict:
    """``bptt.sgd_path`` for this review, the examples followed at every step and the test reviews after the last,
    cached; the cached model is never changed."""
    with_data = imdb_test() is not None
    with st.spinner(_("Taking gradient-descent steps on a private copy of the weights…")):
        return _sgd(*cache_key(model), text, int(label), float(alpha), int(steps), with_data)
