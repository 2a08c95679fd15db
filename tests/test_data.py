"""IMDB/Rotten Tomatoes loading: small archives made here, then the real data."""
from __future__ import annotations

import time

import numpy as np
import pytest

import gru_core.data
from gru_core.data import (
    DataNotFoundError,
    load_imdb,
    load_labelled_file,
    load_rt_polarity,
    resolve_imdb_path,
    validation_split,
)
from gru_core.text import tokenize

from .tiny import write_tar

REVIEWS = {
    "train/pos/0_9.txt": "Great film.<br /><br />Loved it!",
    "train/pos/1_7.txt": "Good fun, don't miss it.",
    "train/neg/2_1.txt": "Awful.<br/>Just awful.",
    "test/pos/3_10.txt": "A masterpiece.",
    "test/neg/4_2.txt": "Boring <BR />and long.",
}


def _write_tree(root):
    for name, text in REVIEWS.items():
        f = root / "aclImdb" / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text, encoding="utf-8")


IMDB_TAR = {f"aclImdb/{name}": text for name, text in REVIEWS.items()}


def _no_raw_reads(*args, **kwargs):
    raise AssertionError("the archive was read again instead of the cache")


@pytest.mark.parametrize("form", ["tar", "folder", "parent-folder"])
def test_reads_tarball_and_folders(tmp_path, form):
    if form == "tar":
        src = tmp_path / "imdb.tar.gz"
        write_tar(src, IMDB_TAR)
    else:
        _write_tree(tmp_path)
        src = tmp_path / "aclImdb" if form == "folder" else tmp_path
    train = load_imdb("train", src, cache_dir=tmp_path / "cache")
    assert len(train) == 3
    by_id = dict(zip(train.ids, zip(train.texts, train.labels, train.ratings, train.tokens)))
    text, label, rating, tokens = by_id["train/pos/0_9"]
    assert (label, rating) == (1, 9)
    assert "<br" not in text.lower() and text == "Great film.\n\nLoved it!"
    assert tokens == ["great", "film", "loved", "it"]
    assert by_id["train/neg/2_1"][1:3] == (0, 1)
    test = load_imdb("test", src, cache_dir=tmp_path / "cache")
    assert sorted(test.ids) == ["test/neg/4_2", "test/pos/3_10"]
    assert test.tokens[test.ids.index("test/neg/4_2")] == ["boring", "and", "long"]


def test_cache_is_used_and_a_damaged_cache_is_rebuilt(tmp_path, monkeypatch):
    src = tmp_path / "imdb.tar.gz"
    write_tar(src, IMDB_TAR)
    first = load_imdb("train", src, cache_dir=tmp_path / "cache")
    (folder,) = (tmp_path / "cache").iterdir()
    assert (folder / "arrays.npz").is_file()
    with monkeypatch.context() as m:  # served from the cache: the archive is not read
        m.setattr(gru_core.data, "_read_raw", _no_raw_reads)
        cached = load_imdb("train", src, cache_dir=tmp_path / "cache")
    assert cached.ids == first.ids and cached.tokens == first.tokens and cached.texts == first.texts
    (folder / "arrays.npz").write_bytes(b"garbage")
    again = load_imdb("train", src, cache_dir=tmp_path / "cache")
    assert again.tokens == first.tokens and again.texts == first.texts


def test_missing_and_corrupt_data_give_clear_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("GRU_EXPLORER_IMDB", raising=False)
    with pytest.raises(DataNotFoundError, match="download-imdb"):
        load_imdb("train", tmp_path / "nowhere.tar.gz")
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball at all")
    with pytest.raises(DataNotFoundError, match="Could not read"):
        load_imdb("train", bad, cache_dir=tmp_path / "cache")
    empty = tmp_path / "empty.tar.gz"
    write_tar(empty, {"README": "nothing"})
    with pytest.raises(DataNotFoundError, match="No aclImdb/train"):
        load_imdb("train", empty, cache_dir=tmp_path / "cache")


def test_env_variable_names_the_data(tmp_path, monkeypatch):
    src = tmp_path / "x.tar.gz"
    write_tar(src, IMDB_TAR)
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(src))
    assert resolve_imdb_path() == src


def test_labelled_file(tmp_path):
    f = tmp_path / "mine.tsv"
    f.write_text("pos\tLovely.\n0\tDreadful.\n\n1\tFine film\n", encoding="utf-8")
    s = load_labelled_file(f)
    assert s.texts == ["Lovely.", "Dreadful.", "Fine film"] and s.labels.tolist() == [1, 0, 1]
    f.write_text("maybe\tHmm\n", encoding="utf-8")
    with pytest.raises(ValueError, match="label<TAB>text"):
        load_labelled_file(f)


POS = "A café of a film: naïve, déjà vu — and “wonderful”.\n"
NEG = "Crème brûlée’s flat, Señor.\r\nSecond line.\n"


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "utf-8-sig"])
def test_rt_polarity_accented_words_in_either_encoding(tmp_path, encoding):
    for name, text in (("pos", POS), ("neg", NEG)):
        (tmp_path / f"rt-polarity.{name}").write_bytes(text.encode(encoding))
    if encoding == "cp1252":  # the bytes really are not UTF-8 (é is 0xE9 alone)
        with pytest.raises(UnicodeDecodeError):
            POS.encode("cp1252").decode("utf-8")
    s = load_rt_polarity(tmp_path)
    assert s.texts == ["A café of a film: naïve, déjà vu — and “wonderful”.",
                       "Crème brûlée’s flat, Señor.", "Second line."]
    assert s.labels.tolist() == [1, 0, 0] and s.ids == ["rt/pos/0", "rt/neg/0", "rt/neg/1"]
    assert "\ufffd" not in "".join(s.texts)
    assert s.tokens[0][:3] == ["a", "café", "of"] and "naïve" in s.tokens[0]


def test_undecodable_text_is_refused_clearly(tmp_path):
    (tmp_path / "rt-polarity.pos").write_bytes(b"bad \x81 byte\n")  # 0x81: not UTF-8, undefined in cp1252
    (tmp_path / "rt-polarity.neg").write_bytes(b"fine\n")
    with pytest.raises(DataNotFoundError, match="rt-polarity.pos is neither UTF-8 nor cp1252"):
        load_rt_polarity(tmp_path)
    f = tmp_path / "mine.tsv"
    f.write_bytes("pos\tUn café naïf\n".encode("cp1252"))
    assert load_labelled_file(f).texts == ["Un café naïf"]
    f.write_bytes(b"pos\t\x81\n")
    with pytest.raises(ValueError, match="neither UTF-8 nor cp1252"):
        load_labelled_file(f)


def test_validation_split_is_seeded_and_disjoint():
    a_tr, a_va = validation_split(1000, 0.1, 3)
    b_tr, b_va = validation_split(1000, 0.1, 3)
    assert np.array_equal(a_tr, b_tr) and np.array_equal(a_va, b_va) and len(a_va) == 100
    assert not set(a_tr) & set(a_va) and len(a_tr) + len(a_va) == 1000


# --- the real data (fail under CI when missing) ------------------------------------

def test_real_imdb_layout(imdb_train, imdb_test):
    for split in (imdb_train, imdb_test):
        assert len(split) == 25_000
        assert int(split.labels.sum()) == 12_500
        pos = split.ratings[split.labels == 1]
        neg = split.ratings[split.labels == 0]
        assert pos.min() >= 7 and pos.max() <= 10 and neg.min() >= 1 and neg.max() <= 4
    assert int((imdb_train.ratings[imdb_train.labels == 0] == 1).sum()) == 5100
    assert not any("<br" in t.lower() for t in imdb_train.texts[:2000])
    i = 123
    assert imdb_train.tokens[i] == tokenize(imdb_train.texts[i])
    lengths = np.array([len(t) for t in imdb_train.tokens])
    assert 150 <= np.median(lengths) <= 200


def test_second_load_is_served_from_the_cache(imdb_path, imdb_train, monkeypatch):
    monkeypatch.setattr(gru_core.data, "_read_raw", _no_raw_reads)  # the archive must not be read again
    t = time.perf_counter()
    again = load_imdb("train", imdb_path)
    seconds = time.perf_counter() - t
    print(f"cached load of 25,000 reviews: {seconds:.2f} s")
    assert again.ids == imdb_train.ids and again.texts == imdb_train.texts and again.tokens == imdb_train.tokens
    np.testing.assert_array_equal(again.labels, imdb_train.labels)
    np.testing.assert_array_equal(again.ratings, imdb_train.ratings)


def test_real_rt_polarity(rt_path):
    s = load_rt_polarity(rt_path)
    assert len(s) == 10_662 and int(s.labels.sum()) == 5_331
