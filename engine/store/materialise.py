"""Rules + recorded events -> deadlines in the store, idempotently by (rule, key).

Deadlines are created up to the horizon (the end of next year by default,
``settings.horizon_years``), from the first of January of last year. An open
deadline whose rule or calendar changed is recomputed and the change logged with
the old and new values; done and waived deadlines are never touched; deadlines of
a removed rule (or an occurrence the rule no longer produces, e.g. its event was
removed) become ``cancelled``, never deleted, and are reopened if they come back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.core.config import Config
from engine.core.rules import Event, plan
from engine.store.audit import log_change
from engine.store.db import PG_MATERIALISE_KEY, serialise
from engine.store.outbox import first_instant, next_instant_after, require_aware
from engine.store.tables import (
    CANCELLED,
    OPEN,
    PENDING,
    SUPERSEDED,
    deadlines,
    events,
    meta,
    outbox,
)

TRACKED = ("title", "plan_item", "due", "lead", "coordinating")


@dataclass
class MaterialiseReport:
    created: int = 0
    updated: int = 0
    cancelled: int = 0
    reopened: int = 0
    rescheduled: int = 0

    def __str__(self) -> str:
        return (
            f"{self.created} created, {self.updated} updated, {self.cancelled} cancelled, "
            f"{self.reopened} reopened"
        )


def window(config: Config, now: datetime) -> tuple[date, date]:
    """The due dates materialised as of ``now``: [1 Jan last year, end of horizon]."""
    today = require_aware(now).astimezone(ZoneInfo(config.settings.timezone)).date()
    return date(today.year - 1, 1, 1), date(today.year + config.settings.horizon_years, 12, 31)


def stored_events(session: Session) -> list[Event]:
    """Every recorded event as a core :class:`~engine.core.rules.Event`."""
    rows = session.execute(
        sa.select(events.c.type, events.c.event_id, events.c.date, events.c.attrs).order_by(
            events.c.id
        )
    ).all()
    return [
        Event(r.type, r.event_id, r.date, {k: str(v) for k, v in (r.attrs or {}).items()})
        for r in rows
    ]


def ladder_fingerprint(config: Config) -> str:
    """Changes when anything that moves send instants (not due dates) changes."""
    s = config.settings
    cal = config.calendar
    text = repr(
        (
            sorted((k, repr(v)) for k, v in config.policies.items()),
            sorted(cal.extra_days_off),
            sorted(cal.extra_working_days),
            s.send_time,
            s.timezone,
            sorted((r.id, r.escalation) for r in config.rules),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _supersede_pending(session: Session, deadline_id: int, now: datetime, why: str) -> None:
    session.execute(
        outbox.update()
        .where(outbox.c.deadline_id == deadline_id, outbox.c.state == PENDING)
        .values(state=SUPERSEDED, last_error=why, updated_at=now)
    )


def materialise(
    session: Session, config: Config, now: datetime, *, actor: str = "hanchot"
) -> MaterialiseReport:
    """Bring the deadlines table in line with ``config`` and the stored events.

    Idempotent: a second call with the same inputs changes nothing. Commits nothing;
    the caller owns the transaction.
    """
    now = require_aware(now)
    # Two processes materialising at once on PostgreSQL both inserted the same new
    # (rule, key) and one died on uq_deadlines_rule_key: take turns, and read the
    # deadlines only once it is ours to write (held until the caller commits).
    serialise(session.connection(), PG_MATERIALISE_KEY)
    s = config.settings
    cal = config.calendar
    start, end = window(config, now)
    occs = plan(config.rules, cal, start, end, stored_events(session))
    rules = {r.id: r for r in config.rules}
    existing = {
        (r.rule_id, r.key): r
        for r in session.execute(
            sa.select(
                deadlines.c.id,
                deadlines.c.rule_id,
                deadlines.c.key,
                deadlines.c.title,
                deadlines.c.plan_item,
                deadlines.c.due,
                deadlines.c.lead,
                deadlines.c.coordinating,
                deadlines.c.status,
                deadlines.c.materialised_through,
                deadlines.c.original_due,
            )
        ).all()
    }
    report = MaterialiseReport()
    produced: set[tuple[str, str]] = set()
    new_rows: list[dict] = []

    def policy_of(rule_id: str):
        rule = rules.get(rule_id)
        return config.policies.get(rule.escalation) if rule is not None else None

    for occ in occs:
        rule = occ.rule
        ident = (rule.id, occ.key)
        produced.add(ident)
        values = {
            "title": rule.title,
            "plan_item": rule.plan_item,
            "due": occ.due,
            "lead": rule.lead,
            "coordinating": list(rule.coordinating),
        }
        row = existing.get(ident)
        policy = policy_of(rule.id)
        if row is None:
            nxt = first_instant(policy, cal, occ.due, s.timezone, s.send_time) if policy else None
            new_rows.append(
                {
                    "rule_id": rule.id,
                    "key": occ.key,
                    **values,
                    "status": OPEN,
                    "created_at": now,
                    "updated_at": now,
                    "next_send_at": nxt,
                    "materialised_through": None,
                }
            )
            continue
        if row.status not in (OPEN, CANCELLED):
            continue  # done, waived or reported: not the rule's to change
        if row.original_due is not None:
            values["due"] = row.due  # an approved extension moved it (portal)
        old = {k: getattr(row, k) for k in TRACKED}
        changed = {k: v for k, v in values.items() if old[k] != v}
        if not changed and row.status == OPEN:
            continue
        upd = dict(values, updated_at=now)
        if row.status == CANCELLED:
            upd["status"] = OPEN
            report.reopened += 1
            action, reason = "reopen", "the rule produces this occurrence again"
        else:
            report.updated += 1
            action = "recompute"
            reason = "rule or calendar changed: " + ", ".join(sorted(changed))
        if "due" in changed or row.status == CANCELLED:
            _supersede_pending(session, row.id, now, "due date changed")
        upd["next_send_at"] = (
            next_instant_after(
                policy, cal, occ.due, row.materialised_through, s.timezone, s.send_time
            )
            if policy
            else None
        )
        session.execute(deadlines.update().where(deadlines.c.id == row.id).values(**upd))
        log_change(
            session,
            at=now,
            actor=actor,
            action=action,
            entity="deadline",
            entity_id=row.id,
            rule_id=rule.id,
            key=occ.key,
            old={k: old[k] for k in changed} | {"status": row.status},
            new={k: values[k] for k in changed} | {"status": OPEN},
            reason=reason,
        )

    if new_rows:
        session.execute(deadlines.insert(), new_rows)
        report.created = len(new_rows)
        ids = dict(
            ((r.rule_id, r.key), r.id)
            for r in session.execute(
                sa.select(deadlines.c.id, deadlines.c.rule_id, deadlines.c.key).where(
                    deadlines.c.created_at == now
                )
            )
        )
        for r in new_rows:
            log_change(
                session,
                at=now,
                actor=actor,
                action="create",
                entity="deadline",
                entity_id=ids.get((r["rule_id"], r["key"])),
                rule_id=r["rule_id"],
                key=r["key"],
                new={"due": r["due"], "lead": r["lead"], "coordinating": r["coordinating"]},
                reason="materialised from the rule",
            )

    for ident, row in existing.items():
        if row.status != OPEN or ident in produced:
            continue
        if row.rule_id in rules:
            if not start <= row.due <= end:
                continue  # outside what was computed: nothing says it is gone
            reason = "the rule no longer produces this occurrence (event removed or rule changed)"
        else:
            reason = f"rule {row.rule_id} was removed from the rules files"
        session.execute(
            deadlines.update()
            .where(deadlines.c.id == row.id)
            .values(status=CANCELLED, next_send_at=None, updated_at=now)
        )
        _supersede_pending(session, row.id, now, "deadline cancelled")
        log_change(
            session,
            at=now,
            actor=actor,
            action="cancel",
            entity="deadline",
            entity_id=row.id,
            rule_id=row.rule_id,
            key=row.key,
            old={"status": OPEN},
            new={"status": CANCELLED},
            reason=reason,
        )
        report.cancelled += 1

    report.rescheduled = _reschedule_if_ladder_changed(session, config, now)
    return report


def _reschedule_if_ladder_changed(session: Session, config: Config, now: datetime) -> int:
    """Recompute ``next_send_at`` of every open deadline when policies, calendar or
    send time changed since the last run (stored fingerprint); returns how many."""
    fp = ladder_fingerprint(config)
    stored = session.execute(sa.select(meta.c.value).where(meta.c.key == "ladder")).scalar()
    if stored == fp:
        return 0
    s = config.settings
    rules = {r.id: r for r in config.rules}
    rows = session.execute(
        sa.select(
            deadlines.c.id, deadlines.c.rule_id, deadlines.c.due, deadlines.c.materialised_through
        ).where(deadlines.c.status == OPEN)
    ).all()
    updates = []
    for r in rows:
        rule = rules.get(r.rule_id)
        policy = config.policies.get(rule.escalation) if rule else None
        nxt = (
            next_instant_after(
                policy, config.calendar, r.due, r.materialised_through, s.timezone, s.send_time
            )
            if policy
            else None
        )
        updates.append({"b_id": r.id, "b_next": nxt})
    if updates:
        session.execute(
            deadlines.update()
            .where(deadlines.c.id == sa.bindparam("b_id"))
            .values(next_send_at=sa.bindparam("b_next")),
            updates,
        )
    if stored is None:
        session.execute(meta.insert().values(key="ladder", value=fp))
    else:
        session.execute(meta.update().where(meta.c.key == "ladder").values(value=fp))
    return len(updates)
