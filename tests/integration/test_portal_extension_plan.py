"""A rule's date that changes after an approved extension (issue 8, left over):
``materialise()`` keeps the extension as the decision it is, moves with a plan that
goes later than it, and keeps ``original_due`` = the plan's current date.

Dates, by hand: REVIEW_RULE is ``{on: 2022-07-29}``, a Friday; the extension granted
is to Friday 12/08/2022. The edited rule dates are Fridays too — 05/08 and 19/08/2022 —
working days (no public holiday in Vietnam between 30/04–01/05 and 02/09 in 2022),
so ``on:``'s forward roll leaves each as written.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
import sqlalchemy as sa

from engine.core.rules import On
from engine.store import portal_ops as po
from engine.store.materialise import materialise
from engine.store.tables import OPEN, PENDING, audit, deadlines, outbox
from tests.integration.portal_helpers import ADMIN, QLCN, REVIEW_RULE, portal_config, who
from tests.integration.store_helpers import REPORT_RULE, local, open_store

GRANTED = date(2022, 8, 12)


def config_with(tmp_path, on: date):
    return portal_config(tmp_path, rules=(REPORT_RULE, replace(REVIEW_RULE, due=On(on))))


@pytest.fixture
def extended(tmp_path):
    """REVIEW_RULE's deadline extended from 29/07 to 12/08 (requested 15/07, approved 18/07)."""
    cfg = config_with(tmp_path, date(2022, 7, 29))
    engine, sessions = open_store(cfg)
    with sessions() as s, s.begin():
        materialise(s, cfg, local(2022, 7, 1))
        d = s.execute(sa.select(deadlines.c.id).where(deadlines.c.rule_id == "ra-soat-tthc"))
        did = d.scalar()
        po.request_extension(
            s, cfg, did, who(cfg, QLCN), new_due=GRANTED, reason="Chờ thẩm định",
            now=local(2022, 7, 15),
        )  # fmt: skip
        po.decide_extension(s, cfg, did, who(cfg, ADMIN), approve=True, now=local(2022, 7, 18))
    yield tmp_path, sessions, did
    engine.dispose()


def rerun(tmp_path, sessions, on: date, at):
    cfg = config_with(tmp_path, on)
    with sessions() as s, s.begin():
        materialise(s, cfg, at)
    return cfg


def row(sessions, did):
    with sessions() as s:
        return s.execute(sa.select(deadlines).where(deadlines.c.id == did)).one()


def test_a_plan_date_moved_earlier_keeps_the_extension_and_updates_original_due(extended):
    tmp_path, sessions, did = extended
    rerun(tmp_path, sessions, date(2022, 8, 5), local(2022, 7, 20))
    r = row(sessions, did)
    assert (r.status, r.due, r.original_due) == (OPEN, GRANTED, date(2022, 8, 5))
    with sessions() as s:
        (log,) = s.execute(
            sa.select(audit.c.old, audit.c.new, audit.c.reason).where(
                audit.c.entity_id == did, audit.c.action == "recompute"
            )
        ).all()
    assert log.old == {"original_due": "2022-07-29"} and log.new == {"original_due": "2022-08-05"}
    # Unchanged inputs again: nothing more is written.
    rerun(tmp_path, sessions, date(2022, 8, 5), local(2022, 7, 20, 9))
    with sessions() as s:
        n = s.execute(sa.select(sa.func.count()).where(audit.c.action == "recompute")).scalar()
    assert n == 1


def test_a_plan_date_moved_past_the_extension_moves_the_deadline_and_back_again(extended):
    tmp_path, sessions, did = extended
    rerun(tmp_path, sessions, date(2022, 8, 19), local(2022, 7, 20))
    r = row(sessions, did)
    assert (r.due, r.original_due) == (date(2022, 8, 19), date(2022, 8, 19))
    # Its reminders follow: 5 working days before Fri 19/08 is Fri 12/08 (15–19 Aug).
    assert r.next_send_at == local(2022, 8, 12)
    # The plan goes back to 29/07: what was granted (12/08) holds again.
    rerun(tmp_path, sessions, date(2022, 7, 29), local(2022, 7, 21))
    r = row(sessions, did)
    assert (r.due, r.original_due) == (GRANTED, date(2022, 7, 29))
    with sessions() as s, s.begin():
        materialise(s, config_with(tmp_path, date(2022, 7, 29)), local(2022, 8, 5, 9))
        from engine.store.outbox import materialise_due

        materialise_due(s, config_with(tmp_path, date(2022, 7, 29)), local(2022, 8, 5, 9))
        pending = s.execute(
            sa.select(outbox.c.stage, outbox.c.due).where(
                outbox.c.deadline_id == did, outbox.c.state == PENDING
            )
        ).all()
    # Fri 05/08 is 5 working days before Fri 12/08: that ladder, not the plan's.
    assert [(p.stage, p.due) for p in pending] == [("5 working days before", GRANTED)]


def test_without_an_extension_the_plan_date_moves_the_deadline(tmp_path):
    cfg = config_with(tmp_path, date(2022, 7, 29))
    engine, sessions = open_store(cfg)
    try:
        with sessions() as s, s.begin():
            materialise(s, cfg, local(2022, 7, 1))
        rerun(tmp_path, sessions, date(2022, 8, 5), local(2022, 7, 2))
        with sessions() as s:
            r = s.execute(sa.select(deadlines).where(deadlines.c.rule_id == "ra-soat-tthc")).one()
        assert (r.due, r.original_due) == (date(2022, 8, 5), None)
    finally:
        engine.dispose()


def test_the_page_says_extended_only_while_the_extension_is_in_force(extended):
    from starlette.testclient import TestClient

    from engine.web.app import create_app
    from engine.web.tokens import Signer

    tmp_path, sessions, did = extended
    cfg = rerun(tmp_path, sessions, date(2022, 8, 19), local(2022, 7, 20))
    signer = Signer("k" * 48)
    app = create_app(
        cfg, sessions, signer=signer, clock=lambda: local(2022, 7, 20, 9), data_dir=tmp_path
    )
    client = TestClient(app, base_url="http://portal.test")
    token = signer.action_token(QLCN, did, "ack", local(2022, 7, 20, 9))
    html = client.get(f"/a/{token}").text
    assert "Thứ Sáu, 19/08/2022" in html and "gia hạn; hạn ban đầu" not in html
    cfg = rerun(tmp_path, sessions, date(2022, 7, 29), local(2022, 7, 21))
    app = create_app(
        cfg, sessions, signer=signer, clock=lambda: local(2022, 7, 21, 9), data_dir=tmp_path
    )
    html = TestClient(app, base_url="http://portal.test").get(f"/a/{token}").text
    assert "Thứ Sáu, 12/08/2022</strong> (gia hạn; hạn ban đầu Thứ Sáu, 29/07/2022)" in html
