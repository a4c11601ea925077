"""What the CLI does with the store: record events, close deadlines, report status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.core.config import Config
from engine.errors import InputError, StoreError
from engine.store.audit import log_change
from engine.store.outbox import require_aware
from engine.store.tables import (
    CANCELLED,
    DONE,
    OPEN,
    PENDING,
    SUPERSEDED,
    WAIVED,
    deadlines,
    events,
    outbox,
)

#: "due soon": within this many working days (SPEC §5 ``status``).
SOON_WORKING_DAYS = 5


# ------------------------------------------------------------------ events
def record_event(
    session: Session,
    type_: str,
    event_id: str,
    when: date,
    attrs: dict[str, str],
    *,
    actor: str,
    now: datetime,
) -> bool:
    """Store one event; returns False when the same event is already recorded.

    Raises :class:`~engine.errors.InputError` when (type, id) exists with another
    date or other attributes: events are facts, correct them deliberately.
    """
    now = require_aware(now)
    if not type_.strip() or not event_id.strip():
        raise InputError("an event needs a type and an id")
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
) -> None:
    """``done`` (evidence) or ``waive`` (reason): no more mail for it from now on.

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
        when = row.closed_at.date().isoformat() if row.closed_at else ""
        raise StoreError(
            f"deadline {rule_id} {key} is already {row.status} {when} "
            f"({row.evidence or 'no text'})".replace("  ", " ")
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
    "StatusLine",
    "close_deadline",
    "list_events",
    "record_event",
    "status_lines",
    "statuses",
]


# ------------------------------------------------------------------ retention (issue 9)
#: Outbox states ``hanchot prune`` may remove: nothing left to do for them.
PRUNABLE = ("sent", "superseded")


def prune_outbox(
    sessions,
    before: datetime,
    *,
    actor: str,
    now: datetime,
    dry_run: bool = False,
    batch: int = 5000,
) -> dict[str, int]:
    """Remove ``sent`` and ``superseded`` outbox rows whose send instant is before
    ``before`` (aware), ``batch`` rows per transaction; returns the count per state.

    Never touches deadlines, events, the audit log, or pending/sending/failed rows.
    Safe for "at most once": a deadline's stage instances up to its
    ``materialised_through`` are never materialised again, so a removed row is never
    re-created. ``dry_run`` only counts. One audit entry records a real prune.
    """
    before = require_aware(before)
    now = require_aware(now)
    where = (outbox.c.state.in_(PRUNABLE), outbox.c.send_at < before)
    with sessions() as s:
        counts = dict(
            s.execute(
                sa.select(outbox.c.state, sa.func.count()).where(*where).group_by(outbox.c.state)
            ).all()
        )
    counts = {state: counts.get(state, 0) for state in PRUNABLE}
    if dry_run or not any(counts.values()):
        return counts
    while True:
        with sessions() as s, s.begin():
            ids = s.execute(sa.select(outbox.c.id).where(*where).limit(batch)).scalars().all()
            if not ids:
                break
            s.execute(outbox.delete().where(outbox.c.id.in_(ids)))
    with sessions() as s, s.begin():
        log_change(
            s,
            at=now,
            actor=actor,
            action="prune",
            entity="outbox",
            new={"before": before, **counts},
        )
    return counts
