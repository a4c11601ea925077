"""Deadlines as rows for people and programs: ``hanchot plan`` and ``hanchot status``.

:func:`plan_rows` turns occurrences into plain dicts (the JSON objects of SPEC §5);
:func:`rows_csv` and :func:`print_table` render them; :func:`print_status` and
:func:`status_tsv` render ``status``. Pure except for the console they write to.

Stored text (titles, event ids as keys, names) is printed as text: never as Rich
markup, and with control characters shown as escapes (:func:`~engine.loader.names.printable`).
Every CSV export passes each cell through :func:`spreadsheet_cell`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from engine.core.calendar import format_vi
from engine.core.config import Config
from engine.core.rules import Occurrence, effective_roll
from engine.i18n import _, ngettext
from engine.loader.names import printable

#: Columns of the CSV output, in order (``coordinating`` joined with ``;``).
CSV_COLUMNS = (
    "rule",
    "key",
    "title",
    "due",
    "lead",
    "lead_name",
    "coordinating",
    "coordinating_names",
    "plan_item",
    "status",
    "roll",
    "output",
    "basis",
    "explain",
)


def status_text(status: str) -> str:
    """A stored status (``open``, ``done``, ``waived``) for people; others as they are."""
    words = {"open": _("Not done"), "done": _("Done"), "waived": _("Waived")}
    return words.get(status, status)


def _name(config: Config, ref: str) -> str:
    try:
        return config.directory.name_of(ref)
    except KeyError:
        return ref


def plan_rows(
    config: Config,
    occurrences: Iterable[Occurrence],
    statuses: Mapping[tuple[str, str], str] | None = None,
) -> list[dict[str, Any]]:
    """One dict per occurrence, in the given order.

    Keys: ``rule, key, title, due`` (ISO), ``lead`` (unit or group id, as the rule
    says), ``lead_name``, ``coordinating`` (ids), ``coordinating_names``,
    ``plan_item``, ``status`` (``statuses[(rule, key)]``, else ``"open"``), ``roll``
    (the roll applied), ``output``, ``basis``, ``explain`` (the computation's steps,
    as ``hanchot due --format json`` gives them: ``{step, date, text}``).
    """
    statuses = statuses or {}
    cal = config.calendar
    rows = []
    for occ in occurrences:
        r = occ.rule
        rows.append(
            {
                "rule": r.id,
                "key": occ.key,
                "title": r.title,
                "due": occ.due.isoformat(),
                "lead": r.lead,
                "lead_name": _name(config, r.lead),
                "coordinating": list(r.coordinating),
                "coordinating_names": [_name(config, c) for c in r.coordinating],
                "plan_item": r.plan_item,
                "status": statuses.get((r.id, occ.key), "open"),
                "roll": effective_roll(r.due).value,
                "output": r.output,
                "basis": r.basis,
                "explain": [s.as_dict() for s in occ.explain(cal)],
            }
        )
    return rows


def units_of(config: Config, ref: str) -> set[str]:
    """Unit ids that a unit, group or role id stands for (KeyError when unknown)."""
    return set(config.directory.expand(ref))


def involving(config: Config, occurrences: Iterable[Occurrence], unit: str) -> list[Occurrence]:
    """Occurrences where ``unit`` (or a unit of it, when it is a group) leads or coordinates."""
    want = units_of(config, unit)
    cache: dict[tuple[str, tuple[str, ...]], bool] = {}
    out = []
    for occ in occurrences:
        r = occ.rule
        k = (r.lead, r.coordinating)
        hit = cache.get(k)
        if hit is None:
            members = units_of(config, r.lead)
            for c in r.coordinating:
                members |= units_of(config, c)
            hit = cache[k] = bool(members & want)
        if hit:
            out.append(occ)
    return out


#: First characters that make a spreadsheet read a cell as a formula or a command
#: (OWASP, "CSV Injection"): ``=``, ``+``, ``-``, ``@``, tab and carriage return.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> str:
    """``value`` as text that a spreadsheet shows and never evaluates.

    A cell that begins with one of :data:`FORMULA_STARTS` (``=HYPERLINK(…)``,
    ``+cmd``, ``-1+1``, ``@SUM(1)``) gets a leading apostrophe, which Excel and
    LibreOffice read as "this is text" (OWASP's rule for CSV injection); every other
    cell is unchanged. ``None`` is the empty cell. Use it for every cell of every
    export meant for spreadsheets (CSV now, XLSX later); JSON, ICS and the terminal
    need no such escaping.
    """
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def rows_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text with :data:`CSV_COLUMNS`; lists joined with ``;``, steps with `` | ``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for row in rows:
        cells = []
        for col in CSV_COLUMNS:
            v = row.get(col)
            if col == "explain":
                v = " | ".join(s["text"] for s in v or ())
            elif isinstance(v, list | tuple):
                v = ";".join(v)
            cells.append(spreadsheet_cell(v))
        w.writerow(cells)
    return buf.getvalue()


def print_table(rows: Sequence[Mapping[str, Any]], console, title: str = "") -> None:
    """A Rich table: Vietnamese dates (``Thứ Sáu, 29/07/2022``) and unit names; the
    headers and statuses in the current language."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title or None, show_lines=True, expand=False)
    table.add_column(_("Due"), no_wrap=True)
    table.add_column(_("Item"), justify="right", no_wrap=True)
    table.add_column(_("Task (rule, key)"), ratio=5, overflow="fold")
    table.add_column(_("Lead"), ratio=2, overflow="fold")
    table.add_column(_("Coordinating"), ratio=2, overflow="fold")
    table.add_column(_("Status"), no_wrap=True)
    for row in rows:
        # Text(): a title such as "[Quý I]" must not be read as Rich markup.
        task = Text(printable(row["title"]))
        task.append(f"\n{row['rule']} {printable(row['key'])}", style="dim")
        table.add_row(
            Text(format_vi(date.fromisoformat(row["due"]))),
            Text(printable(row.get("plan_item") or "")),
            task,
            Text(printable(row["lead_name"])),
            Text(printable(", ".join(row.get("coordinating_names") or ()))),
            Text(status_text(row["status"])),
        )
    console.print(table)
    console.print(
        ngettext("{n} deadline", "{n} deadlines", len(rows)).format(n=len(rows)), markup=False
    )


# ----------------------------------------------------------------------------- status
#: Columns of ``hanchot status`` as tab-separated text (stdout not a terminal).
STATUS_TSV_COLUMNS = (
    "state",
    "due",
    "working_days_left",
    "rule",
    "key",
    "title",
    "lead",
    "lead_name",
)


def _state_text(line) -> tuple[str, str, str]:
    """(state text, its style, time left) in the current language for one status line."""
    n = line.working_days_left
    if line.state == "overdue":
        late = ngettext("{n} working day late", "{n} working days late", -n).format(n=-n)
        return _("Overdue"), "red", late
    left = ngettext("{n} working day", "{n} working days", n).format(n=n)
    if line.state == "due-soon":
        return _("Due soon"), "yellow", left
    return _("Open"), "", left


def status_tsv(lines: Iterable[Any], lead_name) -> str:
    """``status`` for programs and pipes: a header, then one line per deadline.

    Tab-separated, ISO dates, the state as in JSON (``overdue``, ``due-soon``,
    ``open``); ids are never split. A tab or line break inside stored text is shown
    as ``\\t`` / ``\\n`` so that each deadline stays one line.
    """
    out = ["\t".join(STATUS_TSV_COLUMNS)]
    for line in lines:
        cells = (
            line.state,
            line.due.isoformat(),
            str(line.working_days_left),
            line.rule,
            line.key,
            line.title,
            line.lead,
            lead_name(line.lead),
        )
        out.append("\t".join(printable(c) for c in cells))
    return "\n".join(out) + "\n"


def print_status(lines: Sequence[Any], lead_name, console, title: str | None = None) -> None:
    """``status`` for a person at a terminal: a Rich table, ids whole.

    The rule id and key are never wrapped nor cut (they are what ``hanchot done RULE
    KEY`` needs); when the terminal is too narrow even for the table's narrowest
    layout, each deadline is printed as a small block instead, one field a line.
    """
    from rich.measure import Measurement
    from rich.table import Column, Table
    from rich.text import Text

    if title is None:
        title = _("Deadlines to watch")
    widest = max((max(len(x.rule), len(printable(x.key))) for x in lines), default=10)
    # Minimum widths keep a table readable; below them the blocks below are clearer.
    table = Table(
        Column(_("State"), min_width=11),
        Column(_("Due"), no_wrap=True),
        Column(_("Left"), min_width=10),
        Column(_("Rule / period"), no_wrap=True, overflow="ignore", min_width=widest),
        Column(_("Task"), min_width=20),
        Column(_("Lead"), min_width=12),
        title=title,
    )
    for line in lines:
        state, style, left = _state_text(line)
        ident = Text(f"{line.rule}\n{printable(line.key)}")
        table.add_row(
            Text(state, style=style),
            Text(format_vi(line.due)),
            Text(left),
            ident,
            Text(printable(line.title)),
            Text(printable(lead_name(line.lead))),
        )
    # Measured without the console's width, which would clamp the minimum to it.
    wide = console.options.update_width(10**6)
    if Measurement.get(console, wide, table).minimum <= console.width:
        console.print(table)
        return
    console.print(Text(title, style="bold"), soft_wrap=True)
    for line in lines:
        state, style, left = _state_text(line)
        head = Text(state, style=style)
        head.append(f" — {format_vi(line.due)} — {left}")
        console.print(head, soft_wrap=True)
        # soft_wrap: Rich inserts no line break; the id line is whole in the output.
        console.print(Text(f"  {line.rule} {printable(line.key)}"), soft_wrap=True)
        console.print(Text(f"  {printable(line.title)}"), soft_wrap=True)
        lead = _("Lead: {name}").format(name=printable(lead_name(line.lead)))
        console.print(Text(f"  {lead}"), soft_wrap=True)


__all__ = [
    "CSV_COLUMNS",
    "FORMULA_STARTS",
    "STATUS_TSV_COLUMNS",
    "involving",
    "plan_rows",
    "print_status",
    "print_table",
    "rows_csv",
    "spreadsheet_cell",
    "status_tsv",
]
