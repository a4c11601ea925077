"""Dates typed by people: the right format, an impossible day, and what is wrong with it."""

from __future__ import annotations

from datetime import date

import pytest

from engine.core.spans import parse_date
from engine.errors import InputError


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    monkeypatch.setenv("HANCHOT_LANG", "en")  # the messages are checked in English


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # 2027 is not a leap year (2027 is not divisible by 4).
        ("2027-02-29", "'2027-02-29' is not a date: 2027 has no 29 February"),
        ("29/02/2027", "'29/02/2027' is not a date: 2027 has no 29 February"),
        ("2100-02-29", "'2100-02-29' is not a date: 2100 has no 29 February"),
        ("2022-02-30", "'2022-02-30' is not a date: 02/2022 has 28 days"),
        ("2022-04-31", "'2022-04-31' is not a date: 04/2022 has 30 days"),
        ("31/4/2022", "'31/4/2022' is not a date: 04/2022 has 30 days"),
        ("2022-13-01", "'2022-13-01' is not a date: there is no month 13"),
        ("2022-00-10", "'2022-00-10' is not a date: there is no month 0"),
        ("2022-05-00", "'2022-05-00' is not a date: there is no day 0"),
    ],
)
def test_impossible_date_says_why(text, message):
    with pytest.raises(InputError) as e:
        parse_date(text)
    assert e.value.message == message


@pytest.mark.parametrize("text", ["2022-7-29", "29.7.2022", "2022/07/29", "", "hôm nay"])
def test_wrong_format_asks_for_the_format(text):
    with pytest.raises(InputError, match="write YYYY-MM-DD"):
        parse_date(text)


def test_leap_days_that_exist():
    # 2024 and 2000 are leap years (divisible by 4; 2000 also by 400).
    assert parse_date("2024-02-29") == date(2024, 2, 29)
    assert parse_date("29/2/2000") == date(2000, 2, 29)
