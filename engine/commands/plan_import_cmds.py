"""``hanchot import-plan`` and ``hanchot rules rollover`` (SPEC §5.1).

Both write draft rules files for a person to review; neither touches the database.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from engine.cli import DEFAULT_CONFIG, DEFAULT_RULES, ConfigOpt, RulesOpt, app
from engine.errors import InputError
from engine.i18n import _

rules_app = typer.Typer(
    no_args_is_help=True, help="Work on whole rule sets (rollover to a new year)."
)
app.add_typer(rules_app, name="rules")


@app.command("import-plan")
def import_plan(
    file: Annotated[Path, typer.Argument(help="The plan: .docx, or text exported from it.")],
    year: Annotated[
        int | None, typer.Option(help="The plan's year (default: read from its table).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Directory for the draft rules (default: drafts-YEAR).")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="yaml: review as a table | json: review for tools")
    ] = "yaml",
    report_day: Annotated[
        str,
        typer.Option(
            help="Day of a periodic report the plan leaves open: 1..31 or 'last working day'."
        ),
    ] = "last working day",
    force: Annotated[bool, typer.Option(help="Overwrite draft files that exist.")] = False,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Draft rules (one file per section of the plan's table) and review every decision."""
    from engine.core.calendar import FIRST_YEAR, LAST_YEAR
    from engine.loader.config import load_directory
    from engine.loader.models import _day
    from engine.planimport.draft import (
        REVIEW_FILE,
        draft_rules,
        review_data,
        review_rows,
        write_drafts,
    )
    from engine.planimport.table import parse_table, read_rows

    if fmt not in ("yaml", "json"):
        raise InputError(_("unknown --format {fmt!r}; use yaml or json").format(fmt=fmt))
    if year is not None and not FIRST_YEAR <= year <= LAST_YEAR:
        raise InputError(
            _("--year {year} is outside {first}–{last}").format(
                year=year, first=FIRST_YEAR, last=LAST_YEAR
            )
        )
    try:
        day = _day(int(report_day) if report_day.strip().isdigit() else report_day)
    except InputError as e:
        raise InputError(_("--report-day: {error}").format(error=e.message)) from None
    directory = load_directory(config)
    table = parse_table(read_rows(file))
    result = draft_rules(table, directory, year=year, source=file.name, report_day=day)
    target = out if out is not None else Path(f"drafts-{result.year}")
    paths = write_drafts(result, target, force=force)
    rows = review_rows(result)
    if fmt == "json":
        data = review_data(result, target, paths)
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    t = Table(title=_("Review of {file} ({year})").format(file=file.name, year=result.year))
    for col in (_("Item"), _("Decided"), _("Sure"), _("Why")):
        t.add_column(col, overflow="fold")
    for r in rows:
        if r["decision"] == "heading":
            decided = _("heading, no rule")
        else:
            due = (
                r["due"] if isinstance(r["due"], str) else json.dumps(r["due"], ensure_ascii=False)
            )
            decided = f"{r['rule']}\n{due}\n{r['lead']}"
        t.add_row(str(r["plan_item"]), decided, r["certainty"], "\n".join(r["why"]))
    console.print(t)
    for col in result.missing_columns:
        sys.stderr.write(_("warning: the table has no column {column}").format(column=col) + "\n")
    for note in result.notes:
        sys.stderr.write(_("note: {note}").format(note=note) + "\n")
    todo = sum(1 for r in rows if r["certainty"] == "todo")
    sys.stdout.write(
        _(
            "{rules} rules in {files} files under {out} (review: {review}); {headings} "
            "headings; {todo} rows with TODO to resolve before `hanchot check` passes."
        ).format(
            rules=len(result.drafts),
            files=len(paths),
            out=target,
            review=target / REVIEW_FILE,
            headings=len(result.headings),
            todo=todo,
        )
        + "\n"
    )


@rules_app.command("rollover")
def rollover(
    from_year: Annotated[int, typer.Option("--from-year", help="The year of the rules to copy.")],
    to_year: Annotated[int, typer.Option("--to-year", help="The year to move them to.")],
    out: Annotated[
        Path | None, typer.Option(help="Directory for the new rules (default: rules-TO_YEAR).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite files that exist.")] = False,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Copy a year's rules to another year: dates, periods and from/until moved, ids re-keyed."""
    from engine.loader.config import load_config
    from engine.planimport.rollover import roll_over_dir

    load_config(config, rules)  # only valid rules are rolled over
    target = out if out is not None else Path(f"rules-{to_year}")
    report = roll_over_dir(rules, target, from_year, to_year, force=force)
    for line in report.lines():
        sys.stdout.write(line + "\n")


def plan_diff(
    dirs: tuple[Path, Path],
    from_: str | None,
    to: str | None,
    fmt: str,
    events: list,
    output: Path | None,
    config: Path,
) -> None:
    """``hanchot plan --diff OLD_DIR NEW_DIR``: deadlines that appear, disappear or move.

    The window is ``--from``/``--to``, else every year either rule set has deadlines in.
    """
    from datetime import date

    from engine.commands.rules_cmds import _opt_date, _write
    from engine.core.calendar import format_vi
    from engine.loader.config import load_config
    from engine.planimport.diff import APPEARS, DISAPPEARS, MOVES, SAME, diff_plans
    from engine.planimport.legal import rule_years

    if fmt not in ("table", "json"):
        raise InputError(
            _("plan --diff: unknown --format {fmt!r}; use table or json").format(fmt=fmt)
        )
    old_dir, new_dir = dirs
    old = load_config(config, old_dir)
    new = load_config(config, new_dir)
    start = _opt_date(from_, "--from")
    end = _opt_date(to, "--to")
    if start is None or end is None:
        years = [y for r in (*old.rules, *new.rules) for y in (rule_years(r) or ()) if y]
        if not years:
            raise InputError(
                _("plan --diff: the rules have no dated deadlines; give --from and --to")
            )
        start = start or date(min(years), 1, 1)
        end = end or date(max(years), 12, 31)
    if start > end:
        raise InputError(
            _("--from {start} is after --to {end}").format(
                start=start.isoformat(), end=end.isoformat()
            )
        )
    changes = diff_plans(old.rules, new.rules, new.calendar, start, end, events)
    shown = [c for c in changes if c.kind != SAME]
    same = len(changes) - len(shown)
    if fmt == "json":
        data = {
            "old": str(old_dir),
            "new": str(new_dir),
            "from": start.isoformat(),
            "to": end.isoformat(),
            "unchanged": same,
            "changes": [c.as_dict() for c in shown],
        }
        _write(json.dumps(data, ensure_ascii=False, indent=2) + "\n", output)
        return
    words = {APPEARS: _("appears"), DISAPPEARS: _("disappears"), MOVES: _("moves")}
    lines = [
        _("Deadlines from {start} to {end}: {old} → {new}").format(
            start=start.strftime("%d/%m/%Y"), end=end.strftime("%d/%m/%Y"), old=old_dir, new=new_dir
        )
    ]
    for c in shown:
        o, n = c.old, c.new
        what = f"{(n or o).rule.id} {(n or o).key}"
        if c.kind == MOVES and o.rule.id != n.rule.id:
            what = f"{o.rule.id} {o.key} → {n.rule.id} {n.key}"
        dates = (
            f"{format_vi(o.due)} → {format_vi(n.due)}"
            if c.kind == MOVES
            else format_vi((n or o).due)
        )
        lines.append(f"  {words[c.kind]:<10}  {dates}  {what}  {(n or o).rule.title}")
    lines.append(
        _("{appear} appear, {disappear} disappear, {move} move, {same} unchanged").format(
            appear=sum(c.kind == APPEARS for c in shown),
            disappear=sum(c.kind == DISAPPEARS for c in shown),
            move=sum(c.kind == MOVES for c in shown),
            same=same,
        )
    )
    _write("\n".join(lines) + "\n", output)
