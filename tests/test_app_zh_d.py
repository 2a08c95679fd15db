"""The Gradient descent and Train pages in Simplified Chinese (?lang=zh): every control used once, the messages,
progress and refusals in Chinese, and the English pages unchanged after switching back."""
from __future__ import annotations

import re

import pytest

from gru_core import i18n
from gru_core.jobs.runs import exit_message
from gru_core.keras_import import KerasImportError, _check_layers, _layers, render

from . import apphelpers
from .apphelpers import EPOCHS_TO_STOP, charts, chinese, no_exception, open_zh, progress_text, rerun_until
from .apphelpers import shown_messages as messages
from .test_app_keras_import import keras_file  # noqa: F401 -- the fixture: a small Keras GRU and its word index

models_root = apphelpers.models_root
made_up_imdb = apphelpers.made_up_imdb


def labels(at) -> list[str]:
    widgets = [*at.slider, *at.select_slider, *at.selectbox, *at.number_input, *at.text_input, *at.checkbox,
               *at.toggle, *at.button, *at.radio]
    return [w.label for w in widgets if not (w.key or "").startswith("_")] + [m.label for m in at.metric]  # not the
    # sidebar's shared controls (another area's)


FORMULAS = {"J(θ)", "num_words", "maxlen", "index_from"}  # a formula or a Keras argument in every language


def all_chinese(texts: list[str]) -> None:
    assert texts and all(chinese(t) or t in FORMULAS for t in texts), [t for t in texts if not chinese(t)]


def titles(node) -> list[str]:
    """Every "title" string in a Vega-Lite spec: the chart's, the axes', the legends' and the tooltips'."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "title" and isinstance(v, str)] + [
            t for v in node.values() for t in titles(v)]
    return [t for v in node for t in titles(v)] if isinstance(node, list) else []


def chart_words(at) -> str:
    """Every title of the page's charts, and the values of their nominal fields (what a legend shows)."""
    out = []
    for spec, table in charts(at):
        out += titles(spec)
        if table is not None:
            for name in ("optimizer", "measure", "split"):
                if name in table.column_names:
                    out += [str(v) for v in table.column(name).to_pylist()]
    return " ".join(out)


# --- Gradient descent -------------------------------------------------------------------------------------------

def test_descent_one_parameter_in_chinese_with_every_control():
    at = open_zh("pages/descent.py")
    assert at.title[0].value == "梯度下降"
    all_chinese([c.value for c in at.caption] + labels(at) + messages(at))
    assert at.radio(key="gd_section").options == ["一个参数", "两个参数", "真实模型"]
    assert at.selectbox(key="gd_cost").options == ["凸的碗形", "局部与全局最小值", "平坦高原"]
    words = chart_words(at)
    assert "θ" in words and "J(θ)" in words and "第 k 步" in words
    for cost in ("local and global minimum", "flat plateau", "convex bowl"):
        at.selectbox(key="gd_cost").select(cost).run()
        no_exception(at)
        all_chinese([c.value for c in at.caption])
    at.slider(key="gd_start_convex bowl").set_value(-3.0).run()
    at.select_slider(key="gd_alpha").set_value(3.2).run()  # far too large: it diverges
    no_exception(at)
    assert any("发散" in e.value for e in at.error), messages(at)
    at.select_slider(key="gd_alpha").set_value(0.5).run()
    at.slider(key="gd_k").set_value(60).run()
    no_exception(at)
    assert any(s.value.startswith("在第") and "收敛" in s.value for s in at.success), messages(at)
    assert next(m.label for m in at.metric if "θ" in m.label) == "第 60 步的 θ"
    at.select_slider(key="gd_alpha").set_value(1e-4).run()
    at.slider(key="gd_k").set_value(95).run()
    next(b for b in at.button if b.label == "▶ 播放").click().run()
    no_exception(at)
    assert any("缓慢爬行" in w.value for w in at.warning), messages(at)
    assert next(m for m in at.metric if m.label == "斜率 dJ/dθ").help.startswith("斜率为")


def test_descent_two_parameters_in_chinese_with_every_control():
    at = open_zh("pages/descent.py", gd_section="Two parameters")
    all_chinese([c.value for c in at.caption] + labels(at))
    assert at.selectbox(key="gd2_cost").options == ["曲率不等的碗形", "Rosenbrock 函数", "直线拟合（均方误差）"]
    for surface in ("Rosenbrock", "line fit (mean squared error)"):
        at.selectbox(key="gd2_cost").select(surface).run()
        no_exception(at)
    name = "line fit (mean squared error)"
    at.slider(key=f"gd2_t0_{name}").set_value(-2.0)
    at.slider(key=f"gd2_t1_{name}").set_value(3.0)
    at.slider(key="gd2_steps").set_value(40)
    for opt, alpha in zip(("gradient descent", "momentum", "Adam"), (0.032, 3.2, 0.1), strict=True):
        at.select_slider(key=f"gd2_alpha_{opt}_{name}").set_value(alpha)
    at.run()
    no_exception(at)
    assert [m.label for m in at.metric][::2] == ["40 步后的 J"] * 2  # momentum's α = 3.2 blows up early:
    assert re.fullmatch(r"\d+ 步后的 J", at.metric[1].label) and at.metric[1].value == "已发散"
    assert all(chinese(m.help) for m in at.metric)
    words = chart_words(at)
    for word in ("梯度下降", "动量法", "Adam", "优化器", "第 k 步", "θ0", "θ1"):
        assert word in words, (word, words)
    assert "gradient descent" not in words and "momentum" not in words  # the legend's values are Chinese too


def test_descent_real_model_without_data_says_so_in_chinese(tmp_path, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(tmp_path / "none.tar.gz"))
    at = open_zh("pages/descent.py", gd_section="The real model")
    [info] = at.info
    assert info.value.startswith("真实模型的损失需要 IMDB 评论") and "GRU_EXPLORER_IMDB" in info.value


def test_descent_real_model_in_chinese_with_every_control(imdb_path):
    at = open_zh("pages/descent.py", gd_section="The real model")
    all_chinese([c.value for c in at.caption] + labels(at))
    box = at.selectbox(key="ls_block")
    assert all(re.search(r"：(循环|输入)权重 W_[hi]·$", o) for o in box.options), box.options  # gate: archs' catalog
    label = "update gate z: input weights W_i·"
    box.select(label).run()
    no_exception(at)
    at.number_input(key=f"ls_row_{label}").set_value(3)
    at.number_input(key=f"ls_col_{label}").set_value(5)
    at.slider(key="ls_start").set_value(-1.0)
    at.select_slider(key="ls_alpha").set_value(0.1)
    at.slider(key="ls_steps").set_value(3)
    at.run()
    no_exception(at)
    said = next(c.value for c in at.caption if "自动微分与有限差分" in c.value)
    assert "**一致**" in said and "容差" in said
    at.number_input(key="ls_seed1").set_value(7)
    at.number_input(key="ls_seed2").set_value(8)
    at.toggle(key="ls_surface").set_value(True).run()
    no_exception(at)
    assert len(charts(at)) == 2
    words = chart_words(at)
    assert "方向 1" in words and "该批次上的损失" in words and "损失" in words


def test_switching_back_to_english_gives_the_english_page():
    def seen(at) -> list[str]:
        return [x.value for x in [*at.title, *at.caption, *at.success, *at.info, *at.warning]] + labels(at) + [
            chart_words(at)]

    english = apphelpers.open_page("pages/descent.py", gd_section="Two parameters")
    at = open_zh("pages/descent.py", gd_section="Two parameters")
    assert seen(at) != seen(english)
    at.query_params["lang"] = "en"
    at.run()
    no_exception(at)
    assert seen(at) == seen(english)
    assert at.title[0].value == "Gradient descent"


# --- Train --------------------------------------------------------------------------------------------------------

def fill_zh(at, name: str, reviews: int, epochs: int, arch: str = "gru"):
    """Every setting of the form, found by its Chinese label."""
    by_label = {n.label: n for n in at.number_input}
    next(s for s in at.selectbox if s.label == "架构").select(arch)
    next(t for t in at.text_input if t.label == "新模型的名称").input(name)
    for label, value in (("训练评论数", reviews), ("轮数", epochs), ("批大小", 16), ("学习率", 0.01),
                         ("隐藏单元数", 8), ("词表大小", 200), ("每条评论的最大词数（取最后的词）", 20)):
        by_label[label].set_value(value)
    next(c for c in at.checkbox if c.label.startswith("训练完成后在")).uncheck()  # no test evaluation in tests
    next(c for c in at.checkbox if c.label.startswith("替换")).check()


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_train_page_in_chinese_runs_stops_and_clears(models_root, made_up_imdb):
    at = open_zh("pages/train.py")
    assert at.title[0].value == "训练模型"
    all_chinese([c.value for c in at.caption] + labels(at) + messages(at) + [e.label for e in at.expander])
    fill_zh(at, "zh-lstm", 2000, EPOCHS_TO_STOP, arch="lstm")
    button(at, "开始训练").click().run()
    no_exception(at)
    rerun_until(at, lambda at: [b for b in at.button if b.label == "停止"], "a Stop button")
    assert chinese(" ".join(h.value for h in at.subheader)) and "zh-lstm：你的训练" in at.subheader[0].value
    # Stopped after its first reported steps (a stop before them saves a model with no running curve to draw).
    rerun_until(at, lambda at: re.search(r"第 [1-9]\d* 轮，第 [1-9][\d,]* / ", progress_text(at)), "training steps")
    button(at, "停止").click().run()
    rerun_until(at, lambda at: any(b.label == "清除" for b in at.button), "the run's end")
    assert "已停止" in progress_text(at), progress_text(at)
    all_chinese(messages(at))  # saved (with the best epoch) or why nothing was saved, in Chinese
    if (models_root / "local" / "zh-lstm").exists():
        assert any("已保存" in s.value and "zh-lstm（在此训练）" in s.value or "zh-lstm (trained here)" in s.value
                   for s in at.success), messages(at)
        words = chart_words(at)
        assert "损失" in words and "准确率" in words and "训练步" in words
    button(at, "清除").click().run()
    no_exception(at)
    assert any(i.value.startswith("选好设置") for i in at.info)


def test_refusals_are_in_chinese(models_root, made_up_imdb):
    at = open_zh("pages/train.py")
    fill_zh(at, "gru", 300, 1)
    button(at, "开始训练").click().run()
    no_exception(at)
    assert any("“gru”是随项目提供的模型" in e.value for e in at.error), messages(at)
    fill_zh(at, "big", 25_000, 20)
    button(at, "开始训练").click().run()
    assert any("长时间的训练请用命令行" in e.value for e in at.error), messages(at)


def test_train_page_without_data_in_chinese(tmp_path, monkeypatch):
    from gru_core import download

    monkeypatch.setenv("GRU_EXPLORER_IMDB", str(tmp_path / "none.tar.gz"))

    def offline(*args, **kwargs):
        raise download.DownloadError("Could not reach the server (offline in this test).")

    monkeypatch.setattr(download, "download_imdb", offline)
    at = open_zh("pages/train.py")
    assert any(w.value.startswith("训练需要 IMDB 数据集。") for w in at.warning)
    download_button = next(b for b in at.button if b.label.startswith("下载 IMDB 数据集"))
    assert chinese(download_button.help)
    download_button.click().run()
    no_exception(at)
    assert any("offline in this test" in e.value for e in at.error)


def test_read_only_server_in_chinese(models_root, made_up_imdb, monkeypatch):
    monkeypatch.setenv("GRU_EXPLORER_READ_ONLY", "1")
    at = open_zh("pages/train.py")
    assert at.info[0].value.startswith("本服务器关闭了训练") and chinese(at.caption[0].value)


def upload_zh(at, model: tuple[str, bytes], index: bytes | None, name: str, **numbers):
    at.file_uploader[0].upload(*model)
    if index is not None:
        at.file_uploader[1].upload("imdb_word_index.json", index, "application/json")
    next(t for t in at.text_input if t.label == "名称").set_value(name)
    for label, v in numbers.items():
        next(n for n in at.number_input if n.label == label).set_value(v)
    button(at, "导入").click()
    at.run()
    no_exception(at)
    return at


def test_keras_import_in_chinese(models_root, keras_file):  # noqa: F811 -- the fixture imported above
    data, index, _model = keras_file
    at = open_zh("pages/train.py")
    all_chinese([u.label for u in at.file_uploader] + [m.value for m in at.markdown if "Embedding" in m.value])
    at = upload_zh(at, ("mine.keras", data), None, "mine")
    assert any(e.value == "请选择两个文件：模型和它的词索引。" for e in at.error), messages(at)
    at = upload_zh(at, ("evil.keras", b"PK\x03\x04 not really a zip"), b'{"good": 1}', "evil")
    [error] = at.error
    assert error.value.startswith("模型未能导入：model.keras 不是 Keras 模型文件：既不是 .keras（zip）文件"), error.value
    at = upload_zh(at, ("mine.keras", data), index, "mine", maxlen=40, num_words=300, index_from=3)
    assert any("已导入到" in s.value for s in at.success), messages(at)


# --- What the worker thread and the child process say, shown in the session's language ---------------------------

def test_a_failed_run_and_a_refused_file_read_in_each_language():
    english = exit_message(-9)  # as the server thread that reaps the child builds it
    assert english == "The training process was killed by signal SIGKILL."
    with pytest.raises(KerasImportError) as refused:  # what the import's child process raises
        _check_layers(_layers({"class_name": "Sequential", "config": {"layers": [
            {"class_name": "Dense", "config": {"name": "head", "units": 1}}]}}))
    assert str(refused.value).startswith("the model does not start with an Embedding (its first layer is 'head'")
    i18n.set_language("zh")
    try:
        assert exit_message(-9) == "训练进程被信号 SIGKILL 终止。"
        shown = render(refused.value.message)
        assert shown.startswith("模型不是以 Embedding 开头（它的第一层是“head”，Dense）。支持的结构：Embedding -> ")
    finally:
        i18n.set_language("en")
    assert render(refused.value.message) == str(refused.value)
