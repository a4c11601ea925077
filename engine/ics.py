"""An iCalendar (RFC 5545) file of deadlines, for ``hanchot plan --format ics``.

One all-day ``VEVENT`` per deadline (``DTSTART;VALUE=DATE`` = due date, ``DTEND`` =
the next day, as Outlook and Google Calendar expect for all-day events), ``UID``
``{rule}/{key}@hanchot`` — the same UID the reminder mails attach — so importing a
newer plan updates the events instead of duplicating them. The description names
the lead and coordinating units and the expected result ("Kết quả").
Pure: ``dtstamp`` (the instant the file is made) is an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import icalendar

#: PRODID of every calendar hanchot writes (RFC 5545 §3.7.3).
PRODID = "-//hanchot//Nhac han kiem soat TTHC//VI"


def uid_of(rule: str, key: str) -> str:
    """The stable calendar UID of the deadline ``(rule, key)``."""
    return f"{rule}/{key}@hanchot"


def description(row: Mapping[str, Any]) -> str:
    """The event's text: units, expected result, plan row and legal basis (Vietnamese)."""
    lines = [f"Đơn vị chủ trì: {row.get('lead_name') or row['lead']}"]
    coord = row.get("coordinating_names") or row.get("coordinating") or []
    if coord:
        lines.append(f"Đơn vị phối hợp: {', '.join(coord)}")
    if row.get("output"):
        lines.append(f"Kết quả: {row['output']}")
    if row.get("plan_item"):
        lines.append(f"Mục kế hoạch: {row['plan_item']}")
    if row.get("basis"):
        lines.append(f"Căn cứ: {row['basis']}")
    lines.append(f"Mã hạn: {row['rule']} {row['key']}")
    return "\n".join(lines)


def plan_ics(rows: Iterable[Mapping[str, Any]], dtstamp: datetime, name: str = "") -> bytes:
    """The calendar of ``rows`` (as :func:`engine.report.plan_rows` makes them).

    ``dtstamp`` must be aware; a naive datetime raises :class:`ValueError`.
    """
    if dtstamp.tzinfo is None or dtstamp.utcoffset() is None:
        raise ValueError(f"dtstamp must be timezone-aware, got naive {dtstamp}")
    stamp = dtstamp.astimezone(UTC)
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    if name:
        cal.add("x-wr-calname", name)
    for row in rows:
        due = row["due"]
        if isinstance(due, str):
            due = date.fromisoformat(due)
        event = icalendar.Event()
        event.add("uid", uid_of(row["rule"], row["key"]))
        event.add("dtstamp", stamp)
        event.add("dtstart", due)
        event.add("dtend", due + timedelta(days=1))
        event.add("summary", row["title"])
        event.add("description", description(row))
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal.to_ical()


__all__ = ["PRODID", "plan_ics", "uid_of"]
