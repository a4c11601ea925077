"""The portal's store functions and queries on PostgreSQL (JSON cast, indexes, the
outbox key with the due date). Same dates as test_portal_ops: due Fri 29/07/2022."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
import sqlalchemy as sa

from engine.store import db
from engine.store import portal_ops as po
from engine.store.materialise import materialise
from engine.store.outbox import materialise_due
from engine.store.tables import DONE, PENDING, deadlines, outbox
from engine.web import views
from tests.integration.portal_helpers import ADMIN, QLCN, portal_config, who
from tests.integration.store_helpers import local
from tests.integration.test_store_postgres import pg_engine, pg_url  # noqa: F401

pytestmark = pytest.mark.postgres


def test_portal_on_postgres(tmp_path, pg_engine, pg_url):  # noqa: F811
    cfg = portal_config(tmp_path)
    cfg = replace(cfg, settings=replace(cfg.settings, database=pg_url))
    db.migrate(pg_engine)
    sessions = db.session_factory(pg_engine)
    now = local(2022, 7, 21, 9)
    with sessions() as s, s.begin():
        materialise(s, cfg, now)
        d = s.execute(
            sa.select(deadlines.c.id).where(deadlines.c.rule_id == "ra-soat-tthc")
        ).scalar()
    with sessions() as s:
        lst = views.my_list(s, cfg, who(cfg, QLCN), now)
    # qlcn leads ra-soat and coordinates bao-cao (through phong-chuyen-mon).
    assert lst.section("later").total == 2
    with sessions() as s, s.begin():
        po.request_extension(
            s, cfg, d, who(cfg, QLCN), new_due=date(2022, 8, 12), reason="r", now=now
        )
        po.decide_extension(s, cfg, d, who(cfg, ADMIN), approve=True, now=now)
        po.report_completion(
            s,
            cfg,
            d,
            who(cfg, QLCN),
            doc_number="1/BC",
            doc_date=None,
            note="",
            data_dir=tmp_path,
            now=local(2022, 8, 1, 9),
        )
        po.confirm_report(s, cfg, d, who(cfg, ADMIN), now=local(2022, 8, 2, 9))
    with sessions() as s:
        _s, _e, by_unit, _i, total = views.period_counts(s, cfg, "2022-Q3", local(2022, 8, 2))
    # Reported Mon 01/08, before the extended due date Fri 12/08: on time.
    assert total == 2 and by_unit["qlcn"]["done_on_time"] == 1
    with sessions() as s, s.begin():
        materialise_due(s, cfg, local(2022, 8, 5))
        n = s.execute(
            sa.select(sa.func.count()).where(outbox.c.deadline_id == d, outbox.c.state == PENDING)
        ).scalar()
        status = s.execute(sa.select(deadlines.c.status).where(deadlines.c.id == d)).scalar()
    assert status == DONE and n == 0


def test_notices_heartbeat_and_kept_extension_on_postgres(tmp_path, pg_engine, pg_url):  # noqa: F811
    """The new portal code on PostgreSQL: a notice that fails for good and its daily
    summary, the daemon's heartbeat upsert (ON CONFLICT), and an extension kept when
    the rule's date moves earlier (29/07 → Fri 05/08 < granted Fri 12/08)."""
    from contextlib import contextmanager

    from engine.core.rules import On
    from engine.errors import SendError
    from engine.store.heartbeat import read_daemon_seen, record_daemon_seen
    from engine.store.notices import FAILURE_SUMMARY, send_notices
    from engine.store.portal_tables import notices
    from tests.integration.portal_helpers import REVIEW_RULE
    from tests.integration.store_helpers import REPORT_RULE

    cfg = portal_config(tmp_path)
    cfg = replace(cfg, settings=replace(cfg.settings, database=pg_url))
    db.migrate(pg_engine)
    sessions = db.session_factory(pg_engine)
    now = local(2022, 7, 21, 9)
    record_daemon_seen(sessions, now)
    record_daemon_seen(sessions, local(2022, 7, 21, 10))  # an update, not a duplicate
    with sessions() as s:
        assert read_daemon_seen(s) == local(2022, 7, 21, 10)

    sent: list[str] = []

    class Refusing:
        def send(self, msg):
            if msg["To"].addresses[0].addr_spec == QLCN:
                raise SendError("550 5.1.1 mailbox unavailable", retryable=False)
            sent.append(msg["To"].addresses[0].addr_spec)

    @contextmanager
    def transports():
        yield Refusing()

    with sessions() as s, s.begin():
        po.queue_notice(s, kind="signin", recipient=QLCN, subject="Đăng nhập", body="x", now=now)
    assert send_notices(cfg, sessions, transports, now) == 0
    assert send_notices(cfg, sessions, transports, local(2022, 7, 21, 9, 1)) == 1
    with sessions() as s:
        kinds = s.execute(sa.select(notices.c.kind, notices.c.state).order_by(notices.c.id)).all()
    assert [tuple(k) for k in kinds] == [("signin", "failed"), (FAILURE_SUMMARY, "sent")]
    assert sent == ["admin@example.gov.vn"]

    with sessions() as s, s.begin():
        materialise(s, cfg, now)
        d = s.execute(
            sa.select(deadlines.c.id).where(deadlines.c.rule_id == "ra-soat-tthc")
        ).scalar()
        po.request_extension(
            s, cfg, d, who(cfg, QLCN), new_due=date(2022, 8, 12), reason="r", now=now
        )
        po.decide_extension(s, cfg, d, who(cfg, ADMIN), approve=True, now=now)
    moved = replace(cfg, rules=(REPORT_RULE, replace(REVIEW_RULE, due=On(date(2022, 8, 5)))))
    with sessions() as s, s.begin():
        materialise(s, moved, local(2022, 7, 22, 9))
    with sessions() as s:
        r = s.execute(sa.select(deadlines).where(deadlines.c.id == d)).one()
    assert (r.due, r.original_due) == (date(2022, 8, 12), date(2022, 8, 5))
