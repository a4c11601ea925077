"""``config/calendar.yaml``: local additions to the working calendar.

The Government's swap decisions ship with hanchot
(:mod:`engine.core.calendar_corrections`); this file adds local decisions and
overrides, applied last.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from engine.core.calendar import WorkingCalendar
from engine.core.spans import parse_date
from engine.errors import ConfigError, InputError, Problem
from engine.i18n import _
from engine.loader.yamlio import LineDict, LineList, line_of, load_yaml

KEYS = ("extra_days_off", "extra_working_days")


def read_calendar_data(data, name: str) -> tuple[dict[date, str], dict[date, str]]:
    """Validate parsed ``calendar.yaml`` data; every problem is reported at once."""
    problems: list[Problem] = []
    out: dict[str, dict[date, str]] = {k: {} for k in KEYS}
    seen_line: dict[date, tuple[str, int | None]] = {}
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(
            Problem(
                name,
                line_of(data, default=1),
                _("expected a mapping with extra_days_off and extra_working_days"),
            )
        )
    for key in data:
        if key not in KEYS:
            problems.append(
                Problem(
                    name,
                    line_of(data, key),
                    _("unknown key {key!r}; expected one of {keys}").format(
                        key=key, keys=", ".join(KEYS)
                    ),
                )
            )
    for key in KEYS:
        items = data.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            problems.append(
                Problem(
                    name,
                    line_of(data, key),
                    _("{key} must be a list of {{date: ..., reason: ...}}").format(key=key),
                )
            )
            continue
        for i, item in enumerate(items):
            line = line_of(items, i) if isinstance(items, LineList) else None
            if not isinstance(item, dict):
                problems.append(
                    Problem(
                        name,
                        line,
                        _("{key}: each entry is {{date: YYYY-MM-DD, reason: text}}").format(
                            key=key
                        ),
                    )
                )
                continue
            for k in item:
                if k not in ("date", "reason"):
                    problems.append(
                        Problem(
                            name,
                            line_of(item, k, line),
                            _("{key}: unknown key {name!r}; use date and reason").format(
                                key=key, name=k
                            ),
                        )
                    )
            if "date" not in item:
                msg = _("{key}: entry has no date").format(key=key)
                problems.append(Problem(name, line, msg))
                continue
            reason = item.get("reason")
            if not isinstance(reason, str) or not reason.strip():
                problems.append(
                    Problem(
                        name,
                        line,
                        _("{key}: entry for {date} needs a reason (cite the decision)").format(
                            key=key, date=item["date"]
                        ),
                    )
                )
                continue
            dline = line_of(item, "date", line) if isinstance(item, LineDict) else line
            try:
                d = parse_date(item["date"])
            except InputError as e:
                problems.append(Problem(name, dline, e.message))
                continue
            if d in seen_line:
                other_key, other_line = seen_line[d]
                where = _("line {line}").format(line=other_line) if other_line else other_key
                if other_key != key:
                    problems.append(
                        Problem(
                            name,
                            dline,
                            _(
                                "{date} is both in {other} ({where}) and in {key}; keep only one"
                            ).format(date=d.isoformat(), other=other_key, where=where, key=key),
                        )
                    )
                else:
                    problems.append(
                        Problem(
                            name,
                            dline,
                            _("{date} is listed twice in {key} ({where})").format(
                                date=d.isoformat(), key=key, where=where
                            ),
                        )
                    )
                continue
            seen_line[d] = (key, dline)
            out[key][d] = reason.strip()
    if problems:
        raise ConfigError(problems)
    return out["extra_days_off"], out["extra_working_days"]


def load_calendar(config_dir: Path | str) -> WorkingCalendar:
    """The working calendar with ``config_dir/calendar.yaml`` applied (if the file exists)."""
    from engine.loader.calendar_cache import calendar_source, names_en

    path = Path(config_dir) / "calendar.yaml"
    if not path.exists():
        return WorkingCalendar(source=calendar_source(config_dir), names_en=names_en)
    off, work = read_calendar_data(load_yaml(path), str(path))
    return WorkingCalendar(
        off, work, source=calendar_source(config_dir, off, work), names_en=names_en
    )
