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
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.core.config import Config
from engine.core.rules import After, Event, Rule, occurrences
from engine.i18n import _
from engine.store import bulk
from engine.store.audit import log_changes
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
    """Every recorded event as a core :class:`~engine.core.rules.Event`, in the order
    recorded. (Read through the driver: dates and attribute texts repeat, and each
    distinct one is converted once.)"""
    conn = session.connection()
    day = bulk.memo_result(conn, events.c.date)
    attrs = bulk.memo_result(conn, events.c.attrs)
    rows = bulk.select(conn, 'SELECT type, event_id, "date", attrs FROM events ORDER BY id')
    return [
        Event(kind, ident, day(d), {k: str(v) for k, v in (attrs(a) or {}).items()})
        for kind, ident, d, a in rows
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
    """Changes when anything of ``rule`` that deadlines depend on changes (its repr shows
    every field), but not where it was read from: the daemon's unit reads
    ``/srv/hanchot/rules``, an admin in ``/srv/hanchot`` reads ``rules/``, and a comment
    added above a rule moves its line; none of that may redo its deadlines."""
    located = replace(rule, file=None, line=None)
    return hashlib.blake2b(repr(located).encode(), digest_size=16).hexdigest()


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
    fresh: list[tuple[int, int]] = []
    report = _materialise(session, config, now, actor, start, end, only, fresh)
    report.rules_redone = None if only is None else frozenset(only)
    report.rescheduled = _reschedule_if_ladder_changed(session, config, now, fresh)
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


#: Rows per page of the existing-rows look-up and per batch of inserted deadlines: the
#: bound on what one rule's pass holds besides its occurrences.
CHUNK = 20_000

#: The columns of a new deadline, in the order :func:`_insert_chunk` sends them.
_NEW_COLUMNS = (
    "rule_id",
    "key",
    "title",
    "plan_item",
    "due",
    "lead",
    "coordinating",
    "status",
    "created_at",
    "updated_at",
    "next_send_at",
    "materialised_through",
)
_UPDATE_COLUMNS = (
    "title",
    "plan_item",
    "due",
    "lead",
    "coordinating",
    "status",
    "updated_at",
    "next_send_at",
)


class _Pass:
    """What one materialisation computes once and shares across rules: converted values
    and the send instants of (policy, due date), which thousands of deadlines share."""

    def __init__(self, session: Session, config: Config, now: datetime, actor: str) -> None:
        self.session = session
        self.conn = session.connection()
        self.config = config
        self.now = now
        self.actor = actor
        self.due = bulk.memo_converter(self.conn, deadlines.c.due)
        self.instant = bulk.memo_converter(self.conn, deadlines.c.next_send_at)
        self.coordinating = bulk.converter(self.conn, deadlines.c.coordinating)
        self.now_value = self.instant(now)
        self._first: dict[tuple[str, date], datetime | None] = {}
        self._next: dict[tuple[str, date, datetime | None], datetime | None] = {}
        #: (first, last) id ranges of the deadlines created.
        self.fresh: list[tuple[int, int]] = []

    def first_instant(self, escalation: str, due: date) -> datetime | None:
        """``first_instant`` of the policy named ``escalation`` (None: no such policy)."""
        k = (escalation, due)
        try:
            return self._first[k]
        except KeyError:
            pass
        policy = self.config.policies.get(escalation)
        s = self.config.settings
        out = self._first[k] = (
            first_instant(policy, self.config.calendar, due, s.timezone, s.send_time)
            if policy
            else None
        )
        return out

    def next_instant(self, escalation: str | None, due: date, after: datetime | None):
        """``next_instant_after`` of the policy named ``escalation`` (None: no such policy)."""
        if escalation is None:
            return None
        if after is None:
            return self.first_instant(escalation, due)
        k = (escalation, due, after)
        try:
            return self._next[k]
        except KeyError:
            pass
        policy = self.config.policies.get(escalation)
        s = self.config.settings
        out = self._next[k] = (
            next_instant_after(policy, self.config.calendar, due, after, s.timezone, s.send_time)
            if policy
            else None
        )
        return out

    def supersede_pending(self, deadline_ids: list[int], why: str) -> None:
        bulk.update(
            self.conn,
            outbox,
            ("state", "last_error", "updated_at"),
            ("deadline_id", "state"),
            [(SUPERSEDED, why, self.now_value, i, PENDING) for i in deadline_ids],
        )

    def cancel(self, rows: list[Any], reason_of) -> None:
        """Cancel these open rows (each with an audit entry; ``reason_of(row)``)."""
        if not rows:
            return
        ids = [r.id for r in rows]
        bulk.update(
            self.conn,
            deadlines,
            ("status", "next_send_at", "updated_at"),
            ("id",),
            [(CANCELLED, None, self.now_value, i) for i in ids],
        )
        self.supersede_pending(ids, "deadline cancelled")
        old, new = {"status": OPEN}, {"status": CANCELLED}
        log_changes(
            self.session,
            (
                {
                    "at": self.now,
                    "actor": self.actor,
                    "action": "cancel",
                    "entity": "deadline",
                    "entity_id": r.id,
                    "rule_id": r.rule_id,
                    "key": r.key,
                    "old": old,
                    "new": new,
                    "reason": reason_of(r),
                }
                for r in rows
            ),
        )


_EXISTING = (
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


def _pages(session: Session, rule_id: str, columns, *, open_only: bool = False):
    """The stored rows of ``rule_id``, by key, read ``CHUNK`` at a time (keyset paging
    in the database's own order of keys, on the (rule_id, key) unique index); only the
    open ones if ``open_only`` (filtered here, so that the index stays the one used)."""
    last: str | None = None
    while True:
        q = sa.select(*columns).where(deadlines.c.rule_id == rule_id)
        if last is not None:
            q = q.where(deadlines.c.key > last)
        page = session.execute(q.order_by(deadlines.c.key).limit(CHUNK)).all()
        if not page:
            return
        last = page[-1].key
        yield [r for r in page if r.status == OPEN] if open_only else page
        if len(page) < CHUNK:
            return


def _materialise(
    session: Session,
    config: Config,
    now: datetime,
    actor: str,
    start: date,
    end: date,
    only: set[str] | None,
    fresh: list[tuple[int, int]],
) -> MaterialiseReport:
    """Materialise the rules whose ids are in ``only`` (every rule when None); the ids
    of the deadlines it creates are added to ``fresh`` as (first, last) ranges.

    Rule by rule: the rule's occurrences against its stored rows, read a page at a
    time; new deadlines inserted and logged ``CHUNK`` at a time through the driver.
    Peak memory is one rule's occurrences and one page, not the whole table.
    """
    chosen = config.rules if only is None else [r for r in config.rules if r.id in only]
    by_type: dict[str, list[Event]] = {}
    for ev in stored_events(session):
        by_type.setdefault(ev.type, []).append(ev)
    report = MaterialiseReport()
    work = _Pass(session, config, now, actor)
    work.fresh = fresh
    for rule in chosen:
        evs = by_type.get(rule.due.event, ()) if isinstance(rule.due, After) else ()
        # (occurrences() of one rule are in plan()'s order: by due date, then key)
        occs = occurrences(rule, config.calendar, start, end, evs)
        _materialise_rule(work, rule, occs, start, end, report)
    del by_type

    # Deadlines of rules gone from the rules files.
    known = {r.id for r in config.rules}
    if only is None:
        stored_ids = session.execute(sa.select(deadlines.c.rule_id).distinct()).scalars()
        gone = sorted(set(stored_ids) - known)
    else:
        gone = sorted(only - known)
    for rule_id in gone:
        reason = f"rule {rule_id} was removed from the rules files"
        cols = (deadlines.c.id, deadlines.c.rule_id, deadlines.c.key, deadlines.c.status)
        for page in _pages(session, rule_id, cols, open_only=True):
            work.cancel(page, lambda _r, reason=reason: reason)
            report.cancelled += len(page)
    return report


def _materialise_rule(
    work: _Pass, rule: Rule, occs: list, start: date, end: date, report: MaterialiseReport
) -> None:
    """One rule's occurrences against its stored deadlines (see :func:`_materialise`)."""
    from engine.store.portal_ops import keep_extension  # not imported by an idle run

    session, now = work.session, work.now
    pending = {o.key: o for o in occs}  # not stored yet, once the pages are read
    coordinating = list(rule.coordinating)
    gone_reason = "the rule no longer produces this occurrence (event removed or rule changed)"
    for page in _pages(session, rule.id, _EXISTING):
        updates: list[tuple] = []
        supersede: list[int] = []
        entries: list[dict] = []
        cancel: list[Any] = []
        for row in page:
            occ = pending.pop(row.key, None)
            if occ is None:
                if row.status == OPEN and start <= row.due <= end:
                    cancel.append(row)
                continue
            if row.status not in (OPEN, CANCELLED):
                continue  # done, waived or reported: not the rule's to change
            values = {
                "title": rule.title,
                "plan_item": rule.plan_item,
                "due": occ.due,
                "lead": rule.lead,
                "coordinating": coordinating,
            }
            # An approved extension (portal) is a decision: see keep_extension.
            values["due"] = keep_extension(session, row, occ.due, now=now, actor=work.actor)
            old = {k: getattr(row, k) for k in TRACKED}
            changed = {k: v for k, v in values.items() if old[k] != v}
            if not changed and row.status == OPEN:
                continue
            if row.status == CANCELLED:
                report.reopened += 1
                action, reason = "reopen", "the rule produces this occurrence again"
            else:
                report.updated += 1
                action = "recompute"
                reason = "rule or calendar changed: " + ", ".join(sorted(changed))
            if "due" in changed or row.status == CANCELLED:
                supersede.append(row.id)
            nxt = work.next_instant(rule.escalation, occ.due, row.materialised_through)
            updates.append(
                (
                    rule.title,
                    rule.plan_item,
                    work.due(values["due"]),
                    rule.lead,
                    work.coordinating(coordinating),
                    OPEN,
                    work.now_value,
                    work.instant(nxt),
                    row.id,
                )
            )
            entries.append(
                {
                    "at": now,
                    "actor": work.actor,
                    "action": action,
                    "entity": "deadline",
                    "entity_id": row.id,
                    "rule_id": rule.id,
                    "key": occ.key,
                    "old": {k: old[k] for k in changed} | {"status": row.status},
                    "new": {k: values[k] for k in changed} | {"status": OPEN},
                    "reason": reason,
                }
            )
        work.supersede_pending(supersede, "due date changed")
        bulk.update(work.conn, deadlines, _UPDATE_COLUMNS, ("id",), updates)
        log_changes(session, entries)
        work.cancel(cancel, lambda _r: gone_reason)
        report.cancelled += len(cancel)

    new = [o for o in occs if o.key in pending]
    del pending
    for i in range(0, len(new), CHUNK):
        report.created += _insert_chunk(work, rule, new[i : i + CHUNK])


def _insert_chunk(work: _Pass, rule: Rule, occs: list) -> int:
    """Insert these new deadlines of ``rule`` and log each one really inserted."""
    conn = work.conn
    coordinating = work.coordinating(list(rule.coordinating))
    fixed = (rule.title, rule.plan_item)
    tail = (rule.lead, coordinating, OPEN, work.now_value, work.now_value)
    rows = [
        (
            rule.id,
            o.key,
            *fixed,
            work.due(o.due),
            *tail,
            work.instant(work.first_instant(rule.escalation, o.due)),
            None,
        )
        for o in occs
    ]
    # Another process (``run --once``, a second daemon, ``event add``) may be creating
    # the same deadlines right now: on PostgreSQL our snapshot did not show its
    # uncommitted rows. ON CONFLICT DO NOTHING waits for it and skips them; only the
    # rows this transaction really inserted are counted and logged. (SQLite: BEGIN
    # IMMEDIATE keeps every other writer out, and new rowids follow the largest.)
    got = bulk.insert(
        conn, deadlines, _NEW_COLUMNS, rows, ignore_conflicts=True, returning=("id", "key")
    )
    ids = {key: i for i, key in got}
    new_values: dict[date, dict] = {}  # one dict per due date: serialised once
    for o in occs:
        if o.due not in new_values:
            new_values[o.due] = {
                "due": o.due,
                "lead": rule.lead,
                "coordinating": list(rule.coordinating),
            }
    reason = "materialised from the rule"
    log_changes(
        work.session,
        (
            {
                "at": work.now,
                "actor": work.actor,
                "action": "create",
                "entity": "deadline",
                "entity_id": ids[o.key],
                "rule_id": rule.id,
                "key": o.key,
                "new": new_values[o.due],
                "reason": reason,
            }
            for o in occs
            if o.key in ids
        ),
    )
    runs = sorted(ids.values())
    lo = prev = runs[0] if runs else 0
    for i in runs[1:]:
        if i != prev + 1:
            work.fresh.append((lo, prev))
            lo = i
        prev = i
    if runs:
        work.fresh.append((lo, prev))
    return len(ids)


def _reschedule_if_ladder_changed(
    session: Session, config: Config, now: datetime, fresh: list[tuple[int, int]] = ()
) -> int:
    """Recompute ``next_send_at`` of every open deadline when policies, calendar or
    send time changed since the last run (stored fingerprint); returns how many.

    ``fresh``: (first, last) id ranges of deadlines this transaction has just created
    open with the current ladder (their first send instant): they are counted, not
    read again. The others are read a page of ``CHUNK`` rows at a time, and a row
    whose value is already right is not written again.
    """
    fp = ladder_fingerprint(config)
    stored = session.execute(sa.select(meta.c.value).where(meta.c.key == "ladder")).scalar()
    if stored == fp:
        return 0
    work = _Pass(session, config, now, "hanchot")
    escalation = {r.id: r.escalation for r in config.rules}
    conn = work.conn
    due_of = bulk.memo_result(conn, deadlines.c.due)
    instant_of = bulk.memo_result(conn, deadlines.c.next_send_at)
    # By id alone: with "status = 'open'" in the WHERE, SQLite may walk the status
    # index and sort every open row again for each page.
    sql = (
        "SELECT id, status, rule_id, due, materialised_through, next_send_at"
        " FROM deadlines WHERE id > ? AND id < ? ORDER BY id LIMIT ?"
    )
    seen = 0
    # The gaps between the fresh ranges: (after this id, before that one).
    gaps, last = [], 0
    for lo, hi in sorted(fresh):
        gaps.append((last, lo))
        seen += hi - lo + 1
        last = hi
    gaps.append((last, None))
    for last, before in gaps:
        top = before if before is not None else 2**62
        while page := bulk.select(conn, sql, (last, top, CHUNK)):
            last = page[-1][0]
            updates = []
            for ident, status, rule_id, due, through, stored_next in page:
                if status != OPEN:
                    continue
                seen += 1
                nxt = work.next_instant(escalation.get(rule_id), due_of(due), instant_of(through))
                if nxt != instant_of(stored_next):
                    updates.append((work.instant(nxt), ident))
            bulk.update(conn, deadlines, ("next_send_at",), ("id",), updates)
    if stored is None:
        session.execute(meta.insert().values(key="ladder", value=fp))
    else:
        session.execute(meta.update().where(meta.c.key == "ladder").values(value=fp))
    return seen
