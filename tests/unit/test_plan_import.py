"""import-plan's pure parts: unit matching, the task table, drafting, .docx round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.plan_phrases import EXACT, INFERRED, TODO
from engine.core.unit_match import UnitMatcher, unit_key
from engine.core.units import Directory, UnitInfo
from engine.errors import InputError
from engine.planimport.draft import draft_rules, extract_basis, render_file, shorten
from engine.planimport.table import RawRow, parse_table, read_rows, text_rows

FIXTURE = Path(__file__).parents[1] / "fixtures" / "plan-excerpt-2022.txt"


def directory(aliases=None) -> Directory:
    units = {
        "van-phong": UnitInfo("van-phong", "Văn phòng Sở", ()),
        "thanh-tra": UnitInfo("thanh-tra", "Thanh tra Sở (Pháp chế)", ()),
        "qltm-xnk": UnitInfo("qltm-xnk", "Phòng Quản lý Thương mại - Xuất nhập khẩu", ()),
        "qlcn": UnitInfo("qlcn", "Phòng Quản lý Công nghiệp", ()),
        "hoi-dong-cchc": UnitInfo("hoi-dong-cchc", "Hội đồng Cải cách hành chính của Sở", ()),
    }
    groups = {
        "phong-chuyen-mon": ("qltm-xnk", "qlcn"),
        "dau-moi-kiem-soat-tthc": ("van-phong", "thanh-tra"),
    }
    return Directory(units, groups, {}, aliases or {})


# ---------------------------------------------------------------- units
def test_unit_key_folds_diacritics_and_filler_words():
    assert unit_key("Văn phòng Sở") == unit_key("VP") == "van phong"
    assert unit_key("Thanh tra Sở (Pháp chế)") == "thanh tra"
    assert unit_key("Các phòng chuyên môn có liên quan") == unit_key("phong-chuyen-mon")


@pytest.mark.parametrize(
    ("cell", "ids", "sure"),
    [
        ("Văn phòng Sở", ("van-phong",), EXACT),
        ("VP", ("van-phong",), EXACT),
        ("Thanh tra Sở", ("thanh-tra",), EXACT),
        ("QLTM-XNK", ("qltm-xnk",), EXACT),
        ("Phòng Quản lý Thương mại – Xuất nhập khẩu", ("qltm-xnk",), EXACT),
        ("Các phòng chuyên môn có liên quan", ("phong-chuyen-mon",), EXACT),
        ("Hội đồng CCHC của Sở", ("hoi-dong-cchc",), EXACT),
        ("Văn phòng Sở, Thanh tra Sở", ("van-phong", "thanh-tra"), EXACT),
        (
            "Văn phòng Sở thực hiện theo hướng dẫn của VP UBND tỉnh",
            ("van-phong",),
            INFERRED,
        ),
    ],
)
def test_cells_match_units_and_groups(cell, ids, sure):
    m = UnitMatcher(directory()).match(cell)
    assert (m.ids, m.certainty) == (ids, sure)


def test_several_lead_units_become_the_group_that_has_exactly_them():
    matcher = UnitMatcher(directory())
    m = matcher.as_lead(matcher.match("Văn phòng Sở, Thanh tra Sở"))
    assert (m.ids, m.certainty) == (("dau-moi-kiem-soat-tthc",), INFERRED)


def test_several_lead_units_without_such_a_group_are_a_todo():
    matcher = UnitMatcher(directory())
    m = matcher.as_lead(matcher.match("Thanh tra Sở, Phòng Quản lý Công nghiệp"))
    assert m.certainty == TODO and m.ids == ()


def test_unknown_unit_lists_the_closest_candidates():
    m = UnitMatcher(directory()).match("Phòng Quản lý Công ngiệp và Văn phòng Sở")
    assert m.ids == ("van-phong",) and m.certainty == TODO
    [(words, candidates)] = m.unknown
    assert words == "Phòng Quản lý Công ngiệp" and candidates[0] == "qlcn"


def test_an_alias_teaches_a_name():
    cell = "Các phòng tham mưu soạn thảo VBQPPL có chứa TTHC"
    assert UnitMatcher(directory()).match(cell).certainty == TODO
    taught = UnitMatcher(directory({"phong-chuyen-mon": (cell,)})).match(cell)
    assert (taught.ids, taught.certainty) == (("phong-chuyen-mon",), EXACT)


# ---------------------------------------------------------------- the table
def test_the_excerpt_table_rows_sections_and_continuations():
    table = parse_table(read_rows(FIXTURE))
    assert [r.stt for r in table.rows] == ["1", "2", "3", "7", "11", "17", "18", "19", "29"]
    assert [s.label for s in table.sections] == ["I", "II", "II", "IV", "VIII"]
    assert [s.number for s in table.sections] == [1, 2, 3, 4, 5]
    assert table.missing == []
    assert any("numbered II again" in n for n in table.notes)
    rows = {r.stt: r for r in table.rows}
    # Item 2 runs over a page break: the continuation row is joined, not a new item.
    assert "trình Chủ tịch UBND tỉnh ban hành theo quy định" in rows["2"].text("content")
    # Item 17's "Các phòng" + "chuyên môn có liên quan" on the next page.
    assert rows["17"].text("coordinating") == "Các phòng chuyên môn có liên quan"
    # HTML inside cells becomes lines; the tags are gone.
    assert "<p>" not in rows["19"].text("content") and "\n" in rows["19"].text("content")
    # Phụ lục 2 (another table, no Thời gian column) is not read as tasks.
    assert all(r.section is not None for r in table.rows)


def test_a_missing_column_is_reported_not_guessed():
    rows = [
        RawRow(1, ("STT", "Nội dung công việc", "Thời gian thực hiện", "Đơn vị chủ trì")),
        RawRow(2, ("1.", "Báo cáo", "Quý I/2022", "Văn phòng Sở")),
    ]
    table = parse_table(rows)
    assert table.missing == ["(Đơn vị|Cơ quan) phối hợp", "Kết quả|Sản phẩm"]
    assert table.rows[0].text("output") == ""


def test_columns_in_another_order_with_other_header_words():
    rows = list(
        text_rows(
            "TT\tThời gian hoàn thành\tCơ quan chủ trì\tNội dung\tSản phẩm\tCơ quan phối hợp\n"
            "1\tQuý II/2022\tThanh tra Sở\tRà soát\tBáo cáo\tVăn phòng Sở\n"
        )
    )
    table = parse_table(rows)
    r = table.rows[0]
    assert (r.text("timing"), r.text("lead"), r.text("content")) == (
        "Quý II/2022",
        "Thanh tra Sở",
        "Rà soát",
    )
    assert r.text("coordinating") == "Văn phòng Sở" and r.text("output") == "Báo cáo"


def test_no_task_table_is_an_input_error():
    with pytest.raises(InputError, match="no task table"):
        parse_table(text_rows("Kế hoạch\nkhông có bảng\n"))


# ---------------------------------------------------------------- drafting
def test_drafts_of_the_excerpt():
    result = draft_rules(parse_table(read_rows(FIXTURE)), directory(), source="excerpt.txt")
    assert result.year == 2022  # read from the Thời gian cells
    by_item: dict[str, list] = {}
    for d in result.drafts:
        by_item.setdefault(d.row.stt, []).append(d.rule)
    assert sorted(h.row.stt for h in result.headings) == ["18", "3"]
    assert by_item["7"][0]["due"] == {"end_of": "2022-Q1"}
    # Item 19: "trước ngày 30/7/2022" in Kết quả wins over "Trong năm 2022".
    assert by_item["19"][0]["due"] == {"before": "2022-07-30"}
    assert by_item["19"][0]["lead"] == "phong-chuyen-mon"
    # Item 11: two "trong thời hạn N ngày kể từ ngày công bố" → two event rules.
    assert [r["due"] for r in by_item["11"]] == [
        {"after": "publication", "in": "30 days"},
        {"after": "publication", "in": "15 days"},
    ]
    assert by_item["29"][0]["coordinating"] == ["hoi-dong-cchc"]
    # Item 1's lead is unknown without an alias: a TODO naming the cell, never dropped.
    assert by_item["1"][0]["lead"].startswith("TODO: unknown unit 'Các phòng tham mưu")
    r7 = by_item["7"][0]
    assert r7["basis"] == "Nghị định 61/2018/NĐ-CP; Nghị định 107/2021/NĐ-CP"
    assert r7["plan_item"] == "7" and r7["details"].startswith("Phối hợp với Sở Thông tin")
    assert r7["id"].endswith("-2022")


def test_rendered_drafts_carry_the_source_line_and_phrase():
    result = draft_rules(parse_table(read_rows(FIXTURE)), directory(), source="excerpt.txt")
    text = render_file(result, [d for d in result.drafts if d.row.stt == "7"])
    assert "# Mục 7 — excerpt.txt:" in text
    assert "hạn ← Thời gian 'Quý I/2022' → {end_of: 2022-Q1} (exact)" in text


def test_no_year_anywhere_needs_year():
    rows = [
        RawRow(1, ("STT", "Nội dung", "Thời gian thực hiện", "Đơn vị chủ trì")),
        RawRow(2, ("1.", "Báo cáo", "Định kỳ hằng quý", "Văn phòng Sở")),
    ]
    with pytest.raises(InputError, match="--year"):
        draft_rules(parse_table(rows), directory())
    result = draft_rules(parse_table(rows), directory(), year=2023)
    assert result.drafts[0].rule["due"]["from"] == "2023-01-01"


def test_shorten_and_basis():
    long = "Rà soát " + "thủ tục hành chính " * 20
    assert len(shorten(long)) <= 150 and shorten(long).endswith("…")
    assert shorten("- Tổ chức họp. Lập biên bản.") == "Tổ chức họp"
    assert extract_basis("theo Thông tư số 02/2017/TT-VPCP và Kế hoạch số 5283/KH-UBND") == (
        "Thông tư 02/2017/TT-VPCP; Kế hoạch 5283/KH-UBND"
    )


# ---------------------------------------------------------------- .docx
def _docx_of_excerpt(path: Path) -> None:
    """A .docx of items 7, 17 (page-split row) and 19 with merged section cells."""
    docx = pytest.importorskip("docx")  # a hanchot dependency: always installed

    header = [
        "STT",
        "Nội dung công việc",
        "Thời gian thực hiện",
        "Đơn vị Chủ trì",
        "Đơn vị phối hợp",
        "Kết quả",
    ]
    doc = docx.Document()
    doc.add_paragraph("PHỤ LỤC 1")
    rows = [
        header,
        ["II. Thực hiện cơ chế một cửa", None, None, None, None, None],
        [
            "7.",
            "Phối hợp với Sở Thông tin và Truyền thông xây dựng Quy chế hoạt động theo "
            "Nghị định số 61/2018/NĐ-CP",
            "Quý I/2022",
            "Văn phòng Sở",
            "",
            "Văn bản phối hợp.",
        ],
        [
            "17.",
            "Tổ chức đánh giá chất lượng giải quyết TTHC",
            "Trong năm 2022",
            "Văn phòng Sở",
            "Các phòng",
            "Kết quả đánh giá được công khai.",
        ],
        ["", "phục vụ theo dõi", "", "", "chuyên môn có liên quan", ""],
        ["IV. Rà soát, đánh giá TTHC", None, None, None, None, None],
        [
            "19.",
            "Tiến hành rà soát TTHC",
            "Trong năm 2022",
            "Các phòng chuyên môn có liên quan",
            "Thanh tra Sở",
            "Báo cáo gửi về Văn phòng UBND tỉnh trước ngày 30/7/2022.",
        ],
    ]
    table = doc.add_table(rows=len(rows), cols=6)
    for i, values in enumerate(rows):
        for j, v in enumerate(values):
            if v is not None:
                table.cell(i, j).text = v
        if values[1] is None:  # a section row: one cell across the table
            table.cell(i, 0).merge(table.cell(i, 5))
    # Item 19's lead cell merged down into an empty row below it: a vertical merge.
    extra = table.add_row()
    table.cell(6, 3).merge(extra.cells[3])
    doc.save(str(path))


def test_docx_round_trips_to_the_same_drafts_as_text(tmp_path):
    path = tmp_path / "plan.docx"
    _docx_of_excerpt(path)
    from_docx = draft_rules(parse_table(read_rows(path)), directory(), source="p")
    text = (
        "STT\tNội dung công việc\tThời gian thực hiện\tĐơn vị Chủ trì\tĐơn vị phối hợp\tKết quả\n"
        "II. Thực hiện cơ chế một cửa\t\t\t\t\t\n"
        "7.\tPhối hợp với Sở Thông tin và Truyền thông xây dựng Quy chế hoạt động theo "
        "Nghị định số 61/2018/NĐ-CP\tQuý I/2022\tVăn phòng Sở\t\tVăn bản phối hợp.\n"
        "17.\tTổ chức đánh giá chất lượng giải quyết TTHC\tTrong năm 2022\tVăn phòng Sở\t"
        "Các phòng\tKết quả đánh giá được công khai.\n"
        "\n"
        "STT\tNội dung công việc\tThời gian thực hiện\tĐơn vị Chủ trì\tĐơn vị phối hợp\tKết quả\n"
        "\tphục vụ theo dõi\t\t\tchuyên môn có liên quan\t\n"
        "IV. Rà soát, đánh giá TTHC\t\t\t\t\t\n"
        "19.\tTiến hành rà soát TTHC\tTrong năm 2022\tCác phòng chuyên môn có liên quan\t"
        "Thanh tra Sở\tBáo cáo gửi về Văn phòng UBND tỉnh trước ngày 30/7/2022.\n"
    )
    txt = tmp_path / "plan.txt"
    txt.write_text(text, encoding="utf-8")
    from_text = draft_rules(parse_table(read_rows(txt)), directory(), source="p")
    assert [d.rule for d in from_docx.drafts] == [d.rule for d in from_text.drafts]
    rules = {d.rule["plan_item"]: d.rule for d in from_docx.drafts}
    assert rules["17"]["coordinating"] == ["phong-chuyen-mon"]
    assert rules["19"]["due"] == {"before": "2022-07-30"}
    assert [s.title for s in parse_table(read_rows(path)).sections] == [
        "Thực hiện cơ chế một cửa",
        "Rà soát, đánh giá TTHC",
    ]


def test_a_broken_docx_is_an_input_error(tmp_path):
    bad = tmp_path / "plan.docx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable .docx"):
        read_rows(bad)


def test_a_dated_result_wins_over_a_quarter_cell():
    rows = [
        RawRow(1, ("STT", "Nội dung", "Thời gian thực hiện", "Đơn vị chủ trì", "Kết quả")),
        RawRow(2, ("1.", "Rà soát", "Quý III/2022", "Văn phòng Sở", "Gửi trước ngày 15/8/2022")),
    ]
    [d] = draft_rules(parse_table(rows), directory()).drafts
    assert d.rule["due"] == {"before": "2022-08-15"}
    assert any("Kết quả states" in c for c in d.comments)


def test_write_drafts_keeps_the_review_and_refuses_to_overwrite(tmp_path):
    import json

    from engine.planimport.draft import REVIEW_FILE, write_drafts

    result = draft_rules(parse_table(read_rows(FIXTURE)), directory(), source="excerpt.txt")
    paths = write_drafts(result, tmp_path / "out")
    review = json.loads((tmp_path / "out" / REVIEW_FILE).read_text(encoding="utf-8"))
    assert review["year"] == 2022 and len(review["files"]) == len(paths) == 5
    with pytest.raises(InputError, match="--force"):
        write_drafts(result, tmp_path / "out")
    assert write_drafts(result, tmp_path / "out", force=True) == paths


def test_a_sentence_split_by_a_page_break_is_joined_whole():
    from engine.planimport.table import clean_cell, join_split

    # Item 19 of the seed: "… ước tính chi</p>" + "<p>phí phải bỏ ra …".
    joined = join_split("<p>- để ước tính chi</p>", "<p>phí phải bỏ ra.</p>")
    assert clean_cell(joined) == "- để ước tính chi phí phải bỏ ra."
    # Item 25: an open list item, then "<p>thông và …".
    joined = join_split("<ul><li>- nhằm tăng cường truyền ", "<p>thông và tạo điều kiện</p>")
    assert clean_cell(joined) == "- nhằm tăng cường truyền thông và tạo điều kiện"
    # A finished sentence, then a new paragraph: kept apart.
    joined = join_split("<p>Xong.</p>", "<p>- Bố trí cán bộ</p>")
    assert clean_cell(joined) == "Xong.\n- Bố trí cán bộ"
