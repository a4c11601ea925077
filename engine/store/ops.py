"""What the CLI does with the store: record events, close deadlines, report status."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
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
from engine.store.audit import log_change, log_changes
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
    chunk: int = RECORD_CHUNK,
    progress: Callable[[int], None] | None = None,
) -> Recorded:
    """Store many events as :func:`record_event` stores each, in order, set-based.

    Every event is checked first (:func:`check_event`); then, ``chunk`` events at a
    time, one query finds those already recorded, multi-row INSERTs store the others
    (``ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL: an event recorded meanwhile
    by another process counts as already recorded, not as a failure) and
    :func:`engine.store.audit.log_changes` writes their audit rows (one ``record`` row
    per event, as :func:`record_event` always did). An event equal to one already recorded (or to
    an earlier one of ``evs``) is skipped; ``progress``, if given, is called with the
    number of events handled so far after each chunk.

    Nothing is committed: the caller's transaction makes it all or nothing.

    Raises :class:`~engine.errors.InputError` for the first event (in order) with a bad
    name or value, or recorded with another date or other attributes, whichever
    comes first: exactly the error the first failing :func:`record_event` call
    would raise.
    """
    now = require_aware(now)
    checker = _EventChecker(rules, allow_unused_type)
    clean: list[Event] = []
    bad: InputError | None = None
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
    added = known = 0
    mine: dict[tuple[str, str], Event] = {}  # recorded by this call
    for start in range(0, len(clean), chunk):
        part = clean[start : start + chunk]
        old = _recorded(session, part)
        new: list[Event] = []
        for e in part:
            key = (e.type, e.id)
            prior = mine.get(key)
            have = (prior.date, prior.attrs) if prior is not None else old.get(key)
            if have is not None:
                if have[0] == e.date and have[1] == e.attrs:
                    known += 1
                    continue
                raise _conflict(e.type, e.id, *have)
            mine[key] = e
            new.append(e)
        if new and bad is None:
            stored = _insert_events(session, new, actor=actor, now=now)
            added += stored
            known += len(new) - stored
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


#: The columns :func:`_insert_events` writes, in the order of its VALUES.
_EVENT_COLUMNS = ("type", "event_id", "date", "attrs", "recorded_by", "recorded_at")


def _insert_events(session: Session, new: list[Event], *, actor: str, now: datetime) -> int:
    """Insert ``new`` (none recorded when looked up) and their audit rows; returns how
    many were inserted. One that another transaction recorded since is skipped when
    it has the same values, and is a conflict otherwise."""
    rows = [(e.type, e.id, e.date, e.attrs, actor, now) for e in new]
    ids = _insert_returning_keys(session, rows)
    entries = []
    lost: list[Event] = []
    for e in new:
        pk = ids.get((e.type, e.id))
        if pk is None:
            lost.append(e)
            continue
        entries.append(
            {
                "at": now,
                "actor": actor,
                "action": "record",
                "entity": "event",
                "entity_id": pk,
                "new": {"type": e.type, "id": e.id, "date": e.date, "attrs": e.attrs},
                "reason": "event recorded",
            }
        )
    if lost:
        # Recorded by another process since we looked: the same event is known, another
        # one with that (type, id) is the conflict record_event reports.
        old = _recorded(session, lost)
        for e in lost:
            have = old.get((e.type, e.id))
            if have is not None and (have[0] != e.date or have[1] != e.attrs):
                raise _conflict(e.type, e.id, *have)
    log_changes(session, entries)
    return len(entries)


def _insert_returning_keys(session: Session, rows: list[tuple]) -> dict[tuple[str, str], int]:
    """INSERT the event ``rows`` (values in :data:`_EVENT_COLUMNS` order), skipping a
    (type, id) already there; returns (type, id) -> id of those really inserted.

    On SQLite and PostgreSQL: ``INSERT ... VALUES (...), (...) ... ON CONFLICT DO
    NOTHING RETURNING``, a few thousand rows per statement, the SQL written once and
    each distinct value converted once by the column's own type (a date, the
    attributes' JSON, the instant): the values stored are those SQLAlchemy would bind,
    without its cost per row. Elsewhere, SQLAlchemy's executemany.
    """
    conn = session.connection()
    dialect = conn.dialect
    cols = [events.c[name] for name in _EVENT_COLUMNS]
    if dialect.name not in ("sqlite", "postgresql"):
        stmt = events.insert().returning(events.c.id, events.c.type, events.c.event_id)
        found = conn.execute(stmt, [dict(zip(_EVENT_COLUMNS, r, strict=True)) for r in rows])
        return {(r.type, r.event_id): r.id for r in found}
    procs = [c.type._cached_bind_processor(dialect) for c in cols]
    q = dialect.identifier_preparer
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    one = "(" + ", ".join([mark] * len(cols)) + ")"
    head = (
        f"INSERT INTO {q.format_table(events)} ({', '.join(q.format_column(c) for c in cols)}) "
        "VALUES "
    )
    tail = (
        f" ON CONFLICT ({q.format_column(events.c.type)}, {q.format_column(events.c.event_id)})"
        f" DO NOTHING RETURNING {q.format_column(events.c.id)},"
        f" {q.format_column(events.c.type)}, {q.format_column(events.c.event_id)}"
    )
    per = max(1, _MAX_BINDS // len(cols))
    out: dict[tuple[str, str], int] = {}
    convert = [_converter(p) for p in procs]
    for start in range(0, len(rows), per):
        part = rows[start : start + per]
        # Column by column: most columns need no conversion, the others have a few
        # distinct values (dates, attribute sets, the one actor and instant).
        columns = [
            col if p is None else list(map(f, col))
            for col, p, f in zip(zip(*part, strict=True), procs, convert, strict=True)
        ]
        flat: list = []
        for row in zip(*columns, strict=True):
            flat.extend(row)
        params = tuple(flat)  # one statement's values (a list would be executemany)
        sql = head + ", ".join([one] * len(part)) + tail
        for pk, type_, event_id in conn.exec_driver_sql(sql, params):
            out[(type_, event_id)] = pk
    return out


#: Bound values per statement: within SQLite's limit (32,766) and PostgreSQL's (65,535).
_MAX_BINDS = 30_000


def _converter(process: Callable | None) -> Callable | None:
    """``process`` (a column type's bind processor) remembering its answers: an import
    has a few distinct dates and attribute sets for 100,000 events."""
    if process is None:
        return None
    seen: dict = {}

    def convert(v):
        key = tuple(v.items()) if isinstance(v, dict) else v
        try:
            return seen[key]
        except KeyError:
            out = seen[key] = process(v)
            return out
        except TypeError:  # unhashable
            return process(v)

    return convert


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
