"""Names that people type into hanchot: what each may contain, and how long it may be.

Identifiers travel far: into mail headers (``X-Hanchot-Items``), ``.ics`` UIDs, file
names, terminals, spreadsheets and the database. Each is checked **where it enters**
(rule files, ``units.yaml``, CSV/YAML event files, ``hanchot event add``, and
:func:`engine.store.ops.record_event`, which every caller goes through), always by
the functions below, so that every entry path accepts and refuses the same names:

================================  ===========================================  ======
name                              characters                                   length
================================  ===========================================  ======
rule id, unit/group/role id       ``a-z``, ``0-9``; ``-`` between them         1–100
event type, attribute name        ``a-z``, ``0-9``, ``-``, ``_``; first a-z/0-9  1–50
event id (the deadline key)       ``A-Z``, ``a-z``, ``0-9``, ``.``, ``_``,     1–100
                                  ``-``, ``/``; first a letter or digit
attribute value                   any text without control characters          0–200
unit name, head title, sender     any text without control characters          1–200
================================  ===========================================  ======

"Control characters" are C0 (``\\x00``–``\\x1f``, so also CR, LF and tab), DEL, C1
(``\\x80``–``\\x9f``) and the Unicode line and paragraph separators; they are refused,
as are lone surrogates (undecodable bytes of a command line). The limits are
well inside the columns of the tracking store (``VARCHAR(100)``/``VARCHAR(200)``),
so SQLite and PostgreSQL accept every name that passes.

Each ``check_*`` function returns the (stripped) name or raises
:class:`~engine.errors.InputError` with a message that names the rule broken; the
loaders add ``file:line:``.
"""

from __future__ import annotations

import re

from engine.errors import InputError
from engine.i18n import _

MAX_ID = 100
MAX_TYPE = 50
MAX_VALUE = 200
MAX_NAME = 200

# fullmatch everywhere: with re.match, "$" also matches before a final "\n".
RULE_ID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
EVENT_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
EVENT_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
# Control characters (C0, DEL, C1) and the Unicode line/paragraph separators.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: Control characters and lone surrogates (undecodable bytes of a command line):
#: neither is text that can be stored, mailed or printed.
UNSAFE_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def thing(what: str) -> str:
    """The name of the checked thing (``what``: ``"rule id"``...) for people: translated
    when it is one of the names this module uses, else as given."""
    return {
        "rule id": _("rule id"),
        "event type": _("event type"),
        "event id": _("event id"),
        "attribute name": _("attribute name"),
        "unit name": _("unit name"),
        "head title": _("head title"),
        "sender name": _("sender name"),
    }.get(what, what)


def _text(value: object, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(_("{what} {value!r} must be text").format(what=what, value=value))
    # Only spaces are trimmed (spreadsheet padding): a line break is refused, not hidden.
    return str(value).strip(" ")


def _limit(text: str, what: str, limit: int) -> None:
    if not text:
        raise InputError(_("{what} must not be empty").format(what=what))
    if len(text) > limit:
        raise InputError(
            _("{what} {start!r}… is {n} characters long; at most {limit} are allowed").format(
                what=what, start=text[:20], n=len(text), limit=limit
            )
        )


def check_rule_id(value: object, what: str = "rule id") -> str:
    """A rule id (also a unit, group or role id): ``bao-cao-quy``."""
    what = thing(what)
    text = _text(value, what)
    _limit(text, what, MAX_ID)
    if not RULE_ID_RE.fullmatch(text):
        raise InputError(
            _(
                "{what} {value!r} may contain only lower-case a-z, 0-9 and '-' "
                "between them (e.g. bao-cao-quy)"
            ).format(what=what, value=text)
        )
    return text


def is_rule_id(value: object) -> bool:
    """True when :func:`check_rule_id` accepts ``value``."""
    return isinstance(value, str) and len(value) <= MAX_ID and bool(RULE_ID_RE.fullmatch(value))


def check_event_type(value: object, what: str = "event type") -> str:
    """An event type (``publication``, ``training-call``) or an attribute name."""
    what = thing(what)
    text = _text(value, what)
    _limit(text, what, MAX_TYPE)
    if not EVENT_TYPE_RE.fullmatch(text):
        raise InputError(
            _("{what} {value!r} may contain only a-z, 0-9, '-' and '_'").format(
                what=what, value=text
            )
        )
    return text


def check_attr_name(value: object) -> str:
    """An event attribute name (``delegated``): the same set as event types."""
    return check_event_type(value, "attribute name")


def check_event_id(value: object, what: str = "event id") -> str:
    """An event id (``qd-0425``, ``512/QD-UBND``): it becomes the deadline key."""
    what = thing(what)
    text = _text(value, what)
    _limit(text, what, MAX_ID)
    if not EVENT_ID_RE.fullmatch(text):
        raise InputError(
            _(
                "{what} {value!r} may contain only letters A-Z and a-z, digits, '.', '_', "
                "'-' and '/', and must start with a letter or digit (e.g. qd-0425)"
            ).format(what=what, value=text)
        )
    return text


def _no_control(text: str, what: str, why: str) -> None:
    bad = UNSAFE_RE.search(text)
    if bad:
        if bad.group() in "\r\n\u2028\u2029":
            kind = _("a line break")
        elif "\ud800" <= bad.group() <= "\udfff":
            kind = _("a byte that is not UTF-8 text")
        else:
            kind = _("a control character")
        raise InputError(
            _("{what} contains {kind} ({char!r}); {why}").format(
                what=what, kind=kind, char=bad.group(), why=why
            )
        )


def check_attr_value(value: object, name: str) -> str:
    """An attribute value: one line of text, at most :data:`MAX_VALUE` characters."""
    what = _("attribute {name}").format(name=name)
    text = _text(value, what)
    _no_control(text, what, _("write the value on one line"))
    if len(text) > MAX_VALUE:
        _limit(text, what, MAX_VALUE)
    return text


def check_display_name(value: object, what: str) -> str:
    """A unit name, head title or sender name: it goes into mail headers."""
    what = thing(what)
    if not isinstance(value, str):
        raise InputError(_("{what} {value!r} must be text").format(what=what, value=value))
    text = value.strip(" ")
    _limit(text, what, MAX_NAME)
    _no_control(text, what, _("a name goes into mail headers: write it on one line"))
    return text


def printable(text: object) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\n``).

    For showing stored text (event ids, titles, attributes) on a terminal or in a
    tab-separated line: an escape sequence or a line break in the database must not
    act on the terminal nor split a line.
    """
    s = "" if text is None else str(text)
    if not UNSAFE_RE.search(s):
        return s
    return UNSAFE_RE.sub(lambda m: repr(m.group())[1:-1], s)


__all__ = [
    "CONTROL_RE",
    "EVENT_ID_RE",
    "EVENT_TYPE_RE",
    "MAX_ID",
    "MAX_NAME",
    "MAX_TYPE",
    "MAX_VALUE",
    "RULE_ID_RE",
    "UNSAFE_RE",
    "check_attr_name",
    "check_attr_value",
    "check_display_name",
    "check_event_id",
    "check_event_type",
    "check_rule_id",
    "is_rule_id",
    "printable",
]
