"""Rules + recorded events -> deadlines in the store, idempotently by (rule, key).

Deadlines are created up to the horizon (the end of next year by default,
``settings.horizon_years``), from the first of January of last year. An open
deadline whose rule or calendar changed is recomputed and the change logged with
the old and new values; done and waived deadlines are never touched; deadlines of
a removed rule (or an occurrence the rule no longer produces, e.g. its event was
removed) become ``cancelled``, never deleted, and are reopened if they come back.

Nothing changed, nothing done (issue 13): a fingerprint of everything the result
depends on is stored in ``store_meta`` (key ``materialise``) — the code of the core
and of this module, the window (so a new year of the horizon), the ladder policies,
the events' high-water mark (count and newest id of the events and of the audit rows
about events: recording or removing an event always appends one), the working-day
flags of every year the last run's calendar looked at, and one digest per rule. When
it matches, materialisation is skipped; when only some rules differ (edited, added,
removed), only their deadlines are redone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.core.config import Config
from engine.core.rules import Event, Rule, plan
from engine.i18n import _
from engine.store.audit import log_change
from engine.store.db import PG_MATERIALISE_KEY, serialise
from engine.store.outbox import first_instant, next_instant_after, require_aware
from engine.store.tables import (
    CANCELLED,
    OPEN,
    PENDING,
    SUPERSEDED,
    audit,
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
    #: Nothing it depends on changed since the last run: nothing was recomputed.
    skipped: bool = False
    #: The rules whose deadlines were redone, or None for all of them.
    rules_redone: frozenset[str] | None = None

    def __str__(self) -> str:
        return _(
            "{created} created, {updated} updated, {cancelled} cancelled, {reopened} reopened"
        ).format(
            created=self.created,
            updated=self.updated,
            cancelled=self.cancelled,
            reopened=self.reopened,
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


#: ``store_meta`` key of the materialisation fingerprint, and its layout version.
FINGERPRINT_KEY = "materialise"
FINGERPRINT_FORMAT = 1
#: Above this many changed rules a partial run is no cheaper: redo everything.
PARTIAL_LIMIT = 500

_ENGINE = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """Changes when the code that computes deadlines changes (an upgrade of hanchot)."""
    h = hashlib.blake2b(digest_size=16)
    for p in sorted((_ENGINE / "core").glob("*.py")) + [Path(__file__).resolve()]:
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def rule_fingerprint(rule: Rule) -> str:
    """Changes when anything of ``rule`` changes (its repr shows every field)."""
    return hashlib.blake2b(repr(rule).encode(), digest_size=16).hexdigest()


def events_mark(session: Session) -> list[Any]:
    """The events' high-water mark: it changes whenever an event is recorded or removed.

    Recording or removing an event always appends an audit row about events, and the
    audit log is append-only (its triggers refuse UPDATE, DELETE and, on PostgreSQL,
    TRUNCATE). On SQLite writers take turns and a new row's id is larger than every
    id in the table, so the newest ids of the events and of those audit rows are the
    mark: two index look-ups, whatever the number of rows. On PostgreSQL the ids of
    concurrent transactions can commit out of order: there the mark is the count and
    newest id of the events and of the audit rows about events (the log's count only
    ever grows)."""
    if session.get_bind().dialect.name == "sqlite":
        return [
            session.execute(sa.select(sa.func.max(events.c.id))).scalar(),
            session.execute(
                sa.select(sa.func.max(audit.c.id)).where(audit.c.entity == "event")
            ).scalar(),
        ]
    ev = session.execute(sa.select(sa.func.count(), sa.func.max(events.c.id))).one()
    au = session.execute(
        sa.select(sa.func.count(), sa.func.max(audit.c.id)).where(audit.c.entity == "event")
    ).one()
    return [ev[0], ev[1], au[0], au[1]]


def inputs_fingerprint(
    session: Session, config: Config, start: date, end: date, years: tuple[int, int]
) -> str:
    """The digest of everything but the rules that materialising ``[start, end]``
    depends on; the calendar's working days are taken over ``years``."""
    h = hashlib.blake2b(digest_size=16)
    text = json.dumps(
        [
            FINGERPRINT_FORMAT,
            _code_digest(),
            start.isoformat(),
            end.isoformat(),
            # The ladder policies and when they send (each rule's own policy name is
            # in its fingerprint, so adding or removing a rule stays a partial run).
            sorted((k, repr(v)) for k, v in config.policies.items()),
            config.settings.send_time.isoformat(),
            config.settings.timezone,
            events_mark(session),
            list(years),
        ]
    )
    h.update(text.encode())
    h.update(config.calendar.working_flags(*years))
    return h.hexdigest()


def _stored_fingerprint(session: Session) -> dict[str, Any] | None:
    raw = session.execute(sa.select(meta.c.value).where(meta.c.key == FINGERPRINT_KEY)).scalar()
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        ok = (
            isinstance(data, dict)
            and data.get("format") == FINGERPRINT_FORMAT
            and isinstance(data.get("inputs"), str)
            and isinstance(data.get("rules"), dict)
            and isinstance(data.get("years"), list)
            and len(data["years"]) == 2
            and all(isinstance(y, int) for y in data["years"])
        )
    except ValueError:
        return None
    return data if ok else None


def _store_fingerprint(session: Session, value: dict[str, Any]) -> None:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    done = session.execute(
        meta.update().where(meta.c.key == FINGERPRINT_KEY).values(value=text)
    ).rowcount
    if not done:
        session.execute(meta.insert().values(key=FINGERPRINT_KEY, value=text))


def _insert_new(session: Session, rows: list[dict]) -> dict[tuple[str, str], int]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: (rule, key) -> id of rows inserted."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = (
        insert(deadlines)
        .on_conflict_do_nothing()
        .returning(deadlines.c.id, deadlines.c.rule_id, deadlines.c.key)
    )
    out: dict[tuple[str, str], int] = {}
    for start in range(0, len(rows), 1000):
        for r in session.execute(stmt, rows[start : start + 1000]):
            out[(r.rule_id, r.key)] = r.id
    return out


def materialise(
    session: Session,
    config: Config,
    now: datetime,
    *,
    actor: str = "hanchot",
    force: bool = False,
) -> MaterialiseReport:
    """Bring the deadlines table in line with ``config`` and the stored events.

    Idempotent: a second call with the same inputs changes nothing, and finds out
    from the stored fingerprint (see the module docstring) without recomputing;
    ``force`` recomputes every rule anyway. Commits nothing; the caller owns the
    transaction.
    """
    now = require_aware(now)
    # Two processes materialising at once on PostgreSQL both inserted the same new
    # (rule, key) and one died on uq_deadlines_rule_key: take turns, and read the
    # deadlines only once it is ours to write (held until the caller commits).
    serialise(session.connection(), PG_MATERIALISE_KEY)
    start, end = window(config, now)
    fps = {r.id: rule_fingerprint(r) for r in config.rules}
    stored = None if force else _stored_fingerprint(session)
    only: set[str] | None = None
    years: tuple[int, int] | None = None
    if stored is not None:
        y0, y1 = stored["years"]
        if stored["inputs"] == inputs_fingerprint(session, config, start, end, (y0, y1)):
            old_fps = stored["rules"]
            only = {rid for rid, fp in fps.items() if old_fps.get(rid) != fp}
            only |= set(old_fps) - set(fps)  # removed rules: their deadlines are cancelled
            if not only:
                report = MaterialiseReport(skipped=True, rules_redone=frozenset())
                report.rescheduled = _reschedule_if_ladder_changed(session, config, now)
                return report
            if len(only) > PARTIAL_LIMIT:
                only = None
            else:
                years = (y0, y1)  # the unchanged rules' dates depend on these years
    report = _materialise(session, config, now, actor, start, end, only)
    report.rules_redone = None if only is None else frozenset(only)
    report.rescheduled = _reschedule_if_ladder_changed(session, config, now)
    covered = config.calendar.covered_years() or (start.year, end.year)
    if years is not None:
        covered = (min(covered[0], years[0]), max(covered[1], years[1]))
    _store_fingerprint(
        session,
        {
            "format": FINGERPRINT_FORMAT,
            "inputs": inputs_fingerprint(session, config, start, end, covered),
            "years": list(covered),
            "rules": fps,
        },
    )
    return report


def _materialise(
    session: Session,
    config: Config,
    now: datetime,
    actor: str,
    start: date,
    end: date,
    only: set[str] | None,
) -> MaterialiseReport:
    """Materialise the rules whose ids are in ``only`` (every rule when None)."""
    s = config.settings
    cal = config.calendar
    chosen = config.rules if only is None else [r for r in config.rules if r.id in only]
    occs = plan(chosen, cal, start, end, stored_events(session))
    rules = {r.id: r for r in config.rules}
    query = sa.select(
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
    if only is not None:
        query = query.where(deadlines.c.rule_id.in_(sorted(only)))
    existing = {(r.rule_id, r.key): r for r in session.execute(query).all()}
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
        # Another process (``run --once``, a second daemon, ``event add``) may be
        # creating the same deadlines right now: on PostgreSQL our snapshot did not
        # show its uncommitted rows. ON CONFLICT DO NOTHING waits for it and skips
        # them; only the rows this transaction really inserted are counted and logged.
        ids = _insert_new(session, new_rows)
        report.created = len(ids)
        for r in new_rows:
            if (r["rule_id"], r["key"]) not in ids:
                continue
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
