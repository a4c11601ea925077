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
duplicate (type, id), a name outside the safe set of :mod:`engine.loader.names`
(type, id, attribute names and values). Given the rules, also an event type that no
rule uses (with the near one suggested) and an attribute value that does not parse
as the type its rule's ``when:`` compares it with (:func:`event_problems`).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from engine.core.calendar import FIRST_YEAR, LAST_YEAR
from engine.core.rules import After, Event, Rule, attr_kind, parse_attr
from engine.core.spans import parse_date
from engine.errors import ConfigError, InputError, Problem
from engine.i18n import _
from engine.loader.names import (
    EVENT_ID_RE,
    MAX_ID,
    check_attr_name,
    check_attr_value,
    check_event_id,
    check_event_type,
)
from engine.loader.yamlio import line_of, load_yaml

REQUIRED = ("type", "id", "date")


class EventRules:
    """What the rules expect of events, indexed once for many events (an import).

    ``used``: the event types some rule's ``after:`` names; ``compared[type]``: the
    ``(rule id, attribute, when-value)`` triples of the rules started by ``type``.
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.compared: dict[str, list[tuple[str, str, Any]]] = {}
        for r in rules:
            if isinstance(r.due, After):
                triples = self.compared.setdefault(r.due.event, [])
                triples.extend((r.id, key, want) for key, want in r.due.when)
        self.used = sorted(self.compared)

    def problems(
        self, type_: str, attrs: Mapping[str, str], *, allow_unused_type: bool = False
    ) -> list[tuple[str, str]]:
        """See :func:`event_problems`."""
        out: list[tuple[str, str]] = []
        if type_ not in self.compared and not allow_unused_type:
            import difflib

            near = difflib.get_close_matches(type_, self.used, n=1, cutoff=0.6)
            hint = _(" (did you mean {near!r}?)").format(near=near[0]) if near else ""
            known = ", ".join(self.used) if self.used else _("none")
            out.append(
                (
                    "type",
                    _(
                        "no rule starts from event type {type!r}{hint}; the rules use: {known} "
                        "(--allow-unused-type records it anyway)"
                    ).format(type=type_, hint=hint, known=known),
                )
            )
        seen: set[str] = set()
        for rule_id, key, want in self.compared.get(type_, ()):
            have = attrs.get(key)
            if have is None or key in seen:
                continue
            try:
                parse_attr(have, want)
            except ValueError:
                seen.add(key)
                out.append(
                    (
                        key,
                        _(
                            "attribute {key}={value!r} must be {kind}: rule {rule} "
                            "compares it with {want!r}"
                        ).format(
                            key=key,
                            value=have,
                            kind=attr_kind(want),
                            rule=rule_id,
                            want=_when_text(want),
                        ),
                    )
                )
        return out


def event_problems(
    rules: Iterable[Rule] | EventRules,
    type_: str,
    attrs: Mapping[str, str],
    *,
    allow_unused_type: bool = False,
) -> list[tuple[str, str]]:
    """What is wrong with an event of ``type_`` with ``attrs`` for these ``rules``.

    Returns ``(field, message)`` pairs (field ``type`` or the attribute's name):

    - the type is used by no rule's ``after:`` (a typo such as ``publicaton``
      would record an event that starts nothing), unless ``allow_unused_type``;
    - an attribute that a rule's ``when:`` compares does not parse as the type of
      that value (``delegated=maybe`` where a rule says ``when: {delegated: true}``):
      such an event would silently match no rule.

    For many events, build :class:`EventRules` once and pass it as ``rules``.
    """
    index = rules if isinstance(rules, EventRules) else EventRules(rules)
    return index.problems(type_, attrs, allow_unused_type=allow_unused_type)


def _when_text(want: Any) -> str:
    if isinstance(want, bool):
        return "true" if want else "false"
    return str(want)


def _attr_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


class _Builder:
    def __init__(
        self,
        name: str,
        rules: Iterable[Rule] | EventRules | None = None,
        allow_unused_type: bool = True,
    ) -> None:
        self.name = name
        if rules is not None and not isinstance(rules, EventRules):
            rules = EventRules(rules)
        self.rules = rules
        self.allow_unused_type = allow_unused_type
        self.problems: list[Problem] = []
        self.events: list[Event] = []
        self.seen: dict[tuple[str, str], int | None] = {}
        # The answers for the few distinct types, attributes and dates of a big file,
        # remembered: only what the checks accepted (a bad value is checked again, and
        # reported, each time); the rules' verdict on a (type, attributes) whatever it is.
        self.type_ok: dict[str, str] = {}
        self.attr_ok: dict[tuple[str, str], tuple[str, str]] = {}
        self.date_ok: dict[str, date] = {}
        self.verdicts: dict[tuple, list[tuple[str, str]]] = {}

    def plain(self, line: int, etype: str, eid: str, edate: str, attrs: dict[str, str]) -> bool:
        """:meth:`add` for an event whose every value was accepted before (a type, a
        date and attributes already seen, the rules' verdict on them known and empty,
        an id the pattern takes as it is, a (type, id) not seen): added as :meth:`add`
        would add it, and True. Anything else is left to :meth:`add` (False)."""
        ctype = self.type_ok.get(etype)
        d = self.date_ok.get(edate)
        if (
            ctype is None
            or d is None
            or not FIRST_YEAR <= d.year <= LAST_YEAR
            or len(eid) > MAX_ID
            or not EVENT_ID_RE.fullmatch(eid)
            or (ctype, eid) in self.seen
        ):
            return False
        clean: dict[str, str] = {}
        for k, v in attrs.items():
            pair = self.attr_ok.get((k, v))
            if pair is None:
                return False
            clean[pair[0]] = pair[1]
        if self.rules is not None and self.verdicts.get((ctype, tuple(clean.items()))) != []:
            return False
        self.seen[(ctype, eid)] = line
        self.events.append(Event(ctype, eid, d, clean))
        return True

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
        known_type = self.type_ok.get(etype) if isinstance(etype, str) else None
        if known_type is not None:
            etype = known_type
        else:
            try:
                raw, etype = etype, check_event_type(etype)
                if isinstance(raw, str):
                    self.type_ok[raw] = etype
            except InputError as e:
                self.problems.append(Problem(self.name, lines.get("type", line), e.message))
                ok = False
        # What check_event_id accepts unchanged: the pattern admits no space to strip.
        if not (type(eid) is str and 0 < len(eid) <= MAX_ID and EVENT_ID_RE.fullmatch(eid)):
            try:
                eid = check_event_id(eid)
            except InputError as e:
                self.problems.append(Problem(self.name, lines.get("id", line), e.message))
                ok = False
        clean: dict[str, str] = {}
        for k, v in attrs.items():
            pair = self.attr_ok.get((k, v)) if isinstance(v, str) else None
            if pair is not None:
                clean[pair[0]] = pair[1]
                continue
            try:
                name, value = check_attr_name(k), check_attr_value(v, k)
            except InputError as e:
                self.problems.append(Problem(self.name, lines.get(k, line), e.message))
                ok = False
            else:
                clean[name] = value
                if isinstance(v, str):
                    self.attr_ok[(k, v)] = (name, value)
        attrs = clean
        if ok and self.rules is not None:
            asked = (etype, tuple(attrs.items()))
            verdict = self.verdicts.get(asked)
            if verdict is None:
                verdict = event_problems(
                    self.rules, etype, attrs, allow_unused_type=self.allow_unused_type
                )
                self.verdicts[asked] = verdict
            for field, message in verdict:
                self.problems.append(Problem(self.name, lines.get(field, line), message))
                ok = False
        try:
            d = self.date_ok.get(edate) if isinstance(edate, str) else None
            if d is None:
                d = parse_date(edate)
                if isinstance(edate, str):
                    self.date_ok[edate] = d
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
        key = (etype, eid)
        if key in self.seen:
            first = self.seen[key]
            if first:
                msg = _("duplicate event {type} {id!r} (first at line {first})").format(
                    type=key[0], id=key[1], first=first
                )
            else:
                msg = _("duplicate event {type} {id!r}").format(type=key[0], id=key[1])
            self.problems.append(Problem(self.name, line, msg))
            return
        self.seen[key] = line
        self.events.append(Event(key[0], key[1], d, attrs))


def _read_yaml(path: Path, b: _Builder) -> None:
    data = load_yaml(path, b.name)
    if data is None:
        return
    if not isinstance(data, dict) or "events" not in data:
        b.problems.append(
            Problem(
                b.name,
                line_of(data, default=1),
                _("expected 'events: [{{type, id, date}}, ...]'").format(),
            )
        )
        return
    for k in data:
        if k != "events":
            msg = _("unknown key {key!r}; use events").format(key=k)
            b.problems.append(Problem(b.name, line_of(data, k), msg))
    items = data["events"] or []
    if not isinstance(items, list):
        b.problems.append(Problem(b.name, line_of(data, "events"), _("events: must be a list")))
        return
    for i, item in enumerate(items):
        line = line_of(items, i)
        if not isinstance(item, dict):
            b.problems.append(
                Problem(
                    b.name,
                    line,
                    _("each event is a mapping {{type, id, date, ...attributes}}").format(),
                )
            )
            continue
        missing = [k for k in REQUIRED if k not in item]
        if missing:
            msg = _("event has no {keys}").format(keys=", ".join(missing))
            b.problems.append(Problem(b.name, line, msg))
            continue
        attrs: dict[str, str] = {}
        bad = False
        for k, v in item.items():
            if k in REQUIRED:
                continue
            if isinstance(v, dict | list) or not isinstance(k, str):
                b.problems.append(
                    Problem(
                        b.name,
                        line_of(item, k, line),
                        _("attribute {key!r}: must be one value").format(key=k),
                    )
                )
                bad = True
                continue
            if v is not None:
                attrs[k] = _attr_text(v)
        if bad:
            continue
        lines = {k: line_of(item, k, line) for k in item if isinstance(k, str)}
        b.add(line, item["type"], item["id"], item["date"], attrs, lines)


def _cannot_read(b: _Builder, e: OSError) -> ConfigError:
    msg = _("cannot read: {error}").format(error=e.strerror or e)
    return ConfigError(Problem(b.name, None, msg))


def _not_utf8(path: Path, b: _Builder) -> ConfigError:
    """The error for a file that is not UTF-8, at the line of its first bad byte."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        return _cannot_read(b, e)
    line = None
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
    return ConfigError(Problem(b.name, line, _("not UTF-8 text; save the file as UTF-8")))


def _read_csv(path: Path, b: _Builder, progress: Callable[[int], None] | None = None) -> None:
    # Streamed: the csv reader over the file, one row at a time (1,000,000 rows are
    # never held as text nor as lists of cells).
    try:
        f = path.open(encoding="utf-8-sig", newline="")
    except OSError as e:
        raise _cannot_read(b, e) from None
    with f:
        try:
            _read_csv_rows(f, b, progress)
            # A file that is not UTF-8 is that one problem, wherever its bad byte is, as
            # when it was decoded whole first: decode what the reader left unread.
            while f.read(1 << 20):
                pass
        except UnicodeDecodeError:
            raise _not_utf8(path, b) from None
        except OSError as e:
            raise _cannot_read(b, e) from None


#: Rows between two calls of a progress callback.
PROGRESS_EVERY = 5000


def _read_csv_rows(f, b: _Builder, progress: Callable[[int], None] | None) -> None:
    reader = csv.reader(f)
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
                    _(
                        "missing column {columns}; the header is type,id,date then attribute "
                        "columns"
                    ).format(columns=", ".join(repr(m) for m in missing)),
                )
            )
            return
        dups = sorted({h for h in header if header.count(h) > 1})
        if dups or "" in header:
            b.problems.append(
                Problem(
                    b.name,
                    1,
                    _("every column needs a name, used once: {columns}").format(
                        columns=", ".join(dups)
                    ),
                )
            )
            return
        bad_names = False
        for h in header:
            if h in REQUIRED:
                continue
            try:
                check_attr_name(h)
            except InputError as e:
                b.problems.append(Problem(b.name, 1, e.message))
                bad_names = True
        if bad_names:
            return
        idx = {h: header.index(h) for h in REQUIRED}
        ti, ii, di = (idx[k] for k in REQUIRED)
        attr_cols = [(h, j) for j, h in enumerate(header) if h not in REQUIRED]
        n_cells = len(header)
        plain = b.plain
        start = reader.line_num
        rows = 0
        for row in reader:
            line = start + 1
            start = reader.line_num
            rows += 1
            if progress is not None and rows % PROGRESS_EVERY == 0:
                progress(start)
            if len(row) == n_cells:
                etype, eid, edate = row[ti].strip(), row[ii].strip(), row[di].strip()
                if etype and eid and edate:
                    attrs = {}
                    for h, j in attr_cols:
                        cell = row[j].strip()
                        if cell:
                            attrs[h] = cell
                    if not plain(line, etype, eid, edate, attrs):
                        b.add(line, etype, eid, edate, attrs)
                    continue
            if not "".join(row).strip():  # every cell blank
                continue
            if len(row) != len(header):
                b.problems.append(
                    Problem(
                        b.name,
                        line,
                        _("row has {n} cells; the header has {header}").format(
                            n=len(row), header=len(header)
                        ),
                    )
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
                msg = _("empty {columns}").format(columns=", ".join(empty))
                b.problems.append(Problem(b.name, line, msg))
                continue
            b.add(line, values["type"], values["id"], values["date"], attrs)
    except csv.Error as e:
        b.problems.append(Problem(b.name, reader.line_num, _("CSV: {error}").format(error=e)))
    if progress is not None:
        progress(reader.line_num)


def read_events(
    path: Path | str,
    rules: Iterable[Rule] | EventRules | None = None,
    *,
    allow_unused_type: bool = True,
    progress: Callable[[int], None] | None = None,
) -> list[Event]:
    """The events of a ``.yaml``/``.yml`` or ``.csv`` file, in file order.

    With ``rules``, each event is also checked against them (:func:`event_problems`):
    attribute types always, unused types unless ``allow_unused_type``. A CSV file is
    read row by row; ``progress``, if given, is called with the line reached every
    :data:`PROGRESS_EVERY` rows and at the end.

    Raises :class:`~engine.errors.ConfigError` with every ``file:line: message``.
    """
    path = Path(path)
    b = _Builder(str(path), rules, allow_unused_type)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        _read_yaml(path, b)
    elif suffix == ".csv":
        _read_csv(path, b, progress)
    else:
        raise ConfigError(Problem(b.name, None, _("an events file is .yaml, .yml or .csv")))
    if b.problems:
        raise ConfigError(b.problems)
    return b.events


__all__ = ["EventRules", "event_problems", "read_events"]
