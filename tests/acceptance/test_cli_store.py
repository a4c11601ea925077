"""The tracking commands as a user runs them: event, done, waive, status, run --once.

Each test works in its own directory with the shipped ``config/`` (units, calendar,
escalation) and a small rules directory; the database and the .eml files land in
``var/`` there, as on a fresh machine without a mail server.
"""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RULES = """\
rules:
  - id: bao-cao-6-thang
    title: Báo cáo tình hình, kết quả kiểm soát TTHC 6 tháng
    plan_item: "18"
    basis: Thông tư 01/2020/TT-VPCP
    output: Báo cáo gửi UBND tỉnh
    lead: van-phong
    coordinating: [thanh-tra]
    due: {on: 2022-07-29}
  - id: quy-trinh-noi-bo
    title: Trình phê duyệt quy trình nội bộ giải quyết TTHC
    lead: qlcn
    due: {after: publication, in: 30 days}
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "plan.yaml").write_text(RULES, encoding="utf-8")
    return tmp_path


def hanchot(site: Path, *args: str, env: dict | None = None):
    import os

    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"
    }
    environ["COLUMNS"] = "200"
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=site,
        env=environ,
        timeout=120,
    )


def mails(site: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((site / "var" / "mail").rglob("*.eml"))
    ]


def test_run_once_writes_eml_files_without_smtp_and_twice_is_nothing_new(site):
    r = hanchot(site, "run", "--once", "--now", "2022-07-22T08:00+07:00")
    assert r.returncode == 0, r.stderr
    assert "1 messages sent" in r.stdout
    (msg,) = mails(site)
    assert msg["To"].addresses[0].addr_spec == "vanphong@example.gov.vn"
    assert msg["Subject"] == "[Nhắc hạn] 1 việc sắp đến hạn — Văn phòng Sở"
    assert "sent <" in r.stderr  # one log line per message
    r = hanchot(site, "run", "--once", "--now", "2022-07-22T09:00+07:00")
    assert r.returncode == 0 and "0 messages sent" in r.stdout
    assert len(mails(site)) == 1


def test_naive_now_is_refused(site):
    r = hanchot(site, "run", "--once", "--now", "2022-07-22T08:00")
    assert r.returncode == 2
    assert "no UTC offset" in r.stderr


def test_event_add_list_and_deadline_appears_in_status(site):
    r = hanchot(
        site,
        "event",
        "add",
        "publication",
        "--id",
        "qd-0425",
        "--date",
        "2022-03-15",
        "--set",
        "delegated=true",
        "--now",
        "2022-04-08T09:00+07:00",
        env={"HANCHOT_LANG": "vi"},
    )
    assert r.returncode == 0, r.stderr
    assert "1 hạn mới" in r.stdout
    r = hanchot(site, "event", "list", "--format", "json")
    (ev,) = json.loads(r.stdout)
    assert ev["id"] == "qd-0425" and ev["attrs"] == {"delegated": "true"}
    r = hanchot(site, "status", "--format", "json", "--now", "2022-04-08T09:00+07:00")
    assert r.returncode == 0, r.stderr
    (line,) = json.loads(r.stdout)
    assert (line["rule"], line["key"], line["due"], line["state"]) == (
        "quy-trinh-noi-bo",
        "qd-0425",
        "2022-04-14",
        "due-soon",
    )
    r = hanchot(site, "status", "--format", "table", "--now", "2022-04-20T09:00+07:00")
    assert "Overdue" in r.stdout and "quy-trinh-noi-bo" in r.stdout
    vi = hanchot(
        site,
        "status",
        "--format",
        "table",
        "--now",
        "2022-04-20T09:00+07:00",
        env={"HANCHOT_LANG": "vi"},
    )
    assert "Quá hạn" in vi.stdout and "quy-trinh-noi-bo" in vi.stdout


def test_event_import_csv_reports_file_and_line(site):
    good = site / "events.csv"
    good.write_text(
        "type,id,date,delegated\npublication,qd-1,2022-03-15,\npublication,qd-2,19/08/2022,true\n",
        encoding="utf-8",
    )
    vi = {"HANCHOT_LANG": "vi"}
    r = hanchot(site, "event", "import", str(good), "--now", "2022-03-20T09:00+07:00", env=vi)
    assert r.returncode == 0, r.stderr
    assert "Đã nhập 2 sự kiện" in r.stdout
    r = hanchot(site, "event", "import", str(good), "--now", "2022-03-20T09:00+07:00")
    assert r.stdout == "Imported 0 event(s) (2 already recorded); 0 new deadline(s).\n"
    bad = site / "bad.csv"
    bad.write_text("type,id,date\npublication,qd-3,2022-02-30\n", encoding="utf-8")
    r = hanchot(site, "event", "import", str(bad))
    assert r.returncode == 2
    assert "bad.csv:2:" in r.stderr


def test_done_stops_the_mail_and_waive_needs_a_reason(site):
    assert hanchot(site, "run", "--once", "--now", "2022-07-22T08:00+07:00").returncode == 0
    r = hanchot(
        site,
        "done",
        "bao-cao-6-thang",
        "once",
        "--evidence",
        "Báo cáo số 123/BC-SCT ngày 27/7/2022",
        "--now",
        "2022-07-27T10:00+07:00",
    )
    assert r.returncode == 0, r.stderr
    for day in ("2022-07-28", "2022-07-29", "2022-08-01", "2022-08-05"):
        assert hanchot(site, "run", "--once", "--now", f"{day}T08:00+07:00").returncode == 0
    assert len(mails(site)) == 1
    r = hanchot(site, "waive", "bao-cao-6-thang", "once", "--reason", "x")
    assert r.returncode == 2 and "already done" in r.stderr
    r = hanchot(site, "done", "khong-co", "once", "--evidence", "x")
    assert r.returncode == 2 and "no deadline khong-co once" in r.stderr


def test_status_unit_filter(site):
    # status reads the database; the first run (here a cycle with nothing to send) makes it.
    assert hanchot(site, "run", "--once", "--now", "2022-07-01T08:00+07:00").returncode == 0
    r = hanchot(
        site, "status", "--unit", "thanh-tra", "--format", "json", "--now", "2022-07-27T09:00+07:00"
    )
    assert r.returncode == 0, r.stderr
    assert [x["rule"] for x in json.loads(r.stdout)] == ["bao-cao-6-thang"]
    r = hanchot(site, "status", "--unit", "qlcn", "--format", "json")
    assert json.loads(r.stdout) == []
    r = hanchot(site, "status", "--unit", "khong-co")
    assert r.returncode == 2 and "unknown unit" in r.stderr


def test_plan_includes_stored_events_and_statuses(site):
    # Before any database exists, plan works from the rules alone and creates nothing.
    r = hanchot(site, "plan", "--from", "2022-01-01", "--to", "2022-12-31", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert [(d["rule"], d["status"]) for d in json.loads(r.stdout)] == [("bao-cao-6-thang", "open")]
    assert not (site / "var" / "hanchot.db").exists()

    now = ["--now", "2022-03-01T09:00:00+07:00"]
    r = hanchot(
        site, "event", "add", "publication", "--id", "qd-0425", "--date", "2022-03-11", *now
    )
    assert r.returncode == 0, r.stderr
    r = hanchot(site, "done", "bao-cao-6-thang", "once", "--evidence", "Báo cáo số 12/BC-SCT", *now)
    assert r.returncode == 0, r.stderr

    r = hanchot(site, "plan", "--from", "2022-01-01", "--to", "2022-12-31", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = {(d["rule"], d["key"]): d for d in json.loads(r.stdout)}
    # 11/3/2022 + 30 days = Sun 10/4 (Giỗ Tổ), Mon 11/4 off in lieu -> Tue 12/4/2022.
    assert rows[("quy-trinh-noi-bo", "qd-0425")]["due"] == "2022-04-12"
    assert rows[("quy-trinh-noi-bo", "qd-0425")]["status"] == "open"
    assert rows[("bao-cao-6-thang", "once")]["status"] == "done"

    # --no-store: the rules alone again.
    r = hanchot(
        site, "plan", "--from", "2022-01-01", "--to", "2022-12-31", "--format", "json", "--no-store"
    )
    assert [d["status"] for d in json.loads(r.stdout)] == ["open"]


def test_status_tells_of_reminders_kept_by_a_build_error(site):
    # issue 12.2: a message hanchot could not build stays pending; status says so
    # (on stderr, so the JSON stays machine-readable) until it goes out.
    import sqlite3

    r = hanchot(site, "run", "--once", "--now", "2022-07-22T08:00+07:00")
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(site / "var" / "hanchot.db") as conn:
        conn.execute(
            "UPDATE outbox SET state = 'pending', last_error = "
            "'internal error: ValueError: address parts cannot contain CR or LF'"
        )
    now = ("--now", "2022-07-22T09:00+07:00")
    r = hanchot(site, "status", "--format", "json", *now, env={"HANCHOT_LANG": "en"})
    assert r.returncode == 0, r.stderr
    json.loads(r.stdout)
    assert r.stderr.strip() == (
        "1 reminder(s) not sent because of a configuration error (they go out once it is "
        "fixed): internal error: ValueError: address parts cannot contain CR or LF"
    )
    r = hanchot(site, "run", "--once", *now)
    assert r.returncode == 0 and "1 messages sent" in r.stdout
    r = hanchot(site, "status", *now, env={"HANCHOT_LANG": "en"})
    assert "configuration error" not in r.stderr


def test_mail_names_the_focal_point_except_to_itself(site):
    # issue 7.4: config/units.yaml makes Văn phòng Sở the focal point (role admin).
    # 28/07/2022 is 1 working day before the report due Fri 29/07: lead Văn phòng and
    # coordinating Thanh tra are mailed.
    r = hanchot(site, "run", "--once", "--now", "2022-07-28T08:00+07:00")
    assert r.returncode == 0, r.stderr
    by_rcpt = {m["To"].addresses[0].addr_spec: m for m in mails(site)}
    own = by_rcpt["vanphong@example.gov.vn"].get_body(("plain",)).get_content()
    other = by_rcpt["thanhtra@example.gov.vn"].get_body(("plain",)).get_content()
    assert "báo Văn phòng Sở" not in own
    assert "Khi hoàn thành, ghi nhận bằng lệnh:" in own
    assert "đề nghị báo Văn phòng Sở (mã việc: bao-cao-6-thang/once)." in other
    assert "hanchot done" not in other  # issue 8.2: no command in front of an official


def test_mail_dates_are_local(site):
    # issue 7.10: 2022-07-28T20:00Z is 03:00 on Fri 29/07 in Việt Nam: the mail of
    # the 28/07 08:00 stage (late) is dated and says it was sent on 29/07, and it is
    # filed under that day, although the UTC date is still 28/07.
    r = hanchot(site, "run", "--once", "--now", "2022-07-28T20:00:00Z")
    assert r.returncode == 0, r.stderr
    paths = sorted((site / "var" / "mail").rglob("*.eml"))
    assert paths and {p.parent.name for p in paths} == {"2022-07-29"}
    msgs = mails(site)
    assert {str(m["Date"]) for m in msgs} == {"Fri, 29 Jul 2022 03:00:00 +0700"}
    for m in msgs:
        assert "gửi ngày Thứ Sáu, 29/07/2022." in m.get_body(("plain",)).get_content()
