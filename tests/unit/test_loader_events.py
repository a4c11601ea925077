"""``read_events``: events from YAML and CSV files, with ``file:line`` errors."""

from __future__ import annotations

from datetime import date

import pytest

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
