"""``hanchot check``, ``plan`` and ``schema`` run as a user runs them (a real process)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
PLAN_2022 = ["plan", "--from", "2022-01-01", "--to", "2022-12-31"]
EVENTS = ["--events", str(GOLDEN / "events-2022.yaml")]


def hanchot(
    *args: str, cwd: Path = REPO, lang: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run hanchot in English (the suite's language), or in ``lang``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"
    }
    env["PYTHONPATH"] = str(REPO)
    if lang is not None:
        env["HANCHOT_LANG"] = lang
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")


# ------------------------------------------------------------------------- check
def test_check_passes_on_the_repository():
    r = hanchot("check", "--today", "2022-03-01", lang="vi")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == "Cấu hình hợp lệ: config và rules"
    assert "Đơn vị: 8, nhóm: 3, vai trò: 3" in out
    assert "Quy tắc: 36 trong 7 tệp" in out  # 35 + ra-soat-phong-gui-thanh-tra (item 19)
    assert any(line.split() == ["rules/03-mot-cua.yaml", "13"] for line in out)
    assert "Loại sự kiện dùng: publication (2 quy tắc), training-call (1 quy tắc)" in out
    assert "5 hạn tiếp theo (từ Thứ Ba, 01/03/2022):" in out
    nxt = out[out.index("5 hạn tiếp theo (từ Thứ Ba, 01/03/2022):") + 1 :]
    assert [line.split()[2] for line in nxt] == ["15/03/2022"] * 4 + ["18/03/2022"]


def test_check_fails_with_every_fault_at_its_place(tmp_path):
    write_tree(
        tmp_path,
        {
            "config/units.yaml": """\
                units:
                  van-phong: {name: Văn phòng Sở, email: vanphong@example.gov.vn}
                """,
            "config/escalation.yaml": """\
                policies:
                  default:
                    - {at: due, notify: [lead]}
                """,
            "rules/a.yaml": """\
                rules:
                  - id: bao-cao
                    title: Báo cáo quý
                    lead: van-phong
                    coordinatng: [van-phong]
                    due: {every: quarter, month: 3, day: 18, roll: fwd}
                """,
            "rules/b.yaml": """\
                rules:
                  - id: bao-cao
                    title: Báo cáo
                    lead: van-phng
                    due: {"on": 2022-02-30}
                """,
        },
    )
    r = hanchot("check", "--config", "config", "--rules", "rules", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    assert r.stderr.splitlines() == [
        "rules/a.yaml:5: unknown key 'coordinatng' (did you mean 'coordinating'?)",
        "rules/a.yaml:6: due.roll: unknown roll 'fwd'; use forward, backward or none",
        "rules/b.yaml:2: duplicate rule id 'bao-cao' (first defined at rules/a.yaml:2)",
        "rules/b.yaml:4: lead: unknown unit or group 'van-phng' (did you mean 'van-phong'?)",
        "rules/b.yaml:5: due.on: '2022-02-30' is not a date: 02/2022 has 28 days",
    ]


def test_check_refuses_object_tags(tmp_path):
    write_tree(tmp_path, {"rules/a.yaml": "rules:\n  - !!python/object/apply:os.system [id]\n"})
    (tmp_path / "config").mkdir()  # an empty one: the units and policies are missing too
    r = hanchot("check", "--config", "config", "--rules", "rules", cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.splitlines()[-1] == (
        "rules/a.yaml:2: YAML: tags are not allowed "
        "('tag:yaml.org,2002:python/object/apply:os.system')"
    )


# ------------------------------------------------------------------------- plan json / golden
#: The 2022 deadlines, worked out by hand (rules/README.md) from the 2022 schedule.
BY_HAND = {
    "2022-03-15": [
        f"dong-gop-bao-cao-quy-{u} 2022-Q1"
        for u in ("phong-chuyen-mon", "soan-thao-vbqppl", "thanh-tra", "van-phong")
    ],
    "2022-03-18": ["bao-cao-quy-kstthc 2022-Q1", "danh-gia-giai-quyet-tthc-bao-cao-quy 2022-Q1"],
    "2022-03-31": ["hop-dinh-ky-quy 2022-Q1", "quy-che-trung-tam-hcc-truc-tuyen once"],
    "2022-04-12": ["quy-trinh-noi-bo-30-ngay qd-0425"],
    "2022-06-15": [
        f"dong-gop-bao-cao-quy-{u} 2022-Q2"
        for u in ("phong-chuyen-mon", "soan-thao-vbqppl", "thanh-tra", "van-phong")
    ],
    "2022-06-20": ["bao-cao-quy-kstthc 2022-Q2", "danh-gia-giai-quyet-tthc-bao-cao-quy 2022-Q2"],
    "2022-06-30": ["hop-dinh-ky-quy 2022-Q2"],
    # Item 19: the divisions send their results to Thanh tra by Fri 15/7/2022 (internal
    # limit, 10 working days before the report: 28, 27, 26, 25, 22, 21, 20, 19, 18, 15/7)
    "2022-07-15": ["ra-soat-2-000648-ban-le-xang-dau once", "ra-soat-phong-gui-thanh-tra once"],
    # ... and Thanh tra's combined report goes "trước ngày 30/7" (Sat) -> Fri 29/7/2022.
    "2022-07-29": ["ra-soat-bao-cao-vpubnd once"],
    "2022-09-05": ["quy-trinh-noi-bo-15-ngay qd-1102"],
    "2022-09-15": [
        f"dong-gop-bao-cao-quy-{u} 2022-Q3"
        for u in ("phong-chuyen-mon", "soan-thao-vbqppl", "thanh-tra", "van-phong")
    ],
    "2022-09-19": ["bao-cao-quy-kstthc 2022-Q3", "danh-gia-giai-quyet-tthc-bao-cao-quy 2022-Q3"],
    "2022-09-30": ["hop-dinh-ky-quy 2022-Q3"],
    "2022-12-15": [
        f"dong-gop-bao-cao-quy-{u} 2022-Q4"
        for u in ("phong-chuyen-mon", "soan-thao-vbqppl", "thanh-tra", "van-phong")
    ],
    "2022-12-19": ["bao-cao-quy-kstthc 2022-Q4", "danh-gia-giai-quyet-tthc-bao-cao-quy 2022-Q4"],
    # Year end 31/12/2022 is a Saturday -> Fri 30/12; item 28 ("Trong năm 2022") too.
    "2022-12-30": sorted(
        ["hop-dinh-ky-quy 2022-Q4", "ke-hoach-gui-vpubnd once"]
        + [
            f"{r} once"
            for r in (
                "danh-gia-tac-dong-tthc",
                "cong-bo-tthc",
                "cong-khai-tthc-tru-so",
                "cong-khai-tthc-trang-tin",
                "de-an-mot-cua-so-hoa",
                "danh-muc-tthc-truc-tuyen-buu-chinh",
                "danh-muc-tthc-khong-phu-thuoc-dia-gioi",
                "kien-toan-bo-phan-mot-cua",
                "cap-nhat-quy-trinh-dien-tu",
                "tiep-nhan-tra-ket-qua-mot-cua",
                "giai-quyet-tthc-dung-csdl-quoc-gia",
                "dich-vu-cong-truc-tuyen",
                "danh-gia-giai-quyet-tthc",
                "danh-gia-chat-luong-dvc-quoc-gia",
                "hoan-thien-phuong-an-don-gian-hoa",
                "de-xuat-lien-thong-nhom-tthc",
                "tiep-nhan-xu-ly-pakn",
                "cong-khai-dia-chi-pakn",
                "cong-khai-ket-qua-xu-ly-pakn",
                "tuyen-truyen-ho-tro-dvc",
                "tap-huan-trien-khai-noi-bo",
            )
        ]
    ),
}


@pytest.fixture(scope="module")
def plan_2022() -> list[dict]:
    # The golden file pins the default output: the explain texts are in Vietnamese.
    r = hanchot(*PLAN_2022, "--format", "json", *EVENTS, lang="vi")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_plan_json_matches_the_golden_file(plan_2022):
    golden = json.loads((GOLDEN / "plan-2022.json").read_text(encoding="utf-8"))
    assert plan_2022 == golden


def test_golden_dates_are_the_hand_checked_ones(plan_2022):
    got: dict[str, list[str]] = {}
    for row in plan_2022:
        got.setdefault(row["due"], []).append(f"{row['rule']} {row['key']}")
    assert {d: sorted(v) for d, v in got.items()} == BY_HAND
    assert len(plan_2022) == 56  # 54 from the rules' dates + 2 publication events
    for row in plan_2022:
        assert date.fromisoformat(row["due"]).weekday() < 5  # no 2022 deadline on a weekend


def test_plan_json_fields(plan_2022):
    row = next(r for r in plan_2022 if r["rule"] == "ra-soat-bao-cao-vpubnd")
    assert row["key"] == "once"
    assert row["lead"] == "thanh-tra"  # Kế hoạch mục IV.2: Thanh tra compiles the report
    assert row["coordinating"] == ["phong-chuyen-mon"]
    assert row["plan_item"] == "19"
    assert row["status"] == "open"
    assert row["roll"] == "backward"
    assert row["explain"][-1] == {
        "step": "due",
        "date": "2022-07-29",
        "text": "Hạn: Thứ Sáu, 29/07/2022",
    }


def test_plan_json_explain_in_english_keys_and_values_unchanged(plan_2022):
    # `before: 2022-07-30` is "trước ngày 30/7": the last working day strictly before,
    # Friday 29/07/2022. With HANCHOT_LANG=en only the explain texts change language.
    r = hanchot(*PLAN_2022, "--format", "json", *EVENTS, lang="en")
    assert r.returncode == 0, r.stderr
    english = json.loads(r.stdout)
    row = next(x for x in english if x["rule"] == "ra-soat-bao-cao-vpubnd")
    assert [s["text"] for s in row["explain"]] == [
        "Before 30/07/2022: the day before is Friday, 29/07/2022",
        "Due: Friday, 29/07/2022",
    ]
    strip = [{k: v for k, v in x.items() if k != "explain"} for x in english]
    assert strip == [{k: v for k, v in x.items() if k != "explain"} for x in plan_2022]


def test_item_19_gives_thanh_tra_time_to_compile(plan_2022):
    # Kế hoạch mục IV.2: Thanh tra Sở compiles the divisions' review results into the
    # report to Văn phòng UBND tỉnh; the divisions' submissions must come first.
    by = {r["rule"]: r for r in plan_2022}
    report = by["ra-soat-bao-cao-vpubnd"]
    assert report["lead"] == "thanh-tra"
    for rid in ("ra-soat-phong-gui-thanh-tra", "ra-soat-2-000648-ban-le-xang-dau"):
        sub = by[rid]
        assert "thanh-tra" in sub["coordinating"]
        assert sub["due"] < report["due"]
        assert "hạn nội bộ" in sub["basis"]


def test_no_deadline_before_the_plan_was_signed(plan_2022):
    # Quyết định 18/QĐ-SCT was signed on 25/02/2022; item 28 says only "Trong năm 2022".
    assert min(r["due"] for r in plan_2022) >= "2022-02-25"
    assert next(r for r in plan_2022 if r["rule"] == "ke-hoach-gui-vpubnd")["due"] == ("2022-12-30")


@pytest.mark.parametrize(
    "rule, words",
    [
        ("dong-gop-bao-cao-quy-van-phong", "Ngày 15 tháng cuối quý là hạn nội bộ"),
        ("dong-gop-bao-cao-quy-phong-chuyen-mon", "Ngày 15 tháng cuối quý là hạn nội bộ"),
        ("dong-gop-bao-cao-quy-soan-thao-vbqppl", "Ngày 15 tháng cuối quý là hạn nội bộ"),
        ("dong-gop-bao-cao-quy-thanh-tra", "Ngày 15 tháng cuối quý là hạn nội bộ"),
        ("bao-cao-quy-kstthc", "Ngày 18 tháng cuối quý là hạn báo cáo quý của tỉnh"),
        ("danh-gia-giai-quyet-tthc-bao-cao-quy", "Ngày 18 tháng cuối quý là hạn báo cáo"),
        ("ra-soat-phong-gui-thanh-tra", "Hạn 15/7/2022 là hạn nội bộ"),
        ("ra-soat-2-000648-ban-le-xang-dau", "Hạn 15/7/2022 là hạn nội bộ"),
    ],
)
def test_dates_the_plan_does_not_state_are_marked_in_basis(plan_2022, rule, words):
    rows = [r for r in plan_2022 if r["rule"] == rule]
    assert rows
    assert all(words in r["basis"] for r in rows)


def test_training_nomination_limit_is_marked_internal():
    text = (REPO / "rules" / "06-truyen-thong.yaml").read_text(encoding="utf-8")
    block = text[text.index("id: tap-huan-cu-cong-chuc") :]
    basis = next(line for line in block.splitlines() if line.strip().startswith("basis:"))
    assert "5 ngày làm việc" in basis and "hạn nội bộ" in basis


def test_plan_json_is_utf8_unescaped():
    r = hanchot(*PLAN_2022, "--format", "json", "--unit", "hoi-dong-cchc")
    assert r.returncode == 0, r.stderr
    assert "Hội đồng" in r.stdout and "\\u" not in r.stdout
    assert [row["key"] for row in json.loads(r.stdout)] == [
        "2022-Q1",
        "2022-Q2",
        "2022-Q3",
        "2022-Q4",
    ]


def test_plan_unit_filter_includes_the_groups_of_the_unit(plan_2022):
    r = hanchot(*PLAN_2022, "--format", "json", "--unit", "qltm-xnk", *EVENTS)
    rows = json.loads(r.stdout)
    rules = {row["rule"] for row in rows}
    assert "ra-soat-2-000648-ban-le-xang-dau" in rules  # leads
    assert "ra-soat-phong-gui-thanh-tra" in rules  # member of the lead group
    assert "ra-soat-bao-cao-vpubnd" in rules  # member of the coordinating group
    assert "quy-trinh-noi-bo-30-ngay" in rules  # member of a coordinating group
    assert "ke-hoach-gui-vpubnd" not in rules
    assert "bao-cao-quy-kstthc" not in rules


def test_plan_events_from_csv_give_the_same_deadlines(tmp_path, plan_2022):
    ev = tmp_path / "events.csv"
    ev.write_text(
        "type,id,date,delegated\n"
        "publication,qd-0425,2022-03-11,\n"
        "publication,qd-1102,2022-08-19,true\n",
        encoding="utf-8",
    )
    r = hanchot(*PLAN_2022, "--format", "json", "--events", str(ev), lang="vi")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == plan_2022


# ------------------------------------------------------------------------- csv / table / ics
def test_plan_csv():
    r = hanchot(*PLAN_2022, "--format", "csv", *EVENTS, lang="vi")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 56
    row = next(x for x in rows if x["rule"] == "tiep-nhan-xu-ly-pakn")
    assert row["coordinating"] == "van-phong;phong-chuyen-mon"
    assert (row["due"], row["status"], row["roll"]) == ("2022-12-30", "open", "backward")
    assert row["explain"].endswith("Hạn: Thứ Sáu, 30/12/2022")


def test_plan_table_has_vietnamese_dates_and_unit_names():
    r = hanchot(*PLAN_2022, *EVENTS, lang="vi")
    assert r.returncode == 0, r.stderr
    assert "Thứ Sáu, 29/07/2022" in r.stdout
    assert "Thanh tra Sở (Pháp chế)" in r.stdout
    assert "56 hạn" in r.stdout


def test_plan_ics_imports(tmp_path):
    import icalendar

    out = tmp_path / "plan.ics"
    r = hanchot(*PLAN_2022, "--format", "ics", *EVENTS, "--output", str(out))
    assert r.returncode == 0, r.stderr
    cal = icalendar.Calendar.from_ical(out.read_bytes())
    assert str(cal["VERSION"]) == "2.0"
    events = list(cal.walk("VEVENT"))
    assert len(events) == 56
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == 56
    ev = next(e for e in events if str(e["UID"]) == "ra-soat-bao-cao-vpubnd/once@hanchot")
    assert ev.decoded("DTSTART") == date(2022, 7, 29)  # all-day: a DATE, not a DATE-TIME
    assert ev.decoded("DTEND") == date(2022, 7, 30)
    text = str(ev["DESCRIPTION"])
    assert "Đơn vị chủ trì: Thanh tra Sở (Pháp chế)" in text
    assert "Đơn vị phối hợp: Phòng Quản lý Thương mại" in text
    assert "Kết quả: Báo cáo kết quả rà soát" in text
    assert str(ev["SUMMARY"]).startswith("Tổng hợp kết quả rà soát của các phòng")


# ------------------------------------------------------------------------- usage
def test_plan_default_window_is_this_year():
    r = hanchot("plan", "--format", "json")
    assert r.returncode == 0, r.stderr
    from datetime import datetime
    from zoneinfo import ZoneInfo

    this_year = str(datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).year)
    assert all(row["due"].startswith(this_year) for row in json.loads(r.stdout))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xml"], "hanchot: unknown --format 'xml'; use table, json, csv, ics"),
        (
            ["--from", "2022-12-01", "--to", "2022-01-01"],
            "hanchot: --from 2022-12-01 is after --to 2022-01-01",
        ),
        (
            ["--unit", "van-phng"],
            "hanchot: --unit: unknown unit or group 'van-phng' (did you mean 'van-phong'?)",
        ),
        (
            ["--from", "2022-02-30"],
            "hanchot: --from: '2022-02-30' is not a date: 02/2022 has 28 days",
        ),
    ],
)
def test_plan_bad_usage_exits_2(args, message):
    r = hanchot("plan", *args)
    assert r.returncode == 2
    assert r.stderr.strip() == message


def test_plan_bad_events_file_exits_2(tmp_path):
    ev = tmp_path / "ev.csv"
    ev.write_text("type,id,date\npublication,a,2022-02-30\n", encoding="utf-8")
    r = hanchot(*PLAN_2022, "--events", str(ev))
    assert r.returncode == 2
    assert r.stderr.strip() == (f"{ev}:2: '2022-02-30' is not a date: 02/2022 has 28 days")


# ------------------------------------------------------------------------- schema
def test_schema_describes_the_rules_file(tmp_path):
    r = hanchot("schema")
    assert r.returncode == 0, r.stderr
    schema = json.loads(r.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    rule = schema["$defs"]["RuleModel"]
    assert rule["additionalProperties"] is False
    assert set(rule["required"]) == {"id", "title", "lead", "due"}
    forms = rule["properties"]["due"]["oneOf"]
    assert len(forms) == 6
    after = schema["$defs"]["DueAfter"]
    assert set(after["properties"]) == {"after", "in", "when", "roll"}


def test_schema_validates_the_repository_rules():
    jsonschema = pytest.importorskip("jsonschema")
    from engine.loader.yamlio import load_yaml

    schema = json.loads(hanchot("schema").stdout)
    for path in sorted((REPO / "rules").glob("*.yaml")):
        jsonschema.validate(json.loads(json.dumps(load_yaml(path))), schema)
