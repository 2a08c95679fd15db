"""Tokenizer, vocabulary and padding (gru_core/text.py)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gru_core.text import PAD_ID, UNK_ID, Vocab, pad_sequences, tokenize, tokenize_with_spans


def _norm(s: str) -> str:
    return s.lower().replace("\u2019", "'")


def _check_spans(text: str) -> None:
    tokens = tokenize_with_spans(text)
    assert tokenize(text) == [t.text for t in tokens]
    prev_end = 0
    for t in tokens:
        assert t.text, "tokens are never empty"
        assert 0 <= prev_end <= t.start < t.end <= len(text)
        assert _norm(text[t.start:t.end]) == t.text
        prev_end = t.end


# --------------------------------------------------------------------------- tokenizer examples


def test_lower_cases():
    assert tokenize("The MOVIE Was GrEaT") == ["the", "movie", "was", "great"]


def test_apostrophes_kept_inside_words():
    assert tokenize("I don't like it, it's bad") == ["i", "don't", "like", "it", "it's", "bad"]
    assert tokenize("rock'n'roll") == ["rock'n'roll"]


def test_curly_apostrophe_normalised():
    assert tokenize("I DON\u2019T care") == ["i", "don't", "care"]
    toks = tokenize_with_spans("won\u2019t")
    assert [t.text for t in toks] == ["won't"]
    assert (toks[0].start, toks[0].end) == (0, 5)


def test_quotes_around_words_are_not_part_of_them():
    assert tokenize("'hello' \u2019world\u2019 it''s") == ["hello", "world", "it", "s"]


def test_punctuation_and_underscores_split():
    assert tokenize("good,bad.ugly!?  a_b __init__ x-y") == ["good", "bad", "ugly", "a", "b", "init", "x", "y"]


def test_digits_are_words():
    assert tokenize("10/10 would watch 2 times") == ["10", "10", "would", "watch", "2", "times"]


@pytest.mark.parametrize("br", ["<br />", "<br/>", "<br>", "<BR />", "<Br  / >"])
def test_html_line_breaks_are_spaces(br):
    text = f"great{br}movie"
    assert tokenize(text) == ["great", "movie"]
    toks = tokenize_with_spans(text)
    assert [text[t.start:t.end] for t in toks] == ["great", "movie"]
    # "br" from the tag never becomes a token
    assert "br" not in tokenize(f"{br}{br}a{br}")


def test_spans_index_original_text():
    text = "  Don\u2019t STOP<br />believing!! 日本語 ok"
    toks = tokenize_with_spans(text)
    assert [t.text for t in toks] == ["don't", "stop", "believing", "日本語", "ok"]
    assert [text[t.start:t.end] for t in toks] == ["Don\u2019t", "STOP", "believing", "日本語", "ok"]
    _check_spans(text)


@pytest.mark.parametrize("text, expected", [
    ("😀 great movie 👍🏽!!", ["great", "movie"]),
    ("😀😀😀", []),
    ("日本語のテキスト 映画", ["日本語のテキスト", "映画"]),
    ("مرحبا بالعالم", ["مرحبا", "بالعالم"]),
    ("שלום עולם good", ["שלום", "עולם", "good"]),
    ("\u202ebad\u202c movie", ["bad", "movie"]),  # RTL override characters
    ("\x00bad\x07word\u200bhi\r\n\tend", ["bad", "word", "hi", "end"]),  # control + zero-width
    ("<b>bold</b> &amp; <i>text</i>", ["b", "bold", "b", "amp", "i", "text", "i"]),
    ("<script>alert('x')</script>", ["script", "alert", "x", "script"]),
    ("café naïve Ünïcödé", ["café", "naïve", "ünïcödé"]),
    ("", []),
    ("   \n\t ", []),
    ("!!! ... ???", []),
])
def test_unusual_text(text, expected):
    assert tokenize(text) == expected
    _check_spans(text)


def test_lowercase_changing_length_keeps_original_span():
    # "İ".lower() is two code points; the span still indexes the original text
    text = "İstanbul nights"
    toks = tokenize_with_spans(text)
    assert text[toks[0].start:toks[0].end] == "İstanbul"
    assert toks[0].text == "İstanbul".lower()
    _check_spans(text)


# --------------------------------------------------------------------------- tokenizer properties

_fragments = st.sampled_from([
    "<br />", "<br/>", "<BR>", "'", "\u2019", "''", "don't", "DON\u2019T", " ", "\n", "_", "-",
    "😀", "日本", "مرحبا", "\u202e", "\x00", "\u200b", "İ", "e\u0301", "<b>", "&amp;", "word", "123",
])
_texts = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8")),
    st.lists(st.one_of(_fragments, st.text(max_size=3)), max_size=30).map("".join),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts)
def test_property_tokenize_agrees_with_spans(text):
    _check_spans(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(categories=["Ll", "Lu", "Nd"]), min_size=1, max_size=6),
                min_size=1, max_size=10))
def test_property_space_separated_words_round_trip(words):
    text = " ".join(words)
    assert tokenize(text) == [w.lower() for w in words]


# --------------------------------------------------------------------------- Vocab


def test_vocab_build_most_frequent_ties_alphabetical():
    docs = [["b", "a", "c", "c"], ["a", "d", "c", "e"], ["b", "e", "zz"]]
    # counts: c3, a2, b2, e2, d1, zz1
    v = Vocab.build(docs, size=6)
    assert v.words == ["c", "a", "b", "e"]
    assert len(v) == 6
    assert Vocab.build(docs, size=100).words == ["c", "a", "b", "e", "d", "zz"]
    assert Vocab.build(docs, size=3).words == ["c"]


def test_vocab_build_too_small_raises():
    with pytest.raises(ValueError):
        Vocab.build([["a"]], size=2)


def test_vocab_ids():
    v = Vocab(["good", "bad"])
    assert PAD_ID == 0 and UNK_ID == 1
    assert v.id("good") == 2 and v.id("bad") == 3
    assert v.id("nope") == UNK_ID
    assert v.word(0) == "<pad>" and v.word(1) == "<unk>" and v.word(2) == "good" and v.word(3) == "bad"
    assert v.encode(["bad", "zzz", "good", ""]) == [3, 1, 2, 1]
    assert v.encode([]) == []
    assert len(v) == 4


def test_vocab_duplicate_words_rejected():
    with pytest.raises(ValueError):
        Vocab(["a", "b", "a"])


def test_vocab_json_round_trip():
    v = Vocab(["don't", "日本", "café", "a"])
    data = json.loads(json.dumps(v.to_json(), ensure_ascii=False))
    w = Vocab.from_json(data)
    assert w.words == v.words
    assert [w.id(x) for x in v.words] == [2, 3, 4, 5]
    assert data["pad_id"] == 0 and data["unk_id"] == 1


@pytest.mark.parametrize("data", [
    {"pad_id": 1, "unk_id": 0, "words": ["a"]},
    {"pad_id": 0, "unk_id": 2, "words": ["a"]},
    {"unk_id": 1, "words": ["a"]},
    {"pad_id": 0, "unk_id": 1},
    {"pad_id": 0, "unk_id": 1, "words": "abc"},
    {"pad_id": 0, "unk_id": 1, "words": ["a", 3]},
    {"pad_id": 0, "unk_id": 1, "words": ["a", None]},
    {"pad_id": 0, "unk_id": 1, "words": ["a", "a"]},
    {},
])
def test_vocab_bad_json_raises_value_error(data):
    with pytest.raises(ValueError):
        Vocab.from_json(data)


# --------------------------------------------------------------------------- pad_sequences


def test_pad_sequences_pre_padding():
    out = pad_sequences([[1, 2, 3], [4], [5, 6]], maxlen=4)
    np.testing.assert_array_equal(out, [[0, 1, 2, 3], [0, 0, 0, 4], [0, 0, 5, 6]])
    assert out.dtype == np.int64
    assert out.shape == (3, 4)


def test_pad_sequences_pre_truncating_keeps_last():
    out = pad_sequences([[1, 2, 3, 4, 5, 6], [7, 8, 9]], maxlen=3)
    np.testing.assert_array_equal(out, [[4, 5, 6], [7, 8, 9]])


def test_pad_sequences_empty_row_and_custom_value():
    np.testing.assert_array_equal(pad_sequences([[], [2]], maxlen=3), [[0, 0, 0], [0, 0, 2]])
    np.testing.assert_array_equal(pad_sequences([[], [2]], maxlen=2, value=9), [[9, 9], [9, 2]])


def test_pad_sequences_no_rows_and_zero_maxlen():
    assert pad_sequences([], maxlen=5).shape == (0, 5)
    out = pad_sequences([[1, 2], []], maxlen=0)
    assert out.shape == (2, 0)


def test_pad_sequences_accepts_numpy_rows():
    out = pad_sequences([np.array([3, 4, 5], dtype=np.int64), np.array([], dtype=np.int64)], maxlen=2)
    np.testing.assert_array_equal(out, [[4, 5], [0, 0]])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(2, 100), max_size=12), max_size=6), st.integers(1, 10))
def test_property_pad_sequences_matches_keras_semantics(seqs, maxlen):
    out = pad_sequences(seqs, maxlen)
    assert out.shape == (len(seqs), maxlen)
    for row, s in zip(out, seqs):
        kept = s[-maxlen:]
        assert list(row[maxlen - len(kept):]) == kept
        assert (row[: maxlen - len(kept)] == 0).all()
