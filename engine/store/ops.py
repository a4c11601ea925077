"""What the CLI does with the store: record events, close deadlines, report status."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.core.calendar import format_vi
from engine.core.config import Config, Settings
from engine.core.rules import After, Event, Rule
from engine.errors import InputError, StoreError
from engine.i18n import _
from engine.loader.events import EventRules, event_problems
from engine.loader.names import (
    EVENT_ID_RE,
    MAX_ID,
    check_attr_name,
    check_attr_value,
    check_event_id,
    check_event_type,
)
from engine.store import bulk
from engine.store.audit import COLUMNS as _AUDIT_COLUMNS
from engine.store.audit import log_change, os_user
from engine.store.outbox import require_aware
from engine.store.tables import (
    CANCELLED,
    CLOSED_BY_USER,
    DONE,
    OPEN,
    PENDING,
    SUPERSEDED,
    WAIVED,
    audit,
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
    return _EventChecker(rules, allow_unused_type).check(type_, event_id, attrs)


class _EventChecker:
    """:func:`check_event` for many events: the same checks in the same order, with the
    answers for the few distinct types and attribute sets remembered (an import has
    100,000 events of one type). Only accepted values are remembered; a bad one goes
    through the checks of :mod:`engine.loader.names` again, which raise."""

    def __init__(self, rules: Iterable[Rule] | EventRules | None, allow_unused_type: bool):
        if rules is not None and not isinstance(rules, EventRules):
            rules = EventRules(rules)
        self.rules = rules
        self.allow_unused_type = allow_unused_type
        self.types: dict[object, str] = {}
        self.attrs: dict[tuple, dict[str, str]] = {}
        self.fine: set[tuple] = set()  # (type, attribute items) with no rule problem

    def is_clean(self, e: Event) -> bool:
        """Whether :meth:`check` would return ``e``'s values unchanged, known without
        checking anything again: a type, an attribute set and a (type, attributes)
        verdict already accepted, and an id the pattern accepts as it is."""
        i = e.id
        if self.types.get(e.type) != e.type or type(i) is not str:
            return False
        if not (0 < len(i) <= MAX_ID and EVENT_ID_RE.fullmatch(i)):
            return False
        items = tuple(e.attrs.items())
        try:
            if self.attrs.get(items) != e.attrs:
                return False
        except TypeError:
            return False
        return self.rules is None or (e.type, items) in self.fine

    def check(
        self, type_: object, event_id: object, attrs: Mapping[str, str]
    ) -> tuple[str, str, dict[str, str]]:
        clean_type = self.types.get(type_) if isinstance(type_, str) else None
        if clean_type is None:
            clean_type = check_event_type(type_)
            self.types[type_] = clean_type
        # What check_event_id accepts unchanged: the pattern admits no space to strip.
        plain = type(event_id) is str and 0 < len(event_id) <= MAX_ID
        if not (plain and EVENT_ID_RE.fullmatch(event_id)):
            event_id = check_event_id(event_id)
        items = tuple(attrs.items())
        try:
            clean = self.attrs.get(items)
        except TypeError:  # an unhashable value: the checks say what is wrong with it
            clean = {check_attr_name(k): check_attr_value(v, k) for k, v in items}
        if clean is None:
            clean = {check_attr_name(k): check_attr_value(v, k) for k, v in items}
            self.attrs[items] = clean
        if self.rules is not None:
            seen = (clean_type, tuple(clean.items()))
            if seen not in self.fine:
                problems = event_problems(
                    self.rules, clean_type, clean, allow_unused_type=self.allow_unused_type
                )
                if problems:
                    raise InputError("; ".join(message for _field, message in problems))
                self.fine.add(seen)
        return clean_type, event_id, dict(clean)


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
    type a ``when:`` compares it with. Recording many events, use
    :func:`record_events`, which this calls.

    Raises :class:`~engine.errors.InputError` for a bad name or value, and when
    (type, id) exists with another date or other attributes: events are facts,
    correct them deliberately (:func:`remove_event`).
    """
    done = record_events(
        session,
        [Event(type_, event_id, when, attrs)],
        actor=actor,
        now=now,
        rules=rules,
        allow_unused_type=allow_unused_type,
    )
    return done.added == 1


@dataclass(frozen=True)
class Recorded:
    """What :func:`record_events` did: events stored, and events already recorded
    with the same values (skipped)."""

    added: int
    known: int


#: Events per existence query, executemany and audit batch of :func:`record_events`.
RECORD_CHUNK = 10_000


def record_events(
    session: Session,
    evs: Iterable[Event],
    *,
    actor: str,
    now: datetime,
    rules: Iterable[Rule] | EventRules | None = None,
    allow_unused_type: bool = False,
    checked: bool = False,
    chunk: int = RECORD_CHUNK,
    progress: Callable[[int], None] | None = None,
) -> Recorded:
    """Store many events as :func:`record_event` stores each, in order, set-based.

    Every event is checked first (:func:`check_event`), unless ``checked``: the events
    come from :func:`engine.loader.events.read_events` given the same ``rules`` and
    ``allow_unused_type``, which made the same checks (an import checks each event
    once, where it enters). Then, ``chunk`` events at a time, one set-based insert
    (:func:`engine.store.bulk.insert`, ``ON CONFLICT DO NOTHING``) stores them, and
    one more writes their audit rows (one ``record`` row per event, as
    :func:`record_event` always did). An event already recorded, by an earlier call or
    by another process meanwhile, is not inserted: with the same date and attributes
    it counts as known, otherwise it is a conflict. On PostgreSQL, where a skipped
    insert still spends a sequence number, one query per chunk first finds those
    already recorded, so that they are not sent at all. An event equal to an earlier
    one of ``evs`` is skipped; ``progress``, if given, is called with the number of
    events handled so far after each chunk.

    Nothing is committed: the caller's transaction makes it all or nothing.

    Raises :class:`~engine.errors.InputError` for the first event (in order) with a bad
    name or value, or recorded with another date or other attributes, whichever
    comes first: exactly the error the first failing :func:`record_event` call
    would raise.
    """
    now = require_aware(now)
    clean: list[Event] = []
    bad: InputError | None = None
    if checked:
        clean = evs if isinstance(evs, list) else list(evs)
    else:
        checker = _EventChecker(rules, allow_unused_type)
        for e in evs:
            if checker.is_clean(e):  # as read_events hands them: kept as they are
                clean.append(e)
                continue
            try:
                type_, event_id, attrs = checker.check(e.type, e.id, e.attrs)
            except InputError as err:
                bad = err  # raised unless an earlier event conflicts with the store
                break
            clean.append(Event(type_, event_id, e.date, attrs))
    conn = session.connection()
    look_first = bad is not None or bulk.is_postgres(conn)
    writer = _EventWriter(conn, actor, now)
    added = known = 0
    mine: dict[tuple[str, str], Event] = {}  # recorded by this call
    for start in range(0, len(clean), chunk):
        part = clean[start : start + chunk]
        old = _recorded(session, part) if look_first else {}
        new: list[Event] = []
        stop: InputError | None = None
        for e in part:
            key = (e.type, e.id)
            prior = mine.get(key)
            have = (prior.date, prior.attrs) if prior is not None else old.get(key)
            if have is not None:
                if have[0] == e.date and have[1] == e.attrs:
                    known += 1
                    continue
                # Raised once the events before it are known not to conflict first.
                stop = _conflict(e.type, e.id, *have)
                break
            mine[key] = e
            new.append(e)
        if new and bad is None:
            lost = writer.insert(new)
            added += len(new) - len(lost)
            if lost:
                # Already recorded (SQLite: not looked up first), or recorded by another
                # process since we looked: the same event is known, another one with
                # that (type, id) is the conflict record_event reports.
                old = _recorded(session, lost)
                for e in lost:
                    have = old.get((e.type, e.id))
                    if have is not None and (have[0] != e.date or have[1] != e.attrs):
                        raise _conflict(e.type, e.id, *have)
                    known += 1
        if stop is not None:
            raise stop
        if progress is not None:
            progress(start + len(part))
    if bad is not None:
        raise bad
    return Recorded(added, known)


def _recorded(session: Session, part: list[Event]) -> dict[tuple[str, str], tuple[date, dict]]:
    """(type, id) -> (date, attributes) of the events of ``part`` already recorded."""
    by_type: dict[str, list[str]] = {}
    for e in part:
        by_type.setdefault(e.type, []).append(e.id)
    out: dict[tuple[str, str], tuple[date, dict]] = {}
    for type_, ids in by_type.items():
        rows = session.execute(
            sa.select(events.c.event_id, events.c.date, events.c.attrs).where(
                events.c.type == type_, events.c.event_id.in_(ids)
            )
        )
        for r in rows:
            out[(type_, r.event_id)] = (r.date, r.attrs or {})
    return out


def _conflict(type_: str, event_id: str, old_date: date, old_attrs: dict) -> InputError:
    return InputError(
        _(
            "event {type} {id} is already recorded (date {date}, attributes {attrs}); "
            "use another id"
        ).format(type=type_, id=event_id, date=old_date.isoformat(), attrs=old_attrs)
    )


#: The columns :meth:`_EventWriter.insert` writes, in the order of its rows.
_EVENT_COLUMNS = ("type", "event_id", "date", "attrs", "recorded_by", "recorded_at")


class _EventWriter:
    """Events and their audit rows, inserted set-based.

    The events go through :func:`engine.store.bulk.insert`, every value converted by
    its column's own bind processing, each distinct one once (an import has a few
    hundred dates and a few attribute sets for 100,000 events): the rows stored are
    the ones SQLAlchemy, and :func:`record_event` before it, would store.

    Their audit rows are written by the database from the rows just inserted (``INSERT
    … SELECT``), one per event in id order, with ``new`` the JSON text of ``{"type",
    "id", "date", "attrs"}`` put together by SQL (:meth:`record_sql`): what
    :func:`engine.store.audit.log_change` writes, byte for byte, since a recorded
    type and id are checked to be plain ASCII without quotes or backslashes, and the
    attributes are the JSON text of the event's own column (a test holds the two
    equal on SQLite and on PostgreSQL).
    """

    def __init__(self, conn: sa.Connection, actor: str, now: datetime) -> None:
        self.conn = conn
        self.pg = bulk.is_postgres(conn)
        self.date = bulk.memo_converter(conn, events.c.date)
        self.attrs_json = bulk.converter(conn, events.c.attrs)
        self.attrs: dict[tuple, Any] = {}  # attribute items -> their converted value
        self.tail = (actor, bulk.converter(conn, events.c.recorded_at)(now))
        self.audit_values = (
            bulk.converter(conn, audit.c.at)(now),
            actor,
            bulk.converter(conn, audit.c.old)(None),
            os_user(),
        )

    def _attrs(self, attrs: dict[str, str]) -> Any:
        items = tuple(attrs.items())
        hit = self.attrs.get(items)
        if hit is None:
            hit = self.attrs[items] = self.attrs_json(attrs)
        return hit

    def record_sql(self) -> str:
        """The SQL of an inserted event's audit ``new``, over ``events`` as ``e``."""
        if self.pg:
            quoted = "to_json(e.{})::text"
            day, attrs = "to_char(e.date, 'YYYY-MM-DD')", "e.attrs::text"
        else:
            quoted = "json_quote(e.{})"
            day, attrs = "e.date", "e.attrs"
        text = (
            f"""'{{"type": ' || {quoted.format("type")} || ', "id": ' || """
            f"""{quoted.format("event_id")} || ', "date": "' || {day} || '", "attrs": ' """
            f"""|| {attrs} || '}}'"""
        )
        return f"CAST({text} AS json)" if self.pg else text

    def insert(self, new: list[Event]) -> list[Event]:
        """Insert ``new`` and an audit row for each one really inserted; returns those
        not inserted (a row with their (type, id) is there already)."""
        conv, attrs, tail = self.date, self._attrs, self.tail
        rows = [(e.type, e.id, conv(e.date), attrs(e.attrs), *tail) for e in new]
        quote = self.conn.dialect.identifier_preparer.quote
        m = "%s" if self.pg else "?"
        columns = ", ".join(quote(c) for c in _AUDIT_COLUMNS)
        head = (
            f"INSERT INTO {quote(audit.name)} ({columns}) SELECT {m}, {m}, 'record',"
            f" 'event', e.id, NULL, NULL, {m}, {self.record_sql()}, 'event recorded', {m}"
            f" FROM {quote(events.name)} e WHERE "
        )
        if self.pg:
            got = bulk.insert(
                self.conn,
                events,
                _EVENT_COLUMNS,
                rows,
                ignore_conflicts=True,
                returning=("id", "type", "event_id"),
            )
            where, arg = "e.id = ANY(%s) ORDER BY e.id", [pk for pk, _t, _i in got]
            inserted = {(t, i) for _pk, t, i in got}
        else:
            # BEGIN IMMEDIATE keeps other writers out; new rows get ids above the top.
            top = bulk.select(self.conn, "SELECT max(id) FROM events")[0][0] or 0
            bulk.insert(self.conn, events, _EVENT_COLUMNS, rows, ignore_conflicts=True)
            where, arg = "e.id > ? ORDER BY e.id", top
            inserted = None
        cur = self.conn.connection.cursor()
        try:
            at, actor, old, me = self.audit_values
            cur.execute(head + where, (at, actor, old, me, arg))
            n = cur.rowcount
            if n == len(new):
                return []
            if inserted is None:
                cur.execute("SELECT type, event_id FROM events WHERE id > ?", (top,))
                inserted = set(map(tuple, cur.fetchall()))
        finally:
            cur.close()
        return [e for e in new if (e.type, e.id) not in inserted]


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
        raise InputError(_("{option} must not be empty").format(option="--reason"))
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
        option = "--evidence" if status == DONE else "--reason"
        raise InputError(_("{option} must not be empty").format(option=option))
    row = session.execute(
        sa.select(deadlines).where(deadlines.c.rule_id == rule_id, deadlines.c.key == key)
    ).first()
    if row is None:
        raise StoreError(
            _("no deadline {rule} {key}; `hanchot status` or `hanchot plan` lists them").format(
                rule=rule_id, key=key
            )
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
            raise InputError(_("unknown unit {unit!r}; see config/units.yaml").format(unit=unit))
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
    "Recorded",
    "record_event",
    "record_events",
    "remove_event",
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
