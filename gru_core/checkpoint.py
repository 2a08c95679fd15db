"""Checkpoints: a folder of ``model.safetensors`` + JSON. Nothing is ever unpickled.

- ``config.json``: architecture, sizes, tokenizer, maxlen, padding, and the
  SHA-256 of the weights (checked on load); for a GRU its form (``gru_form``); for a model
  imported from Keras also what it reads before a review's words (``prefix``), its
  text conventions and its source file (``keras_import.py``).
- ``vocab.json``: the vocabulary.
- ``metrics.json``: how the model was made and how well it does.

Other modules may add files (``stats.json``, ...) that belong to these weights;
replacing a checkpoint drops them with the old weights.

What ``save_checkpoint(models/NAME)`` guarantees, whatever step a crash or a
power cut stops it at: ``models/NAME`` then loads as a complete checkpoint,
either the old one or the new one, never a mix of the two, and never missing
when one was there before. The steps:

1. every file is written into a temporary folder ``.NAME.<random>.tmp`` and
   fsynced, then the folder itself;
2. the old ``NAME`` (if any) is renamed to ``.NAME.old`` (a leftover
   ``.NAME.old`` from an earlier interrupted save is removed first);
3. the temporary folder is renamed to ``NAME``;
4. ``.NAME.old`` is removed.

Each rename is fsynced in the parent folder. A crash between steps 2 and 3
leaves only ``.NAME.old``: ``load_checkpoint``, ``list_checkpoints`` and the
next ``save_checkpoint`` rename it back to ``NAME`` before anything else
(``load_checkpoint`` reads it where it is if the models folder is read-only).
A crash after step 3 leaves the new checkpoint and an outdated ``.NAME.old``,
removed by the next save; a crash before step 2 may leave a ``.tmp`` folder.
Folders whose names start with '.' are never listed as models. Within one
process (the dashboard's sessions are threads) steps 2-4 and that recovery
take turns, so a page listing models while a training run saves never mistakes
the swap for a crash.

A loaded checkpoint must record the SHA-256 of its weights in config.json, and
the weights must match it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .archs import NAMES, RESET_AFTER
from .atomic import write_json_atomic
from .i18n import _
from .model import Prefix, SentimentRNN
from .text import TOKENIZER_VERSION, Vocab

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
ENV_MODELS = "GRU_EXPLORER_MODELS"
ENV_LOCAL_MODELS = "GRU_EXPLORER_LOCAL_MODELS"

SHIPPED = (*NAMES, "keras-seed")  # the models in models/: ours by architecture, then the seed's Keras recipe
FILES = ("model.safetensors", "config.json", "vocab.json", "metrics.json")  # what save_checkpoint writes
REQUIRED = FILES[:3]  # what loading needs
_SWAP = threading.Lock()  # a save's renames vs. recovery in another thread


class CheckpointError(Exception):
    """A checkpoint file is missing, truncated or does not match; says which and how to restore (in the interface's
    language: the pages show it)."""

    def __init__(self, file: Path | str, problem: str):
        self.file = Path(file)
        folder = self.file.parent
        super().__init__(
            _("{file}: {problem}. Restore it with `git checkout {folder}` (shipped models) or retrain it with "
              "`python -m gru_core train --out {folder}`.").format(file=self.file, problem=problem,
                                                                  folder=folder.as_posix())
        )


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_config(module: SentimentRNN, maxlen: int) -> dict:
    config = {
        "arch": module.arch,
        "vocab_size": module.embedding.num_embeddings,
        "embed_dim": module.embedding.embedding_dim,
        "hidden": module.rnn.hidden_size,
        "maxlen": maxlen,
        "padding": "pre",
        "truncating": "pre",
        "tokenizer": TOKENIZER_VERSION,
    }
    if module.arch == "gru" and module.gru_form != RESET_AFTER:
        config["gru_form"] = module.gru_form
    if module.prefix is not None:
        config["prefix"] = module.prefix.to_json()
    return config


def old_folder(folder: str | os.PathLike) -> Path:
    """Where ``save_checkpoint`` moves the previous ``folder`` while it swaps the new one in."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}.old"


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk (folders only where the OS allows opening them)."""
    if path.is_dir() and os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover(folder: str | os.PathLike) -> Path:
    """The folder to read ``folder`` from: after a save interrupted between its two renames
    (``folder`` gone, ``.NAME.old`` present) the old checkpoint is renamed back, or read in
    place where the models folder is read-only."""
    folder = Path(folder)
    old = old_folder(folder)
    with _SWAP:
        if folder.exists() or not old.is_dir():
            return folder
        try:
            os.replace(old, folder)
            _fsync(folder.parent)
        except OSError:
            return old
    return folder


def save_checkpoint(folder: str | os.PathLike, module: SentimentRNN, vocab: Vocab, maxlen: int,
                    metrics: dict | None = None, replace: bool = True, extra_config: dict | None = None) -> Path:
    """Write a checkpoint folder, replacing any previous one safely (see the module docstring); return its path.

    With ``replace=False`` an existing model folder is never replaced (FileExistsError),
    even one that appears while this function runs. ``extra_config``: more keys for config.json
    (an imported model's source and text conventions).
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    recover(folder)  # an earlier interrupted save: the old checkpoint first goes back under its name
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    os.chmod(tmp, 0o755)
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"))
        os.chmod(tmp / "model.safetensors", 0o644)
        config = {**make_config(module, maxlen), **(extra_config or {})}
        config["weights_sha256"] = sha256_file(tmp / "model.safetensors")
        write_json_atomic(tmp / "config.json", config)
        write_json_atomic(tmp / "vocab.json", vocab.to_json())
        metrics = dict(metrics or {})
        metrics["weights_sha256"] = config["weights_sha256"]
        write_json_atomic(tmp / "metrics.json", metrics)
        for name in FILES:
            _fsync(tmp / name)
        _fsync(tmp)
        old = old_folder(folder)
        with _SWAP:
            if not replace:
                _rename_no_replace(tmp, folder)
                _fsync(folder.parent)
                return folder
            if folder.exists():
                if old.exists():  # left by a save that crashed after its swap: outdated
                    shutil.rmtree(old)
                os.replace(folder, old)
                _fsync(folder.parent)
            os.replace(tmp, folder)
            _fsync(folder.parent)
            if old.exists():
                shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _rename_no_replace(tmp: Path, folder: Path) -> None:
    """Move ``tmp`` to ``folder`` unless a model is there: the claim and the move are one rename.

    rename(2) onto a non-empty folder fails (and a model folder is never empty), so
    a model that appeared at any moment before the rename is never replaced.
    """
    try:
        os.rename(tmp, folder)
    except OSError as e:
        if folder.exists():
            raise FileExistsError(f"a model named '{folder.name}' is already in {folder.parent} (it may have "
                                  "appeared while this one trained); it was left as it is and this model was "
                                  "not saved") from e
        raise


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(path, _("file is missing"))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, json.JSONDecodeError) as e:
        raise CheckpointError(path, _("not readable JSON ({error})").format(error=e)) from e
    if not isinstance(data, dict):
        raise CheckpointError(path, _("expected a JSON object"))
    return data


def load_checkpoint(folder: str | os.PathLike) -> tuple[SentimentRNN, Vocab, dict, dict]:
    """(module in eval mode, vocab, config, metrics); CheckpointError names any bad file."""
    folder = recover(folder)
    if not folder.is_dir():
        raise CheckpointError(folder / "config.json", _("model folder {folder} does not exist").format(folder=folder))
    config = _read_json(folder / "config.json")
    try:
        vocab = Vocab.from_json(_read_json(folder / "vocab.json"))
    except ValueError as e:
        raise CheckpointError(folder / "vocab.json", str(e)) from e
    metrics = _read_json(folder / "metrics.json") if (folder / "metrics.json").exists() else {}
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise CheckpointError(weights, _("file is missing"))
    expected = config.get("weights_sha256")
    if not isinstance(expected, str) or not expected:
        raise CheckpointError(folder / "config.json", _("no weights_sha256: the weights cannot be checked"))
    if sha256_file(weights) != expected:
        raise CheckpointError(weights, _("SHA-256 does not match config.json (truncated or changed file)"))
    try:
        sizes = [config[k] for k in ("vocab_size", "embed_dim", "hidden", "maxlen")]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in sizes):
            raise ValueError(_("vocab_size, embed_dim, hidden and maxlen must be positive integers"))
        module = SentimentRNN(config["arch"], *sizes[:3], gru_form=config.get("gru_form", RESET_AFTER),
                              prefix=_prefix(config))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(folder / "config.json", _("invalid or incomplete config ({error})").format(error=e)) from e
    if config.get("tokenizer") != TOKENIZER_VERSION:
        raise CheckpointError(folder / "config.json", _("tokenizer {name} is not supported").format(
            name=repr(config.get("tokenizer"))))
    if len(vocab) != module.embedding.num_embeddings:
        raise CheckpointError(folder / "vocab.json", _("{n} entries but config.json says vocab_size {size}").format(
            n=len(vocab), size=config["vocab_size"]))
    try:
        state = load_file(str(weights))
        module.load_state_dict(state, strict=True)
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise CheckpointError(weights, _("weights do not load into the configured model ({error})").format(error=e)) from e
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)  # shared, cached and read-only
    return module, vocab, config, metrics


def _prefix(config: dict) -> Prefix | None:
    """config.json's ``prefix`` (what the model reads before a review's words), checked; None when absent."""
    p = config.get("prefix")
    if p is None:
        return None
    start = p.get("start_id") if isinstance(p, dict) else None
    if (not isinstance(p, dict) or p.get("maxlen") != config["maxlen"] or not isinstance(p.get("reads_padding"), bool)
            or not (start is None or isinstance(start, int) and not isinstance(start, bool)
                    and 0 < start < config["vocab_size"])):
        raise ValueError(_("prefix must be {maxlen: the config's maxlen, reads_padding: true/false, start_id: an id or "
                           "null}"))
    return Prefix(p["maxlen"], p["reads_padding"], start)


def models_dir() -> Path:
    """Where checkpoints live: ``$GRU_EXPLORER_MODELS`` or the repo's ``models/``."""
    return Path(os.environ.get(ENV_MODELS) or MODELS_DIR)


def local_models_dir() -> Path:
    """Where models trained from the dashboard go: ``$GRU_EXPLORER_LOCAL_MODELS`` or
    ``local/`` inside the models folder (gitignored), apart from the shipped ones."""
    return Path(os.environ.get(ENV_LOCAL_MODELS) or models_dir() / "local")


def list_checkpoints(root: str | os.PathLike | None = None) -> list[Path]:
    """Model folders under ``root`` that hold a config.json; the shipped gru, lstm, rnn, keras-seed first.

    Folders whose names start with '.' are temporary (a save in progress) and skipped; a
    checkpoint left as ``.NAME.old`` by an interrupted save is first restored as ``NAME``.
    """
    root = Path(root) if root is not None else models_dir()
    if not root.is_dir():
        return []
    for p in root.glob(".*.old"):
        name = p.name[1:-len(".old")]
        if name and not name.startswith("."):
            recover(root / name)
    found = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "config.json").is_file()]
    order = {name: i for i, name in enumerate(SHIPPED)}
    return sorted(found, key=lambda p: (order.get(p.name, len(order)), p.name))
