"""The bytes of the mail hanchot sends do not change when the send path gets faster
(issue 11 item 3).

REGRESSION FIXTURE, NOT A SPECIFICATION: the files in ``tests/data/mail_wire/`` are
the messages exactly as aiosmtpd received them from hanchot *before* the mail
throughput work (commit 6dcec8b's code), written by this test with
``HANCHOT_WRITE_MAIL_FIXTURES=1``. They pin identity only — what the mails should
say is tested elsewhere (test_store_dispatch, test_dispatch_cycle, test_mail_render,
test_mail_headers). Every header and body byte is deterministic: the Message-ID comes
from the outbox ids, ``Date`` from the instant the cycle is run for, the MIME
boundaries from the Message-ID. ``outbox.json`` pins the outbox rows the scenario
leaves (same provenance). Re-pinned once since, at the merge of the set-based
materialiser, which numbers new deadlines rule by rule instead of in plan order: the
only bytes that changed were deadline ids 1 and 2 trading places (in the links, in
the .ics attachments' base64 and in ``outbox.json``'s ``deadline_id``). Only the SMTP
server's port, quoted in the admin's failure summary, is replaced by zeros.

The scenario runs the real dispatch cycle against a real SMTP server: three rules,
the focal point configured, one recipient refused (550) so the admin's failure
summary goes out, portal links in the last cycle. Dates (no holiday in July or
August 2022 before Quốc khánh 02/09):
- ``bao-cao-6-thang`` due Fri 29/07: 5 wd before 22/07, 1 wd before 28/07, due 29/07,
  1 wd after Mon 01/08, 5 wd after Fri 05/08.
- ``bao-cao-b`` due Wed 27/07: 5 wd before 20/07, 1 wd before 26/07, due 27/07,
  1 wd after 28/07, 5 wd after Wed 03/08.
- ``ke-hoach-dai`` due Mon 01/08: 5 wd before Mon 25/07, 1 wd before Fri 29/07.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.core.rules import On, Rule
from engine.store.dispatch import dispatch, transport_factory
from engine.store.tables import outbox
from tests.integration.store_helpers import DIRECTORY, REPORT_RULE, local
from tests.integration.test_store_dispatch import Store

pytestmark = pytest.mark.smtp

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "mail_wire"
WRITE = os.environ.get("HANCHOT_WRITE_MAIL_FIXTURES") == "1"

RULE_B = Rule(
    id="bao-cao-b",
    title="Báo cáo B",
    lead="van-phong",
    due=On(date(2022, 7, 27)),
    coordinating=("phong-chuyen-mon",),
)
LONG = Rule(
    id="ke-hoach-dai",
    title=(
        "Xây dựng, trình Chủ tịch Ủy ban nhân dân tỉnh ban hành Kế hoạch rà soát, "
        'đánh giá thủ tục hành chính năm 2022; ghi chú: "ưu tiên", dấu ; và \\'
    ),
    lead="qlcn",
    due=On(date(2022, 8, 1)),
    coordinating=("van-phong", "qlnl"),
    plan_item="3.2",
    basis="Nghị định 63/2010/NĐ-CP; Nghị định 92/2017/NĐ-CP",
    output="Kế hoạch được ban hành, gửi các sở, ban, ngành",
)
CYCLES = [local(2022, 7, 22), local(2022, 7, 28), local(2022, 7, 29), local(2022, 8, 1)]
LINKED = local(2022, 8, 5)


def links(recipient: str, deadline_id: int | None, lead: str | None) -> dict[str, str]:
    base = "https://nhachan.example.gov.vn/a"
    if deadline_id is None:
        return {"list": f"{base}/list-{recipient}"}
    return {"report": f"{base}/r-{deadline_id}-{recipient}", "ack": f"{base}/k-{deadline_id}"}


def outbox_rows(store) -> list[dict]:
    """Every outbox row as the cycles left it (claims are random and dropped: not kept)."""
    with store.sessions() as s:
        rows = s.execute(sa.select(outbox).order_by(outbox.c.id)).mappings().all()
    keep = ("id", "deadline_id", "stage", "repeat", "recipient", "state", "attempts")
    keep += ("send_at", "next_attempt_at", "sent_at", "message_id", "last_error")
    keep += ("claim_token", "claimed_at", "reported_in", "updated_at")
    return [
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in r.items() if k in keep}
        for r in rows
    ]


def received_in_scenario(tmp_path, server) -> tuple[list[tuple[str, bytes]], list[dict]]:
    server.handler.reject["qlnl@example.gov.vn"] = "550 5.1.1 mailbox unavailable"
    store = Store(tmp_path, server, rules=(REPORT_RULE, RULE_B, LONG))
    roles = dict(DIRECTORY.roles, admin="van-phong")
    store.config = replace(store.config, directory=replace(DIRECTORY, roles=roles))
    store.materialise(local(2022, 7, 1))
    for now in CYCLES:
        store.dispatch(now)
    store.materialise(LINKED)
    dispatch(
        store.config,
        store.sessions,
        transport_factory(store.config.settings),
        LINKED,
        links=links,
    )
    # The admin's failure summary quotes the error, which names the server's port:
    # the one variable part, replaced by zeros of the same length (same folding).
    # (quoted-printable may put a soft line break "=\r\n" anywhere in it).
    assert len(str(server.port)) == 5
    where = re.compile(
        rb"(?:=\r\n)?".join(re.escape(bytes([c])) for c in f"127.0.0.1:{server.port}".encode())
    )

    def zeros(m: re.Match) -> bytes:
        host, port = m.group(0).split(b":")
        return host + b":" + re.sub(rb"\d", b"0", port)

    got = [(r.rcpt_tos[0], where.sub(zeros, r.content)) for r in server.received]
    rows = outbox_rows(store)
    for r in rows:
        if r["last_error"]:
            r["last_error"] = r["last_error"].replace(f":{server.port} ", ":00000 ")
    return got, rows


def test_messages_are_byte_identical_to_the_pinned_ones(tmp_path, smtp_server):
    got, rows = received_in_scenario(tmp_path, smtp_server)
    names = [f"{n:02d}-{rcpt}.eml" for n, (rcpt, _content) in enumerate(got)]
    if WRITE:
        FIXTURES.mkdir(parents=True, exist_ok=True)
        for name, (_rcpt, content) in zip(names, got, strict=True):
            (FIXTURES / name).write_bytes(content)
        text = json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
        (FIXTURES / "outbox.json").write_text(text, "utf-8")
        pytest.skip(f"wrote {len(got)} fixtures to {FIXTURES}")
    assert names == sorted(p.name for p in FIXTURES.glob("*.eml"))
    # the scenario reaches what it is meant to: the summary, links, refusals
    assert any(rcpt == "admin@example.gov.vn" for rcpt, _c in got)
    assert not any(rcpt == "qlnl@example.gov.vn" for rcpt, _c in got)
    assert any(b"https://nhachan.example.gov.vn/a/list-" in c for _r, c in got)
    for name, (_rcpt, content) in zip(names, got, strict=True):
        assert content == (FIXTURES / name).read_bytes(), name
    # and the outbox ends the same: states, attempts, Message-IDs, errors, times
    assert rows == json.loads((FIXTURES / "outbox.json").read_text("utf-8"))
