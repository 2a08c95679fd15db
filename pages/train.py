"""Train a GRU, LSTM or RNN from the browser with the same pipeline as the CLI, in a process of its own."""
from __future__ import annotations

import shlex
import uuid

import pandas as pd
import streamlit as st

from gru_core.analysis.compare import history_rows
from gru_core.archs import ARCHS, NAMES
from gru_core.charts.training import learning_curves, training_progress
from gru_core.checkpoint import local_models_dir
from gru_core.data import DATA_DIR, DataNotFoundError, resolve_imdb_path
from gru_core.download import DownloadError, download_imdb
from gru_core.i18n import _, ngettext
from gru_core.jobs.imports import IMPORT_MAXLEN, MAX_MODEL_MB, MAX_WORD_INDEX_MB, ImportRefused, import_upload
from gru_core.jobs.runs import (
    ENV_READ_ONLY,
    LIMITS,
    NO_OUTPUT,
    PHASES,
    STATUSES,
    Run,
    RunRefused,
    exit_message,
    max_runs,
    read_only,
    registry,
    train_args,
)
from gru_core.train import TrainConfig
from pages.common import fragment, local_label, require_app

require_app(__file__)
st.title(_("Train a model"))

if read_only():
    st.info(_("Training is switched off on this server (it runs read-only: `{env}` is set), and so is importing your "
              "own model, so every visitor explores the same models. The same training runs on your own machine "
              "from a clone of the project; for example:").format(env=ENV_READ_ONLY))
    example = train_args(TrainConfig(limit=2_000, epochs=2), "models/local/my-model")
    st.code("python -m gru_core " + shlex.join(example), language="bash")
    st.caption(_("Your own Keras model opens the same way: `{command}`. Models in `{folder}` appear in the sidebar's "
                 "model list, marked as trained or imported there.").format(
        command="python -m gru_core import-keras MODEL.keras --word-index imdb_word_index.json --out "
                "models/local/NAME", folder="models/local/"))
    st.stop()


def import_panel() -> None:
    """Open your own Keras model: upload it and its word index; converted in a process of its own."""
    if done := st.session_state.pop("import_done", None):
        st.success(done)
    with st.expander(_("Open your own Keras model"), icon=":material/upload_file:"):
        st.markdown(_(
            "A Keras model like the seed tutorial's: **Embedding → GRU** (`reset_after` True or False) **| LSTM | "
            "SimpleRNN → Dense(1, sigmoid)**, Dropout or SpatialDropout1D in between, saved with `model.save()` as "
            "`.keras` or `.h5`, and the word index its reviews were encoded with (`imdb_word_index.json`, what "
            "`keras.datasets.imdb.get_word_index()` gives). The file is read as data (nothing in it runs) in a "
            "process of its own; reviews are then encoded as `keras.datasets.imdb` does (start mark 1, unknown 2, "
            "word rank + index_from, padding 0 in front up to maxlen). Limits: model file {model_mb} MB, "
            "word index {index_mb} MB.").format(model_mb=MAX_MODEL_MB, index_mb=MAX_WORD_INDEX_MB))
        with st.form("import_form"):
            model_up = st.file_uploader(_("Model file (.keras or .h5)"), type=["keras", "h5", "hdf5"],
                                        help=_("What model.save('model.keras') or model.save('model.h5') wrote."))
            index_up = st.file_uploader(_("Word index (.json)"), type=["json"],
                                        help=_("word -> rank (1 = most frequent), as "
                                               "keras.datasets.imdb.get_word_index() gives."))
            c1, c2, c3, c4 = st.columns(4)
            import_name = c1.text_input(_("Name"), value="my-keras-model", max_chars=40,
                                        help=_("The model appears in the model list as 'NAME (imported)'."))
            num_words = c2.number_input(_("num_words"), 10, 1_000_000, 5000,
                                        help=_("imdb.load_data(num_words=...)"))
            maxlen = c3.number_input(_("maxlen"), 1, IMPORT_MAXLEN, 500,
                                     help=_("pad_sequences(maxlen=...), at most {most:,} here (every page reads that "
                                            "many steps); the command line takes more.").format(most=IMPORT_MAXLEN))
            index_from = c4.number_input(_("index_from"), 2, 100, 3,
                                         help=_("imdb.load_data(index_from=...), 3 by default"))
            submitted = st.form_submit_button(_("Import"), type="primary",
                                              help=_("Convert the two files into a checkpoint under {folder}.").format(
                                                  folder="models/local/"))
        if submitted:
            if model_up is None or index_up is None:
                st.error(_("Choose both files: the model and its word index."))
            else:
                try:
                    with st.spinner(_("Converting…")):
                        folder = import_upload(import_name, model_up.name, model_up.getvalue(), index_up.getvalue(),
                                               int(num_words), int(maxlen), int(index_from))
                except ImportRefused as e:
                    st.error(str(e))
                else:
                    label = local_label(folder.name, imported=True)
                    st.session_state["model"] = label  # open it: the sidebar picks it up on the next run
                    st.session_state["import_done"] = _("Imported into `{folder}`: it is now in the sidebar's model "
                                                        "list as **{label}**, and selected.").format(folder=folder,
                                                                                                     label=label)
                    st.rerun()


st.caption(_("Runs the project's own training pipeline (`{command}`) on IMDB training reviews in a separate process "
             "at a lower priority, so exploring stays responsive. The result is saved in `{folder}` and appears at "
             "once in the model list, marked as trained here.").format(command="python -m gru_core train",
                                                                       folder=local_models_dir()))

try:
    data_path = str(resolve_imdb_path())
except DataNotFoundError as e:
    st.warning(_("Training needs the IMDB dataset. {why}").format(why=e))
    if st.button(_("Download the IMDB dataset ({mb} MB)").format(mb=84),
                 help=_("Fetches the official archive into {folder}.").format(folder=DATA_DIR)):
        bar = st.progress(0.0, text=_("Downloading…"))
        downloading = _("Downloading… {mb:.1f} MB")  # looked up once, not at every chunk

        def progress(done: int, total: int | None) -> None:
            bar.progress(min(done / total, 1.0) if total else 0.0, text=downloading.format(mb=done / 2**20))

        try:
            path = download_imdb(DATA_DIR, progress=progress)
        except DownloadError as err:
            st.error(str(err))
        else:
            st.success(_("Saved {path} (MD5 verified).").format(path=path))
            st.rerun()
    import_panel()  # needs no dataset
    st.stop()

runs = registry()
owner = st.session_state.setdefault("train_owner", uuid.uuid4().hex)  # this browser session
slots = max_runs()

with st.form("train_form"):
    c1, c2, c3 = st.columns(3)
    arch_names = {n: _(ARCHS[n].display) for n in NAMES}  # read once: AppTest formats outside the script thread
    arch = c1.selectbox(_("Architecture"), NAMES, format_func=arch_names.get, help=_("The recurrent layer."))
    name = c2.text_input(_("Name of the new model"), value="my-model", max_chars=40, key="train_name",
                         help=_("Saved as models/local/NAME; lower-case letters, digits, '-' and '_'."))
    limit = c3.number_input(_("Training reviews"), *LIMITS["limit"], value=2_000, step=500,
                            help=_("Drawn at random from the 25,000; 10% of them are held out for validation."))
    c4, c5, c6 = st.columns(3)
    epochs = c4.number_input(_("Epochs"), *LIMITS["epochs"], value=2,
                             help=_("Passes over the training reviews; the best one on validation is kept."))
    batch_size = c5.number_input(_("Batch size"), *LIMITS["batch_size"], value=64,
                                 help=_("Reviews per step (grouped by length)."))
    lr = c6.number_input(_("Learning rate"), *LIMITS["lr"], value=2e-3, format="%.5f", help=_("Peak rate of AdamW."))
    c7, c8, c9 = st.columns(3)
    hidden = c7.number_input(_("Hidden units"), *LIMITS["hidden"], value=100,
                             help=_("Size of the recurrent state H."))
    vocab = c8.number_input(_("Vocabulary size"), *LIMITS["vocab_size"], value=5_000, step=500,
                            help=_("Most frequent training words kept, padding and unknown included."))
    maxlen = c9.number_input(_("Max words per review (the last ones)"), *LIMITS["maxlen"], value=500,
                             help=_("Longer reviews are cut at the front, as Keras pad_sequences does."))
    evaluate = st.checkbox(_("Evaluate on the 25,000 test reviews when done (about 30 s)"), value=True,
                           help=_("Adds test and Rotten Tomatoes accuracy to the new model's metrics.json."))
    overwrite = st.checkbox(_("Replace a model of the same name trained here"), value=False,
                            help=_("Otherwise an existing name is refused. Shipped models are never replaced."))
    start = st.form_submit_button(_("Start training"), type="primary",
                                  help=ngettext("This server trains at most {n} run at once.",
                                                "This server trains at most {n} runs at once.", slots).format(n=slots))

if start:
    cfg = TrainConfig(arch=arch, epochs=int(epochs), batch_size=int(batch_size), lr=float(lr), hidden=int(hidden),
                      vocab_size=int(vocab), maxlen=int(maxlen), limit=int(limit), device="cpu")
    try:
        runs.start(owner, cfg, name, data_path, evaluate_test=evaluate, replace_existing=overwrite)
    except RunRefused as refused:
        for problem in refused.problems:
            st.error(problem)
    except OSError as err:
        st.error(_("The training process could not be started: {error}").format(error=err))


def show(run: Run, mine: bool) -> None:
    """One run: progress, live charts, and (for the session that started it) Stop and Clear."""
    p = run.snapshot()
    st.subheader(_("{name}: your run").format(name=run.name) if mine else
                 _("{name}: another visitor's run (you can watch it; only they can stop it)").format(name=run.name))
    done = p.step / p.total_steps if p.total_steps else 0.0
    where = {"status": _(STATUSES.get(p.status, p.status)), "phase": _(PHASES.get(p.phase, p.phase)),
             "epoch": p.epoch, "step": p.step, "total": p.total_steps, "elapsed": p.elapsed, "eta": p.eta}
    if p.eta and not run.finished:
        text = _("{status} ({phase}) — epoch {epoch}, step {step:,} of {total:,}, {elapsed:.0f} s elapsed, about "
                 "{eta:.0f} s left").format(**where)
    else:
        text = _("{status} ({phase}) — epoch {epoch}, step {step:,} of {total:,}, {elapsed:.0f} s elapsed").format(
            **where)
    st.progress(min(done, 1.0), text=text)
    if mine and not run.finished and st.button(_("Stop"), key=f"stop-{run.id}",
                                               help=_("Ends training cleanly and saves the best epoch so far.")):
        runs.stop(run.id, owner)
    if p.points:
        pts = pd.DataFrame(p.points).melt(id_vars=["step", "epoch"], value_vars=["loss", "accuracy"],
                                          var_name="measure", value_name="value")
        st.altair_chart(training_progress(pts), width="stretch")
    if p.history:
        hist = pd.DataFrame(history_rows(run.name, p.history))
        for col, measure in zip(st.columns(2), ("loss", "accuracy"), strict=True):
            col.altair_chart(learning_curves(hist, measure), width="stretch")
    if p.status == "failed":
        why = exit_message(p.exit_code) if p.exit_code is not None else p.error
        st.error(_("Training failed. {why} Its last lines of output:").format(why=why))
        st.code(_(NO_OUTPUT) if p.output == NO_OUTPUT else p.output, language=None)
    elif run.finished and p.folder:
        m = p.metrics or {}
        test = m.get("imdb_test", {}).get("accuracy")
        saved = {"folder": p.folder, "epoch": m.get("best_epoch"), "val": m.get("val_acc", 0), "test": test,
                 "label": local_label(run.name)}
        if test is not None:
            st.success(_("Saved {folder} (best epoch {epoch}, validation accuracy {val:.2%}, test accuracy "
                         "{test:.2%}). It is now in the sidebar's model list as **{label}**.").format(**saved))
        else:
            st.success(_("Saved {folder} (best epoch {epoch}, validation accuracy {val:.2%}). It is now in the "
                         "sidebar's model list as **{label}**.").format(**saved))
    elif run.finished:
        st.info(_(p.message) if p.message else p.message)  # the child's English sentence, a msgid of train.py
    if mine and run.finished and st.button(_("Clear"), key=f"clear-{run.id}", help=_("Hide this run's results.")):
        runs.clear(run.id, owner)
        st.rerun()


@fragment(run_every=1.0 if runs.active() else None)
def runs_panel() -> None:
    listed = runs.runs()
    if not listed:
        st.info(_("Pick the settings and start a run. A few thousand reviews and two epochs take about a minute."))
    for run in listed:
        show(run, run.owner == owner)
    going = {r.id for r in listed if not r.finished}
    ended = st.session_state.get("train_going", set()) - going
    st.session_state["train_going"] = going
    if ended:  # a run finished during this fragment: one full rerun refreshes the sidebar's model list
        st.rerun()


runs_panel()
import_panel()
