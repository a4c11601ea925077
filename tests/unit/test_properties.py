"""Property tests: the calendar against a deliberately naive day-by-day reference.

The reference below is written from the SPEC alone: its own working-day test built
straight from ``holidays.country_holidays("VN")``, its own loops for adding days and
working days and for rolling, and hand-written month arithmetic (no dateutil).
"""

from __future__ import annotations

from datetime import date, timedelta

import holidays
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.core.calendar import WorkingCalendar
from engine.core.calendar_corrections import SWAPS
from engine.core.spans import Roll, Span, Unit, add_span, explain_span

ONE = timedelta(days=1)

# The swap decisions hanchot ships (engine/core/calendar_corrections.py), on top of
# the package: the reference applies them itself.
EXTRA_OFF = {s.day_off: s.off_name for s in SWAPS}
EXTRA_WORK = {s.make_up: s.make_up_reason for s in SWAPS}

# Starts 2015–2035; 400 months reach 2069, 400 weeks 2043; rolls add a few days.
REF_YEARS = range(2014, 2072)
VN = holidays.country_holidays("VN", years=REF_YEARS)
WEEKEND_WORKDAYS = set(VN.weekend_workdays)

CAL = WorkingCalendar()

SETTINGS = settings(max_examples=300, deadline=None)


# --------------------------------------------------------------------------- reference
def ref_is_working(d: date) -> bool:
    if d in EXTRA_WORK:
        return True
    if d in EXTRA_OFF:
        return False
    if d.weekday() in (5, 6):  # Saturday, Sunday
        return d in WEEKEND_WORKDAYS
    return d not in VN


def ref_add_days(d: date, n: int) -> date:
    for _ in range(n):
        d += ONE
    return d


def ref_days_in_month(y: int, m: int) -> int:
    if m == 2:
        leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
        return 29 if leap else 28
    return 30 if m in (4, 6, 9, 11) else 31


def ref_add_months(d: date, n: int) -> date:
    y, m = d.year, d.month
    for _ in range(n):
        m += 1
        if m == 13:
            y, m = y + 1, 1
    return date(y, m, min(d.day, ref_days_in_month(y, m)))


def ref_add_working_days(d: date, n: int) -> date:
    count = 0
    while count < n:
        d += ONE
        if ref_is_working(d):
            count += 1
    return d


def ref_sub_working_days(d: date, n: int) -> date:
    """The n-th working day strictly before d (n >= 1)."""
    count = 0
    while count < n:
        d -= ONE
        if ref_is_working(d):
            count += 1
    return d


def ref_roll(d: date, roll: Roll) -> date:
    if roll is Roll.FORWARD:
        while not ref_is_working(d):
            d += ONE
    elif roll is Roll.BACKWARD:
        while not ref_is_working(d):
            d -= ONE
    return d


def ref_add_span(start: date, n: int, unit: Unit, roll: Roll | None) -> date:
    if unit is Unit.WORKING_DAYS:
        end = ref_add_working_days(start, n)
        default = Roll.NONE
    elif unit is Unit.DAYS:
        end, default = ref_add_days(start, n), Roll.FORWARD
    elif unit is Unit.WEEKS:
        end, default = ref_add_days(start, 7 * n), Roll.FORWARD
    else:
        end, default = ref_add_months(start, n), Roll.FORWARD
    return ref_roll(end, roll if roll is not None else default)


def ref_count_working(a: date, b: date) -> int:
    """Working days in (a, b], a <= b."""
    count = 0
    while a < b:
        a += ONE
        count += ref_is_working(a)
    return count


# --------------------------------------------------------------------------- strategies
starts = st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))
units = st.sampled_from(list(Unit))
rolls = st.sampled_from([None, Roll.FORWARD, Roll.BACKWARD, Roll.NONE])
counts = st.integers(min_value=0, max_value=400)


# --------------------------------------------------------------------------- properties
def test_the_reference_knows_the_hand_facts():
    # The reference must itself be right, or agreeing with it proves nothing.
    assert ref_is_working(date(2024, 5, 4))  # make-up Saturday
    assert ref_is_working(date(2025, 4, 26))  # make-up Saturday
    assert ref_is_working(date(2026, 1, 10))  # make-up Saturday (config)
    assert not ref_is_working(date(2026, 1, 2))  # swapped day off (config)
    assert not ref_is_working(date(2024, 4, 29))  # swapped day off
    assert not ref_is_working(date(2022, 5, 3))  # in lieu of 1/5/2022 (Sunday)
    assert not ref_is_working(date(2022, 7, 30))  # ordinary Saturday
    assert ref_is_working(date(2022, 7, 29))  # ordinary Friday
    assert ref_add_months(date(2022, 1, 31), 1) == date(2022, 2, 28)
    assert ref_add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert ref_add_months(date(2022, 11, 30), 3) == date(2023, 2, 28)
    assert ref_add_span(date(2022, 3, 11), 30, Unit.DAYS, None) == date(2022, 4, 12)
    assert ref_add_working_days(date(2024, 4, 26), 1) == date(2024, 5, 2)


def test_every_day_agrees_with_the_reference():
    # Exhaustive, not sampled: every day 2014-2040.
    day = date(2014, 1, 1)
    while day <= date(2040, 12, 31):
        working = ref_is_working(day)
        assert CAL.is_working_day(day) is working, day
        assert (CAL.why_not_working(day) is None) is working, day
        day += ONE


@SETTINGS
@given(start=starts, n=counts, unit=units, roll=rolls)
@example(start=date(2024, 4, 26), n=3, unit=Unit.WORKING_DAYS, roll=None)  # make-up Sat
@example(start=date(2024, 4, 4), n=30, unit=Unit.DAYS, roll=Roll.BACKWARD)  # make-up Sat
@example(start=date(2022, 1, 31), n=1, unit=Unit.MONTHS, roll=None)  # clamp to 28/2
@example(start=date(2023, 12, 31), n=2, unit=Unit.MONTHS, roll=None)  # clamp to 29/2
@example(start=date(2025, 12, 31), n=1, unit=Unit.WORKING_DAYS, roll=None)  # config 2026
@example(start=date(2022, 7, 31), n=0, unit=Unit.WORKING_DAYS, roll=None)  # n = 0
def test_add_span_agrees_with_the_reference(start, n, unit, roll):
    span = Span(n, unit)
    expected = ref_add_span(start, n, unit, roll)
    assert add_span(CAL, start, span, roll) == expected
    due, steps = explain_span(CAL, start, span, roll)
    assert due == expected
    assert steps[-1].kind == "due" and steps[-1].date == expected


@SETTINGS
@given(start=starts, n=st.integers(min_value=1, max_value=400), roll=rolls)
def test_working_day_spans_end_on_a_working_day(start, n, roll):
    due = add_span(CAL, start, Span(n, Unit.WORKING_DAYS), roll)
    assert due > start
    assert CAL.is_working_day(due)
    assert ref_is_working(due)


@SETTINGS
@given(start=starts, n=counts, unit=units)
def test_roll_directions(start, n, unit):
    span = Span(n, unit)
    unrolled = add_span(CAL, start, span, Roll.NONE)
    fwd = add_span(CAL, start, span, Roll.FORWARD)
    bwd = add_span(CAL, start, span, Roll.BACKWARD)
    assert bwd <= unrolled <= fwd
    assert CAL.is_working_day(fwd) and CAL.is_working_day(bwd)
    # A working day stays; otherwise both move, and nothing between them is working.
    if CAL.is_working_day(unrolled):
        assert fwd == unrolled == bwd
    else:
        assert bwd < unrolled < fwd
        assert CAL.working_days_between(bwd, fwd) == 1


@SETTINGS
@given(start=starts, n=counts)
def test_working_days_between_inverts_add_working_days(start, n):
    end = CAL.add_working_days(start, n)
    assert CAL.working_days_between(start, end) == n
    assert CAL.working_days_between(end, start) == -n


@SETTINGS
@given(
    a=starts,
    gap=st.integers(min_value=0, max_value=800),
)
def test_working_days_between_counts_like_the_reference(a, gap):
    b = a + timedelta(days=gap)
    assert CAL.working_days_between(a, b) == ref_count_working(a, b)


@SETTINGS
@given(start=starts, n=st.integers(min_value=1, max_value=400))
def test_add_then_subtract_working_days(start, n):
    # The n-th working day after d, then n back: the working days strictly between d and
    # it are n - 1, so we land on the last working day <= d (d itself when working).
    there = CAL.add_working_days(start, n)
    assert CAL.add_working_days(there, -n) == CAL.previous_working_day(start)
    # Symmetrically: n back, then n forward, lands on the first working day >= d.
    back = CAL.add_working_days(start, -n)
    assert back == ref_sub_working_days(start, n)
    assert CAL.add_working_days(back, n) == CAL.next_working_day(start)


@SETTINGS
@given(day=starts)
def test_neighbouring_working_days(day):
    assert CAL.next_working_day(day) == ref_roll(day, Roll.FORWARD)
    assert CAL.previous_working_day(day) == ref_roll(day, Roll.BACKWARD)
    assert CAL.last_working_day_before(day) == ref_sub_working_days(day, 1)
    assert CAL.last_working_day_before(day) < day
    assert CAL.add_working_days(day, 0) == day


@SETTINGS
@given(start=starts, n=st.integers(min_value=0, max_value=400))
def test_months_keep_the_day_or_clamp_to_month_end(start, n):
    end = add_span(CAL, start, Span(n, Unit.MONTHS), Roll.NONE)
    months = (end.year - start.year) * 12 + end.month - start.month
    assert months == n
    assert end.day == min(start.day, ref_days_in_month(end.year, end.month))


def test_a_fresh_calendar_far_from_its_first_year_agrees():
    # Coverage grows lazily: a calendar first asked about 2030 must still be right
    # when asked about 2016 and about 2060 afterwards (and across the joins).
    c = WorkingCalendar(extra_days_off=EXTRA_OFF, extra_working_days=EXTRA_WORK)
    probes = [date(2030, 6, 3), date(2016, 2, 5), date(2060, 12, 30), date(2015, 1, 2)]
    for p in probes:
        assert c.is_working_day(p) is ref_is_working(p)
    for p in probes:
        for n in (1, 5, 30, 300):
            assert c.add_working_days(p, n) == ref_add_working_days(p, n)
            assert c.add_working_days(p, -n) == ref_sub_working_days(p, n)
    assert c.working_days_between(date(2016, 1, 1), date(2017, 1, 1)) == ref_count_working(
        date(2016, 1, 1), date(2017, 1, 1)
    )
