"""The Government's swap decisions shipped with hanchot (issue 7, point 8).

Each expected date is worked out by hand from the official announcement cited in
engine/core/calendar_corrections.py and Bộ luật Dân sự 2015 Điều 147 (counting starts
the day after), with the reasoning beside it. An *older* ``holidays`` release is
emulated by removing the decisions it did not yet have (0.105 had the 2024 swap only;
0.60–0.105 are identical on these years; no release up to 0.109 has the New Year 2026
swap): with the shipped corrections the answer is the same, without them it is wrong.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from engine.core.calendar import (
    SOURCE_CORRECTION,
    SOURCE_LOCAL,
    SOURCE_PACKAGE,
    WorkingCalendar,
    merge_year,
    package_year,
    vietnam_year,
)
from engine.core.calendar_corrections import SWAPS, Swap
from engine.core.spans import Span, Unit, add_span


def d(s: str) -> date:
    return date.fromisoformat(s)


def older_package(known: set[date]):
    """The installed package's data without the swap days not in ``known``."""
    swap_days = {s.day_off for s in SWAPS} | {s.make_up for s in SWAPS}

    def package(year: int):
        off, work, est = package_year(year)
        drop = swap_days - known
        return (
            {k: v for k, v in off.items() if k not in drop},
            {k for k in work if k not in drop},
            est,
        )

    return package


def swap_of(day_off: str) -> Swap:
    return next(s for s in SWAPS if s.day_off == d(day_off))


# (swap day off, start, n working days, due, reasoning)
CASES = [
    # 2024, Công văn 2450/VPCP-KGVX: Mon 29/4 off, Sat 4/5 worked.
    # Fri 26/4 + 1: Sat 27, Sun 28, Mon 29 (swap), Tue 30/4, Wed 1/5 off -> Thu 2/5.
    pytest.param("2024-04-29", "2024-04-26", 1, "2024-05-02", id="2024 day off"),
    # Fri 3/5/2024 + 1 -> Sat 4/5, the make-up day.
    pytest.param("2024-04-29", "2024-05-03", 1, "2024-05-04", id="2024 make-up Sat"),
    # 2025, Thông báo 6150/TB-BLĐTBXH: Fri 2/5 off, Sat 26/4 worked.
    # Tue 29/4 + 1: Wed 30/4, Thu 1/5 holidays, Fri 2/5 (swap), Sat 3, Sun 4 -> Mon 5/5.
    pytest.param("2025-05-02", "2025-04-29", 1, "2025-05-05", id="2025 day off"),
    # Fri 25/4/2025 + 1 -> Sat 26/4, the make-up day.
    pytest.param("2025-05-02", "2025-04-25", 1, "2025-04-26", id="2025 make-up Sat"),
    # New Year 2026, Công văn 12729/VPCP-KGVX: Fri 2/1 off, Sat 10/1 worked.
    # Wed 31/12/2025 + 1: Thu 1/1 holiday, Fri 2/1 (swap), Sat 3, Sun 4 -> Mon 5/1.
    pytest.param("2026-01-02", "2025-12-31", 1, "2026-01-05", id="2026-01 day off"),
    # Fri 9/1/2026 + 1 -> Sat 10/1, the make-up day.
    pytest.param("2026-01-02", "2026-01-09", 1, "2026-01-10", id="2026-01 make-up Sat"),
    # Quốc khánh 2026: 2/9 Wed and 1/9 Tue holidays; Mon 31/8 off, Sat 22/8 worked.
    # Fri 28/8 + 1: Sat 29, Sun 30, Mon 31 (swap), Tue 1/9, Wed 2/9 -> Thu 3/9.
    pytest.param("2026-08-31", "2026-08-28", 1, "2026-09-03", id="2026-09 day off"),
    # Fri 21/8/2026 + 1 -> Sat 22/8, the make-up day.
    pytest.param("2026-08-31", "2026-08-21", 1, "2026-08-22", id="2026-09 make-up Sat"),
]


@pytest.mark.parametrize("day_off, start, n, due", CASES)
def test_swap_year_as_shipped(day_off, start, n, due):
    assert add_span(WorkingCalendar(), d(start), Span(n, Unit.WORKING_DAYS)) == d(due)


@pytest.mark.parametrize("day_off, start, n, due", CASES)
def test_swap_year_on_an_older_package(day_off, start, n, due):
    # An older release that lacks this decision: the shipped correction supplies it.
    old = older_package(known=set())
    shipped = WorkingCalendar(source=lambda y: vietnam_year(y, package=old))
    assert add_span(shipped, d(start), Span(n, Unit.WORKING_DAYS)) == d(due)
    # Without the shipped corrections that older release gives another date, so this
    # test is what fails on it.
    bare = WorkingCalendar(source=lambda y: vietnam_year(y, package=old, swaps=()))
    assert add_span(bare, d(start), Span(n, Unit.WORKING_DAYS)) != d(due)


@pytest.mark.parametrize("day_off", ["2024-04-29", "2025-05-02", "2026-08-31"])
def test_installed_package_has_the_swaps_of_its_lower_bound(day_off):
    # pyproject.toml requires holidays>=0.106, the first release with the 2025 and
    # 2026 (Quốc khánh) swaps; 0.60-0.105 have only 2024's. This fails on an older one.
    swap = swap_of(day_off)
    off, work, _ = package_year(swap.day_off.year)
    assert swap.day_off in off
    assert swap.make_up in package_year(swap.make_up.year)[1]


def test_pyproject_lower_bound_is_0_106():
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text("utf-8")
    assert re.search(r'"holidays>=0\.106,<1"', text)


def test_new_year_2026_is_a_shipped_correction_not_the_package():
    # No holidays release up to 0.109 has Công văn 12729/VPCP-KGVX.
    data = vietnam_year(2026)
    assert data.entries[d("2026-01-02")].source == SOURCE_CORRECTION
    assert data.entries[d("2026-01-10")].source == SOURCE_CORRECTION
    assert "12729/VPCP-KGVX" in data.entries[d("2026-01-02")].document


def test_a_swap_the_package_has_is_not_added_twice_and_cites_the_document():
    data = vietnam_year(2025)
    e = data.entries[d("2025-05-02")]
    assert e.source == SOURCE_PACKAGE
    assert "6150/TB-BLĐTBXH" in e.document
    # The package's own name is kept.
    assert data.days_off[d("2025-05-02")] == e.name
    assert data.make_up[d("2025-04-26")] == swap_of("2025-05-02").make_up_reason


def test_merge_year_fills_in_what_the_package_lacks():
    swap = Swap(d("2030-01-02"), d("2030-01-05"), "Tết Dương lịch 2030", "Công văn số 1/X")
    data = merge_year(2030, {d("2030-01-01"): "Tết Dương lịch"}, set(), swaps=[swap])
    assert data.days_off[d("2030-01-02")] == swap.off_name
    assert data.make_up == {d("2030-01-05"): swap.make_up_reason}
    assert data.entries[d("2030-01-01")].source == SOURCE_PACKAGE
    assert data.entries[d("2030-01-02")].document == "Công văn số 1/X"


def test_merge_year_marks_estimated_and_unsettled():
    data = merge_year(
        2031,
        {d("2031-01-23"): "Tết Nguyên Đán (dự kiến)", d("2031-11-24"): "Ngày Văn hóa Việt Nam"},
        set(),
        estimated={d("2031-01-23")},
        swaps=(),
    )
    assert data.entries[d("2031-01-23")].estimated
    assert not data.entries[d("2031-11-24")].estimated
    assert data.entries[d("2031-11-24")].status == "policy-only"
    assert "calendar.yaml" in data.entries[d("2031-11-24")].note


def test_package_year_reads_the_estimated_label(monkeypatch):
    # The package labels a date it could not confirm "%s (dự kiến)"; hanchot marks it.
    import holidays

    real = holidays.country_holidays

    def fake(*args, **kwargs):
        vn = real(*args, **kwargs)
        vn[date(2027, 3, 3)] = vn.tr(vn.estimated_label) % "Ngày thử"
        return vn

    monkeypatch.setattr(holidays, "country_holidays", fake)
    off, _, estimated = package_year(2027)
    assert estimated == {date(2027, 3, 3)}
    assert date(2027, 2, 6) in off and date(2027, 2, 6) not in estimated


def test_year_entries_2026():
    # Every non-working weekday and working weekend day of 2026, worked out from the
    # Labour Code Điều 112 and the decisions above: 1/1 Thu; 2/1 Fri (12729); Sat 10/1
    # worked; Tết 16/2 (29 Tết, Mon)-20/2 (Fri); Giỗ Tổ 26/4 is a Sunday -> Mon 27/4;
    # 30/4 Thu, 1/5 Fri; Sat 22/8 worked, Mon 31/8 off; Quốc khánh 2/9 Wed + Tue 1/9;
    # 24/11 Tue (Ngày Văn hóa Việt Nam, policy-only).
    entries = WorkingCalendar().year_entries(2026)
    got = [(e.date.isoformat(), e.working) for e in entries]
    assert got == [
        ("2026-01-01", False),
        ("2026-01-02", False),
        ("2026-01-10", True),
        ("2026-02-16", False),
        ("2026-02-17", False),
        ("2026-02-18", False),
        ("2026-02-19", False),
        ("2026-02-20", False),
        ("2026-04-27", False),
        ("2026-04-30", False),
        ("2026-05-01", False),
        ("2026-08-22", True),
        ("2026-08-31", False),
        ("2026-09-01", False),
        ("2026-09-02", False),
        ("2026-11-24", False),
    ]
    by = {e.date: e for e in entries}
    assert by[d("2026-11-24")].status == "policy-only"
    assert by[d("2026-01-02")].source == SOURCE_CORRECTION


def test_year_entries_local_override_is_listed_with_what_it_replaces():
    cal = WorkingCalendar(
        extra_days_off={d("2026-12-31"): "Nghỉ theo Thông báo của UBND tỉnh"},
        extra_working_days={d("2026-11-24"): "Vẫn làm việc (đã đối chiếu thông báo)"},
    )
    by = {e.date: e for e in cal.year_entries(2026)}
    assert by[d("2026-11-24")].working
    assert by[d("2026-11-24")].source == SOURCE_LOCAL
    assert "Ngày Văn hóa Việt Nam" in by[d("2026-11-24")].note
    assert not by[d("2026-12-31")].working
    assert by[d("2026-12-31")].source == SOURCE_LOCAL
