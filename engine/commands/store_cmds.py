"""``hanchot event``, ``done``, ``waive``, ``status`` and ``run`` (the tracking store).

These are the only places (with :mod:`engine.daemon`) that read the clock and the
environment; everything below them takes ``now`` and settings as arguments.
"""

from __future__ import annotations

import gc
import getpass
import os
import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from engine.cli import (
    DEFAULT_CONFIG,
    DEFAULT_RULES,
    ConfigOpt,
    DatabaseOpt,
    RulesOpt,
    _dump_json,
    _out,
    app,
    env_with_database,
    require_dirs,
)
from engine.errors import InputError, StoreError
from engine.i18n import _

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
AllowUnusedOpt = Annotated[
    bool,
    typer.Option(
        "--allow-unused-type",
        help="Record events of a type that no rule starts from (normally a typo).",
    ),
]


def parse_now(text: str | None) -> datetime:
    """``--now`` as an aware instant; the real clock when absent. Naive is refused."""
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            _("--now {value!r} is not an ISO date-time such as 2022-07-29T08:00+07:00").format(
                value=text
            )
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(
            _(
                "--now {value!r} has no UTC offset; write it as 2022-07-29T08:00+07:00 "
                "(or ...Z for UTC)"
            ).format(value=text)
        )
    from engine.core.calendar import FIRST_YEAR, LAST_YEAR
    from engine.errors import CalendarRangeError

    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        # Year 1 or 9999 overflow once converted to UTC or widened to a window.
        msg = _("--now {value}: the year must be within the calendar ({first}–{last})")
        raise CalendarRangeError(msg.format(value=text, first=FIRST_YEAR, last=LAST_YEAR))
    return value.astimezone(UTC)


def actor(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def database_source(config: Path, database: str | None) -> str:
    """Where the database URL came from, for messages about it."""
    if database:
        if os.environ.get("HANCHOT_DATABASE_URL") == database:
            return "HANCHOT_DATABASE_URL"
        return "--database"
    root = Path(os.path.abspath(config)).parent
    return _("settings.database in {file}, relative to {root}").format(
        file=Path(config) / "settings.yaml", root=root
    )


def no_database(url: str, config: Path, database: str | None) -> str:
    """Where we looked for a database that is not there, and how one is made."""
    from engine.store import db

    path = db.sqlite_path(url)
    source = database_source(config, database)
    if path is None or (path.is_file() and path.stat().st_size > 0):
        # The database itself is there (a PostgreSQL database, a SQLite file of
        # something else): it has no hanchot tables.
        return _(
            "the database {where} ({source}) has no hanchot tables yet; `hanchot run` "
            "creates them when it starts (`hanchot run --once` too), and so does the "
            "first `hanchot event add`"
        ).format(where=db.where(url), source=source)
    return _(
        "no database at {where} ({source}); `hanchot run` creates it when it starts "
        "(`hanchot run --once` too), and so does the first `hanchot event add`"
    ).format(where=db.where(url), source=source)


def load(config: Path, rules: Path, now: datetime, database: str | None = None):
    """The configuration and rules, with the calendar prepared around ``now``'s year;
    ``database`` (``--database``) wins over ``settings.database``."""
    from engine.loader.config import load_config

    require_dirs(config, rules)
    return load_config(
        config, rules, clock_year=now.astimezone(UTC).year, env=env_with_database(database)
    )


def open_store(
    config: Path,
    rules: Path,
    now: datetime,
    *,
    database: str | None = None,
    materialise: bool = True,
    create: bool = True,
    cfg=None,
):
    """Load the config (unless ``cfg`` is given, already loaded), migrate the database,
    bring deadlines up to date as of ``now``.

    ``database`` (``--database``) wins over ``settings.database``. With ``create``
    false (status, done, waive, event list) a missing database is a
    :class:`~engine.errors.StoreError` saying where it was looked for, never a new
    empty one. Returns (config, sessions).
    """
    from engine.store import db
    from engine.store.materialise import materialise as do_materialise

    if cfg is None:
        cfg = load(config, rules, now, database)
    url = cfg.settings.database
    if create:
        engine = db.make_engine(url)
    else:
        engine = db.open_existing(url)
        if engine is None:
            raise StoreError(no_database(url, config, database))
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
    allow_unused_type: AllowUnusedOpt = False,
    by: ByOpt = None,
    now: NowOpt = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Record an event (e.g. a TTHC published) and create the deadlines it starts."""
    from engine.core.spans import parse_date
    from engine.store.materialise import materialise
    from engine.store.ops import check_event, record_event

    at = parse_now(now)
    d = parse_date(when)
    values: dict[str, str] = {}
    for item in attrs or []:
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            raise InputError(_("--set {item!r} is not key=value").format(item=item))
        values[k.strip()] = v.strip()
    cfg = load(config, rules, at, database)
    # The same checks as record_event's, before the database is opened or created.
    type_, event_id, values = check_event(
        type_, event_id, values, cfg.rules, allow_unused_type=allow_unused_type
    )
    cfg, sessions = open_store(config, rules, at, database=database, cfg=cfg)
    with sessions() as s, s.begin():
        added = record_event(
            s,
            type_,
            event_id,
            d,
            values,
            actor=actor(by),
            now=at,
            rules=cfg.rules,
            allow_unused_type=allow_unused_type,
        )
        report = materialise(s, cfg, at)
    if added:
        _out(
            _("Recorded event {type} {id} of {date}; {n} new deadline(s).").format(
                type=type_, id=event_id, date=d.isoformat(), n=report.created
            )
        )
    else:
        _out(
            _("Event {type} {id} is already recorded; nothing changed.").format(
                type=type_, id=event_id
            )
        )


@event_app.command("list")
def event_list(
    type_: Annotated[str | None, typer.Option("--type", help="Only this event type.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """The recorded events, by date."""
    from engine.store.ops import list_events

    if fmt not in ("table", "json"):
        raise InputError(_("unknown --format {fmt!r}; use table or json").format(fmt=fmt))
    _cfg, sessions = open_store(
        config, rules, parse_now(None), database=database, materialise=False, create=False
    )
    with sessions() as s:
        rows = list_events(s, type_)
    if fmt == "json":
        _out(_dump_json(rows))
        return
    from rich.console import Console
    from rich.table import Column, Table
    from rich.text import Text

    from engine.loader.names import printable

    # Stored text is shown as text: Text() is never read as markup ("[/]", "[link=…]"),
    # printable() shows control characters (escape sequences, CR/LF) as escapes.
    table = Table(
        Column(_("Type"), no_wrap=True),
        Column(_("Id"), no_wrap=True),
        _("Date"),
        _("Attributes"),
        _("Recorded by"),
        title=_("Recorded events"),
    )
    for r in rows:
        attrs = ", ".join(f"{k}={v}" for k, v in r["attrs"].items())
        table.add_row(
            *(Text(printable(x)) for x in (r["type"], r["id"], r["date"], attrs)),
            Text(printable(r["recorded_by"])),
        )
    Console(soft_wrap=True).print(table)


#: A file with more lines than this gets a progress bar (when stderr is a terminal).
PROGRESS_LINES = 5000


def count_lines(path: Path) -> int:
    """The number of lines of ``path`` (0 when it cannot be read), read in blocks."""
    n = 0
    try:
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                n += block.count(b"\n")
    except OSError:
        return 0
    return n


class ImportProgress:
    """The progress of ``hanchot event import`` on stderr: reading the file (lines),
    recording the events, computing the deadlines. Shown only for a file of more than
    :data:`PROGRESS_LINES` lines and only when ``console`` (default: stderr) is a
    terminal; otherwise every method does nothing. A context manager; the bar is
    removed at the end, leaving the summary alone on stdout."""

    def __init__(self, file: Path, console=None) -> None:
        self.progress = None
        self.task = None
        if console is None:
            # Rich (tens of milliseconds to import) only when stderr may be a terminal:
            # a tty, or one declared so by TTY_COMPATIBLE or FORCE_COLOR, as Rich reads them.
            env = os.environ
            if not (sys.stderr.isatty() or "TTY_COMPATIBLE" in env or "FORCE_COLOR" in env):
                return
            from rich.console import Console

            console = Console(stderr=True)
        self.console = console
        if self.console.is_terminal:
            lines = count_lines(file)
            if lines > PROGRESS_LINES:
                self.lines = lines
                self.progress = self._make()

    def _make(self):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        return Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )

    def __enter__(self) -> ImportProgress:
        if self.progress is not None:
            self.progress.start()
            self.task = self.progress.add_task(_("Reading and checking the file"), total=self.lines)
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

    def reading(self, line: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=min(line, self.lines))

    def recording(self, total: int) -> None:
        """The file is read: ``total`` events to record next."""
        if self.progress is not None:
            self.progress.update(self.task, completed=self.lines)
            self.task = self.progress.add_task(_("Recording the events"), total=total)

    def recorded(self, done: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=done)

    def deadlines(self) -> None:
        """The events are recorded; the deadlines they start are computed next."""
        if self.progress is not None:
            self.progress.update(self.task, completed=self.progress.tasks[-1].total)
            self.task = self.progress.add_task(_("Computing the deadlines"), total=None)


@contextmanager
def paused_gc():
    """The cyclic garbage collector off for the block, back as it was after.

    An import holds a million events (and their rows) to its end, none in a cycle:
    the collector would walk them again and again for nothing (a quarter of the
    time of reading and recording 100,000 events); reference counting frees them.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@event_app.command("import")
def event_import(
    file: Annotated[Path, typer.Argument(help="CSV (type,id,date,attr...) or YAML file.")],
    allow_unused_type: AllowUnusedOpt = False,
    by: ByOpt = None,
    now: NowOpt = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Record every event of a file at once (all or nothing); known ones are skipped."""
    import_events(file, allow_unused_type, by, now, database, config, rules)


def import_events(
    file: Path,
    allow_unused_type: bool = False,
    by: str | None = None,
    now: str | None = None,
    database: str | None = None,
    config: Path = DEFAULT_CONFIG,
    rules: Path = DEFAULT_RULES,
    console=None,
) -> None:
    """``hanchot event import``; ``console`` is where the progress bar goes (a test
    passes one that is or is not a terminal; default stderr)."""
    from engine.loader.events import EventRules, read_events
    from engine.store.materialise import materialise
    from engine.store.ops import record_events

    at = parse_now(now)
    cfg = load(config, rules, at, database)
    index = EventRules(cfg.rules)
    with ImportProgress(file, console) as bar:
        # The whole file is checked before the database is opened (or created).
        with paused_gc():
            evs = read_events(
                file, index, allow_unused_type=allow_unused_type, progress=bar.reading
            )
        bar.recording(len(evs))
        cfg, sessions = open_store(config, rules, at, database=database, cfg=cfg)
        with sessions() as s, s.begin():
            with paused_gc():
                done = record_events(
                    s,
                    evs,
                    actor=actor(by),
                    now=at,
                    rules=index,
                    allow_unused_type=allow_unused_type,
                    checked=True,  # by read_events, with the same rules
                    progress=bar.recorded,
                )
            bar.deadlines()
            report = materialise(s, cfg, at)
    _out(
        _("Imported {added} event(s) ({known} already recorded); {n} new deadline(s).").format(
            added=done.added, known=done.known, n=report.created
        )
    )


@event_app.command("remove")
def event_remove(
    type_: Annotated[str, typer.Argument(metavar="TYPE", help="Event type, as recorded.")],
    event_id: Annotated[str, typer.Argument(metavar="ID", help="Event id, as recorded.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the record was wrong.")],
    by: ByOpt = None,
    now: NowOpt = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Remove a wrongly recorded event (audited); its open deadlines are cancelled.

    To correct an event, remove it and add it again with the right values.
    """
    from engine.loader.names import printable
    from engine.store.ops import remove_event

    at = parse_now(now)
    cfg, sessions = open_store(config, rules, at, database=database, create=False)
    with sessions() as s, s.begin():
        done_ = remove_event(s, cfg.rules, type_, event_id, reason, actor=actor(by), now=at)
    _out(
        _("Removed event {type} {id} of {date}; {n} open deadline(s) cancelled.").format(
            type=printable(done_.type),
            id=printable(done_.id),
            date=done_.date.isoformat(),
            n=len(done_.cancelled),
        )
    )
    for rule, key, st in done_.closed:
        _out(
            _("Kept {rule} {key}: it is already {status}.").format(
                rule=rule, key=printable(key), status=st
            )
        )


# ------------------------------------------------------------------ closing
def _close(rule: str, key: str, status: str, text: str, by, now, database, config, rules) -> None:
    from engine.store.ops import close_deadline

    at = parse_now(now)
    cfg, sessions = open_store(config, rules, at, database=database, create=False)
    with sessions() as s, s.begin():
        close_deadline(
            s,
            rule,
            key,
            status,
            text,
            actor=actor(by),
            now=at,
            timezone=cfg.settings.timezone,
        )


@app.command()
def done(
    rule: Annotated[str, typer.Argument(help="Rule id.")],
    key: Annotated[str, typer.Argument(help="Occurrence key (once, 2022-Q2, event id...).")],
    evidence: Annotated[
        str, typer.Option("--evidence", help="What shows it is done (số văn bản...).")
    ],
    by: ByOpt = None,
    now: NowOpt = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Mark a deadline done: no more reminders for it."""
    _close(rule, key, "done", evidence, by, now, database, config, rules)
    _out(_("Recorded as done: {rule} {key}.").format(rule=rule, key=key))


@app.command()
def waive(
    rule: Annotated[str, typer.Argument(help="Rule id.")],
    key: Annotated[str, typer.Argument(help="Occurrence key.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is no longer required.")],
    by: ByOpt = None,
    now: NowOpt = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Waive a deadline (no longer required): no more reminders for it."""
    _close(rule, key, "waived", reason, by, now, database, config, rules)
    _out(_("Waived: {rule} {key}.").format(rule=rule, key=key))


# ------------------------------------------------------------------ status
@app.command()
def status(
    unit: Annotated[
        str | None, typer.Option("--unit", help="Only deadlines this unit leads or joins.")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="table | tsv | json (default: table on a terminal, tsv otherwise)",
        ),
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Also open deadlines due later.")
    ] = False,
    now: NowOpt = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Overdue deadlines first, then those due within 5 working days."""
    from engine.report import print_status, status_tsv
    from engine.store.ops import status_lines

    if fmt is None:
        # A pipe or a file gets tab-separated lines; a person at a terminal, a table.
        fmt = "table" if sys.stdout.isatty() else "tsv"
    if fmt not in ("table", "tsv", "json"):
        raise InputError(_("unknown --format {fmt!r}; use table, tsv or json").format(fmt=fmt))
    at = parse_now(now)
    from engine.store.dispatch import build_errors

    cfg, sessions = open_store(config, rules, at, database=database, create=False)
    with sessions() as s:
        lines = status_lines(s, cfg, at, unit=unit, everything=everything)
        unbuilt, error = build_errors(s)
    if unbuilt:
        # On stderr, so --format json stays machine-readable.
        typer.echo(
            _(
                "{n} reminder(s) not sent because of a configuration error "
                "(they go out once it is fixed): {error}"
            ).format(n=unbuilt, error=error),
            err=True,
        )
    if fmt == "json":
        _out(_dump_json([line.as_dict() for line in lines]))
        return
    names = cfg.directory

    def lead_name(ref: str) -> str:
        return names.name_of(ref) if names.known(ref) else ref

    if fmt == "tsv":
        sys.stdout.write(status_tsv(lines, lead_name))
        return
    from rich.console import Console

    console = Console(soft_wrap=True)
    if not lines:
        console.print(_("No deadline is overdue or due soon."), markup=False)
        return
    print_status(lines, lead_name, console)


# ------------------------------------------------------------------ run
@app.command()
def run(
    once: Annotated[
        bool, typer.Option("--once", help="One dispatch cycle, then exit (cron, tests).")
    ] = False,
    now: NowOpt = None,
    http: Annotated[
        str | None,
        typer.Option("--http", metavar="HOST:PORT", help="Serve /healthz and /metrics here."),
    ] = None,
    standby: Annotated[
        bool,
        typer.Option("--standby", help="PostgreSQL: wait for the active daemon's lock."),
    ] = False,
    log_format: Annotated[
        str, typer.Option("--log-format", help="text | json (one object per line).")
    ] = "text",
    database: DatabaseOpt = None,
    web: Annotated[
        str | None, typer.Option("--web", help="Also serve the portal on HOST:PORT.")
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """The daemon: send reminders on time until stopped (SIGTERM/SIGINT)."""
    from engine import daemon

    if log_format not in ("text", "json"):
        raise InputError(
            _("unknown --log-format {value!r}; use text or json").format(value=log_format)
        )
    listen = None
    if http is not None:
        from engine.health import parse_listen

        listen = parse_listen(http)
    if once and (listen or standby):
        raise InputError(_("--http and --standby are for the daemon, not --once"))
    require_dirs(config, rules)
    if database:
        # The daemon loads (and reloads) the config with the process environment,
        # where HANCHOT_DATABASE_URL wins over settings.database.
        os.environ["HANCHOT_DATABASE_URL"] = database

    daemon.setup_logging(fmt=log_format)
    if web is not None:
        from engine.commands.web_cmds import run_with_web

        if once:
            raise InputError(_("--web is not for --once"))
        run_with_web(config, rules, web, now, http=listen, standby=standby)
        return
    if once:
        # Exit codes (SPEC §5.1): 0 all due mail sent, 3 some deferred (server down,
        # stopped by a signal, a message that could not be built), 4 some failed for
        # good (with or without deferred).
        report = daemon.run_once(config, rules, parse_now(now), os.environ)
        _out(str(report))
        if report.stopped_by is not None:
            typer.echo(
                _(
                    "stopped by signal {signal}: {n} reminder(s) left pending for the next run"
                ).format(signal=report.stopped_by, n=report.left),
                err=True,
            )
        raise typer.Exit(report.exit_code)
    if now is not None:
        raise InputError(_("--now is only for --once"))
    daemon.run_forever(config, rules, os.environ, http=listen, standby=standby)
