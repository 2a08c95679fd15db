"""Every control has a help tooltip (checked on the page sources)."""
from __future__ import annotations

import ast

from .apphelpers import ROOT

WIDGETS = {"selectbox", "multiselect", "slider", "select_slider", "number_input", "text_input", "text_area",
           "radio", "checkbox", "toggle", "button", "form_submit_button", "download_button"}


def test_every_control_has_help():
    missing = []
    for path in sorted((ROOT / "pages").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WIDGETS
                    and not any(k.arg == "help" for k in node.keywords)):
                missing.append(f"{path.name}:{node.lineno} {node.func.attr}")
    assert not missing, missing
