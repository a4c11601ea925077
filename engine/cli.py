"""The ``hanchot`` command line (SPEC §5).

Exit codes: 0 ok, 1 the check asked for failed, 2 bad usage or bad configuration.
Errors go to stderr as ``file:line: message``; never a traceback for bad input.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from engine.errors import ConfigError, HanchotError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="hanchot — hạn chót: deadlines of a Sở's kế hoạch kiểm soát TTHC.",
)

ConfigOpt = Annotated[
    Path,
    typer.Option("--config", envvar="HANCHOT_CONFIG", help="Configuration directory."),
]
RulesOpt = Annotated[
    Path,
    typer.Option("--rules", envvar="HANCHOT_RULES", help="Rules directory."),
]
DEFAULT_CONFIG = Path("config")
DEFAULT_RULES = Path("rules")


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

    if fmt not in ("text", "json"):
        raise InputError(f"unknown --format {fmt!r}; use text or json")
    the_roll: Roll | None = parse_roll(roll)
    cal = load_calendar(config)
    if stdin:
        if start is not None or span is not None:
            raise InputError("--stdin reads START<TAB>SPAN lines; give no START or SPAN")
        from engine.bulk import due_stream

        due_stream(cal, the_roll, sys.stdin.fileno(), sys.stdout)
        return
    if start is None or span is None:
        raise InputError("usage: hanchot due START SPAN (e.g. hanchot due 2022-03-11 '30 days')")
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


# Commands that live in their own modules register themselves on `app`.
from engine.commands import calendar_cmds, rules_cmds, store_cmds, web_cmds  # noqa: E402,F401


def main() -> None:
    """Console-script entry point: run the app, turn HanchotError into exit code 2."""
    try:
        app()
    except HanchotError as e:
        sys.stdout.flush()
        if isinstance(e, ConfigError):
            sys.stderr.write(e.message + "\n")
        else:
            sys.stderr.write(f"hanchot: {e.message}\n")
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # `hanchot plan | head`: the reader went away; not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)


if __name__ == "__main__":
    # `python -m engine.cli` runs this file as `__main__`; the command modules register
    # on the importable `engine.cli.app`, so run that module's main.
    from engine.cli import main as _main

    _main()
