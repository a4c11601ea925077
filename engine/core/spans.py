"""Spans ("30 ngày", "5 working days"), rolls, and adding one to a date.

Bộ luật Dân sự 2015:

* Điều 147 — a period counted in days, weeks or months starts on the day **after**
  the event: 30 days from 15/03/2022 ends 14/04/2022.
* Điều 148 khoản 1 — a period in days ends at the end of its last day.
* Điều 148 khoản 2 — a period in weeks ends on the same weekday of the last week.
* Điều 148 khoản 3 — a period in months ends on the same day number of the last
  month, or on that month's last day when it has no such day
  (31/01/2022 + 1 tháng = 28/02/2022).
* Điều 148 khoản 5 — when the last day is a weekend or a public holiday the period ends
  on the next working day (``Roll.FORWARD``).

``N working days`` (``N ngày làm việc``) is the N-th working day after the event day;
it is already a working day, so its default roll is ``Roll.NONE``.
"""

from __future__ import annotations

import calendar as _stdcal
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum

from dateutil.relativedelta import relativedelta

from engine.core.calendar import WorkingCalendar, format_day
from engine.errors import InputError
from engine.i18n import _, language

#: A span longer than this is refused as a typo (``3000 months``).
MAX_YEARS = 100


class Unit(Enum):
    DAYS = "days"
    WORKING_DAYS = "working days"
    WEEKS = "weeks"
    MONTHS = "months"


class Roll(Enum):
    FORWARD = "forward"
    BACKWARD = "backward"
    NONE = "none"


UNIT_VI = {
    Unit.DAYS: "ngày",
    Unit.WORKING_DAYS: "ngày làm việc",
    Unit.WEEKS: "tuần",
    Unit.MONTHS: "tháng",
}

_UNIT_WORDS = {
    "day": Unit.DAYS,
    "days": Unit.DAYS,
    "ngày": Unit.DAYS,
    "calendar day": Unit.DAYS,
    "calendar days": Unit.DAYS,
    "working day": Unit.WORKING_DAYS,
    "working days": Unit.WORKING_DAYS,
    "ngày làm việc": Unit.WORKING_DAYS,
    "week": Unit.WEEKS,
    "weeks": Unit.WEEKS,
    "tuần": Unit.WEEKS,
    "month": Unit.MONTHS,
    "months": Unit.MONTHS,
    "tháng": Unit.MONTHS,
}

_LIMIT = {
    Unit.DAYS: MAX_YEARS * 36525 // 100,  # 36,525 days
    Unit.WORKING_DAYS: MAX_YEARS * 261,  # at most 261 weekdays in a year
    Unit.WEEKS: MAX_YEARS * 36525 // 700,  # 5,217 weeks
    Unit.MONTHS: MAX_YEARS * 12,
}

DEFAULT_ROLL = {
    Unit.DAYS: Roll.FORWARD,
    Unit.WEEKS: Roll.FORWARD,
    Unit.MONTHS: Roll.FORWARD,
    Unit.WORKING_DAYS: Roll.NONE,
}

_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SPAN_RE = re.compile(r"^\s*([+-]?\d+)\s+(.+?)\s*$")


@dataclass(frozen=True, slots=True)
class Span:
    """``n`` units of time; ``n >= 0``."""

    n: int
    unit: Unit

    def __str__(self) -> str:
        if self.unit is Unit.WORKING_DAYS:
            return f"{self.n} working day" + ("" if self.n == 1 else "s")
        word = self.unit.value
        return f"{self.n} {word[:-1] if self.n == 1 else word}"

    def vi(self) -> str:
        """Vietnamese: ``30 ngày``, ``5 ngày làm việc``."""
        return f"{self.n} {UNIT_VI[self.unit]}"

    def for_people(self) -> str:
        """In the current language: ``30 ngày`` (the default) or ``30 days``."""
        return str(self) if language() == "en" else self.vi()


def normalize_words(text: str) -> str:
    """NFC, lower case, single spaces: Vietnamese typed in any editor compares equal."""
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def parse_span(text: str) -> Span:
    """Parse ``"30 days"``, ``"30 ngày"``, ``"5 ngày làm việc"``, ``"1 working day"``...

    Raises :class:`~engine.errors.InputError` for an unknown unit, a negative span
    or one over :data:`MAX_YEARS` years.
    """
    if not isinstance(text, str):
        raise InputError(
            _("span {text!r} must be text such as '30 days' or '5 ngày làm việc'").format(text=text)
        )
    m = _SPAN_RE.match(unicodedata.normalize("NFC", text))
    if not m:
        raise InputError(
            _(
                "span {text!r} is not 'N days|working days|weeks|months' "
                "(or 'N ngày|ngày làm việc|tuần|tháng')"
            ).format(text=text)
        )
    digits = m.group(1)
    # Over 4300 digits int() raises ValueError; anything this long is over the limit.
    n = int(digits) if len(digits) <= 12 else 10**12
    unit = _UNIT_WORDS.get(normalize_words(m.group(2)))
    if unit is None:
        raise InputError(
            _(
                "span {text!r}: unknown unit {unit!r}; use days, working days, weeks, "
                "months (or ngày, ngày làm việc, tuần, tháng)"
            ).format(text=text, unit=m.group(2))
        )
    if n < 0:
        raise InputError(
            _("span {text!r} is negative; a span counts forward from its start").format(text=text)
        )
    if n > _LIMIT[unit]:
        shown = text if len(text) <= 40 else text[:20] + "…" + text[-12:]
        raise InputError(
            _("span {text!r} is longer than {years} years").format(text=shown, years=MAX_YEARS)
        )
    return Span(n, unit)


def parse_roll(text: str | None) -> Roll | None:
    """``"forward"|"backward"|"none"`` (or ``None``: use the form's default)."""
    if text is None:
        return None
    try:
        return Roll(normalize_words(str(text)))
    except ValueError:
        raise InputError(
            _("unknown roll {text!r}; use forward, backward or none").format(text=text)
        ) from None


def parse_date(text: str) -> date:
    """An ISO date ``2022-07-29``, or the Vietnamese ``29/7/2022`` / ``29/07/2022``.

    Raises :class:`~engine.errors.InputError` for anything else or an impossible
    date such as ``2022-02-30``.
    """
    if isinstance(text, date):
        return text
    s = str(text).strip()
    if "/" in s:
        parts = s.split("/")
        if len(parts) != 3 or not all(p.isdigit() for p in parts) or len(parts[2]) != 4:
            parts = None
        else:
            year, month, day = int(parts[2]), int(parts[1]), int(parts[0])
    elif _ISO_RE.match(s):
        parts = s.split("-")
        year, month, day = int(parts[0]), int(parts[1]), int(parts[2])
    else:
        parts = None
    if parts is None:
        raise InputError(
            _("{text!r} is not a valid date; write YYYY-MM-DD (2022-07-29) or dd/mm/yyyy").format(
                text=text
            )
        )
    try:
        return date(year, month, day)
    except ValueError:
        raise InputError(_impossible(str(text), year, month, day)) from None


def _impossible(text: str, year: int, month: int, day: int) -> str:
    """Why a well-formed ``text`` names no day: the month, or that month's length."""
    if not 1 <= month <= 12:
        return _("{text!r} is not a date: there is no month {month}").format(text=text, month=month)
    if year < 1:
        return _("{text!r} is not a date: there is no year {year}").format(text=text, year=year)
    if day < 1:
        return _("{text!r} is not a date: there is no day {day}").format(text=text, day=day)
    if month == 2 and day == 29:
        return _("{text!r} is not a date: {year} has no 29 February").format(text=text, year=year)
    last = _stdcal.monthrange(year, month)[1]
    return _("{text!r} is not a date: {month:02d}/{year} has {last} days").format(
        text=text, month=month, year=year, last=last
    )


def roll_date(cal: WorkingCalendar, d: date, roll: Roll) -> date:
    """Move a non-working ``d`` to a working day per ``roll``; a working ``d`` stays."""
    if roll is Roll.FORWARD:
        return cal.next_working_day(d)
    if roll is Roll.BACKWARD:
        return cal.previous_working_day(d)
    return d


def shift(cal: WorkingCalendar, start: date, span: Span) -> date:
    """``start`` + ``span`` before any roll (Điều 147–148 BLDS 2015)."""
    unit = span.unit
    if unit is Unit.WORKING_DAYS:
        return cal.add_working_days(start, span.n)
    try:
        if unit is Unit.DAYS:
            return start + timedelta(days=span.n)
        if unit is Unit.WEEKS:
            return start + timedelta(weeks=span.n)
        return start + relativedelta(months=span.n)
    except OverflowError:
        raise InputError(_past_9999(start, span)) from None


def _past_9999(start: date, span: Span) -> str:
    return _("{start} + {span} is past year 9999").format(
        start=start.isoformat(), span=span.for_people()
    )


_DAYS, _WORKING_DAYS, _WEEKS = Unit.DAYS, Unit.WORKING_DAYS, Unit.WEEKS
_FORWARD, _BACKWARD = Roll.FORWARD, Roll.BACKWARD


def add_span(cal: WorkingCalendar, start: date, span: Span, roll: Roll | None = None) -> date:
    """The due date of ``span`` counted from ``start``, rolled (default per unit)."""
    unit = span.unit
    if unit is _WORKING_DAYS:
        end = cal.add_working_days(start, span.n)
        if roll is None:
            return end
    elif unit is _DAYS:
        try:
            end = start + timedelta(days=span.n)
        except OverflowError:
            raise InputError(_past_9999(start, span)) from None
    else:
        end = shift(cal, start, span)
    if roll is None:
        roll = _FORWARD
    if roll is _FORWARD:
        return cal.next_working_day(end)
    if roll is _BACKWARD:
        return cal.previous_working_day(end)
    return end


# ---------------------------------------------------------------------- explain
@dataclass(frozen=True, slots=True)
class Step:
    """One line of an explanation: what was done, the date it gave, for people
    (Vietnamese by default, English with ``HANCHOT_LANG=en``)."""

    kind: str  # start | add | skip | clamp | roll | due | base
    date: date
    text: str

    def as_dict(self) -> dict[str, str]:
        return {"step": self.kind, "date": self.date.isoformat(), "text": self.text}


def _skip(d: date, why: str) -> Step:
    return Step("skip", d, _("Skipped {day}: {why}").format(day=format_day(d), why=why))


def explain_roll(cal: WorkingCalendar, d: date, roll: Roll) -> tuple[date, list[Step]]:
    """Roll ``d`` and say why, naming each non-working day passed over."""
    why = cal.why_not_working(d)
    if why is None:
        wk = cal.why_working(d)
        if wk:
            text = _("{day} is a working day: {why}").format(day=format_day(d), why=wk)
            return d, [Step("base", d, text)]
        return d, []
    if roll is Roll.NONE:
        text = _("{day} is a day off ({why}); kept as it is (roll: none)").format(
            day=format_day(d), why=why
        )
        return d, [Step("roll", d, text)]
    steps = []
    step = 1 if roll is Roll.FORWARD else -1
    if step > 0:
        text = _(
            "{day} is a day off: moved to the next working day (Điều 148 khoản 5 BLDS 2015)"
        ).format(day=format_day(d))
    else:
        text = _("{day} is a day off: moved to the previous working day").format(day=format_day(d))
    steps.append(Step("roll", d, text))
    cur = d
    while why is not None:
        steps.append(_skip(cur, why))
        cur = cur + timedelta(days=step)
        why = cal.why_not_working(cur)
    return cur, steps


def due_step(due: date) -> Step:
    """The last step of an explanation: ``Hạn: Thứ Sáu, 29/07/2022``."""
    return Step("due", due, _("Due: {day}").format(day=format_day(due)))


def explain_span(
    cal: WorkingCalendar, start: date, span: Span, roll: Roll | None = None
) -> tuple[date, list[Step]]:
    """Like :func:`add_span`, with each step and each skipped day said for people."""
    steps = [
        Step(
            "start",
            start,
            _(
                "Start: {day} (not counted; the period starts on the next day — Điều 147 BLDS 2015)"
            ).format(day=format_day(start)),
        )
    ]
    effective = roll if roll is not None else DEFAULT_ROLL[span.unit]
    add = _("Add {span}: {day}")
    if span.unit is Unit.WORKING_DAYS:
        end = cal.add_working_days(start, span.n)
        for d, why in cal.non_working_days(start + timedelta(days=1), end):
            steps.append(_skip(d, why))
        steps.append(Step("add", end, add.format(span=span.for_people(), day=format_day(end))))
    else:
        end = shift(cal, start, span)
        steps.append(Step("add", end, add.format(span=span.for_people(), day=format_day(end))))
        if span.unit is Unit.MONTHS and end.day != start.day:
            steps.append(
                Step(
                    "clamp",
                    end,
                    _(
                        "The last month has no day {day}: its last day is taken "
                        "(Điều 148 khoản 3 BLDS 2015)"
                    ).format(day=start.day),
                )
            )
    due, roll_steps = explain_roll(cal, end, effective)
    steps.extend(roll_steps)
    steps.append(due_step(due))
    return due, steps
