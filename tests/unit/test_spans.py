"""Parsing spans, rolls and dates; explanations; Vietnamese dates; calendar errors."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from engine.core.calendar import WorkingCalendar, format_vi
from engine.core.spans import (
    Roll,
    Span,
    Unit,
    add_span,
    explain_span,
    parse_date,
    parse_roll,
    parse_span,
)
from engine.errors import CalendarRangeError, InputError


def d(s: str) -> date:
    return date.fromisoformat(s)


def nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


# --------------------------------------------------------------------------- parse_span
@pytest.mark.parametrize(
    "text, n, unit",
    [
        pytest.param("30 days", 30, Unit.DAYS, id="days"),
        pytest.param("1 day", 1, Unit.DAYS, id="day"),
        pytest.param("0 days", 0, Unit.DAYS, id="zero days"),
        pytest.param("30 ngày", 30, Unit.DAYS, id="ngay"),
        pytest.param("5 working days", 5, Unit.WORKING_DAYS, id="working days"),
        pytest.param("1 working day", 1, Unit.WORKING_DAYS, id="working day singular"),
        pytest.param("5 ngày làm việc", 5, Unit.WORKING_DAYS, id="ngay lam viec"),
        pytest.param("2 weeks", 2, Unit.WEEKS, id="weeks"),
        pytest.param("1 week", 1, Unit.WEEKS, id="week"),
        pytest.param("2 tuần", 2, Unit.WEEKS, id="tuan"),
        pytest.param("1 month", 1, Unit.MONTHS, id="month"),
        pytest.param("3 months", 3, Unit.MONTHS, id="months"),
        pytest.param("3 tháng", 3, Unit.MONTHS, id="thang"),
        pytest.param(nfd("30 ngày"), 30, Unit.DAYS, id="NFD ngay"),
        pytest.param(nfd("5 ngày làm việc"), 5, Unit.WORKING_DAYS, id="NFD ngay lam viec"),
        pytest.param(nfd("2 tuần"), 2, Unit.WEEKS, id="NFD tuan"),
        pytest.param(nfd("3 tháng"), 3, Unit.MONTHS, id="NFD thang"),
        pytest.param("  5   ngày   làm  việc  ", 5, Unit.WORKING_DAYS, id="extra spaces vi"),
        pytest.param(" 5  working\tdays ", 5, Unit.WORKING_DAYS, id="extra spaces en"),
        pytest.param("30 Days", 30, Unit.DAYS, id="capitalised"),
        pytest.param("3 THÁNG", 3, Unit.MONTHS, id="upper case vi"),
        pytest.param("1200 months", 1200, Unit.MONTHS, id="exactly 100 years of months"),
        pytest.param("36500 days", 36500, Unit.DAYS, id="under 100 years of days"),
    ],
)
def test_parse_span_accepts(text, n, unit):
    assert parse_span(text) == Span(n, unit)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("30 fortnights", id="unknown unit"),
        pytest.param("2 năm", id="unknown unit vi (years)"),
        pytest.param("5 ngày nghỉ", id="unknown unit vi"),
        pytest.param("30", id="no unit"),
        pytest.param("days", id="no number"),
        pytest.param("", id="empty"),
        pytest.param("thirty days", id="words for number"),
        pytest.param("-1 days", id="negative days"),
        pytest.param("-5 ngày làm việc", id="negative working days"),
        pytest.param("-2 tuần", id="negative weeks"),
        pytest.param("1201 months", id="over 100 years of months"),
        pytest.param("36967 days", id="101 years of days"),
        pytest.param("5400 weeks", id="over 100 years of weeks"),
        pytest.param("30000 working days", id="over 100 years of working days"),
        pytest.param("101000 tháng", id="far over 100 years"),
    ],
)
def test_parse_span_rejects(text):
    with pytest.raises(InputError):
        parse_span(text)


def test_parse_span_rejects_non_text():
    with pytest.raises(InputError):
        parse_span(30)


def test_parse_span_rejects_101_years_of_weeks():
    # 101 years * 365.25 / 7 ≈ 5270 weeks > 100 years
    with pytest.raises(InputError):
        parse_span("5270 weeks")


# --------------------------------------------------------------------------- parse_roll
@pytest.mark.parametrize(
    "text, roll",
    [
        ("forward", Roll.FORWARD),
        ("backward", Roll.BACKWARD),
        ("none", Roll.NONE),
        (None, None),
    ],
)
def test_parse_roll_accepts(text, roll):
    assert parse_roll(text) is roll


@pytest.mark.parametrize("text", ["fwd", "later", "", "next", "tới", "forwards"])
def test_parse_roll_rejects(text):
    with pytest.raises(InputError):
        parse_roll(text)


# --------------------------------------------------------------------------- parse_date
@pytest.mark.parametrize(
    "text, day",
    [
        ("2022-07-29", "2022-07-29"),
        ("29/7/2022", "2022-07-29"),
        ("29/07/2022", "2022-07-29"),
        ("1/1/2024", "2024-01-01"),
        ("29/2/2024", "2024-02-29"),
        (" 2022-07-29 ", "2022-07-29"),
    ],
)
def test_parse_date_accepts(text, day):
    assert parse_date(text) == d(day)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2022-02-30", id="30 February"),
        pytest.param("30/2/2022", id="30 February vi"),
        pytest.param("29/2/2023", id="29 February of a common year"),
        pytest.param("2022-13-01", id="month 13"),
        pytest.param("32/1/2022", id="day 32"),
        pytest.param("garbage", id="garbage"),
        pytest.param("", id="empty"),
        pytest.param("29/7/22", id="two-digit year"),
        pytest.param("2022/07/29", id="year first with slashes"),
        pytest.param("29/7", id="no year"),
        pytest.param("20220729", id="basic ISO"),
        pytest.param("2022-07-29T10:00", id="datetime"),
    ],
)
def test_parse_date_rejects(text):
    with pytest.raises(InputError):
        parse_date(text)


def test_parse_date_rejects_iso_week_date():
    with pytest.raises(InputError):
        parse_date("2022-W30-5")


# --------------------------------------------------------------------------- explain_span
def test_explain_spec_example_names_hung_vuong(cal, monkeypatch):
    monkeypatch.setenv("HANCHOT_LANG", "vi")  # the holiday names are checked in Vietnamese
    # 11/3/2022 + 30 days = Sun 10/4 (Giỗ Tổ), Mon 11/4 in lieu -> Tue 12/4
    due, steps = explain_span(cal, d("2022-03-11"), parse_span("30 days"))
    assert due == d("2022-04-12")
    assert steps[0].kind == "start" and steps[0].date == d("2022-03-11")
    assert steps[-1].kind == "due" and steps[-1].date == d("2022-04-12")
    add = [s for s in steps if s.kind == "add"]
    assert [s.date for s in add] == [d("2022-04-10")]
    skips = [s for s in steps if s.kind == "skip"]
    assert [s.date for s in skips] == [d("2022-04-10"), d("2022-04-11")]
    for s in skips:
        assert "Giỗ Tổ Hùng Vương" in s.text
    assert "12/04/2022" in steps[-1].text
    assert any("Giỗ Tổ Hùng Vương" in s.text for s in steps)


def test_explain_names_each_tet_day(cal, monkeypatch):
    monkeypatch.setenv("HANCHOT_LANG", "vi")  # the holiday names are checked in Vietnamese
    # 1/1/2022 + 30 days = Mon 31/1 (Tết); skipped 31/1-4/2 (Tết), 5/2 Sat, 6/2 Sun
    due, steps = explain_span(cal, d("2022-01-01"), Span(30, Unit.DAYS))
    assert due == d("2022-02-07")
    skips = [s for s in steps if s.kind == "skip"]
    assert [s.date.day for s in skips] == [31, 1, 2, 3, 4, 5, 6]
    for s in skips[:5]:
        assert "Tết Nguyên Đán" in s.text
    assert "Thứ Bảy" in skips[5].text
    assert "Chủ nhật" in skips[6].text
    assert steps[-1].kind == "due" and steps[-1].date == d("2022-02-07")


def test_explain_working_days_names_skipped_days(cal, monkeypatch):
    monkeypatch.setenv("HANCHOT_LANG", "vi")  # the holiday names are checked in Vietnamese
    # Fri 28/1/2022 + 1 working day: every day 29/1-6/2 is skipped -> Mon 7/2
    due, steps = explain_span(cal, d("2022-01-28"), Span(1, Unit.WORKING_DAYS))
    assert due == d("2022-02-07")
    skips = [s for s in steps if s.kind == "skip"]
    assert [s.date for s in skips] == [date(2022, 1, 29 + i) for i in range(3)] + [
        date(2022, 2, i) for i in range(1, 7)
    ]
    assert sum("Tết Nguyên Đán" in s.text for s in skips) == 5
    assert steps[-1].kind == "due" and steps[-1].date == d("2022-02-07")


def test_explain_make_up_saturday_needs_no_roll(cal):
    # 4/4/2024 + 30 days = Sat 4/5/2024, a make-up working day: nothing skipped
    due, steps = explain_span(cal, d("2024-04-04"), Span(30, Unit.DAYS))
    assert due == d("2024-05-04")
    assert not [s for s in steps if s.kind in ("skip", "roll")]
    assert steps[-1].kind == "due" and steps[-1].date == d("2024-05-04")


def test_explain_backward(cal):
    # 20/4/2022 + 10 days = Sat 30/4 (holiday) -> backward Fri 29/4
    due, steps = explain_span(cal, d("2022-04-20"), Span(10, Unit.DAYS), Roll.BACKWARD)
    assert due == d("2022-04-29")
    assert [s.date for s in steps if s.kind == "skip"] == [d("2022-04-30")]
    assert steps[-1].kind == "due" and steps[-1].date == d("2022-04-29")


def test_explain_roll_none_keeps_the_day(cal):
    due, steps = explain_span(cal, d("2022-04-20"), Span(10, Unit.DAYS), Roll.NONE)
    assert due == d("2022-04-30")
    assert not [s for s in steps if s.kind == "skip"]
    assert any(s.kind == "roll" for s in steps)


def test_explain_month_clamp(cal):
    # 31/1/2022 + 1 month: no 31 February -> Mon 28/2/2022
    due, steps = explain_span(cal, d("2022-01-31"), Span(1, Unit.MONTHS))
    assert due == d("2022-02-28")
    clamp = [s for s in steps if s.kind == "clamp"]
    assert len(clamp) == 1
    # BLDS 2015 Điều 148: khoản 1 is days, khoản 2 weeks, khoản 3 months (the
    # month-end rule); the clamp must cite khoản 3.
    assert "Điều 148 khoản 3" in clamp[0].text
    assert "khoản 1" not in clamp[0].text


@pytest.mark.parametrize(
    "start, span, roll",
    [
        ("2022-03-11", "30 days", None),
        ("2022-01-28", "5 working days", None),
        ("2022-01-28", "5 working days", Roll.BACKWARD),
        ("2022-08-18", "2 weeks", Roll.BACKWARD),
        ("2022-03-31", "1 month", Roll.NONE),
        ("2022-07-31", "0 working days", Roll.FORWARD),
    ],
)
def test_explain_agrees_with_add_span(cal, start, span, roll):
    due, steps = explain_span(cal, d(start), parse_span(span), roll)
    assert due == add_span(cal, d(start), parse_span(span), roll)
    assert steps[-1].kind == "due" and steps[-1].date == due


# --------------------------------------------------------------------------- format_vi
@pytest.mark.parametrize(
    "day, text",
    [
        ("2022-07-29", "Thứ Sáu, 29/07/2022"),
        ("2022-07-31", "Chủ nhật, 31/07/2022"),
        ("2022-07-30", "Thứ Bảy, 30/07/2022"),
        ("2022-01-03", "Thứ Hai, 03/01/2022"),
        ("2022-02-01", "Thứ Ba, 01/02/2022"),
        ("2024-05-01", "Thứ Tư, 01/05/2024"),
        ("2024-02-29", "Thứ Năm, 29/02/2024"),
    ],
)
def test_format_vi(day, text):
    assert format_vi(d(day)) == text


# --------------------------------------------------------------------------- errors
def test_date_in_both_extras_is_an_input_error():
    with pytest.raises(InputError, match="2026-01-02"):
        WorkingCalendar(
            extra_days_off={d("2026-01-02"): "nghỉ"},
            extra_working_days={d("2026-01-02"): "làm"},
        )


@pytest.mark.parametrize("day", ["2101-01-01", "1900-12-31", "2200-06-01"])
def test_year_outside_range_is_a_calendar_range_error(day):
    c = WorkingCalendar()
    with pytest.raises(CalendarRangeError):
        c.is_working_day(d(day))
    with pytest.raises(CalendarRangeError):
        c.why_not_working(d(day))


def test_calendar_range_error_is_an_input_error():
    assert issubclass(CalendarRangeError, InputError)


def test_range_edges_are_inside():
    c = WorkingCalendar()
    assert c.is_working_day(d("2100-12-31"))  # a Friday, no holiday
    assert not c.is_working_day(d("1901-01-01"))  # Tết Dương lịch


def test_arithmetic_past_2100_is_a_calendar_range_error(cal):
    with pytest.raises(CalendarRangeError):
        cal.add_working_days(d("2100-12-30"), 5)
    with pytest.raises(CalendarRangeError):
        add_span(cal, d("2100-12-01"), Span(2, Unit.MONTHS))
    with pytest.raises(CalendarRangeError):
        cal.add_working_days(d("1901-01-03"), -10)
