"""AppTest for the Gradient descent and Train pages."""
from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from gru_core import list_checkpoints

from . import apphelpers
from .apphelpers import (
    EPOCHS_TO_STOP,
    ROOT,
    charts,
    no_exception,
    open_page,
    progress_text,
    rerun_until,
    shown_messages,
)


def messages(at) -> str:
    return " ".join(shown_messages(at))


def metric(at, label_start: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label_start))


# --- Gradient descent ---------------------------------------------------------------------------

def test_alpha_and_k_change_theta_and_the_update_line():
    at = open_page("pages/descent.py")
    theta10, line10 = metric(at, "θ at step"), at.latex[0].value
    at.slider(key="gd_k").set_value(20).run()
    no_exception(at)
    assert metric(at, "θ at step") != theta10 and at.latex[0].value != line10
    assert r"\theta_{21}" in at.latex[0].value
    at.select_slider(key="gd_alpha").set_value(0.01).run()
    no_exception(at)
    assert "0.01" in at.latex[0].value


def test_large_alpha_diverges_and_a_good_one_converges():
    at = open_page("pages/descent.py")
    at.select_slider(key="gd_alpha").set_value(3.2).run()
    no_exception(at)
    assert "Diverg" in " ".join(e.value for e in at.error)
    at.select_slider(key="gd_alpha").set_value(0.5).run()
    assert "Converged at step" in " ".join(s.value for s in at.success)


def test_alpha_slider_is_log_spaced():
    at = open_page("pages/descent.py")
    slider = at.select_slider(key="gd_alpha")
    values = np.array([float(o) for o in slider.options])
    assert "log scale" in slider.label and values[0] == 1e-4 and values[-1] == pytest.approx(3.2)
    steps = np.diff(np.log10(values))  # ten per decade, each rounded to two significant figures
    assert np.all(np.abs(steps - 0.1) < 0.015), steps
    assert {0.001, 0.01, 0.1, 0.5, 1.0, 2.0} <= set(values)


def test_a_slope_of_exactly_zero_is_zero():
    at = open_page("pages/descent.py")  # the bowl (θ − 1)² + 0.5 from θ = 5: α = 0.5 lands on θ = 1 in one step
    at.select_slider(key="gd_alpha").set_value(0.5).run()
    at.slider(key="gd_k").set_value(1).run()
    no_exception(at)
    slope = next(m for m in at.metric if m.label.startswith("slope"))
    assert metric(at, "θ at step") == "1" and slope.value == "0"
    assert slope.proto.help == "Slope zero: stay."
    at.slider(key="gd_k").set_value(0).run()
    assert next(m for m in at.metric if m.label.startswith("slope")).proto.help == "Slope positive: decrease θ."


def test_tiny_alpha_crawls_and_play_runs():
    at = open_page("pages/descent.py")
    at.select_slider(key="gd_alpha").set_value(1e-4).run()
    assert "Crawling" in messages(at)
    at.button[0].click().run()  # ▶ Play to the last step
    no_exception(at)
    assert charts(at)


@pytest.mark.parametrize("cost", ["convex bowl", "local and global minimum", "flat plateau"])
@pytest.mark.parametrize("alpha", [1e-4, 0.1, 3.2])
def test_every_cost_and_extreme_alphas(cost, alpha):
    at = open_page("pages/descent.py")
    at.selectbox(key="gd_cost").select(cost).run()
    at.select_slider(key="gd_alpha").set_value(alpha).run()
    at.slider(key="gd_k").set_value(at.slider(key="gd_k").max).run()
    no_exception(at)


@pytest.mark.parametrize("surface", ["bowl with unequal curvature", "Rosenbrock", "line fit (mean squared error)"])
def test_two_parameters_with_three_optimizers(surface):
    at = open_page("pages/descent.py", gd_section="Two parameters")
    at.selectbox(key="gd2_cost").select(surface).run()
    no_exception(at)
    assert len(charts(at)) == 4  # three contour plots and one loss-per-step chart
    assert [m.label.startswith("J after") for m in at.metric] == [True] * 3
    at.slider(key="gd2_steps").set_value(500).run()
    no_exception(at)


def test_real_model_section_slopes_agree(imdb_path):
    at = open_page("pages/descent.py", gd_section="The real model")
    auto, fd = float(metric(at, "autograd slope")), float(metric(at, "finite-difference slope"))
    assert auto == pytest.approx(fd, rel=1e-4, abs=1e-9)
    said = next(c.value for c in at.caption if "finite differences" in c.value)
    diff, tol = (float(x) for x in re.search(r"differ by ([-\d.e+]+), within the tolerance ([-\d.e+]+)", said).groups())
    assert "**agree**" in said and diff <= tol < 1e-3
    assert diff == pytest.approx(abs(auto - fd), abs=1e-5 * max(1, abs(auto)))  # shown to 6 digits
    at.toggle(key="ls_surface").set_value(True).run()
    no_exception(at)
    assert len(charts(at)) == 2


def test_real_model_section_without_data(tmp_path, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(tmp_path / "none.tar.gz"))
    at = open_page("pages/descent.py", gd_section="The real model")
    assert "GRU_EXPLORER_IMDB" in messages(at)


# --- Train ----------------------------------------------------------------------------------------
# On made-up data (apphelpers.made_up_imdb), so these run with or without the real dataset.

models_root = apphelpers.models_root  # the fixture: a temporary models folder, no run left going
made_up_imdb = apphelpers.made_up_imdb


def fill(at, name: str, reviews: int, epochs: int):
    at.text_input[0].input(name)
    at.number_input[0].set_value(reviews)
    at.number_input[1].set_value(epochs)
    next(n for n in at.number_input if n.label == "Hidden units").set_value(8)
    at.checkbox[0].uncheck()  # skip the test evaluation in tests


def training(at) -> bool:
    m = re.search(r"step ([\d,]+) of", progress_text(at))
    return bool(m) and int(m.group(1).replace(",", "")) > 0


def stop_buttons(at) -> list:
    return [b for b in at.button if b.label == "Stop"]


def test_tiny_training_run_appears_in_the_model_list(models_root, made_up_imdb):
    at = open_page("pages/train.py")
    fill(at, "tiny-gru", 100, 1)
    at.button[0].click().run()
    no_exception(at)
    rerun_until(at, lambda at: "Saved" in messages(at), "saving the model")
    assert "tiny-gru (trained here)" in messages(at)
    assert [p.name for p in list_checkpoints()] == ["gru"]  # the shipped folder is left alone
    assert [p.name for p in list_checkpoints(models_root / "local")] == ["tiny-gru"]
    assert not [p for p in (models_root / "local").iterdir() if p.name.startswith(".")]
    at.switch_page("pages/explorer.py")
    at.run()
    assert at.selectbox(key="_model_picker").options == ["gru", "tiny-gru (trained here)"]
    at.selectbox(key="_model_picker").select("tiny-gru (trained here)").run()
    no_exception(at)
    assert at.query_params["model"] == "tiny-gru (trained here)"


def test_stop_keeps_the_best_epoch_so_far(models_root, made_up_imdb):
    at = open_page("pages/train.py")
    fill(at, "halted", 2000, EPOCHS_TO_STOP)
    at.button[0].click().run()
    rerun_until(at, training, "training steps")
    stop = stop_buttons(at)
    assert stop, "a Stop button shows while training runs"
    stop[0].click().run()
    rerun_until(at, lambda at: "Saved" in messages(at), "saving the model")
    assert "stopped" in progress_text(at)
    assert (models_root / "local" / "halted" / "model.safetensors").exists()
    [clear] = [b for b in at.button if b.label == "Clear"]
    clear.click().run()
    assert "Pick the settings and start a run" in messages(at)


def test_another_session_watches_without_a_stop_button_and_cannot_start(models_root, made_up_imdb, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_MAX_RUNS", "1")
    alice, bob = open_page("pages/train.py"), open_page("pages/train.py")
    fill(alice, "alices", 2000, EPOCHS_TO_STOP)
    alice.button[0].click().run()
    rerun_until(alice, training, "training steps")
    bob.run()
    assert "alices: another visitor's run" in " ".join(h.value for h in bob.subheader)
    assert training(bob) and not stop_buttons(bob)
    fill(bob, "bobs", 100, 1)
    bob.button[0].click().run()
    assert "the most it runs at once (1)" in " ".join(e.value for e in bob.error)
    assert stop_buttons(alice)
    stop_buttons(alice)[0].click().run()
    rerun_until(alice, lambda at: "Saved" in messages(at), "saving the model")
    bob.run()
    assert "Saved" in messages(bob) and not [b for b in bob.button if b.label in ("Stop", "Clear")]


def test_a_model_trained_here_is_offered_on_every_page(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "models" / "rnn", tmp_path / "mine")
    monkeypatch.setenv("GRU_EXPLORER_LOCAL_MODELS", str(tmp_path))
    at = open_page("pages/compare.py", model="mine (trained here)")
    assert "mine (trained here)" in at.multiselect[0].options
    for page in ("pages/explorer.py", "pages/descent.py", "pages/slices.py"):
        at = open_page(page, model="mine (trained here)")
        assert at.selectbox(key="_model_picker").value == "mine (trained here)" and not at.error
    assert "mine (trained here)" in at.multiselect(key="sl_models").value  # its slices.json is read too
    assert "ECE mine (trained here)" in [m.label for m in at.metric]


@pytest.mark.parametrize("name,reviews,epochs,expected", [
    ("gru", 300, 1, "shipped model"),
    ("Bad Name!", 300, 1, "model name"),
    ("big", 25000, 20, "command line"),
])
def test_refused_settings_say_why(models_root, made_up_imdb, name, reviews, epochs, expected):
    at = open_page("pages/train.py")
    fill(at, name, reviews, epochs)
    at.button[0].click().run()
    no_exception(at)
    assert expected in " ".join(e.value for e in at.error)


def test_train_page_without_data_offers_the_download(tmp_path, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(tmp_path / "none.tar.gz"))
    at = open_page("pages/train.py")
    assert "needs the IMDB dataset" in messages(at)
    assert any(b.label.startswith("Download the IMDB dataset") for b in at.button)


def test_read_only_server_switches_training_off_and_shows_the_command(models_root, made_up_imdb, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_READ_ONLY", "1")
    at = open_page("pages/train.py")
    assert "Training is switched off on this server" in messages(at)
    [code] = at.code
    assert code.value.startswith("python -m gru_core train --arch gru --out models/local/my-model")
    assert not at.button and not at.get("form") and not at.number_input
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(models_root / "none.tar.gz"))  # no download offer either
    at.run()
    assert "needs the IMDB dataset" not in messages(at) and not at.button


@pytest.mark.parametrize("page", ["pages/explorer.py", "pages/compare.py", "pages/descent.py", "pages/slices.py"])
def test_read_only_mode_changes_no_other_page(monkeypatch, page):
    def seen(at) -> tuple:
        texts = [x.value for x in [*at.title, *at.header, *at.subheader, *at.caption, *at.markdown, *at.info,
                                   *at.warning, *at.error, *at.button]]
        return texts, len(charts(at))

    normal = seen(open_page(page))
    monkeypatch.setenv("GRU_EXPLORER_READ_ONLY", "1")
    assert seen(open_page(page)) == normal and normal[0]
