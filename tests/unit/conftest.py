"""Shared calendars for the unit tests of the working calendar."""

from __future__ import annotations

from datetime import date

import pytest

from engine.core.calendar import WorkingCalendar

#: What config/calendar.yaml adds for 2026 (Công văn 12729/VPCP-KGVX): the `holidays`
#: package does not know that 02/01/2026 is off and Saturday 10/01/2026 is worked.
OFF_2026 = {
    date(2026, 1, 2): "Nghỉ Tết Dương lịch 2026, hoán đổi với thứ Bảy 10/01/2026 "
    "(Công văn số 12729/VPCP-KGVX)"
}
WORK_2026 = {date(2026, 1, 10): "Làm bù cho ngày 02/01/2026 (Công văn số 12729/VPCP-KGVX)"}


@pytest.fixture(scope="session")
def cal() -> WorkingCalendar:
    """The calendar with the config extras of 2026 (as config/calendar.yaml has them)."""
    return WorkingCalendar(extra_days_off=OFF_2026, extra_working_days=WORK_2026)


@pytest.fixture(scope="session")
def bare_cal() -> WorkingCalendar:
    """The calendar of the `holidays` package alone, without config/calendar.yaml."""
    return WorkingCalendar()
