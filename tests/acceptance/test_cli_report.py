"""``hanchot report`` and the portal's overview on a hand-made quarter (2022-Q3).

Five deadlines, each placed in one category by hand (2022 calendar: no public
holiday between 01/07 and 31/08; Quốc khánh is 01–02/09):

- ``dung-han`` due Fri 15/07, done Thu 14/07 → đã hoàn thành đúng hạn.
- ``qua-han`` due Wed 20/07, done Tue 26/07 → đã hoàn thành quá hạn, 4 working days
  late (21, 22, 25, 26 July).
- ``trong-han`` due Fri 30/09, open on Mon 15/08 → chưa hoàn thành trong hạn.
- ``chua-xong`` due Fri 05/08, open on Mon 15/08 → chưa hoàn thành quá hạn, 6 working
  days late (8, 9, 10, 11, 12, 15 August).
- ``mien`` due Wed 10/08, waived → không phải thực hiện.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOW = "2022-08-15T09:00:00+07:00"

RULES = """\
rules:
  - {id: dung-han, title: Việc đúng hạn, plan_item: "1", lead: qlcn, due: {on: 2022-07-15},
     output: Báo cáo A}
  - {id: qua-han, title: Việc hoàn thành muộn, plan_item: "2", lead: qlcn,
     coordinating: [van-phong], due: {on: 2022-07-20}}
  - {id: trong-han, title: Việc còn trong hạn, plan_item: "3", lead: qlnl, due: {on: 2022-09-30}}
  - {id: chua-xong, title: Việc quá hạn chưa xong, plan_item: "3", lead: qlnl,
     due: {on: 2022-08-05}}
  - {id: mien, title: Việc được miễn, plan_item: "4", lead: van-phong, due: {on: 2022-08-10}}
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "plan.yaml").write_text(RULES, encoding="utf-8")
    for args in (
        ("run", "--once", "--now", "2022-07-01T07:00+07:00"),  # creates the store
        ("done", "dung-han", "once", "--evidence", "12/BC-QLCN", "--now", "2022-07-14T15:00+07:00"),
        ("done", "qua-han", "once", "--evidence", "20/BC-QLCN", "--now", "2022-07-26T10:00+07:00"),
        (
            "waive",
            "mien",
            "once",
            "--reason",
            "UBND tỉnh lùi kỳ",
            "--now",
            "2022-08-01T10:00+07:00",
        ),
    ):
        r = hanchot(tmp_path, *args)
        assert r.returncode == 0, r.stderr
    return tmp_path


def hanchot(site: Path, *args: str):
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"
    }
    environ["HANCHOT_LANG"] = "en"
    return subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=site,
        env=environ,
        timeout=120,
    )


WANT = {
    "qlcn": {"done_on_time": 1, "done_late": 1, "open_in_time": 0, "open_late": 0, "waived": 0},
    "qlnl": {"done_on_time": 0, "done_late": 0, "open_in_time": 1, "open_late": 1, "waived": 0},
    "van-phong": {
        "done_on_time": 0,
        "done_late": 0,
        "open_in_time": 0,
        "open_late": 0,
        "waived": 1,
    },
}


def test_report_json_counts_each_category_by_hand(site):
    r = hanchot(site, "report", "--period", "2022-Q3", "--format", "json", "--now", NOW)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["from"] == "2022-07-01" and data["to"] == "2022-09-30"
    assert data["by_unit"] == WANT
    by_rule = {d["rule"]: d for d in data["deadlines"]}
    assert by_rule["qua-han"]["late_working_days"] == 4
    assert by_rule["qua-han"]["finished"] == "2022-07-26"
    assert by_rule["chua-xong"]["late_working_days"] == 6
    assert by_rule["dung-han"]["late_working_days"] == 0
    assert by_rule["mien"]["category"] == "waived"
    assert data["by_plan_item"]["3"] == {
        "done_on_time": 0,
        "done_late": 0,
        "open_in_time": 1,
        "open_late": 1,
        "waived": 0,
    }


def test_report_xlsx_cell_by_cell(site):
    from openpyxl import load_workbook

    r = hanchot(
        site,
        "report",
        "--period",
        "2022-Q3",
        "--format",
        "xlsx",
        "--output",
        "q3.xlsx",
        "--now",
        NOW,
    )
    assert r.returncode == 0, r.stderr
    wb = load_workbook(site / "q3.xlsx")
    ws = wb["Chi tiết"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == [
        "STT",
        "Nội dung công việc",
        "Thời gian thực hiện",
        "Đơn vị chủ trì",
        "Đơn vị phối hợp",
        "Kết quả",
        "Tình trạng",
        "Ngày hoàn thành",
        "Số ngày làm việc chậm",
        "Văn bản kết quả",
    ]
    assert rows[1] == [
        1,
        "Việc đúng hạn",
        "15/07/2022",
        "Phòng Quản lý Công nghiệp",
        None,
        "Báo cáo A",
        "Đã hoàn thành đúng hạn",
        "14/07/2022",
        0,
        "12/BC-QLCN",
    ]
    assert rows[2][:4] == [2, "Việc hoàn thành muộn", "20/07/2022", "Phòng Quản lý Công nghiệp"]
    assert rows[2][4] == "Văn phòng Sở"
    assert rows[2][6:] == ["Đã hoàn thành quá hạn", "26/07/2022", 4, "20/BC-QLCN"]
    assert rows[3][1:3] == ["Việc quá hạn chưa xong", "05/08/2022"]
    assert rows[3][6:9] == ["Chưa hoàn thành quá hạn", None, 6]
    assert rows[4][1:3] == ["Việc được miễn", "10/08/2022"]
    assert rows[4][6:] == ["Không phải thực hiện", None, 0, None]
    assert rows[5][1:3] == ["Việc còn trong hạn", "30/09/2022"]
    assert rows[5][6:9] == ["Chưa hoàn thành trong hạn", None, 0]
    assert len(rows) == 6
    totals = [[c.value for c in row] for row in wb["Tổng hợp"].iter_rows()]
    assert totals[1:] == [
        ["Phòng Quản lý Công nghiệp", 1, 1, 0, 0, 0],
        ["Phòng Quản lý Năng lượng", 0, 0, 1, 1, 0],
        ["Văn phòng Sở", 0, 0, 0, 0, 1],
    ]


def test_report_errors_exit_2(site):
    r = hanchot(site, "report", "--period", "2022-Q5", "--now", NOW)
    assert r.returncode == 2 and "2022-Q5" in r.stderr and "Traceback" not in r.stderr
    r = hanchot(site, "report", "--period", "2022", "--format", "xlsx", "--now", NOW)
    assert r.returncode == 2 and "--output" in r.stderr
    r = hanchot(site, "report", "--period", "2022", "--format", "pdf", "--now", NOW)
    assert r.returncode == 2 and "pdf" in r.stderr
    r = hanchot(site, "report", "--period", "2022", "--unit", "nobody", "--now", NOW)
    assert r.returncode == 2 and "nobody" in r.stderr


def test_overview_page_shows_the_same_figures(site, monkeypatch):
    from starlette.testclient import TestClient

    from engine.web.serve import build

    monkeypatch.chdir(site)
    now = datetime.fromisoformat(NOW).astimezone(UTC)
    app = build(Path("config"), Path("rules"), {"HANCHOT_SECRET_KEY": "k" * 40}, lambda: now)
    client = TestClient(app, base_url="http://x", follow_redirects=False)
    director = "giamdoc@example.gov.vn"  # head of ban-giam-doc, role director
    client.get(f"/a/{app.state.signer.action_token(director, None, 'list', now)}")
    page = client.get("/tong-quan?ky=2022-Q3")
    assert page.status_code == 200
    html = page.text
    import re

    table = html.split('id="by-unit"')[1].split("</table>")[0]
    got = {}
    for name, cells in re.findall(r'<th scope="row">([^<]+)</th>(.*?)</tr>', table, re.S):
        got[name] = dict(re.findall(r'data-key="(\w+)">(\d+)<', cells))
    assert got == {
        "Phòng Quản lý Công nghiệp": {
            "done_on_time": "1",
            "done_late": "1",
            "open_in_time": "0",
            "open_late": "0",
            "waived": "0",
        },
        "Phòng Quản lý Năng lượng": {
            "done_on_time": "0",
            "done_late": "0",
            "open_in_time": "1",
            "open_late": "1",
            "waived": "0",
        },
        "Văn phòng Sở": {
            "done_on_time": "0",
            "done_late": "0",
            "open_in_time": "0",
            "open_late": "0",
            "waived": "1",
        },
    }
    assert "<svg" in html and len(page.content) < 100_000
    csv_text = client.get("/tong-quan.csv?ky=2022-Q3").text
    assert csv_text.startswith("\ufeffSTT,") and "Việc hoàn thành muộn" in csv_text
    unit = TestClient(app, base_url="http://x", follow_redirects=False)
    unit.get(f"/a/{app.state.signer.action_token('qlcn@example.gov.vn', None, 'list', now)}")
    assert unit.get("/tong-quan").status_code == 403
    assert unit.get("/tong-quan.xlsx?ky=2022-Q3").status_code == 403
