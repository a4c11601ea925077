"""Dispatch against a real SMTP server: one message per person per cycle (issue 7.1),
the subject's counts (7.2), the focal point (7.4), messages that cannot be built stay
pending (12.2), 552 on RCPT TO and a dead process's claims (12.15).

Dates (no holiday in July/August 2022: Quốc khánh is 02/09, Giỗ Tổ 10/04/2022):
- ``bao-cao-6-thang`` due Fri 29/07/2022: 5 wd before = Fri 22/07 (28, 27, 26, 25,
  22), 1 wd before = Thu 28/07, due 29/07.
- ``bao-cao-b`` due Wed 27/07/2022: 5 wd before = Wed 20/07 (26, 25, 22, 21, 20),
  1 wd before = Tue 26/07, due 27/07, 1 wd after = Thu 28/07.
Both are led by Văn phòng Sở.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from dataclasses import replace
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from engine.core.rules import On, Rule
from engine.store import dispatch as dispatch_mod
from engine.store.dispatch import claim_owner, owner_is_dead
from engine.store.tables import PENDING, SENDING, SENT, outbox
from tests.integration.store_helpers import DIRECTORY, REPORT_RULE, local, parse, text_body
from tests.integration.test_store_dispatch import Store

pytestmark = pytest.mark.smtp
RENDER = importlib.import_module("notifications.render")  # the package re-exports render()

LEAD = "van-phong@example.gov.vn"
RULE_B = Rule(
    id="bao-cao-b",
    title="Báo cáo B",
    lead="van-phong",
    due=On(date(2022, 7, 27)),
    coordinating=("phong-chuyen-mon",),
)


def store_ab(tmp_path, server, **kw) -> Store:
    store = Store(tmp_path, server, rules=(REPORT_RULE, RULE_B), **kw)
    store.materialise(local(2022, 7, 1))
    return store


def to(server, rcpt: str):
    return [parse(r.content) for r in server.received if rcpt in r.rcpt_tos]


def test_one_message_per_person_per_cycle_whatever_the_instants(tmp_path, smtp_server):
    # At 22/07 08:00 Văn phòng has B's row of 20/07 (never sent: the engine was down)
    # and A's row of 22/07: two instants, one message.
    store = store_ab(tmp_path, smtp_server)
    report = store.dispatch(local(2022, 7, 22))
    (msg,) = to(smtp_server, LEAD)
    assert report.digests_sent == 1
    # from 22/07: A due 29/07 is 5 working days ahead, B due 27/07 is 3
    assert msg["Subject"] == "[Nhắc hạn] 2 việc sắp đến hạn — Văn phòng Sở"
    assert msg["X-Hanchot-Items"] == "bao-cao-b/once, bao-cao-6-thang/once"
    assert store.states() == {SENT: 2}


def test_after_downtime_the_subject_counts_each_state(tmp_path, smtp_server):
    store = store_ab(tmp_path, smtp_server)
    store.dispatch(local(2022, 7, 22))
    n = len(to(smtp_server, LEAD))
    # Down from 22/07 until 29/07 08:00: B's latest stage is 28/07 (1 wd after), A's
    # is 29/07 (due). From 29/07, B (due 27/07) is 2 working days late (28, 29), A is
    # due today: one message naming both counts.
    store.dispatch(local(2022, 7, 29))
    (msg,) = to(smtp_server, LEAD)[n:]
    assert msg["Subject"] == "[Quá hạn] 1 việc quá hạn, 1 việc đến hạn hôm nay — Văn phòng Sở"
    assert "xin thông báo 1 việc quá hạn, 1 việc đến hạn hôm nay:" in text_body(msg)


def test_the_focal_point_is_named_except_to_itself(tmp_path, smtp_server):
    store = Store(tmp_path, smtp_server)
    roles = dict(DIRECTORY.roles, admin="van-phong")
    store.config = replace(store.config, directory=replace(DIRECTORY, roles=roles))
    store.materialise(local(2022, 7, 1))
    store.dispatch(local(2022, 7, 28))  # 1 wd before: lead and coordinating
    (own,) = to(smtp_server, LEAD)
    (other,) = to(smtp_server, "qlcn@example.gov.vn")
    assert "báo Văn phòng Sở" not in text_body(own)
    assert "Khi hoàn thành, ghi nhận bằng lệnh:" in text_body(own)
    assert "đề nghị báo Văn phòng Sở (mã việc: bao-cao-6-thang/once)." in text_body(other)
    assert "hanchot done" not in text_body(other)


# ------------------------------------------------------------------ issue 12.2
def test_a_message_that_cannot_be_built_stays_pending_until_fixed(
    tmp_path, smtp_server, monkeypatch, caplog
):
    store = Store(tmp_path, smtp_server)
    store.materialise(local(2022, 7, 1))
    real = RENDER.render

    def broken(digest, **kw):
        raise ValueError("address parts cannot contain CR or LF")

    monkeypatch.setattr(RENDER, "render", broken)
    report = store.dispatch(local(2022, 7, 22))
    assert (report.failed, report.build_errors, report.deferred) == (0, 1, 1)
    assert report.exit_code == 3
    assert store.states() == {PENDING: 1}
    assert smtp_server.received == []  # not even the admin's failure summary
    assert "cannot build the message to van-phong@example.gov.vn" in caplog.text
    with store.sessions() as s:
        count, error = dispatch_mod.build_errors(s)
    assert count == 1 and "address parts cannot contain CR or LF" in error

    # Configuration fixed: the very next cycle (a minute later, before any backoff
    # ends) sends it.
    monkeypatch.setattr(RENDER, "render", real)
    report = store.dispatch(local(2022, 7, 22, 8, 1))
    assert report.digests_sent == 1 and report.exit_code == 0
    assert [r.rcpt_tos for r in smtp_server.received] == [(LEAD,)]
    with store.sessions() as s:
        assert dispatch_mod.build_errors(s) == (0, None)


def test_a_unit_name_with_a_line_break_is_sent_with_a_clean_header(tmp_path, smtp_server):
    # A config that bypassed `check`: the name reaches the To header without CR/LF.
    units = dict(DIRECTORY.units)
    units["van-phong"] = replace(units["van-phong"], name="Văn phòng\r\nBcc: x@evil.test")
    store = Store(tmp_path, smtp_server)
    store.config = replace(store.config, directory=replace(DIRECTORY, units=units))
    store.materialise(local(2022, 7, 1))
    report = store.dispatch(local(2022, 7, 22))
    assert report.digests_sent == 1 and report.failed == 0
    (received,) = smtp_server.received
    assert received.rcpt_tos == (LEAD,)
    msg = parse(received.content)
    assert msg["To"].addresses[0].display_name == "Văn phòng Bcc: x@evil.test"
    assert "Bcc" not in msg


# ------------------------------------------------------------------ issue 12.15
def test_552_on_rcpt_to_is_transient(tmp_path, smtp_server):
    # RFC 5321 §4.5.3.1.10: 552 on RCPT TO is to be treated as 452.
    smtp_server.handler.reject[LEAD] = "552 5.2.2 mailbox full"
    store = Store(tmp_path, smtp_server)
    store.materialise(local(2022, 7, 1))
    report = store.dispatch(local(2022, 7, 22))
    assert (report.failed, report.deferred, report.exit_code) == (0, 1, 3)
    assert store.states() == {PENDING: 1}
    del smtp_server.handler.reject[LEAD]
    report = store.dispatch(local(2022, 7, 22) + timedelta(minutes=3))  # after the 2-min backoff
    assert report.digests_sent == 1


def test_550_on_rcpt_to_is_still_permanent(tmp_path, smtp_server):
    smtp_server.handler.reject[LEAD] = "550 5.1.1 no such user"
    store = Store(tmp_path, smtp_server, admin_email=None)
    store.materialise(local(2022, 7, 1))
    report = store.dispatch(local(2022, 7, 22))
    assert (report.failed, report.exit_code) == (1, 4)


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def claim(store, token: str, at) -> None:
    with store.sessions() as s, s.begin():
        s.execute(
            outbox.update()
            .where(outbox.c.state == PENDING)
            .values(state=SENDING, claim_token=token, claimed_at=at)
        )


def test_rows_of_a_dead_process_are_reclaimed_at_once(tmp_path, smtp_server):
    store = Store(tmp_path, smtp_server)
    store.materialise(local(2022, 7, 22))  # creates the 22/07 row
    with store.sessions() as s, s.begin():
        dispatch_mod.materialise_due(s, store.config, local(2022, 7, 22))
    host, _pid, start = claim_owner().split(".")
    claim(store, f"{'0' * 24}.{host}.{dead_pid()}.{start}", local(2022, 7, 22))
    # One minute later: far less than the 15-minute stuck timeout.
    report = store.dispatch(local(2022, 7, 22, 8, 1))
    assert report.reclaimed == 1 and report.digests_sent == 1
    assert [r.rcpt_tos for r in smtp_server.received] == [(LEAD,)]


def test_rows_of_a_live_process_wait_for_it(tmp_path, smtp_server):
    store = Store(tmp_path, smtp_server)
    with store.sessions() as s, s.begin():
        store.materialise(local(2022, 7, 22))
        dispatch_mod.materialise_due(s, store.config, local(2022, 7, 22))
    claim(store, f"{'0' * 24}.{claim_owner()}", local(2022, 7, 22))  # this process: alive
    report = store.dispatch(local(2022, 7, 22, 8, 1))
    assert report.reclaimed == 0 and smtp_server.received == []
    assert store.states() == {SENDING: 1}
    # ...or for the stuck timeout
    report = store.dispatch(local(2022, 7, 22, 8, 16))
    assert report.reclaimed == 1 and report.digests_sent == 1


def test_owner_is_dead_knows_only_what_it_can_tell():
    host, pid, start = claim_owner().split(".")
    assert not owner_is_dead(f"x.{host}.{pid}.{start}")  # this process
    assert owner_is_dead(f"x.{host}.{dead_pid()}.{start}")
    assert owner_is_dead(f"x.{host}.{pid}.{int(start) - 1}")  # pid reused since
    assert not owner_is_dead(f"x.ffffffff.{dead_pid()}.{start}")  # another machine
    assert not owner_is_dead("0123456789abcdef")  # a token from before owners
    assert os.getpid() == int(pid)


def test_status_reports_messages_kept_by_a_build_error(tmp_path, smtp_server, monkeypatch):
    store = Store(tmp_path, smtp_server)
    store.materialise(local(2022, 7, 1))
    monkeypatch.setattr(RENDER, "render", lambda d, **kw: (_ for _ in ()).throw(ValueError("x")))
    store.dispatch(local(2022, 7, 22))
    with store.sessions() as s:
        assert dispatch_mod.build_errors(s) == (1, "internal error: ValueError: x")
    with store.sessions() as s:
        row = s.execute(sa.select(outbox.c.state, outbox.c.attempts)).one()
    assert row.state == PENDING


def test_the_failure_summary_survives_a_sender_name_with_a_line_break(tmp_path, smtp_server):
    # issue 12.2: the admin's summary used to fail with "address parts cannot contain
    # CR or LF" like every reminder. Now the name is cleaned and both go out.
    smtp_server.handler.reject[LEAD] = "550 5.1.1 no such user"
    store = Store(tmp_path, smtp_server)
    settings = replace(store.config.settings, sender_name="Nhắc hạn\r\nBcc: x@evil.test")
    store.config = replace(store.config, settings=settings)
    store.materialise(local(2022, 7, 1))
    report = store.dispatch(local(2022, 7, 22))
    assert report.failed == 1 and report.build_errors == 0
    (summary,) = [parse(r.content) for r in smtp_server.received]
    assert summary["To"].addresses[0].addr_spec == "admin@example.gov.vn"
    assert summary["From"].addresses[0].display_name == "Nhắc hạn Bcc: x@evil.test"
    assert summary["Subject"] == "[Nhắc hạn] 1 thư không gửi được ngày 22/07/2022"
    assert "Bcc" not in summary


def test_the_daemon_retries_unbuilt_messages_as_soon_as_the_config_changes(tmp_path, monkeypatch):
    # issue 12.2: once the admin fixes the configuration, the reminders kept pending
    # by a build error go out at once, not after their backoff.
    import shutil
    from datetime import UTC
    from pathlib import Path

    from apscheduler.schedulers.background import BackgroundScheduler

    from engine import daemon as daemon_mod
    from engine.store import db

    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "config", tmp_path / "config")
    settings = tmp_path / "config" / "settings.yaml"
    text = settings.read_text("utf-8").replace(
        "sqlite:///var/hanchot.db", f"sqlite:///{tmp_path / 'var' / 'hanchot.db'}"
    )
    settings.write_text(text + f"mail_dir: {tmp_path / 'mail'}\n", "utf-8")
    (tmp_path / "rules").mkdir()
    rules = tmp_path / "rules" / "a.yaml"
    rules.write_text(
        "rules:\n  - id: viec-a\n    title: Việc A\n    lead: van-phong\n"
        "    due: {on: 2022-07-29}\n",
        "utf-8",
    )
    now = local(2022, 7, 22)
    d = daemon_mod.Daemon(tmp_path / "config", tmp_path / "rules", {}, clock=lambda: now)
    d._signature = daemon_mod.files_signature(d.config_dir, d.rules_dir)
    d.config = daemon_mod._load(d.config_dir, d.rules_dir, now)
    d.engine = db.make_engine(d.config.settings.database)
    db.migrate(d.engine)
    d.sessions = db.session_factory(d.engine)
    d._transports()
    d._materialise(now, "start")
    d._scheduler = BackgroundScheduler(timezone=UTC)
    d._scheduler.start(paused=True)
    try:
        monkeypatch.setattr(RENDER, "render", lambda *a, **kw: (_ for _ in ()).throw(ValueError))
        report = dispatch_mod.dispatch(d.config, d.sessions, d.transports, now)
        assert report.build_errors == 1
        d._schedule(now, report.next_wake)
        later = d._scheduler.get_job("dispatch").next_run_time
        assert later >= now + timedelta(minutes=2)  # the backoff
        monkeypatch.undo()
        rules.write_text(rules.read_text("utf-8") + "\n# sửa\n", "utf-8")  # the fix
        d._reload_if_changed(now)
        soon = d._scheduler.get_job("dispatch").next_run_time
        assert soon <= now + timedelta(seconds=1)
    finally:
        d._scheduler.shutdown(wait=False)
        d.engine.dispose()


def test_the_daemon_wakes_at_once_for_a_dead_process_claims(tmp_path, smtp_server):
    # issue 12.15: next_wake (what the daemon sleeps until) does not wait out the
    # 15-minute stuck timeout for the claims of a process known dead.
    store = Store(tmp_path, smtp_server)
    with store.sessions() as s, s.begin():
        store.materialise(local(2022, 7, 22))
        dispatch_mod.materialise_due(s, store.config, local(2022, 7, 22))
    host, _pid, start = claim_owner().split(".")
    at = local(2022, 7, 22)
    claim(store, f"{'0' * 24}.{claim_owner()}", at)  # alive: the timeout
    with store.sessions() as s:
        alive_wake = dispatch_mod.next_wake(s)
    with store.sessions() as s, s.begin():
        s.execute(outbox.update().values(claim_token=f"{'0' * 24}.{host}.{dead_pid()}.{start}"))
    with store.sessions() as s:
        assert dispatch_mod.next_wake(s) == at
    # alive: no sooner than the next stage (28/07) or the stuck timeout (08:15)
    assert alive_wake == at + timedelta(minutes=15)


def test_without_proc_liveness_falls_back_to_kill(monkeypatch):
    # Not Linux (no /proc): the pid alone decides, and a live process is never
    # taken for dead.
    host, pid, _start = claim_owner().split(".")
    gone = dead_pid()
    real_isdir = os.path.isdir
    monkeypatch.setattr(os.path, "isdir", lambda p: False if p == "/proc/self" else real_isdir(p))
    assert claim_owner() == f"{host}.{pid}.-"
    assert not owner_is_dead(f"x.{host}.{pid}.-")
    assert owner_is_dead(f"x.{host}.{gone}.-")


def test_digests_rendered_ahead_keep_their_order_and_their_own_failures(
    tmp_path, smtp_server, monkeypatch
):
    """Digests are rendered a batch ahead in a thread of their own: one that cannot be
    built fails alone, the others go out in the cycle's order, each as it was built."""
    twin = store_ab(tmp_path / "twin", smtp_server)
    twin.dispatch(local(2022, 7, 26))  # the cycle's order, nothing failing
    order = [r.rcpt_tos for r in smtp_server.received]
    assert sorted(order) == [("qlcn@example.gov.vn",), ("qlnl@example.gov.vn",), (LEAD,)]
    smtp_server.received.clear()
    store = store_ab(tmp_path / "store", smtp_server)
    real = RENDER.render

    def broken_for_qlcn(digest, **kw):
        if digest.recipient_email == "qlcn@example.gov.vn":
            raise ValueError("x")
        return real(digest, **kw)

    monkeypatch.setattr(RENDER, "render", broken_for_qlcn)
    report = store.dispatch(local(2022, 7, 26))  # qlcn, qlnl, van-phong
    assert (report.digests_sent, report.build_errors) == (2, 1)
    want = [r for r in order if r != ("qlcn@example.gov.vn",)]
    assert [r.rcpt_tos for r in smtp_server.received] == want
    assert [(parse(r.content)["To"].addresses[0].addr_spec,) for r in smtp_server.received] == want


def test_a_stop_leaves_digests_rendered_ahead_unsent_and_pending(tmp_path, smtp_server):
    """Asked to stop after the first message, the cycle sends nothing more, although the
    next digests were already rendered; their rows go back to pending, unclaimed."""
    store = store_ab(tmp_path, smtp_server)
    report = dispatch_mod.dispatch(
        store.config,
        store.sessions,
        dispatch_mod.transport_factory(store.config.settings),
        local(2022, 7, 26),
        should_stop=lambda: len(smtp_server.received) >= 1,
    )
    assert report.digests_sent == 1
    assert len(smtp_server.received) == 1
    assert report.left >= 2
    assert SENDING not in store.states()
    again = store.dispatch(local(2022, 7, 26, 8, 5))
    assert again.digests_sent == 2
    assert len(smtp_server.received) == 3
