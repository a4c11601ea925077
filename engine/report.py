"""Deadlines as rows for people and programs: ``hanchot plan`` (and later ``status``).

:func:`plan_rows` turns occurrences into plain dicts (the JSON objects of SPEC §5);
:func:`rows_csv` and :func:`print_table` render them. Pure except for the console
that :func:`print_table` writes to.
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

STATUS_VI = {"open": "Chưa xong", "done": "Đã xong", "waived": "Miễn"}


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
            cells.append("" if v is None else v)
        w.writerow(cells)
    return buf.getvalue()


def print_table(rows: Sequence[Mapping[str, Any]], console, title: str = "") -> None:
    """A Rich table: Vietnamese dates (``Thứ Sáu, 29/07/2022``) and unit names."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title or None, show_lines=True, expand=False)
    table.add_column("Hạn", no_wrap=True)
    table.add_column("Mục", justify="right", no_wrap=True)
    table.add_column("Nhiệm vụ (quy tắc, khóa)", ratio=5, overflow="fold")
    table.add_column("Chủ trì", ratio=2, overflow="fold")
    table.add_column("Phối hợp", ratio=2, overflow="fold")
    table.add_column("Trạng thái", no_wrap=True)
    for row in rows:
        # Text(): a title such as "[Quý I]" must not be read as Rich markup.
        task = Text(row["title"])
        task.append(f"\n{row['rule']} {row['key']}", style="dim")
        table.add_row(
            Text(format_vi(date.fromisoformat(row["due"]))),
            Text(row.get("plan_item") or ""),
            task,
            Text(row["lead_name"]),
            Text(", ".join(row.get("coordinating_names") or ())),
            Text(STATUS_VI.get(row["status"], row["status"])),
        )
    console.print(table)
    console.print(f"{len(rows)} hạn")


__all__ = ["CSV_COLUMNS", "involving", "plan_rows", "print_table", "rows_csv"]
