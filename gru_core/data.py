"""The IMDB Large Movie Review Dataset (Maas et al. 2011) and Rotten Tomatoes sentences.

IMDB is read from the official ``aclImdb_v1.tar.gz``, any tarball with the same
member layout, or an extracted ``aclImdb/`` folder. Its path comes from an
argument, else the ``GRU_EXPLORER_IMDB`` environment variable, else the
gitignored ``data/`` folder. The first load tokenises every review and writes a
cache (NumPy arrays + JSON, no pickle) keyed by the data file and the tokenizer
version, so later loads take about a second.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from .atomic import write_atomic, write_json_atomic
from .i18n import _
from .text import TOKENIZER_VERSION, Vocab, tokenize

ENV_IMDB = "GRU_EXPLORER_IMDB"
ENV_RT = "GRU_EXPLORER_RT_POLARITY"
ENV_CACHE = "GRU_EXPLORER_CACHE"  # where the tokenized cache goes (default: data/cache)
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_BREAKS = re.compile(r"<br\s*/?\s*>", re.IGNORECASE)


class DataNotFoundError(FileNotFoundError):
    """The dataset is missing or unreadable; the message says how to get it."""


def _how_to_get() -> str:
    return _("Point --data or the {env} environment variable at {archive} (or an extracted {folder} folder), or run "
             "`{command}` to fetch it into {data_dir}.").format(
        env=ENV_IMDB, archive="aclImdb_v1.tar.gz", folder="aclImdb/", command="python -m gru_core download-imdb",
        data_dir=DATA_DIR)


def resolve_imdb_path(path: str | os.PathLike | None = None) -> Path:
    """The IMDB archive or folder to read, or a DataNotFoundError saying how to get one."""
    if path is None:
        path = os.environ.get(ENV_IMDB) or None
    if path is not None:
        p = Path(path).expanduser()
        if p.is_dir() and (p / "aclImdb").is_dir():
            p = p / "aclImdb"
        if not p.exists():
            raise DataNotFoundError(_("IMDB data not found at {path}. {how}").format(path=p, how=_how_to_get()))
        return p
    for candidate in (DATA_DIR / "aclImdb_v1.tar.gz", DATA_DIR / "aclImdb"):
        if candidate.exists():
            return candidate
    raise DataNotFoundError(_("The IMDB dataset is not available. {how}").format(how=_how_to_get()))


def clean_review(text: str) -> str:
    """Replace IMDB's HTML line breaks with newlines."""
    return _BREAKS.sub("\n", text).strip()


@dataclass
class Split:
    """One split of labelled reviews, tokenised."""

    texts: list[str]
    labels: np.ndarray  # int64, 1 = positive
    ratings: np.ndarray  # int64 star rating from the file name (0 when unknown)
    ids: list[str]  # "train/pos/123_9" for IMDB, "rt/pos/17" for Rotten Tomatoes
    tokens: list[list[str]]

    def __len__(self) -> int:
        return len(self.texts)

    def encode(self, vocab: Vocab) -> list[np.ndarray]:
        return [np.asarray(vocab.encode(t), dtype=np.int64) for t in self.tokens]

    def subset(self, index: np.ndarray | list[int]) -> Split:
        index = list(index)
        return Split(
            [self.texts[i] for i in index],
            self.labels[index],
            self.ratings[index],
            [self.ids[i] for i in index],
            [self.tokens[i] for i in index],
        )


def _read_raw(path: Path) -> dict[str, list[tuple[str, int, int, str]]]:
    """{split: [(id, label, rating, text)]} sorted by id, from a tarball or a folder."""
    out: dict[str, list[tuple[str, int, int, str]]] = {"train": [], "test": []}

    def add(name: str, data: bytes) -> None:
        m = _MEMBER.search(name)
        if m:
            split, pol, num, rating = m.groups()
            text = clean_review(data.decode("utf-8", errors="replace"))
            out[split].append((f"{split}/{pol}/{num}_{rating}", int(pol == "pos"), int(rating), text))

    try:
        if path.is_dir():
            root = path if path.name == "aclImdb" else path / "aclImdb"
            for f in sorted(root.glob("*/*/*.txt")):
                add("aclImdb/" + f.relative_to(root).as_posix(), f.read_bytes())
        else:
            with tarfile.open(path, "r:*") as tar:
                for member in tar:
                    if member.isfile() and _MEMBER.search(member.name):
                        add(member.name, tar.extractfile(member).read())
    except (tarfile.TarError, OSError, EOFError, UnicodeError) as e:
        raise DataNotFoundError(_("Could not read the IMDB data at {path}: {error}. {how}").format(
            path=path, error=e, how=_how_to_get())) from e
    for split, rows in out.items():
        if not rows:
            raise DataNotFoundError(_("No {files} reviews found in {path}. {how}").format(
                files=f"aclImdb/{split}/{{pos,neg}}/*.txt", path=path, how=_how_to_get()))
        rows.sort(key=lambda r: r[0])
    return out


def _cache_key(path: Path) -> str:
    st = path.stat()
    ident = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{TOKENIZER_VERSION}"
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


def _save_cache(folder: Path, raw: dict[str, list[tuple[str, int, int, str]]]) -> None:
    # Token strings are stored once in a word list and referenced by int32 ids.
    word_ids: dict[str, int] = {}
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, dict] = {}
    for split, rows in raw.items():
        flat: list[int] = []
        offsets = [0]
        for *_fields, text in rows:
            for w in tokenize(text):
                flat.append(word_ids.setdefault(w, len(word_ids)))
            offsets.append(len(flat))
        texts = "\x00".join(r[3] for r in rows).encode("utf-8")
        arrays[f"{split}_tokens"] = np.asarray(flat, dtype=np.int32)
        arrays[f"{split}_offsets"] = np.asarray(offsets, dtype=np.int64)
        arrays[f"{split}_labels"] = np.asarray([r[1] for r in rows], dtype=np.int64)
        arrays[f"{split}_ratings"] = np.asarray([r[2] for r in rows], dtype=np.int64)
        arrays[f"{split}_text"] = np.frombuffer(texts, dtype=np.uint8)
        meta[split] = {"ids": [r[0] for r in rows]}
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / "words.json", {"words": list(word_ids), "splits": meta})
    # np.savez appends .npz to names without it; the temp name has another suffix.
    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    write_atomic(folder / "arrays.npz", save)


def _load_cache(folder: Path, split: str) -> Split:
    with open(folder / "words.json", encoding="utf-8") as f:
        meta = json.load(f)
    words = np.asarray(meta["words"], dtype=object)
    with np.load(folder / "arrays.npz", allow_pickle=False) as z:
        flat = z[f"{split}_tokens"]
        offsets = z[f"{split}_offsets"]
        labels = z[f"{split}_labels"]
        ratings = z[f"{split}_ratings"]
        texts = z[f"{split}_text"].tobytes().decode("utf-8").split("\x00")
    all_tokens = words[flat].tolist() if len(flat) else []
    tokens = [all_tokens[a:b] for a, b in pairwise(offsets)]
    return Split(texts, labels, ratings, meta["splits"][split]["ids"], tokens)


def load_imdb(split: str, path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None) -> Split:
    """Load the ``train`` or ``test`` split of IMDB (25,000 reviews each)."""
    if split not in ("train", "test"):
        raise ValueError("split must be 'train' or 'test'")
    src = resolve_imdb_path(path)
    folder = Path(cache_dir or os.environ.get(ENV_CACHE) or DATA_DIR / "cache") / f"imdb-{_cache_key(src)}"
    if not (folder / "arrays.npz").exists() or not (folder / "words.json").exists():
        _save_cache(folder, _read_raw(src))
    try:
        return _load_cache(folder, split)
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        # A damaged cache is rebuilt from the source rather than trusted.
        _save_cache(folder, _read_raw(src))
        return _load_cache(folder, split)


def resolve_rt_path(path: str | os.PathLike | None = None) -> Path:
    if path is None:
        path = os.environ.get(ENV_RT) or DATA_DIR / "rt-polarity"
    p = Path(path).expanduser()
    if not (p / "rt-polarity.pos").is_file() or not (p / "rt-polarity.neg").is_file():
        raise DataNotFoundError(
            f"Rotten Tomatoes sentences not found at {p} (need rt-polarity.pos and rt-polarity.neg). "
            f"Point --data or {ENV_RT} at the rt-polarity folder of sentence polarity v1.0."
        )
    return p


def read_lines(path: str | os.PathLike) -> io.StringIO:
    """A text file's lines, decoded as strict UTF-8 (a BOM is dropped), else as cp1252: the original
    rt-polarity files are cp1252, and replacement characters would silently corrupt accented words.
    UnicodeDecodeError when the bytes are neither."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    return io.StringIO(text, newline=None)  # universal newlines, as open() reads them


def load_rt_polarity(path: str | os.PathLike | None = None) -> Split:
    """Pang & Lee's 10,662 Rotten Tomatoes sentences: for out-of-domain evaluation only."""
    p = resolve_rt_path(path)
    texts, labels, ids = [], [], []
    for label, name in ((1, "pos"), (0, "neg")):
        try:
            lines = read_lines(p / f"rt-polarity.{name}")
        except UnicodeDecodeError as e:
            raise DataNotFoundError(f"{p / f'rt-polarity.{name}'} is neither UTF-8 nor cp1252 text ({e})") from e
        for i, line in enumerate(lines):
            if line.strip():
                texts.append(line.strip())
                labels.append(label)
                ids.append(f"rt/{name}/{i}")
    return Split(texts, np.asarray(labels), np.zeros(len(texts), dtype=np.int64), ids, [tokenize(t) for t in texts])


def load_labelled_file(path: str | os.PathLike) -> Split:
    """A user's own file: one ``label<TAB>text`` per line, label 1/0 or pos/neg."""
    texts, labels = [], []
    try:
        lines = read_lines(path)
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is neither UTF-8 nor cp1252 text ({e})") from e
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        label, sep, text = line.rstrip("\n").partition("\t")
        label = label.strip().lower()
        if not sep or label not in ("1", "0", "pos", "neg"):
            raise ValueError(f"{path}:{n}: expected 'label<TAB>text' with label 1/0/pos/neg")
        texts.append(text)
        labels.append(int(label in ("1", "pos")))
    if not texts:
        raise ValueError(f"{path} holds no labelled lines")
    return Split(texts, np.asarray(labels), np.zeros(len(texts), dtype=np.int64),
                 [f"file/{i}" for i in range(len(texts))], [tokenize(t) for t in texts])


def validation_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_index, val_index): a seeded random carve-out of the training set."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_val = round(n * fraction)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])

