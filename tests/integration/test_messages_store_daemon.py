"""Issue 7.12: the store's errors, the daemon's and the dispatcher's log lines and the
mail transport's errors, in Vietnamese (the default) and in English.

Each test runs once per language. The Vietnamese texts were written from the wording
of engine/locale/vi/store-daemon.po by hand, not copied from the program's output.
"""

from __future__ import annotations

import logging
import os
import signal
import smtplib
from dataclasses import replace

import pytest

from engine import daemon
from engine.errors import DatabaseFault, InputError, StoreError
from engine.store import db
from engine.store.dispatch import DispatchReport, dispatch, transport_factory
from engine.store.materialise import MaterialiseReport, materialise
from engine.store.ops import close_deadline, record_event, remove_event, status_lines
from engine.store.outbox import stage_recipients
from notifications.transport import SmtpTransport, send_error_from
from tests.integration.conftest import free_port
from tests.integration.store_helpers import (
    DIRECTORY,
    PUBLISH_RULE,
    REPORT_RULE,
    local,
    make_config,
    open_store,
    stage,
)

NOW = local(2022, 7, 1)


@pytest.fixture(params=["vi", "en"])
def lang(request, monkeypatch) -> str:
    monkeypatch.setenv("HANCHOT_LANG", request.param)
    return request.param


def messages(caplog, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


def test_report_lines(lang):
    report = DispatchReport(digests_sent=2, rows_sent=5, failed=1, deferred=3, superseded=4)
    made = MaterialiseReport(created=3, updated=1, cancelled=2, reopened=0)
    want = {
        "en": (
            "2 messages sent (5 reminders), 1 failed, 3 deferred, 4 superseded",
            "3 created, 1 updated, 2 cancelled, 0 reopened",
        ),
        "vi": (
            "Đã gửi 2 thư (5 lời nhắc), 1 thất bại, 3 hoãn lại, 4 được thay bằng lần nhắc sau",
            "3 tạo mới, 1 cập nhật, 2 hủy, 0 mở lại",
        ),
    }
    assert (str(report), str(made)) == want[lang]


def test_closing_and_event_errors(tmp_path, lang):
    config = make_config(tmp_path, rules=(REPORT_RULE, PUBLISH_RULE))
    _, sessions = open_store(config)
    with sessions() as s, s.begin():
        materialise(s, config, NOW)
    want = {
        "en": [
            "--evidence must not be empty",
            "no deadline khong-co once; `hanchot status` or `hanchot plan` lists them",
            "no event publication 'qd-1' is recorded; `hanchot event list` shows them",
            "event publication qd-1 is already recorded (date 2022-07-01, attributes {}); "
            "use another id",
            "unknown unit 'khong-co'; see config/units.yaml",
            "deadline bao-cao-6-thang once is already cancelled",
        ],
        "vi": [
            "--evidence không được để trống",
            "không có hạn khong-co once; xem danh sách các hạn bằng `hanchot status` hoặc "
            "`hanchot plan`",
            "không có sự kiện publication 'qd-1' nào được ghi; xem danh sách sự kiện bằng "
            "`hanchot event list`",
            "sự kiện publication qd-1 đã được ghi (ngày 2022-07-01, thuộc tính {}); "
            "hãy dùng mã khác",
            "không có đơn vị 'khong-co'; xem config/units.yaml",
            "hạn bao-cao-6-thang once đã ở trạng thái cancelled",
        ],
    }[lang]
    got = []
    with sessions() as s, s.begin():
        with pytest.raises(InputError) as e:
            close_deadline(s, "bao-cao-6-thang", "once", "done", "  ", actor="cv", now=NOW)
        got.append(e.value.message)
        with pytest.raises(StoreError) as e:
            close_deadline(s, "khong-co", "once", "done", "BC 12", actor="cv", now=NOW)
        got.append(e.value.message)
        with pytest.raises(StoreError) as e:
            remove_event(s, config.rules, "publication", "qd-1", "nhầm", actor="cv", now=NOW)
        got.append(e.value.message)
        record_event(s, "publication", "qd-1", NOW.date(), {}, actor="cv", now=NOW)
        with pytest.raises(InputError) as e:
            later = NOW.date().replace(day=2)
            record_event(s, "publication", "qd-1", later, {}, actor="cv", now=NOW)
        got.append(e.value.message)
        with pytest.raises(InputError) as e:
            status_lines(s, config, NOW, unit="khong-co")
        got.append(e.value.message)
    # The rule leaves the files: its open deadline is cancelled by the engine, not by
    # a person, so there is no day, time or name to tell.
    with sessions() as s, s.begin():
        materialise(s, replace(config, rules=(PUBLISH_RULE,)), NOW)
    with sessions() as s, s.begin(), pytest.raises(StoreError) as e:
        close_deadline(s, "bao-cao-6-thang", "once", "waived", "x", actor="cv", now=NOW)
    got.append(e.value.message)
    assert got == want


def test_database_faults_and_the_daemon_lock(tmp_path, lang):
    foreign = tmp_path / "notes.db"
    foreign.write_bytes(b"not a database, just some text\n" * 200)
    with pytest.raises(DatabaseFault) as fault:
        db.open_existing(f"sqlite:///{foreign}")
    with pytest.raises(StoreError) as bad_url:
        db.make_engine("postgresql://u:secret@host:abc/db")
    config = make_config(tmp_path)
    url = config.settings.database
    engine, _sessions = open_store(config)
    path = db.sqlite_path(url)
    with db.DaemonLock(engine, url), pytest.raises(StoreError) as locked:
        db.DaemonLock(engine, url).acquire()
    pid = os.getpid()
    want = {
        "en": [
            f"the database {foreign} is not a SQLite database file (file is not a database)",
            "database URL postgresql://u:***@host:abc/db is not valid: the port must be a number",
            f"another hanchot daemon is running on {path} (pid {pid}); stop it first or use a "
            "different database",
        ],
        "vi": [
            f"cơ sở dữ liệu {foreign} không phải là tệp cơ sở dữ liệu SQLite "
            "(file is not a database)",
            "URL cơ sở dữ liệu postgresql://u:***@host:abc/db không hợp lệ: cổng phải là một số",
            f"đã có một tiến trình nền hanchot khác chạy trên {path} (pid {pid}); hãy dừng "
            "tiến trình đó trước hoặc dùng cơ sở dữ liệu khác",
        ],
    }[lang]
    assert [fault.value.message, bad_url.value.message, locked.value.message] == want


def test_send_errors_name_the_server(lang):
    where = SmtpTransport("mail.example.gov.vn", 25).where
    refused = smtplib.SMTPRecipientsRefused(
        {"qlcn@example.gov.vn": (550, b"5.1.1 mailbox unavailable")}
    )
    login = smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials")
    got = [
        send_error_from(refused, where=where).message,
        send_error_from(login, where=where).message,
        send_error_from(TimeoutError()).message,
    ]
    want = {
        "en": [
            "SMTP server mail.example.gov.vn:25 refused the recipient: "
            "qlcn@example.gov.vn: 550 5.1.1 mailbox unavailable",
            "SMTP server mail.example.gov.vn:25 refused the login (check smtp.user and "
            "HANCHOT_SMTP_PASSWORD): 535 5.7.8 bad credentials",
            "SMTP server timed out",
        ],
        "vi": [
            "máy chủ thư SMTP mail.example.gov.vn:25 từ chối người nhận: "
            "qlcn@example.gov.vn: 550 5.1.1 mailbox unavailable",
            "máy chủ thư SMTP mail.example.gov.vn:25 từ chối đăng nhập (hãy kiểm tra "
            "smtp.user và HANCHOT_SMTP_PASSWORD): 535 5.7.8 bad credentials",
            "máy chủ thư SMTP không trả lời (hết thời gian chờ)",
        ],
    }[lang]
    assert got == want


def test_mail_server_down_is_logged_and_reported(tmp_path, lang, caplog):
    from engine.core.config import SmtpSettings

    port = free_port()  # nothing listens there: the connection is refused at once
    smtp = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=5)
    config = make_config(tmp_path, smtp=smtp)
    _, sessions = open_store(config)
    caplog.set_level(logging.INFO)
    # 22/07/2022 08:00 is the first stage (5 working days before Friday 29/07: Thu 28,
    # Wed 27, Tue 26, Mon 25, Fri 22): one reminder for the lead, deferred.
    now = local(2022, 7, 22)
    with sessions() as s, s.begin():
        materialise(s, config, now)
    report = dispatch(config, sessions, transport_factory(config.settings), now)
    assert report.deferred == 1 and report.exit_code == 3
    refused = {
        "en": f"SMTP server 127.0.0.1:{port} refused the connection (nothing listening?)",
        "vi": f"máy chủ thư SMTP 127.0.0.1:{port} từ chối kết nối "
        "(không có dịch vụ nào đang nghe?)",
    }[lang]
    headline = {"en": "mail server unavailable: ", "vi": "không kết nối được máy chủ thư: "}
    assert messages(caplog, "hanchot.dispatch") == [headline[lang] + refused]
    assert report.errors == [refused]


def test_stage_with_an_unknown_audience_is_skipped_with_a_warning(lang, caplog):
    got = stage_recipients(DIRECTORY, stage("due", ["khong-co", "lead"]), "van-phong", ())
    assert [r.email for r in got] == ["van-phong@example.gov.vn"]
    want = {
        "en": "stage 'due': unknown unit, group or role 'khong-co'; skipped",
        "vi": "mốc 'due': không có đơn vị, nhóm hoặc vai trò 'khong-co'; bỏ qua",
    }[lang]
    assert messages(caplog, "hanchot.outbox") == [want]


def test_daemon_keeps_the_old_configuration_and_stops_on_a_signal(make_rule_tree, lang, caplog):
    config_dir, rules_dir = make_rule_tree(
        {"rules/a.yaml": "rules:\n  - {id: a, title: A, lead: qlcn, due: {on: 2022-07-29}}\n"}
    )
    d = daemon.Daemon(config_dir, rules_dir, {})
    d.config = old = daemon._load(config_dir, rules_dir, NOW)
    (rules_dir / "a.yaml").write_text("rules:\n  - id: Sai Định Danh\n", encoding="utf-8")
    caplog.set_level(logging.INFO)
    d._reload_if_changed(NOW)
    assert d.config is old
    d._on_signal(signal.SIGTERM, None)
    assert d.stopping.is_set()
    (rejected, stopping) = messages(caplog, "hanchot.daemon")
    headline, *problems = rejected.splitlines()
    want = {
        "en": (
            "new configuration rejected; still running the previous one:",
            "SIGTERM: finishing the current message, then stopping",
        ),
        "vi": (
            "cấu hình mới bị từ chối; vẫn chạy theo cấu hình trước:",
            "SIGTERM: gửi nốt thư đang gửi rồi dừng",
        ),
    }[lang]
    assert (headline, stopping) == want
    # the loader's own messages follow, one `file:line: message` each
    assert problems and all(p.startswith(str(rules_dir / "a.yaml") + ":") for p in problems)


def test_bad_poll_interval_is_refused_before_anything_starts(tmp_path, lang):
    with pytest.raises(InputError) as e:
        daemon.run_forever(tmp_path / "config", tmp_path / "rules", {"HANCHOT_POLL_SECONDS": "1m"})
    want = {
        "en": "HANCHOT_POLL_SECONDS must be a positive number of seconds, not '1m'",
        "vi": "HANCHOT_POLL_SECONDS phải là một số giây lớn hơn 0, không phải '1m'",
    }[lang]
    assert e.value.message == want
