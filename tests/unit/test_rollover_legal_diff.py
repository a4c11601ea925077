"""rules rollover, replaced legal documents and plan --diff (pure parts, tmp files).

2023 calendar facts used (Bộ luật Lao động 2019 Điều 112 and the government's 2023
schedule): Tết Nguyên đán off Friday 20/1 to Thursday 26/1/2023; Quốc khánh off
Friday 1/9, Saturday 2/9 and Monday 4/9/2023 (nghỉ bù for 2/9).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from engine.core.periods import parse_period
from engine.core.rules import After, Before, EndOf, Every, On, Rule, plan
from engine.core.spans import parse_span
from engine.errors import InputError
from engine.loader.config import load_config
from engine.planimport.diff import APPEARS, DISAPPEARS, MOVES, SAME, diff_occurrences
from engine.planimport.legal import Replacement, replaced_citations, replacements
from engine.planimport.rollover import move_date, new_id, roll_over_dir

REPO = Path(__file__).resolve().parents[2]


def due_of(cfg, rule_id: str, y: int) -> list[date]:
    rules = [r for r in cfg.rules if r.id == rule_id]
    assert rules, rule_id
    return [o.due for o in plan(rules, cfg.calendar, date(y, 1, 1), date(y, 12, 31), [])]


# ---------------------------------------------------------------- rollover
@pytest.fixture(scope="module")
def rolled_2023(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("r2023")
    report = roll_over_dir(REPO / "rules", out, 2022, 2023, force=True)
    return out, report


def test_rollover_2022_to_2023_hand_worked_dates(rolled_2023):
    out, report = rolled_2023
    cfg = load_config(REPO / "config", out)
    assert report.moved == len(load_config(REPO / "config", REPO / "rules").rules)
    # Day 18 of each quarter's last month, rolled forward: Sat 18/3 → Mon 20/3,
    # Sun 18/6 → Mon 19/6, Mon 18/9, Mon 18/12.
    assert due_of(cfg, "bao-cao-quy-kstthc-2023", 2023) == [
        date(2023, 3, 20),
        date(2023, 6, 19),
        date(2023, 9, 18),
        date(2023, 12, 18),
    ]
    # Last working day of each quarter: Fri 31/3, Fri 30/6, Sat 30/9 → Fri 29/9,
    # Sun 31/12 → Fri 29/12.
    assert due_of(cfg, "hop-dinh-ky-quy-2023", 2023) == [
        date(2023, 3, 31),
        date(2023, 6, 30),
        date(2023, 9, 29),
        date(2023, 12, 29),
    ]
    # "trước ngày 30/7" stays 30/7: Sunday 30/7/2023, Saturday 29/7 → Friday 28/7/2023.
    assert due_of(cfg, "ra-soat-bao-cao-vpubnd-2023", 2023) == [date(2023, 7, 28)]
    # "Quý I" stays a quarter: Friday 31/3/2023.
    assert due_of(cfg, "quy-che-trung-tam-hcc-truc-tuyen-2023", 2023) == [date(2023, 3, 31)]
    # Item 28, {end_of: 2022} ("Trong năm 2022") → the end of 2023: Sunday 31/12/2023,
    # Saturday 30/12 → Friday 29/12/2023.
    assert due_of(cfg, "ke-hoach-gui-vpubnd-2023", 2023) == [date(2023, 12, 29)]
    # Year-end duties: Sunday 31/12/2023, Saturday 30/12 → Friday 29/12/2023.
    assert due_of(cfg, "cong-bo-tthc-2023", 2023) == [date(2023, 12, 29)]


def test_rollover_report_lists_what_is_not_mechanical(rolled_2023):
    _, report = rolled_2023
    notes = {(r, m.split(":")[0]) for _, r, m in report.notes}
    assert ("quy-trinh-noi-bo-30-ngay", "event-driven (publication)") in notes
    assert ("ke-hoach-gui-vpubnd", "title names 2022") in notes


def test_both_years_side_by_side(rolled_2023, tmp_path):
    out, _ = rolled_2023
    both = tmp_path / "both"
    shutil.copytree(REPO / "rules", both / "a")
    for p in out.iterdir():
        shutil.copy(p, both / "a" / f"2023-{p.name}")
    cfg = load_config(REPO / "config", both / "a")
    ids = {r.id for r in cfg.rules}
    assert {"bao-cao-quy-kstthc", "bao-cao-quy-kstthc-2023"} <= ids


def test_rollover_across_tet_and_national_day_2023(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.yaml").write_text(
        "rules:\n"
        "  - {id: tet-2022, title: T, lead: van-phong, due: {on: 2022-01-20}}\n"
        "  - {id: qk, title: Q, lead: van-phong, due: {on: 2022-09-02}}\n"
        "  - {id: qk-truoc, title: Q, lead: van-phong, due: {before: 2022-09-05}}\n"
        "  - {id: cu, title: C, lead: van-phong, due: {end_of: 2021}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    report = roll_over_dir(src, out, 2022, 2023)
    cfg = load_config(REPO / "config", out)
    assert sorted(r.id for r in cfg.rules) == ["qk-2023", "qk-truoc-2023", "tet-2023"]
    # 20/1/2023 is 29 Tết, off until Thursday 26/1: forward to Friday 27/1/2023.
    assert due_of(cfg, "tet-2023", 2023) == [date(2023, 1, 27)]
    # Saturday 2/9/2023 (Quốc khánh), Sunday 3/9, Monday 4/9 (nghỉ bù): Tuesday 5/9.
    assert due_of(cfg, "qk-2023", 2023) == [date(2023, 9, 5)]
    # Strictly before 5/9/2023: 4/9, 3/9, 2/9, 1/9 are all off → Thursday 31/8/2023.
    assert due_of(cfg, "qk-truoc-2023", 2023) == [date(2023, 8, 31)]
    assert ("a.yaml", "cu", "not of 2022: not copied") in report.notes


def test_29_february_becomes_28_february_and_is_reported(tmp_path):
    assert move_date(date(2024, 2, 29), 1) == (date(2025, 2, 28), True)
    assert move_date(date(2023, 2, 28), 1) == (date(2024, 2, 28), False)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.yaml").write_text(
        "rules:\n  - {id: nhuan, title: N, lead: van-phong, due: {on: 2024-02-29}}\n",
        encoding="utf-8",
    )
    report = roll_over_dir(src, tmp_path / "out", 2024, 2025)
    cfg = load_config(REPO / "config", tmp_path / "out")
    # 28/2/2025 is a Friday.
    assert due_of(cfg, "nhuan-2025", 2025) == [date(2025, 2, 28)]
    assert any("29/02/2024" in m for _, _, m in report.notes)


def test_new_ids():
    assert new_id("bao-cao-2022", 2022, 2023) == "bao-cao-2023"
    assert new_id("bao-cao", 2022, 2023) == "bao-cao-2023"


def test_rollover_refuses_to_lose_data(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.yaml").write_text(
        "rules:\n  - {id: x, title: X, lead: van-phong, due: {end_of: 2022}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.yaml").write_text("giữ nguyên\n", encoding="utf-8")
    with pytest.raises(InputError, match="exists"):
        roll_over_dir(src, out, 2022, 2023)
    assert (out / "a.yaml").read_text(encoding="utf-8") == "giữ nguyên\n"
    with pytest.raises(InputError, match="both 2022"):
        roll_over_dir(src, out, 2022, 2022)
    with pytest.raises(InputError, match="rules directory itself"):
        roll_over_dir(src, src, 2022, 2023)


# ---------------------------------------------------------------- replaced documents
def rule(basis: str, due) -> Rule:
    return Rule("r", "t", "van-phong", due, basis=basis, file="rules/a.yaml", line=3)


def test_the_shipped_data_has_sources_and_dates():
    table = {r.replaced: r for r in replacements()}
    assert table["61/2018/NĐ-CP"].effective == date(2025, 7, 1)
    assert table["107/2021/NĐ-CP"].by == "118/2025/NĐ-CP"
    assert table["01/2020/TT-VPCP"].effective == date(2026, 2, 15)
    assert all(r.source for r in table.values())


@pytest.mark.parametrize(
    ("basis", "due", "warned"),
    [
        # NĐ 61/2018 was in force until 30/06/2025: 2025 never warns, 2026 does.
        ("Nghị định 61/2018/NĐ-CP", EndOf(parse_period("2025")), False),
        ("Nghị định 61/2018/NĐ-CP", EndOf(parse_period("2026")), True),
        ("Nghị định số 107/2021/NĐ-CP", On(date(2026, 1, 5)), True),
        # TT 01/2020 was in force until 14/02/2026: 2026 never warns, 2027 does.
        ("Thông tư 01/2020/TT-VPCP", Before(date(2026, 12, 1)), False),
        ("Thông tư 01/2020/TT-VPCP", EndOf(parse_period("2027-Q1")), True),
        # A quarterly rule with no end runs into the years after the replacement.
        ("Thông tư 01/2020/TT-VPCP", Every("quarter", 18, 3, date(2022, 1, 1), None), True),
        (
            "Thông tư 01/2020/TT-VPCP",
            Every("quarter", 18, 3, date(2022, 1, 1), date(2022, 12, 31)),
            False,
        ),
        # Event-driven rules have no year of their own.
        (
            "Nghị định 61/2018/NĐ-CP",
            After("publication", parse_span("30 days")),
            False,
        ),
        # A date is not a document: "ngày 21/01/2020" does not cite 01/2020.
        ("Quyết định 5/QĐ-UBND ngày 21/01/2020", EndOf(parse_period("2027")), False),
        # Another kind of document with the same number and year.
        ("Nghị định 01/2020/NĐ-CP", EndOf(parse_period("2027")), False),
    ],
)
def test_replaced_citations(basis, due, warned):
    assert bool(replaced_citations([rule(basis, due)])) is warned


def test_citation_names_the_first_year_after_the_replacement():
    rep = Replacement(
        "61/2018/NĐ-CP", "Nghị định", "118/2025/NĐ-CP", "Nghị định", date(2025, 7, 1), "s"
    )
    [c] = replaced_citations(
        [rule("61/2018/NĐ-CP", Every("month", 1, 1, date(2024, 1, 1), date(2027, 1, 1)))], [rep]
    )
    assert c.year == 2026


# ---------------------------------------------------------------- diff
def test_diff_pairs_appear_disappear_move(cal):
    old = [
        Rule("a-2022", "A", "van-phong", EndOf(parse_period("2022-Q1"))),
        Rule("b", "B", "van-phong", On(date(2022, 5, 4))),
        Rule("c", "C", "van-phong", On(date(2022, 6, 1))),
    ]
    new = [
        Rule("a-2023", "A", "van-phong", EndOf(parse_period("2023-Q1"))),
        Rule("b", "B", "van-phong", On(date(2022, 5, 4))),
        Rule("d", "D", "van-phong", On(date(2022, 7, 1))),
    ]
    start, end = date(2022, 1, 1), date(2023, 12, 31)
    changes = diff_occurrences(plan(old, cal, start, end), plan(new, cal, start, end))
    kinds = {((c.old or c.new).rule.id, c.kind) for c in changes}
    assert kinds == {("a-2022", MOVES), ("b", SAME), ("c", DISAPPEARS), ("d", APPEARS)}
    [moved] = [c for c in changes if c.kind == MOVES]
    # Quarter I: Thursday 31/3/2022 → Friday 31/3/2023.
    assert (moved.old.due, moved.new.due) == (date(2022, 3, 31), date(2023, 3, 31))
