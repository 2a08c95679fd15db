"""The interface in English and Simplified Chinese: the catalog is complete and follows the glossary, every
user-visible string of the pages and the chart builders goes through it, and a session's language is its own."""
from __future__ import annotations

import ast
import csv
import re
import threading
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from gru_core import i18n
from gru_core.i18n import LOCALE_DIR, _

ROOT = Path(__file__).resolve().parent.parent
PO = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def extracted() -> dict[str, list[str]]:
    """msgid -> where it is used, as Babel extracts them with the project's babel.cfg."""
    from babel.messages.frontend import parse_mapping_cfg

    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    out: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, directory_filter=lambda d: not d.startswith(".")
            and Path(d).name not in {"tests", "benchmarks", "docs", "models", "data", "test-artifacts"}):
        msgid = message[0] if isinstance(message, tuple) else message  # a plural entry is keyed by its singular
        if msgid:
            out.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return out


@pytest.fixture(scope="module")
def catalog():
    with open(PO, "rb") as f:
        cat = read_po(f, locale="zh_CN")
    return cat


@pytest.fixture(scope="module")
def source_ids():
    return extracted()


def test_every_string_has_a_chinese_translation(catalog, source_ids):
    missing = [f"{m!r} ({where[0]})" for m, where in source_ids.items()
               if not (catalog.get(m) and catalog.get(m).string)]
    assert not missing, f"{len(missing)} strings have no Chinese translation:\n" + "\n".join(missing[:40])
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, f"unchecked (fuzzy) translations: {fuzzy[:20]}"
    stale = [m.id for m in catalog if m.id and (m.id[0] if isinstance(m.id, tuple) else m.id) not in source_ids]
    assert not stale, f"the catalog carries strings the code no longer has: {stale[:20]}"


def test_translations_keep_the_placeholders(catalog):
    for m in catalog:
        if not m.id:
            continue
        for source, target in zip(m.id if isinstance(m.id, tuple) else (m.id,),
                                  m.string if isinstance(m.string, tuple) else (m.string,)):
            assert sorted(PLACEHOLDER.findall(source)) == sorted(PLACEHOLDER.findall(target)), (source, target)


def glossary() -> list[dict]:
    with open(LOCALE_DIR / "glossary.tsv", encoding="utf-8") as f:
        return list(csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t"))


def test_the_catalog_follows_the_glossary(catalog):
    terms = glossary()
    assert {"update gate", "reset gate", "candidate hidden state", "hidden state", "forward propagation",
            "backpropagation", "gradient descent", "learning rate"} <= {t["english"] for t in terms}
    wrong = []
    for m in catalog:
        if not m.id or not m.string:
            continue
        for t in terms:
            source = m.id[0] if isinstance(m.id, tuple) else m.id
            target = m.string[0] if isinstance(m.string, tuple) else m.string
            if re.search(rf"\b{re.escape(t['english'])}", source, re.IGNORECASE) and t["chinese"] not in target:
                wrong.append(f"{source!r}: {target!r} lacks {t['chinese']} ({t['english']})")
    assert not wrong, "\n".join(wrong[:30])
    assert not any("复位门" in (m.string or "") for m in catalog if isinstance(m.string, str))  # one term


# Calls whose string arguments a user reads: every literal there must be wrapped in _() (or ngettext()).
SHOWN = {"title", "header", "subheader", "caption", "markdown", "write", "info", "warning", "error", "success",
         "metric", "button", "radio", "selectbox", "multiselect", "slider", "select_slider", "text_area",
         "text_input", "number_input", "toggle", "checkbox", "expander", "tabs", "download_button", "page_link",
         "spinner", "file_uploader", "form_submit_button", "segmented_control", "pills", "latex_caption", "Page",
         "status", "progress", "toast", "exception", "code_caption"}
SHOWN_KW = {"label", "help", "placeholder", "title", "caption", "body", "value_caption", "text"}
NOT_TEXT = re.compile(r"^[\s\d.,:;·%×+\-−/()\[\]|…→←▶◀⏸⏹★✓✗]*$")  # symbols and numbers only


def literals(node: ast.AST) -> list[ast.AST]:
    """String literals (plain or f-strings) in an argument, not inside a _() / ngettext() / N_() call."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"_", "ngettext", "N_"}:
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [] if NOT_TEXT.match(node.value) else [node]
    if isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        return [] if NOT_TEXT.match(text) else [node]
    if isinstance(node, (ast.BinOp, ast.IfExp, ast.List, ast.Tuple)):
        return [x for child in ast.iter_child_nodes(node) for x in literals(child)]
    return []


def unwrapped(path: Path, root: Path = ROOT) -> list[str]:
    """Where ``path`` passes a user-visible literal to a Streamlit call without _()."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name not in SHOWN:
            continue
        args = [a for a in node.args[:1]] + [k.value for k in node.keywords if k.arg in SHOWN_KW]
        out += [f"{path.relative_to(root)}:{lit.lineno}" for a in args for lit in literals(a)]
    return out


def test_every_shown_string_of_the_pages_goes_through_the_catalog():
    found = [w for p in sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"] for w in unwrapped(p)]
    assert not found, f"{len(found)} user-visible strings are not wrapped in _():\n" + "\n".join(found[:40])


def test_every_chart_title_goes_through_the_catalog():
    found = []
    for path in sorted((ROOT / "gru_core" / "charts").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                for k in node.keywords:
                    if k.arg in {"title", "text"} or (k.arg == "header"):
                        found += [f"{path.name}:{lit.lineno}" for lit in literals(k.value)]
    assert not found, found


def test_the_checker_sees_an_unwrapped_string(tmp_path):
    page = tmp_path / "page.py"
    page.write_text('import streamlit as st\nfrom gru_core.i18n import _\nst.title("Hello")\n'
                    'st.caption(_("Fine"))\nst.button(f"{3} reviews")\nst.metric("P", "0.5")\nst.write("· 3")\n')
    assert [int(h.rsplit(":", 1)[1]) for h in unwrapped(page, tmp_path)] == [3, 5, 6]


def test_modules_that_translate_never_rebind_the_underscore():
    """``for _ in …`` or ``a, _ = …`` in a module that imports _() would silently replace the translation function."""
    bad = []
    for path in sorted((ROOT / "pages").glob("*.py")) + sorted((ROOT / "gru_core").rglob("*.py")) + [ROOT / "app.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports_it = any(isinstance(n, ast.ImportFrom) and n.module == "gru_core.i18n" or
                         (isinstance(n, ast.ImportFrom) and n.module in ("..i18n", ".i18n", "i18n") and n.level)
                         for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                         for a in n.names if a.name == "_")
        if imports_it:
            bad += [f"{path.relative_to(ROOT)}:{n.lineno}" for n in ast.walk(tree)
                    if isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Store)]
    assert not bad, bad


def test_the_catalog_holds_each_string_once():
    text = PO.read_text(encoding="utf-8")  # as written: Babel's reader would keep one of two silently
    seen, twice = set(), []
    for m in re.finditer(r'(?ms)^msgid ((?:"[^\n]*"\n)+)', text):
        key = m.group(1)
        if key in seen and key != '""\n':
            twice.append(key.strip()[:60])
        seen.add(key)
    assert not twice, twice


def test_a_session_keeps_its_own_language():
    seen = {}

    def session(code: str) -> None:
        i18n.set_language(code)
        for _step in range(200):
            seen.setdefault(code, set()).add(i18n.language())

    threads = [threading.Thread(target=session, args=(c,)) for c in ("en", "zh", "en", "zh")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"en": {"en"}, "zh": {"zh"}}
    assert i18n.language() == "en"  # this thread never chose: English


def test_browser_locales():
    assert [i18n.from_locale(x) for x in ("zh-CN", "zh_TW", "zh-Hans-SG", "ZH", "en-GB", "fr", None, "")] == \
        ["zh", "zh", "zh", "zh", "en", "en", "en", "en"]


def test_chinese_comes_from_the_catalog(catalog):
    i18n.set_language("zh")
    try:
        some = next(m for m in catalog if m.id and m.string and isinstance(m.id, str))
        assert _(some.id) == some.string
        assert _("a sentence no catalog has") == "a sentence no catalog has"
    finally:
        i18n.set_language("en")
    assert _(some.id) == some.id


def test_every_fragment_speaks_the_sessions_language():
    """A fragment's own rerun skips app.py (where the language is set) in a fresh thread: the pages use
    ``pages.common.fragment``, which sets it, never ``st.fragment`` itself."""
    bare = [f"{p.name}:{n.lineno}" for p in sorted((ROOT / "pages").glob("*.py")) if p.name != "common.py"
            for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
            if isinstance(n, ast.Attribute) and n.attr == "fragment" and getattr(n.value, "id", "") == "st"]
    assert not bare, bare
