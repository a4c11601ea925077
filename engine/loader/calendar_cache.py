"""A per-year cache on disk of the computed Vietnamese calendar (issue 13).

Computing a year with the ``holidays`` package costs ~45 ms (and importing it ~50 ms),
which dominated every short command. The core's :class:`WorkingCalendar` takes a
``source(year) -> YearData``; this module wraps :func:`engine.core.calendar.vietnam_year`
with a cache read and written here, at the loader edge, so the core stays pure.

- One JSON file per year, ``<data dir>/cache/calendar/<year>.json``; the data
  directory is ``var/`` beside the configuration directory (where
  ``settings.database`` and ``mail_dir`` live by default). It is used only when it
  exists: no command creates ``var/`` just for the cache.
- Each file carries a key: a format number, the ``holidays`` version, and a hash of
  the calendar code and shipped corrections (``engine/core/calendar.py``,
  ``engine/core/calendar_corrections.py``) and of the local ``calendar.yaml``
  entries. A file whose key differs — another version, a corrupt or foreign file —
  is ignored and rewritten; reading or writing the cache never fails a command.
- Files are written atomically (a temporary file in the same directory, then
  ``os.replace``), mode 0600 in 0700 directories, like the database. Deleting the
  directory is always safe.
"""

from __future__ import annotations

import importlib.util
import json
import os
from _blake2 import blake2b  # hashlib would load OpenSSL: ~7 ms of start-up
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from engine.core.calendar import (
    DayEntry,
    HolidaySource,
    YearData,
    package_names_en,
    vietnam_year,
)
from engine.files import write_private

#: Bump when the file layout or the meaning of its fields changes.
FORMAT = 1

_CORE = Path(__file__).resolve().parents[1] / "core"


def data_dir(config_dir: Path | str) -> Path:
    """``var/`` beside the configuration directory: the default home of the database."""
    return Path(os.path.abspath(config_dir)).parent / "var"


def cache_dir(config_dir: Path | str) -> Path:
    """Where the calendar cache of the deployment of ``config_dir`` lives."""
    return data_dir(config_dir) / "cache" / "calendar"


def holidays_version() -> str:
    """The installed ``holidays`` version, read without importing the package."""
    spec = importlib.util.find_spec("holidays")
    if spec is not None and spec.origin:
        pkg = Path(spec.origin).parent
        for entry in os.listdir(pkg.parent):
            if not (entry.startswith("holidays-") and entry.endswith(".dist-info")):
                continue
            name = entry[len("holidays-") : -len(".dist-info")]
            try:
                st = (pkg / "countries" / "vietnam.py").stat()
            except OSError:
                return name
            # An editable or patched install keeps its version number: the file's
            # size and time tell a change apart.
            return f"{name}/{st.st_size}/{st.st_mtime_ns}"
    from importlib.metadata import version

    return version("holidays")


def cache_key(
    extra_days_off: Mapping[date, str] | None = None,
    extra_working_days: Mapping[date, str] | None = None,
) -> str:
    """The key a cache file must carry to be used (see the module docstring)."""
    h = blake2b(digest_size=32)
    h.update(f"format {FORMAT}\nholidays {holidays_version()}\n".encode())
    for name in ("calendar.py", "calendar_corrections.py"):
        h.update((_CORE / name).read_bytes())
    for label, extras in (("off", extra_days_off), ("work", extra_working_days)):
        for d, reason in sorted((extras or {}).items()):
            h.update(f"{label} {d.isoformat()} {reason}\n".encode())
    return h.hexdigest()


def _encode(year: int, key: str, data: YearData) -> str:
    return json.dumps(
        {
            "hanchot_calendar_cache": FORMAT,
            "key": key,
            "year": year,
            "days_off": {d.isoformat(): n for d, n in data.days_off.items()},
            "make_up": {d.isoformat(): n for d, n in data.make_up.items()},
            "entries": [
                [
                    e.date.isoformat(),
                    e.working,
                    e.name,
                    e.source,
                    e.document,
                    e.estimated,
                    e.status,
                    e.note,
                ]
                for e in data.entries.values()
            ],
        },
        ensure_ascii=False,
    )


def _decode(text: str, year: int, key: str) -> YearData | None:
    """The year in ``text``, or None when it is not a valid file of this key and year."""
    try:
        raw = json.loads(text)
        if (
            not isinstance(raw, dict)
            or raw.get("hanchot_calendar_cache") != FORMAT
            or raw.get("key") != key
            or raw.get("year") != year
        ):
            return None
        days_off = {date.fromisoformat(d): str(n) for d, n in raw["days_off"].items()}
        make_up = {date.fromisoformat(d): str(n) for d, n in raw["make_up"].items()}
        entries = {}
        for d, working, name, source, document, estimated, status, note in raw["entries"]:
            day = date.fromisoformat(d)
            entries[day] = DayEntry(
                day,
                bool(working),
                str(name),
                str(source),
                str(document),
                bool(estimated),
                str(status),
                str(note),
            )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if any(d.year != year for d in (*days_off, *make_up, *entries)):
        return None
    return YearData(days_off, make_up, entries)


def _write(path: Path, text: str) -> None:
    write_private(path, text)


def cached_source(
    directory: Path | None, key: str, compute: HolidaySource = vietnam_year
) -> HolidaySource:
    """``compute`` with each year read from, or else written to, ``directory``.

    ``directory`` None: no cache (``compute`` itself). Any fault of the cache (a
    missing, corrupt, foreign or unreadable file, a read-only or full disk) falls
    back to computing the year; nothing is raised for it.
    """
    if directory is None:
        return compute

    def source(year: int) -> YearData:
        path = directory / f"{year}.json"
        try:
            data = _decode(path.read_text(encoding="utf-8"), year, key)
        except (OSError, UnicodeDecodeError):
            data = None
        if data is not None:
            return data
        data = compute(year)
        try:
            _write(path, _encode(year, key, data))
        except OSError:
            pass  # a cache we cannot write is only slower
        return data

    return source


def calendar_source(
    config_dir: Path | str | None,
    extra_days_off: Mapping[date, str] | None = None,
    extra_working_days: Mapping[date, str] | None = None,
) -> HolidaySource:
    """The year source for the deployment of ``config_dir``: cached under its data
    directory when that exists, the plain computation otherwise.

    The data directory is not created here: reading commands (``due``, ``check``,
    ``plan``, ``status``) never create ``var/`` (a wrong ``--config`` or current
    directory must leave nothing behind). ``hanchot run`` and ``event add`` create it
    with the SQLite database or the mail directory; elsewhere ``mkdir -m 700 var``.
    """
    if config_dir is None or not data_dir(config_dir).is_dir():
        return vietnam_year
    try:
        key = cache_key(extra_days_off, extra_working_days)
    except OSError:
        return vietnam_year
    return cached_source(cache_dir(config_dir), key)


#: The holidays' English names for a calendar whose years come from the cache: the
#: core gives them only to a calendar computed by :func:`vietnam_year` itself, and the
#: cache keeps the Vietnamese names. Looked up (importing ``holidays``) only when a
#: message in English names a holiday.
names_en = package_names_en
