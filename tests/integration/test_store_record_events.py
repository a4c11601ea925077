"""ops.record_events, the bulk path of ``event import`` (issue 11): the same rows, the
same audit, the same answers and errors as recording the events one by one with
``record_event`` as it was before, on SQLite and on PostgreSQL.

The reference, :func:`record_event_before`, is the per-row ``record_event`` of commit
6dcec8b, copied here unchanged (with its ``check_event``) so that the comparison does
not depend on the code under test.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.rules import After, Event
from engine.core.spans import parse_span
from engine.errors import InputError
from engine.i18n import _
from engine.loader.events import EventRules, event_problems
from engine.loader.names import (
    EVENT_ID_RE,
    EVENT_TYPE_RE,
    check_attr_name,
    check_attr_value,
    check_event_id,
    check_event_type,
)
from engine.store import bulk, db, ops
from engine.store.audit import log_change
from engine.store.ops import Recorded, record_event, record_events
from engine.store.outbox import require_aware
from engine.store.tables import audit, events
from tests.integration.store_helpers import PUBLISH_RULE, local, make_config, open_store
from tests.integration.test_store_postgres import pg_engine, pg_url  # noqa: F401

NOW = local(2022, 3, 16)

DELEGATED_RULE = replace(
    PUBLISH_RULE,
    id="phe-duyet-uy-quyen",
    due=After("publication", parse_span("15 days"), when=(("delegated", True),)),
)
TRAINING_RULE = replace(
    PUBLISH_RULE, id="cu-can-bo-tap-huan", due=After("training-call", parse_span("5 working days"))
)
RULES = (PUBLISH_RULE, DELEGATED_RULE, TRAINING_RULE)


# ---------------------------------------------------------------- the reference
def check_event_before(type_, event_id, attrs, rules=None, *, allow_unused_type=False):
    type_ = check_event_type(type_)
    event_id = check_event_id(event_id)
    clean = {check_attr_name(k): check_attr_value(v, k) for k, v in attrs.items()}
    if rules is not None:
        problems = event_problems(rules, type_, clean, allow_unused_type=allow_unused_type)
        if problems:
            raise InputError("; ".join(message for _field, message in problems))
    return type_, event_id, clean


def record_event_before(
    session, type_, event_id, when, attrs, *, actor, now, rules=None, allow_unused_type=False
):
    now = require_aware(now)
    type_, event_id, attrs = check_event_before(
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
            _(
                "event {type} {id} is already recorded (date {date}, attributes {attrs}); "
                "use another id"
            ).format(type=type_, id=event_id, date=old.date.isoformat(), attrs=old.attrs or {})
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


def one_by_one(session, evs, **kw) -> Recorded:
    added = sum(record_event_before(s_, *a, **kw) for s_, *a in ((session, *e) for e in evs))
    return Recorded(added, len(evs) - added)


# ---------------------------------------------------------------- the data
def data_set(n: int) -> list[Event]:
    """``n`` events of two types with varied attributes (Vietnamese text, numbers,
    both values of ``delegated``, none), ids with '/', '.', '_' and upper case, a
    few spaces to trim, and a few repeated with the same values."""
    out = []
    first = date(2022, 1, 1)
    for k in range(n):
        d = first + timedelta(days=k % 400)
        if k % 10 == 9:
            out.append(Event(" training-call", f"CV-{k}/VPCP ", d, {"so_nguoi": str(k % 7)}))
            continue
        attrs: dict[str, str] = {}
        if k % 3:
            attrs["delegated"] = "true" if k % 3 == 1 else "false"
        if k % 5 == 0:
            attrs["ghi_chu"] = f"Quyết định số {k}/QĐ-UBND, đợt {k % 4}"
        out.append(Event("publication", f"qd_{k}.{k % 13}", d, attrs))
        if k % 97 == 0:
            out.append(Event("publication", f"qd_{k}.{k % 13}", d, dict(attrs)))
    return out


def unique(evs) -> int:
    return len({(e.type.strip(), e.id.strip()) for e in evs})


def as_tuples(evs):
    return [(e.type, e.id, e.date, dict(e.attrs)) for e in evs]


def dump(sessions):
    """Every column of every event and audit row, ids included, in id order."""
    with sessions() as s:
        ev = [tuple(r) for r in s.execute(sa.select(events).order_by(events.c.id))]
        au = [tuple(r) for r in s.execute(sa.select(audit).order_by(audit.c.id))]
        # The JSON as stored, byte for byte (the rows above hold it parsed).
        raw = s.execute(sa.text("SELECT CAST(new AS TEXT) FROM audit_log ORDER BY id")).all()
    return ev, au, raw


def fresh_sqlite(tmp_path, name):
    config = make_config(tmp_path / name, rules=RULES)
    return open_store(config)[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(request, tmp_path):
    """Two empty stores of the same dialect: the reference's and the bulk path's."""
    if request.param == "sqlite":
        yield fresh_sqlite(tmp_path, "a"), fresh_sqlite(tmp_path, "b")
        return
    engine = request.getfixturevalue("pg_engine")
    url = request.getfixturevalue("pg_url")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS other CASCADE; CREATE SCHEMA other"))
    other = sa.create_engine(url, connect_args={"options": "-csearch_path=other"})
    db.migrate(engine)
    db.migrate(other)
    yield db.session_factory(engine), db.session_factory(other)
    other.dispose()


# ---------------------------------------------------------------- the comparison
def test_bulk_path_writes_what_one_by_one_wrote(two_stores):
    before, bulk = two_stores
    evs = data_set(2600)
    already = evs[100:400:3]  # recorded earlier, by someone else: skipped
    for sessions in (before, bulk):
        with sessions() as s, s.begin():
            one_by_one(s, as_tuples(already), actor="van-thu", now=NOW - timedelta(days=1))
    with before() as s, s.begin():
        want = one_by_one(s, as_tuples(evs), actor="chuyen-vien", now=NOW, rules=RULES)
    with bulk() as s, s.begin():
        got = record_events(s, evs, actor="chuyen-vien", now=NOW, rules=RULES, chunk=700)
    assert got == want
    assert want == Recorded(unique(evs) - len(already), len(already) + len(evs) - unique(evs))
    assert dump(bulk) == dump(before)


def test_record_event_is_the_bulk_path_for_one_event(two_stores):
    before, bulk = two_stores
    evs = as_tuples(data_set(40))
    for e in evs:
        with before() as s, s.begin():
            want = record_event_before(s, *e, actor="a", now=NOW, rules=RULES)
        with bulk() as s, s.begin():
            assert record_event(s, *e, actor="a", now=NOW, rules=RULES) == want
    assert dump(bulk) == dump(before)


def error_of(fn):
    try:
        fn()
    except InputError as e:
        return e.message
    raise AssertionError("no InputError")


@pytest.mark.parametrize(
    "bad",
    [
        # a known id with another date, then a bad type later: the conflict comes first
        [
            Event("publication", "qd_0.0", date(2022, 5, 1), {}),
            Event("Bad Type", "x", date(2022, 5, 1), {}),
        ],
        # a bad type first, then the conflict: the bad type
        [
            Event("Bad Type", "x", date(2022, 1, 1), {}),
            Event("publication", "qd_0.0", date(2022, 5, 1), {}),
        ],
        # the same id twice in one call with other attributes
        [
            Event("publication", "moi-1", date(2022, 5, 1), {"delegated": "true"}),
            Event("publication", "moi-1", date(2022, 5, 1), {"delegated": "false"}),
        ],
        # known with other attributes (same date)
        [Event("publication", "qd_0.0", date(2022, 1, 1), {"ghi_chu": "khác"})],
        # an attribute a rule compares that does not parse, a type no rule uses
        [Event("publication", "moi-2", date(2022, 5, 1), {"delegated": "có"})],
        [Event("publicaton", "moi-3", date(2022, 5, 1), {})],
        [Event("publication", "moi-4\r\nBcc: x@y", date(2022, 5, 1), {})],
    ],
)
def test_errors_are_those_of_the_first_failing_record_event(two_stores, bad):
    before, bulk = two_stores
    base = data_set(30)
    for sessions in (before, bulk):
        with sessions() as s, s.begin():
            one_by_one(s, as_tuples(base), actor="a", now=NOW)
    evs = base[5:20] + bad + base[20:25]
    with before() as s:
        want = error_of(lambda: one_by_one(s, as_tuples(evs), actor="b", now=NOW, rules=RULES))
        s.rollback()
    with bulk() as s:
        got = error_of(lambda: record_events(s, evs, actor="b", now=NOW, rules=RULES, chunk=4))
        s.rollback()
    assert got == want
    assert dump(bulk) == dump(before)  # nothing of the failed call stayed


def test_an_event_recorded_meanwhile_by_another_process(two_stores, monkeypatch):
    """The existence query ran before another process committed the same event: the
    insert skips it (ON CONFLICT DO NOTHING) and it counts as already recorded; with
    other values it is the usual conflict, never a unique violation. (On SQLite nothing
    is looked up before the insert, which finds the recorded events itself: the
    same answers without the blind look-up.)"""
    _, sessions = two_stores
    evs = data_set(50)
    with sessions() as s, s.begin():
        record_events(s, evs[:10], actor="other", now=NOW)
        looks_first = s.connection().dialect.name == "postgresql"
    real = ops._recorded
    calls = []

    def blind_first(session, part):
        calls.append(len(part))
        return {} if looks_first and len(calls) == 1 else real(session, part)

    monkeypatch.setattr(ops, "_recorded", blind_first)
    with sessions() as s, s.begin():
        done = record_events(s, evs, actor="me", now=NOW)
    assert done == Recorded(added=unique(evs) - unique(evs[:10]), known=len(evs) - unique(evs) + 9)
    with sessions() as s:
        n = s.execute(sa.select(sa.func.count()).select_from(audit)).scalar()
    assert n == unique(evs)  # one audit row per event really recorded
    calls.clear()
    changed = [replace(evs[3], date=evs[3].date + timedelta(days=1)), *data_set(60)[50:]]
    with sessions() as s:
        message = error_of(lambda: record_events(s, changed, actor="me", now=NOW))
        s.rollback()
    assert message.startswith(f"event publication {evs[3].id} is already recorded (date ")
    with sessions() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(events)).scalar() == unique(evs)


@pytest.mark.postgres
def test_concurrent_imports_of_the_same_events_on_postgresql(pg_engine):  # noqa: F811
    """Two transactions record the same events at once: the second waits on the unique
    index, then skips them instead of dying on a unique violation."""
    db.migrate(pg_engine)
    sessions = db.session_factory(pg_engine)
    evs = data_set(300)
    first = sessions()
    first.begin()
    assert record_events(first, evs, actor="a", now=NOW).added == unique(evs)
    result: list = []

    def second() -> None:
        with sessions() as s, s.begin():
            result.append(record_events(s, evs, actor="b", now=NOW))

    t = threading.Thread(target=second)
    t.start()
    t.join(1.0)
    assert t.is_alive()  # waiting for the first transaction
    first.commit()
    first.close()
    t.join(30)
    assert result == [Recorded(added=0, known=len(evs))]
    with sessions() as s:
        n = s.execute(sa.select(sa.func.count()).select_from(audit)).scalar()
    assert n == unique(evs)


def test_progress_is_called_per_chunk(tmp_path):
    sessions = fresh_sqlite(tmp_path, "p")
    seen: list[int] = []
    with sessions() as s, s.begin():
        record_events(s, data_set(1000), actor="a", now=NOW, chunk=300, progress=seen.append)
    assert seen == [300, 600, 900, 1010]


def test_rules_may_be_indexed_once(tmp_path):
    sessions = fresh_sqlite(tmp_path, "i")
    with sessions() as s, s.begin():
        done = record_events(s, data_set(100), actor="a", now=NOW, rules=EventRules(RULES))
    assert done.added == 100


def test_events_read_from_a_file_are_not_checked_twice(two_stores, tmp_path):
    """``event import`` hands record_events the events read_events checked against the
    same rules (``checked=True``): stored as the reference stores them."""
    import csv

    from engine.loader.events import read_events

    before, bulk_ = two_stores
    path = tmp_path / "events.csv"
    names = ("delegated", "ghi_chu", "so_nguoi")
    seen = set()
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["type", "id", "date", *names])
        for e in data_set(700):
            if (e.type, e.id) not in seen:
                seen.add((e.type, e.id))
                w.writerow([e.type, e.id, e.date.isoformat(), *(e.attrs.get(n, "") for n in names)])
    evs = read_events(path, EventRules(RULES), allow_unused_type=False)
    assert len(evs) == len(seen)
    with before() as s, s.begin():
        want = one_by_one(s, as_tuples(evs), actor="a", now=NOW, rules=RULES)
    with bulk_() as s, s.begin():
        got = record_events(s, evs, actor="a", now=NOW, rules=RULES, checked=True, chunk=250)
    assert got == want == Recorded(len(seen), 0)
    assert dump(bulk_) == dump(before)


@given(
    type_=st.from_regex(EVENT_TYPE_RE, fullmatch=True).filter(lambda t: len(t) <= 100),
    event_id=st.from_regex(EVENT_ID_RE, fullmatch=True).filter(lambda t: len(t) <= 200),
    attrs=st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3),
    when=st.dates(),
)
@settings(max_examples=200, deadline=None)
def test_the_audit_json_of_an_event_is_the_columns_own(type_, event_id, attrs, when):
    """The audit row's ``new`` of an imported event, put together by SQL, is byte for
    byte the JSON column's own serialisation of ``{type, id, date, attrs}`` (quotes,
    backslashes, control characters, Vietnamese, characters beyond the BMP in the
    attributes). (PostgreSQL: the comparisons above read the raw text too.)"""
    from engine.store.audit import jsonable
    from engine.store.tables import metadata

    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        writer = ops._EventWriter(conn, "a", NOW)
        assert writer.insert([Event(type_, event_id, when, attrs)]) == []
        got = conn.execute(sa.text("SELECT new FROM audit_log")).scalar_one()
        want = bulk.converter(conn, audit.c.new)(
            jsonable({"type": type_, "id": event_id, "date": when, "attrs": attrs})
        )
    engine.dispose()
    assert got == want
