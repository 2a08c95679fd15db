"""The interface's languages: English (the source strings) and Simplified Chinese, from gettext catalogs.

Every user-visible sentence is written in English in the code and wrapped: ``_("…")`` translates it into
the current language, ``N_("…")`` only marks a constant for extraction (it is translated where it is shown,
with ``_(constant)``). Sentences keep their numbers as placeholders, ``_("{n} of {total} words").format(…)``,
so a translation may order the words its own way. Babel extracts the strings (``babel.cfg``) into
``gru_core/locale/messages.pot``; ``gru_core/locale/zh_CN/LC_MESSAGES/messages.po`` holds the Chinese, which
follows the seed tutorial's terms in ``gru_core/locale/glossary.tsv``. The catalog is compiled in memory on
first use (no binary file in the repository).

The language is per browser session: the app sets it at the start of each run (``set_language``), and it
lives in a context variable, so concurrent sessions on one server never see each other's choice. Code that
runs outside a session (the command line, a worker thread) speaks English.
"""
from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
LANGUAGES: dict[str, str] = {"en": "English", "zh": "简体中文"}  # code -> the language's own name
CATALOGS = {"zh": "zh_CN"}  # code -> catalog folder; English is the source and needs none
DEFAULT = "en"

_current: ContextVar[str] = ContextVar("gru_explorer_language", default=DEFAULT)


def set_language(code: str) -> str:
    """Use ``code`` (one of ``LANGUAGES``; anything else means English) from now on in this context."""
    code = code if code in LANGUAGES else DEFAULT
    _current.set(code)
    return code


def language() -> str:
    """The code of the language in use here: "en" or "zh"."""
    return _current.get()


def from_locale(locale: str | None) -> str:
    """The interface language for a browser locale such as "zh-CN", "zh-Hans-TW" or "en-GB": Chinese for any
    Chinese locale, English otherwise."""
    return "zh" if (locale or "").lower().replace("_", "-").split("-")[0] == "zh" else DEFAULT


@cache
def _translations(code: str) -> gettext.NullTranslations:
    if code not in CATALOGS:
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    folder = LOCALE_DIR / CATALOGS[code] / "LC_MESSAGES"
    with open(folder / f"{DOMAIN}.po", "rb") as f:
        catalog = read_po(f, locale=CATALOGS[code])
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)  # a fuzzy (unchecked) entry is never shown
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def _(message: str) -> str:
    """``message`` in the current language (itself where the catalog has no translation)."""
    return _translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the current language (Chinese has one form)."""
    return _translations(language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it now (module constants): show it with ``_()``."""
    return message
