"""Printing stored text for people and spreadsheets (issues 7.14, 12.5, 12.6)."""

from __future__ import annotations

import io
from datetime import date

import pytest
from rich.console import Console

from engine.report import print_status, print_table, rows_csv, spreadsheet_cell, status_tsv
from engine.store.ops import StatusLine

RULE = "ra-soat-bao-cao-van-phong-ubnd-tinh-quy-trinh-noi-bo"
KEY = "512/QD-UBND-2022-phe-duyet"


def line(rule=RULE, key=KEY, title="Báo cáo tình hình, kết quả kiểm soát TTHC 6 tháng"):
    return StatusLine(
        rule, key, title, "18", date(2022, 7, 29), "van-phong", (), "open", 3, "due-soon"
    )


def render(width: int, lines) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, soft_wrap=True)
    print_status(lines, lambda ref: "Văn phòng Sở", console)
    return out.getvalue()


@pytest.fixture
def vi(monkeypatch):
    """The status table in Vietnamese, the default language (the suite runs in English)."""
    monkeypatch.setenv("HANCHOT_LANG", "vi")


@pytest.mark.parametrize("width", [200, 100, 60, 30, 12])
def test_status_ids_stay_whole_at_any_width(width, vi):
    # Issue 7.14: a narrow terminal split rule ids across lines.
    text = render(width, [line()])
    assert RULE in text and KEY in text
    assert "Sắp đến hạn" in text and "Văn phòng Sở" in text


def test_status_wide_terminal_is_a_table(vi):
    text = render(200, [line()])
    assert "┃" in text and "Quy tắc / kỳ" in text
    assert "Thứ Sáu, 29/07/2022" in text


def test_status_prints_markup_and_escapes_as_text():
    text = render(200, [line(key="[/]", title="[link=http://evil.test]bấm[/link]\x1b[2J")])
    assert "[/]" in text and "[link=http://evil.test]bấm[/link]\\x1b[2J" in text
    assert "\x1b" not in text


def test_status_tsv_one_line_per_deadline():
    text = status_tsv([line(title="a\tb\r\nc")], lambda ref: "Văn phòng Sở")
    header, row = text.splitlines()
    assert row.split("\t") == [
        "due-soon",
        "2022-07-29",
        "3",
        RULE,
        KEY,
        "a\\tb\\r\\nc",
        "van-phong",
        "Văn phòng Sở",
    ]


@pytest.mark.parametrize(
    "cell, safe",
    [
        ('=HYPERLINK("http://evil.test","x")', '\'=HYPERLINK("http://evil.test","x")'),
        ("+cmd", "'+cmd"),
        ("-1+1", "'-1+1"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Báo cáo quý", "Báo cáo quý"),
        ("2022-07-29", "2022-07-29"),
        ("a=b", "a=b"),
        (None, ""),
        (18, "18"),
    ],
)
def test_spreadsheet_cell_follows_the_owasp_rule(cell, safe):
    assert spreadsheet_cell(cell) == safe


def test_rows_csv_uses_the_helper_for_every_cell():
    row = {
        "rule": "r",
        "key": "once",
        "title": "=1+1",
        "due": "2022-07-29",
        "coordinating": ["@a", "b"],
        "explain": [{"text": "-x"}],
    }
    body = rows_csv([row]).splitlines()[1]
    assert body.startswith("r,once,'=1+1,2022-07-29,")
    assert "'@a;b" in body and "'-x" in body


def test_plan_table_prints_control_characters_as_escapes():
    out = io.StringIO()
    row = {
        "rule": "r",
        "key": "qd\x1b[2J",
        "title": "[/]",
        "due": "2022-07-29",
        "plan_item": None,
        "lead_name": "Văn phòng Sở",
        "coordinating_names": [],
        "status": "open",
    }
    print_table([row], Console(file=out, width=120, color_system=None))
    text = out.getvalue()
    assert "qd\\x1b[2J" in text and "[/]" in text and "\x1b" not in text
