"""``python -m gru_core units``: the JSON structure, the stored index read when the weights match,
recomputed (with the dataset) or refused with a clear message otherwise."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from gru_core.analysis.units import INDEX_FILE
from gru_core.checkpoint import save_checkpoint
from gru_core.cli import main
from gru_core.text import Vocab

from .tiny import WORDS, random_review, tiny_module, write_tar

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tiny(tmp_path):
    return save_checkpoint(tmp_path / "tiny", tiny_module("gru", hidden=5), Vocab(WORDS), 50, {})


@pytest.fixture
def tiny_imdb(tmp_path, monkeypatch):
    """A made-up aclImdb tarball (40 test and 40 training reviews); its token cache goes to tmp_path."""
    monkeypatch.setattr("gru_core.data.DATA_DIR", tmp_path / "data")
    rng = np.random.default_rng(0)
    members = {}
    for split in ("train", "test"):
        for i in range(40):
            pol, stars = ("pos", 8) if i % 2 else ("neg", 3)
            members[f"aclImdb/{split}/{pol}/{i}_{stars}.txt"] = random_review(rng, int(rng.integers(3, 30)))
    path = tmp_path / "imdb.tar.gz"
    write_tar(path, members)
    return path


def check_structure(out: dict, hidden: int) -> None:
    assert len(out["units"]) == hidden
    for i, row in enumerate(out["units"]):
        assert row["unit"] == i
        assert isinstance(row["output_weight"], float)
        assert row["label_correlation"] is None or -1 <= row["label_correlation"] <= 1
        assert 0 <= row["one_unit_accuracy"] <= 1
        assert "contexts" not in row  # the JSON summary leaves the snippets out
    a = out["ablation"]
    assert set(a) == {"by_correlation", "by_weight", "random", "baseline"}
    assert 0 <= a["baseline"] <= 1
    for k in a["by_correlation"]:
        assert 0 <= a["by_correlation"][k] <= 1 and 0 <= a["by_weight"][k] <= 1
        mean, std = a["random"][k]
        assert 0 <= mean <= 1 and std >= 0


def test_units_computes_writes_then_reads_the_stored_index(tiny, tiny_imdb, capsys):
    assert main(["units", "--model", str(tiny), "--data", str(tiny_imdb), "--json", "--draws", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == "computed" and out["test_reviews"] == 40
    check_structure(out, 5)
    assert list(out["ablation"]["by_correlation"]) == ["1", "2", "5"]  # k up to the 5 units there are
    stored = json.loads((tiny / INDEX_FILE).read_text())
    assert stored["weights_sha256"] == json.loads((tiny / "config.json").read_text())["weights_sha256"]
    # Again, without the dataset: the stored index is read.
    assert main(["units", "--model", str(tiny), "--data", str(tiny_imdb.parent / "gone.tar.gz"), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["source"] == "stored index" and again["units"] == out["units"]
    assert main(["units", "--model", str(tiny), "--data", str(tiny_imdb)]) == 0
    text = capsys.readouterr().out
    assert "accuracy with nothing ablated" in text and "top |r|" in text


def test_units_recomputes_when_the_weights_changed_and_refuses_without_data(tiny, tiny_imdb, capsys):
    assert main(["units", "--model", str(tiny), "--data", str(tiny_imdb), "--json", "--draws", "1"]) == 0
    capsys.readouterr()
    index = json.loads((tiny / INDEX_FILE).read_text())
    index["weights_sha256"] = "f" * 64
    (tiny / INDEX_FILE).write_text(json.dumps(index))
    assert main(["units", "--model", str(tiny), "--data", str(tiny_imdb.parent / "gone.tar.gz"), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "other weights" in err and "dataset" in err and "Traceback" not in err
    assert main(["units", "--model", str(tiny), "--data", str(tiny_imdb), "--json", "--draws", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "computed"
    assert json.loads((tiny / INDEX_FILE).read_text())["weights_sha256"] != "f" * 64


@pytest.mark.parametrize("name", ["gru", "lstm", "rnn"])
def test_shipped_models_read_their_index_fast(name, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(tmp_path / "none"))  # the stored index needs no dataset
    folder = tmp_path / name
    shutil.copytree(ROOT / "models" / name, folder)
    start = time.perf_counter()
    assert main(["units", "--model", str(folder), "--json"]) == 0
    seconds = time.perf_counter() - start
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == "stored index" and out["test_reviews"] == 25_000
    check_structure(out, 100)
    assert list(out["ablation"]["by_weight"]) == ["1", "2", "5", "10", "20"]
    assert seconds < 60  # reading, not recomputing (which takes minutes)
