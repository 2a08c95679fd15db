"""The user's own text for the pages: coloured word by word as escaped HTML, or escaped for Markdown."""
from __future__ import annotations

import html

import numpy as np

NEG_RGB = (202, 0, 32)  # ends of Vega's redblue scheme
POS_RGB = (5, 113, 176)


def md_escape(text: str) -> str:
    """User text for a Markdown-rendering element: every Markdown/HTML character backslash-escaped."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|$<>~&:" else c for c in text.replace("\n", " "))


def _mix(value: float) -> str:
    """Background colour for a value in [-1, 1]: red (−1) – white (0) – blue (+1)."""
    v = float(np.clip(value, -1, 1))
    end = POS_RGB if v >= 0 else NEG_RGB
    a = abs(v)
    r, g, b = (round(255 + (c - 255) * a) for c in end)
    return f"rgb({r},{g},{b})"


def coloured_text_html(text: str, spans: list[tuple[int, int]], values: np.ndarray, tips: list[str],
                       unknown: np.ndarray | None = None, start: int | None = None) -> str:
    """The user's own text with each word's background coloured by a value in [-1, 1].

    Every piece of user text is HTML-escaped, so markup in a review shows as
    text. ``tips`` become hover titles. Text before ``start`` (the part a
    truncated review's model did not read) is left out and marked with an ellipsis.
    """
    out = []
    pos = start or 0
    if pos > 0:
        out.append('<span style="color:#888">… </span>')
    for (a, b), v, tip, unk in zip(spans, values, tips, unknown if unknown is not None else [False] * len(spans)):
        out.append(html.escape(text[pos:a]))
        style = f"background:{_mix(v)};color:{'#fff' if abs(v) > 0.6 else '#111'};padding:1px 2px;border-radius:3px"
        if unk:
            style += ";text-decoration:underline dotted;font-style:italic"
        out.append(f'<span style="{style}" title="{html.escape(tip, quote=True)}">{html.escape(text[a:b])}</span>')
        pos = b
    out.append(html.escape(text[pos:]))
    # Any line break (\r too) becomes <br>: a bare \r could end Markdown's HTML block.
    body = "".join(out).replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")
    return f'<div style="line-height:1.9;font-size:1.05rem">{body}</div>'
