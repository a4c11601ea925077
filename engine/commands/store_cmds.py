"""``hanchot event``, ``done``, ``waive``, ``status`` and ``run`` (the tracking store).

These are the only places (with :mod:`engine.daemon`) that read the clock and the
environment; everything below them takes ``now`` and settings as arguments.
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from engine.cli import DEFAULT_CONFIG, DEFAULT_RULES, ConfigOpt, RulesOpt, _dump_json, _out, app
from engine.errors import InputError

event_app = typer.Typer(
    no_args_is_help=True, help="Sự kiện (events) that start `after` rules: add, list, import."
)
app.add_typer(event_app, name="event")

NowOpt = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Act as of this instant (ISO 8601 with offset, e.g. 2022-07-29T08:00+07:00).",
    ),
]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who does this (default: the login name).")]


def parse_now(text: str | None) -> datetime:
    """``--now`` as an aware instant; the real clock when absent. Naive is refused."""
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--now {text!r} is not an ISO date-time such as 2022-07-29T08:00+07:00"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(
            f"--now {text!r} has no UTC offset; write it as 2022-07-29T08:00+07:00 "
            "(or ...Z for UTC)"
        )
    return value.astimezone(UTC)


def actor(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def open_store(config: Path, rules: Path, now: datetime, *, materialise: bool = True):
    """Load the config, migrate the database, bring deadlines up to date as of ``now``.

    Returns (config, sessions).
    """
    from engine.loader.config import load_config
    from engine.store import db
    from engine.store.materialise import materialise as do_materialise

    cfg = load_config(config, rules, clock_year=now.astimezone(UTC).year)
    engine = db.make_engine(cfg.settings.database)
    db.migrate(engine)
    sessions = db.session_factory(engine)
    if materialise:
        with sessions() as s, s.begin():
            do_materialise(s, cfg, now)
    return cfg, sessions


# ------------------------------------------------------------------ events
@event_app.command("add")
def event_add(
    type_: Annotated[str, typer.Argument(metavar="TYPE", help="Event type, e.g. publication.")],
    event_id: Annotated[str, typer.Option("--id", help="Event id (the deadline key).")],
    when: Annotated[str, typer.Option("--date", help="Date, YYYY-MM-DD or dd/mm/yyyy.")],
    attrs: Annotated[
        list[str] | None, typer.Option("--set", help="Attribute key=value (repeatable).")
    ] = None,
    by: ByOpt = None,
    now: NowOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Record an event (e.g. a TTHC published) and create the deadlines it starts."""
    from engine.core.spans import parse_date
    from engine.store.materialise import materialise
    from engine.store.ops import record_event

    at = parse_now(now)
    d = parse_date(when)
    values: dict[str, str] = {}
    for item in attrs or []:
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            raise InputError(f"--set {item!r} is not key=value")
        values[k.strip()] = v.strip()
    cfg, sessions = open_store(config, rules, at)
    with sessions() as s, s.begin():
        added = record_event(s, type_, event_id, d, values, actor=actor(by), now=at)
        report = materialise(s, cfg, at)
    if added:
        _out(f"Đã ghi sự kiện {type_} {event_id} ngày {d.isoformat()}; {report.created} hạn mới.")
    else:
        _out(f"Sự kiện {type_} {event_id} đã có; không thay đổi.")


@event_app.command("list")
def event_list(
    type_: Annotated[str | None, typer.Option("--type", help="Only this event type.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """The recorded events, by date."""
    from engine.store.ops import list_events

    if fmt not in ("table", "json"):
        raise InputError(f"unknown --format {fmt!r}; use table or json")
    _, sessions = open_store(config, rules, parse_now(None), materialise=False)
    with sessions() as s:
        rows = list_events(s, type_)
    if fmt == "json":
        _out(_dump_json(rows))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("Loại", "Mã", "Ngày", "Thuộc tính", "Người ghi", title="Sự kiện đã ghi")
    for r in rows:
        attrs = ", ".join(f"{k}={v}" for k, v in r["attrs"].items())
        table.add_row(r["type"], r["id"], r["date"], attrs, r["recorded_by"])
    Console(soft_wrap=True).print(table)


@event_app.command("import")
def event_import(
    file: Annotated[Path, typer.Argument(help="CSV (type,id,date,attr...) or YAML file.")],
    by: ByOpt = None,
    now: NowOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Record every event of a file at once (all or nothing); known ones are skipped."""
    from engine.loader.events import read_events
    from engine.store.materialise import materialise
    from engine.store.ops import record_event

    at = parse_now(now)
    evs = read_events(file)
    cfg, sessions = open_store(config, rules, at)
    who = actor(by)
    with sessions() as s, s.begin():
        added = sum(
            record_event(s, e.type, e.id, e.date, dict(e.attrs), actor=who, now=at) for e in evs
        )
        report = materialise(s, cfg, at)
    _out(f"Đã nhập {added} sự kiện ({len(evs) - added} đã có); {report.created} hạn mới.")


# ------------------------------------------------------------------ closing
def _close(rule: str, key: str, status: str, text: str, by, now, config, rules) -> None:
    from engine.store.ops import close_deadline

    at = parse_now(now)
    _, sessions = open_store(config, rules, at)
    with sessions() as s, s.begin():
        close_deadline(s, rule, key, status, text, actor=actor(by), now=at)


@app.command()
def done(
    rule: Annotated[str, typer.Argument(help="Rule id.")],
    key: Annotated[str, typer.Argument(help="Occurrence key (once, 2022-Q2, event id...).")],
    evidence: Annotated[
        str, typer.Option("--evidence", help="What shows it is done (số văn bản...).")
    ],
    by: ByOpt = None,
    now: NowOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Mark a deadline done: no more reminders for it."""
    _close(rule, key, "done", evidence, by, now, config, rules)
    _out(f"Đã ghi nhận hoàn thành: {rule} {key}.")


@app.command()
def waive(
    rule: Annotated[str, typer.Argument(help="Rule id.")],
    key: Annotated[str, typer.Argument(help="Occurrence key.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is no longer required.")],
    by: ByOpt = None,
    now: NowOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Waive a deadline (no longer required): no more reminders for it."""
    _close(rule, key, "waived", reason, by, now, config, rules)
    _out(f"Đã miễn: {rule} {key}.")


# ------------------------------------------------------------------ status
@app.command()
def status(
    unit: Annotated[
        str | None, typer.Option("--unit", help="Only deadlines this unit leads or joins.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    everything: Annotated[
        bool, typer.Option("--all", help="Also open deadlines due later.")
    ] = False,
    now: NowOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Overdue deadlines first, then those due within 5 working days."""
    from engine.core.calendar import format_vi
    from engine.store.ops import status_lines

    if fmt not in ("table", "json"):
        raise InputError(f"unknown --format {fmt!r}; use table or json")
    at = parse_now(now)
    cfg, sessions = open_store(config, rules, at)
    with sessions() as s:
        lines = status_lines(s, cfg, at, unit=unit, everything=everything)
    if fmt == "json":
        _out(_dump_json([line.as_dict() for line in lines]))
        return
    from rich.console import Console
    from rich.table import Column, Table

    table = Table(
        "Tình trạng",
        "Hạn",
        "Còn lại",
        Column("Quy tắc / kỳ", overflow="fold"),
        "Việc",
        "Chủ trì",
        title="Theo dõi hạn",
    )
    names = cfg.directory
    for line in lines:
        if line.state == "overdue":
            state, left = "[red]Quá hạn[/red]", f"quá {-line.working_days_left} ngày làm việc"
        else:
            state = "[yellow]Sắp đến hạn[/yellow]" if line.state == "due-soon" else "Đang mở"
            left = f"{line.working_days_left} ngày làm việc"
        lead = names.name_of(line.lead) if names.known(line.lead) else line.lead
        ident = f"{line.rule}\n{line.key}"
        table.add_row(state, format_vi(line.due), left, ident, line.title, lead)
    console = Console(soft_wrap=True)
    if not lines:
        console.print("Không có hạn nào quá hạn hoặc sắp đến hạn.")
        return
    console.print(table)


# ------------------------------------------------------------------ run
@app.command()
def run(
    once: Annotated[
        bool, typer.Option("--once", help="One dispatch cycle, then exit (cron, tests).")
    ] = False,
    now: NowOpt = None,
    web: Annotated[
        str | None, typer.Option("--web", help="Also serve the portal on HOST:PORT.")
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """The daemon: send reminders on time until stopped (SIGTERM/SIGINT)."""
    from engine import daemon

    daemon.setup_logging()
    if web is not None:
        from engine.commands.web_cmds import run_with_web

        if once:
            raise InputError("--web is not for --once")
        run_with_web(config, rules, web, now)
        return
    if once:
        report = daemon.run_once(config, rules, parse_now(now), os.environ)
        _out(str(report))
        return
    if now is not None:
        raise InputError("--now is only for --once")
    daemon.run_forever(config, rules, os.environ)
