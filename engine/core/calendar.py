"""The Vietnamese working calendar.

A day is a *working day* when (Bộ luật Lao động 2019, Điều 111–112; Bộ luật Dân sự
2015, Điều 148 for deadlines):

1. it is Monday–Friday and not a public holiday of Vietnam as the ``holidays``
   package computes it (observed and substituted days included), or
2. it is a Saturday or Sunday that the government made a working day
   (``weekend_workdays``: the make-up Saturdays of a swap, e.g. 04/05/2024),

with the Government's swap decisions shipped in
:mod:`engine.core.calendar_corrections` added where the package lacks them, and then
``config/calendar.yaml`` applied last: ``extra_days_off`` make a day non-working,
``extra_working_days`` make it working.

Years are computed lazily, one at a time, the first time a date in them is asked
for; after that every operation is a couple of list look-ups (see :meth:`_cover`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from engine.core.calendar_corrections import SWAPS, UNSETTLED, Swap, Unsettled
from engine.errors import CalendarRangeError, InputError
from engine.i18n import _, language

#: Years that the ``holidays`` package computes for Vietnam.
FIRST_YEAR = 1901
LAST_YEAR = 2100

WEEKDAY_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")

MAKE_UP_DAY_REASON = "Ngày làm bù theo quyết định hoán đổi ngày làm việc của Chính phủ"

#: Where a calendar entry comes from (``DayEntry.source``).
SOURCE_PACKAGE = "package"  # a rule of the ``holidays`` package
SOURCE_CORRECTION = "correction"  # a decision shipped in engine.core.calendar_corrections
SOURCE_LOCAL = "local"  # config/calendar.yaml


@dataclass(frozen=True, slots=True)
class DayEntry:
    """One day that differs from the plain Monday–Friday week, and why.

    ``working`` is the day's status; ``name`` the holiday name or the reason
    (Vietnamese); ``source`` one of :data:`SOURCE_PACKAGE`, :data:`SOURCE_CORRECTION`,
    :data:`SOURCE_LOCAL`; ``document`` the decision cited (a shipped swap's number,
    also when the package has the same swap); ``estimated`` when the package labels
    the date estimated; ``status`` ``"policy-only"`` (see
    :data:`~engine.core.calendar_corrections.UNSETTLED`) or ``""``; ``note`` advice.
    """

    date: date
    working: bool
    name: str
    source: str
    document: str = ""
    estimated: bool = False
    status: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class YearData:
    """A year's holidays ``{date: name}``, weekend working days ``{date: reason}``, and
    the :class:`DayEntry` of each of those days."""

    days_off: dict[date, str] = field(default_factory=dict)
    make_up: dict[date, str] = field(default_factory=dict)
    entries: dict[date, DayEntry] = field(default_factory=dict)


#: ``source(year) -> YearData``; the default is :func:`vietnam_year`.
HolidaySource = Callable[[int], YearData]

#: ``package(year) -> (holidays {date: name}, weekend working days, estimated dates)``
PackageYear = Callable[[int], tuple[Mapping[date, str], Iterable[date], Iterable[date]]]


def package_year(year: int) -> tuple[dict[date, str], set[date], set[date]]:
    """What the ``holidays`` package alone says of ``year`` for Vietnam.

    Returns the holidays ``{date: Vietnamese name}``, the weekend working days, and the
    dates the package labels estimated (its ``estimated_label``, e.g. a lunar date
    outside its computed tables). Computation only; the package does no I/O.
    """
    import holidays  # imported here: the import costs ~50 ms and few commands need it

    vn = holidays.country_holidays("VN", years=year, language="vi")
    days_off = {d: name for d, name in vn.items() if d.year == year}
    make_up = {d for d in vn.weekend_workdays if d.year == year}
    markers = []
    for attr in ("estimated_label", "observed_estimated_label"):
        label = getattr(vn, attr, None)
        if label and "%s" in label:
            suffix = vn.tr(label).split("%s", 1)[1].strip()
            if suffix:
                markers.append(suffix)
    estimated = {d for d, name in days_off.items() if any(m in name for m in markers)}
    return days_off, make_up, estimated


def merge_year(
    year: int,
    pkg_off: Mapping[date, str],
    pkg_work: Iterable[date],
    estimated: Iterable[date] = (),
    swaps: Iterable[Swap] = SWAPS,
    unsettled: Iterable[Unsettled] = UNSETTLED,
) -> YearData:
    """The package's ``year`` with the shipped ``swaps`` it lacks added, with provenance.

    A swap's day off is added when the package does not already have a holiday on
    that date; its make-up day when the package does not already make it a working
    day. Either way the entry cites the swap's document. Package holidays whose name
    starts with an ``unsettled`` name are marked with its status and note.
    """
    estimated = set(estimated)
    days_off = {d: n for d, n in pkg_off.items() if d.year == year}
    make_up: dict[date, str] = {}
    entries: dict[date, DayEntry] = {}
    pkg_work = {d for d in pkg_work if d.year == year}
    by_off = {s.day_off: s for s in swaps if s.day_off.year == year}
    by_work = {s.make_up: s for s in swaps if s.make_up.year == year}
    for d, name in days_off.items():
        status = note = ""
        for u in unsettled:
            if year >= u.since and name.startswith(u.name):
                status, note = u.status, u.note
        swap = by_off.get(d)
        entries[d] = DayEntry(
            d,
            False,
            name,
            SOURCE_PACKAGE,
            document=swap.document if swap else "",
            estimated=d in estimated,
            status=status,
            note=note,
        )
    for d in pkg_work:
        swap = by_work.get(d)
        make_up[d] = swap.make_up_reason if swap else MAKE_UP_DAY_REASON
        name = swap.make_up_title if swap else MAKE_UP_DAY_REASON
        entries[d] = DayEntry(d, True, name, SOURCE_PACKAGE, swap.document if swap else "")
    for d, swap in by_off.items():
        if d not in days_off:
            days_off[d] = swap.off_name
            entries[d] = DayEntry(d, False, swap.off_title, SOURCE_CORRECTION, swap.document)
    for d, swap in by_work.items():
        if d not in make_up:
            make_up[d] = swap.make_up_reason
            entries[d] = DayEntry(d, True, swap.make_up_title, SOURCE_CORRECTION, swap.document)
    return YearData(days_off, make_up, entries)


def vietnam_year(
    year: int, package: PackageYear = package_year, swaps: Iterable[Swap] = SWAPS
) -> YearData:
    """Vietnam's holidays and make-up working days of ``year``: the ``holidays``
    package (``package``) plus the shipped ``swaps`` it lacks (:func:`merge_year`)."""
    off, work, estimated = package(year)
    return merge_year(year, off, work, estimated, swaps)


def vietnam_holidays(year: int) -> tuple[dict[date, str], dict[date, str]]:
    """Vietnam's public holidays and make-up working days of ``year``, shipped
    corrections included. Holiday names are Vietnamese. Two dicts keyed by date."""
    data = vietnam_year(year)
    return data.days_off, data.make_up


def weekday_vi(d: date) -> str:
    """``"Thứ Sáu"`` for a Friday, ``"Chủ nhật"`` for a Sunday."""
    return WEEKDAY_VI[d.weekday()]


def format_vi(d: date) -> str:
    """A date as Vietnamese officials write it for people: ``Thứ Sáu, 29/07/2022``."""
    return f"{WEEKDAY_VI[d.weekday()]}, {d.day:02d}/{d.month:02d}/{d.year}"


def weekday_name(d: date) -> str:
    """The weekday of ``d`` in the current language: ``Thứ Sáu`` / ``Friday``."""
    if language() != "en":
        return WEEKDAY_VI[d.weekday()]
    return (
        _("Monday"),
        _("Tuesday"),
        _("Wednesday"),
        _("Thursday"),
        _("Friday"),
        _("Saturday"),
        _("Sunday"),
    )[d.weekday()]


def format_day(d: date) -> str:
    """A date for people in the current language: ``Thứ Sáu, 29/07/2022`` (the default,
    as :func:`format_vi`) or ``Friday, 29/07/2022``. Mail uses :func:`format_vi`."""
    return f"{weekday_name(d)}, {d.day:02d}/{d.month:02d}/{d.year}"


def package_names_en(year: int) -> dict[date, str]:
    """The English (``en_US``) names the ``holidays`` package gives Vietnam's holidays
    of ``year`` — for messages shown in English; the calendar itself uses the
    Vietnamese names. Computation only."""
    import holidays

    vn = holidays.country_holidays("VN", years=year, language="en_US")
    return {d: name for d, name in vn.items() if d.year == year}


class WorkingCalendar:
    """Which days are working days, and arithmetic over them.

    ``extra_days_off`` and ``extra_working_days`` map a date to the reason
    (``calendar.yaml``); a date in both is an :class:`~engine.errors.InputError`.
    ``source`` gives a year's :class:`YearData`; the default is :func:`vietnam_year`
    (the ``holidays`` package plus the shipped corrections).

    All methods raise :class:`~engine.errors.CalendarRangeError` for dates outside
    :data:`FIRST_YEAR`..:data:`LAST_YEAR`.
    """

    def __init__(
        self,
        extra_days_off: Mapping[date, str] | None = None,
        extra_working_days: Mapping[date, str] | None = None,
        source: HolidaySource = vietnam_year,
        names_en: Callable[[int], Mapping[date, str]] | None = None,
    ) -> None:
        self.extra_days_off = dict(extra_days_off or {})
        self.extra_working_days = dict(extra_working_days or {})
        both = sorted(set(self.extra_days_off) & set(self.extra_working_days))
        if both:
            days = ", ".join(d.isoformat() for d in both)
            raise InputError(
                _(
                    "{days} is both in extra_days_off and in extra_working_days; keep only one"
                ).format(days=days)
            )
        self._source = source
        # English holiday names, asked for only when a reason is shown in English; the
        # package's for the default source, none (the Vietnamese name) for another one.
        if names_en is None and source is vietnam_year:
            names_en = package_names_en
        self._names_en_source = names_en
        self._names_en: dict[int, Mapping[date, str]] = {}
        self._holidays: dict[date, str] = {}
        self._make_up: dict[date, str] = {}
        self._entries: dict[date, DayEntry] = {}
        self._years: dict[int, bytearray] = {}  # year -> 1 byte per day: 1 = working
        # Contiguous arrays over the covered years [_y0, _y1]:
        self._y0 = 0
        self._y1 = -1
        self._base = 0  # ordinal of 1 January of _y0
        self._ndays = 0
        self._flags = bytearray()  # index = ordinal - _base
        self._cum: list[int] = []  # working days in [_base, _base + i]
        self._work: list[int] = []  # indexes (ordinal - _base) of working days, ascending

    # ------------------------------------------------------------------ coverage
    def _year_flags(self, year: int) -> bytearray:
        flags = self._years.get(year)
        if flags is not None:
            return flags
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise CalendarRangeError(
                _("year {year} is outside the Vietnamese calendar ({first}–{last})").format(
                    year=year, first=FIRST_YEAR, last=LAST_YEAR
                )
            )
        data = self._source(year)
        days_off, make_up = data.days_off, data.make_up
        self._holidays.update(days_off)
        self._make_up.update(make_up)
        self._entries.update(data.entries)
        start = date(year, 1, 1).toordinal()
        n = date(year + 1, 1, 1).toordinal() - start if year < 9999 else 365
        flags = bytearray(n)
        for i in range(n):
            d = date.fromordinal(start + i)
            if d in self.extra_working_days:
                working = True
            elif d in self.extra_days_off:
                working = False
            elif d.weekday() >= 5:
                working = d in make_up
            else:
                working = d not in days_off
            flags[i] = working
        self._years[year] = flags
        return flags

    def _cover(self, y_from: int, y_to: int) -> None:
        """Make the contiguous arrays cover years ``y_from``..``y_to`` (and what they had)."""
        y_from = max(y_from, FIRST_YEAR)
        y_to = min(y_to, LAST_YEAR)
        if self._y0 <= y_from and y_to <= self._y1:
            return
        if self._y1 >= self._y0:
            y_from, y_to = min(y_from, self._y0), max(y_to, self._y1)
        flags = bytearray()
        for y in range(y_from, y_to + 1):
            flags += self._year_flags(y)
        cum: list[int] = []
        work: list[int] = []
        count = 0
        for i, f in enumerate(flags):
            if f:
                work.append(i)
                count += 1
            cum.append(count)
        self._y0, self._y1 = y_from, y_to
        self._base = date(y_from, 1, 1).toordinal()
        self._ndays = len(flags)
        self._flags, self._cum, self._work = flags, cum, work

    def _index(self, d: date) -> int:
        o = d.toordinal() - self._base
        if 0 <= o < self._ndays:
            return o
        y = d.year
        if not FIRST_YEAR <= y <= LAST_YEAR:
            raise CalendarRangeError(
                _("{date} is outside the Vietnamese calendar ({first}–{last})").format(
                    date=d.isoformat(), first=FIRST_YEAR, last=LAST_YEAR
                )
            )
        self._cover(y - 1, y + 1)
        return d.toordinal() - self._base

    def _extend_for(self, k: int) -> None:
        """Cover more years after the current ones until working day number ``k`` exists."""
        while k > len(self._work):
            if self._y1 >= LAST_YEAR:
                raise CalendarRangeError(
                    _("the result is after the end of the Vietnamese calendar ({last})").format(
                        last=LAST_YEAR
                    )
                )
            self._cover(self._y0, self._y1 + 2)

    # ------------------------------------------------------------------ queries
    def is_working_day(self, d: date) -> bool:
        """True when ``d`` is a working day (see the module docstring for the rules)."""
        o = self._index(d)  # first: covering a new year replaces self._flags
        return bool(self._flags[o])

    def why_not_working(self, d: date) -> str | None:
        """Why ``d`` is not a working day, for people, or ``None`` when it is one.

        The reason is the ``calendar.yaml`` reason (as written), else the holiday's
        name (``"Tết Nguyên Đán"``, ``"Quốc khánh (nghỉ bù)"``; in English the
        package's English name where it has one), else the weekday (``"Thứ Bảy"`` /
        ``"Chủ nhật"``, ``"Saturday"``). Vietnamese unless messages are in English.
        """
        o = self._index(d)
        if self._flags[o]:
            return None
        if d in self.extra_days_off:
            return self.extra_days_off[d]
        name = self._holidays.get(d)
        if name:
            name = self._name_for_people(d, name)
            if d.weekday() >= 5:
                return f"{name} ({weekday_name(d)})"
            return name
        return weekday_name(d)

    def _name_for_people(self, d: date, name: str) -> str:
        """``name`` (Vietnamese), or the holiday's English name when messages are in
        English and the English source knows the day (a shipped swap stays as named)."""
        if self._names_en_source is None or language() != "en":
            return name
        entry = self._entries.get(d)
        if entry is not None and entry.source != SOURCE_PACKAGE:
            return name
        names = self._names_en.get(d.year)
        if names is None:
            names = self._names_en[d.year] = self._names_en_source(d.year)
        return names.get(d, name)

    def why_working(self, d: date) -> str | None:
        """For a Saturday/Sunday that is a working day, the reason; else ``None``."""
        o = self._index(d)
        if not self._flags[o] or d.weekday() < 5:
            return None
        reason = self.extra_working_days.get(d) or self._make_up.get(d)
        if reason == MAKE_UP_DAY_REASON:
            return _("a make-up working day under the Government's swap of working days")
        return reason

    def holiday_name(self, d: date) -> str | None:
        """The public holiday's Vietnamese name on ``d``, if any."""
        self._index(d)
        return self._holidays.get(d)

    def year_entries(self, year: int) -> list[DayEntry]:
        """Every day of ``year`` that is not a plain weekday or weekend, in order.

        That is every non-working Monday–Friday, every working Saturday/Sunday, and
        every Monday–Friday holiday that ``calendar.yaml`` makes a working day (an
        override an admin made). Each :class:`DayEntry` names its source; a local
        override of a package or shipped entry keeps that entry's name in ``note``.
        """
        start = date(year, 1, 1)
        self._index(start)
        out: list[DayEntry] = []
        d = start
        one = timedelta(days=1)
        while d.year == year:
            working = self.is_working_day(d)
            weekend = d.weekday() >= 5
            base = self._entries.get(d)
            if d in self.extra_days_off and not working and not weekend:
                out.append(self._local(d, False, self.extra_days_off[d], base))
            elif d in self.extra_working_days and working and (weekend or base is not None):
                out.append(self._local(d, True, self.extra_working_days[d], base))
            elif base is not None and base.working == working and (weekend == working):
                out.append(base)
            elif not working and not weekend:  # a source gave no entry: name only
                name = self._holidays.get(d) or weekday_vi(d)
                out.append(DayEntry(d, False, name, SOURCE_PACKAGE))
            elif working and weekend:
                out.append(DayEntry(d, True, self._make_up.get(d, ""), SOURCE_PACKAGE))
            d += one
        return out

    @staticmethod
    def _local(d: date, working: bool, reason: str, base: DayEntry | None) -> DayEntry:
        note = ""
        if base is not None and base.working != working:
            note = f"thay cho: {base.name}"
        return DayEntry(d, working, reason, SOURCE_LOCAL, note=note)

    def add_working_days(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d`` (``d`` itself never counts); ``d`` when n = 0.

        Bộ luật Dân sự 2015, Điều 147: the period starts on the day after the event.
        Negative ``n`` counts backwards: the ``|n|``-th working day before ``d``.
        """
        if n == 0:
            return d
        o = d.toordinal() - self._base
        if not 0 <= o < self._ndays:
            o = self._index(d)
        if n > 0:
            k = self._cum[o] + n
            if k > len(self._work):
                self._extend_for(k)
                o = self._index(d)
                k = self._cum[o] + n
            return date.fromordinal(self._work[k - 1] + self._base)
        k = self._cum[o] - self._flags[o] + n  # working days strictly before d, minus |n|
        while k < 0:
            if self._y0 <= FIRST_YEAR:
                raise CalendarRangeError(
                    _("the result is before the start of the Vietnamese calendar ({first})").format(
                        first=FIRST_YEAR
                    )
                )
            self._cover(self._y0 - 2, self._y1)
            o = self._index(d)
            k = self._cum[o] - self._flags[o] + n
        return date.fromordinal(self._work[k] + self._base)

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in ``(a, b]``: after ``a``, up to and including ``b``.

        Negative when ``b`` is before ``a`` (minus the working days in ``(b, a]``).
        Inverse of :meth:`add_working_days`: ``between(d, add(d, n)) == n``.
        """
        ia = self._index(a)
        ib = self._index(b)
        ia = self._index(a)  # covering b may have moved the base
        return self._cum[ib] - self._cum[ia]

    def next_working_day(self, d: date) -> date:
        """``d`` if it is a working day, else the first working day after it."""
        o = d.toordinal() - self._base
        if not 0 <= o < self._ndays:
            o = self._index(d)
        if self._flags[o]:
            return d
        k = self._cum[o]  # working days up to d; the next one has index k
        if k < len(self._work):
            return date.fromordinal(self._work[k] + self._base)
        return self.add_working_days(d, 1)

    def previous_working_day(self, d: date) -> date:
        """``d`` if it is a working day, else the last working day before it."""
        o = d.toordinal() - self._base
        if not 0 <= o < self._ndays:
            o = self._index(d)
        if self._flags[o]:
            return d
        k = self._cum[o]
        if k > 0:
            return date.fromordinal(self._work[k - 1] + self._base)
        return self.add_working_days(d, -1)

    def last_working_day_before(self, d: date) -> date:
        """The last working day strictly before ``d`` ("trước ngày 30/7")."""
        return self.add_working_days(d, -1)

    def first_working_day_from(self, d: date) -> date:
        """Alias of :meth:`next_working_day` that reads better for periods."""
        return self.next_working_day(d)

    def non_working_days(self, a: date, b: date) -> list[tuple[date, str]]:
        """Every non-working day in ``[a, b]`` with its reason, in order."""
        out = []
        d = a
        one = timedelta(days=1)
        while d <= b:
            why = self.why_not_working(d)
            if why is not None:
                out.append((d, why))
            d += one
        return out


def last_working_day_of(cal: WorkingCalendar, period) -> date:
    """The last working day of a :class:`~engine.core.periods.Period` ("trong Quý I")."""
    return cal.previous_working_day(period.end)


def first_working_day_of(cal: WorkingCalendar, period) -> date:
    """The first working day of a :class:`~engine.core.periods.Period`."""
    return cal.next_working_day(period.start)
