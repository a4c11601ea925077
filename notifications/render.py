"""Turn a :class:`~notifications.model.Digest` into a MIME message.

The message is ``multipart/mixed``: a ``multipart/alternative`` (plain text, then
HTML, both from Jinja2 templates in ``notifications/templates``) followed by one
``text/calendar; method=PUBLISH`` attachment per item. Everything the reader sees is
Vietnamese; dates are written as officials write them (``Thứ Sáu, 29/07/2022``).
Rendering is pure: the same digest always gives the same bytes.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import shlex
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email import quoprimime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache, lru_cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2

from engine.core.calendar import format_vi
from notifications.model import Digest, DigestItem
from notifications.policy import POLICY, header_text

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


@cache
def _templates() -> tuple[jinja2.Template, jinja2.Template]:
    """The compiled text and HTML templates, loaded once per process."""
    env = _environment()
    return env.get_template("digest.txt.j2"), env.get_template("digest.html.j2")


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


def counts_vi(digest: Digest) -> str:
    """Every non-zero count of ``digest``, worst state first:
    ``2 việc quá hạn, 1 việc đến hạn hôm nay, 3 việc sắp đến hạn``."""
    parts = []
    if digest.overdue_count:
        parts.append(f"{digest.overdue_count} việc quá hạn")
    if digest.due_today_count:
        parts.append(f"{digest.due_today_count} việc đến hạn hôm nay")
    if digest.upcoming_count:
        parts.append(f"{digest.upcoming_count} việc sắp đến hạn")
    return ", ".join(parts)


def subject_for(digest: Digest) -> str:
    """The Vietnamese subject line of ``digest`` (not yet RFC 2047 encoded).

    The tag names the worst state in the digest: ``[Quá hạn]`` when anything is
    overdue, else ``[Đến hạn]`` when something is due on the send date, else
    ``[Nhắc hạn]``; then :func:`counts_vi` (every non-zero count, as the body says),
    and the recipient's name after an em dash if known:
    ``[Quá hạn] 2 việc quá hạn, 1 việc đến hạn hôm nay — Văn phòng Sở``.
    """
    if digest.overdue_count:
        prefix = "[Quá hạn]"
    elif digest.due_today_count:
        prefix = "[Đến hạn]"
    else:
        prefix = "[Nhắc hạn]"
    subject = f"{prefix} {counts_vi(digest)}"
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
        "reference": f"{item.rule_id}/{item.key}",
        "links": [(LINK_LABELS.get(k, k), url) for k, url in item.links],
    }


#: How the portal's links are labelled in a mail (issue 8.2).
LINK_LABELS = {
    "report": "Báo cáo hoàn thành",
    "extend": "Đề nghị gia hạn",
    "ack": "Đã tiếp nhận",
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
    report = dict(item.links).get("report")
    if report:
        lines.append(f"Báo cáo hoàn thành: {report}")
    else:  # no command in an official's calendar: the reference the focal point needs
        lines.append(f"Mã việc: {item.rule_id}/{item.key}")
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
    stamp = dtstamp.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    # Written directly, byte for byte what icalendar's Calendar.to_ical() gives for
    # these properties (its canonical property order, TEXT escaping and folding),
    # at a fraction of the cost.
    lines = [_CALENDAR_HEAD]
    for item in items:
        end = item.due + timedelta(days=1)
        lines.append(
            "BEGIN:VEVENT\r\n"
            f"{_ics_line('SUMMARY:' + _ics_text(item.title))}"
            f"DTSTART;VALUE=DATE:{item.due:%Y%m%d}\r\n"
            f"DTEND;VALUE=DATE:{end:%Y%m%d}\r\n"
            f"DTSTAMP:{stamp}\r\n"
            f"{_ics_line('UID:' + _ics_text(item.uid))}"
            f"{_ics_line('DESCRIPTION:' + _ics_text(_description(item)))}"
            "TRANSP:TRANSPARENT\r\n"
            "END:VEVENT\r\n"
        )
    lines.append("END:VCALENDAR\r\n")
    return "".join(lines).encode("utf-8")


def _ics_text(text: str) -> str:
    """RFC 5545 §3.3.11 TEXT escaping (the same replacements as icalendar's)."""
    return (
        text.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _ics_line(line: str) -> str:
    """``line`` folded as RFC 5545 §3.1 asks (and as icalendar folds), plus CRLF.

    Pieces of at most 74 octets, never splitting a UTF-8 character, and never
    ending a piece with a backslash (or ``^``) that starts an escape.
    """
    if len(line) < 75 and (line.isascii() or len(line.encode("utf-8")) < 75):
        return line + "\r\n"
    pieces: list[str] = []
    current: list[str] = []
    count = 0
    for char in line:
        size = 1 if char < "\x80" else len(char.encode("utf-8"))
        if current and count + size >= 75:
            if len(current) > 1 and current[-1] in "\\^":
                carried = current.pop()
                pieces.append("".join(current))
                current = [carried]
                count = len(carried.encode("utf-8"))
            else:
                pieces.append("".join(current))
                current = []
                count = 0
        current.append(char)
        count += size
    if current:
        pieces.append("".join(current))
    return "\r\n ".join(pieces) + "\r\n"


_CALENDAR_HEAD = (
    "BEGIN:VCALENDAR\r\n"
    "VERSION:2.0\r\n" + _ics_line("PRODID:" + _ics_text(PRODID)) + "CALSCALE:GREGORIAN\r\n"
    "METHOD:PUBLISH\r\n"
)


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
        "counts": counts_vi(digest),
        "overdue_count": digest.overdue_count,
        "focal_point": digest.focal_point,
        "list_link": digest.list_link,
        "sender_name": digest.sender_name,
        "sender_email": digest.sender_email,
        "sent_vi": format_vi(digest.send_at.astimezone(zone).date()),
    }
    text_template, html_template = _templates()
    text = text_template.render(context)
    html = html_template.render(context)

    # The tree below is what EmailMessage.set_content/add_alternative/add_attachment
    # build, assembled directly (same headers, order, encodings and bytes): headers
    # are stored pre-folded (as the parser stores them) or as cached header objects,
    # so no header is parsed or folded twice. Boundaries are derived from the message
    # id instead of being random, so the same digest always gives the same bytes;
    # "=_" cannot occur in base64 or quoted-printable text, so they never collide.
    seed = hashlib.sha256(digest.message_id.encode("utf-8")).hexdigest()[:24]
    msg = EmailMessage(policy=POLICY)
    # Every header through the header API (which refuses a line break), every
    # person-supplied text through header_text first (control characters removed).
    msg["From"] = _address("From", digest.sender_name, digest.sender_email)
    msg["To"] = _address("To", digest.recipient_name or "", digest.recipient_email)
    msg["Subject"] = header_text(subject_for(digest))
    msg["Date"] = format_datetime(digest.send_at.astimezone(zone))
    msg["Message-ID"] = digest.message_id
    msg["X-Hanchot-Items"] = items_header(items)
    # RFC 3834: no vacation auto-replies.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_raw("MIME-Version", "1.0")
    msg.set_raw("Content-Type", _multipart_type("mixed", seed, 0))
    alternative = EmailMessage(policy=POLICY)
    alternative.set_raw("Content-Type", _multipart_type("alternative", seed, 1))
    # quoted-printable keeps the message 7-bit clean for servers without 8BITMIME.
    alternative.attach(_text_part("plain", text))
    alternative.attach(_text_part("html", html))
    msg.attach(alternative)
    stamp = digest.send_at
    for item in items:
        part = EmailMessage(policy=POLICY)
        part.set_raw("Content-Transfer-Encoding", "base64")
        part.set_raw("Content-Disposition", _disposition(attachment_name(item)))
        part.set_raw("Content-Type", _header("Content-Type", _CALENDAR_TYPE))
        part.set_payload(_base64(ics_for([item], stamp)))
        msg.attach(part)
    return msg


_MAX_LINE = POLICY.max_line_length or 78
_CALENDAR_TYPE = 'text/calendar; method="PUBLISH"; charset="utf-8"'


#: Characters of a rule id or key written as they are in ``X-Hanchot-Items``; any
#: other character (``/`` and ``,`` included) is percent-encoded as UTF-8.
_ITEM_SAFE = "-._~:@+=!*'()[]"


def items_header(items: Iterable[DigestItem]) -> str:
    """``X-Hanchot-Items``: ``rule/key`` per item, joined by ``, `` (folded there).

    Rule ids and keys are percent-encoded (:func:`urllib.parse.quote`) except for
    letters, digits and ``-._~:@+=!*'()[]``, so the value is printable ASCII whatever
    an id contains (a line break, a comma, a slash); ``unquote`` gives the ids back.
    """
    return ", ".join(
        f"{quote(i.rule_id, safe=_ITEM_SAFE)}/{quote(i.key, safe=_ITEM_SAFE)}" for i in items
    )


@lru_cache(maxsize=1024)
def _header(name: str, value: str) -> Any:
    """The (immutable) header object ``msg[name] = value`` would store, shared."""
    return POLICY.header_factory(name, value)


def _fold_or_header(name: str, value: Any) -> Any:
    """``value`` folded the way :data:`POLICY` writes it, stored as the parser stores
    a header it read (without ``name: `` and the final line end); the header object
    itself when the folded form would not pass through the generator unchanged.
    Only for values hanchot makes itself (MIME structure headers)."""
    header = POLICY.header_factory(name, value)
    folded = POLICY.fold(name, header)
    prefix, end = f"{name}: ", POLICY.linesep
    if not folded.startswith(prefix) or not folded.endswith(end):
        return header
    raw = folded[len(prefix) : -len(end)]
    lines = raw.split(end)
    if len(lines[0]) + len(prefix) > _MAX_LINE or any(
        len(line) > _MAX_LINE or not line.startswith((" ", "\t")) for line in lines[1:]
    ):
        return header  # the generator would refold it: keep the parsed form
    if "\r" in raw.replace(end, "") or "\n" in raw.replace(end, ""):
        return header
    return raw


_fold_cached = lru_cache(maxsize=4096)(_fold_or_header)


@lru_cache(maxsize=1024)
def _address(name: str, display_name: str, addr_spec: str) -> Any:
    """The (immutable) ``name`` header of one address, shared: what
    ``msg[name] = Address(...)`` stores, the display name cleaned by ``header_text``."""
    address = Address(display_name=header_text(display_name), addr_spec=addr_spec)
    return _lazy_class(name)(name, address)


class _LazyParseTree:
    """Mixin for an address header class: the header's parse tree — the same
    ``value_parser(str(header))`` the stock class makes at once, most of the cost of a
    header — is made the first time something reads it. hanchot's folder reads only
    the header's groups for a non-ASCII display name, so most digests never need it."""

    @classmethod
    def parse(cls, value: Any, kwds: dict[str, Any]) -> None:
        if isinstance(value, str):
            super().parse(value, kwds)  # type: ignore[misc]
            return
        kwds["parse_tree"] = None  # the stock parse makes it only when absent
        super().parse(value, kwds)  # type: ignore[misc]

    @property
    def _parse_tree(self) -> Any:
        tree = self.__dict__.get("_lazy_tree")
        if tree is None:
            tree = self.__dict__["_lazy_tree"] = self.value_parser(str(self))  # type: ignore[attr-defined]
        return tree

    @_parse_tree.setter
    def _parse_tree(self, tree: Any) -> None:
        self.__dict__["_lazy_tree"] = tree


@cache
def _lazy_class(name: str) -> type:
    base = POLICY.header_factory[name]
    return type(base.__name__, (_LazyParseTree, base), {})


@lru_cache(maxsize=64)
def _multipart_template(subtype: str, n: int) -> Any:
    # The boundary is always "=_hanchot_" + 24 hex digits + "_n": the folding does
    # not depend on which hex digits, so it is worked out once with zeros.
    return _fold_or_header(
        "Content-Type", f'multipart/{subtype}; boundary="{_boundary("0" * 24, n)}"'
    )


def _boundary(seed: str, n: int) -> str:
    return f"=_hanchot_{seed}_{n}"


def _multipart_type(subtype: str, seed: str, n: int) -> Any:
    template = _multipart_template(subtype, n)
    placeholder = _boundary("0" * 24, n)
    if isinstance(template, str) and template.count(placeholder) == 1:
        return template.replace(placeholder, _boundary(seed, n))
    return POLICY.header_factory(
        "Content-Type", f'multipart/{subtype}; boundary="{_boundary(seed, n)}"'
    )


#: What attachment_name() can give; such a name needs no quoting or encoding.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]+")
_ONE_LINE = _MAX_LINE - len('Content-Disposition: attachment; filename=""')


def _disposition(filename: str) -> Any:
    value = f'attachment; filename="{filename}"'
    if len(filename) <= _ONE_LINE and _PLAIN_NAME.fullmatch(filename):
        # what the folder gives for it (one line, as it is), without parsing it
        return value
    folded = _fold_cached("Content-Disposition", value)
    if isinstance(folded, str) and POLICY.linesep in folded:
        # A long name is split the RFC 2231 way, which depends on the output policy.
        return _header("Content-Disposition", value)
    return folded


@lru_cache(maxsize=8)
def _text_headers(subtype: str) -> tuple[Any, Any]:
    return (
        _header("Content-Type", f'text/{subtype}; charset="utf-8"'),
        _header("Content-Transfer-Encoding", "quoted-printable"),
    )


def _text_part(subtype: str, text: str) -> EmailMessage:
    """What ``set_content(text, subtype, charset="utf-8", cte="quoted-printable")``
    makes (email.contentmanager's encoding, line ends normalised to LF)."""
    part = EmailMessage(policy=POLICY)
    content_type, cte = _text_headers(subtype)
    part.set_raw("Content-Type", content_type)
    part.set_raw("Content-Transfer-Encoding", cte)
    body = b"\n".join(text.encode("utf-8").splitlines()) + b"\n"
    part.set_payload(quoprimime.body_encode(body.decode("latin-1"), POLICY.max_line_length))
    return part


def _base64(data: bytes) -> str:
    """email.contentmanager's base64 body encoding (``max_line_length`` wide lines)."""
    step = POLICY.max_line_length // 4 * 3
    return "".join(
        binascii.b2a_base64(data[i : i + step]).decode("ascii") for i in range(0, len(data), step)
    )
