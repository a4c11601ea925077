"""Timing phrases of a Vietnamese plan ("Quý I/2022", "trước ngày 30/7/2022"...) as due forms.

:func:`read_timing` turns the text of a plan's *Thời gian* cell (or a sentence of
its *Kết quả* / *Nội dung* cells) into a :class:`TimingDraft`: the ``due`` mapping
a rules file would hold (SPEC §3), how sure the reading is (``exact``,
``inferred``, ``todo``), why, and the words it came from.

Pure: no I/O, no clock. The year of phrases that name none ("trước 30/7",
"6 tháng đầu năm") is the plan's year, passed in.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from engine.i18n import _

EXACT = "exact"
INFERRED = "inferred"
TODO = "todo"

#: What "Định kỳ hằng quý" becomes when the plan names no day: an admin's default,
#: always flagged ``inferred`` so the review shows it.
DEFAULT_REPORT_DAY = "last working day"
#: The span proposed for event-driven duties that state none ("Theo yêu cầu của …").
DEFAULT_EVENT_SPAN = "5 working days"

_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}


@dataclass(frozen=True, slots=True)
class TimingDraft:
    """One reading of a timing phrase.

    ``due`` is the rules-file mapping (``{"end_of": "2022-Q1"}``), or ``None`` when
    the phrase could not be read (``certainty == "todo"``). ``event`` is True for
    event-driven forms (``after``). ``phrase`` is the original words decided on.
    """

    due: dict | None
    certainty: str
    reason: str
    phrase: str
    event: bool = False
    notes: tuple[str, ...] = field(default=())


def fold(text: str) -> str:
    """Lower case, no diacritics (``đ`` → ``d``), single spaces: for matching words."""
    s = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Mn")
    return " ".join(s.lower().split())


def _date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _slug(text: str, words: int = 4) -> str:
    parts = re.findall(r"[a-z0-9]+", fold(text))
    return "-".join(parts[:words]) or "event"


#: Known event words → a proposed event type (an admin may rename it).
EVENT_TYPES = (
    ("cong bo", "publication"),
    ("nhan duoc", "receipt"),
    ("tiep nhan", "receipt"),
    ("ban hanh", "issuance"),
    ("yeu cau", "request"),
)


def _event_type(words: str) -> str:
    f = fold(words)
    for key, etype in EVENT_TYPES:
        if key in f:
            return etype
    return _slug(words, 3)


# Patterns work on the folded text (no diacritics, lower case).
_D = r"(\d{1,2})\s*/\s*(\d{1,2})"
_Y = r"(?:\s*/\s*(\d{4}))?"
_BEFORE = re.compile(r"\btruoc\s+(?:ngay\s+)?" + _D + _Y)
_LATEST = re.compile(r"\b(?:cham|tre)\s+nhat\s+(?:la\s+)?(?:vao\s+)?(?:ngay\s+)?" + _D + _Y)
_ON = re.compile(r"\bngay\s+" + _D + r"\s*/\s*(\d{4})")
_QUARTER = re.compile(r"\bquy\s+(iv|iii|ii|i|[1-4])\b(?:\s*(?:/|nam)\s*(\d{4}))?")
_HALF = re.compile(r"\b6\s+thang\s+(dau|cuoi)\s+nam(?:\s+(\d{4}))?")
_MONTH = re.compile(r"\bthang\s+(\d{1,2})\s*/\s*(\d{4})")
_PERIODIC = re.compile(
    r"\bdinh\s+ky\b(?:\s+(?:hang|moi))?\s*(quy|thang|nam|6\s+thang)?"
    r"|^(?:hang|moi)\s+(quy|thang|nam)\b"
)
_WITHIN = re.compile(
    r"\b(?:trong\s+)?(?:thoi\s+han|vong)\s+(\d+)\s+ngay(\s+lam\s+viec)?\s+"
    r"(?:ke\s+tu|tinh\s+tu|sau)\s+(?:ngay\s+|khi\s+)?(.+?)(?:[.;,]|$)"
)
_ON_REQUEST = re.compile(r"\btheo\s+(yeu\s+cau|ke\s+hoach)\b")
_WHEN = re.compile(r"\bkhi\s+co\s+(.+?)(?:[.;,]|$)")
_REGULAR = re.compile(r"\bthuong\s+xuyen\b(?:\s+trong)?(?:\s+nam\s+(\d{4}))?")
_IN_YEAR = re.compile(r"\b(?:trong\s+)?nam\s+(\d{4})\b")


def _yr(text: str | None, year: int | None) -> int | None:
    return int(text) if text else year


def read_timing(
    text: str,
    year: int | None,
    *,
    report_day: int | str = DEFAULT_REPORT_DAY,
    event_span: str = DEFAULT_EVENT_SPAN,
) -> TimingDraft:
    """Read one timing phrase of the plan of ``year`` into a due form.

    Phrases, first match wins: a date ("trước ngày D/M/Y", "chậm nhất ngày D/M/Y",
    "ngày D/M/Y", "trước D/M"), "trong thời hạn N ngày (làm việc) kể từ …",
    "Định kỳ hằng quý/hằng tháng/6 tháng/hằng năm", "Quý I/Y", "6 tháng đầu năm",
    "Tháng M/Y", "Theo yêu cầu/kế hoạch của …", "Khi có …", "Thường xuyên (trong)
    năm Y", "Trong năm Y", "Năm Y". Anything else gives certainty ``todo``.
    Never raises.
    """
    raw = " ".join(text.split())
    f = fold(raw)

    def date_form(key: str, m: re.Match, how: str) -> TimingDraft:
        y = _yr(m.group(3), year)
        if y is None:
            return TimingDraft(None, TODO, _("no year in the phrase and none given"), raw)
        d = _date(y, int(m.group(2)), int(m.group(1)))
        if d is None:
            why = _("impossible date in {phrase!r}").format(phrase=m.group(0))
            return TimingDraft(None, TODO, why, raw)
        sure = EXACT if m.group(3) else INFERRED
        why = how
        if not m.group(3):
            why = _("{how}; year {year} taken from the plan").format(how=how, year=y)
        return TimingDraft({key: d.isoformat()}, sure, why, raw)

    m = _BEFORE.search(f)
    if m:
        return date_form("before", m, _("'trước ngày': the last working day strictly before"))
    m = _LATEST.search(f)
    if m:
        return date_form("on", m, _("'chậm nhất ngày': that day"))
    m = _WITHIN.search(f)
    if m:
        n = int(m.group(1))
        span = f"{n} working days" if m.group(2) else f"{n} days"
        if n == 1:
            span = span[:-1]
        what = m.group(3).strip()
        etype = _event_type(what)
        return TimingDraft(
            {"after": etype, "in": span},
            INFERRED,
            _(
                "counted from each event '{what}' (proposed event type {type!r}); "
                "record them with 'hanchot event add {type}'"
            ).format(what=what, type=etype),
            raw,
            event=True,
        )
    m = _ON.search(f)
    if m:
        return date_form("on", m, _("'ngày D/M/Y': that day"))
    m = _PERIODIC.search(f)
    if m:
        unit = " ".join((m.group(1) or m.group(2) or "").split())
        every, month = {
            "quy": ("quarter", 3),
            "thang": ("month", 1),
            "nam": ("year", 12),
            "6 thang": ("half", 6),
        }.get(unit, ("quarter", 3))
        if year is None:
            return TimingDraft(None, TODO, _("periodic duty but no year for from/until"), raw)
        why = _(
            "periodic ({every}); the plan names no day: the default report day "
            "{day!r} of the period's last month — check it"
        ).format(every=every, day=report_day)
        if not unit:
            why = _("periodic without a period word: read as quarterly; {why}").format(why=why)
        return TimingDraft(
            {
                "every": every,
                "month": month,
                "day": report_day,
                "from": f"{year}-01-01",
                "until": f"{year}-12-31",
            },
            INFERRED,
            why,
            raw,
        )
    m = _QUARTER.search(f)
    if m:
        q = _ROMAN.get(m.group(1)) or int(m.group(1))
        y = _yr(m.group(2), year)
        if y is None:
            return TimingDraft(None, TODO, _("no year in the phrase and none given"), raw)
        why = _("within the quarter: its last day")
        return TimingDraft({"end_of": f"{y}-Q{q}"}, EXACT, why, raw)
    m = _HALF.search(f)
    if m:
        y = _yr(m.group(2), year)
        if y is None:
            return TimingDraft(None, TODO, _("no year in the phrase and none given"), raw)
        h = 1 if m.group(1) == "dau" else 2
        return TimingDraft(
            {"end_of": f"{y}-H{h}"}, EXACT, _("within the half-year: its last day"), raw
        )
    m = _MONTH.search(f)
    if m:
        mo = int(m.group(1))
        if not 1 <= mo <= 12:
            return TimingDraft(None, TODO, _("no month {month}").format(month=mo), raw)
        return TimingDraft(
            {"end_of": f"{m.group(2)}-{mo:02d}"}, EXACT, _("within the month: its last day"), raw
        )
    m = _ON_REQUEST.search(f)
    if m:
        return TimingDraft(
            {"after": "request", "in": event_span},
            INFERRED,
            _(
                "on request: one deadline per request received (event type 'request'); "
                "the plan names no span, {span!r} proposed — check it"
            ).format(span=event_span),
            raw,
            event=True,
        )
    m = _WHEN.search(f)
    if m:
        etype = _event_type(m.group(1))
        return TimingDraft(
            {"after": etype, "in": event_span},
            INFERRED,
            _(
                "'khi có …': one deadline per event (type {type!r}); "
                "the plan names no span, {span!r} proposed — check it"
            ).format(type=etype, span=event_span),
            raw,
            event=True,
        )
    m = _REGULAR.search(f)
    if m:
        y = _yr(m.group(1), year)
        if y is None:
            return TimingDraft(None, TODO, _("continuous duty but no year"), raw)
        return TimingDraft(
            {"end_of": str(y)},
            INFERRED,
            _("continuous duty ('thường xuyên'): its outer deadline is the year's end"),
            raw,
        )
    m = _IN_YEAR.search(f)
    if m:
        why = _("within the year: its last day")
        return TimingDraft({"end_of": m.group(1)}, EXACT, why, raw)
    return TimingDraft(None, TODO, _("no timing phrase hanchot knows"), raw)


_DEADLINE_IN_TEXT = re.compile(
    r"\b(?:truoc\s+ngay|(?:cham|tre)\s+nhat\s+(?:la\s+)?(?:vao\s+)?ngay)\s+\d{1,2}\s*/\s*\d{1,2}"
    r"\s*/\s*\d{4}"
)


def deadline_in_text(text: str, year: int | None) -> TimingDraft | None:
    """A full dated deadline stated in free text ("gửi … trước ngày 30/7/2022"), if any.

    Such a date in the *Kết quả* column is more precise than a *Thời gian* cell that
    says only "Trong năm 2022" (item 19 of the 2022 plan). Returns ``None`` without one.
    """
    for sentence in re.split(r"(?<=[.;])\s+|\n", text):
        m = _DEADLINE_IN_TEXT.search(fold(sentence))
        if m:
            d = read_timing(sentence, year)
            if d.due is not None:
                return d
    return None


def spans_in_text(text: str, year: int | None) -> list[TimingDraft]:
    """Every "trong thời hạn N ngày kể từ …" of free text, one per bullet or sentence."""
    out = []
    for part in re.split(r"\n|(?<=[.;])\s+", text):
        if _WITHIN.search(fold(part)):
            out.append(read_timing(part, year))
    return out


def is_vague(d: TimingDraft) -> bool:
    """True for a whole-year reading ("Trong năm 2022", "Thường xuyên") or none."""
    if d.due is None:
        return True
    return "end_of" in d.due and len(str(d.due["end_of"])) == 4


def is_period(d: TimingDraft) -> bool:
    """True for a period reading ("Quý II/2022", "Trong năm 2022") or none: a dated
    deadline elsewhere in the row is more precise."""
    return d.due is None or "end_of" in d.due
