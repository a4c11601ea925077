"""Bulk materialisation (issue 11.1) stores exactly what the row-by-row version did.

Two stores go through the same history — rules of every form (a fixed date, a period's
end, a recurring rule, two event-triggered rules, one whose policy does not exist),
events, reminders put in the outbox, a closed deadline, an approved extension, then a
changed rule, removed events, a removed rule that comes back, a changed ladder and a
forced run. One store is materialised by ``engine.store.materialise``, the other by
the pre-bulk code kept in ``materialise_reference.py``. After every step the reports,
the deadlines, the outbox and the audit log must be the same, value for value as the
driver stores them (so a date or an instant written in another format would show).

Row ids are surrogates: the bulk version works rule by rule, so the ids it hands out,
and the order of the audit rows, differ from the one-pass version; rows are compared by
(rule, key) and the audit log as a multiset, with deadline ids replaced by (rule, key).
The page size is cut to 3 so that every rule's stored rows are read over many pages.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import replace
from datetime import UTC, date, timedelta

import pytest
import sqlalchemy as sa

import engine.store.materialise as bulk_materialise
from engine.core.periods import Period
from engine.core.rules import After, EndOf, Every, Rule
from engine.core.spans import parse_span
from engine.store import db
from engine.store.outbox import materialise_due
from engine.store.tables import audit, deadlines, events, outbox
from tests.integration import materialise_reference as reference
from tests.integration.store_helpers import (
    DEFAULT_POLICY,
    PUBLISH_RULE,
    REPORT_RULE,
    local,
    make_config,
    stage,
)

QUARTERLY = Rule(
    id="bao-cao-quy",
    title="Báo cáo quý về kiểm soát TTHC",
    lead="van-phong",
    due=Every("quarter", "last", month=3),
    coordinating=("qlcn", "qlnl"),
    plan_item="17",
)
END_OF_HALF = Rule(
    id="ra-soat-6-thang",
    title="Rà soát, đánh giá TTHC 6 tháng đầu năm",
    lead="qlnl",
    due=EndOf(Period(2022, "half", 1)),
)
DELEGATED = Rule(
    id="uy-quyen",
    title="Công khai TTHC được ủy quyền",
    lead="qlcn",
    due=After("publication", parse_span("10 working days"), when=(("delegated", True),)),
    coordinating=("van-phong",),
)
NO_POLICY = Rule(
    id="khong-nhac",
    # What COPY's text format must escape: backslash, tab, new line.
    title="Việc không có thang nhắc \\ (mẫu\t01)\nghi chú",
    lead="thanh-tra",
    due=After("publication", parse_span("2 months")),
    escalation="khong-co-chinh-sach",
)
RULES = (REPORT_RULE, QUARTERLY, END_OF_HALF, PUBLISH_RULE, DELEGATED, NO_POLICY)

# Keys whose order differs between byte order and a language collation (case, đ, '-'
# against '_'), so the key-ordered pages are checked against PostgreSQL's own order.
KEYS = ["QD-10", "qd-2", "qd_3", "Qđ-4", "qđ-5", "a-b", "a_b", "A-c", "zz", "Z-1", "qd\\7"]


def event_rows(now):
    """34 publications from December 2021 (across Tết 2022) to June 2022."""
    out = []
    for i in range(34):
        key = KEYS[i] if i < len(KEYS) else f"qd-{i:03}"
        day = date(2021, 12, 20) + timedelta(days=5 * i)
        attrs = {"delegated": "true"} if i % 3 == 0 else {}
        out.append(
            {
                "type": "publication",
                "event_id": key,
                "date": day,
                "attrs": attrs,
                "recorded_by": "test",
                "recorded_at": now,
            }
        )
    return out


def snapshot(engine):
    """(deadlines by (rule, key), outbox multiset, audit multiset) as stored."""
    with engine.connect() as conn:
        dl = conn.exec_driver_sql("SELECT * FROM deadlines").all()
        cols = list(deadlines.c.keys())
        ident = {r[0]: (r[cols.index("rule_id")], r[cols.index("key")]) for r in dl}
        table = {ident[r[0]]: tuple(r[1:]) for r in dl}
        ob = conn.exec_driver_sql("SELECT * FROM outbox").all()
        oc = list(outbox.c.keys())
        box = []
        for r in ob:
            row = dict(zip(oc, r, strict=True))
            del row["id"]
            row["deadline_id"] = ident.get(row["deadline_id"])
            box.append(repr(sorted(row.items())))
        au = conn.exec_driver_sql("SELECT * FROM audit_log").all()
        ac = list(audit.c.keys())
        log = []
        for r in au:
            row = dict(zip(ac, r, strict=True))
            del row["id"]
            if row["entity"] == "deadline":
                row["entity_id"] = ident[row["entity_id"]]
            log.append(repr(sorted(row.items())))
    return table, sorted(box), sorted(log)


def history(url_new: str, url_ref: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(bulk_materialise, "CHUNK", 3)
    config = make_config(tmp_path, rules=RULES)
    engines = [db.make_engine(url_new), db.make_engine(url_ref)]
    for e in engines:
        db.migrate(e)
    funcs = [bulk_materialise.materialise, reference.materialise]
    now = local(2022, 7, 1)
    for e in engines:
        with e.begin() as conn:
            conn.execute(events.insert(), event_rows(now))

    def both(step: str, cfg, at, **kw):
        reports = []
        for e, f in zip(engines, funcs, strict=True):
            with db.session_factory(e)() as s, s.begin():
                reports.append(f(s, cfg, at, **kw))
        assert vars(reports[0]) == vars(reports[1]), step
        new, ref = (snapshot(e) for e in engines)
        assert new[0] == ref[0], f"{step}: deadlines differ"
        assert new[1] == ref[1], f"{step}: outbox differs"
        assert new[2] == ref[2], f"{step}: audit log differs"
        return reports[0]

    def on_both(sql: str, **params):
        for e in engines:
            with e.begin() as conn:
                conn.execute(sa.text(sql), params)

    first = both("first run", config, now)
    assert first.created > 60 and first.updated == 0  # a non-trivial set
    # Reminders put in the outbox (materialised_through set, pending rows to supersede).
    for e in engines:
        with db.session_factory(e)() as s, s.begin():
            materialise_due(s, config, local(2022, 7, 25))
    on_both("UPDATE deadlines SET status = 'done' WHERE rule_id = 'bao-cao-6-thang'")
    on_both(
        "UPDATE deadlines SET original_due = due, due = :d WHERE rule_id = :r AND key = 'zz'",
        d=date(2022, 8, 31),
        r=PUBLISH_RULE.id,
    )
    later = local(2022, 7, 26)
    both("nothing changed", config, later)
    longer = replace(PUBLISH_RULE, due=After("publication", parse_span("45 days")))
    config2 = make_config(tmp_path, rules=(REPORT_RULE, QUARTERLY, END_OF_HALF, longer) + RULES[4:])
    changed = both("rule changed", config2, later)
    assert changed.updated > 10
    on_both("DELETE FROM events WHERE event_id IN ('qd-2', 'a_b', 'qd-020')")
    # As `event remove` does, the removal is in the audit log: that is what the events'
    # high-water mark (events_mark) sees, whichever events were removed.
    on_both(
        "INSERT INTO audit_log (at, actor, action, entity, reason, os_user) "
        "VALUES (:at, 'test', 'remove', 'event', 'removed by the test', 'test')",
        at=later.astimezone(UTC).replace(tzinfo=None),
    )
    removed = both("events removed", config2, later)
    assert removed.cancelled >= 3
    without = make_config(tmp_path, rules=tuple(r for r in config2.rules if r is not QUARTERLY))
    gone = both("rule removed", without, later)
    assert gone.cancelled > 0
    assert both("rule back", config2, later).reopened == gone.cancelled
    policy = replace(
        DEFAULT_POLICY, stages=DEFAULT_POLICY.stages + (stage("2 days before", ["lead"]),)
    )
    config3 = replace(config2, policies={"default": policy})
    # New events in the same run: the new deadlines' ids fall between the old ones
    # that re-scheduling must still read.
    for e in engines:
        with e.begin() as conn:
            added = [dict(r, event_id=f"moi-{k}") for k, r in enumerate(event_rows(now)[:5])]
            conn.execute(events.insert(), added)
    moved = both("ladder changed, events added", config3, later)
    assert moved.rescheduled > moved.created > 0
    both("forced", config3, local(2023, 1, 3), force=True)
    for e in engines:
        e.dispose()


def test_bulk_matches_row_by_row_on_sqlite(tmp_path, monkeypatch):
    history(
        f"sqlite:///{tmp_path / 'new.db'}",
        f"sqlite:///{tmp_path / 'ref.db'}",
        tmp_path,
        monkeypatch,
    )


@pytest.fixture(scope="module")
def pg_server():
    from tests.integration.drill_helpers import PgServer

    with redirect_stdout(io.StringIO()):
        server = PgServer()
    yield server
    server.close()


@pytest.mark.postgres
def test_bulk_matches_row_by_row_on_postgres(tmp_path, monkeypatch, pg_server):
    urls = [vietnamese_database(pg_server, name) for name in ("bulk_new", "bulk_ref")]
    with sa.create_engine(urls[0]).connect() as conn:
        # The order of the database, not of Python's str, is what the pages follow.
        ordered = conn.execute(
            sa.text("SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k"),
            {"keys": KEYS},
        ).scalars()
        assert list(ordered) != sorted(KEYS)
    history(*urls, tmp_path, monkeypatch)


def vietnamese_database(server, name: str) -> str:
    """A database collating text as Vietnamese (ICU), as a Sở's server might."""
    url = server.fresh_database(name)
    engine = sa.create_engine(server.url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"DROP DATABASE {name}"))
        conn.execute(
            sa.text(
                f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"
                " LOCALE_PROVIDER icu ICU_LOCALE 'vi-VN' LOCALE 'C.UTF-8'"
            )
        )
    engine.dispose()
    return url
