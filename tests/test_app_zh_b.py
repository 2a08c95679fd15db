"""The analysis pages in Simplified Chinese (``?lang=zh``): Unit atlas, GRU vs LSTM, Where models fail, Dynamics.

Each page runs in Chinese without an exception, with Chinese in its title, headers, widget labels, captions and
chart titles, and every control used once in Chinese; switching back to English gives the English page again."""
from __future__ import annotations

import re

import pyarrow as pa
import pytest

from gru_core.analysis.slices import SLICES_FILE

from . import apphelpers
from .apphelpers import chart_titles, charts, chinese, no_exception, open_zh, run_app, shipped_models_only

made_up_imdb = apphelpers.made_up_imdb


def run(at):
    at.run()
    no_exception(at)
    return at


def body(at) -> list[str]:
    """What the page says in text (sidebar's model list and language switch aside)."""
    return [x.value for x in (*at.title, *at.subheader, *at.markdown, *at.caption, *at.info, *at.warning, *at.error)]


def labels(at) -> list[str]:
    """The labels of the page's widgets (the sidebar's language and model pickers left out)."""
    widgets = [*at.main.button, *at.main.selectbox, *at.main.multiselect, *at.main.text_area, *at.main.text_input,
               *at.main.number_input, *at.main.radio]
    return [w.label for w in widgets]


def assert_chinese_page(at, chart_titled: bool = True) -> None:
    assert chinese(at.title[0].value), at.title[0].value
    assert at.subheader and all(chinese(h.value) for h in at.subheader), [h.value for h in at.subheader]
    assert at.caption and all(chinese(c.value) for c in at.caption), [c.value for c in at.caption]
    assert labels(at) and all(chinese(lbl) for lbl in labels(at)), labels(at)
    if chart_titled:
        titles = [t for t in chart_titles(at) if t]
        # A chart's title is Chinese unless it names models only (the confusion matrices: "gru").
        assert titles and any(chinese(t) for t in titles), titles


def tooltip_titles(spec: dict) -> list[str]:
    """Every tooltip field's title in a Vega-Lite spec (its field's name where it has none), layers included."""
    out = []

    def walk(node):
        if isinstance(node, dict):
            tip = (node.get("encoding") or {}).get("tooltip")
            for t in tip if isinstance(tip, list) else [tip] if isinstance(tip, dict) else []:
                out.append(t.get("title") or t.get("field"))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return out


def assert_chinese_tooltips(at) -> None:
    """Every tooltip title of the page's charts is Chinese or a symbol (k, q, |λ|, Re λ), never an English word."""
    titles = [t for spec, _table in charts(at) for t in tooltip_titles(spec)]
    assert titles
    english = [t for t in titles if not chinese(t) and re.search(r"[A-Za-z]{3}", t.replace("cos", ""))]
    assert not english, english


def tables(at) -> list[pa.Table]:
    """Every data table of every chart (a layered chart holds one per layer)."""
    return [pa.ipc.open_stream(d.data.data).read_all() for el in at.get("vega_lite_chart") for d in el.proto.datasets]


# --- Unit atlas ---------------------------------------------------------------------------------------------

def test_unit_atlas_in_chinese():
    at = open_zh("pages/units.py")
    assert_chinese_page(at)
    assert_chinese_tooltips(at)
    assert at.title[0].value == "单元图谱"
    # the unit table's headers and the word tables' headers are Chinese too
    assert all(chinese(c) for c in at.dataframe[0].value.columns[:5] if not c.startswith("r("))
    assert "平均 Δh" in at.dataframe[1].value.columns
    at.number_input(key="_unit_input").set_value(3)
    run(at)
    assert at.subheader[1].value == "单元 3"
    # the ablation chart's legend values (how the units are chosen) are Chinese
    legends = {v for table in tables(at) if "choice" in table.column_names for v in table.column("choice").to_pylist()}
    assert legends and all(chinese(v) for v in legends), legends


def test_unit_atlas_opens_a_context_in_chinese(imdb_path, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(imdb_path))
    at = open_zh("pages/units.py")
    buttons = [b for b in at.main.button if b.label == "在门控探索器中打开"]
    assert len(buttons) >= 2
    buttons[0].click()
    run(at)
    assert at.session_state["lang"] == "zh" and at.query_params["lang"] == "zh"  # the Gate Explorer, in Chinese


# --- GRU vs LSTM ---------------------------------------------------------------------------------------------

def test_compare_in_chinese_with_the_claims_and_verdicts():
    at = open_zh("pages/compare.py")
    assert_chinese_page(at)
    table = at.dataframe[0].value
    assert "参数：总计" in table.index and "来源" in table.columns
    claims = at.table[0].value
    assert list(claims.columns) == ["实测", "结论"]
    assert all(chinese(c) for c in claims.index) and all(chinese(v) for v in claims["结论"])
    assert set(claims["结论"]) <= {"成立", "在此不成立", "视情况而定", "尚未测量"}
    assert any("GRU 的门：更新门、重置门" in m for m in claims["实测"])


def test_compare_controls_in_chinese():
    at = open_zh("pages/compare.py")
    at.multiselect(key=at.main.multiselect[0].key).set_value(["gru", "lstm"])
    run(at)
    at.selectbox(key="pair1").select("gru")
    run(at)
    at.selectbox(key="pair0").select("lstm")
    run(at)
    at.text_area(key="compare_review").input("   ")
    run(at)
    assert any("输入一条评论" in i.value for i in at.info)
    at.text_area(key="compare_review").input("a dull, boring film but the ending is great")
    run(at)
    assert [m.label for m in at.metric][:2] == ["gru (GRU)", "lstm (LSTM)"]
    assert {m.value for m in at.metric} and all(m.delta in ("正面", "负面") for m in at.metric)


def test_compare_measures_live_in_chinese():
    at = open_zh("pages/compare.py")
    at.multiselect(key=at.main.multiselect[0].key).set_value(["gru"])
    run(at)
    [button] = [b for b in at.main.button if b.label == "在本服务器上测量延迟、吞吐量和内存"]
    button.click()
    run(at)
    table = at.dataframe[0].value
    assert table.loc["延迟：一条 100 词的评论", "gru"].endswith(" ms")
    assert table.loc["延迟：一条 100 词的评论", "来源"] == "在本服务器上实时测量"


# --- Where models fail -----------------------------------------------------------------------------------------

def test_slices_in_chinese():
    at = open_zh("pages/slices.py")
    assert_chinese_page(at, chart_titled=False)  # its charts have axis titles only
    axes = [spec["layer"][1]["encoding"]["x"]["title"] for spec, _table in charts(at)[:1]]
    assert axes == ["准确率（点）及其 Wilson 95% 区间（条）"]
    assert_chinese_tooltips(at)
    table = at.dataframe[0].value.set_index("切片")
    assert "含否定" in table.index and "gru 准确率" in table.columns
    at.selectbox(key="sl_slice").select("contrast")
    run(at)
    assert any("“含转折”" in m.value for m in at.markdown)
    at.selectbox(key="sl_model").select("lstm")
    run(at)
    at.number_input(key="sl_limit").set_value(3)
    run(at)
    at.multiselect(key="sl_models").set_value(["gru"])
    run(at)
    assert len(at.subheader) == 3  # one model: no model-against-model table


def test_slices_phrase_and_misread_reviews_in_chinese(imdb_path, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(imdb_path))
    at = open_zh("pages/slices.py")
    at.text_input(key="sl_phrase").input("not bad")
    run(at)
    assert any(re.search(r"条测试评论包含“not bad”", c.value) for c in at.caption)
    at.selectbox(key="sl_slice").select("phrase")
    run(at)
    assert any(c.value.startswith("真实标签") for c in at.caption)
    [first, *_rest] = [b for b in at.main.button if b.label == "在门控探索器中打开"]
    first.click()
    run(at)
    assert at.session_state["lang"] == "zh" and at.query_params["lang"] == "zh"


def test_slices_compute_now_in_chinese(made_up_imdb, tmp_path):
    with shipped_models_only(tmp_path / "models") as root:
        (root / "rnn" / SLICES_FILE).unlink()
        at = open_zh("pages/slices.py")
        assert any("还没有切片文件" in i.value for i in at.info)
        [button] = [b for b in at.main.button if b.label == "现在为 rnn 计算"]
        button.click()
        run(at)
        assert any("未与它配对" in w.value for w in at.warning)
        # The stored file is the same in any language: its slice labels are English.
        assert '"label":"has a negation"' in (root / "rnn" / SLICES_FILE).read_text()


# --- Dynamics --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["gru", "lstm"])
def test_dynamics_in_chinese(model):
    at = open_zh("pages/dynamics.py", model=model)
    assert_chinese_page(at)
    assert_chinese_tooltips(at)
    assert [s.value for s in at.subheader][:2] == ["1 · 状态空间", "2 · 不动点：线吸引子"]
    legend = {v for table in tables(at) if set(table.column_names) == {"pc1", "pc2", "label"}
              for v in table.column("label").to_pylist()}
    assert legend == {"正面", "负面"}


def test_dynamics_controls_in_chinese():
    at = open_zh("pages/dynamics.py")
    at.text_area(key="dyn_review").input("the movie was not good")
    at.button[0].click()
    run(at)
    assert any("上面这条评论" in m.value for m in at.markdown)
    at.radio(key="dyn_states").set_value("finals")
    run(at)
    assert at.radio(key="dyn_states").value == "finals"
    at.multiselect(key=at.main.multiselect[0].key).set_value(["the movie was bad"])
    run(at)
    at.text_area(key="dyn_review").input("   ")
    at.button[0].click()
    run(at)
    assert any("在上方输入一条评论" in i.value for i in at.info)


def test_switching_back_to_english_gives_the_english_page():
    english = run_app(model="gru")
    english.switch_page("pages/dynamics.py")
    run(english)
    before = body(english)
    assert before and not any(chinese(t) for t in before)
    at = open_zh("pages/dynamics.py")
    assert any(chinese(t) for t in body(at))
    at.query_params["lang"] = "en"
    run(at)
    assert body(at) == before
    assert not any(chinese(t) for t in chart_titles(at))
