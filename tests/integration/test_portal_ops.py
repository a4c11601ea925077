"""The portal's actions on a real SQLite store: report, confirm, return, extend,
acknowledge, and the reminders each of them stops or moves.

Both rules are due Friday 29/07/2022 (no holiday near it in 2022). The default
ladder, counted by hand on the 2022 calendar: 5 working days before = Fri 22/07;
1 working day before = Thu 28/07; due = Fri 29/07; 1 working day after = Mon 01/08;
5 working days after = Fri 05/08 (Mon 01 .. Fri 05), then every 5 working days.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.errors import InputError, StoreError
from engine.store import portal_ops as po
from engine.store.materialise import materialise
from engine.store.outbox import materialise_due
from engine.store.portal_tables import attachments, extensions, notices, reports
from engine.store.tables import DONE, OPEN, PENDING, REPORTED, audit, deadlines, outbox
from tests.integration.portal_helpers import ADMIN, DIRECTOR, QLCN, QLNL, portal_config, who
from tests.integration.store_helpers import local, open_store


@pytest.fixture
def store(tmp_path):
    cfg = portal_config(tmp_path)
    engine, sessions = open_store(cfg)
    with sessions() as s, s.begin():
        materialise(s, cfg, local(2022, 7, 1))
    yield cfg, sessions
    engine.dispose()


def dl(sessions, rule: str):
    with sessions() as s:
        return s.execute(sa.select(deadlines).where(deadlines.c.rule_id == rule)).one()


def pending_to(sessions, deadline_id: int) -> list[tuple[str, str]]:
    with sessions() as s:
        rows = s.execute(
            sa.select(outbox.c.stage, outbox.c.recipient)
            .where(outbox.c.deadline_id == deadline_id, outbox.c.state == PENDING)
            .order_by(outbox.c.stage, outbox.c.recipient)
        ).all()
    return [(r.stage, r.recipient) for r in rows]


def cycle(cfg, sessions, at):
    with sessions() as s, s.begin():
        materialise(s, cfg, at)
        materialise_due(s, cfg, at)


def test_people_and_roles_come_from_units_yaml(store):
    cfg, _ = store
    admin = po.person(cfg.directory, "Van-Phong@example.gov.vn")
    assert admin.units == {"van-phong"} and admin.is_admin and not admin.is_director
    head = po.person(cfg.directory, "head.qlcn@example.gov.vn")
    assert head.units == {"qlcn"} and head.heads == {"qlcn"} and not head.roles
    assert po.person(cfg.directory, DIRECTOR).is_director
    assert po.person(cfg.directory, "stranger@example.com") is None


def test_direct_completion_by_the_focal_point_closes_at_once(store, tmp_path):
    cfg, sessions = store
    row = dl(sessions, "bao-cao-6-thang")  # led by van-phong, the focal point: direct
    with sessions() as s, s.begin():
        status = po.report_completion(
            s,
            cfg,
            row.id,
            who(cfg, ADMIN),
            doc_number="512/BC-SCT",
            doc_date=date(2022, 7, 20),
            note="Đã gửi UBND tỉnh",
            uploads=[po.Upload("bao-cao.pdf", b"%PDF-1.4 report")],
            data_dir=tmp_path / "var",
            now=local(2022, 7, 21, 9),
            address="127.0.0.1",
        )
    assert status == DONE
    row = dl(sessions, "bao-cao-6-thang")
    assert row.status == DONE and row.evidence.startswith("512/BC-SCT; 2022-07-20")
    assert row.reported_at == local(2022, 7, 21, 9) == row.closed_at
    cycle(cfg, sessions, local(2022, 7, 29))
    assert pending_to(sessions, row.id) == []
    with sessions() as s:
        actions = s.execute(
            sa.select(audit.c.action, audit.c.actor, audit.c.new).where(
                audit.c.entity_id == row.id, audit.c.action.in_(["done", "report"])
            )
        ).all()
        att = s.execute(sa.select(attachments)).one()
    assert {a.action for a in actions} == {"done", "report"}
    assert all(a.actor == ADMIN for a in actions)
    assert [a.new["from"] for a in actions if a.action == "report"] == ["127.0.0.1"]
    stored = po.attachment_path(tmp_path / "var", att.sha256)
    assert stored.read_bytes() == b"%PDF-1.4 report" and att.filename == "bao-cao.pdf"


def test_confirm_path_stops_reminders_and_judges_by_the_report_date(store, tmp_path):
    cfg, sessions = store
    row = dl(sessions, "ra-soat-tthc")
    cycle(cfg, sessions, local(2022, 7, 22))  # 5 wd before: the lead is reminded
    assert pending_to(sessions, row.id) == [("5 working days before", QLCN)]
    with sessions() as s, s.begin():
        status = po.report_completion(
            s,
            cfg,
            row.id,
            who(cfg, "head.qlcn@example.gov.vn"),
            doc_number="88/BC-QLCN",
            doc_date=None,
            note="",
            data_dir=tmp_path / "var",
            now=local(2022, 7, 28, 16),  # Thursday, the day before the due date
        )
    assert status == REPORTED
    assert pending_to(sessions, row.id) == []  # the queued reminder is withdrawn
    cycle(cfg, sessions, local(2022, 8, 1))  # due day and 1 wd after pass: nothing
    assert pending_to(sessions, row.id) == []
    with sessions() as s:
        n = s.execute(sa.select(notices.c.recipient, notices.c.kind)).all()
    assert [(r.recipient, r.kind) for r in n] == [(ADMIN, "report")]

    with pytest.raises(StoreError, match="may not"), sessions() as s, s.begin():
        po.confirm_report(s, cfg, row.id, who(cfg, QLCN), now=local(2022, 8, 2))
    with sessions() as s, s.begin():
        po.confirm_report(s, cfg, row.id, who(cfg, ADMIN), now=local(2022, 8, 2, 10))
    row = dl(sessions, "ra-soat-tthc")
    assert row.status == DONE and row.evidence == "88/BC-QLCN"
    # Reported Thu 28/07, before the due date Fri 29/07, confirmed Tue 02/08: on time.
    assert row.reported_at == local(2022, 7, 28, 16)
    assert row.closed_at == local(2022, 8, 2, 10)
    with sessions() as s:
        assert s.execute(sa.select(reports.c.state)).scalar_one() == "confirmed"


def test_returned_report_reopens_and_mails_the_reason(store, tmp_path):
    cfg, sessions = store
    row = dl(sessions, "ra-soat-tthc")
    with sessions() as s, s.begin():
        po.report_completion(
            s,
            cfg,
            row.id,
            who(cfg, QLCN),
            doc_number="",
            doc_date=None,
            note="Đã rà soát xong",
            data_dir=tmp_path / "var",
            now=local(2022, 7, 20, 9),
        )
    with pytest.raises(InputError, match="reason"), sessions() as s, s.begin():
        po.return_report(s, cfg, row.id, who(cfg, ADMIN), reason=" ", now=local(2022, 7, 21))
    with sessions() as s, s.begin():
        po.return_report(
            s, cfg, row.id, who(cfg, ADMIN), reason="Thiếu văn bản kết quả", now=local(2022, 7, 21)
        )
    row = dl(sessions, "ra-soat-tthc")
    assert row.status == OPEN and row.reported_at is None
    with sessions() as s:
        n = s.execute(sa.select(notices).where(notices.c.kind == "returned")).one()
    assert n.recipient == QLCN and "Thiếu văn bản kết quả" in n.body
    cycle(cfg, sessions, local(2022, 7, 22))  # reminders resume: Fri 22/07, 5 wd before
    assert pending_to(sessions, row.id) == [("5 working days before", QLCN)]


def test_approved_extension_moves_the_due_date_and_the_ladder(store):
    cfg, sessions = store
    row = dl(sessions, "ra-soat-tthc")
    with pytest.raises(InputError, match="must be after"), sessions() as s, s.begin():
        po.request_extension(
            s,
            cfg,
            row.id,
            who(cfg, QLCN),
            new_due=date(2022, 7, 29),
            reason="x",
            now=local(2022, 7, 15),
        )
    with sessions() as s, s.begin():
        po.request_extension(
            s,
            cfg,
            row.id,
            who(cfg, QLCN),
            new_due=date(2022, 8, 12),  # a Friday
            reason="Chờ ý kiến của Sở Tư pháp",
            now=local(2022, 7, 15),
        )
    with pytest.raises(StoreError, match="already waiting"), sessions() as s, s.begin():
        po.request_extension(
            s,
            cfg,
            row.id,
            who(cfg, QLCN),
            new_due=date(2022, 8, 5),
            reason="y",
            now=local(2022, 7, 15),
        )
    with pytest.raises(StoreError, match="may not"), sessions() as s, s.begin():
        po.decide_extension(s, cfg, row.id, who(cfg, QLNL), approve=True, now=local(2022, 7, 18))
    with sessions() as s, s.begin():
        po.decide_extension(s, cfg, row.id, who(cfg, ADMIN), approve=True, now=local(2022, 7, 18))
    row = dl(sessions, "ra-soat-tthc")
    assert row.due == date(2022, 8, 12) and row.original_due == date(2022, 7, 29)
    # New ladder from Fri 12/08: 5 working days before = Fri 05/08 (08,09,10,11 Aug and
    # 05 Aug counted back from the 12th), 1 wd before = Thu 11/08.
    assert row.next_send_at == local(2022, 8, 5)
    cycle(cfg, sessions, local(2022, 7, 29))  # the old due date: nothing is sent
    assert pending_to(sessions, row.id) == []
    assert dl(sessions, "ra-soat-tthc").due == date(2022, 8, 12)  # materialise keeps it
    cycle(cfg, sessions, local(2022, 8, 5))
    assert pending_to(sessions, row.id) == [("5 working days before", QLCN)]
    with sessions() as s:
        ext = s.execute(sa.select(extensions)).one()
        log = s.execute(
            sa.select(audit.c.old, audit.c.new).where(audit.c.action == "approve-extension")
        ).one()
    assert ext.state == "approved" and ext.decided_by == ADMIN
    assert log.old == {"due": "2022-07-29"} and log.new["due"] == "2022-08-12"


def test_refused_extension_needs_a_reason_and_keeps_the_date(store):
    cfg, sessions = store
    row = dl(sessions, "ra-soat-tthc")
    with sessions() as s, s.begin():
        po.request_extension(
            s,
            cfg,
            row.id,
            who(cfg, QLCN),
            new_due=date(2022, 8, 12),
            reason="r",
            now=local(2022, 7, 15),
        )
    with pytest.raises(InputError, match="reason"), sessions() as s, s.begin():
        po.decide_extension(s, cfg, row.id, who(cfg, ADMIN), approve=False, now=local(2022, 7, 18))
    with sessions() as s, s.begin():
        po.decide_extension(
            s,
            cfg,
            row.id,
            who(cfg, ADMIN),
            approve=False,
            reason="Không có căn cứ",
            now=local(2022, 7, 18),
        )
    row = dl(sessions, "ra-soat-tthc")
    assert row.due == date(2022, 7, 29) and row.original_due is None


def test_acknowledge_stops_reminders_to_that_recipient_only_until_due(store):
    cfg, sessions = store
    row = dl(sessions, "ra-soat-tthc")
    with sessions() as s, s.begin():
        assert po.acknowledge(s, cfg, row.id, who(cfg, QLCN), now=local(2022, 7, 20))
        assert not po.acknowledge(s, cfg, row.id, who(cfg, QLCN), now=local(2022, 7, 20))
    cycle(cfg, sessions, local(2022, 7, 22))  # 5 wd before, lead only: qlcn acknowledged
    assert pending_to(sessions, row.id) == []
    cycle(cfg, sessions, local(2022, 7, 28))  # 1 wd before: the coordinator still gets it
    assert pending_to(sessions, row.id) == [("1 working day before", ADMIN)]
    cycle(cfg, sessions, local(2022, 8, 1))  # 1 wd after: the escalation reaches qlcn
    assert (
        "1 working day after",
        QLCN,
    ) in pending_to(sessions, row.id)


def test_who_may_do_what(store, tmp_path):
    cfg, sessions = store
    row = dl(sessions, "ra-soat-tthc")
    with pytest.raises(StoreError, match="may not"), sessions() as s, s.begin():
        po.report_completion(
            s,
            cfg,
            row.id,
            who(cfg, QLNL),
            doc_number="1",
            doc_date=None,
            note="",
            data_dir=tmp_path,
            now=local(2022, 7, 20),
        )
    with pytest.raises(InputError, match="evidence"), sessions() as s, s.begin():
        po.report_completion(
            s,
            cfg,
            row.id,
            who(cfg, QLCN),
            doc_number=" ",
            doc_date=None,
            note="",
            data_dir=tmp_path,
            now=local(2022, 7, 20),
        )
    with pytest.raises(StoreError, match="may not"), sessions() as s, s.begin():
        po.waive(s, cfg, row.id, who(cfg, QLCN), reason="x", now=local(2022, 7, 20))
    with pytest.raises(StoreError, match="no deadline"), sessions() as s:
        po.deadline_by_id(s, 999)
    assert dl(sessions, "ra-soat-tthc").status == OPEN


def test_uploads_limit_and_names(tmp_path: Path):
    with pytest.raises(InputError, match="limit is 10 bytes"):
        po.store_attachment(tmp_path, po.Upload("a.pdf", b"x" * 11), 10)
    with pytest.raises(InputError, match="empty"):
        po.store_attachment(tmp_path, po.Upload("a.pdf", b""), 10)
    assert not (tmp_path / "attachments").exists()  # nothing written for a refused file
    digest, name, size = po.store_attachment(tmp_path, po.Upload("../../etc/passwd", b"root"), 10)
    assert name == "passwd" and size == 4
    assert po.attachment_path(tmp_path, digest).read_bytes() == b"root"
    assert list((tmp_path / "attachments").rglob("*")) == [
        tmp_path / "attachments" / digest[:2],
        tmp_path / "attachments" / digest[:2] / digest,
    ]
    assert po.safe_filename("C:\\Users\\a\\Báo cáo.pdf") == "Báo cáo.pdf"
    assert po.safe_filename("..\x00.htaccess") == "htaccess"
    assert po.safe_filename("<script>.html") == "_script_.html"
    assert po.safe_filename("...") == "tep-dinh-kem"
    with pytest.raises(InputError):
        po.attachment_path(tmp_path, "../x")


def test_extension_after_a_reminder_was_sent_mails_the_new_ladder(store):
    cfg, sessions = store
    row = dl(sessions, "ra-soat-tthc")
    cycle(cfg, sessions, local(2022, 7, 22))  # "5 working days before" 29/07, to qlcn
    with sessions() as s, s.begin():
        s.execute(outbox.update().values(state="sent"))  # as dispatch would
        po.request_extension(
            s,
            cfg,
            row.id,
            who(cfg, QLCN),
            new_due=date(2022, 8, 12),
            reason="r",
            now=local(2022, 7, 25),
        )
        po.decide_extension(s, cfg, row.id, who(cfg, ADMIN), approve=True, now=local(2022, 7, 25))
    # The same stage for the new date, Fri 12/08: 5 working days before is Fri 05/08.
    cycle(cfg, sessions, local(2022, 8, 5))
    assert pending_to(sessions, row.id) == [("5 working days before", QLCN)]
    with sessions() as s:
        dues = s.execute(
            sa.select(outbox.c.due, outbox.c.state)
            .where(outbox.c.deadline_id == row.id)
            .order_by(outbox.c.id)
        ).all()
    assert [(r.due, r.state) for r in dues] == [
        (date(2022, 7, 29), "sent"),
        (date(2022, 8, 12), "pending"),
    ]


def test_typed_text_is_checked_not_cut(store, tmp_path):
    cfg, sessions = store
    row = dl(sessions, "ra-soat-tthc")
    for kw, match in (
        ({"doc_number": "88/BC\r\nBcc: x@y", "note": ""}, "one line"),
        ({"doc_number": "x" * 201, "note": ""}, "201 characters long; at most 200"),
        ({"doc_number": "", "note": "a\x1b[31m"}, "control characters"),
        ({"doc_number": "", "note": "n" * 4001}, "at most 4000"),
    ):
        with pytest.raises(InputError, match=match), sessions() as s, s.begin():
            po.report_completion(
                s,
                cfg,
                row.id,
                who(cfg, QLCN),
                doc_date=None,
                data_dir=tmp_path,
                now=local(2022, 7, 20),
                **kw,
            )
    with pytest.raises(InputError, match="control characters"), sessions() as s, s.begin():
        po.request_extension(
            s,
            cfg,
            row.id,
            who(cfg, QLCN),
            new_due=date(2022, 8, 12),
            reason="r\x00",
            now=local(2022, 7, 20),
        )
    with sessions() as s, s.begin():  # several lines are a note, kept as typed
        po.report_completion(
            s,
            cfg,
            row.id,
            who(cfg, QLCN),
            doc_number=" 88/BC ",
            doc_date=None,
            note="Dòng 1\r\nDòng 2",
            data_dir=tmp_path,
            now=local(2022, 7, 20),
        )
        rep = s.execute(sa.select(reports.c.doc_number, reports.c.note)).one()
    assert (rep.doc_number, rep.note) == ("88/BC", "Dòng 1\nDòng 2")
