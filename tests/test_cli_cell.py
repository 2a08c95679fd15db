"""``python -m gru_core cell`` and ``bptt``: exactly the JSON keys of the issue, the numbers of the analyses, and
clear errors instead of tracebacks."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gru_core import load_model
from gru_core.analysis.bptt import backprop
from gru_core.analysis.cell_forward import cell_step
from gru_core.checkpoint import save_checkpoint
from gru_core.cli import main
from gru_core.text import Vocab

from .test_cell_forward import EXPECTED_KEYS
from .tiny import WORDS, tiny_module

ROOT = Path(__file__).resolve().parent.parent
TEXT = ["good", "movie", "but", "the", "plot", "was", "awful", "fun"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, arch):
    return save_checkpoint(tmp_path_factory.mktemp("m") / arch, tiny_module(arch, seed=3, std=0.5), Vocab(WORDS), 50)


def run_json(capsys, *args) -> dict:
    assert main([*args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("cmd", ["cell", "bptt"])
def test_help(cmd):
    r = subprocess.run([sys.executable, "-m", "gru_core", cmd, "--help"], cwd=ROOT, capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0 and "usage:" in r.stdout and "--json" in r.stdout


def test_cell_json_has_exactly_the_keys_and_the_numbers(checkpoint, arch, capsys):
    out = run_json(capsys, "cell", "--model", str(checkpoint), "--word", "3", "--unit", "4", "--json", *TEXT)
    assert set(out) == {"word", "unit", "p_positive", *EXPECTED_KEYS[arch]} and out["word"] == 3 and out["unit"] == 4
    for q, keys in EXPECTED_KEYS[arch].items():
        assert set(out[q]) == keys
    model = load_model(checkpoint)
    trace = model.trace(" ".join(TEXT))
    want = cell_step(model, trace, 2).unit_json(4)
    for q in EXPECTED_KEYS[arch]:
        assert out[q] == pytest.approx(want[q], abs=1e-12), q
    assert out["p_positive"] == pytest.approx(float(trace.step_proba[2]), abs=1e-6)
    assert out["hidden"]["value"] == pytest.approx(float(trace.hidden[2, 4]), abs=1e-6)


def test_cell_text_mode_and_the_default_unit(checkpoint, capsys):
    assert main(["cell", "--model", str(checkpoint), "--word", "1", *TEXT]) == 0
    out = capsys.readouterr().out
    model = load_model(checkpoint)
    unit = int(np.argmax(np.abs(model.module.dense.weight.detach().numpy()[0])))
    assert f"unit {unit}:" in out and "equals the cell's own step to" in out and "hidden state" in out


def test_bptt_json_has_exactly_the_keys_and_the_numbers(checkpoint, arch, capsys):
    out = run_json(capsys, "bptt", "--model", str(checkpoint), "--label", "negative", "--alpha", "0.5", "--json",
                   *TEXT)
    keys = {"loss", "words", "grad_norm_by_word", "keep_path_norm_by_word", "other_path_norm_by_word",
            "weight_grad_norms", "sgd_step"} | ({"cell_grad_norm_by_word"} if arch == "lstm" else set())
    assert set(out) == keys
    model = load_model(checkpoint)
    bp = backprop(model.module, model.trace(" ".join(TEXT)).ids, 0)
    n = bp.norms()
    assert out["words"] == TEXT and out["loss"] == pytest.approx(bp.loss)
    assert out["grad_norm_by_word"] == pytest.approx(n["grad_h"].tolist())
    assert out["keep_path_norm_by_word"] == pytest.approx(n["keep"].tolist())
    assert out["other_path_norm_by_word"] == pytest.approx(n["other"].tolist())
    if arch == "rnn":
        assert not any(out["keep_path_norm_by_word"])
    if arch == "lstm":
        assert out["cell_grad_norm_by_word"] == pytest.approx(n["grad_c"].tolist())
    sym = {"gru": "rzn", "lstm": "ifgo", "rnn": "h"}[arch]
    assert set(out["weight_grad_norms"]) == ({f"{p}_{s}{c}" for p in "Wb" for s in "ih" for c in sym}
                                             | {"W_out", "b_out", "embedding"})
    step = out["sgd_step"]
    assert set(step) == {"alpha", "p_before", "p_after"} and step["alpha"] == 0.5
    assert step["p_before"] == pytest.approx(bp.p_positive, abs=1e-6)
    assert step["p_after"] < step["p_before"]  # a step towards "negative"


@pytest.mark.parametrize("args,message", [
    (["cell", "--word", "9"], "word must be between 1 and 8"),
    (["cell", "--word", "0"], "word must be between 1 and 8"),
    (["cell", "--word", "1", "--unit", "99"], "unit must be between 0 and 4"),
])
def test_cell_out_of_range_is_a_clear_error(checkpoint, capsys, args, message):
    assert main([args[0], "--model", str(checkpoint), *args[1:], *TEXT]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and "Traceback" not in err


@pytest.mark.parametrize("cmd", [["cell", "--word", "1"], ["bptt", "--label", "positive"]])
def test_no_words_is_a_clear_error(checkpoint, capsys, cmd):
    assert main([cmd[0], "--model", str(checkpoint), *cmd[1:], "!!! ..."]) == 2
    assert "no words" in capsys.readouterr().err
