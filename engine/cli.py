"""The ``hanchot`` command line (SPEC §5).

Exit codes (README, Commands): 0 ok, 1 the check asked for failed, 2 bad usage or
bad configuration, 3 the database is unusable (damaged, not a database, unreachable),
4 the disk is full, 130 interrupted. Errors go to stderr as ``file:line: message``
or ``hanchot: message``; never a traceback for bad input or broken storage.

Typer (and Click, Rich, pydantic) costs ~80 ms to import: :func:`main` answers the two
commands cron and admins run most without it — ``due START SPAN`` (read by
:func:`parse_due_args`, answered by the same :func:`due_command` as the Typer command)
and ``run --once`` with nothing to do (:mod:`engine.quick_once`) — and hands
everything else (``--help``, any other option, usage errors) to Typer, the
application in :mod:`engine.cli_app`. ``HANCHOT_SHORTCUTS=off`` always takes Typer.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from engine.errors import ConfigError, HanchotError
from engine.i18n import _

#: Names that live in :mod:`engine.cli_app` (they need Typer), importable from here.
_APP_NAMES = frozenset(
    {"app", "ConfigOpt", "RulesOpt", "DatabaseOpt", "_mark_given", "_root", "due"}
)


def __getattr__(name: str):
    # PEP 562: `from engine.cli import app` imports Typer only when asked for.
    if name in _APP_NAMES:
        from engine import cli_app

        return getattr(cli_app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class GivenPath(type(Path())):  # type: ignore[misc]
    """A directory the user named (``--config``, ``HANCHOT_CONFIG``...), not the default.

    ``given_by`` says where it came from, for error messages.
    """

    given_by = ""


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


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _dump_json(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


# ----------------------------------------------------------------------------- due
def due_command(
    start: str | None,
    span: str | None,
    roll: str | None,
    fmt: str,
    explain: bool,
    stdin: bool,
    config: Path,
    rules: Path,
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


#: Set to ``off`` to answer every command the long way (Typer, the full ``run --once``
#: cycle): for tests comparing both ways and for looking into a suspected shortcut bug.
SHORTCUTS_ENV = "HANCHOT_SHORTCUTS"

#: ``hanchot due``'s options that take a value, and the parameter each one sets.
_DUE_VALUE_OPTIONS = {"--roll": "roll", "--format": "fmt", "--config": "config", "--rules": "rules"}
_DUE_ENV = {"config": "HANCHOT_CONFIG", "rules": "HANCHOT_RULES"}


def parse_due_args(args: list[str], env) -> dict | None:
    """The parameters of ``hanchot due ARGS`` exactly as Typer gives them to
    :func:`due_command`, or None whenever this small reader is not certain to agree
    with Typer: ``--help``, ``--stdin``, ``--no-explain``, a repeated or unknown option,
    a value that looks like an option, ``--``, not exactly START and SPAN, an empty
    ``HANCHOT_CONFIG``/``HANCHOT_RULES``. Typer then reads the arguments (and makes
    the usage errors), so only the common case is taken here."""
    values: dict = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "-":
            return None
        if not arg.startswith("-"):
            positional.append(arg)
            continue
        if arg == "--explain":
            if "explain" in values:
                return None
            values["explain"] = True
            continue
        name, eq, value = arg.partition("=")
        param = _DUE_VALUE_OPTIONS.get(name)
        if param is None or param in values:
            return None
        if not eq:
            if i >= len(args):
                return None
            value = args[i]
            i += 1
        if value.startswith("-"):
            return None
        values[param] = value
    if len(positional) != 2:
        return None
    out = {
        "start": positional[0],
        "span": positional[1],
        "roll": values.get("roll"),
        "fmt": values.get("fmt", "text"),
        "explain": values.get("explain", False),
        "stdin": False,
    }
    for param, default in (("config", DEFAULT_CONFIG), ("rules", DEFAULT_RULES)):
        if param in values:
            path = GivenPath(values[param])
            path.given_by = "--" + param
        elif _DUE_ENV[param] in env:
            if not env[_DUE_ENV[param]]:
                return None
            path = GivenPath(env[_DUE_ENV[param]])
            path.given_by = _DUE_ENV[param]
        else:
            path = default
        out[param] = path
    return out


def _shortcut(argv: list[str]) -> int | None:
    """Answer ``argv`` without Typer when it is one of the common fast cases: the
    exit code, or None to take the normal way. The answer comes from the same
    functions as the Typer commands' (one code path); only the reading of the
    arguments is done here."""
    if os.environ.get(SHORTCUTS_ENV) == "off" or not argv:
        return None
    if argv[0] == "due":
        params = parse_due_args(argv[1:], os.environ)
        if params is None:
            return None
        due_command(**params)
        return 0
    if argv[0] == "run" and "--once" in argv:
        from engine.quick_once import run_once_shortcut

        return run_once_shortcut(argv[1:], os.environ)
    return None


def main() -> None:
    """Console-script entry point: run the app; a HanchotError (or a storage fault)
    becomes one line on stderr and its exit code."""
    try:
        code = _shortcut(sys.argv[1:])
        if code is not None:
            sys.stdout.flush()
            sys.exit(code)
        register_commands(sys.argv[1:])
        from engine.cli_app import app

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
