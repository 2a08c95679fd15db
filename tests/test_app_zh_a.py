"""The Gate Explorer, its Interventions and State search panels and the sidebar's shared controls in Simplified
Chinese (``?lang=zh``): no exception, Chinese in the title, headers, labels, captions and charts, every control used
once, and English again, word for word, after switching back."""
from __future__ import annotations

import pyarrow as pa
import pytest

from gru_core.examples import EXAMPLES

from . import apphelpers
from .apphelpers import charts, chinese, no_exception, run_app, shipped_models_only

made_up_imdb = apphelpers.made_up_imdb
REVIEW = "The acting was good and the plot was fun, but the ending was awful."


@pytest.fixture(scope="module", autouse=True)
def models_root(tmp_path_factory):
    with shipped_models_only(tmp_path_factory.mktemp("models")) as root:
        yield root


@pytest.fixture(autouse=True)
def empty_shelf():
    """No state index left building from another test (the shelf lives as long as the process)."""
    from pages.common import _state_shelf

    _state_shelf().clear()
    yield
    _state_shelf().clear()


def zh(**state):
    return run_app(query={"lang": "zh"}, **state)


def words(at) -> list[str]:
    """Everything the page says in text: title, headers, captions, markdown, messages, labels."""
    out = [x.value for x in [*at.title, *at.subheader, *at.caption, *at.markdown, *at.info, *at.warning, *at.error]]
    out += [w.label for w in [*at.selectbox, *at.radio, *at.slider, *at.number_input, *at.text_area, *at.button,
                              *at.multiselect, *at.select_slider, *at.metric, *at.expander, *at.tabs]]
    out += [w.help or "" for w in [*at.selectbox, *at.radio, *at.text_area, *at.number_input]]
    return out


def column_values(at, column: str) -> set:
    """The values of ``column`` in every data table of every chart (a layered chart has one per layer)."""
    tables = [pa.ipc.open_stream(d.data.data).read_all() for el in at.get("vega_lite_chart") for d in el.proto.datasets]
    return {v for t in tables if column in t.column_names for v in t.column(column).to_pylist()}


def titles_of(spec: dict) -> list[str]:
    """A chart spec's title, axis, legend and tooltip titles (one layer or many)."""
    out = [spec["title"] if isinstance(spec.get("title"), str) else (spec.get("title") or {}).get("text", "")]
    for part in [spec, *spec.get("layer", [])]:
        for enc in (part.get("encoding") or {}).values():
            items = enc if isinstance(enc, list) else [enc]
            out += [e.get("title") for e in items if isinstance(e, dict) and isinstance(e.get("title"), str)]
    return [t for t in out if t]


def test_the_explorer_speaks_chinese():
    at = zh(model="gru", review=REVIEW)
    assert chinese(at.title[0].value) and at.title[0].value == "门控探索器"
    assert at.subheader and all(chinese(h.value) for h in at.subheader)
    assert at.caption and all(chinese(c.value) for c in at.caption)
    labels = [w.label for w in [*at.selectbox, *at.radio, *at.text_area, *at.metric, *at.expander, *at.tabs]]
    assert all(chinese(x) for x in labels), labels
    assert {m.label: m.value for m in at.metric}["判定"] in {"正面", "负面"}
    assert "更新门 z" in [t.label for t in at.tabs] and "重置门 r" in [t.label for t in at.tabs]
    # The charts: titles, axes, legends and tooltips.
    specs = [spec for spec, _ in charts(at)]
    assert any(spec.get("title") == "更新门 z" for spec in specs)  # the open tab's heatmap
    every = [t for spec in specs for t in titles_of(spec)]
    assert "P(正面)" in every and "单元（按所选顺序）" in every and "词" in every
    assert not [t for t in every if t.strip() and t.isascii()], every
    # The running verdict's tooltips and the sidebar's shared controls.
    assert any("读完这个词后 P(正面)" in m.value for m in at.markdown)
    assert {"模型", "语言 · Language"} <= {s.label for s in at.sidebar.selectbox}


def test_every_control_of_the_explorer_in_chinese():
    at = zh(model="gru")
    example = at.selectbox(key="example")
    assert {"称赞", "（你自己的评论）"} <= set(example.options)  # shown in Chinese (the values stay English)
    for name in EXAMPLES:
        at.selectbox(key="example").select(name).run()
        no_exception(at)
    assert at.session_state["review"] == EXAMPLES["Long range: the bicycle sentence"]  # the key stays English
    for order in ("index", "weight", "mean"):
        at.radio[0].set_value(order).run()
        no_exception(at)
    assert at.radio(key="order_by").options == ["编号", "输出层权重", "平均激活值"]
    at.session_state["gate_tab_gru_zh"] = "候选值 n"  # the lazy tabs: each language keeps its own label
    at.run()
    no_exception(at)
    assert [spec["title"] for spec, _ in charts(at) if spec.get("title") in {"更新门 z", "候选值 n"}] == ["候选值 n"]
    at.number_input(key="_unit_input").set_value(3).run()
    no_exception(at)
    assert any(c.value.startswith("单元 3 的输出层权重为") for c in at.caption)
    # A long review: the window slider and the truncation warning; then the edited-review comparison.
    at.text_area(key="review").input("the film was good but the ending was awful " * 80)
    at.button[0].click().run()
    no_exception(at)
    assert any(chinese(w.value) and "个词" in w.value for w in at.warning)
    window = next(s for s in at.slider if s.label == "图表中显示的词（窗口起点）")
    window.set_value(window.min).run()
    no_exception(at)
    at.session_state["compare_open"] = True
    at.run()
    at.text_area(key="edited").input("the film was great").run()
    no_exception(at)
    assert {"原评论 P(正面)", "修改后 P(正面)"} <= {m.label for m in at.metric}
    assert any(c.value.startswith("更新门 z — 原评论") for c in at.caption)
    assert column_values(at, "review") == {"原评论", "修改后"}
    assert any("最后一个词上的平均" in c for df in at.dataframe for c in df.value.columns)
    at.text_area(key="edited").input("!!!").run()
    assert [i.value for i in at.info] == ["修改后的评论里没有词。"]
    at.text_area(key="review").input("   ")
    at.button[0].click().run()
    assert [i.value for i in at.info] == ["在上方输入一条评论（或选一个示例），看看模型如何读取它。"]


@pytest.mark.parametrize("model, display", [("lstm", "LSTM"), ("rnn", "普通 RNN"), ("keras-seed", "GRU")])
def test_the_other_models_in_chinese(model, display):
    at = zh(model=model, review=REVIEW)
    assert {m.label: m.value for m in at.metric}["模型"] == f"{model} ({display})"
    assert all(chinese(t.label) for t in at.tabs)
    equations = next(e for e in at.expander if e.label == "本页计算的方程")
    said = "\n".join(m.value for m in equations.markdown)
    assert chinese(said) and ("遗忘门" in said if model == "lstm" else "门" in said)
    if model == "keras-seed":  # reads Keras's padding and start mark first: the prefix note, in Chinese
        assert any("填充步" in c.value and "起始标记" in c.value for c in at.caption)
        assert "h₀ 不为零" in said


def test_the_interventions_panel_in_chinese():
    at = zh(model="gru", review=REVIEW, iv_open=True)
    panel = next(e for e in at.expander if e.label == "干预：改动单元，看看什么会失灵")
    assert all(chinese(c.value) for c in panel.caption)
    metrics = {m.label: m for m in at.metric}
    assert {"训练所得的 P(正面)", "干预后的 P(正面)", "干预后的判定"} <= set(metrics)
    sentence = next(m.value for m in at.markdown if "P(正面) 从" in m.value)
    assert "对单元" in sentence and "消融（h := 0）" in sentence
    deltas = [spec["title"] for spec, _ in charts(at) if str(spec.get("title", "")).startswith("Δ ")]
    assert deltas[0] == "Δ 更新门 z"
    assert column_values(at, "run") == {"原始运行", "干预后"}
    assert {"量", "平均 |Δ|", "变化最大的其他单元"} <= set(at.dataframe[-1].value.columns)
    source = at.radio(key="iv_source")
    assert "我挑选的单元" in source.options
    for value in ["units I pick", "top k by label correlation", "top k by |output weight|"]:
        at.radio(key="iv_source").set_value(value).run()
        no_exception(at)
    k = next(n for n in at.number_input if n.label == "k")
    k.set_value(k.max).run()
    no_exception(at)
    for k in ("clamp", "freeze", "overwrite", "reset_open", "reset_closed", "ablate"):
        at.selectbox(key="iv_kind_gru").set_value(k).run()
        no_exception(at)
        if k == "clamp":
            at.slider(key="iv_value").set_value(-1.0).run()
            no_exception(at)
    at.slider(key=f"iv_start_{len(REVIEW.split())}").set_value(len(REVIEW.split())).run()
    no_exception(at)
    assert any("从第" in m.value and "个词起" in m.value for m in at.markdown)
    at.radio(key="iv_source").set_value("units I pick").run()
    next(m for m in at.multiselect if m.label == "要改动的单元").set_value([]).run()
    no_exception(at)
    assert "请至少挑选一个要改动的单元。" in [i.value for i in at.info]


def test_the_rnn_says_in_chinese_what_it_lacks():
    at = zh(model="rnn", review=REVIEW, iv_open=True)
    assert any(c.value.startswith("普通 RNN 不提供：") and "只有 GRU 有重置门。" in c.value for c in at.caption)


def test_the_state_search_panel_in_chinese(made_up_imdb):
    at = zh(model="gru", review=REVIEW, ss_open=True)
    from pages.common import _state_shelf

    assert _state_shelf().wait(300)
    at.run()
    no_exception(at)
    panel = next(e for e in at.expander if e.label == "状态搜索：网络还在哪里处于这个状态")
    assert panel.caption and all(chinese(c.value) for c in panel.caption)
    assert at.radio(key="ss_measure").options[0].startswith("Jaccard 指数")
    at.radio(key="ss_measure").set_value("lstmvis").run()
    no_exception(at)
    stretch = next(s for s in at.select_slider if s.label == "片段：首词与末词")
    stretch.set_range(0, len(stretch.options) - 1).run()
    no_exception(at)
    at.slider(key="ss_threshold").set_value(0.05).run()
    no_exception(at)
    said = "\n".join(x.value for x in [*at.markdown, *at.caption, *at.info, *at.warning])
    assert "最佳的" in said or "模式中没有单元" in said or "样本中没有一条测试评论" in said
    opens = [b for b in at.button if b.label == "在门控探索器中打开"]
    if opens:
        opens[0].click().run()
        no_exception(at)
        assert "真实标签" in [m.label for m in at.metric]


def test_switching_back_to_english_gives_the_english_page():
    english = run_app(model="gru", review=REVIEW)
    at = zh(model="gru", review=REVIEW)
    assert words(at) != words(english)
    at.selectbox(key="_language_picker").select("en").run()
    no_exception(at)
    assert list(at.query_params["lang"]) in (["en"], list("en"))
    assert words(at) == words(english)
    assert [spec.get("title") for spec, _ in charts(at)] == [spec.get("title") for spec, _ in charts(english)]


def test_choices_survive_a_language_switch():
    at = zh(model="gru", iv_open=True)
    at.selectbox(key="example").select("Negation: not bad").run()
    at.radio(key="order_by").set_value("weight").run()
    at.radio(key="iv_source").set_value("units I pick").run()
    at.selectbox(key="iv_kind_gru").set_value("freeze").run()
    no_exception(at)
    for lang, order in (("en", "output-layer weight"), ("zh", "输出层权重")):
        at.selectbox(key="_language_picker").select(lang).run()
        no_exception(at)
        assert at.selectbox(key="example").value == "Negation: not bad"
        assert at.session_state["review"] == EXAMPLES["Negation: not bad"]
        assert at.radio(key="order_by").value == "weight"
        assert order in at.radio(key="order_by").options
        assert at.radio(key="iv_source").value == "units I pick"
        assert at.selectbox(key="iv_kind_gru").value == "freeze"


def test_no_model_is_said_in_chinese(tmp_path, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_MODELS", str(tmp_path))
    at = zh()
    assert len(at.error) == 1 and at.error[0].value.startswith(f"在 `{tmp_path}` 中没有找到训练好的模型。")


def test_a_random_test_review_in_chinese(imdb_path):
    at = zh(model="gru")
    assert "随机一条 IMDB 测试评论" in at.selectbox(key="example").options
    at.selectbox(key="example").select("A random IMDB test review").run()
    no_exception(at)
    truth = at.session_state["truth"]
    metric = {m.label: m for m in at.metric}["真实标签"]
    assert metric.value == f"{'正面' if truth[0] else '负面'} ({truth[1]}★)"
    assert metric.delta in {"模型判断正确", "模型判断错误"}
