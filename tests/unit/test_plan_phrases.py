"""Timing phrases of a plan → due forms → due dates, each date worked out by hand.

Calendar facts used (Bộ luật Lao động 2019 Điều 112; the government's 2022 schedule):
- 2022: Giỗ Tổ Hùng Vương 10/4 (Sunday) → off Monday 11/4; 30/4 (Saturday) and 1/5
  (Sunday) → off Monday 2/5 and Tuesday 3/5; Quốc khánh Thursday 1/9 and Friday 2/9.
- Spans count from the day after the event (Điều 147); "trước ngày X" is the last
  working day strictly before X; a period's end rolls backward, a date forward.
"""

from __future__ import annotations

from datetime import date

import pytest

from engine.core.periods import parse_period
from engine.core.plan_phrases import (
    EXACT,
    INFERRED,
    TODO,
    deadline_in_text,
    read_timing,
    spans_in_text,
)
from engine.core.rules import After, Before, EndOf, Event, Every, On, Rule, plan
from engine.core.spans import parse_date, parse_span


def core_form(due: dict):
    """The core form of a draft's ``due`` mapping (as the loader builds it)."""
    if "end_of" in due:
        return EndOf(parse_period(due["end_of"]))
    if "before" in due:
        return Before(parse_date(due["before"]))
    if "on" in due:
        return On(parse_date(due["on"]))
    if "every" in due:
        return Every(
            due["every"],
            due["day"],
            due["month"],
            parse_date(due["from"]),
            parse_date(due["until"]),
        )
    return After(due["after"], parse_span(due["in"]))


def dates(cal, due: dict, events=(), year: int = 2022) -> list[date]:
    rule = Rule("r", "t", "van-phong", core_form(due))
    occ = plan([rule], cal, date(year, 1, 1), date(year + 1, 12, 31), list(events))
    return [o.due for o in occ]


# ---------------------------------------------------------------- whole periods
@pytest.mark.parametrize(
    "phrase",
    ["Thường xuyên trong năm 2022", "Thường xuyên năm 2022", "thường xuyên  trong năm 2022"],
)
def test_continuous_duty_is_the_years_last_working_day(cal, phrase):
    d = read_timing(phrase, None)
    assert d.due == {"end_of": "2022"}
    assert d.certainty == INFERRED  # "thường xuyên" has no date of its own
    # 31/12/2022 is a Saturday: backward to Friday 30/12/2022.
    assert dates(cal, d.due) == [date(2022, 12, 30)]


def test_within_the_year(cal):
    d = read_timing("Trong năm 2022", None)
    assert (d.due, d.certainty) == ({"end_of": "2022"}, EXACT)
    assert dates(cal, d.due) == [date(2022, 12, 30)]  # 31/12/2022 Saturday → Friday 30/12


def test_bare_year(cal):
    d = read_timing("Năm 2023", None)
    assert (d.due, d.certainty) == ({"end_of": "2023"}, EXACT)
    # 31/12/2023 is a Sunday, 30/12 a Saturday: Friday 29/12/2023.
    assert dates(cal, d.due, year=2023) == [date(2023, 12, 29)]


@pytest.mark.parametrize(
    ("phrase", "period", "due"),
    [
        ("Quý I/2022", "2022-Q1", date(2022, 3, 31)),  # Thursday 31/3
        ("Quý II/2022", "2022-Q2", date(2022, 6, 30)),  # Thursday 30/6
        ("Quý III/2022", "2022-Q3", date(2022, 9, 30)),  # Friday 30/9
        ("Quý IV/2022", "2022-Q4", date(2022, 12, 30)),  # 31/12 Saturday → Friday 30/12
        ("Quý 2 năm 2022", "2022-Q2", date(2022, 6, 30)),
    ],
)
def test_quarters(cal, phrase, period, due):
    d = read_timing(phrase, None)
    assert (d.due, d.certainty) == ({"end_of": period}, EXACT)
    assert dates(cal, d.due) == [due]


def test_first_half_takes_the_plans_year(cal):
    d = read_timing("6 tháng đầu năm", 2022)
    assert d.due == {"end_of": "2022-H1"}
    assert dates(cal, d.due) == [date(2022, 6, 30)]  # Thursday 30/6/2022


def test_month(cal):
    d = read_timing("Tháng 4/2022", None)
    assert d.due == {"end_of": "2022-04"}
    # 30/4/2022 is a Saturday and a holiday: backward to Friday 29/4/2022.
    assert dates(cal, d.due) == [date(2022, 4, 29)]


# ---------------------------------------------------------------- dates
def test_before_a_date(cal):
    d = read_timing("trước ngày 30/7/2022", None)
    assert (d.due, d.certainty) == ({"before": "2022-07-30"}, EXACT)
    # 30/7/2022 is a Saturday; the last working day strictly before it: Friday 29/7.
    assert dates(cal, d.due) == [date(2022, 7, 29)]


def test_before_day_month_takes_the_plans_year(cal):
    d = read_timing("Trước 30/7", 2022)
    assert (d.due, d.certainty) == ({"before": "2022-07-30"}, INFERRED)
    assert dates(cal, d.due) == [date(2022, 7, 29)]


@pytest.mark.parametrize("phrase", ["chậm nhất ngày 18/12/2022", "Chậm nhất là ngày 18/12/2022"])
def test_at_the_latest(cal, phrase):
    d = read_timing(phrase, None)
    assert (d.due, d.certainty) == ({"on": "2022-12-18"}, EXACT)
    # 18/12/2022 is a Sunday: forward to Monday 19/12/2022.
    assert dates(cal, d.due) == [date(2022, 12, 19)]


def test_on_a_date(cal):
    d = read_timing("ngày 2/9/2022", None)
    assert d.due == {"on": "2022-09-02"}
    # 2/9/2022 Friday is Quốc khánh, 3–4/9 the weekend: Monday 5/9/2022.
    assert dates(cal, d.due) == [date(2022, 9, 5)]


def test_impossible_date_is_a_todo():
    d = read_timing("trước ngày 30/2/2022", None)
    assert d.due is None and d.certainty == TODO


# ---------------------------------------------------------------- periodic
def test_quarterly_uses_the_default_report_day_and_says_so(cal):
    d = read_timing("Định kỳ hằng quý", 2022)
    assert d.due == {
        "every": "quarter",
        "month": 3,
        "day": "last working day",
        "from": "2022-01-01",
        "until": "2022-12-31",
    }
    assert d.certainty == INFERRED and "default report day" in d.reason
    # Last working days of each quarter's last month, 2022: Thu 31/3, Thu 30/6, Fri 30/9,
    # and 30/12 (31/12 is a Saturday).
    assert dates(cal, d.due) == [
        date(2022, 3, 31),
        date(2022, 6, 30),
        date(2022, 9, 30),
        date(2022, 12, 30),
    ]


def test_quarterly_with_a_configured_report_day(cal):
    d = read_timing("Định kỳ hàng quý", 2022, report_day=18)
    # 18/3 Friday, 18/6 Saturday → Monday 20/6, 18/9 Sunday → Monday 19/9, 18/12 Sunday →
    # Monday 19/12 (a day of the month rolls forward).
    assert dates(cal, d.due) == [
        date(2022, 3, 18),
        date(2022, 6, 20),
        date(2022, 9, 19),
        date(2022, 12, 19),
    ]


def test_monthly(cal):
    d = read_timing("Định kỳ hằng tháng", 2022)
    assert (d.due["every"], d.due["month"]) == ("month", 1)
    got = dates(cal, d.due)
    assert len(got) == 12
    # April 2022: 30/4 is a Saturday (and a holiday): Friday 29/4.
    assert got[3] == date(2022, 4, 29)


def test_half_yearly(cal):
    d = read_timing("Định kỳ 6 tháng", 2022)
    assert (d.due["every"], d.due["month"]) == ("half", 6)
    assert dates(cal, d.due) == [date(2022, 6, 30), date(2022, 12, 30)]


def test_yearly(cal):
    d = read_timing("Định kỳ hằng năm", 2022)
    assert (d.due["every"], d.due["month"]) == ("year", 12)
    assert dates(cal, d.due) == [date(2022, 12, 30)]


# ---------------------------------------------------------------- event-driven
def test_within_n_days_of_publication(cal):
    d = read_timing(
        "gửi hồ sơ trình Chủ tịch UBND tỉnh phê duyệt trong thời hạn 30 ngày kể từ ngày "
        "công bố TTHC theo quy định",
        2022,
    )
    assert d.due == {"after": "publication", "in": "30 days"} and d.event
    # SPEC §3: 30 days from 15/03/2022 ends Thursday 14/04/2022.
    ev = Event("publication", "qd-1", date(2022, 3, 15))
    assert dates(cal, d.due, [ev]) == [date(2022, 4, 14)]


def test_within_n_working_days(cal):
    d = read_timing("trong thời hạn 5 ngày làm việc kể từ ngày nhận được văn bản", 2022)
    assert d.due == {"after": "receipt", "in": "5 working days"}
    # From Friday 29/7/2022: Mon 1/8, Tue 2/8, Wed 3/8, Thu 4/8, Fri 5/8.
    ev = Event("receipt", "cv-1", date(2022, 7, 29))
    assert dates(cal, d.due, [ev]) == [date(2022, 8, 5)]


def test_on_request_is_event_driven_and_flagged(cal):
    d = read_timing("Theo yêu cầu và Kế hoạch của Văn phòng Chính phủ", 2022)
    assert d.due == {"after": "request", "in": "5 working days"}
    assert d.event and d.certainty == INFERRED
    # From Friday 26/8/2022: Mon 29/8 (1), 30/8 (2), 31/8 (3), 1–2/9 Quốc khánh, weekend,
    # Mon 5/9 (4), Tue 6/9 (5).
    ev = Event("request", "cv-2", date(2022, 8, 26))
    assert dates(cal, d.due, [ev]) == [date(2022, 9, 6)]


def test_by_plan_of_someone(cal):
    d = read_timing("Theo kế hoạch của UBND tỉnh", 2022)
    assert d.due == {"after": "request", "in": "5 working days"}
    assert d.certainty == INFERRED
    # From Friday 29/4/2022: 30/4–1/5 weekend (holidays), Mon 2/5 and Tue 3/5 nghỉ bù,
    # then Wed 4/5 (1), Thu 5/5 (2), Fri 6/5 (3), Mon 9/5 (4), Tue 10/5 (5).
    ev = Event("request", "kh-1", date(2022, 4, 29))
    assert dates(cal, d.due, [ev]) == [date(2022, 5, 10)]


def test_when_something_happens_is_event_driven_and_flagged(cal):
    d = read_timing("Khi có văn bản mới ban hành", 2022)
    assert d.due == {"after": "issuance", "in": "5 working days"}
    assert d.event and d.certainty == INFERRED
    # From Friday 7/1/2022: Mon 10/1 (1) … Fri 14/1/2022 (5).
    ev = Event("issuance", "vb-1", date(2022, 1, 7))
    assert dates(cal, d.due, [ev]) == [date(2022, 1, 14)]


def test_each_quarter_without_dinh_ky(cal):
    d = read_timing("Hằng quý", 2022)
    assert (d.due["every"], d.certainty) == ("quarter", INFERRED)
    assert dates(cal, d.due)[0] == date(2022, 3, 31)  # Thursday 31/3/2022


def test_unknown_phrase_is_a_todo():
    d = read_timing("Tùy tình hình thực tế", 2022)
    assert (d.due, d.certainty) == (None, TODO)
    assert d.phrase == "Tùy tình hình thực tế"


# ---------------------------------------------------------------- other columns
def test_a_dated_deadline_in_the_result_column(cal):
    text = (
        "- Báo cáo kết quả rà soát, đánh giá được gửi về Văn phòng UBND tỉnh trước ngày "
        "30/7/2022 để xem xét, đánh giá chất lượng.\n- Kết quả rà soát gồm báo cáo."
    )
    d = deadline_in_text(text, 2022)
    assert d is not None and d.due == {"before": "2022-07-30"}
    assert deadline_in_text("Biên bản họp", 2022) is None


def test_spans_in_bullets_give_one_reading_each():
    text = (
        "- Chủ trì ... trình Chủ tịch UBND tỉnh phê duyệt trong thời hạn 30 ngày kể từ ngày "
        "công bố TTHC theo quy định.\n"
        "- Phê duyệt quy trình nội bộ đối với trường hợp được ủy quyền trong thời hạn 15 ngày "
        "kể từ ngày công bố TTHC theo quy định."
    )
    got = [s.due for s in spans_in_text(text, 2022)]
    assert got == [
        {"after": "publication", "in": "30 days"},
        {"after": "publication", "in": "15 days"},
    ]
