"""Messages for people, through gettext: Vietnamese by default, English on request.

Message ids are English; the Vietnamese catalogue lives in
``engine/locale/vi/LC_MESSAGES/hanchot.po``. The language is read from the
environment when a message is formatted, not at import:

- ``HANCHOT_LANG=en`` (or ``vi``) wins;
- otherwise ``LC_ALL`` / ``LC_MESSAGES`` / ``LANG`` starting with ``en`` gives English;
- anything else (``C.UTF-8``, ``vi_VN``, unset) gives Vietnamese.

Write ``_("unknown unit {unit!r}").format(unit=u)`` — named placeholders, never an
f-string inside ``_()``, so that the extractor sees the message id.
"""

from __future__ import annotations

import gettext
import os
from functools import lru_cache
from pathlib import Path

DOMAIN = "hanchot"
LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = ("vi", "en")


def language() -> str:
    """The language messages are shown in now: ``"vi"`` or ``"en"``."""
    chosen = os.environ.get("HANCHOT_LANG", "").strip().lower()
    if chosen:
        return "en" if chosen.startswith("en") else "vi"
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "").strip().lower()
        if value:
            return "en" if value.startswith("en") else "vi"
    return "vi"


@lru_cache(maxsize=4)
def _translations(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang], fallback=True)


def _(message: str) -> str:
    """Translate ``message`` (an English message id) into the current language."""
    return _translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate with a count: ``ngettext("{n} rule", "{n} rules", n).format(n=n)``."""
    return _translations(language()).ngettext(singular, plural, n)
