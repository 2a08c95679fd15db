"""Open a user's own Keras model: Embedding -> GRU | LSTM | SimpleRNN -> Dense(1, sigmoid), as a checkpoint.

The file is read as data only: the ``.keras`` zip's ``config.json`` with ``json`` and its
``model.weights.h5`` with ``h5py``, or a legacy ``.h5`` file's ``model_config`` attribute and
``model_weights`` group. Nothing in it is run (``keras.models.load_model`` would build its
layers, and a ``.keras`` file can carry Lambda layers holding code). Before anything is read
the file's size is bounded, each zip member's declared size is checked (a zip bomb is
refused) and read no further than it; every HDF5 object on the way to a weight must be a
plain dataset inside the file (no external or virtual storage, no links out), of the shape
the layer's config implies, before it is read.

Weight layouts (Keras -> PyTorch):

- GRU: Keras stacks the blocks [z, r, h], PyTorch [r, z, n]. ``reset_after=True`` has a
  (2, 3H) bias (input, recurrent): PyTorch's form. ``reset_after=False`` has one (3H,) bias
  and the form of Cho et al. 2014, n = tanh(W_in x + b_in + W_hn (r ⊙ h)): ``gru_form``
  "reset_before", run by ``cell.CellRNN``.
- LSTM: Keras [i, f, c, o] is PyTorch [i, f, g, o]; one bias (b_hh = 0).
- SimpleRNN: one block; one bias.

Text: the ids of ``keras.datasets.imdb`` (``text.Vocab.keras_imdb``) from the user's word index
(word -> rank); what Keras fed the model before a review's words is the model's ``Prefix``:
the padding in front (read when the Embedding has ``mask_zero=False``) and the start mark.
"""
from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .archs import RESET_AFTER, RESET_BEFORE
from .checkpoint import save_checkpoint, sha256_file
from .i18n import N_, _
from .model import Prefix, SentimentRNN, parameter_counts
from .text import KERAS_INDEX_FROM, KERAS_START_ID, Vocab

MAX_FILE_BYTES = 256 * 2**20  # the model file (the seed's is about 7 MB as .keras with its optimizer state)
MAX_WORD_INDEX_BYTES = 32 * 2**20  # keras.datasets.imdb's word index is 1.6 MB
MAX_MEMBER_BYTES = {"config.json": 8 * 2**20, "metadata.json": 2**20, "model.weights.h5": 512 * 2**20}
MAX_PARAMETERS = 64 * 2**20  # floats in all the weights read (256 MiB as float32)
RECURRENT = ("GRU", "LSTM", "SimpleRNN")
IDENTITY = ("Dropout", "SpatialDropout1D")  # identity at inference
KIND = {"GRU": "gru", "LSTM": "lstm", "SimpleRNN": "rnn"}
SUPPORTED = N_("Embedding -> one of GRU (reset_after True or False), LSTM, SimpleRNN (return_sequences=False, "
               "activation tanh, recurrent_activation sigmoid) -> Dense(1, activation='sigmoid'), with Dropout or "
               "SpatialDropout1D layers in between, as a Sequential or functional model")


def message(template: str, **values) -> dict:
    """A sentence to show later, in the language of whoever shows it: an English msgid and its values (numbers,
    strings, or such messages themselves), as plain JSON data."""
    return {"template": template, "values": values}


def render(msg: dict) -> str:
    """``message(...)`` in the current language."""
    template = msg["template"]
    values = {k: render(v) if isinstance(v, dict) and "template" in v else v for k, v in msg["values"].items()}
    return _(template).format(**values) if values else _(template)


class KerasImportError(ValueError):
    """The file cannot be imported; the message says why (naming the layer) and what is supported.

    The conversion runs in a process of its own (where no session chose a language), so the error keeps its
    ``message`` data too: ``python -m gru_core import-keras --error-file`` writes it, and the page shows it with
    ``render`` in the visitor's language."""

    def __init__(self, template: str, **values):
        self.message = message(template, **values)
        super().__init__(render(self.message))


def _refuse(what: str, **values) -> KerasImportError:
    return KerasImportError(N_("{what}. Supported: {supported}."), what=message(what, **values),
                            supported=message(SUPPORTED))


@dataclass
class Layer:
    kind: str  # Keras class name
    name: str
    config: dict
    module: str | None = None


@dataclass
class Imported:
    """A converted model: the module, its vocabulary and what config.json records about its source."""

    module: SentimentRNN
    vocab: Vocab
    maxlen: int
    source: dict

    @property
    def extra_config(self) -> dict:
        v = self.vocab
        return {"source": self.source,
                "text": {"convention": "keras.datasets.imdb", "start_id": v.start_id, "unk_id": v.unk_id,
                         "index_from": v.first_id - 1, "num_words": self.source["num_words"], "pad_id": 0,
                         "words_split_by": "gru_core.text.tokenize (lower-cased words, inner apostrophes kept)"},
                "reads_padding": self.module.prefix.padding}


# --- Reading the file ---------------------------------------------------------------------------------

def _bounded_size(path: Path, limit: int, what: str) -> int:
    """``path``'s size, refused over ``limit`` bytes; ``what``: an N_() name of the file ("model file")."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise KerasImportError(N_("cannot read {what} {path}: {error}"), what=message(what), path=str(path),
                               error=str(e)) from e
    if not path.is_file():
        raise KerasImportError(N_("{what} {path} is not a file"), what=message(what), path=str(path))
    if size > limit:
        raise KerasImportError(N_("{what} {name} is {size:.1f} MB, over the {limit:.0f} MB limit"), what=message(what),
                               name=path.name, size=size / 2**20, limit=limit / 2**20)
    return size


def _zip_member(z: zipfile.ZipFile, name: str) -> bytes:
    """A member of a ``.keras`` zip, read no further than its allowed size (whatever its header claims)."""
    limit = MAX_MEMBER_BYTES[name]
    try:
        info = z.getinfo(name)
    except KeyError:
        raise KerasImportError(N_("the .keras file has no {name}: not a Keras 3 model file"), name=name) from None
    if info.file_size > limit:
        raise KerasImportError(N_("{name} in the .keras file unpacks to {size:.0f} MB, over the {limit:.0f} MB limit "
                                  "(refused: it may be a zip bomb)"), name=name, size=info.file_size / 2**20,
                               limit=limit / 2**20)
    with z.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit or len(data) != info.file_size:
        raise KerasImportError(N_("{name} in the .keras file does not unpack to the size its header gives (refused)"),
                               name=name)
    return data


def _read_keras_zip(path: Path) -> tuple[dict, bytes, str | None]:
    """(config, the weights' HDF5 bytes, the Keras version that saved it) of a Keras 3 ``.keras`` file."""
    try:
        with zipfile.ZipFile(path) as z:
            total = sum(i.file_size for i in z.infolist())
            if total > sum(MAX_MEMBER_BYTES.values()) or len(z.infolist()) > 64:
                raise KerasImportError(N_("the .keras file unpacks to {size:.0f} MB in {members} members (refused: it "
                                          "may be a zip bomb)"), size=total / 2**20, members=len(z.infolist()))
            config = _parse_json(_zip_member(z, "config.json"), "config.json")
            weights = _zip_member(z, "model.weights.h5")
            has_meta = "metadata.json" in z.namelist()
            meta = _parse_json(_zip_member(z, "metadata.json"), "metadata.json") if has_meta else {}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as e:
        raise KerasImportError(N_("{name} is not a readable .keras (zip) file: {error}"), name=path.name,
                               error=str(e)) from e
    return config, weights, str(meta.get("keras_version")) if isinstance(meta, dict) else None


def _parse_json(data: bytes | str, what: str | dict):
    """``what``: a file name, or a ``message`` naming what was read."""
    try:
        return json.loads(data)
    except (UnicodeError, ValueError, RecursionError) as e:
        raise KerasImportError(N_("{what} is not valid JSON: {error}"), what=what, error=str(e)) from e


def _h5py():
    import h5py  # the app's one reader of HDF5 files

    return h5py


def _child(node, name: str):
    """``node[name]`` when it is reached by a hard link inside the file; None when absent (an external or soft
    link is refused: it could point at any file on the server)."""
    h5py = _h5py()
    link = node.get(name, getlink=True) if isinstance(node, h5py.Group) else None
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise KerasImportError(N_("{name} in the weights file links outside it (refused)"), name=repr(name))
    return node[name]


def _weights_root(f):
    """A legacy .h5 file's weights: its ``model_weights`` group, or the file itself (weights saved alone)."""
    root = _child(f, "model_weights")
    return f if root is None else root


def _dataset(group, path: str, shape: tuple[int, ...]) -> np.ndarray:
    """The array at ``path`` under ``group``, checked before it is read: reached through hard links only, stored
    in the file itself, a float array of ``shape``."""
    h5py = _h5py()
    node = group
    for part in path.split("/"):
        node = _child(node, part)
        if node is None:
            raise KerasImportError(N_("the weights file has no {path} (it does not match the model's config)"),
                                   path=repr(path))
    if not isinstance(node, h5py.Dataset):
        raise KerasImportError(N_("{path} in the weights file is not an array"), path=repr(path))
    if node.external or node.is_virtual:
        raise KerasImportError(N_("{path} in the weights file keeps its data outside the file (refused)"),
                               path=repr(path))
    if node.dtype.kind != "f":
        raise KerasImportError(N_("{path} in the weights file holds {dtype}, not floats"), path=repr(path),
                               dtype=str(node.dtype))
    if tuple(node.shape) != tuple(shape):
        raise KerasImportError(N_("{path} in the weights file has shape {shape}, but the model's config implies "
                                  "{expected}"), path=repr(path), shape=str(tuple(node.shape)),
                               expected=str(tuple(shape)))
    return np.asarray(node[()], dtype=np.float32)


def _open_h5(source: Path | bytes):
    h5py = _h5py()
    try:
        return h5py.File(io.BytesIO(source) if isinstance(source, bytes) else source, "r")
    except (OSError, ValueError) as e:
        what = message(N_("the .keras file's model.weights.h5")) if isinstance(source, bytes) else source.name
        raise KerasImportError(N_("{what} is not a Keras model file: neither a .keras (zip) file nor a readable HDF5 "
                                  ".h5 file ({error})"), what=what, error=str(e)) from e


# --- The model's layers ---------------------------------------------------------------------------------

def _layers(config: dict) -> list[Layer]:
    """The model's layers from input to output, Sequential or a functional chain."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise KerasImportError(N_("the model config is not a Keras model description"))
    kind, body = config.get("class_name"), config["config"]
    raw = body.get("layers")
    if not isinstance(raw, list):
        raise _refuse(N_("the model ({kind}) has no list of layers"), kind=str(kind))
    layers = []
    for spec in raw:
        if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
            raise KerasImportError(N_("a layer in the model config is not a layer description"))
        name = str(spec["config"].get("name", spec.get("class_name")))
        layers.append(Layer(str(spec.get("class_name")), name, spec["config"], spec.get("module")))
        mask_op = spec.get("class_name") == "NotEqual" and str(spec.get("module")).startswith("keras.src.ops")
        if not mask_op and spec.get("registered_name") not in (None, spec.get("class_name")) or not mask_op and (
                spec.get("module") not in (None, "keras.layers") and not str(spec.get("module")).startswith(
                    ("keras.layers", "keras.src.layers"))):
            raise _refuse(N_("layer '{name}' is a custom layer ({custom}), which is not read (its code would have to "
                             "run)"), name=name, custom=str(spec.get('registered_name') or spec.get('module')))
    if kind == "Sequential":
        return [la for la in layers if la.kind != "InputLayer"]
    if kind in ("Functional", "Model"):
        return _functional_chain(raw, layers, body)
    raise _refuse(N_("the model is a {kind}, not a Sequential or functional model"), kind=str(kind))


def _functional_chain(raw: list[dict], layers: list[Layer], body: dict) -> list[Layer]:
    """A functional model's layers, if they form one chain from the input to the output."""
    by_name = {la.name: (la, spec) for la, spec in zip(layers, raw)}

    def inputs(spec: dict) -> list[str]:
        names = []
        for node in spec.get("inbound_nodes") or []:
            args = node.get("args", []) if isinstance(node, dict) else node
            for a in args if isinstance(args, list) else []:
                if isinstance(a, dict) and a.get("class_name") == "__keras_tensor__":
                    names.append(a["config"]["keras_history"][0])
                elif isinstance(a, list) and a and isinstance(a[0], str):  # Keras 2: [name, node, tensor, kwargs]
                    names.append(a[0])
        return names

    outs = body.get("output_layers") or []
    out = outs[0][0] if outs and isinstance(outs[0], list) else (outs[0] if len(outs) == 3 else None)
    if len(outs) != 1 and not (len(outs) == 3 and isinstance(outs[0], str)):
        raise _refuse(N_("the model has {n} outputs, not one"), n=len(outs))
    chain, seen = [], set()
    name = out
    while name in by_name and name not in seen:
        seen.add(name)
        la, spec = by_name[name]
        if la.kind == "InputLayer":
            break
        chain.append(la)
        src = inputs(spec)
        if len(src) != 1:
            raise _refuse(N_("layer '{name}' ({kind}) reads {n} inputs, not one: the model is not a chain"),
                          name=la.name, kind=la.kind, n=len(src))
        name = src[0]
    extra = [la for la in layers if la.name not in seen and la.kind != "InputLayer"]
    masks = [la for la in extra if la.kind == "NotEqual"]  # the mask an Embedding with mask_zero computes
    others = [la for la in extra if la.kind != "NotEqual"]
    if others:
        raise _refuse(N_("layer '{name}' ({kind}) is off the chain from input to output"), name=others[0].name,
                      kind=others[0].kind)
    chain.reverse()
    if masks and not (chain and chain[0].kind == "Embedding" and chain[0].config.get("mask_zero")):
        raise _refuse(N_("layer '{name}' (NotEqual) computes a mask the Embedding does not"), name=masks[0].name)
    return chain


def _check_layers(layers: list[Layer]) -> tuple[Layer, Layer, Layer]:
    """(embedding, recurrent, dense), or a KerasImportError naming the first layer that does not fit."""
    core = [la for la in layers if la.kind not in IDENTITY]
    if not core or core[0].kind != "Embedding":
        first = core[0] if core else None
        if first is None:
            raise _refuse(N_("the model does not start with an Embedding"))
        raise _refuse(N_("the model does not start with an Embedding (its first layer is '{name}', {kind})"),
                      name=first.name, kind=first.kind)
    emb = core[0]
    if len(core) < 2 or core[1].kind not in RECURRENT:
        la = core[1] if len(core) > 1 else None
        if la is None:
            raise _refuse(N_("the model ends at the Embedding"))
        raise _refuse(N_("layer '{name}' ({kind}) follows the Embedding"), name=la.name, kind=la.kind)
    rec = core[1]
    if len(core) < 3:
        raise _refuse(N_("the model ends at its {kind} layer '{name}', without a Dense(1, sigmoid) head"),
                      kind=rec.kind, name=rec.name)
    dense = core[2]
    if dense.kind in RECURRENT:
        raise _refuse(N_("layer '{name}' ({kind}) is a second recurrent layer (stacked recurrent layers)"),
                      name=dense.name, kind=dense.kind)
    if dense.kind != "Dense":
        raise _refuse(N_("layer '{name}' ({kind}) follows the {recurrent} layer"), name=dense.name, kind=dense.kind,
                      recurrent=rec.kind)
    if len(core) > 3:
        raise _refuse(N_("layer '{name}' ({kind}) follows the Dense output layer"), name=core[3].name,
                      kind=core[3].kind)
    c = rec.config
    for key, want in (("return_sequences", False), ("return_state", False), ("go_backwards", False),
                      ("stateful", False), ("time_major", False)):
        if bool(c.get(key, False)) != want:
            raise _refuse(N_("layer '{name}' ({kind}) has {setting}"), name=rec.name, kind=rec.kind,
                          setting=f"{key}={c.get(key)}")
    if _activation(c.get("activation", "tanh")) != "tanh":
        raise _refuse(N_("layer '{name}' ({kind}) has activation {activation}, not tanh"), name=rec.name,
                      kind=rec.kind, activation=repr(_activation(c.get("activation"))))
    if rec.kind != "SimpleRNN" and _activation(c.get("recurrent_activation", "sigmoid")) != "sigmoid":
        raise _refuse(N_("layer '{name}' ({kind}) has recurrent_activation {activation}, not sigmoid"), name=rec.name,
                      kind=rec.kind, activation=repr(_activation(c.get("recurrent_activation"))))
    if dense.config.get("units") != 1 or _activation(dense.config.get("activation")) != "sigmoid":
        raise _refuse(N_("layer '{name}' (Dense) has {units} unit(s) and activation {activation}: the head must be "
                         "Dense(1, sigmoid)"), name=dense.name, units=str(dense.config.get("units")),
                      activation=repr(_activation(dense.config.get("activation"))))
    if _activation(emb.config.get("activation", "linear")) != "linear":
        raise _refuse(N_("layer '{name}' (Embedding) has an activation"), name=emb.name)
    return emb, rec, dense


def _activation(a) -> str:
    if isinstance(a, dict):  # a serialised activation object
        a = a.get("config", {}).get("name") if a.get("class_name") == "function" else a.get("class_name")
    return str(a)


def _positive(v, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise KerasImportError(N_("{what} must be a positive integer, not {value}"), what=what, value=repr(v))
    return v


# --- Weights --------------------------------------------------------------------------------------------

def _snake(name: str) -> str:
    """Keras's own snake case of a class name (``SimpleRNN`` -> ``simple_rnn``): the weights file's group names."""
    return re.sub("([a-z])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)).lower()


def _keras3_group(layer: Layer) -> str:
    """Where Keras 3 stores a layer's variables: under its class's snake-case name (the model's one layer of that
    class: the chain has one Embedding, one recurrent layer, one Dense)."""
    return f"layers/{_snake(layer.kind)}"


def _weights_keras3(f, emb: Layer, rec: Layer, dense: Layer, shapes: dict) -> dict[str, np.ndarray]:
    """Arrays of a ``.keras`` file's ``model.weights.h5``: layers/CLASS/vars/i, the recurrent ones under cell/."""
    cell = f"{_keras3_group(rec)}/cell/vars"
    out = {"embeddings": _dataset(f, f"{_keras3_group(emb)}/vars/0", shapes["embeddings"]),
           "kernel": _dataset(f, f"{cell}/0", shapes["kernel"]),
           "recurrent_kernel": _dataset(f, f"{cell}/1", shapes["recurrent_kernel"]),
           "dense_kernel": _dataset(f, f"{_keras3_group(dense)}/vars/0", shapes["dense_kernel"])}
    if "bias" in shapes:
        out["bias"] = _dataset(f, f"{cell}/2", shapes["bias"])
    if "dense_bias" in shapes:
        out["dense_bias"] = _dataset(f, f"{_keras3_group(dense)}/vars/1", shapes["dense_bias"])
    return out


def _weights_legacy(f, emb: Layer, rec: Layer, dense: Layer, shapes: dict) -> dict[str, np.ndarray]:
    """Arrays of a legacy ``.h5`` file: model_weights/LAYER, each weight named in its ``weight_names``."""
    group = _weights_root(f)

    def named(layer: Layer) -> dict[str, str]:
        node = _child(group, layer.name)
        if node is None:
            raise KerasImportError(N_("the weights file has no weights for layer '{name}'"), name=layer.name)
        names = node.attrs.get("weight_names", [])
        out = {}
        for n in names:
            n = n.decode() if isinstance(n, bytes) else str(n)
            out[n.split("/")[-1].split(":")[0]] = f"{layer.name}/{n}"
        return out

    e, r, d = named(emb), named(rec), named(dense)
    need = [("embeddings", e, "embeddings"), ("kernel", r, "kernel"), ("recurrent_kernel", r, "recurrent_kernel"),
            ("dense_kernel", d, "kernel")] + ([("bias", r, "bias")] if "bias" in shapes else []) + (
            [("dense_bias", d, "bias")] if "dense_bias" in shapes else [])
    out = {}
    for key, names, short in need:
        if short not in names:
            raise KerasImportError(N_("the weights file has no {weight} among {names}"), weight=short,
                                   names=str(sorted(names)))
        out[key] = _dataset(group, names[short], shapes[key])
    return out


def _to_torch(kind: str, w: dict[str, np.ndarray], H: int, reset_after: bool) -> dict[str, np.ndarray]:
    """PyTorch's weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0 from Keras's kernel, recurrent kernel, bias."""
    K, U = w["kernel"], w["recurrent_kernel"]
    g = {"gru": 3, "lstm": 4, "rnn": 1}[kind]
    bias = w.get("bias", np.zeros((2, g * H) if reset_after else g * H, dtype=np.float32))
    b_in, b_rec = (bias[0], bias[1]) if kind == "gru" and reset_after else (bias, np.zeros(g * H, np.float32))
    order = [1, 0, 2] if kind == "gru" else list(range(g))  # Keras [z, r, h] -> PyTorch [r, z, n]

    def blocks(a: np.ndarray) -> np.ndarray:
        parts = np.split(a, g, axis=-1)
        return np.concatenate([parts[i] for i in order], axis=-1)

    return {"weight_ih_l0": blocks(K).T, "weight_hh_l0": blocks(U).T, "bias_ih_l0": blocks(b_in),
            "bias_hh_l0": blocks(b_rec)}


# --- Conversion -----------------------------------------------------------------------------------------

def read_word_index(path: str | os.PathLike) -> dict[str, int]:
    """``imdb_word_index.json`` (word -> rank), bounded in size and checked."""
    path = Path(path)
    _bounded_size(path, MAX_WORD_INDEX_BYTES, N_("word index"))
    try:
        data = _parse_json(path.read_bytes(), message(N_("the word index {name}"), name=path.name))
    except OSError as e:
        raise KerasImportError(N_("cannot read the word index {path}: {error}"), path=str(path), error=str(e)) from e
    if not isinstance(data, dict) or not data:
        raise KerasImportError(N_("the word index {name} must be a JSON object of word -> rank (what "
                                  "keras.datasets.imdb.get_word_index() gives)"), name=path.name)
    return data


def convert(model_path: str | os.PathLike, word_index: dict[str, int], num_words: int | None = 5000,
            maxlen: int = 500, index_from: int = KERAS_INDEX_FROM) -> Imported:
    """Read a Keras model file (``.keras`` or ``.h5``) as data and convert it (see the module docstring).

    ``num_words``: the ``num_words`` the reviews were loaded with (None: the Embedding's rows).
    KerasImportError says what is wrong or unsupported.
    """
    path = Path(model_path)
    size = _bounded_size(path, MAX_FILE_BYTES, N_("model file"))
    _positive(maxlen, "maxlen")
    is_zip = zipfile.is_zipfile(path)
    if is_zip:
        config, weights_bytes, version = _read_keras_zip(path)
        h5 = _open_h5(weights_bytes)
    else:
        h5 = _open_h5(path)
    with h5:
        if not is_zip:
            raw = h5.attrs.get("model_config")
            if raw is None:
                raise KerasImportError(N_("{name} is neither a .keras file nor a Keras .h5 model (no model_config; a "
                                          "weights-only file holds no architecture)"), name=path.name)
            config = _parse_json(raw.decode() if isinstance(raw, bytes) else str(raw),
                                 message(N_("the model config")))
            version = h5.attrs.get("keras_version")
            version = version.decode() if isinstance(version, bytes) else None if version is None else str(version)
        emb, rec, dense = _check_layers(_layers(config))
        V, E = _positive(emb.config.get("input_dim"), "Embedding input_dim"), _positive(
            emb.config.get("output_dim"), "Embedding output_dim")
        H = _positive(rec.config.get("units"), f"{rec.kind} units")
        kind = KIND[rec.kind]
        g = {"gru": 3, "lstm": 4, "rnn": 1}[kind]
        if V * E + g * H * (E + H + 2) + H + 1 > MAX_PARAMETERS:  # checked before any weight is read
            raise KerasImportError(N_("the model is too large to import here ({rows:,} x {dims} embedding, {units} "
                                      "units)"), rows=V, dims=E, units=H)
        shapes = {"embeddings": (V, E), "kernel": (E, g * H), "recurrent_kernel": (H, g * H), "dense_kernel": (H, 1)}
        reset_after = True
        if rec.config.get("use_bias", True):
            reset_after = _reset_after(h5, is_zip, rec, g * H)
            shapes["bias"] = (2, g * H) if kind == "gru" and reset_after else (g * H,)
        elif kind == "gru":
            reset_after = bool(rec.config.get("reset_after", True))
        if dense.config.get("use_bias", True):
            shapes["dense_bias"] = (1,)
        arrays = (_weights_keras3 if is_zip else _weights_legacy)(h5, emb, rec, dense, shapes)
    num_words = V if num_words is None else _positive(num_words, "num_words")
    if num_words > V:
        raise KerasImportError(N_("--num-words {num_words} is more than the Embedding's {rows} rows: the reviews "
                                  "cannot have been encoded with it"), num_words=num_words, rows=V)
    try:
        vocab = Vocab.keras_imdb(word_index, num_words, index_from, size=V)
    except ValueError as e:
        raise KerasImportError(str(e)) from e  # text.py's own sentence
    mask_zero = bool(emb.config.get("mask_zero", False))
    form = RESET_BEFORE if kind == "gru" and not reset_after else RESET_AFTER
    module = SentimentRNN(kind, V, E, H, gru_form=form, prefix=Prefix(maxlen, not mask_zero, KERAS_START_ID))
    state = {"embedding.weight": arrays["embeddings"], "dense.weight": arrays["dense_kernel"].T,
             "dense.bias": arrays.get("dense_bias", np.zeros(1, np.float32))}
    state |= {f"rnn.{k}": v for k, v in _to_torch(kind, arrays, H, reset_after).items()}
    module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items()})
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    names = [f"{la.kind}('{la.name}')" for la in _layers(config)]
    source = {"file": path.name, "format": "keras" if is_zip else "h5", "sha256": sha256_file(path), "bytes": size,
              "layers": names, "recurrent": rec.kind, "reset_after": reset_after if kind == "gru" else None,
              "mask_zero": mask_zero, "num_words": num_words, "index_from": index_from, "maxlen": maxlen,
              "keras_version": version}
    return Imported(module, vocab, maxlen, source)


def _reset_after(h5, is_zip: bool, rec: Layer, width: int) -> bool:
    """A GRU's form from its bias's shape ((2, 3H): reset_after=True), checked against its config's flag."""
    if rec.kind != "GRU":
        return True
    shape = None
    paths = []
    if is_zip:
        paths = [(h5, f"{_keras3_group(rec)}/cell/vars/2")]
    else:
        group = _child(_weights_root(h5), rec.name)
        for n in group.attrs.get("weight_names", []) if group is not None else []:
            n = n.decode() if isinstance(n, bytes) else str(n)
            if n.split("/")[-1].split(":")[0] == "bias":
                paths = [(group, n)]
    for node, path in paths:
        for part in path.split("/"):
            node = _child(node, part) if node is not None else None
        shape = getattr(node, "shape", None)
    flag = rec.config.get("reset_after")
    by_shape = None if shape is None else tuple(shape) == (2, width)
    if flag is not None and by_shape is not None and bool(flag) != by_shape:
        raise KerasImportError(N_("layer '{name}' (GRU) says {setting} but its bias has shape {shape}"), name=rec.name,
                               setting=f"reset_after={flag}", shape=str(shape))
    return bool(flag) if flag is not None else bool(by_shape) if by_shape is not None else True


def import_keras(model_path: str | os.PathLike, word_index_path: str | os.PathLike, out: str | os.PathLike,
                 num_words: int | None = 5000, maxlen: int = 500, index_from: int = KERAS_INDEX_FROM,
                 metrics: dict | None = None, replace: bool = True) -> Path:
    """Convert a Keras model file and save it as a checkpoint folder ``out``; its path."""
    imported = convert(model_path, read_word_index(word_index_path), num_words, maxlen, index_from)
    m = {"command": "import-keras", "imported_from": imported.source,
         "parameters": parameter_counts(imported.module), **(metrics or {})}
    return save_checkpoint(out, imported.module, imported.vocab, imported.maxlen, m, replace=replace,
                           extra_config=imported.extra_config)


def is_imported(folder: str | os.PathLike) -> bool:
    """Whether the checkpoint in ``folder`` was imported (its config.json records a source file)."""
    try:
        return "source" in json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False
