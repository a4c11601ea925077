"""From a deadline's escalation ladder to outbox rows (SPEC §4).

A *stage instance* is (stage, repeat number k, send date); its send instant is
``send_time`` local on that date, in UTC. Rows are created lazily: a dispatch cycle
at ``now`` materialises the instances whose instant is in
``(deadline.materialised_through, now]`` and moves ``next_send_at`` to the first
instance after ``now``. When several instants of one deadline are past at once (the
engine was down, or the deadline was recorded late), only the rows of the latest
instant are pending; the older ones are stored as ``superseded`` so they are never
sent later.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.core.calendar import WorkingCalendar
from engine.core.config import Config
from engine.core.escalation import Policy, Stage, send_instant
from engine.core.spans import add_span
from engine.core.units import Directory, Recipient
from engine.errors import CalendarRangeError
from engine.i18n import _
from engine.store.tables import OPEN, PENDING, SUPERSEDED, deadlines, outbox

log = logging.getLogger("hanchot.outbox")
LATER_STAGE = "superseded by a later stage"


def require_aware(now: datetime) -> datetime:
    """``now`` in UTC; a naive datetime raises :class:`ValueError` (never guessed)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got naive {now!r}")
    return now.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Instance:
    """One send of one stage: its repeat number ``k``, local date and UTC instant."""

    stage: Stage
    repeat: int
    date: date
    at: datetime


def ladder(
    policy: Policy, cal: WorkingCalendar, due: date, now: datetime, tz: str, send_time
) -> tuple[list[Instance], datetime | None]:
    """Stage instances whose instant is ``<= now`` (by instant), and the next instant after.

    The next instant is ``None`` when no stage has anything left to send.
    """
    now = require_aware(now)
    today = now.astimezone(ZoneInfo(tz)).date()
    past: list[Instance] = []
    upcoming: list[datetime] = []
    for stage in policy.stages:
        try:
            dates = stage.dates(cal, due, until=today)
        except CalendarRangeError:
            continue
        nxt: date | None = None
        for k, d in enumerate(dates):
            at = send_instant(d, send_time, tz)
            if at <= now:
                past.append(Instance(stage, k, d, at))
            elif nxt is None:
                nxt = d
        if nxt is None:
            try:
                if not dates:
                    nxt = stage.first_date(cal, due)
                elif stage.repeat is not None and stage.repeat.n > 0:
                    nxt = add_span(cal, dates[-1], stage.repeat)
            except CalendarRangeError:
                nxt = None
        if nxt is not None:
            upcoming.append(send_instant(nxt, send_time, tz))
    past.sort(key=lambda i: (i.at, i.stage.at, i.repeat))
    return past, min(upcoming, default=None)


def first_instant(policy: Policy, cal: WorkingCalendar, due: date, tz: str, send_time):
    """The earliest send instant of the whole ladder (``None`` for an empty policy)."""
    out = []
    for stage in policy.stages:
        try:
            out.append(send_instant(stage.first_date(cal, due), send_time, tz))
        except CalendarRangeError:
            continue
    return min(out, default=None)


def next_instant_after(
    policy: Policy, cal: WorkingCalendar, due: date, after: datetime | None, tz: str, send_time
) -> datetime | None:
    """The first send instant strictly after ``after`` (all of them when ``None``)."""
    if after is None:
        return first_instant(policy, cal, due, tz, send_time)
    return ladder(policy, cal, due, after, tz, send_time)[1]


def stage_recipients(
    directory: Directory, stage: Stage, lead: str, coordinating: Sequence[str]
) -> list[Recipient]:
    """Who one stage mails, each address once (first name wins)."""
    seen: dict[str, Recipient] = {}
    for audience in stage.notify:
        try:
            found = directory.recipients(audience, lead, tuple(coordinating))
        except KeyError as e:
            log.warning(
                _("stage {stage!r}: unknown unit, group or role {name}; skipped").format(
                    stage=stage.at, name=e
                )
            )
            continue
        for r in found:
            seen.setdefault(r.email.lower(), r)
    return list(seen.values())


def insert_ignore(session: Session, table: sa.Table, rows: list[dict]) -> None:
    """``INSERT ... ON CONFLICT DO NOTHING`` for SQLite and PostgreSQL."""
    if not rows:
        return
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(table).on_conflict_do_nothing(), rows)


def message_id(row_ids: Iterable[int]) -> str:
    """The deterministic Message-ID of a digest of these outbox rows."""
    text = ",".join(str(i) for i in sorted(row_ids))
    return f"<{hashlib.sha256(text.encode()).hexdigest()[:32]}@hanchot>"


def _acknowledged(session: Session, deadline_ids: list[int]) -> set[tuple[int, str]]:
    """(deadline id, address) of every acknowledgement among these deadlines."""
    from engine.store.portal_tables import acknowledgements as ack

    if not deadline_ids:
        return set()
    out: set[tuple[int, str]] = set()
    for i in range(0, len(deadline_ids), 500):
        chunk = deadline_ids[i : i + 500]
        out.update(
            (r.deadline_id, r.recipient.lower())
            for r in session.execute(
                sa.select(ack.c.deadline_id, ack.c.recipient).where(ack.c.deadline_id.in_(chunk))
            )
        )
    return out


def materialise_due(session: Session, config: Config, now: datetime) -> tuple[int, int]:
    """Create the outbox rows of every open deadline whose ``next_send_at <= now``.

    Returns (pending rows created, superseded rows created). Commits nothing; the
    caller owns the transaction.
    """
    now = require_aware(now)
    s = config.settings
    rules = {r.id: r for r in config.rules}
    rows = session.execute(
        sa.select(
            deadlines.c.id,
            deadlines.c.rule_id,
            deadlines.c.due,
            deadlines.c.lead,
            deadlines.c.coordinating,
            deadlines.c.materialised_through,
        )
        # `status || ''`: not the (status, due) index, through which SQLite (no ANALYZE
        # statistics) read every open deadline to find the few whose time has come.
        .where(deadlines.c.next_send_at <= now, deadlines.c.status.concat("") == OPEN)
    ).all()
    # In due-date order, then id, whatever index found them: outbox ids (and so the
    # Message-IDs derived from them) follow the same order on every database. (An
    # ORDER BY here would make SQLite walk ix_deadlines_due over every deadline.)
    rows.sort(key=lambda d: (d.due, d.id))
    n_pending = n_superseded = 0
    acked = _acknowledged(session, [d.id for d in rows])
    for d in rows:
        rule = rules.get(d.rule_id)
        policy = config.policies.get(rule.escalation) if rule is not None else None
        if policy is None:
            session.execute(
                deadlines.update().where(deadlines.c.id == d.id).values(next_send_at=None)
            )
            continue
        past, nxt = ladder(policy, config.calendar, d.due, now, s.timezone, s.send_time)
        done_until = d.materialised_through
        new = [i for i in past if done_until is None or i.at > done_until]
        out: list[dict] = []
        if new:
            latest = max(i.at for i in new)
            for inst in new:
                state = PENDING if inst.at == latest else SUPERSEDED
                for r in stage_recipients(config.directory, inst.stage, d.lead, d.coordinating):
                    if not inst.stage.is_late and (d.id, r.email.lower()) in acked:
                        continue  # "Đã tiếp nhận": no more reminders before the due date
                    out.append(
                        {
                            "deadline_id": d.id,
                            "due": d.due,
                            "stage": inst.stage.at,
                            "repeat": inst.repeat,
                            "recipient": r.email,
                            "recipient_name": r.name,
                            "send_at": inst.at,
                            "state": state,
                            "attempts": 0,
                            "last_error": None if state == PENDING else LATER_STAGE,
                            "next_attempt_at": inst.at,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                    if state == PENDING:
                        n_pending += 1
                    else:
                        n_superseded += 1
        insert_ignore(session, outbox, out)
        session.execute(
            deadlines.update()
            .where(deadlines.c.id == d.id)
            .values(next_send_at=nxt, materialised_through=now)
        )
    return n_pending, n_superseded
