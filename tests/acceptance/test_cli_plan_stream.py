"""``plan --format json|jsonl`` written row by row (issue 13): the same bytes as one
``json.dumps`` of the whole list, JSON lines with the same objects, whole files only."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from engine.report import STREAM_BATCH, write_json_array, write_json_lines

REPO = Path(__file__).resolve().parents[2]
PLAN_2022 = ["plan", "--from", "2022-01-01", "--to", "2022-12-31", "--no-store"]
EVENTS = ["--events", str(REPO / "tests" / "golden" / "events-2022.yaml")]


def hanchot(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"
    }
    env["HANCHOT_LANG"] = "en"
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def test_json_is_byte_for_byte_one_dumps_of_the_list():
    r = hanchot(*PLAN_2022, "--format", "json", *EVENTS)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) > 40
    assert r.stdout == json.dumps(rows, ensure_ascii=False, indent=2) + "\n"


def test_jsonl_has_the_same_objects_one_per_line():
    j = hanchot(*PLAN_2022, "--format", "json", *EVENTS)
    lines = hanchot(*PLAN_2022, "--format", "jsonl", *EVENTS)
    assert lines.returncode == 0, lines.stderr
    assert lines.stdout.endswith("\n")
    got = [json.loads(line) for line in lines.stdout.splitlines()]
    assert got == json.loads(j.stdout)
    assert "Văn phòng Sở" in lines.stdout  # UTF-8, not \\u escapes


def test_empty_window():
    args = ["plan", "--from", "1999-01-01", "--to", "1999-01-31", "--no-store"]
    assert hanchot(*args, "--format", "json").stdout == "[]\n"
    assert hanchot(*args, "--format", "jsonl").stdout == ""


def test_output_file_is_whole_and_no_temporary_file_is_left(tmp_path):
    out = tmp_path / "plan.jsonl"
    r = hanchot(*PLAN_2022, "--format", "jsonl", *EVENTS, "--output", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert [json.loads(line)["rule"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.jsonl"]


def test_output_in_a_missing_directory_is_one_line_naming_the_file(tmp_path):
    out = tmp_path / "no-such-dir" / "plan.json"
    r = hanchot(*PLAN_2022, "--format", "json", "--output", str(out))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and str(out) in r.stderr
    assert not (tmp_path / "no-such-dir").exists()


def test_unknown_format_lists_jsonl():
    r = hanchot(*PLAN_2022, "--format", "xml")
    assert r.returncode == 2
    assert "jsonl" in r.stderr


class Recorder(io.StringIO):
    """A text stream that remembers how much had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[int] = []

    def flush(self) -> None:
        self.flushed_at.append(len(self.getvalue()))


def rows_watching(out: Recorder, n: int, seen: list[int]):
    for i in range(n):
        seen.append(len(out.getvalue()))  # what was out before row i was made
        yield {"rule": f"r-{i}", "title": "Báo cáo\nquý", "explain": [{"step": "x"}]}


def test_json_array_is_written_before_the_last_row_is_made():
    out = Recorder()
    seen: list[int] = []
    n = 3 * STREAM_BATCH + 7
    write_json_array(rows_watching(out, n, seen), out)
    assert seen[0] == 0 and seen[-1] > 0  # the first batches were out already
    assert len(out.flushed_at) == 4
    expected = [
        {"rule": f"r-{i}", "title": "Báo cáo\nquý", "explain": [{"step": "x"}]} for i in range(n)
    ]
    assert out.getvalue() == json.dumps(expected, ensure_ascii=False, indent=2) + "\n"


def test_json_lines_are_written_before_the_last_row_is_made():
    out = Recorder()
    seen: list[int] = []
    write_json_lines(rows_watching(out, 2 * STREAM_BATCH + 1, seen), out)
    assert seen[-1] > 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 * STREAM_BATCH + 1
    assert json.loads(lines[0]) == {
        "rule": "r-0",
        "title": "Báo cáo\nquý",
        "explain": [{"step": "x"}],
    }


def test_json_array_matches_dumps_for_every_json_type():
    rows = [
        {
            "s": 'Báo "cáo"\t\\ \u2028 \x1b',
            "n": None,
            "t": True,
            "f": False,
            "i": -3,
            "x": 0.1,
            "empty_list": [],
            "empty_dict": {},
            "nested": [{"a": [1, {"b": []}]}, "c"],
        },
        {},
    ]
    out = io.StringIO()
    write_json_array(iter(rows), out)
    assert out.getvalue() == json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
