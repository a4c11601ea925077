"""Periods of a plan: a year (``2022``), half (``2022-H1``), quarter (``2022-Q1``)
or month (``2022-06``), with their first and last day and their key."""

from __future__ import annotations

import calendar as _cal
import re
from dataclasses import dataclass
from datetime import date

from engine.errors import InputError
from engine.i18n import _

KINDS = ("month", "quarter", "half", "year")
#: Months in one period of each kind.
MONTHS_IN = {"month": 1, "quarter": 3, "half": 6, "year": 12}

_RE = re.compile(r"^(\d{4})(?:-(?:(Q)([1-4])|(H)([12])|(\d{2})))?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """``kind`` is month|quarter|half|year; ``index`` is 1-based within the year."""

    year: int
    kind: str
    index: int

    @property
    def first_month(self) -> int:
        return (self.index - 1) * MONTHS_IN[self.kind] + 1

    @property
    def start(self) -> date:
        return date(self.year, self.first_month, 1)

    @property
    def end(self) -> date:
        last_month = self.first_month + MONTHS_IN[self.kind] - 1
        return date(self.year, last_month, _cal.monthrange(self.year, last_month)[1])

    @property
    def key(self) -> str:
        """The occurrence key: ``2022``, ``2022-H1``, ``2022-Q2``, ``2022-07``."""
        if self.kind == "year":
            return str(self.year)
        if self.kind == "half":
            return f"{self.year}-H{self.index}"
        if self.kind == "quarter":
            return f"{self.year}-Q{self.index}"
        return f"{self.year}-{self.index:02d}"

    def __str__(self) -> str:
        return self.key

    def next(self) -> Period:
        per_year = 12 // MONTHS_IN[self.kind]
        if self.index < per_year:
            return Period(self.year, self.kind, self.index + 1)
        return Period(self.year + 1, self.kind, 1)

    @classmethod
    def containing(cls, kind: str, d: date) -> Period:
        return cls(d.year, kind, (d.month - 1) // MONTHS_IN[kind] + 1)


def parse_period(text: str | int) -> Period:
    """``2022`` | ``2022-H1`` | ``2022-Q3`` | ``2022-06``; InputError otherwise."""
    m = _RE.match(str(text).strip())
    if not m:
        raise InputError(
            _("period {text!r} is not YYYY, YYYY-Qn, YYYY-Hn or YYYY-MM (e.g. 2022-Q1)").format(
                text=text
            )
        )
    year = int(m.group(1))
    if m.group(2):
        return Period(year, "quarter", int(m.group(3)))
    if m.group(4):
        return Period(year, "half", int(m.group(5)))
    if m.group(6):
        month = int(m.group(6))
        if not 1 <= month <= 12:
            raise InputError(
                _("period {text!r}: month {month} does not exist").format(text=text, month=month)
            )
        return Period(year, "month", month)
    return Period(year, "year", 1)
