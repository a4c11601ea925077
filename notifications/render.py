"""Turn a :class:`~notifications.model.Digest` into a MIME message.

The message is ``multipart/mixed``: a ``multipart/alternative`` (plain text, then
HTML, both from Jinja2 templates in ``notifications/templates``) followed by one
``text/calendar; method=PUBLISH`` attachment per item. Everything the reader sees is
Vietnamese; dates are written as officials write them (``Thứ Sáu, 29/07/2022``).
Rendering is pure: the same digest always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import jinja2

from engine.core.calendar import format_vi
from notifications.model import Digest, DigestItem
from notifications.policy import POLICY

#: PRODID of every calendar hanchot writes (RFC 5545 §3.7.3).
PRODID = "-//hanchot//Nhac han kiem soat TTHC//VI"


@cache
def _environment() -> jinja2.Environment:
    # select_autoescape matches the *end* of the template name: "digest.html.j2"
    # ends with ".html.j2" and is escaped, "digest.txt.j2" is not.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("notifications", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2.html", "html.j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def days_left_vi(working_days_left: int) -> str:
    """How far the due date is, in Vietnamese working days.

    ``3`` → ``"còn 3 ngày làm việc"``, ``0`` → ``"đến hạn hôm nay"``,
    ``-2`` → ``"quá hạn 2 ngày làm việc"``.
    """
    if working_days_left > 0:
        return f"còn {working_days_left} ngày làm việc"
    if working_days_left == 0:
        return "đến hạn hôm nay"
    return f"quá hạn {-working_days_left} ngày làm việc"


def subject_for(digest: Digest) -> str:
    """The Vietnamese subject line of ``digest`` (not yet RFC 2047 encoded).

    ``[Quá hạn] 2 việc sắp đến hạn, 1 việc quá hạn — Văn phòng Sở`` when anything is
    overdue, else ``[Nhắc hạn] ...``; a count of zero is left out, items due today
    count as *sắp đến hạn*, and the recipient's name follows the em dash if known.
    """
    upcoming, overdue = digest.upcoming_count, digest.overdue_count
    parts = []
    if upcoming:
        parts.append(f"{upcoming} việc sắp đến hạn")
    if overdue:
        parts.append(f"{overdue} việc quá hạn")
    prefix = "[Quá hạn]" if overdue else "[Nhắc hạn]"
    subject = f"{prefix} {', '.join(parts)}"
    if digest.recipient_name:
        subject += f" — {digest.recipient_name}"
    return subject


def sorted_items(items: Iterable[DigestItem]) -> list[DigestItem]:
    """Overdue items first, then by due date (rule id and key break ties)."""
    return sorted(items, key=lambda i: (not i.overdue, i.due, i.rule_id, i.key))


def done_command(item: DigestItem) -> str:
    """The command that closes ``item``: ``hanchot done RULE KEY --evidence "..."``."""
    return f'hanchot done {shlex.quote(item.rule_id)} {shlex.quote(item.key)} --evidence "..."'


def attachment_name(item: DigestItem) -> str:
    """A filesystem-safe ``{rule_id}-{key}.ics`` for ``item``'s calendar attachment."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{item.rule_id}-{item.key}").strip("._")
    return f"{stem[:120] or 'hanchot'}.ics"


def _view(item: DigestItem) -> dict[str, Any]:
    return {
        "rule_id": item.rule_id,
        "key": item.key,
        "title": item.title,
        "plan_item": item.plan_item,
        "due_vi": format_vi(item.due),
        "days_vi": days_left_vi(item.working_days_left),
        "overdue": item.overdue,
        "lead": item.lead_name,
        "coordinating": ", ".join(item.coordinating_names),
        "output": item.output,
        "basis": item.basis,
        "done_command": done_command(item),
    }


def _description(item: DigestItem) -> str:
    lines = [f"Đơn vị chủ trì: {item.lead_name}"]
    if item.coordinating_names:
        lines.append(f"Đơn vị phối hợp: {', '.join(item.coordinating_names)}")
    if item.output:
        lines.append(f"Kết quả: {item.output}")
    if item.plan_item:
        lines.append(f"Mục kế hoạch: {item.plan_item}")
    if item.basis:
        lines.append(f"Căn cứ: {item.basis}")
    lines.append(f"Báo hoàn thành: {done_command(item)}")
    return "\n".join(lines)


def ics_for(items: Iterable[DigestItem], dtstamp: datetime) -> bytes:
    """An iCalendar (RFC 5545) ``METHOD:PUBLISH`` calendar with one VEVENT per item.

    Each event is all-day on the due date (``DTSTART;VALUE=DATE`` = due, ``DTEND`` =
    due + 1 day), with ``UID`` = ``item.uid`` so a later calendar replaces the event,
    ``SUMMARY`` = title and a ``DESCRIPTION`` naming the lead and coordinating units
    and the expected result. ``dtstamp`` must be aware (written in UTC); a naive
    datetime raises :class:`ValueError`.
    """
    if dtstamp.tzinfo is None or dtstamp.utcoffset() is None:
        raise ValueError(f"dtstamp must be timezone-aware, got naive {dtstamp}")
    stamp = dtstamp.astimezone(UTC)
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    for item in items:
        event = icalendar.Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", item.due)
        event.add("dtend", item.due + timedelta(days=1))
        event.add("summary", item.title)
        event.add("description", _description(item))
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal.to_ical()


def render(digest: Digest, *, tz: str = "Asia/Ho_Chi_Minh") -> EmailMessage:
    """Build the complete message for ``digest``, ready for a transport.

    Headers: ``From`` (sender name and address), ``To``, ``Subject`` (see
    :func:`subject_for`), ``Date`` (``send_at`` shown in ``tz``), ``Message-ID``
    (``digest.message_id`` as given) and ``X-Hanchot-Items: rule/key,...``. Body: text
    and HTML alternatives, overdue items first then by due date, then one ``.ics``
    attachment per item. The message uses :data:`notifications.policy.POLICY`
    (``email.policy.SMTP`` with a folding fix), so non-ASCII headers are RFC 2047
    encoded and lines end in CRLF.

    Raises :class:`zoneinfo.ZoneInfoNotFoundError` for an unknown ``tz``.
    """
    zone = ZoneInfo(tz)
    items = sorted_items(digest.items)
    context = {
        "recipient_name": digest.recipient_name,
        "items": [_view(i) for i in items],
        "upcoming_count": digest.upcoming_count,
        "overdue_count": digest.overdue_count,
        "sender_name": digest.sender_name,
        "sender_email": digest.sender_email,
        "sent_vi": format_vi(digest.send_at.astimezone(zone).date()),
    }
    env = _environment()
    text = env.get_template("digest.txt.j2").render(context)
    html = env.get_template("digest.html.j2").render(context)

    msg = EmailMessage(policy=POLICY)
    msg["From"] = Address(display_name=digest.sender_name, addr_spec=digest.sender_email)
    msg["To"] = Address(display_name=digest.recipient_name or "", addr_spec=digest.recipient_email)
    msg["Subject"] = subject_for(digest)
    msg["Date"] = format_datetime(digest.send_at.astimezone(zone))
    msg["Message-ID"] = digest.message_id
    msg["X-Hanchot-Items"] = ",".join(f"{i.rule_id}/{i.key}" for i in items)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    # quoted-printable keeps the message 7-bit clean for servers without 8BITMIME.
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for item in items:
        msg.add_attachment(
            ics_for([item], digest.send_at),
            maintype="text",
            subtype="calendar",
            filename=attachment_name(item),
            params={"method": "PUBLISH", "charset": "utf-8"},
        )
    _tidy(msg, digest.message_id)
    return msg


def _tidy(msg: EmailMessage, seed: str) -> None:
    """Make the bytes reproducible and drop the sub-parts' redundant MIME-Version.

    Boundaries are derived from the message id instead of being random, so rendering
    the same digest twice gives the same bytes. ``=_`` cannot occur in base64 or
    quoted-printable text, so such a boundary never collides with a body.
    """
    digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:24]
    for n, part in enumerate(msg.walk()):
        if part is not msg:
            del part["MIME-Version"]
        if part.is_multipart():
            part.set_boundary(f"=_hanchot_{digest}_{n}")
