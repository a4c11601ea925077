"""``read_events``: events from YAML and CSV files, with ``file:line`` errors."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.rules import Event
from engine.errors import ConfigError, Problem
from engine.loader.events import read_events


def test_yaml_events(tmp_path):
    p = tmp_path / "ev.yaml"
    p.write_text(
        "events:\n"
        "  - {type: publication, id: qd-0425, date: 2022-03-11}\n"
        "  - {type: publication, id: qd-1102, date: 19/08/2022, delegated: true, so: 1102}\n",
        encoding="utf-8",
    )
    assert read_events(p) == [
        Event("publication", "qd-0425", date(2022, 3, 11), {}),
        Event("publication", "qd-1102", date(2022, 8, 19), {"delegated": "true", "so": "1102"}),
    ]


def test_csv_events_with_bom_and_empty_attribute_cells(tmp_path):
    p = tmp_path / "ev.csv"
    p.write_bytes(
        "type,id,date,delegated,ghi_chu\n"
        "publication,qd-0425,2022-03-11,,\n"
        "\n"
        'publication,qd-1102,2022-08-19,true,"Quyết định, ủy quyền"\n'.encode("utf-8-sig")
    )
    assert read_events(p) == [
        Event("publication", "qd-0425", date(2022, 3, 11), {}),
        Event(
            "publication",
            "qd-1102",
            date(2022, 8, 19),
            {"delegated": "true", "ghi_chu": "Quyết định, ủy quyền"},
        ),
    ]


def test_csv_errors_all_at_once(tmp_path):
    p = tmp_path / "ev.csv"
    p.write_text(
        "type,id,date\n"
        "publication,a,2022-02-30\n"
        "publication,b,2022-03-01\n"
        "publication,b,2022-03-02\n"
        "publication,c\n"
        "Bad Type,d,2022-01-01\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        read_events(p)
    name = str(p)
    assert info.value.problems == [
        Problem(name, 2, "'2022-02-30' is not a date: 02/2022 has 28 days"),
        Problem(name, 4, "duplicate event publication 'b' (first at line 3)"),
        Problem(name, 5, "row has 2 cells; the header has 3"),
        Problem(name, 6, "event type 'Bad Type' may contain only a-z, 0-9, '-' and '_'"),
    ]


def test_csv_missing_column(tmp_path):
    p = tmp_path / "ev.csv"
    p.write_text("type,id,ngay\npublication,a,2022-01-01\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_events(p)
    assert info.value.problems == [
        Problem(
            str(p),
            1,
            "missing column 'date'; the header is type,id,date then attribute columns",
        )
    ]


def test_yaml_errors(tmp_path):
    p = tmp_path / "ev.yaml"
    p.write_text(
        "events:\n"
        "  - {type: publication, id: a}\n"
        "  - type: publication\n"
        "    id: b\n"
        "    date: 2022-13-01\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        read_events(p)
    assert [(x.line, x.message[:20]) for x in info.value.problems] == [
        (2, "event has no date"),
        (5, "'2022-13-01' is not "),
    ]


def test_unknown_extension(tmp_path):
    p = tmp_path / "ev.txt"
    p.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="an events file is .yaml, .yml or .csv"):
        read_events(p)


# ------------------------------------------------------------------ issue 12.1, 12.7, 7.11
def _rules(*dues: str):
    """Core rules built by the real loader from ``due:`` texts (ids r1, r2...)."""
    from engine.core.rules import After, Rule
    from engine.core.spans import parse_span

    out = []
    for i, (etype, span, when) in enumerate(dues, 1):
        out.append(Rule(f"r{i}", "Việc", "van-phong", After(etype, parse_span(span), when)))
    return out


PUB_RULES = [
    ("publication", "30 days", (("delegated", False),)),
    ("publication", "15 days", (("delegated", True),)),
    ("training-call", "5 working days", ()),
]


def test_csv_header_injection_ids_are_refused_with_their_line(tmp_path):
    # Issue 12.1, exactly: an id with CR/LF adds a Bcc header to the reminder.
    p = tmp_path / "events.csv"
    p.write_bytes(
        b"type,id,date\r\n"
        b"publication,qd-0425,2022-03-11\r\n"
        b'publication,"qd-1\r\nBcc: evil@attacker.test",2022-03-11\r\n'
        b"publication,[/],2022-03-11\r\n"
    )
    with pytest.raises(ConfigError) as info:
        read_events(p)
    assert [(x.line, x.message.split(" may ")[0]) for x in info.value.problems] == [
        (3, "event id 'qd-1\\r\\nBcc: evil@attacker.test'"),
        (5, "event id '[/]'"),
    ]


def test_yaml_header_injection_ids_and_bad_attributes_are_refused(tmp_path):
    p = tmp_path / "events.yaml"
    p.write_text(
        "events:\n"
        '  - {type: publication, id: "qd-1\\r\\nBcc: evil@attacker.test", date: 2022-03-11}\n'
        "  - type: publication\n"
        "    id: qd-2\n"
        "    date: 2022-03-11\n"
        '    "Bcc: x": y\n'
        '    ghi_chu: "a\\nb"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        read_events(p)
    assert [(x.line, x.message.split(" may ")[0][:45]) for x in info.value.problems] == [
        (2, "event id 'qd-1\\r\\nBcc: evil@attacker.test'"),
        (6, "attribute name 'Bcc: x'"),
        (7, "attribute ghi_chu contains a line break ('\\n'"),
    ]


def test_csv_bad_attribute_name_in_the_header_is_reported_once(tmp_path):
    p = tmp_path / "events.csv"
    p.write_text("type,id,date,Đã ủy quyền\npublication,a,2022-03-11,true\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_events(p)
    assert [(x.line, x.message[:30]) for x in info.value.problems] == [
        (1, "attribute name 'Đã ủy quyền' m")
    ]


@pytest.mark.parametrize("value", ["maybe", "yes", "1"])
def test_attribute_a_rule_compares_must_parse_as_its_type(tmp_path, value):
    # Issue 12.7: `delegated=maybe` imported with "0 hạn mới"; `yes` and `1` were
    # taken as booleans. Only true/false are.
    p = tmp_path / "events.csv"
    p.write_text(
        "type,id,date,delegated\n"
        "publication,qd-0425,2022-03-11,\n"
        f"publication,qd-1102,2022-08-19,{value}\n"
        "publication,qd-1103,2022-08-19,TRUE\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        read_events(p, _rules(*PUB_RULES))
    assert info.value.problems == [
        Problem(
            str(p),
            3,
            f"attribute delegated={value!r} must be true or false: rule r1 compares it with "
            "'false'",
        )
    ]
    # Without rules (no types known) the same file reads.
    assert len(read_events(p)) == 3


def test_yaml_attribute_line_is_the_attributes_own(tmp_path):
    p = tmp_path / "events.yaml"
    p.write_text(
        "events:\n  - type: publication\n    id: qd-1\n    date: 2022-03-11\n    delegated: yes\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        read_events(p, _rules(*PUB_RULES))
    assert [(x.line, x.message[:32]) for x in info.value.problems] == [
        (5, "attribute delegated='yes' must b")
    ]


def test_event_type_no_rule_uses_is_an_error_with_a_suggestion(tmp_path):
    # Issue 7.11: `event add publicaton …` succeeded silently with 0 new deadlines.
    p = tmp_path / "events.csv"
    p.write_text("type,id,date\npublicaton,qd-0425,2022-03-11\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_events(p, _rules(*PUB_RULES), allow_unused_type=False)
    assert info.value.problems == [
        Problem(
            str(p),
            2,
            "no rule starts from event type 'publicaton' (did you mean 'publication'?); "
            "the rules use: publication, training-call (--allow-unused-type records it anyway)",
        )
    ]
    (ev,) = read_events(p, _rules(*PUB_RULES), allow_unused_type=True)
    assert ev.type == "publicaton"


# ---------------------------------------------------------------- big files (issue 11)
def _big_csv(p, n: int, bad: dict[int, str] | None = None):
    """``n`` rows on lines 2..n+1; ``bad`` replaces the row of some lines."""
    bad = bad or {}
    lines = ["type,id,date,delegated"]
    for line in range(2, n + 2):
        lines.append(bad.get(line, f"publication,qd-{line},2022-03-{line % 28 + 1:02d},false"))
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_csv_is_read_as_a_stream_not_whole(tmp_path, monkeypatch):
    from pathlib import Path

    p = _big_csv(tmp_path / "ev.csv", 3000)

    def whole(*_a, **_k):
        raise AssertionError("the file was read whole")

    monkeypatch.setattr(Path, "read_bytes", whole)
    monkeypatch.setattr(Path, "read_text", whole)
    events = read_events(p, _rules(*PUB_RULES))
    assert len(events) == 3000
    assert events[-1] == Event("publication", "qd-3001", date(2022, 3, 6), {"delegated": "false"})


def test_csv_not_utf8_far_into_the_file_names_its_line(tmp_path):
    p = _big_csv(tmp_path / "ev.csv", 3000)
    raw = p.read_bytes().splitlines(keepends=True)
    raw[2500] = raw[2500].replace(b"false", b"\xc4\x90\xe3 false")  # "Đ" then a lone byte
    p.write_bytes(b"".join(raw))
    with pytest.raises(ConfigError) as info:
        read_events(p, _rules(*PUB_RULES))
    # Only that problem, as when the file was decoded whole before being parsed.
    assert info.value.problems == [Problem(str(p), 2501, "not UTF-8 text; save the file as UTF-8")]


def test_a_bad_value_repeated_is_reported_on_every_row(tmp_path):
    # The checks of repeated values are remembered for speed: only the accepted ones.
    p = _big_csv(
        tmp_path / "ev.csv",
        50,
        {
            3: "publication,qd-3,2022-03-01,maybe",
            4: "publicaton,qd-4,2022-03-01,false",
            7: "publication,qd-7,2022-03-01,maybe",
            9: "publicaton,qd-9,2022-03-01,false",
            11: "publication,qd-11,2022-02-30,false",
            12: "publication,qd-12,2022-02-30,false",
        },
    )
    with pytest.raises(ConfigError) as info:
        read_events(p, _rules(*PUB_RULES), allow_unused_type=False)
    assert [(x.line, x.message[:34]) for x in info.value.problems] == [
        (3, "attribute delegated='maybe' must b"),
        (4, "no rule starts from event type 'pu"),
        (7, "attribute delegated='maybe' must b"),
        (9, "no rule starts from event type 'pu"),
        (11, "'2022-02-30' is not a date: 02/202"),
        (12, "'2022-02-30' is not a date: 02/202"),
    ]


def test_read_events_reports_progress_by_line(tmp_path):
    from engine.loader.events import PROGRESS_EVERY

    p = _big_csv(tmp_path / "ev.csv", 2 * PROGRESS_EVERY + 10)
    seen: list[int] = []
    read_events(p, progress=seen.append)
    assert seen == [PROGRESS_EVERY + 1, 2 * PROGRESS_EVERY + 1, 2 * PROGRESS_EVERY + 11]


def test_csv_not_utf8_after_a_bad_header_is_still_that_one_problem(tmp_path):
    p = tmp_path / "ev.csv"
    p.write_bytes(b"type,id,ngay\n" + b"publication,qd-1,2022-03-01\n" * 5000 + b"x,\xff,y\n")
    with pytest.raises(ConfigError) as info:
        read_events(p)
    assert info.value.problems == [Problem(str(p), 5002, "not UTF-8 text; save the file as UTF-8")]


_CELLS = {
    "type": ["publication", "training-call", "publicaton", " publication", "Bad Type", ""],
    "id": ["qd-1", "qd-2", "QD/3.x", "qd 4", "a\u00e9", "x" * 201, " qd-5 ", ""],
    "date": ["2022-03-01", "2022-02-30", "1899-12-31", "2023-01-02", "01/03/2022", ""],
    "delegated": ["true", "false", "maybe", "", " true"],
    "ghi_chu": ["", "Quyết định số 1", "bad\x07bell"],
}


@given(
    rows=st.lists(
        st.tuples(*(st.sampled_from(v) for v in _CELLS.values())), min_size=1, max_size=40
    ),
    with_rules=st.booleans(),
    allow_unused=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_the_fast_row_path_reads_what_the_checks_read(
    tmp_path_factory, rows, with_rules, allow_unused
):
    """A CSV row whose every value was accepted before skips the checks
    (``_Builder.plain``): the events and the problems are those of checking every
    row (repeated values, bad ones repeated, duplicates, dates outside the calendar)."""
    import csv

    from engine.loader import events as le

    p = tmp_path_factory.mktemp("fast") / "ev.csv"
    with p.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(_CELLS))
        w.writerows(rows)
    rules = _rules(*PUB_RULES) if with_rules else None

    def outcome():
        try:
            return le.read_events(p, rules, allow_unused_type=allow_unused), None
        except ConfigError as e:
            return None, [(x.line, x.message) for x in e.problems]

    fast = outcome()
    real = le._Builder.plain
    le._Builder.plain = lambda self, *a: False
    try:
        slow = outcome()
    finally:
        le._Builder.plain = real
    assert fast == slow
