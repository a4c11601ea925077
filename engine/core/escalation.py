"""Escalation policies: when reminders go out and to whom (SPEC §4).

A stage's send date is computed from the due date:

* ``due`` — the due date itself;
* ``N working days before|after`` — the N-th working day before/after the due date;
* ``N days before|after`` — N calendar days, then rolled to a working day: backward
  when before the due date, forward when after (mail never goes out on a day off).

Mail goes out at ``send_time`` local time on that date. A stage with ``repeat``
recurs by that span after its first send date until the deadline is closed.
Pure: no clock; "now" is always an argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from engine.core.calendar import WorkingCalendar
from engine.core.spans import Span, Unit, add_span, normalize_words, parse_span
from engine.errors import InputError
from engine.i18n import _

BASE_AUDIENCES = ("lead", "coordinating", "lead.head", "coordinating.head")

_AT_RE = re.compile(r"^(\d+\s+.+?)\s+(before|after|trước|sau)(?:\s+hạn)?$")


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of a ladder: ``{at: 5 working days before, notify: [lead], repeat: ...}``."""

    at: str  # as written, normalised: "due", "5 working days before"
    offset: Span | None  # None for "due"
    direction: int  # -1 before, +1 after, 0 due
    notify: tuple[str, ...]
    repeat: Span | None = None

    @property
    def is_late(self) -> bool:
        """Stages after the due date are escalations of an overdue deadline."""
        return self.direction > 0

    def first_date(self, cal: WorkingCalendar, due: date) -> date:
        """The send date of this stage for a deadline due on ``due``."""
        if self.offset is None or self.offset.n == 0:
            return due if self.offset is None else cal.next_working_day(due)
        n = self.offset.n
        unit = self.offset.unit
        if unit is Unit.WORKING_DAYS:
            return cal.add_working_days(due, n * self.direction)
        days = {Unit.DAYS: n, Unit.WEEKS: 7 * n}.get(unit)
        if days is not None:
            d = due + timedelta(days=days * self.direction)
        else:
            from dateutil.relativedelta import relativedelta

            d = due + relativedelta(months=n * self.direction)
        return cal.previous_working_day(d) if self.direction < 0 else cal.next_working_day(d)

    def dates(self, cal: WorkingCalendar, due: date, until: date) -> list[date]:
        """Send dates of this stage up to ``until`` inclusive (repeats included).

        Repeat number ``k`` (0-based) is the index in the returned list.
        """
        d = self.first_date(cal, due)
        out: list[date] = []
        if d > until:
            return out
        out.append(d)
        if self.repeat is None or self.repeat.n == 0:
            return out
        while True:
            d = add_span(cal, d, self.repeat)
            if d > until:
                return out
            out.append(d)


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    stages: tuple[Stage, ...]


def parse_at(text: str) -> tuple[Span | None, int]:
    """``"due"`` -> (None, 0); ``"5 working days before"`` -> (Span, -1).

    Vietnamese is accepted too: ``"5 ngày làm việc trước hạn"``, ``"hạn"``.
    Raises :class:`~engine.errors.InputError`.
    """
    s = normalize_words(str(text))
    if s in ("due", "hạn", "đến hạn", "on due", "0 days"):
        return None, 0
    m = _AT_RE.match(s)
    if not m:
        raise InputError(
            _("stage 'at: {text}' is not 'due' or 'N days|working days before|after'").format(
                text=text
            )
        )
    span = parse_span(m.group(1))
    direction = -1 if m.group(2) in ("before", "trước") else 1
    return span, direction


def send_instant(d: date, send_time: time, tz: str) -> datetime:
    """The aware UTC instant of ``send_time`` local time on ``d``."""
    local = datetime.combine(d, send_time, tzinfo=ZoneInfo(tz))
    return local.astimezone(ZoneInfo("UTC"))
