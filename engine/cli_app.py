"""The Typer application of ``hanchot`` (:data:`app`) and the options every command
shares; ``hanchot due`` is registered here, the other commands in ``engine.commands``.

Kept apart from :mod:`engine.cli` so that the entry point can answer the common fast
cases (``due``, ``run --once`` with nothing due) without importing Typer; the names
are still importable from :mod:`engine.cli` (``from engine.cli import app``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.cli import DEFAULT_CONFIG, DEFAULT_RULES, GivenPath, due_command

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="hanchot — hạn chót: deadlines of a Sở's kế hoạch kiểm soát TTHC.",
)


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


@app.callback()
def _root() -> None:
    """hanchot — hạn chót: deadlines of a Sở's kế hoạch kiểm soát TTHC."""


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
    due_command(start, span, roll, fmt, explain, stdin, config, rules)
