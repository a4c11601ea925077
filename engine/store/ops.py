"""What the CLI does with the store: record events, close deadlines, report status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.core.calendar import format_vi
from engine.core.config import Config, Settings
from engine.core.rules import After, Rule
from engine.errors import InputError, StoreError
from engine.i18n import _
from engine.loader.events import EventRules
from engine.store.audit import log_change
from engine.store.outbox import require_aware
from engine.store.tables import (
    CANCELLED,
    CLOSED_BY_USER,
    DONE,
    OPEN,
    PENDING,
    SUPERSEDED,
    WAIVED,
    deadlines,
    events,
    outbox,
)

#: The zone of ``settings.timezone`` when a caller names none.
DEFAULT_TIMEZONE = Settings().timezone

#: "due soon": within this many working days (SPEC §5 ``status``).
SOON_WORKING_DAYS = 5


# ------------------------------------------------------------------ events
def check_event(
    type_: str,
    event_id: str,
    attrs: Mapping[str, str],
    rules: Iterable[Rule] | EventRules | None = None,
    *,
    allow_unused_type: bool = False,
) -> tuple[str, str, dict[str, str]]:
    """The checks of :func:`record_event`, without a database: returns the cleaned
    (type, id, attributes) or raises :class:`~engine.errors.InputError`."""
    from engine.loader.events import event_problems
    from engine.loader.names import (
        check_attr_name,
        check_attr_value,
        check_event_id,
        check_event_type,
    )

    type_ = check_event_type(type_)
    event_id = check_event_id(event_id)
    clean = {check_attr_name(k): check_attr_value(v, k) for k, v in attrs.items()}
    if rules is not None:
        problems = event_problems(rules, type_, clean, allow_unused_type=allow_unused_type)
        if problems:
            raise InputError("; ".join(message for _field, message in problems))
    return type_, event_id, clean


def record_event(
    session: Session,
    type_: str,
    event_id: str,
    when: date,
    attrs: dict[str, str],
    *,
    actor: str,
    now: datetime,
    rules: Iterable[Rule] | EventRules | None = None,
    allow_unused_type: bool = False,
) -> bool:
    """Store one event; returns False when the same event is already recorded.

    The type, id and attributes are checked against the safe names of
    :mod:`engine.loader.names` whoever calls (CLI, import, portal). With ``rules``,
    also against the rules (:func:`engine.loader.events.event_problems`): a type no
    rule uses (unless ``allow_unused_type``), an attribute that does not parse as the
    type a ``when:`` compares it with. Recording many events, pass the rules
    indexed once (:class:`engine.loader.events.EventRules`).

    Raises :class:`~engine.errors.InputError` for a bad name or value, and when
    (type, id) exists with another date or other attributes: events are facts,
    correct them deliberately (:func:`remove_event`).
    """
    now = require_aware(now)
    type_, event_id, attrs = check_event(
        type_, event_id, attrs, rules, allow_unused_type=allow_unused_type
    )
    old = session.execute(
        sa.select(events.c.date, events.c.attrs).where(
            events.c.type == type_, events.c.event_id == event_id
        )
    ).first()
    if old is not None:
        if old.date == when and (old.attrs or {}) == attrs:
            return False
        raise InputError(
            f"event {type_} {event_id} is already recorded (date {old.date.isoformat()}, "
            f"attributes {old.attrs or {}}); use another id"
        )
    res = session.execute(
        events.insert().values(
            type=type_,
            event_id=event_id,
            date=when,
            attrs=attrs,
            recorded_by=actor,
            recorded_at=now,
        )
    )
    log_change(
        session,
        at=now,
        actor=actor,
        action="record",
        entity="event",
        entity_id=res.inserted_primary_key[0],
        new={"type": type_, "id": event_id, "date": when, "attrs": attrs},
        reason="event recorded",
    )
    return True


@dataclass(frozen=True)
class Removal:
    """What :func:`remove_event` did: the event as it was, and the deadlines it touched."""

    type: str
    id: str
    date: date
    cancelled: tuple[tuple[str, str], ...]  # (rule, key) of open deadlines now cancelled
    closed: tuple[tuple[str, str, str], ...]  # (rule, key, status) left as they were


def remove_event(
    session: Session,
    rules: Iterable[Rule],
    type_: str,
    event_id: str,
    reason: str,
    *,
    actor: str,
    now: datetime,
) -> Removal:
    """Remove a wrongly recorded event; its open deadlines become ``cancelled``.

    ``type_`` and ``event_id`` are taken exactly as stored (no name check: this is
    how a bad id recorded before the checks existed is removed). The audit log keeps
    the whole event (date, attributes, who recorded it) and each cancellation, with
    ``reason``; pending reminders of the cancelled deadlines are superseded. Done and
    waived deadlines keep their status. Recording the event again (corrected) reopens
    what it starts.

    Raises :class:`~engine.errors.InputError` for an empty reason and
    :class:`~engine.errors.StoreError` when no such event is recorded.
    """
    now = require_aware(now)
    if not reason.strip():
        raise InputError(_("--reason must not be empty"))
    row = session.execute(
        sa.select(events).where(events.c.type == type_, events.c.event_id == event_id)
    ).first()
    if row is None:
        raise StoreError(
            _("no event {type} {id!r} is recorded; `hanchot event list` shows them").format(
                type=type_, id=event_id
            )
        )
    # Deadlines of a rule removed from the files were cancelled when it went.
    started = {r.id for r in rules if isinstance(r.due, After) and r.due.event == type_}
    session.execute(events.delete().where(events.c.id == row.id))
    log_change(
        session,
        at=now,
        actor=actor,
        action="remove",
        entity="event",
        entity_id=row.id,
        old={
            "type": row.type,
            "id": row.event_id,
            "date": row.date,
            "attrs": row.attrs or {},
            "recorded_by": row.recorded_by,
            "recorded_at": row.recorded_at,
        },
        reason=reason,
    )
    cancelled: list[tuple[str, str]] = []
    closed: list[tuple[str, str, str]] = []
    if started:
        hit = session.execute(
            sa.select(deadlines.c.id, deadlines.c.rule_id, deadlines.c.key, deadlines.c.status)
            .where(deadlines.c.key == event_id, deadlines.c.rule_id.in_(sorted(started)))
            .order_by(deadlines.c.rule_id)
        ).all()
        for d in hit:
            if d.status in (DONE, WAIVED):
                closed.append((d.rule_id, d.key, d.status))
                continue
            if d.status != OPEN:
                continue
            session.execute(
                deadlines.update()
                .where(deadlines.c.id == d.id, deadlines.c.status == OPEN)
                .values(status=CANCELLED, next_send_at=None, updated_at=now)
            )
            session.execute(
                outbox.update()
                .where(outbox.c.deadline_id == d.id, outbox.c.state == PENDING)
                .values(state=SUPERSEDED, last_error="event removed", updated_at=now)
            )
            log_change(
                session,
                at=now,
                actor=actor,
                action="cancel",
                entity="deadline",
                entity_id=d.id,
                rule_id=d.rule_id,
                key=d.key,
                old={"status": OPEN},
                new={"status": CANCELLED},
                reason=f"event {type_} {event_id} removed: {reason}",
            )
            cancelled.append((d.rule_id, d.key))
    return Removal(row.type, row.event_id, row.date, tuple(cancelled), tuple(closed))


def list_events(session: Session, type_: str | None = None) -> list[dict]:
    q = sa.select(events).order_by(events.c.date, events.c.type, events.c.event_id)
    if type_:
        q = q.where(events.c.type == type_)
    return [
        {
            "type": r.type,
            "id": r.event_id,
            "date": r.date.isoformat(),
            "attrs": r.attrs or {},
            "recorded_by": r.recorded_by,
            "recorded_at": r.recorded_at.isoformat(),
        }
        for r in session.execute(q).all()
    ]


# ------------------------------------------------------------------ closing
def close_deadline(
    session: Session,
    rule_id: str,
    key: str,
    status: str,
    text: str,
    *,
    actor: str,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
) -> None:
    """``done`` (evidence) or ``waive`` (reason): no more mail for it from now on.

    ``timezone`` (``settings.timezone``) is the zone of the dates that messages show.
    Raises :class:`~engine.errors.StoreError` for an unknown or already closed deadline.
    """
    now = require_aware(now)
    if status not in (DONE, WAIVED):
        raise ValueError(status)
    if not text.strip():
        what = "--evidence" if status == DONE else "--reason"
        raise InputError(f"{what} must not be empty")
    row = session.execute(
        sa.select(deadlines).where(deadlines.c.rule_id == rule_id, deadlines.c.key == key)
    ).first()
    if row is None:
        raise StoreError(
            f"no deadline {rule_id} {key}; `hanchot status` or `hanchot plan` lists them"
        )
    if row.status != OPEN:
        if row.closed_at is None:
            # cancelled by the engine (rule removed), never closed by a person
            raise StoreError(
                _("deadline {rule} {key} is already {status}").format(
                    rule=rule_id, key=key, status=row.status
                )
            )
        # The instant is stored in UTC; people read the local day and time.
        local = row.closed_at.astimezone(ZoneInfo(timezone))
        raise StoreError(
            _(
                "deadline {rule} {key} is already {status} on {day} at {time} by {actor} ({text})"
            ).format(
                rule=rule_id,
                key=key,
                status=row.status,
                day=format_vi(local.date()),
                time=local.strftime("%H:%M"),
                actor=row.closed_by or "?",
                text=row.evidence or "",
            )
        )
    session.execute(
        deadlines.update()
        .where(deadlines.c.id == row.id, deadlines.c.status == OPEN)
        .values(
            status=status,
            evidence=text,
            closed_by=actor,
            closed_at=now,
            next_send_at=None,
            updated_at=now,
        )
    )
    session.execute(
        outbox.update()
        .where(outbox.c.deadline_id == row.id, outbox.c.state == PENDING)
        .values(state=SUPERSEDED, last_error="deadline closed", updated_at=now)
    )
    log_change(
        session,
        at=now,
        actor=actor,
        action=status,
        entity="deadline",
        entity_id=row.id,
        rule_id=rule_id,
        key=key,
        old={"status": OPEN},
        new={"status": status},
        reason=text,
    )


# ------------------------------------------------------------------ status
@dataclass(frozen=True)
class StatusLine:
    rule: str
    key: str
    title: str
    plan_item: str | None
    due: date
    lead: str
    coordinating: tuple[str, ...]
    status: str
    working_days_left: int
    state: str  # overdue | due-soon | open

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "key": self.key,
            "title": self.title,
            "plan_item": self.plan_item,
            "due": self.due.isoformat(),
            "lead": self.lead,
            "coordinating": list(self.coordinating),
            "status": self.status,
            "working_days_left": self.working_days_left,
            "state": self.state,
        }


def status_lines(
    session: Session,
    config: Config,
    now: datetime,
    *,
    unit: str | None = None,
    everything: bool = False,
) -> list[StatusLine]:
    """Open deadlines: overdue first (most overdue first), then due within 5 working
    days; with ``everything`` also the later ones. ``unit`` keeps those it leads or
    coordinates (groups expanded)."""
    today = require_aware(now).astimezone(ZoneInfo(config.settings.timezone)).date()
    cal = config.calendar
    directory = config.directory
    horizon = cal.add_working_days(today, SOON_WORKING_DAYS)
    q = sa.select(deadlines).where(deadlines.c.status == OPEN).order_by(deadlines.c.due)
    if not everything:
        q = q.where(deadlines.c.due <= horizon)
    want: set[str] | None = None
    if unit is not None:
        if not directory.known(unit):
            raise InputError(f"unknown unit {unit!r}; see config/units.yaml")
        want = set(directory.expand(unit))

    def units_of(ref: str) -> set[str]:
        try:
            return set(directory.expand(ref))
        except KeyError:
            return {ref}

    out = []
    for r in session.execute(q).all():
        coord = tuple(r.coordinating or ())
        if want is not None:
            mine = units_of(r.lead).union(*(units_of(c) for c in coord))
            if not mine & want:
                continue
        left = cal.working_days_between(today, r.due)
        state = "overdue" if r.due < today else ("due-soon" if r.due <= horizon else "open")
        out.append(
            StatusLine(
                r.rule_id, r.key, r.title, r.plan_item, r.due, r.lead, coord, r.status, left, state
            )
        )
    out.sort(key=lambda s: (s.state != "overdue", s.due, s.rule, s.key))
    return out


@dataclass(frozen=True)
class ClosedDeadline:
    """A deadline a person closed (done or waived), as it stood when closed."""

    rule: str
    key: str
    status: str
    due: date
    title: str
    plan_item: str | None
    lead: str
    coordinating: tuple[str, ...]


def closed_deadlines(session: Session) -> dict[tuple[str, str], ClosedDeadline]:
    """(rule, key) -> every done or waived deadline, with the due date, title and
    units it was closed with (materialising never changes a closed deadline, so a
    later edit of its rule does not rewrite what was done)."""
    q = sa.select(deadlines).where(deadlines.c.status.in_(CLOSED_BY_USER))
    return {
        (r.rule_id, r.key): ClosedDeadline(
            r.rule_id,
            r.key,
            r.status,
            r.due,
            r.title,
            r.plan_item,
            r.lead,
            tuple(r.coordinating or ()),
        )
        for r in session.execute(q).all()
    }


def statuses(session: Session) -> dict[tuple[str, str], str]:
    """(rule, key) -> status of every stored deadline (for ``hanchot plan``)."""
    return {
        (r.rule_id, r.key): r.status
        for r in session.execute(
            sa.select(deadlines.c.rule_id, deadlines.c.key, deadlines.c.status)
        ).all()
    }


__all__ = [
    "CANCELLED",
    "ClosedDeadline",
    "Removal",
    "StatusLine",
    "check_event",
    "close_deadline",
    "closed_deadlines",
    "list_events",
    "record_event",
    "remove_event",
    "status_lines",
    "statuses",
]
