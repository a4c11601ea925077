"""``hanchot check``, ``schema`` and ``plan`` (config and rules, no database).

The clock is read here and only here (``datetime.now`` in the configured zone), for
``plan``'s default window (this year) and ``check``'s "next deadlines".
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from engine.cli import (
    DEFAULT_CONFIG,
    DEFAULT_RULES,
    ConfigOpt,
    DatabaseOpt,
    RulesOpt,
    app,
    env_with_database,
    require_dirs,
)
from engine.errors import InputError
from engine.i18n import _, ngettext

FORMATS = ("table", "json", "csv", "ics")
FORM_NAMES = {
    "On": "on",
    "Before": "before",
    "EndOf": "end_of",
    "Every": "every",
    "RRule": "rrule",
    "After": "after",
}

EventsOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--events",
        help="Events file (.yaml or .csv: type,id,date,attr...); may be repeated.",
    ),
]


def _now(tz: str) -> datetime:
    return datetime.now(ZoneInfo(tz))


def _opt_date(text: str | None, what: str) -> date | None:
    from engine.core.calendar import FIRST_YEAR, LAST_YEAR
    from engine.core.spans import parse_date
    from engine.errors import CalendarRangeError

    if text is None:
        return None
    try:
        value = parse_date(text)
    except InputError as e:
        raise InputError(_("{option}: {error}").format(option=what, error=e.message)) from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        # Windows and rolls reach a year beyond the date: 0001 or 9999 would overflow.
        msg = _("{option}: {date} is outside the years the calendar covers ({first}–{last})")
        raise CalendarRangeError(
            msg.format(option=what, date=value.isoformat(), first=FIRST_YEAR, last=LAST_YEAR)
        )
    return value


def _events(paths: list[Path] | None, rules=None):
    """The events of ``--events`` files; with ``rules``, an attribute that a ``when:``
    compares must parse as its type (a file may hold types no rule uses)."""
    from engine.errors import ConfigError
    from engine.loader.events import read_events

    out = []
    problems = []
    seen: dict[tuple[str, str], str] = {}
    for p in paths or ():
        try:
            evs = read_events(p, rules, allow_unused_type=True)
        except ConfigError as e:
            problems.extend(e.problems)
            continue
        for ev in evs:
            key = (ev.type, ev.id)
            if key in seen:
                raise InputError(
                    _("event {type} {id!r} is both in {first} and in {second}").format(
                        type=ev.type, id=ev.id, first=seen[key], second=p
                    )
                )
            seen[key] = str(p)
            out.append(ev)
    if problems:
        raise ConfigError(problems)
    return out


def _write(text: str | bytes, output: Path | None) -> None:
    data = text.encode("utf-8") if isinstance(text, str) else text
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)


# ----------------------------------------------------------------------------- check
def _may_come(rule, day: date) -> bool:
    """False when every date of ``rule`` lies well before ``day`` (a roll moves < 40 days)."""
    from engine.core.rules import Before, EndOf, Every, On, RRule

    form = rule.due
    limit = day - timedelta(days=40)
    if isinstance(form, On | Before):
        return form.date >= limit
    if isinstance(form, EndOf):
        return form.period.end >= limit
    if isinstance(form, Every | RRule):
        return form.until is None or form.until >= limit
    return True


def next_deadlines(config, today: date, events=(), n: int = 5):
    """The first ``n`` occurrences due on or after ``today`` (looking up to 5 years on)."""
    from engine.core.rules import plan

    live = [r for r in config.rules if _may_come(r, today)]
    occ = []
    for days in (40, 400, 5 * 366):
        occ = plan(live, config.calendar, today, today + timedelta(days=days), events)
        if len(occ) >= n:
            break
    return occ[:n]


def summary_lines(config, today: date, events=()) -> list[str]:
    """What ``hanchot check`` prints for a valid configuration (in the current language)."""
    from engine.core.calendar import format_vi
    from engine.core.rules import After

    d = config.directory
    lines = [
        _("Units: {units}, groups: {groups}, roles: {roles}").format(
            units=len(d.units), groups=len(d.groups), roles=len(d.roles)
        ),
        _("Reminder policies: {n} ({names})").format(
            n=len(config.policies), names=", ".join(config.policies)
        ),
        ngettext(
            "Rules: {rules} in {files} file", "Rules: {rules} in {files} files", len(config.files)
        ).format(rules=len(config.rules), files=len(config.files)),
    ]
    width = max((len(f) for f in config.files), default=0)
    for f, ids in config.files.items():
        lines.append(f"  {f:<{width}}  {len(ids):>4}")
    forms = Counter(FORM_NAMES.get(type(r.due).__name__, "?") for r in config.rules)
    if forms:
        shown = ", ".join(f"{k} {v}" for k, v in forms.most_common())
        lines.append(_("Due forms: {forms}").format(forms=shown))
    else:
        lines.append(_("Due forms: none"))
    etypes = Counter(r.due.event for r in config.rules if isinstance(r.due, After))
    used = [
        ngettext("{type} ({n} rule)", "{type} ({n} rules)", v).format(type=k, n=v)
        for k, v in sorted(etypes.items())
    ]
    if used:
        lines.append(_("Event types used: {types}").format(types=", ".join(used)))
    else:
        lines.append(_("Event types used: none"))
    upcoming = next_deadlines(config, today, events)
    if upcoming:
        lines.append(
            ngettext(
                "Next {n} deadline (from {day}):", "Next {n} deadlines (from {day}):", len(upcoming)
            ).format(n=len(upcoming), day=format_vi(today))
        )
        for o in upcoming:
            lines.append(f"  {format_vi(o.due)}  {o.rule.id} {o.key}  {o.rule.title}")
    else:
        lines.append(_("No deadline in the 5 years from {day}.").format(day=format_vi(today)))
    return lines


@app.command()
def check(
    today: Annotated[
        str | None, typer.Option(help="Count the next deadlines from this day (default: today).")
    ] = None,
    events: EventsOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Validate config and rules; print a summary. Exit 0 when valid, 2 otherwise."""
    from engine.loader.config import load_config

    require_dirs(config, rules)
    cfg = load_config(config, rules)
    day = _opt_date(today, "--today") or _now(cfg.settings.timezone).date()
    evs = _events(events, cfg.rules)
    sys.stdout.write(
        _("Valid configuration: {config} and {rules}").format(config=config, rules=rules) + "\n"
    )
    sys.stdout.write("\n".join(summary_lines(cfg, day, evs)) + "\n")
    # Warnings, not errors: stderr, and the exit code stays 0.
    from engine.planimport.legal import replaced_citations, warning_lines

    sys.stdout.flush()
    for line in warning_lines(replaced_citations(cfg.rules)):
        sys.stderr.write(line + "\n")


# ----------------------------------------------------------------------------- schema
def rules_schema() -> dict:
    """JSON Schema of a rules file (for editors: yaml-language-server, VS Code...)."""
    from engine.loader.models import RulesFile

    schema = RulesFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "hanchot rules file"
    schema["description"] = (
        "Quy tắc hạn chót của kế hoạch kiểm soát TTHC (SPEC §2–3). "
        "Add '# yaml-language-server: $schema=<path to this file>' at the top of a rules file."
    )
    return schema


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Write the JSON Schema of a rules file, so editors validate and autocomplete it."""
    require_dirs(config, rules, defaults_optional=True)
    _write(json.dumps(rules_schema(), ensure_ascii=False, indent=2) + "\n", output)


# ----------------------------------------------------------------------------- plan
def _stored(cfg, config: Path, database: str | None) -> tuple[list, dict, dict]:
    """Recorded events, deadline statuses and closed deadlines, if the database exists.

    Never creates it: without one, a note on stderr says where it was looked for.
    """
    import sqlalchemy.exc

    from engine.commands.store_cmds import no_database
    from engine.errors import StoreError
    from engine.store import db
    from engine.store.materialise import stored_events
    from engine.store.ops import closed_deadlines, statuses

    url = cfg.settings.database
    engine = db.open_existing(url)
    if engine is None:
        sys.stderr.write(
            _("note: {why}; until then every deadline shows as open").format(
                why=no_database(url, config, database)
            )
            + "\n"
        )
        return [], {}, {}
    try:
        db.migrate(engine)
        with db.session_factory(engine)() as s:
            return stored_events(s), statuses(s), closed_deadlines(s)
    except sqlalchemy.exc.SQLAlchemyError as e:
        # A damaged or unreachable database: exit 5 with the password masked (12.8, 12.11).
        fault = db.db_fault(e) if isinstance(e, sqlalchemy.exc.DBAPIError) else None
        if fault is not None:
            raise fault from None
        raise StoreError(
            _("cannot read the database {where}: {error}").format(
                where=db.where(url),
                error=f"{e.__class__.__name__}: "
                f"{str(e.orig if hasattr(e, 'orig') else e).splitlines()[0]}",
            )
        ) from None
    finally:
        engine.dispose()


def _as_closed(cfg, occ: list, closed: dict, start: date, end: date) -> list:
    """``occ`` with each done or waived deadline as it was closed: its stored due
    date, title and units, in the window by that date, whatever its rule says now."""
    from dataclasses import replace

    from engine.core.rules import Occurrence
    from engine.core.spans import Roll

    if not closed:
        return occ
    out = [o for o in occ if (o.rule.id, o.key) not in closed]
    by_id = {r.id: r for r in cfg.rules}
    for (rule_id, key), d in closed.items():
        rule = by_id.get(rule_id)
        if rule is None or not start <= d.due <= end:
            continue
        then = replace(
            rule,
            title=d.title,
            plan_item=d.plan_item,
            lead=d.lead,
            coordinating=d.coordinating,
        )
        out.append(Occurrence(then, key, d.due, d.due, Roll.NONE))
    out.sort(key=lambda o: (o.due, o.rule.id, o.key))
    return out


@app.command()
def plan(
    from_: Annotated[
        str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default: 1 January).")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (default: 31 December).")
    ] = None,
    unit: Annotated[
        str | None, typer.Option(help="Only deadlines this unit (or group) leads or coordinates.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json | csv | ics")] = "table",
    events: EventsOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")
    ] = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Ignore the database's events and statuses.")
    ] = False,
    diff: Annotated[
        tuple[Path, Path] | None,
        typer.Option(
            "--diff",
            metavar="OLD_DIR NEW_DIR",
            help="Compare two rules directories: deadlines that appear, disappear or move.",
        ),
    ] = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Every deadline due in the window (default: this year), from the rules and events.

    Events recorded in the database (``hanchot event add``) count as well as those of
    ``--events`` files, and each deadline shows its stored status (open, done, waived,
    cancelled). A done or waived deadline shows the due date it was closed with,
    even if its rule has changed since. Without a database yet, every deadline is
    ``open`` (and a note on stderr says where the database was looked for).
    """
    from engine.core.calendar import format_vi
    from engine.core.rules import plan as plan_occurrences
    from engine.loader.config import load_config
    from engine.report import involving, plan_rows, print_table, rows_csv

    if diff is not None:
        from engine.commands.plan_import_cmds import plan_diff

        if unit is not None:
            raise InputError(_("--unit does not combine with --diff; compare whole rule sets"))

        require_dirs(config, rules, defaults_optional=True)
        plan_diff(diff, from_, to, fmt, _events(events), output, config)
        return
    require_dirs(config, rules)
    if fmt not in FORMATS:
        raise InputError(
            _("unknown --format {fmt!r}; use {formats}").format(fmt=fmt, formats=", ".join(FORMATS))
        )
    start = _opt_date(from_, "--from")
    end = _opt_date(to, "--to")
    year = start.year if start else end.year if end else None
    cfg = load_config(config, rules, clock_year=year, env=env_with_database(database))
    now = _now(cfg.settings.timezone)
    if start is None and end is None:
        start, end = date(now.year, 1, 1), date(now.year, 12, 31)
    elif start is None:
        start = date(end.year, 1, 1)
    elif end is None:
        end = date(start.year, 12, 31)
    if start > end:
        raise InputError(
            _("--from {start} is after --to {end}").format(
                start=start.isoformat(), end=end.isoformat()
            )
        )
    evs = _events(events, cfg.rules)
    if unit is not None and not cfg.directory.known(unit):
        from engine.loader.config import suggest

        refs = [*cfg.directory.units, *cfg.directory.groups]
        raise InputError(
            _("--unit: unknown unit or group {unit!r}").format(unit=unit) + suggest(unit, refs)
        )
    stored_evs, statuses, closed = ([], {}, {}) if no_store else _stored(cfg, config, database)
    given = {(e.type, e.id) for e in evs}
    evs = [*evs, *(e for e in stored_evs if (e.type, e.id) not in given)]
    occ = plan_occurrences(cfg.rules, cfg.calendar, start, end, evs)
    occ = _as_closed(cfg, occ, closed, start, end)
    if unit is not None:
        occ = involving(cfg, occ, unit)
    rows = plan_rows(cfg, occ, statuses)
    for row in rows:
        if (row["rule"], row["key"]) in closed:
            # The rule's computation may give another date now; say what was closed.
            due_day = date.fromisoformat(row["due"])
            row["explain"] = [
                {
                    "step": "closed",
                    "date": row["due"],
                    "text": _("Closed ({status}) with the due date it had then: {day}").format(
                        status=row["status"], day=format_vi(due_day)
                    ),
                }
            ]
    if fmt == "json":
        _write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n", output)
    elif fmt == "csv":
        _write(rows_csv(rows), output)
    elif fmt == "ics":
        from engine.ics import plan_ics

        name = f"Hạn kiểm soát TTHC {start.strftime('%d/%m/%Y')}–{end.strftime('%d/%m/%Y')}"
        _write(plan_ics(rows, now, name), output)
    else:
        from rich.console import Console

        title = _("Deadlines from {start} to {end}").format(
            start=start.strftime("%d/%m/%Y"), end=end.strftime("%d/%m/%Y")
        )
        if unit:
            title += f" — {cfg.directory.name_of(unit)}"
        if output is None:
            # A pipe or a file gets a wide table; a terminal gets its own width.
            print_table(rows, Console(width=None if sys.stdout.isatty() else 160), title)
        else:
            with output.open("w", encoding="utf-8") as fh:
                print_table(rows, Console(file=fh, width=200), title)
