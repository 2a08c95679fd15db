"""Importing a Keras model uploaded in the browser: ``python -m gru_core import-keras`` in a process of its own.

The conversion reads an untrusted file with h5py (the HDF5 C library) and zipfile, so it runs in a
child process with a memory limit, a lower priority and a time limit: whatever a hostile file does
to the reader, the server only sees a failed command and its message. The result is saved in the
local models folder (never over a model already there) and appears in the model list as
"NAME (imported)".
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from ..checkpoint import local_models_dir
from ..i18n import _
from ..keras_import import render
from .runs import ENV_READ_ONLY, LIMITS, read_only

MAX_MODEL_MB = 64  # the seed's model is 6.8 MB as .keras (with Adam's state), 6.8 MB as .h5
MAX_WORD_INDEX_MB = 8  # keras.datasets.imdb's word index is 1.6 MB
IMPORT_MAXLEN = LIMITS["maxlen"][1]  # as for training here: every page reads that many steps per review
TIMEOUT_S = 180
MEMORY_BYTES = 4 * 2**30
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
ROOT = Path(__file__).resolve().parent.parent.parent


class ImportRefused(ValueError):
    """The upload was not imported; the message says why, for the page to show."""


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME.fullmatch(name):
        raise ImportRefused(_("Name the model with 1–40 letters, digits, '-' or '_' (starting with a letter or "
                              "digit)."))
    return name


def _refusal(error_file: Path) -> str | None:
    """The converter's refusal in this session's language, from the message data it wrote (None if it wrote none
    or it is unreadable: the page then shows the English line it printed)."""
    try:
        return render(json.loads(error_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None


def _limit_child() -> None:  # pragma: no cover -- runs in the child before it execs
    import resource

    os.nice(10)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def import_upload(name: str, model_file: str, model_bytes: bytes, word_index_bytes: bytes, num_words: int = 5000,
                  maxlen: int = 500, index_from: int = 3, dest: Path | None = None) -> Path:
    """Convert an uploaded Keras model into ``dest/NAME`` (the local models folder); its path.
    ImportRefused with a message for the page on every failure."""
    if read_only():
        raise ImportRefused(_("Importing models is switched off on this server ({env} is set).").format(
            env=ENV_READ_ONLY))
    name = check_name(name)
    if not 1 <= maxlen <= IMPORT_MAXLEN:
        raise ImportRefused(_("maxlen must be between 1 and {most:,} here.").format(most=IMPORT_MAXLEN))
    suffix = Path(model_file or "").suffix.lower()
    if suffix not in (".keras", ".h5", ".hdf5"):
        raise ImportRefused(_("Upload the model as a .keras file (Keras 3) or an .h5 file (Keras 2 or 3)."))
    if not model_bytes:
        raise ImportRefused(_("The model file is empty."))
    if not word_index_bytes:
        raise ImportRefused(_("Upload the word index too (imdb_word_index.json: word -> rank)."))
    if len(model_bytes) > MAX_MODEL_MB * 2**20 or len(word_index_bytes) > MAX_WORD_INDEX_MB * 2**20:
        raise ImportRefused(_("Uploads are limited to {model_mb} MB for the model and {index_mb} MB for the word "
                              "index here; `{command}` on your own machine takes larger ones.").format(
            model_mb=MAX_MODEL_MB, index_mb=MAX_WORD_INDEX_MB, command="python -m gru_core import-keras"))
    dest = Path(dest) if dest is not None else local_models_dir()
    out = dest / name
    if out.exists():
        raise ImportRefused(_("A model named '{name}' is already in {folder}; pick another name.").format(
            name=name, folder=dest))
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="keras-upload-") as tmp:
        model_path, index_path = Path(tmp) / f"model{suffix}", Path(tmp) / "word_index.json"
        model_path.write_bytes(model_bytes)
        index_path.write_bytes(word_index_bytes)
        error_file = Path(tmp) / "error.json"
        cmd = [sys.executable, "-m", "gru_core", "import-keras", str(model_path), "--word-index", str(index_path),
               "--num-words", str(num_words), "--maxlen", str(maxlen), "--index-from", str(index_from),
               "--out", str(out), "--no-replace", "--error-file", str(error_file)]
        try:
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
                                  preexec_fn=_limit_child if os.name == "posix" else None,
                                  env={**os.environ, "OMP_NUM_THREADS": "1"})
        except subprocess.TimeoutExpired:
            raise ImportRefused(_("The conversion took longer than {seconds} s and was stopped.").format(
                seconds=TIMEOUT_S)) from None
        refusal = _refusal(error_file) if done.returncode != 0 else None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        why = refusal or next((ln[len("error: "):] for ln in reversed(lines) if ln.startswith("error: ")), None)
        if why is None and done.returncode < 0:
            why = _("the converter stopped (killed by signal {signal}), which a malformed or oversized file can "
                    "cause").format(signal=-done.returncode)
        elif why is None:
            why = _("the converter stopped (exit status {code}), which a malformed or oversized file can "
                    "cause").format(code=done.returncode)
        raise ImportRefused(_("The model was not imported: {why}").format(why=why))
    return out
