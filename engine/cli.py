"""The ``hanchot`` command line (SPEC §5).

Exit codes (README, Commands): 0 ok, 1 the check asked for failed, 2 bad usage or
bad configuration, 3 the database is unusable (damaged, not a database, unreachable),
4 the disk is full, 130 interrupted. Errors go to stderr as ``file:line: message``
or ``hanchot: message``; never a traceback for bad input or broken storage.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from engine.errors import ConfigError, HanchotError
from engine.i18n import _

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="hanchot — hạn chót: deadlines of a Sở's kế hoạch kiểm soát TTHC.",
)


class GivenPath(type(Path())):  # type: ignore[misc]
    """A directory the user named (``--config``, ``HANCHOT_CONFIG``...), not the default.

    ``given_by`` says where it came from, for error messages.
    """

    given_by = ""


def _mark_given(ctx: typer.Context, param: typer.CallbackParam, value: Path | None):
    """Option callback: tag a value that did not come from the default."""
    if value is None:
        return value
    source = ctx.get_parameter_source(param.name or "")
    if source is None or source.name in ("DEFAULT", "DEFAULT_MAP"):
        return value
    given = GivenPath(value)
    if source.name == "ENVIRONMENT":
        given.given_by = param.envvar if isinstance(param.envvar, str) else "environment"
    else:
        given.given_by = param.opts[0] if param.opts else param.name or ""
    return given


ConfigOpt = Annotated[
    Path,
    typer.Option(
        "--config",
        envvar="HANCHOT_CONFIG",
        help="Configuration directory.",
        callback=_mark_given,
    ),
]
RulesOpt = Annotated[
    Path,
    typer.Option("--rules", envvar="HANCHOT_RULES", help="Rules directory.", callback=_mark_given),
]
DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database",
        envvar="HANCHOT_DATABASE_URL",
        help="Database URL instead of settings.database, e.g. sqlite:///var/thu-2022.db "
        "(a relative SQLite path is relative to the current directory).",
    ),
]
DEFAULT_CONFIG = Path("config")
DEFAULT_RULES = Path("rules")


def require_dirs(config: Path, rules: Path, *, defaults_optional: bool = False) -> None:
    """Refuse a configuration or rules directory that does not exist, both at once.

    A directory given with ``--config``/``--rules`` or ``HANCHOT_CONFIG``/
    ``HANCHOT_RULES`` must exist for every command. The defaults (``./config``,
    ``./rules``) must exist too, unless ``defaults_optional`` (``due`` then uses the
    built-in calendar; ``schema`` reads neither). Raises
    :class:`~engine.errors.ConfigError` (exit 2) naming each missing directory.
    """
    from engine.errors import Problem

    problems = []
    for path, name, option in ((config, "config", "--config"), (rules, "rules", "--rules")):
        given = path.given_by if isinstance(path, GivenPath) else None
        if given is None and defaults_optional:
            continue
        if path.is_dir():
            continue
        if given is None:
            how = _(
                "the default; run hanchot from the directory that holds {name}/, "
                "or give {option} DIR"
            ).format(name=name, option=option)
        else:
            how = _("given by {source}").format(source=given)
        if path.exists():
            msg = _("not a directory ({how})").format(how=how)
        elif name == "config":
            msg = _("configuration directory not found ({how})").format(how=how)
        else:
            msg = _("rules directory not found ({how})").format(how=how)
        problems.append(Problem(str(path), None, msg))
    if problems:
        raise ConfigError(problems)


def env_with_database(database: str | None) -> dict[str, str]:
    """The environment for loading the config, ``--database`` put in as
    ``HANCHOT_DATABASE_URL`` (which the loader applies over ``settings.database``)."""
    env = dict(os.environ)
    if database:
        env["HANCHOT_DATABASE_URL"] = database
    return env


@app.callback()
def _root() -> None:
    """hanchot — hạn chót: deadlines of a Sở's kế hoạch kiểm soát TTHC."""


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _dump_json(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


# ----------------------------------------------------------------------------- due
@app.command()
def due(
    start: Annotated[str | None, typer.Argument(help="Start date, YYYY-MM-DD.")] = None,
    span: Annotated[str | None, typer.Argument(help="'30 days', '5 ngày làm việc'...")] = None,
    roll: Annotated[str | None, typer.Option(help="forward | backward | none")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text | json")] = "text",
    explain: Annotated[bool, typer.Option(help="Show each step and skipped day.")] = False,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read START<TAB>SPAN lines, print one date each.")
    ] = False,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Due date of SPAN counted from START (Bộ luật Dân sự 2015, Điều 147–148)."""
    from engine.core.spans import Roll, explain_span, parse_date, parse_roll, parse_span
    from engine.errors import InputError
    from engine.loader.calendar_file import load_calendar

    require_dirs(config, rules, defaults_optional=True)
    if fmt not in ("text", "json"):
        raise InputError(_("unknown --format {fmt!r}; use text or json").format(fmt=fmt))
    the_roll: Roll | None = parse_roll(roll)
    cal = load_calendar(config)
    if stdin:
        if start is not None or span is not None:
            raise InputError(_("--stdin reads START<TAB>SPAN lines; give no START or SPAN"))
        from engine.bulk import due_stream

        due_stream(cal, the_roll, sys.stdin.fileno(), sys.stdout)
        return
    if start is None or span is None:
        raise InputError(_("usage: hanchot due START SPAN (e.g. hanchot due 2022-03-11 '30 days')"))
    d0 = parse_date(start)
    sp = parse_span(span)
    result, steps = explain_span(cal, d0, sp, the_roll)
    if fmt == "json":
        from engine.core.spans import DEFAULT_ROLL

        effective = the_roll or DEFAULT_ROLL[sp.unit]
        _out(
            _dump_json(
                {
                    "start": d0.isoformat(),
                    "span": str(sp),
                    "roll": effective.value,
                    "due": result.isoformat(),
                    "steps": [s.as_dict() for s in steps],
                }
            )
        )
        return
    if explain:
        for s in steps:
            _out(s.text)
    _out(result.isoformat())


#: The module of ``engine.commands`` that registers each top-level command (``due``
#: lives here). Typer builds every registered command at start-up, and each module
#: imports what its commands need, so a command imports only its own module.
COMMAND_MODULES = {
    "due": (),
    "calendar": ("calendar_cmds",),
    "import-plan": ("plan_import_cmds",),
    "rules": ("plan_import_cmds",),
    "check": ("rules_cmds",),
    "schema": ("rules_cmds",),
    "plan": ("rules_cmds",),
    "event": ("store_cmds",),
    "done": ("store_cmds",),
    "waive": ("store_cmds",),
    "status": ("store_cmds",),
    "run": ("store_cmds",),
    "backup": ("ops_cmds",),
    "restore": ("ops_cmds",),
    "prune": ("ops_cmds",),
    "web": ("web_cmds",),
    "report": ("web_cmds",),
    "confirm": ("web_cmds",),
    "return": ("web_cmds",),
    "extension": ("web_cmds",),
}
ALL_COMMAND_MODULES = (
    "calendar_cmds",
    "ops_cmds",
    "plan_import_cmds",
    "rules_cmds",
    "store_cmds",
    "web_cmds",
)


def register_commands(argv: list[str] | None = None) -> None:
    """Register on :data:`app` the commands ``argv`` (the arguments after ``hanchot``)
    may run: only the named command's module when the first argument is a known
    command, every module otherwise (``--help``, a typo: the full list is shown)."""
    import importlib

    # An option before the command (`hanchot --help due`) is about the whole app.
    first = argv[0] if argv and not argv[0].startswith("-") else ""
    modules = COMMAND_MODULES.get(first, ALL_COMMAND_MODULES)
    for name in modules:
        importlib.import_module(f"engine.commands.{name}")


def _as_hanchot_error(e: BaseException) -> HanchotError | None:
    """A fault of the environment (storage, disk) as a HanchotError; None for defects."""
    if isinstance(e, HanchotError):
        return e
    if "sqlalchemy" in sys.modules:
        import sqlalchemy as sa

        if isinstance(e, sa.exc.DBAPIError):
            from engine.store.db import db_fault

            return db_fault(e)
    if isinstance(e, OSError) and e.errno is not None:
        from engine.store.db import os_fault

        name = e.filename if e.filename is not None else "?"
        return os_fault(e, _("cannot write or read {file}").format(file=name))
    return None


def main() -> None:
    """Console-script entry point: run the app; a HanchotError (or a storage fault)
    becomes one line on stderr and its exit code."""
    try:
        register_commands(sys.argv[1:])
        app()
    except BrokenPipeError:
        # `hanchot plan | head`: the reader went away; not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        e = _as_hanchot_error(exc)
        if e is None:
            raise
        try:
            sys.stdout.flush()
        except OSError:
            pass
        if isinstance(e, ConfigError):
            sys.stderr.write(e.message + "\n")
        else:
            sys.stderr.write(f"hanchot: {e.message}\n")
        sys.exit(e.exit_code)


if __name__ == "__main__":
    # `python -m engine.cli` runs this file as `__main__`; the command modules register
    # on the importable `engine.cli.app`, so run that module's main.
    from engine.cli import main as _main

    _main()
