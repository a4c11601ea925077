"""Events from a file: ``hanchot plan --events FILE`` and ``hanchot event import FILE``.

Two formats (UTF-8):

* YAML (``.yaml`` / ``.yml``)::

      events:
        - {type: publication, id: qd-0425, date: 2022-03-11}
        - {type: publication, id: qd-1102, date: 2022-08-19, delegated: true}

* CSV (``.csv``; a spreadsheet's BOM is accepted), header ``type,id,date`` then any
  attribute columns; an empty attribute cell means "not set"::

      type,id,date,delegated
      publication,qd-0425,2022-03-11,
      publication,qd-1102,2022-08-19,true

Every problem of the file is reported at once as ``file:line: message``
(:class:`~engine.errors.ConfigError`): a bad date, a missing column or value, a
duplicate (type, id).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from engine.core.calendar import FIRST_YEAR, LAST_YEAR
from engine.core.rules import Event
from engine.core.spans import parse_date
from engine.errors import ConfigError, InputError, Problem
from engine.i18n import _
from engine.loader.models import EVENT_TYPE_RE
from engine.loader.yamlio import line_of, load_yaml

REQUIRED = ("type", "id", "date")


def _attr_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


class _Builder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[Problem] = []
        self.events: list[Event] = []
        self.seen: dict[tuple[str, str], int | None] = {}

    def add(
        self,
        line: int | None,
        etype: Any,
        eid: Any,
        edate: Any,
        attrs: dict[str, str],
        lines: dict[str, int | None] | None = None,
    ) -> None:
        lines = lines or {}
        ok = True
        if not isinstance(etype, str) or not EVENT_TYPE_RE.match(etype.strip()):
            self.problems.append(
                Problem(
                    self.name,
                    lines.get("type", line),
                    f"event type {etype!r} may contain only a-z, 0-9, '-' and '_'",
                )
            )
            ok = False
        if isinstance(eid, bool) or not isinstance(eid, str | int) or not str(eid).strip():
            self.problems.append(
                Problem(self.name, lines.get("id", line), f"event id {eid!r} must be text")
            )
            ok = False
        try:
            d = parse_date(edate)
        except InputError as e:
            self.problems.append(Problem(self.name, lines.get("date", line), e.message))
            ok = False
        else:
            if not FIRST_YEAR <= d.year <= LAST_YEAR:
                msg = _("date {date} is outside the years the calendar covers ({first}–{last})")
                what = msg.format(date=d.isoformat(), first=FIRST_YEAR, last=LAST_YEAR)
                self.problems.append(Problem(self.name, lines.get("date", line), what))
                ok = False
        if not ok:
            return
        key = (etype.strip(), str(eid).strip())
        if key in self.seen:
            first = self.seen[key]
            where = f" (first at line {first})" if first else ""
            self.problems.append(
                Problem(self.name, line, f"duplicate event {key[0]} {key[1]!r}{where}")
            )
            return
        self.seen[key] = line
        self.events.append(Event(key[0], key[1], d, attrs))


def _read_yaml(path: Path, b: _Builder) -> None:
    data = load_yaml(path, b.name)
    if data is None:
        return
    if not isinstance(data, dict) or "events" not in data:
        b.problems.append(
            Problem(b.name, line_of(data, default=1), "expected 'events: [{type, id, date}, ...]'")
        )
        return
    for k in data:
        if k != "events":
            b.problems.append(Problem(b.name, line_of(data, k), f"unknown key {k!r}; use events"))
    items = data["events"] or []
    if not isinstance(items, list):
        b.problems.append(Problem(b.name, line_of(data, "events"), "events: must be a list"))
        return
    for i, item in enumerate(items):
        line = line_of(items, i)
        if not isinstance(item, dict):
            b.problems.append(
                Problem(b.name, line, "each event is a mapping {type, id, date, ...attributes}")
            )
            continue
        missing = [k for k in REQUIRED if k not in item]
        if missing:
            b.problems.append(Problem(b.name, line, f"event has no {', '.join(missing)}"))
            continue
        attrs: dict[str, str] = {}
        bad = False
        for k, v in item.items():
            if k in REQUIRED:
                continue
            if isinstance(v, dict | list) or not isinstance(k, str):
                b.problems.append(
                    Problem(b.name, line_of(item, k, line), f"attribute {k!r}: must be one value")
                )
                bad = True
                continue
            if v is not None:
                attrs[k] = _attr_text(v)
        if bad:
            continue
        lines = {k: line_of(item, k, line) for k in REQUIRED}
        b.add(line, item["type"], item["id"], item["date"], attrs, lines)


def _read_csv(path: Path, b: _Builder) -> None:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(Problem(b.name, None, f"cannot read: {e.strerror or e}")) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(Problem(b.name, line, "not UTF-8 text; save the file as UTF-8")) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        missing = [k for k in REQUIRED if k not in header]
        if missing:
            b.problems.append(
                Problem(
                    b.name,
                    1,
                    f"missing column {', '.join(repr(m) for m in missing)}; "
                    "the header is type,id,date then attribute columns",
                )
            )
            return
        dups = sorted({h for h in header if header.count(h) > 1})
        if dups or "" in header:
            b.problems.append(
                Problem(b.name, 1, "every column needs a name, used once: " + ", ".join(dups))
            )
            return
        idx = {h: header.index(h) for h in REQUIRED}
        start = reader.line_num
        for row in reader:
            line = start + 1
            start = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                b.problems.append(
                    Problem(b.name, line, f"row has {len(row)} cells; the header has {len(header)}")
                )
                continue
            attrs = {
                h: cell.strip()
                for h, cell in zip(header, row, strict=True)
                if h not in REQUIRED and cell.strip()
            }
            values = {k: row[idx[k]].strip() for k in REQUIRED}
            empty = [k for k in REQUIRED if not values[k]]
            if empty:
                b.problems.append(Problem(b.name, line, f"empty {', '.join(empty)}"))
                continue
            b.add(line, values["type"], values["id"], values["date"], attrs)
    except csv.Error as e:
        b.problems.append(Problem(b.name, reader.line_num, f"CSV: {e}"))


def read_events(path: Path | str) -> list[Event]:
    """The events of a ``.yaml``/``.yml`` or ``.csv`` file, in file order.

    Raises :class:`~engine.errors.ConfigError` with every ``file:line: message``.
    """
    path = Path(path)
    b = _Builder(str(path))
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        _read_yaml(path, b)
    elif suffix == ".csv":
        _read_csv(path, b)
    else:
        raise ConfigError(Problem(b.name, None, "an events file is .yaml, .yml or .csv"))
    if b.problems:
        raise ConfigError(b.problems)
    return b.events


__all__ = ["read_events"]
