"""``hanchot backup``, ``restore`` and ``prune``: keeping the tracking database (issue 9)."""

from __future__ import annotations

from datetime import datetime, time
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
    _out,
    app,
)
from engine.commands.store_cmds import ByOpt, NowOpt, actor, load, open_store, parse_now
from engine.i18n import _


def _settings(config: Path, rules: Path, now: datetime, database: str | None):
    """``--database`` (or ``HANCHOT_DATABASE_URL``) wins over ``settings.database``."""
    return load(config, rules, now, database).settings


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="Backup file to write (must not exist).")],
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Back up the tracking database while hanchot runs (SQLite backup API; pg_dump)."""
    from engine.store.backup import backup as do_backup

    settings = _settings(config, rules, parse_now(None), database)
    do_backup(settings.database, file)
    _out(_("Backup written to {file}.").format(file=file))


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A file written by `hanchot backup`.")],
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Restore a backup into an empty database, then migrate it to this version."""
    from engine.store.backup import restore as do_restore

    settings = _settings(config, rules, parse_now(None), database)
    do_restore(settings.database, file)
    _out(_("Restored {file}.").format(file=file))


@app.command()
def prune(
    before: Annotated[
        str, typer.Option("--before", help="Remove sent/superseded mail rows sent before D.")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count.")] = False,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Rows per transaction.")] = 5000,
    by: ByOpt = None,
    now: NowOpt = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Remove old sent and superseded outbox rows (never deadlines, events or the audit log)."""
    from engine.core.spans import parse_date
    from engine.store.ops import prune_outbox

    at = parse_now(now)
    day = parse_date(before)
    cfg, sessions = open_store(
        config, rules, at, database=database, materialise=False, create=False
    )
    cut = datetime.combine(day, time(0), ZoneInfo(cfg.settings.timezone))
    counts = prune_outbox(sessions, cut, actor=actor(by), now=at, dry_run=dry_run, batch=batch)
    msg = (
        _("Would remove {sent} sent and {superseded} superseded mail rows sent before {day}.")
        if dry_run
        else _("Removed {sent} sent and {superseded} superseded mail rows sent before {day}.")
    )
    _out(msg.format(sent=counts["sent"], superseded=counts["superseded"], day=day.isoformat()))
