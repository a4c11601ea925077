"""``hanchot calendar YEAR``: every day of a year that differs from the plain week.

Each non-working weekday and each working weekend day, with its name and where it
comes from — a rule of the ``holidays`` package, a swap decision shipped with hanchot
(with its document number), or the local ``calendar.yaml`` — and marked where the
package labels it estimated or where its legal status is unsettled (policy-only), so
that an admin can confirm the year against the official notice in a minute and
override a day in ``calendar.yaml``. The clock is read here only for the ``.ics``
DTSTAMP.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from engine.cli import DEFAULT_CONFIG, DEFAULT_RULES, ConfigOpt, RulesOpt, _out, app
from engine.core.calendar import (
    FIRST_YEAR,
    LAST_YEAR,
    SOURCE_CORRECTION,
    SOURCE_LOCAL,
    DayEntry,
    format_vi,
    weekday_vi,
)
from engine.errors import InputError
from engine.i18n import _

FORMATS = ("table", "json", "ics")


def _holidays_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("holidays")
    except PackageNotFoundError:  # pragma: no cover - it is a dependency
        return ""


def source_text(e: DayEntry, version: str) -> str:
    """Where ``e`` comes from, for people."""
    if e.source == SOURCE_LOCAL:
        return _("local calendar.yaml")
    if e.source == SOURCE_CORRECTION:
        return _("shipped correction: {document}").format(document=e.document)
    if e.document:
        return _("holidays {version} package rule; {document}").format(
            version=version, document=e.document
        )
    return _("holidays {version} package rule").format(version=version)


def marks_text(e: DayEntry) -> str:
    """The warnings on ``e`` for people: estimated, policy-only, what a local entry replaces."""
    marks = []
    if e.estimated:
        marks.append(_("ESTIMATED by the holidays package"))
    if e.status == "policy-only":
        marks.append(_("POLICY-ONLY: confirm against the official notice"))
    if e.source == SOURCE_LOCAL and e.note:
        marks.append(e.note)
    return "; ".join(marks)


def entries_json(year: int, entries: list[DayEntry], version: str) -> dict:
    """The machine-readable calendar: ISO dates, source codes, flags."""
    return {
        "year": year,
        "holidays_version": version,
        "days": [
            {
                "date": e.date.isoformat(),
                "weekday": weekday_vi(e.date),
                "working": e.working,
                "name": e.name,
                "source": e.source,
                "document": e.document,
                "estimated": e.estimated,
                "status": e.status,
                "note": e.note,
            }
            for e in entries
        ],
    }


def entries_ics(year: int, entries: list[DayEntry], version: str, dtstamp: datetime) -> bytes:
    """An RFC 5545 calendar: one all-day event per entry, UID ``calendar/DATE@hanchot``."""
    import icalendar

    from engine.ics import PRODID

    if dtstamp.tzinfo is None or dtstamp.utcoffset() is None:
        raise ValueError(f"dtstamp must be timezone-aware, got naive {dtstamp}")
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Lịch làm việc {year}")
    for e in entries:
        ev = icalendar.Event()
        ev.add("uid", f"calendar/{e.date.isoformat()}@hanchot")
        ev.add("dtstamp", dtstamp.astimezone(UTC))
        ev.add("dtstart", e.date)
        ev.add("dtend", e.date + timedelta(days=1))
        word = "Làm việc" if e.working else "Nghỉ"
        ev.add("summary", f"{word}: {e.name}")
        lines = [source_text(e, version)]
        marks = marks_text(e)
        if marks:
            lines.append(marks)
        if e.note and e.source != SOURCE_LOCAL:
            lines.append(e.note)
        ev.add("description", "\n".join(lines))
        ev.add("transp", "TRANSPARENT" if e.working else "OPAQUE")
        cal.add_component(ev)
    return cal.to_ical()


def entries_table(year: int, entries: list[DayEntry], version: str) -> list[str]:
    """Plain text lines: one row per day (date, status, name, source, marks), then notes."""
    header = (_("Date"), _("Status"), _("Name"), _("Source"), _("Check"))
    rows = [
        (
            format_vi(e.date),
            _("working day") if e.working else _("day off"),
            e.name,
            source_text(e, version),
            marks_text(e),
        )
        for e in entries
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = [_("Working calendar {year}").format(year=year)]
    for r in [header, *rows]:
        cells = [r[i].ljust(widths[i]) for i in range(4)]
        lines.append("  ".join([*cells, r[4]]).rstrip())
    notes = [e for e in entries if e.note and e.source != SOURCE_LOCAL]
    for e in notes:
        lines.append(f"* {format_vi(e.date)}: {e.note}")
    lines.append(
        _(
            "Confirm each day against the official notice; override a day in "
            "config/calendar.yaml (extra_days_off / extra_working_days)."
        )
    )
    return lines


@app.command("calendar")
def calendar_cmd(
    year: Annotated[int, typer.Argument(help="The year, e.g. 2026.")],
    fmt: Annotated[str, typer.Option("--format", help="table | json | ics")] = "table",
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Every non-working weekday and working weekend day of YEAR, with name and source.

    Only ``calendar.yaml`` of ``--config`` is read; ``--rules`` is accepted like every
    command's (SPEC §5) and not used.
    """
    import sys

    from engine.loader.calendar_file import load_calendar

    if fmt not in FORMATS:
        raise InputError(
            _("unknown --format {fmt!r}; use {formats}").format(fmt=fmt, formats=", ".join(FORMATS))
        )
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InputError(
            _("year {year} is outside the Vietnamese calendar ({first}–{last})").format(
                year=year, first=FIRST_YEAR, last=LAST_YEAR
            )
        )
    cal = load_calendar(config)
    entries = cal.year_entries(year)
    version = _holidays_version()
    if fmt == "json":
        _out(json.dumps(entries_json(year, entries, version), ensure_ascii=False, indent=2))
    elif fmt == "ics":
        sys.stdout.flush()
        sys.stdout.buffer.write(entries_ics(year, entries, version, datetime.now(UTC)))
        sys.stdout.buffer.flush()
    else:
        for line in entries_table(year, entries, version):
            _out(line)
