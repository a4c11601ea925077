"""Shared calendars for the unit tests of the working calendar."""

from __future__ import annotations

import pytest

from engine.core.calendar import WorkingCalendar, vietnam_year


@pytest.fixture(scope="session")
def cal() -> WorkingCalendar:
    """The calendar as shipped: the `holidays` package plus the shipped swap decisions
    (engine/core/calendar_corrections.py), no config/calendar.yaml."""
    return WorkingCalendar()


@pytest.fixture(scope="session")
def package_cal() -> WorkingCalendar:
    """The calendar of the installed `holidays` package alone, without the shipped
    corrections (0.109 lacks the New Year 2026 swap, Công văn 12729/VPCP-KGVX)."""
    return WorkingCalendar(source=lambda year: vietnam_year(year, swaps=()))
