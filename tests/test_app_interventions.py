"""AppTest for the Gate Explorer's Interventions panel (pages/interventions_panel.py), run through app.py."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from gru_core import load_model
from gru_core.analysis.ablation import top_units
from gru_core.analysis.explain import output_weights
from gru_core.analysis.interventions import Intervention, run_intervention
from gru_core.analysis.units import INDEX_VERSION

from . import apphelpers
from .apphelpers import chart_titles, charts, no_exception, run_app

models_root = apphelpers.models_root
REVIEW = "The acting was good and the plot was fun, but the ending was awful."
HOSTILE = 'Great <img src=x onerror=alert(1)> film <script>alert("x")</script> **bold** [a](http://x)'


def opened(model: str = "gru", review: str = REVIEW):
    at = run_app(model=model, review=review, iv_open=True)
    no_exception(at)
    return at


def shown(at) -> dict:
    return {m.label: m for m in at.metric}


def all_tables(at) -> list[pa.Table]:
    """Every data table of every chart (a layered chart has one per layer)."""
    return [pa.ipc.open_stream(d.data.data).read_all()
            for el in at.get("vega_lite_chart") for d in el.proto.datasets]


def delta_maps(at) -> list:
    return [(s, t) for s, t in charts(at) if str(s.get("title", "")).startswith("Δ ")]


def test_closed_panel_computes_nothing():
    at = run_app(model="gru", review=REVIEW)
    assert "P(positive) with intervention" not in shown(at) and not delta_maps(at)
    assert any(e.label.startswith("Interventions") for e in at.expander)


def test_ablating_the_top_5_by_weight_shows_the_core_verdict():
    at = opened()  # the default: top k = 5 units by |output weight|, ablated
    m = load_model("models/gru")
    units = top_units(output_weights(m), 5)
    direct = run_intervention(m, REVIEW, Intervention(units, "ablate"))
    metrics = shown(at)
    assert metrics["P(positive) with intervention"].value == f"{direct.changed.proba:.3f}"
    assert metrics["P(positive) with intervention"].delta == f"{direct.proba_change:+.3f}"
    assert metrics["P(positive) as trained"].value == f"{m.trace(REVIEW).proba:.3f}"
    assert metrics["Verdict with intervention"].value == ("positive" if direct.changed.proba > 0.5 else "negative")
    sentence = next(x.value for x in at.markdown if "P(positive) goes from" in x.value)
    assert ", ".join(map(str, units)) in sentence and f"to {direct.changed.proba:.3f}" in sentence
    T, H = len(direct.plain.tokens), 100
    maps = delta_maps(at)
    assert [s["title"] for s, _ in maps] == ["Δ update gate z", "Δ reset gate r", "Δ candidate n", "Δ hidden state h"]
    _, hidden = maps[-1]
    assert hidden.num_rows == T * H
    delta = hidden.to_pandas()
    ablated = delta[delta["unit"] == units[0]].sort_values("step")["value"].to_numpy()
    np.testing.assert_allclose(ablated, -direct.plain.hidden[:, units[0]], atol=1e-6)  # h_k: from h to 0
    runs = [t for t in all_tables(at) if "run" in t.column_names]  # the trajectory of both runs
    assert len(runs) == 1 and runs[0].num_rows == 2 * T
    after = runs[0].to_pandas().query("run == 'intervened'")["p_positive"].to_numpy()
    np.testing.assert_allclose(after, direct.changed.step_proba, atol=1e-7)


def test_clamping_picked_units_matches_the_core():
    at = opened()
    at.radio(key="iv_source").set_value("units I pick").run()
    assert at.multiselect(key="iv_units_100").value == [at.session_state["unit"]]  # the inspected unit
    at.multiselect(key="iv_units_100").set_value([3, 40]).run()
    at.selectbox(key="iv_kind_gru").set_value("clamp").run()
    at.slider(key="iv_value").set_value(-0.8).run()
    no_exception(at)
    direct = run_intervention(load_model("models/gru"), REVIEW, Intervention((3, 40), "clamp", -0.8))
    assert shown(at)["P(positive) with intervention"].value == f"{direct.changed.proba:.3f}"
    at.multiselect(key="iv_units_100").set_value([]).run()
    no_exception(at)
    assert any("Pick at least one unit" in i.value for i in at.info)
    assert "P(positive) with intervention" not in shown(at)


def test_lstm_and_rnn_offer_their_own_kinds_and_say_why():
    at = opened("lstm")
    kind = at.selectbox(key="iv_kind_lstm")
    assert kind.options == ["ablate (h := 0)", "clamp h to a value", "freeze memory", "always overwrite"]
    kind.set_value("freeze").run()
    no_exception(at)
    captions = " ".join(c.value for c in at.caption)
    assert "forget gate f_k := 1 and input gate i_k := 0" in captions and "Only the GRU has a reset gate" in captions
    assert "**freeze memory** (LSTM)" in captions
    at = opened("rnn")
    assert at.selectbox(key="iv_kind_rnn").options == ["ablate (h := 0)", "clamp h to a value", "freeze memory"]
    captions = " ".join(c.value for c in at.caption)
    assert "Not offered for the plain RNN: **always overwrite**. A plain RNN has no gates" in captions
    assert "Not offered for the plain RNN: **reset gate r := 1**, **reset gate r := 0**. Only the GRU" in captions
    assert [s["title"] for s, _ in delta_maps(at)] == ["Δ hidden state h"]


def test_correlation_choice_is_hidden_without_the_atlas_index(models_root):
    (models_root / "gru" / "units.json").unlink()
    at = opened()
    assert at.radio(key="iv_source").options == ["units I pick", "top k by |output weight|"]
    assert any("no unit atlas index (`units.json`)" in c.value for c in at.caption)


def test_correlation_choice_reads_the_atlas_index(models_root):
    folder = models_root / "gru"
    sha = json.loads((folder / "config.json").read_text())["weights_sha256"]
    corr = np.random.default_rng(1).uniform(-0.1, 0.1, 100)
    corr[[7, 42, 13, 88, 60]] = [0.6, -0.55, 0.5, -0.45, 0.4]  # planted: the five strongest, either sign
    rows = [{"unit": u, "label_correlation": float(r)} for u, r in enumerate(corr)]
    (folder / "units.json").write_text(json.dumps({"version": INDEX_VERSION, "weights_sha256": sha, "units": rows}))
    at = opened()
    at.radio(key="iv_source").set_value("top k by label correlation").run()
    no_exception(at)
    units = top_units(corr, 5)
    assert units == (7, 42, 13, 88, 60)
    assert any("Units by |label correlation|: 7 (+0.600), 42 (-0.550)" in c.value for c in at.caption)
    direct = run_intervention(load_model(folder), REVIEW, Intervention(units, "ablate"))
    assert shown(at)["P(positive) with intervention"].value == f"{direct.changed.proba:.3f}"
    (folder / "units.json").write_text("{ broken")
    at.run()
    no_exception(at)
    assert any("unreadable" in c.value for c in at.caption)


def test_hostile_empty_and_long_reviews():
    at = opened(review=HOSTILE)
    page = " ".join(x.value for x in [*at.markdown, *at.caption])
    assert "<script" not in page and "<img" not in page
    assert "P(positive) with intervention" in shown(at)
    at = opened(review="   ")
    assert any("Type a review" in i.value for i in at.info) and "P(positive) with intervention" not in shown(at)
    rng = np.random.default_rng(0)
    long = " ".join(rng.choice(REVIEW.split(), size=5000))
    at = opened(review=long)
    assert any("last 60 of 500 words" in c.value for c in at.caption)
    assert all(t.num_rows == 60 * 100 for _, t in delta_maps(at))
    assert "Δ update gate z" in chart_titles(at)


@pytest.mark.parametrize("kind", ["freeze", "overwrite", "reset_open", "reset_closed"])
def test_every_gru_kind_runs(kind):
    at = opened()
    at.selectbox(key="iv_kind_gru").set_value(kind).run()
    no_exception(at)
    units = top_units(output_weights(load_model("models/gru")), 5)
    direct = run_intervention(load_model("models/gru"), REVIEW, Intervention(units, kind))
    assert shown(at)["P(positive) with intervention"].value == f"{direct.changed.proba:.3f}"


def test_sliders_at_their_ends():
    at = opened()
    T = len(load_model("models/gru").trace(REVIEW).tokens)
    at.selectbox(key="iv_kind_gru").set_value("clamp").run()
    at.slider(key="iv_value").set_value(-1.0).run()
    at.slider(key=f"iv_start_{T}").set_value(T).run()  # only the last word is changed
    no_exception(at)
    m = load_model("models/gru")
    direct = run_intervention(m, REVIEW, Intervention(top_units(output_weights(m), 5), "clamp", -1.0, T - 1))
    assert shown(at)["P(positive) with intervention"].value == f"{direct.changed.proba:.3f}"
    np.testing.assert_allclose(direct.changed.step_proba[:-1], direct.plain.step_proba[:-1], atol=1e-6)
    assert f"from word {T}" in next(x.value for x in at.markdown if "P(positive) goes from" in x.value)
