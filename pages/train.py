"""Train a GRU, LSTM or RNN from the browser with the same loop as the CLI."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from gru_core.archs import ARCHS, NAMES
from gru_core.charts import learning_curves, training_progress
from gru_core.checkpoint import models_dir
from gru_core.compare import history_rows
from gru_core.data import DATA_DIR, DataNotFoundError, resolve_imdb_path
from gru_core.download import DownloadError, download_imdb
from gru_core.jobs import LIMITS, TrainJob, check_request
from gru_core.train import TrainConfig
from pages.common import require_app, training_slot

require_app()
st.title("Train a model")
st.caption("Runs the project's own training loop (the one `python -m gru_core train` uses) on IMDB training "
           "reviews; the result is saved as a new checkpoint and appears at once in the model list.")

try:
    data_path = str(resolve_imdb_path())
except DataNotFoundError as e:
    st.warning(f"Training needs the IMDB dataset. {e}")
    if st.button("Download the IMDB dataset (84 MB)", help=f"Fetches the official archive into {DATA_DIR}."):
        bar = st.progress(0.0, text="Downloading…")

        def progress(done: int, total: int | None) -> None:
            bar.progress(min(done / total, 1.0) if total else 0.0, text=f"Downloading… {done / 2**20:.1f} MB")

        try:
            path = download_imdb(DATA_DIR, progress=progress)
        except DownloadError as err:
            st.error(str(err))
        else:
            st.success(f"Saved {path} (MD5 verified).")
            st.rerun()
    st.stop()

slot = training_slot()
job: TrainJob | None = slot.get("job")

with st.form("train_form"):
    c1, c2, c3 = st.columns(3)
    arch = c1.selectbox("Architecture", NAMES, format_func=lambda n: ARCHS[n].display, help="The recurrent layer.")
    name = c2.text_input("Name of the new model", value="my-model", max_chars=40, key="train_name",
                         help="Saved as models/NAME; lower-case letters, digits, '-' and '_'.")
    limit = c3.number_input("Training reviews", *LIMITS["limit"], value=2_000, step=500,
                            help="Drawn at random from the 25,000; 10% of them are held out for validation.")
    c4, c5, c6 = st.columns(3)
    epochs = c4.number_input("Epochs", *LIMITS["epochs"], value=2,
                             help="Passes over the training reviews; the best one on validation is kept.")
    batch_size = c5.number_input("Batch size", *LIMITS["batch_size"], value=64,
                                 help="Reviews per step (grouped by length).")
    lr = c6.number_input("Learning rate", *LIMITS["lr"], value=2e-3, format="%.5f", help="Peak rate of AdamW.")
    c7, c8, c9 = st.columns(3)
    hidden = c7.number_input("Hidden units", *LIMITS["hidden"], value=100, help="Size of the recurrent state H.")
    vocab = c8.number_input("Vocabulary size", *LIMITS["vocab_size"], value=5_000, step=500,
                            help="Most frequent training words kept, padding and unknown included.")
    maxlen = c9.number_input("Max words per review (the last ones)", *LIMITS["maxlen"], value=500,
                             help="Longer reviews are cut at the front, as Keras pad_sequences does.")
    evaluate = st.checkbox("Evaluate on the 25,000 test reviews when done (about 30 s)", value=True,
                           help="Adds test and Rotten Tomatoes accuracy to the new model's metrics.json.")
    overwrite = st.checkbox("Replace a model of the same name", value=False,
                            help="Otherwise an existing name is refused. Shipped models are never replaced.")
    start = st.form_submit_button("Start training", type="primary", disabled=job is not None and not job.finished,
                                  help="One run at a time on this server.")

if start:
    cfg = TrainConfig(arch=arch, epochs=int(epochs), batch_size=int(batch_size), lr=float(lr), hidden=int(hidden),
                      vocab_size=int(vocab), maxlen=int(maxlen), limit=int(limit), device="cpu")
    problems = check_request(cfg, name, models_dir(), overwrite)
    if job is not None and not job.finished:
        problems.append("Another training run is in progress on this server; wait for it or stop it.")
    if problems:
        for p in problems:
            st.error(p)
    else:
        job = TrainJob(cfg, models_dir() / name, data_path, evaluate_test=evaluate).start()
        slot.update(job=job, name=name)

running = job is not None and not job.finished


@st.fragment(run_every=1.0 if running else None)
def progress_panel() -> None:
    job: TrainJob | None = slot.get("job")
    if job is None:
        st.info("Pick the settings and start a run. A few thousand reviews and two epochs take about a minute.")
        return
    p = job.snapshot()
    done = p.step / p.total_steps if p.total_steps else 0.0
    eta = f", about {p.eta:.0f} s left" if p.eta and not job.finished else ""
    st.progress(min(done, 1.0), text=f"{slot.get('name')}: {p.status} — epoch {p.epoch}, step {p.step:,} of "
                                     f"{p.total_steps:,}, {p.elapsed:.0f} s elapsed{eta}")
    if not job.finished and st.button("Stop", help="Ends training cleanly and saves the best epoch so far."):
        job.stop()
    if p.points:
        pts = pd.DataFrame(p.points).melt(id_vars=["step", "epoch"], value_vars=["loss", "accuracy"],
                                          var_name="measure", value_name="value")
        st.altair_chart(training_progress(pts), width="stretch")
    if p.history:
        hist = pd.DataFrame(history_rows(slot.get("name"), p.history))
        for col, measure in zip(st.columns(2), ("loss", "accuracy")):
            col.altair_chart(learning_curves(hist, measure), width="stretch")
    if p.status == "failed":
        st.error(f"Training failed: {p.error}")
    elif job.finished:
        m = p.metrics or {}
        test = m.get("imdb_test", {}).get("accuracy")
        st.success(f"Saved {p.folder} (best epoch {m.get('best_epoch')}, validation accuracy "
                   f"{m.get('val_acc', 0):.2%}" + (f", test accuracy {test:.2%}" if test is not None else "") +
                   "). It is now in the sidebar's model list, the Gate Explorer and the comparison page.")
        if st.button("Clear", help="Hide this run's results."):
            slot.clear()
            st.rerun()
        if running:  # it finished during this fragment: one full rerun refreshes the sidebar's model list
            st.rerun()


progress_panel()
