"""The per-year calendar cache on disk (issue 13): used when valid, ignored and
rewritten when not, never an error, private files, keyed by what the year depends on."""

from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path

import pytest

from engine.core.calendar import WorkingCalendar, vietnam_year
from engine.loader import calendar_cache
from engine.loader.calendar_cache import cache_dir, cache_key, cached_source, calendar_source
from engine.loader.calendar_file import load_calendar


class Counting:
    """vietnam_year, counting the years it computes."""

    def __init__(self) -> None:
        self.years: list[int] = []

    def __call__(self, year: int):
        self.years.append(year)
        return vietnam_year(year)


def test_second_read_comes_from_the_file_and_is_equal(tmp_path):
    compute = Counting()
    key = cache_key()
    first = cached_source(tmp_path, key, compute)(2022)
    again = Counting()
    second = cached_source(tmp_path, key, again)(2022)
    assert compute.years == [2022]
    assert again.years == []  # read from 2022.json
    assert second == first == vietnam_year(2022)


def test_answers_are_the_same_with_and_without_the_cache(tmp_path):
    # 11/03/2022 + 30 days = Sun 10/04/2022, Giỗ Tổ Hùng Vương (10/3 âm lịch); its day
    # off in lieu is Mon 11/04 (Bộ luật Lao động 2019 Điều 112 khoản 3), so the period
    # ends on the next working day, Tue 12/04/2022 (BLDS 2015 Điều 148 khoản 5).
    # 30/04/2022 (Sat) and 01/05 (Sun) are off in lieu on Mon 02/05 and Tue 03/05
    # (Điều 112 khoản 3; the 2022 notice: off from 30/04 to 03/05), so the 2nd working
    # day after Fri 29/04/2022 is Thu 05/05 (Wed 04/05 is the 1st).
    key = cache_key()
    for _ in range(2):  # the first pass writes the files, the second reads them
        cal = WorkingCalendar(source=cached_source(tmp_path, key))
        assert cal.next_working_day(date(2022, 4, 10)) == date(2022, 4, 12)
        assert cal.add_working_days(date(2022, 4, 29), 2) == date(2022, 5, 5)
        assert cal.why_not_working(date(2022, 4, 11)).startswith("Ngày Giỗ Tổ Hùng Vương")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"\xff\xfe garbage",
        b"[]",
        b'{"hanchot_calendar_cache": 1, "key": "another", "year": 2022}',
        b'{"hanchot_calendar_cache": 999, "key": "K", "year": 2022}',
    ],
    ids=["empty", "truncated", "not-utf8", "list", "foreign-key", "newer-format"],
)
def test_corrupt_or_foreign_file_is_ignored_and_rewritten(tmp_path, content):
    key = cache_key()
    path = tmp_path / "2022.json"
    path.write_bytes(content.replace(b'"K"', json.dumps(key).encode()))
    compute = Counting()
    data = cached_source(tmp_path, key, compute)(2022)
    assert compute.years == [2022]
    assert data == vietnam_year(2022)
    assert json.loads(path.read_text(encoding="utf-8"))["key"] == key  # rewritten


def test_file_of_another_year_with_the_right_key_is_not_used(tmp_path):
    key = cache_key()
    cached_source(tmp_path, key)(2023)
    (tmp_path / "2023.json").replace(tmp_path / "2022.json")
    compute = Counting()
    data = cached_source(tmp_path, key, compute)(2022)
    assert compute.years == [2022] and data == vietnam_year(2022)


def test_entry_with_a_date_of_another_year_is_not_used(tmp_path):
    key = cache_key()
    cached_source(tmp_path, key)(2022)
    path = tmp_path / "2022.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["days_off"]["2031-01-01"] = "Tết Dương lịch"
    path.write_text(json.dumps(raw), encoding="utf-8")
    compute = Counting()
    assert cached_source(tmp_path, key, compute)(2022) == vietnam_year(2022)
    assert compute.years == [2022]


def test_unwritable_cache_is_only_slower(tmp_path):
    blocker = tmp_path / "var"
    blocker.write_text("a file where the cache directory should be")
    compute = Counting()
    source = cached_source(blocker / "cache" / "calendar", cache_key(), compute)
    assert source(2022) == vietnam_year(2022)
    assert source(2022) == vietnam_year(2022)
    assert compute.years == [2022, 2022]


def deployment(tmp_path: Path) -> Path:
    """A configuration directory with its data directory ``var/`` (as ``hanchot run``
    leaves it)."""
    config = tmp_path / "config"
    config.mkdir()
    (tmp_path / "var").mkdir(mode=0o700)
    return config


def test_files_are_private_and_no_temporary_file_is_left(tmp_path):
    config = deployment(tmp_path)
    cal = load_calendar(config)
    assert cal.is_working_day(date(2022, 7, 29))  # a Friday
    where = cache_dir(config)
    assert where == tmp_path / "var" / "cache" / "calendar"
    for d in (tmp_path / "var" / "cache", where):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    names = sorted(p.name for p in where.iterdir())
    assert names == ["2022.json"]  # only the year asked about
    for p in where.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600


def test_deleting_the_cache_is_safe(tmp_path):
    config = deployment(tmp_path)
    load_calendar(config).is_working_day(date(2022, 1, 3))
    for p in cache_dir(config).iterdir():
        p.unlink()
    cache_dir(config).rmdir()
    # Mon 31/01/2022 is Tết Nguyên Đán (29 tháng Chạp, Tết off 31/01–04/02/2022).
    assert not load_calendar(config).is_working_day(date(2022, 1, 31))


def test_no_configuration_directory_writes_nothing(tmp_path):
    missing = tmp_path / "config"
    assert calendar_source(missing) is vietnam_year
    assert not (tmp_path / "var").exists()


def test_no_data_directory_is_created_for_the_cache(tmp_path):
    # Reading commands never create var/ (tests/acceptance/test_cli_paths.py).
    config = tmp_path / "config"
    config.mkdir()
    assert calendar_source(config) is vietnam_year
    assert load_calendar(config).is_working_day(date(2022, 7, 29))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]


def test_key_follows_the_local_calendar_and_the_holidays_version(monkeypatch):
    base = cache_key()
    off = {date(2027, 2, 5): "Thông báo của UBND tỉnh"}
    assert cache_key(off, None) != base
    assert cache_key(None, off) != cache_key(off, None)  # a day off is not a working day
    assert cache_key(off, None) == cache_key(dict(off), {})
    monkeypatch.setattr(calendar_cache, "holidays_version", lambda: "0.999")
    assert cache_key() != base


def test_key_follows_the_shipped_corrections(monkeypatch, tmp_path):
    core = tmp_path / "core"
    core.mkdir()
    real = Path(calendar_cache.__file__).resolve().parents[1] / "core"
    for name in ("calendar.py", "calendar_corrections.py"):
        (core / name).write_bytes((real / name).read_bytes())
    monkeypatch.setattr(calendar_cache, "_CORE", core)
    base = cache_key()
    with (core / "calendar_corrections.py").open("a", encoding="utf-8") as f:
        f.write("\n# a new swap decision\n")
    assert cache_key() != base


def test_holidays_version_names_the_installed_release():
    import holidays

    assert calendar_cache.holidays_version().split("/")[0] == holidays.__version__


def test_a_changed_local_calendar_is_seen_at_once(tmp_path):
    config = deployment(tmp_path)
    # Fri 05/03/2027 is an ordinary working day (Vietnam has no public holiday in
    # March; Tết 2027 ends in February); the local entry makes it a day off.
    assert load_calendar(config).is_working_day(date(2027, 3, 5))
    (config / "calendar.yaml").write_text(
        "extra_days_off:\n  - {date: 2027-03-05, reason: Thông báo của UBND tỉnh}\n",
        encoding="utf-8",
    )
    cal = load_calendar(config)
    assert not cal.is_working_day(date(2027, 3, 5))
    assert cal.why_not_working(date(2027, 3, 5)) == "Thông báo của UBND tỉnh"


def test_only_the_years_a_question_touches_are_computed():
    compute = Counting()
    cal = WorkingCalendar(source=compute)
    # 11/03/2022 + 30 days: everything happens in 2022.
    assert cal.next_working_day(date(2022, 4, 10)) == date(2022, 4, 12)
    assert compute.years == [2022]
    assert cal.covered_years() == (2022, 2022)
    # Crossing into 2023 computes 2023 then: Fri 30/12/2022 + 1 working day. 31/12 and
    # 01/01 are a weekend, Mon 02/01/2023 is New Year's day off in lieu (Tết Dương
    # lịch on a Sunday), so the answer is Tue 03/01/2023.
    assert cal.add_working_days(date(2022, 12, 30), 1) == date(2023, 1, 3)
    assert 2023 in compute.years and 2021 not in compute.years
