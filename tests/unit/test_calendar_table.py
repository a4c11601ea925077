"""Table tests of the working calendar against the official schedules, worked out by hand.

Every expected date below was worked out by hand from the Government's holiday
schedules for civil servants (Bộ luật Lao động 2019 Điều 112 and the yearly notices of
the Ministry of Labour / Văn phòng Chính phủ) and Bộ luật Dân sự 2015 Điều 147–148;
the one-line comment on each case gives the reasoning. None is copied from the code.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from engine.core.calendar import first_working_day_of, last_working_day_of
from engine.core.periods import parse_period
from engine.core.spans import Roll, Span, Unit, add_span

F, B, N = Roll.FORWARD, Roll.BACKWARD, Roll.NONE
DAYS, WDAYS, WEEKS, MONTHS = Unit.DAYS, Unit.WORKING_DAYS, Unit.WEEKS, Unit.MONTHS


@pytest.fixture(autouse=True)
def _vietnamese(monkeypatch):
    # The reasons below are the Vietnamese holiday names of the official schedules;
    # tests/unit/test_i18n_loader_core.py checks them in English.
    monkeypatch.setenv("HANCHOT_LANG", "vi")


def d(s: str) -> date:
    return date.fromisoformat(s)


# --------------------------------------------------------------------------- working days
WORKING = [
    # 2022
    pytest.param("2022-01-04", id="2022-01-04 Tue after New Year in lieu"),
    pytest.param("2022-01-28", id="2022-01-28 Fri last day before Tet"),
    pytest.param("2022-02-07", id="2022-02-07 Mon first day after Tet"),
    pytest.param("2022-04-12", id="2022-04-12 Tue after Hung Vuong in lieu"),
    pytest.param("2022-04-29", id="2022-04-29 Fri before 30/4"),
    pytest.param("2022-05-04", id="2022-05-04 Wed after 30/4-3/5"),
    pytest.param("2022-07-29", id="2022-07-29 ordinary Fri"),
    pytest.param("2022-08-31", id="2022-08-31 Wed before Quoc khanh"),
    pytest.param("2022-09-05", id="2022-09-05 Mon after Quoc khanh"),
    # 2023
    pytest.param("2023-01-03", id="2023-01-03 Tue after New Year in lieu"),
    pytest.param("2023-01-19", id="2023-01-19 Thu before Tet"),
    pytest.param("2023-01-27", id="2023-01-27 Fri after Tet"),
    pytest.param("2023-04-28", id="2023-04-28 Fri before 29/4-3/5"),
    pytest.param("2023-05-04", id="2023-05-04 Thu after 29/4-3/5"),
    pytest.param("2023-09-05", id="2023-09-05 Tue after Quoc khanh in lieu"),
    # 2024
    pytest.param("2024-01-02", id="2024-01-02 Tue"),
    pytest.param("2024-02-07", id="2024-02-07 Wed before Tet"),
    pytest.param("2024-02-15", id="2024-02-15 Thu after Tet"),
    pytest.param("2024-04-19", id="2024-04-19 Fri after Hung Vuong"),
    pytest.param("2024-04-26", id="2024-04-26 Fri before the 29/4 swap"),
    pytest.param("2024-05-02", id="2024-05-02 Thu after 1/5"),
    pytest.param("2024-05-04", id="2024-05-04 make-up SATURDAY"),
    pytest.param("2024-09-04", id="2024-09-04 Wed after Quoc khanh"),
    # 2025
    pytest.param("2025-01-02", id="2025-01-02 Thu"),
    pytest.param("2025-01-24", id="2025-01-24 Fri before Tet"),
    pytest.param("2025-02-03", id="2025-02-03 Mon after Tet"),
    pytest.param("2025-04-08", id="2025-04-08 Tue after Hung Vuong"),
    pytest.param("2025-04-26", id="2025-04-26 make-up SATURDAY"),
    pytest.param("2025-04-29", id="2025-04-29 Tue before 30/4"),
    pytest.param("2025-05-05", id="2025-05-05 Mon after the 2/5 swap"),
    pytest.param("2025-09-03", id="2025-09-03 Wed after Quoc khanh"),
    # 2026 (with the shipped New Year swap, Công văn 12729/VPCP-KGVX)
    pytest.param("2026-01-05", id="2026-01-05 Mon after New Year"),
    pytest.param("2026-01-10", id="2026-01-10 make-up SATURDAY (shipped)"),
    pytest.param("2026-02-13", id="2026-02-13 Fri before Tet"),
    pytest.param("2026-02-23", id="2026-02-23 Mon after Tet"),
    pytest.param("2026-04-28", id="2026-04-28 Tue after Hung Vuong in lieu"),
    pytest.param("2026-04-29", id="2026-04-29 Wed before 30/4"),
    pytest.param("2026-05-04", id="2026-05-04 Mon after 1/5"),
]


@pytest.mark.parametrize("day", WORKING)
def test_working_day(cal, day):
    assert cal.is_working_day(d(day))
    assert cal.why_not_working(d(day)) is None


# A non-working day and the words its reason must contain.
NOT_WORKING = [
    # 2022 — 1/1 Sat, 3/1 Mon off in lieu
    pytest.param("2022-01-01", ["Tết Dương lịch", "(Thứ Bảy)"], id="2022-01-01 Sat holiday"),
    pytest.param("2022-01-03", ["Tết Dương lịch", "nghỉ bù"], id="2022-01-03 in lieu"),
    # Tết 2022: off 29/1 (Sat)–6/2 (Sun); weekdays 31/1–4/2
    pytest.param("2022-01-29", ["Thứ Bảy"], id="2022-01-29 Sat Tet break"),
    pytest.param("2022-01-31", ["Tết Nguyên Đán"], id="2022-01-31 Tet Mon"),
    pytest.param("2022-02-01", ["Tết Nguyên Đán"], id="2022-02-01 Tet Tue"),
    pytest.param("2022-02-02", ["Tết Nguyên Đán"], id="2022-02-02 Tet Wed"),
    pytest.param("2022-02-03", ["Tết Nguyên Đán"], id="2022-02-03 Tet Thu"),
    pytest.param("2022-02-04", ["Tết Nguyên Đán"], id="2022-02-04 Tet Fri"),
    pytest.param("2022-02-06", ["Chủ nhật"], id="2022-02-06 Sun Tet break"),
    # Giỗ Tổ 10/4 Sun -> 11/4 Mon off
    pytest.param("2022-04-10", ["Giỗ Tổ Hùng Vương", "(Chủ nhật)"], id="2022-04-10 Hung Vuong Sun"),
    pytest.param("2022-04-11", ["Giỗ Tổ Hùng Vương", "nghỉ bù"], id="2022-04-11 in lieu"),
    # 30/4 Sat, 1/5 Sun -> 2/5, 3/5 off
    pytest.param("2022-04-30", ["(Thứ Bảy)"], id="2022-04-30 Sat holiday"),
    pytest.param("2022-05-01", ["Quốc tế Lao động", "(Chủ nhật)"], id="2022-05-01 Sun holiday"),
    pytest.param("2022-05-02", ["nghỉ bù"], id="2022-05-02 in lieu of 30/4"),
    pytest.param("2022-05-03", ["nghỉ bù"], id="2022-05-03 in lieu of 1/5"),
    # Quốc khánh 2022: off 1/9 (Thu)–4/9 (Sun)
    pytest.param("2022-09-01", ["Quốc khánh"], id="2022-09-01 Quoc khanh Thu"),
    pytest.param("2022-09-02", ["Quốc khánh"], id="2022-09-02 Quoc khanh Fri"),
    pytest.param("2022-09-03", ["Thứ Bảy"], id="2022-09-03 Sat"),
    pytest.param("2022-09-04", ["Chủ nhật"], id="2022-09-04 Sun"),
    # 2023 — 1/1 Sun -> 2/1 Mon off
    pytest.param("2023-01-01", ["Tết Dương lịch", "(Chủ nhật)"], id="2023-01-01 Sun holiday"),
    pytest.param("2023-01-02", ["Tết Dương lịch", "nghỉ bù"], id="2023-01-02 in lieu"),
    # Tết 2023: 20/1 (Fri)–26/1 (Thu)
    pytest.param("2023-01-20", ["Tết"], id="2023-01-20 Tet Fri"),
    pytest.param("2023-01-23", ["Tết Nguyên Đán"], id="2023-01-23 Tet Mon"),
    pytest.param("2023-01-26", ["Tết Nguyên Đán"], id="2023-01-26 Tet Thu"),
    # 29/4 Sat (Giỗ Tổ), 30/4 Sun, 1/5 Mon; 2/5 and 3/5 off in lieu
    pytest.param("2023-04-29", ["Giỗ Tổ Hùng Vương", "(Thứ Bảy)"], id="2023-04-29 Sat"),
    pytest.param("2023-04-30", ["(Chủ nhật)"], id="2023-04-30 Sun holiday"),
    pytest.param("2023-05-01", ["Quốc tế Lao động"], id="2023-05-01 Mon"),
    pytest.param("2023-05-02", ["nghỉ bù"], id="2023-05-02 in lieu"),
    pytest.param("2023-05-03", ["nghỉ bù"], id="2023-05-03 in lieu"),
    # 1/9 Fri, 2/9 Sat -> 4/9 Mon off
    pytest.param("2023-09-01", ["Quốc khánh"], id="2023-09-01 Fri"),
    pytest.param("2023-09-02", ["Quốc khánh", "(Thứ Bảy)"], id="2023-09-02 Sat holiday"),
    pytest.param("2023-09-04", ["Quốc khánh", "nghỉ bù"], id="2023-09-04 in lieu"),
    # 2024 — 1/1 Mon; Tết 8/2 (Thu)–14/2 (Wed)
    pytest.param("2024-01-01", ["Tết Dương lịch"], id="2024-01-01 Mon"),
    pytest.param("2024-02-08", ["Tết"], id="2024-02-08 Tet Thu"),
    pytest.param("2024-02-09", ["Tết Nguyên Đán"], id="2024-02-09 Tet Fri"),
    pytest.param("2024-02-12", ["Tết Nguyên Đán"], id="2024-02-12 Tet Mon"),
    pytest.param("2024-02-14", ["Tết Nguyên Đán"], id="2024-02-14 Tet Wed"),
    pytest.param("2024-04-18", ["Giỗ Tổ Hùng Vương"], id="2024-04-18 Thu"),
    # 27/4/2024 is an ordinary Saturday; 29/4 Mon off, swapped with Sat 4/5
    pytest.param("2024-04-27", ["Thứ Bảy"], id="2024-04-27 ordinary Sat"),
    pytest.param("2024-04-29", [], id="2024-04-29 Mon off by swap"),
    pytest.param("2024-04-30", [], id="2024-04-30 Tue holiday"),
    pytest.param("2024-05-01", ["Quốc tế Lao động"], id="2024-05-01 Wed"),
    pytest.param("2024-05-05", ["Chủ nhật"], id="2024-05-05 Sun after make-up Sat"),
    pytest.param("2024-09-02", ["Quốc khánh"], id="2024-09-02 Mon"),
    pytest.param("2024-09-03", ["Quốc khánh"], id="2024-09-03 Tue"),
    # 2025 — 1/1 Wed; Tết 25/1 (Sat)–2/2 (Sun), weekdays 27/1–31/1
    pytest.param("2025-01-01", ["Tết Dương lịch"], id="2025-01-01 Wed"),
    pytest.param("2025-01-25", ["Thứ Bảy"], id="2025-01-25 Sat Tet break"),
    pytest.param("2025-01-27", ["Tết"], id="2025-01-27 Tet Mon"),
    pytest.param("2025-01-29", ["Tết Nguyên Đán"], id="2025-01-29 Tet Wed"),
    pytest.param("2025-01-31", ["Tết Nguyên Đán"], id="2025-01-31 Tet Fri"),
    pytest.param("2025-02-01", ["Thứ Bảy"], id="2025-02-01 Sat Tet break"),
    pytest.param("2025-02-02", ["Chủ nhật"], id="2025-02-02 Sun Tet break"),
    pytest.param("2025-04-07", ["Giỗ Tổ Hùng Vương"], id="2025-04-07 Mon"),
    # 19/4/2025 is an ordinary Saturday (only 26/4 is worked)
    pytest.param("2025-04-19", ["Thứ Bảy"], id="2025-04-19 ordinary Sat"),
    pytest.param("2025-04-30", [], id="2025-04-30 Wed"),
    pytest.param("2025-05-01", ["Quốc tế Lao động"], id="2025-05-01 Thu"),
    pytest.param("2025-05-02", [], id="2025-05-02 Fri off by swap"),
    pytest.param("2025-09-01", ["Quốc khánh"], id="2025-09-01 Mon"),
    pytest.param("2025-09-02", ["Quốc khánh"], id="2025-09-02 Tue"),
    # 2026 — 1/1 Thu; 2/1 Fri off by the shipped swap with Sat 10/1 (CV 12729/VPCP-KGVX)
    pytest.param("2026-01-01", ["Tết Dương lịch"], id="2026-01-01 Thu"),
    pytest.param("2026-01-02", ["12729/VPCP-KGVX"], id="2026-01-02 Fri off (shipped)"),
    pytest.param("2026-01-17", ["Thứ Bảy"], id="2026-01-17 ordinary Sat"),
    pytest.param("2026-02-16", ["Tết"], id="2026-02-16 Tet Mon"),
    pytest.param("2026-02-18", ["Tết Nguyên Đán"], id="2026-02-18 Tet Wed"),
    pytest.param("2026-02-20", ["Tết Nguyên Đán"], id="2026-02-20 Tet Fri"),
    pytest.param("2026-04-26", ["Giỗ Tổ Hùng Vương", "(Chủ nhật)"], id="2026-04-26 Sun"),
    pytest.param("2026-04-27", ["Giỗ Tổ Hùng Vương", "nghỉ bù"], id="2026-04-27 in lieu"),
    pytest.param("2026-04-30", [], id="2026-04-30 Thu"),
    pytest.param("2026-05-01", ["Quốc tế Lao động"], id="2026-05-01 Fri"),
]


@pytest.mark.parametrize("day, words", NOT_WORKING)
def test_not_working_day(cal, day, words):
    assert not cal.is_working_day(d(day))
    why = cal.why_not_working(d(day))
    assert why
    for w in words:
        assert w in why


@pytest.mark.parametrize(
    "day, why",
    [
        pytest.param("2022-07-30", "Thứ Bảy", id="ordinary Saturday"),
        pytest.param("2022-07-31", "Chủ nhật", id="ordinary Sunday"),
        pytest.param("2024-04-27", "Thứ Bảy", id="Saturday before the 2024 swap"),
    ],
)
def test_ordinary_weekend_reason_is_the_weekday(cal, day, why):
    assert cal.why_not_working(d(day)) == why


@pytest.mark.parametrize(
    "day",
    [
        pytest.param("2022-04-30", id="30/4/2022 Sat"),
        pytest.param("2023-04-30", id="30/4/2023 Sun"),
        pytest.param("2024-04-30", id="30/4/2024 Tue"),
    ],
)
def test_holiday_is_named_not_just_a_weekday(cal, day):
    # 30/4 is a public holiday: its reason is a holiday name, not the bare weekday.
    assert cal.why_not_working(d(day)) not in ("Thứ Bảy", "Chủ nhật", None)


# --------------------------------------------------------------------------- 2026 New Year swap
def test_2026_package_alone_lacks_the_new_year_swap(package_cal):
    # The installed `holidays` (0.109) does not know Công văn 12729/VPCP-KGVX: for it
    # Fri 2/1/2026 is a plain weekday and Sat 10/1/2026 a plain Saturday.
    assert package_cal.is_working_day(d("2026-01-02"))
    assert not package_cal.is_working_day(d("2026-01-10"))
    assert package_cal.why_not_working(d("2026-01-10")) == "Thứ Bảy"


def test_2026_shipped_calendar_applies_the_swap(cal):
    # Without any calendar.yaml: 2/1/2026 off, 10/1/2026 worked, both citing 12729.
    assert not cal.is_working_day(d("2026-01-02"))
    assert "12729/VPCP-KGVX" in cal.why_not_working(d("2026-01-02"))
    assert cal.is_working_day(d("2026-01-10"))
    assert cal.why_not_working(d("2026-01-10")) is None
    assert "12729/VPCP-KGVX" in cal.why_working(d("2026-01-10"))


def test_config_calendar_yaml_holds_no_shipped_decision():
    # config/calendar.yaml is for local additions only: an official swap shipped in
    # engine/core/calendar_corrections.py must not be repeated there.
    from engine.core.calendar_corrections import SWAPS

    path = Path(__file__).resolve().parents[2] / "config" / "calendar.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    listed = {
        date.fromisoformat(str(e["date"]))
        for key in ("extra_days_off", "extra_working_days")
        for e in data.get(key) or []
    }
    shipped = {s.day_off for s in SWAPS} | {s.make_up for s in SWAPS}
    assert not listed & shipped


def test_extras_override_the_package():
    from engine.core.calendar import WorkingCalendar

    c = WorkingCalendar(
        extra_days_off={d("2022-07-29"): "Nghỉ đột xuất"},
        extra_working_days={d("2022-09-02"): "Trực"},
    )
    assert not c.is_working_day(d("2022-07-29"))
    assert c.why_not_working(d("2022-07-29")) == "Nghỉ đột xuất"
    assert c.is_working_day(d("2022-09-02"))  # a holiday made working by config


# --------------------------------------------------------------------------- add_span
SPANS = [
    # SPEC example: 11/3 + 30 = 10/4/2022 Sun (Giỗ Tổ); 11/4 Mon in lieu; -> Tue 12/4
    pytest.param("2022-03-11", 30, DAYS, None, "2022-04-12", id="spec 11/3/2022 + 30 days"),
    # Điều 147: counting starts the day after: 15/3 + 30 = 14/4/2022 Thu, working
    pytest.param("2022-03-15", 30, DAYS, None, "2022-04-14", id="15/3/2022 + 30 days"),
    # 1/1 + 30 = 31/1/2022 Mon (Tết); 1-4/2 Tết, 5-6/2 weekend -> Mon 7/2
    pytest.param("2022-01-01", 30, DAYS, None, "2022-02-07", id="lands on Tet 2022 fwd"),
    # 20/1 + 10 = 30/1/2022 Sun; forward through Tết to Mon 7/2
    pytest.param("2022-01-20", 10, DAYS, F, "2022-02-07", id="Sun before Tet fwd"),
    # 30/1 Sun, 29/1 Sat -> backward to Fri 28/1
    pytest.param("2022-01-20", 10, DAYS, B, "2022-01-28", id="Sun before Tet bwd"),
    # roll none keeps Sun 30/1
    pytest.param("2022-01-20", 10, DAYS, N, "2022-01-30", id="Sun before Tet none"),
    # 20/4 + 10 = 30/4/2022 Sat; 1/5 Sun, 2/5, 3/5 in lieu -> Wed 4/5
    pytest.param("2022-04-20", 10, DAYS, None, "2022-05-04", id="lands on 30/4/2022 fwd"),
    # backward from 30/4 Sat -> Fri 29/4
    pytest.param("2022-04-20", 10, DAYS, B, "2022-04-29", id="lands on 30/4/2022 bwd"),
    # 2/4 + 1 month = 2/5/2022 Mon (in lieu); 3/5 in lieu -> Wed 4/5
    pytest.param("2022-04-02", 1, MONTHS, None, "2022-05-04", id="lands on 2/5/2022 fwd"),
    # 1/8 + 1 month = 1/9/2022 Thu; 2/9 Fri, 3-4/9 weekend -> Mon 5/9
    pytest.param("2022-08-01", 1, MONTHS, None, "2022-09-05", id="lands on 1/9/2022 fwd"),
    # 2/8 + 1 month = 2/9/2022 Fri -> Mon 5/9
    pytest.param("2022-08-02", 1, MONTHS, F, "2022-09-05", id="lands on 2/9/2022 fwd"),
    # 1/9/2022 Thu backward -> Wed 31/8
    pytest.param("2022-08-01", 1, MONTHS, B, "2022-08-31", id="lands on 1/9/2022 bwd"),
    # 18/8 (Thu) + 2 weeks = Thu 1/9/2022 -> Mon 5/9
    pytest.param("2022-08-18", 2, WEEKS, None, "2022-09-05", id="2 weeks onto 1/9/2022"),
    # 4/4 + 30 = 34/4 = 4/5/2024, the make-up Saturday: a working day, no roll
    pytest.param("2024-04-04", 30, DAYS, None, "2024-05-04", id="ends on Sat 4/5/2024"),
    pytest.param("2024-04-04", 30, DAYS, B, "2024-05-04", id="ends on Sat 4/5/2024 bwd"),
    # 27/3 + 30 = 57/3 = 26/4/2025, the make-up Saturday: stays
    pytest.param("2025-03-27", 30, DAYS, None, "2025-04-26", id="ends on Sat 26/4/2025"),
    # 26/3 + 1 month = 26/4/2025 make-up Saturday: stays
    pytest.param("2025-03-26", 1, MONTHS, None, "2025-04-26", id="1 month to Sat 26/4/2025"),
    # 28/3 + 30 = 27/4/2024 ordinary Sat; 28 Sun, 29 swap, 30/4, 1/5 -> Thu 2/5
    pytest.param("2024-03-28", 30, DAYS, None, "2024-05-02", id="ordinary Sat 27/4/2024 fwd"),
    pytest.param("2024-03-28", 30, DAYS, B, "2024-04-26", id="ordinary Sat 27/4/2024 bwd"),
    # 5/4 + 3 weeks = Sat 26/4/2025 make-up: stays
    pytest.param("2025-04-05", 3, WEEKS, None, "2025-04-26", id="3 weeks to Sat 26/4/2025"),
    # 28/4/2025 Mon + 4 days = 2/5 Fri (swap day off); 3-4/5 weekend -> Mon 5/5
    pytest.param("2025-04-28", 4, DAYS, None, "2025-05-05", id="lands on 2/5/2025 swap"),
    # Tết 2025: 17/1 + 10 = 27/1 Mon; off to Sun 2/2 -> Mon 3/2
    pytest.param("2025-01-17", 10, DAYS, None, "2025-02-03", id="lands on Tet 2025 fwd"),
    pytest.param("2025-01-17", 10, DAYS, B, "2025-01-24", id="lands on Tet 2025 bwd"),
    # Months: 31/1 + 1 month: February has no 31st -> its last day, Mon 28/2/2022
    pytest.param("2022-01-31", 1, MONTHS, None, "2022-02-28", id="31/1/2022 + 1 month"),
    # 2023 likewise: Tue 28/2/2023
    pytest.param("2023-01-31", 1, MONTHS, None, "2023-02-28", id="31/1/2023 + 1 month"),
    # leap 2024: 31/1 + 1 month = 29/2/2024 Thu, working
    pytest.param("2024-01-31", 1, MONTHS, None, "2024-02-29", id="31/1/2024 + 1 month leap"),
    # 31/12/2023 + 2 months = 29/2/2024 Thu
    pytest.param("2023-12-31", 2, MONTHS, None, "2024-02-29", id="31/12/2023 + 2 months"),
    # 31/8 + 3 months = 30/11/2022 (Nov has 30 days), Wed
    pytest.param("2022-08-31", 3, MONTHS, None, "2022-11-30", id="31/8/2022 + 3 months"),
    # 31/3 + 1 month = 30/4/2022 Sat holiday -> Wed 4/5; backward Fri 29/4; none 30/4
    pytest.param("2022-03-31", 1, MONTHS, F, "2022-05-04", id="31/3/2022 + 1 month fwd"),
    pytest.param("2022-03-31", 1, MONTHS, B, "2022-04-29", id="31/3/2022 + 1 month bwd"),
    pytest.param("2022-03-31", 1, MONTHS, N, "2022-04-30", id="31/3/2022 + 1 month none"),
    # 15/6 + 12 months = 15/6/2023 Thu
    pytest.param("2022-06-15", 12, MONTHS, None, "2023-06-15", id="12 months"),
    # Weeks: Fri 15/7 + 2 weeks = Fri 29/7/2022
    pytest.param("2022-07-15", 2, WEEKS, None, "2022-07-29", id="2 weeks plain"),
    # Fri 13/1 + 1 week = Fri 20/1/2023 (Tết); off to 26/1 -> Fri 27/1
    pytest.param("2023-01-13", 1, WEEKS, None, "2023-01-27", id="1 week onto Tet 2023"),
    pytest.param("2023-01-13", 1, WEEKS, B, "2023-01-19", id="1 week onto Tet 2023 bwd"),
    # 0 days from a Sunday: the Sunday itself, rolled forward to Mon 1/8/2022
    pytest.param("2022-07-31", 0, DAYS, None, "2022-08-01", id="0 days from Sunday"),
    # Working days. Fri 28/1/2022 + 1: 29/1-6/2 off -> Mon 7/2
    pytest.param("2022-01-28", 1, WDAYS, None, "2022-02-07", id="1 wd across Tet 2022"),
    # Thu 27/1 + 3: Fri 28/1 (1), Mon 7/2 (2), Tue 8/2 (3)
    pytest.param("2022-01-27", 3, WDAYS, None, "2022-02-08", id="3 wd across Tet 2022"),
    # Wed 7/2/2024 + 5: 8-14/2 off; 15 (1), 16 (2), 19 (3), 20 (4), 21 (5)
    pytest.param("2024-02-07", 5, WDAYS, None, "2024-02-21", id="5 wd across Tet 2024"),
    # Fri 24/1/2025 + 1: 25/1-2/2 off -> Mon 3/2
    pytest.param("2025-01-24", 1, WDAYS, None, "2025-02-03", id="1 wd across Tet 2025"),
    # Fri 26/4/2024 + 1: 27 Sat, 28 Sun, 29 swap, 30/4, 1/5 off -> Thu 2/5
    pytest.param("2024-04-26", 1, WDAYS, None, "2024-05-02", id="1 wd across 2024 swap"),
    # ... + 2 -> Fri 3/5; + 3 -> Sat 4/5 (make-up); + 4 -> Mon 6/5
    pytest.param("2024-04-26", 2, WDAYS, None, "2024-05-03", id="2 wd across 2024 swap"),
    pytest.param("2024-04-26", 3, WDAYS, None, "2024-05-04", id="3 wd to make-up Sat"),
    pytest.param("2024-04-26", 4, WDAYS, None, "2024-05-06", id="4 wd past make-up Sat"),
    # Fri 3/5/2024 + 1 -> Sat 4/5/2024 (make-up working day)
    pytest.param("2024-05-03", 1, WDAYS, None, "2024-05-04", id="Fri 3/5/2024 + 1 wd"),
    # Fri 25/4/2025 + 1 -> Sat 26/4 (make-up); + 2 -> Mon 28/4
    pytest.param("2025-04-25", 1, WDAYS, None, "2025-04-26", id="Fri 25/4/2025 + 1 wd"),
    pytest.param("2025-04-25", 2, WDAYS, None, "2025-04-28", id="Fri 25/4/2025 + 2 wd"),
    # Tue 29/4/2025 + 1: 30/4, 1/5, 2/5 off, 3-4/5 weekend -> Mon 5/5
    pytest.param("2025-04-29", 1, WDAYS, None, "2025-05-05", id="1 wd across 2025 swap"),
    # Start on a holiday Fri 2/9/2022 + 1: 3-4/9 weekend -> Mon 5/9
    pytest.param("2022-09-02", 1, WDAYS, None, "2022-09-05", id="1 wd from a holiday"),
    # 0 working days: the start itself, even a Sunday (default roll none)
    pytest.param("2022-07-31", 0, WDAYS, None, "2022-07-31", id="0 wd from Sunday"),
    # Wed 31/12/2025 + 1: 1/1 holiday, 2/1 off (shipped swap), 3-4/1 weekend -> Mon 5/1/2026
    pytest.param("2025-12-31", 1, WDAYS, None, "2026-01-05", id="1 wd across New Year 2026"),
    # Fri 9/1/2026 + 1 -> Sat 10/1/2026 (make-up, shipped swap)
    pytest.param("2026-01-09", 1, WDAYS, None, "2026-01-10", id="1 wd to Sat 10/1/2026"),
    # Fri 13/2/2026 + 1: 14-22/2 off (Tết 16-20/2) -> Mon 23/2
    pytest.param("2026-02-13", 1, WDAYS, None, "2026-02-23", id="1 wd across Tet 2026"),
    # Fri 24/4/2026 + 2: 27/4 in lieu -> Tue 28/4 (1), Wed 29/4 (2)
    pytest.param("2026-04-24", 2, WDAYS, None, "2026-04-29", id="2 wd across 27/4/2026"),
    # Wed 29/4/2026 + 1: 30/4, 1/5 off, 2-3/5 weekend -> Mon 4/5
    pytest.param("2026-04-29", 1, WDAYS, None, "2026-05-04", id="1 wd across 30/4/2026"),
]


@pytest.mark.parametrize("start, n, unit, roll, due", SPANS)
def test_add_span(cal, start, n, unit, roll, due):
    assert add_span(cal, d(start), Span(n, unit), roll) == d(due)


@pytest.mark.parametrize(
    "start, n, due",
    [
        # For the package alone 2/1/2026 is a plain Friday: Wed 31/12/2025 + 1 -> Fri 2/1
        pytest.param("2025-12-31", 1, "2026-01-02", id="New Year 2026 package alone"),
        # ... and 10/1/2026 a plain Saturday: Fri 9/1 + 1 -> Mon 12/1
        pytest.param("2026-01-09", 1, "2026-01-12", id="Sat 10/1/2026 package alone"),
    ],
)
def test_add_working_days_package_alone(package_cal, start, n, due):
    assert add_span(package_cal, d(start), Span(n, WDAYS)) == d(due)


# --------------------------------------------------------------------------- calendar ops
@pytest.mark.parametrize(
    "start, n, result",
    [
        # Mon 7/2/2022 - 1: 6/2 back to 29/1 off -> Fri 28/1
        pytest.param("2022-02-07", -1, "2022-01-28", id="-1 across Tet 2022"),
        # Mon 6/5/2024 - 1 -> Sat 4/5 (make-up)
        pytest.param("2024-05-06", -1, "2024-05-04", id="-1 to make-up Sat 2024"),
        # Mon 6/5/2024 - 3: 4/5 (1), 3/5 (2), 2/5 (3)
        pytest.param("2024-05-06", -3, "2024-05-02", id="-3 across make-up Sat"),
        # Thu 2/5/2024 - 1: 1/5, 30/4, 29/4 off, 28, 27 weekend -> Fri 26/4
        pytest.param("2024-05-02", -1, "2024-04-26", id="-1 across 2024 swap"),
        # Sun 31/7/2022 - 1 -> Fri 29/7
        pytest.param("2022-07-31", -1, "2022-07-29", id="-1 from Sunday"),
        # 0 -> the day itself
        pytest.param("2022-07-31", 0, "2022-07-31", id="0 from Sunday"),
    ],
)
def test_add_working_days_signed(cal, start, n, result):
    assert cal.add_working_days(d(start), n) == d(result)


@pytest.mark.parametrize(
    "day, result",
    [
        # Sat 30/7/2022 ("trước ngày 30/7") -> Fri 29/7
        pytest.param("2022-07-30", "2022-07-29", id="before Sat 30/7/2022"),
        # strictly before: Fri 29/7/2022 itself is working -> Thu 28/7
        pytest.param("2022-07-29", "2022-07-28", id="before working Fri"),
        # Wed 4/5/2022: 3/5, 2/5 in lieu, 1/5 Sun, 30/4 Sat -> Fri 29/4
        pytest.param("2022-05-04", "2022-04-29", id="before 4/5/2022"),
        # Tue 3/5/2022 -> Fri 29/4
        pytest.param("2022-05-03", "2022-04-29", id="before 3/5/2022"),
        # Mon 7/2/2022 -> Fri 28/1 (Tết)
        pytest.param("2022-02-07", "2022-01-28", id="before end of Tet 2022"),
        # Tue 3/1/2023: 2/1 in lieu, 1/1 Sun, 31/12 Sat -> Fri 30/12/2022
        pytest.param("2023-01-03", "2022-12-30", id="before 3/1/2023 over year end"),
        # Mon 6/5/2024 -> Sat 4/5/2024 (make-up)
        pytest.param("2024-05-06", "2024-05-04", id="before 6/5/2024 is make-up Sat"),
        # Mon 5/1/2026 : 4, 3 weekend, 2/1 swapped off, 1/1 -> Wed 31/12/2025
        pytest.param("2026-01-05", "2025-12-31", id="before 5/1/2026 shipped swap"),
        # Mon 12/1/2026: 11 Sun -> Sat 10/1 (make-up, shipped swap)
        pytest.param("2026-01-12", "2026-01-10", id="before 12/1/2026 shipped swap"),
    ],
)
def test_last_working_day_before(cal, day, result):
    assert cal.last_working_day_before(d(day)) == d(result)


def test_last_working_day_before_package_alone(package_cal):
    # For the package alone Fri 2/1/2026 is working: before Mon 5/1/2026 -> Fri 2/1
    assert package_cal.last_working_day_before(d("2026-01-05")) == d("2026-01-02")


@pytest.mark.parametrize(
    "day, nxt, prev",
    [
        # working: itself both ways
        pytest.param("2022-07-29", "2022-07-29", "2022-07-29", id="working Fri"),
        # Sun 10/4/2022: 11/4 in lieu -> Tue 12/4; back -> Fri 8/4
        pytest.param("2022-04-10", "2022-04-12", "2022-04-08", id="Hung Vuong 2022"),
        # Wed 1/2/2022 (Tết) -> Mon 7/2; back -> Fri 28/1
        pytest.param("2022-02-01", "2022-02-07", "2022-01-28", id="Tet 2022"),
        # Mon 29/4/2024 (swap) -> Thu 2/5; back -> Fri 26/4
        pytest.param("2024-04-29", "2024-05-02", "2024-04-26", id="swap 29/4/2024"),
        # Sat 4/5/2024 make-up: itself
        pytest.param("2024-05-04", "2024-05-04", "2024-05-04", id="make-up Sat 2024"),
        # Sun 5/5/2024 -> Mon 6/5; back -> Sat 4/5
        pytest.param("2024-05-05", "2024-05-06", "2024-05-04", id="Sun after make-up Sat"),
    ],
)
def test_next_and_previous_working_day(cal, day, nxt, prev):
    assert cal.next_working_day(d(day)) == d(nxt)
    assert cal.previous_working_day(d(day)) == d(prev)


@pytest.mark.parametrize(
    "a, b, n",
    [
        # (Fri 28/1, Mon 7/2/2022]: only 7/2
        pytest.param("2022-01-28", "2022-02-07", 1, id="across Tet 2022"),
        # (Fri 26/4, Mon 6/5/2024]: 2/5, 3/5, 4/5 (Sat), 6/5
        pytest.param("2024-04-26", "2024-05-06", 4, id="across the 2024 swap"),
        # (Sun 31/7, Sun 7/8/2022]: Mon-Fri 1-5/8
        pytest.param("2022-07-31", "2022-08-07", 5, id="plain week"),
        # empty interval
        pytest.param("2022-07-29", "2022-07-29", 0, id="same day"),
        # reversed: minus the working days in (28/1, 7/2]
        pytest.param("2022-02-07", "2022-01-28", -1, id="reversed"),
    ],
)
def test_working_days_between(cal, a, b, n):
    assert cal.working_days_between(d(a), d(b)) == n


# --------------------------------------------------------------------------- periods
@pytest.mark.parametrize(
    "period, last",
    [
        # 31/3/2022 is a Thursday, working
        pytest.param("2022-Q1", "2022-03-31", id="2022-Q1"),
        # 31/12/2022 Sat -> Fri 30/12
        pytest.param("2022", "2022-12-30", id="2022"),
        # 30/6/2022 Thu, working
        pytest.param("2022-H1", "2022-06-30", id="2022-H1"),
        # 30/4/2022 Sat holiday -> Fri 29/4
        pytest.param("2022-04", "2022-04-29", id="2022-04"),
        # 30/9/2022 Fri, working
        pytest.param("2022-Q3", "2022-09-30", id="2022-Q3"),
        # 31/12/2023 Sun, 30 Sat -> Fri 29/12/2023
        pytest.param("2023-12", "2023-12-29", id="2023-12"),
        # 30/4/2023 Sun, 29/4 Sat (Giỗ Tổ) -> Fri 28/4
        pytest.param("2023-04", "2023-04-28", id="2023-04"),
        # 30/6/2024 Sun, 29 Sat -> Fri 28/6
        pytest.param("2024-Q2", "2024-06-28", id="2024-Q2"),
        # 31/5/2024 Fri, working
        pytest.param("2024-05", "2024-05-31", id="2024-05"),
        # 31/1/2025 Fri Tết, 27-30/1 Tết, 25-26 weekend -> Fri 24/1
        pytest.param("2025-01", "2025-01-24", id="2025-01 ends in Tet"),
        # 30/6/2025 Mon, working
        pytest.param("2025-H1", "2025-06-30", id="2025-H1"),
    ],
)
def test_last_working_day_of(cal, period, last):
    assert last_working_day_of(cal, parse_period(period)) == d(last)


@pytest.mark.parametrize(
    "period, first",
    [
        # 1/1/2022 Sat, 2 Sun, 3 Mon in lieu -> Tue 4/1
        pytest.param("2022", "2022-01-04", id="2022"),
        # 1/1/2023 Sun, 2 Mon in lieu -> Tue 3/1
        pytest.param("2023", "2023-01-03", id="2023"),
        # 1/4/2022 Fri, working
        pytest.param("2022-Q2", "2022-04-01", id="2022-Q2"),
        # 1/5/2022 Sun, 2-3 in lieu -> Wed 4/5
        pytest.param("2022-05", "2022-05-04", id="2022-05"),
        # 1-2/9/2022 holiday, 3-4 weekend -> Mon 5/9
        pytest.param("2022-09", "2022-09-05", id="2022-09"),
        # 1/7/2023 Sat, 2 Sun -> Mon 3/7
        pytest.param("2023-H2", "2023-07-03", id="2023-H2"),
        # 1/1/2026 holiday, 2/1 swapped off, 3-4 weekend -> Mon 5/1
        pytest.param("2026-01", "2026-01-05", id="2026-01 shipped swap"),
    ],
)
def test_first_working_day_of(cal, period, first):
    assert first_working_day_of(cal, parse_period(period)) == d(first)


def test_first_working_day_of_2026_package_alone(package_cal):
    # For the package alone Fri 2/1/2026 is the first working day of 2026
    assert first_working_day_of(package_cal, parse_period("2026")) == d("2026-01-02")


@pytest.mark.parametrize(
    "text, start, end, key",
    [
        pytest.param("2022-Q1", "2022-01-01", "2022-03-31", "2022-Q1", id="quarter"),
        pytest.param("2022", "2022-01-01", "2022-12-31", "2022", id="year"),
        pytest.param("2022-06", "2022-06-01", "2022-06-30", "2022-06", id="month"),
        pytest.param("2022-H1", "2022-01-01", "2022-06-30", "2022-H1", id="half"),
        pytest.param("2024-02", "2024-02-01", "2024-02-29", "2024-02", id="leap February"),
        pytest.param("2022-H2", "2022-07-01", "2022-12-31", "2022-H2", id="second half"),
    ],
)
def test_parse_period(text, start, end, key):
    p = parse_period(text)
    assert (p.start, p.end, p.key) == (d(start), d(end), key)
