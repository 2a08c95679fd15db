"""Security properties of the code and the server config, and faults while the app runs."""
from __future__ import annotations

import ast
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib

from gru_core import list_checkpoints

from .apphelpers import ROOT, charts, no_exception, run_app

PROJECT_FILES = [p for d in ("gru_core", "pages", "benchmarks") for p in (ROOT / d).rglob("*.py")] + [ROOT / "app.py"]


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _name(func: ast.AST) -> str:
    return ast.unparse(func)


def test_nothing_unpickles():
    for path in PROJECT_FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] in ("pickle", "cPickle", "dill", "joblib", "shelve") for n in names), path
        for call in _calls(tree):
            name = _name(call.func)
            kwargs = {k.arg: ast.unparse(k.value) for k in call.keywords}
            if name.endswith("torch.load") or name == "load" and "torch" in path.read_text():
                assert kwargs.get("weights_only") == "True", f"{path}: {ast.unparse(call)}"
            if name in ("np.load", "numpy.load"):
                assert kwargs.get("allow_pickle") == "False", f"{path}: {ast.unparse(call)}"


def test_user_text_reaches_unsafe_html_only_escaped():
    found = 0
    for path in PROJECT_FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree):
            if any(k.arg == "unsafe_allow_html" for k in call.keywords) or _name(call.func).endswith("st.html"):
                found += 1
                arg = call.args[0]
                assert isinstance(arg, ast.Call) and _name(arg.func) == "coloured_text_html", \
                    f"{path}:{call.lineno}: raw HTML must come from coloured_text_html (which escapes every piece)"
    assert found >= 1


def test_server_config_keeps_protections():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["enableXsrfProtection"] is True
    from gru_core.jobs.imports import MAX_MODEL_MB, MAX_WORD_INDEX_MB

    # the server takes what the Keras import takes (the seed's model is 6.8 MB) and no more
    assert cfg["server"]["maxUploadSize"] == max(MAX_MODEL_MB, MAX_WORD_INDEX_MB)
    assert cfg["browser"]["gatherUsageStats"] is False


def test_killed_training_leaves_no_checkpoint(tmp_path, imdb_path):
    out = tmp_path / "models" / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "gru_core", "train", "--out", str(out), "--limit", "3000",
                             "--epochs", "3", "--no-test", "--data", str(imdb_path)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Wait until batches are being trained, then kill the process outright.
    deadline = time.time() + 120
    seen = b""
    while time.time() < deadline and b"batch" not in seen:
        seen += os.read(proc.stderr.fileno(), 4096)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert b"batch" in seen
    assert list_checkpoints(tmp_path / "models") == [] and not out.exists()


def test_half_written_folders_are_never_listed(tmp_path):
    root = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "gru", root / "gru")
    partial = root / ".gru2.x1y2.tmp"
    partial.mkdir()
    (partial / "config.json").write_text("{}")
    assert [p.name for p in list_checkpoints(root)] == ["gru"]


def _explorer(monkeypatch, root):
    monkeypatch.setenv("GRU_EXPLORER_MODELS", str(root))
    return run_app()


def test_model_folder_deleted_while_running_then_restored(tmp_path, monkeypatch):
    root = tmp_path / "models"
    for name in ("gru", "lstm"):
        shutil.copytree(ROOT / "models" / name, root / name)
    at = _explorer(monkeypatch, root)
    at.selectbox(key="_model_picker").select("lstm").run()
    shutil.rmtree(root / "lstm")
    at.run()
    no_exception(at)
    assert "no longer in" in " ".join(w.value for w in at.sidebar.warning)
    assert at.session_state["model"] == "gru" and charts(at)
    shutil.copytree(ROOT / "models" / "lstm", root / "lstm")
    at.run()  # the restored model is listed again
    at.selectbox(key="_model_picker").select("lstm").run()
    no_exception(at)
    assert "input gate i" in [s.get("title") for s, _ in charts(at)]  # the LSTM's first gate tab


def test_weights_truncated_while_running_then_restored(tmp_path, monkeypatch):
    root = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "gru", root / "gru")
    at = _explorer(monkeypatch, root)
    weights = root / "gru" / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:1000])
    at.run()
    no_exception(at)
    assert "model.safetensors" in " ".join(e.value for e in at.error)
    weights.write_bytes(good)
    at.run()
    no_exception(at)
    assert not at.error and charts(at)


def test_wrong_or_corrupt_dataset(tmp_path, monkeypatch):
    bad = tmp_path / "aclImdb_v1.tar.gz"
    bad.write_bytes(b"\x1f\x8b this is not really a gzip file")
    for target in (bad, tmp_path / "nowhere.tar.gz"):
        monkeypatch.setenv("GRU_EXPLORER_IMDB", str(target))
        at = run_app()
        assert "A random IMDB test review" not in at.selectbox(key="example").options
        assert charts(at)  # pages that do not need data still work
        at.switch_page("pages/compare.py")
        at.run()
        no_exception(at)
        assert any("GRU_EXPLORER_IMDB" in i.value for i in at.info)
