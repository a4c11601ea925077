"""Rules, their due-date forms (SPEC §3), events, and the deadlines they produce.

A rule's ``due`` is one of the frozen forms below. :func:`occurrences` turns a rule
into dated occurrences, each with a key that identifies it for ever:

* ``once`` for ``on`` / ``before`` / ``end_of``,
* the period (``2022-Q2``, ``2022-07``, ``2022-H1``, ``2022``) for ``every``,
* the (unrolled) date for ``rrule``,
* the event id for ``after``.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import calendar as _cal
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from operator import attrgetter

from engine.core.calendar import WorkingCalendar, format_day
from engine.core.periods import MONTHS_IN, Period
from engine.core.spans import (
    DEFAULT_ROLL,
    Roll,
    Span,
    Step,
    due_step,
    explain_roll,
    explain_span,
    roll_date,
    shift,
)
from engine.i18n import _

DAY_WORDS = ("last", "last working day", "first working day")


@dataclass(frozen=True, slots=True)
class On:
    """``{on: 2022-07-29}``: that date (default roll forward)."""

    date: date
    roll: Roll | None = None
    default_roll = Roll.FORWARD


@dataclass(frozen=True, slots=True)
class Before:
    """``{before: 2022-07-30}``: the last working day strictly before it (roll backward).

    The nominal date is the day before ``date``; rolling it backward gives the last
    working day strictly before ``date`` ("trước ngày 30/7/2022").
    """

    date: date
    roll: Roll | None = None
    default_roll = Roll.BACKWARD


@dataclass(frozen=True, slots=True)
class EndOf:
    """``{end_of: 2022-Q1}``: the period's last day, rolled backward ("trong Quý I")."""

    period: Period
    roll: Roll | None = None
    default_roll = Roll.BACKWARD


@dataclass(frozen=True, slots=True)
class Every:
    """``{every: quarter, month: 3, day: 18}``: day ``day`` of month ``month`` of each period.

    ``month`` counts within the period (1..3 in a quarter, 1..6 in a half, 1..12 in
    a year; always 1 for ``every: month``). ``day`` is 1..31 (clamped to the month's
    last day, as Điều 148 BLDS does for months), or ``last``, ``last working day``,
    ``first working day``. Occurrences whose nominal date lies in
    ``[start, until]`` (either may be open).
    """

    freq: str  # month | quarter | half | year
    day: int | str
    month: int = 1
    start: date | None = None
    until: date | None = None
    roll: Roll | None = None

    @property
    def default_roll(self) -> Roll:
        return (
            Roll.NONE if self.day in ("last working day", "first working day") else (Roll.FORWARD)
        )


@dataclass(frozen=True, slots=True)
class RRule:
    """``{rrule: "FREQ=MONTHLY;BYMONTHDAY=25", from: D, until: D}`` (RFC 5545)."""

    rule: str
    start: date
    until: date | None = None
    roll: Roll | None = None
    default_roll = Roll.FORWARD


@dataclass(frozen=True, slots=True)
class After:
    """``{after: publication, in: 30 days, when: {delegated: true}}``.

    One occurrence per recorded event of type ``event`` whose attributes match
    ``when``. Default roll: forward for days/weeks/months, none for working days.
    """

    event: str
    span: Span
    when: tuple[tuple[str, bool | int | float | str], ...] = ()
    roll: Roll | None = None

    @property
    def default_roll(self) -> Roll:
        return DEFAULT_ROLL[self.span.unit]


DueForm = On | Before | EndOf | Every | RRule | After


def effective_roll(form: DueForm) -> Roll:
    return form.roll if form.roll is not None else form.default_roll


@dataclass(frozen=True, slots=True)
class Rule:
    """One duty of the plan as an admin wrote it in a rules file."""

    id: str
    title: str
    lead: str
    due: DueForm
    coordinating: tuple[str, ...] = ()
    plan_item: str | None = None
    basis: str | None = None
    output: str | None = None
    escalation: str = "default"
    #: ``direct`` (a report closes the deadline at once), ``confirm`` (the focal point
    #: confirms it) or ``None``: the deployment's ``web.completion``, else direct only
    #: when the lead is the focal point itself.
    completion: str | None = None
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened and starts ``after`` rules: a TTHC published on a date."""

    type: str
    id: str
    date: date
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One deadline: (rule, key) and its due date."""

    rule: Rule
    key: str
    due: date
    nominal: date  # before rolling
    roll: Roll
    event: Event | None = None

    def explain(self, cal: WorkingCalendar) -> list[Step]:
        """The steps of the computation, in Vietnamese (as ``hanchot due --explain``)."""
        return explain_occurrence(self, cal)


# ---------------------------------------------------------------------------- matching
#: A ``when:`` value as compared: true/false, a number, or lower-case text.
WhenValue = bool | int | float | str

_INT_RE = re.compile(r"[+-]?[0-9]+")
#: Until issue 12.7, yes/no/1/0 were read as booleans. No entry path accepts them
#: now, but events recorded before keep the meaning they were recorded with, so an
#: upgrade does not cancel their deadlines.
_LEGACY_BOOLEANS = {"yes": True, "no": False, "1": True, "0": False}


def when_value(value: object) -> WhenValue:
    """A rule's ``when`` value as :func:`matches` compares it: booleans and numbers keep
    their type (they fix the type the event's attribute must parse as); text is
    compared lower-case."""
    if isinstance(value, bool | int | float):
        return value
    return str(value).strip().lower()


def attr_kind(want: WhenValue) -> str:
    """``"true or false"``, ``"a whole number"``, ``"a number"`` or ``"text"`` (for
    messages: in the current language)."""
    if isinstance(want, bool):
        return _("true or false")
    if isinstance(want, int):
        return _("a whole number")
    if isinstance(want, float):
        return _("a number")
    return _("text")


def parse_attr(text: str, want: WhenValue) -> WhenValue:
    """An event's attribute ``text`` read as the type of ``want``.

    Only ``true``/``false`` (any case) are booleans — not ``yes`` or ``1``. Raises
    ``ValueError`` when ``text`` does not parse as that type.
    """
    t = str(text).strip()
    if isinstance(want, bool):
        low = t.lower()
        if low not in ("true", "false"):
            raise ValueError(t)
        return low == "true"
    if isinstance(want, int):
        if not _INT_RE.fullmatch(t):
            raise ValueError(t)
        return int(t)
    if isinstance(want, float):
        return float(t)
    return t.lower()


def matches(when: tuple[tuple[str, WhenValue], ...], attrs: Mapping[str, str]) -> bool:
    """True when every ``when`` attribute equals the event's, read as its type.

    An attribute the event does not have counts as ``false``: ``when: {delegated:
    false}`` matches a publication recorded without ``delegated``. An attribute that
    does not parse as the type matches nothing (the loaders refuse such events),
    except the ``yes``/``no``/``1``/``0`` of events stored before they were refused.
    """
    for key, want in when:
        have = attrs.get(key)
        if have is None:
            if want is False or want == "false":
                continue
            return False
        try:
            got = parse_attr(have, want)
        except ValueError:
            legacy = _LEGACY_BOOLEANS if isinstance(want, bool) else {}
            got = legacy.get(str(have).strip().lower())
            if got is None:
                return False
        if got != want:
            return False
    return True


# ---------------------------------------------------------------------------- dates
def _month_day(year: int, month: int, day: int | str, cal: WorkingCalendar) -> date:
    last = _cal.monthrange(year, month)[1]
    if day == "last":
        return date(year, month, last)
    if day == "last working day":
        return cal.previous_working_day(date(year, month, last))
    if day == "first working day":
        return cal.next_working_day(date(year, month, 1))
    return date(year, month, min(int(day), last))


def every_nominal(form: Every, period: Period, cal: WorkingCalendar) -> date:
    """The nominal (unrolled) date of ``form`` in ``period``."""
    month = period.first_month + form.month - 1
    return _month_day(period.year, month, form.day, cal)


def occurrences(
    rule: Rule,
    cal: WorkingCalendar,
    start: date,
    end: date,
    events: Iterable[Event] = (),
) -> list[Occurrence]:
    """Occurrences of ``rule`` whose due date lies in ``[start, end]``, by due date.

    ``events`` are all recorded events; only those of the rule's type are used.
    """
    form = rule.due
    roll = effective_roll(form)
    out: list[Occurrence] = []

    def add(key: str, nominal: date, event: Event | None = None) -> None:
        due = roll_date(cal, nominal, roll)
        if start <= due <= end:
            out.append(Occurrence(rule, key, due, nominal, roll, event))

    if isinstance(form, On):
        add("once", form.date)
    elif isinstance(form, Before):
        add("once", form.date - timedelta(days=1))
    elif isinstance(form, EndOf):
        add("once", form.period.end)
    elif isinstance(form, Every):
        # A roll moves a date by at most a few weeks (Tết): look one period wider.
        lo = start - timedelta(days=40)
        hi = end + timedelta(days=40)
        if form.start is not None:
            lo = max(lo, form.start)
        if form.until is not None:
            hi = min(hi, form.until)
        if lo <= hi:
            # Period.containing / .next / every_nominal, unrolled (the hot loop of a plan).
            size = MONTHS_IN[form.freq]
            per_year = 12 // size
            year, index = lo.year, (lo.month - 1) // size + 1
            while True:
                first_month = (index - 1) * size + 1
                if date(year, first_month, 1) > hi:
                    break
                nominal = _month_day(year, first_month + form.month - 1, form.day, cal)
                if lo <= nominal <= hi:
                    add(Period(year, form.freq, index).key, nominal)
                index += 1
                if index > per_year:
                    index, year = 1, year + 1
    elif isinstance(form, RRule):
        from datetime import datetime

        from dateutil.rrule import rrulestr

        rr = rrulestr(form.rule, dtstart=datetime.combine(form.start, datetime.min.time()))
        lo = max(start - timedelta(days=40), form.start)
        hi = end + timedelta(days=40)
        if form.until is not None:
            hi = min(hi, form.until)
        if lo <= hi:
            for dt in rr.between(
                datetime.combine(lo, datetime.min.time()),
                datetime.combine(hi, datetime.min.time()),
                inc=True,
            ):
                add(dt.date().isoformat(), dt.date())
    elif isinstance(form, After):
        # Many events share a date (a day's publications): compute each date once.
        memo: dict[date, tuple[date, date]] = {}
        for ev in events:
            if ev.type != form.event or (form.when and not matches(form.when, ev.attrs)):
                continue
            hit = memo.get(ev.date)
            if hit is None:
                nominal = shift(cal, ev.date, form.span)
                hit = memo[ev.date] = (nominal, roll_date(cal, nominal, roll))
            nominal, due = hit
            if start <= due <= end:
                out.append(Occurrence(rule, ev.id, due, nominal, roll, ev))
    else:  # pragma: no cover - the loader builds only the forms above
        raise TypeError(f"unknown due form {form!r}")
    # By (due, key) in two stable passes: attrgetter and no key tuples (a plan of a
    # million occurrences sorts several times faster), the same order.
    out.sort(key=attrgetter("key"))
    out.sort(key=attrgetter("due"))
    return out


def plan(
    rules: Iterable[Rule],
    cal: WorkingCalendar,
    start: date,
    end: date,
    events: Iterable[Event] = (),
) -> list[Occurrence]:
    """Every occurrence of every rule due in ``[start, end]``, by (due, rule id, key)."""
    by_type: dict[str, list[Event]] = {}
    for ev in events:
        by_type.setdefault(ev.type, []).append(ev)
    out: list[Occurrence] = []
    # Rules that share a date form share its dates (a plan's quarterly reports, its
    # year-end duties): compute (key, due, nominal) once per distinct form.
    same_form: dict[DueForm, list[tuple[str, date, date]]] = {}
    for rule in rules:
        form = rule.due
        if isinstance(form, After):
            out.extend(occurrences(rule, cal, start, end, by_type.get(form.event, ())))
            continue
        dates = same_form.get(form)
        if dates is None:
            dates = same_form[form] = [
                (o.key, o.due, o.nominal) for o in occurrences(rule, cal, start, end)
            ]
        roll = effective_roll(form)
        out.extend(Occurrence(rule, key, due, nominal, roll) for key, due, nominal in dates)
    out.sort(key=lambda o: (o.due, o.rule.id, o.key))
    return out


def explain_occurrence(occ: Occurrence, cal: WorkingCalendar) -> list[Step]:
    """The steps from the rule's form to ``occ.due``, for people (Vietnamese by default)."""
    form = occ.rule.due
    nominal = format_day(occ.nominal)
    if isinstance(form, After) and occ.event is not None:
        steps = [
            Step(
                "base",
                occ.event.date,
                _("Event {type} {id}: {day}").format(
                    type=occ.event.type, id=occ.event.id, day=format_day(occ.event.date)
                ),
            )
        ]
        _due, more = explain_span(cal, occ.event.date, form.span, occ.roll)
        return steps + more
    if isinstance(form, On):
        text = _("Fixed date: {day}").format(day=nominal)
    elif isinstance(form, Before):
        text = _("Before {date}: the day before is {day}").format(
            date=f"{form.date.day:02d}/{form.date.month:02d}/{form.date.year}", day=nominal
        )
    elif isinstance(form, EndOf):
        text = _("Last day of the period {period}: {day}").format(
            period=form.period.key, day=nominal
        )
    elif isinstance(form, Every):
        text = _("Period {key}, day {n} of month {month} of the period: {day}").format(
            key=occ.key, n=form.day, month=form.month, day=nominal
        )
    else:
        text = _("Recurrence {key} ({rrule}): {day}").format(
            key=occ.key, rrule=getattr(form, "rule", ""), day=nominal
        )
    steps = [Step("base", occ.nominal, text)]
    due, more = explain_roll(cal, occ.nominal, occ.roll)
    steps.extend(more)
    steps.append(due_step(due))
    return steps


__all__ = [
    "After",
    "Before",
    "DAY_WORDS",
    "DueForm",
    "EndOf",
    "Event",
    "Every",
    "MONTHS_IN",
    "Occurrence",
    "On",
    "RRule",
    "Rule",
    "effective_roll",
    "matches",
    "attr_kind",
    "parse_attr",
    "when_value",
    "occurrences",
    "plan",
]
