"""``python -m gru_core``: help, predict, evaluate, and clear errors instead of tracebacks."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gru_core.checkpoint import save_checkpoint
from gru_core.cli import main
from gru_core.text import Vocab

from .tiny import WORDS, tiny_module

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("m") / "tiny", tiny_module("gru"), Vocab(WORDS), 50,
                           {"note": "test"})


@pytest.mark.parametrize("cmd", ["train", "evaluate", "predict", "download-imdb", "bench"])
def test_help_for_every_command(cmd):
    r = subprocess.run([sys.executable, "-m", "gru_core", cmd, "--help"], cwd=ROOT, capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0 and "usage:" in r.stdout


def test_predict_json_lines(tiny, capsys):
    assert main(["predict", "--model", str(tiny), "--json", "good film", "not good"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == ["good film", "not good"]
    for r in rows:
        assert set(r) == {"text", "p_positive", "label"} and 0 < r["p_positive"] < 1
        assert r["label"] == ("positive" if r["p_positive"] > 0.5 else "negative")


def test_predict_reads_stdin_and_reports_empty_lines(tiny, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("good film\n!!!\nawful plot\n"))
    assert main(["predict", "--model", str(tiny), "-"]) == 1
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 2 and "no words" in out.err


def test_evaluate_a_labelled_file(tiny, tmp_path, capsys):
    f = tmp_path / "mine.tsv"
    f.write_text("pos\tgood film\nneg\tawful plot\n1\tgreat fun\n", encoding="utf-8")
    assert main(["evaluate", "--model", str(tiny), "--data", str(f), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["n"] == 3 and sum(map(sum, m["confusion"])) == 3
    assert main(["evaluate", "--model", str(tiny), "--data", str(f)]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    assert main(["predict", "--model", str(tmp_path / "nope"), "hello"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "does not exist" in err and "Traceback" not in err


def test_missing_data_is_a_clear_error(tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GRU_EXPLORER_IMDB", raising=False)
    assert main(["evaluate", "--model", str(tiny), "--imdb", str(tmp_path / "none.tar.gz")]) == 2
    assert "download-imdb" in capsys.readouterr().err


def test_bench_prints_every_measurement(imdb_path, capsys):
    """The benchmark command runs end to end on the real data and prints each ratio it measured."""
    assert main(["bench", "--data", str(imdb_path), "--steps", "3"]) == 0
    out = capsys.readouterr().out
    ratios = [float(x) for x in re.findall(r"ratio (\d+\.\d+)x", out)]
    assert len(ratios) == 3 and all(r > 0 for r in ratios), out  # trace/native, training, evaluation's batching
    assert "machine:" in out and "reviews/s" in out and "real words are" in out and "batches at once" in out
