"""What one reminder message says, independent of how it is rendered or sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One deadline as it appears in a reminder.

    ``working_days_left`` counts working days from the send date to ``due``:
    positive = still ahead, ``0`` = due today, negative = overdue by that many working
    days. ``stage`` is the escalation stage that caused the mail (``"1 working day
    before"``); ``uid`` is stable per ``(rule_id, key)`` so calendar clients update
    the same event instead of adding a new one each time.
    """

    rule_id: str
    key: str
    title: str
    plan_item: str | None
    due: date
    working_days_left: int
    stage: str
    lead_name: str
    coordinating_names: tuple[str, ...] = ()
    output: str | None = None
    basis: str | None = None
    uid: str = ""
    #: Signed portal links for this recipient and deadline (``report``, ``extend``,
    #: ``ack``); empty when no portal is configured (``web.base_url``).
    links: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.uid:
            object.__setattr__(self, "uid", default_uid(self.rule_id, self.key))
        if not isinstance(self.coordinating_names, tuple):
            object.__setattr__(self, "coordinating_names", tuple(self.coordinating_names))

    @property
    def overdue(self) -> bool:
        """True when the due date has passed (``working_days_left < 0``)."""
        return self.working_days_left < 0


def default_uid(rule_id: str, key: str) -> str:
    """The calendar UID of the deadline ``(rule_id, key)``: ``rule/key@hanchot``."""
    return f"{rule_id}/{key}@hanchot"


@dataclass(frozen=True, slots=True)
class Digest:
    """All the reminders for one recipient that go out at one moment, as one message.

    ``message_id`` is chosen by the caller, deterministically (so a resend after a
    crash carries the same id), in ``<local@domain>`` form. ``send_at`` must be an
    aware datetime (it is stored converted to UTC); a naive one raises
    :class:`ValueError` rather than being guessed.
    """

    recipient_email: str
    recipient_name: str | None
    items: tuple[DigestItem, ...]
    message_id: str
    send_at: datetime
    sender_name: str
    sender_email: str
    #: Who the recipient reports completion to (the focal point, role ``admin``);
    #: ``None`` when the recipient *is* the focal point (or none is configured).
    focal_point: str | None = None
    #: Signed link to the recipient's own list in the portal; ``None`` without a portal.
    list_link: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.items, tuple):
            object.__setattr__(self, "items", tuple(self.items))
        if not self.items:
            raise ValueError("a digest needs at least one item")
        if self.send_at.tzinfo is None or self.send_at.utcoffset() is None:
            raise ValueError(f"send_at must be timezone-aware, got naive {self.send_at}")
        if self.send_at.tzinfo is not UTC:
            object.__setattr__(self, "send_at", self.send_at.astimezone(UTC))
        mid = self.message_id
        if not (mid.startswith("<") and mid.endswith(">") and "@" in mid) or any(
            c.isspace() for c in mid
        ):
            raise ValueError(f"message_id must look like <local@domain>, got {mid!r}")
        for what, addr in (("recipient", self.recipient_email), ("sender", self.sender_email)):
            if "@" not in addr or any(c.isspace() or c in "<>," for c in addr):
                raise ValueError(f"{what} e-mail address {addr!r} is not a bare address")

    @property
    def overdue_count(self) -> int:
        """How many items are overdue."""
        return sum(1 for i in self.items if i.overdue)

    @property
    def due_today_count(self) -> int:
        """How many items are due on the send date itself."""
        return sum(1 for i in self.items if i.working_days_left == 0)

    @property
    def upcoming_count(self) -> int:
        """How many items are still ahead (due after the send date)."""
        return sum(1 for i in self.items if i.working_days_left > 0)
