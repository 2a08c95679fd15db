"""The dynamics analyses: F against the native layers, planted attractors recovered, PCA against numpy,
kicks against the true one-step change, and the stored file and CLI."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from gru_core.analysis import dynamics as D
from gru_core.analysis.dynamics_report import FILE, read_dynamics, review_frame
from gru_core.cli import main
from gru_core.predictor import load_model

from .apphelpers import ROOT
from .tiny import tiny_module

SHIPPED = ("gru", "lstm", "rnn", "keras-seed")


def test_update_equals_the_native_one_step_update(arch):
    module = tiny_module(arch, hidden=5, embed=6, seed=3)
    F = D.update_fn(module)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, 6, generator=g)
    n_state = 2 if arch == "lstm" else 1
    s = torch.randn(7, 5 * n_state, generator=g) * 0.8
    with torch.no_grad():
        if arch == "lstm":
            _, (h, c) = module.rnn(x[:, None], (s[None, :, :5].contiguous(), s[None, :, 5:].contiguous()))
            native = torch.cat([h[0], c[0]], -1)
        else:
            native = module.rnn(x[:, None], s[None])[1][0]
        assert torch.allclose(F(s, x), native, atol=1e-5)
        assert torch.allclose(F(s.double(), x.double()).float(), native, atol=1e-5)


def _planted_line(v1: np.ndarray, v2: np.ndarray):
    """F(h) = v1 (v1·h) + ½ tanh(v2·h) v2: every point of the line span(v1) is fixed, eigenvalues 1 and ½."""
    a, b = torch.as_tensor(v1), torch.as_tensor(v2)

    def F(h, x):
        a_, b_ = a.to(h.dtype), b.to(h.dtype)
        return (h @ a_)[:, None] * a_ + 0.5 * torch.tanh(h @ b_)[:, None] * b_ + 0 * x.sum(-1, keepdim=True)
    return F


def test_a_planted_line_attractor_is_recovered():
    angle = 0.6
    v1, v2 = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
    F = _planted_line(v1, v2)
    starts = np.random.default_rng(0).uniform(-1, 1, (60, 2))
    fp = D.find_fixed_points(F, starts, np.zeros(1), tolerance=1e-12, max_steps=4000)
    assert len(fp.points) >= 20  # many distinct points along the line
    assert np.all(fp.q <= 1e-12)
    off = np.abs(fp.points @ v2)  # distance from span(v1)
    assert off.max() < 1e-5
    _, direction, share = D.line_fit(fp.points)
    assert share > 0.9999 and abs(direction @ v1) > 1 - 1e-8
    jac = D.jacobian_state(F, torch.as_tensor(fp.points), torch.zeros(1, dtype=torch.float64)).numpy()
    for j in jac:
        assert D.slow_mode(j, v2).value == pytest.approx(0.5)  # the mode along a given direction
        mode = D.slow_mode(j)
        assert abs(mode.value - 1) < 1e-4
        assert abs(mode.right @ v1) > 1 - 1e-6 and abs(mode.left @ mode.right - 1) < 1e-9
    assert D.time_constant(np.exp(-1 / 10)) == pytest.approx(10)


def test_a_contracting_network_has_one_fixed_point():
    g = np.random.default_rng(1)
    w = g.standard_normal((4, 4))
    w *= 0.5 / np.linalg.norm(w, 2)  # a contraction: one fixed point, attracting everything
    b = g.standard_normal(4) * 0.3
    W, B = torch.as_tensor(w), torch.as_tensor(b)

    def F(h, x):
        return torch.tanh(h @ W.to(h.dtype).T + B.to(h.dtype))

    h = np.zeros(4)
    for _ in range(200):  # the answer, by iterating the map itself
        h = np.tanh(w @ h + b)
    fp = D.find_fixed_points(F, g.uniform(-1, 1, (40, 4)), np.zeros(1), tolerance=1e-14, max_steps=4000)
    assert len(fp.points) == 1 and fp.converged == 40
    assert np.abs(fp.points[0] - h).max() < 1e-5
    assert np.abs(np.linalg.eigvals(D.jacobian_state(F, torch.as_tensor(fp.points), torch.zeros(1)).numpy()[0])).max() < 0.5


def test_pca_fractions_are_sorted_and_projections_match_numpy_svd():
    g = np.random.default_rng(2)
    x = g.standard_normal((500, 6)) @ np.diag([5, 3, 2, 1, 0.5, 0.1]) @ np.linalg.qr(g.standard_normal((6, 6)))[0]
    p = D.pca(x, 4)
    assert np.all(np.diff(p.variance_ratio) <= 0) and p.variance_ratio.sum() <= 1 + 1e-12
    c = x - x.mean(0)
    _, s, vt = np.linalg.svd(c, full_matrices=False)
    assert np.allclose(p.variance_ratio, (s ** 2 / (s ** 2).sum())[:4])
    ours, theirs = p.project(x), c @ vt[:4].T
    signs = np.sign((ours * theirs).sum(0))
    assert np.allclose(ours, theirs * signs, atol=1e-9)


@pytest.fixture(scope="module")
def gru():
    return load_model(ROOT / "models" / "gru")


def test_fixed_points_of_the_gru_satisfy_their_tolerance_by_the_native_layer(gru):
    states = np.concatenate([gru.trace(t).hidden for t in (
        "a wonderful film with a brilliant cast", "the worst movie i have ever seen, boring and bad",
        "it was fine i guess")]).astype(np.float64)
    fp = D.find_fixed_points(D.update_fn(gru.module), states[::3], np.zeros(100), tolerance=2e-5, max_steps=800,
                             search_dtype=torch.float32)
    assert len(fp.points) >= 1 and np.all(fp.q <= fp.tolerance)
    native = torch.nn.GRU(100, 100, batch_first=True)  # a float64 copy: the shared model is never changed
    native.load_state_dict(gru.module.rnn.state_dict())
    native = native.double()
    with torch.no_grad():
        out = native(torch.zeros(len(fp.points), 1, 100, dtype=torch.float64),
                     torch.as_tensor(fp.points)[None])[1][0].numpy()
    q_native = 0.5 * ((out - fp.points) ** 2).sum(1)
    assert np.all(q_native <= fp.tolerance * (1 + 1e-6))


def test_kicks_predict_the_true_one_step_change_for_small_embeddings(gru):
    F = D.update_fn(gru.module)
    h = gru.trace("a slow but rewarding film").hidden[-1].astype(np.float64)
    ell = np.random.default_rng(3).standard_normal(100)
    emb = gru.module.embedding.weight.detach().double().numpy()[2:50]
    lin = D.kicks(F, h, ell, emb)
    th = torch.as_tensor(h)
    with torch.no_grad():
        base = F(th[None], torch.zeros(1, 100, dtype=torch.float64))[0].numpy()
        for eps, bound in ((1e-2, 2e-2), (1e-3, 2e-3)):
            true = (F(th.expand(len(emb), -1), torch.as_tensor(eps * emb)).numpy() - base) @ ell / eps
            rel = np.abs(true - lin) / np.abs(lin).max()
            assert rel.max() < bound


def test_linearisation_error_is_tiny_for_a_linear_map_and_grows_with_the_step():
    A = torch.tensor([[0.9, 0.2], [0.0, 0.5]], dtype=torch.float64)
    lin = D.linearisation_error(lambda h, x: h @ A.T, np.zeros(2), np.zeros(1), [1e-3, 1.0])
    assert lin.max() < 1e-10
    F = _planted_line(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    err = D.linearisation_error(F, np.zeros(2), np.zeros(1), [1e-3, 1e-1, 1.0])
    assert err[0] < 1e-5 and err[0] < err[1] < err[2]


def test_null_of_random_directions_matches_its_distribution():
    d = np.zeros(100)
    d[0] = 1
    # |cos| of a random direction in 100-D is about |N(0, 1/100)|: its 95th percentile is near 1.96/10
    assert D.null_abs_cos(d) == pytest.approx(0.196, abs=0.01)
    assert D.abs_cos(np.array([1.0, 1.0]), np.array([-2.0, 0.0])) == pytest.approx(2 ** -0.5)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_file_matches_the_weights_and_places_a_review(name):
    model = load_model(ROOT / "models" / name)
    dyn = read_dynamics(model.path, model.config["weights_sha256"])
    assert dyn is not None, f"models/{name}/{FILE} is missing or stale: run python -m gru_core dynamics"
    assert (model.path / FILE).stat().st_size <= 2 * 1024 * 1024
    assert np.all(np.asarray(dyn["fixed_points"]["q"]) <= dyn["fixed_points"]["tolerance"])
    frame = review_frame(dyn, model.trace("not good, not good at all"))
    assert len(frame) == 6 and np.isfinite(frame[["pc1", "pc2", "kick", "movement", "off_line"]].to_numpy()).all()
    # PC coordinates of the trajectory equal the stored basis applied to the native states
    mean, comps = np.asarray(dyn["pca"]["mean"]), np.asarray(dyn["pca"]["components"])
    assert np.allclose(np.asarray(comps) @ np.asarray(comps).T, np.eye(len(comps)), atol=1e-4)
    assert abs(np.asarray(dyn["line"]["direction"]) @ np.asarray(dyn["line"]["direction"]) - 1) < 1e-5
    assert mean.shape == (dyn["state_dim"],)


REQUIRED_KEYS = {"pc_variance", "pc_variance_fresh", "fixed_points", "fixed_point_q_max", "slowest_abs_eigenvalue",
                 "slowest_tau_words", "readout_alignment", "readout_alignment_null95", "kick_bow_correlation"}


def test_cli_reads_the_stored_file_when_the_weights_match(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(tmp_path / "no-data"))
    folder = tmp_path / "gru"
    shutil.copytree(ROOT / "models" / "gru", folder)
    assert main(["dynamics", "--model", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert REQUIRED_KEYS <= set(out) and out["source"] == "stored"
    assert len(out["pc_variance"]) == 10 and out["fixed_points"] >= 2
    assert out["readout_alignment_null95"] < 1


def test_cli_refuses_a_file_for_other_weights_without_the_dataset(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(tmp_path / "no-data"))
    folder = tmp_path / "gru"
    shutil.copytree(ROOT / "models" / "gru", folder)
    data = json.loads((folder / FILE).read_text())
    data["weights_sha256"] = "0" * 64
    (folder / FILE).write_text(json.dumps(data))
    assert read_dynamics(folder, load_model(folder).config["weights_sha256"]) is None
    assert main(["dynamics", "--model", str(folder), "--json"]) == 2
    err = capsys.readouterr().err
    assert "belongs to other weights" in err and "GRU_EXPLORER_IMDB" in err
    assert json.loads((folder / FILE).read_text())["weights_sha256"] == "0" * 64  # nothing overwritten


def test_cli_recomputes_a_file_for_other_weights_with_the_dataset(imdb_path, tmp_path, capsys):
    folder = tmp_path / "rnn"
    shutil.copytree(ROOT / "models" / "rnn", folder)
    data = json.loads((folder / FILE).read_text())
    data["weights_sha256"] = "0" * 64
    (folder / FILE).write_text(json.dumps(data))
    assert main(["dynamics", "--model", str(folder), "--json", "--data", str(imdb_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == "computed" and REQUIRED_KEYS <= set(out)
    sha = load_model(folder).config["weights_sha256"]
    assert read_dynamics(folder, sha) is not None and out["weights_sha256"] == sha
    assert out["fixed_point_q_max"] <= out["fixed_point_tolerance"]


def test_eigenvalue_and_along_the_line_charts_draw_their_data():
    from gru_core.charts import dynamics as C

    from .vegaspec import data_of

    eigs = pd.DataFrame({"re": [0.9, 0.2], "im": [0.1, -0.1]}).assign(abs=lambda d: np.hypot(d["re"], d["im"]), tau=5.0)
    spec = C.eigen_plane(eigs).to_dict()
    circle, points = (data_of(spec, view) for view in spec["layer"])
    np.testing.assert_allclose(np.hypot(circle["re"], circle["im"]), 1, atol=1e-12)  # the unit circle
    assert circle["re"].max() == pytest.approx(1) and circle["im"].min() == pytest.approx(-1)
    pd.testing.assert_frame_equal(points, eigs, check_dtype=False)
    fixed = pd.DataFrame({"line_coord": [0.0, 0.5, 1.0], "abs_eig": [0.99, 1.0, 0.98], "tau": [99.5, 1e4, 49.5]})
    charts = C.along_line(fixed)
    assert [c.to_dict()["encoding"]["y"]["field"] for c in charts] == ["abs_eig", "tau"]  # one chart per column
    for c in charts:
        pd.testing.assert_frame_equal(data_of(c.to_dict(), c.to_dict()), fixed)
