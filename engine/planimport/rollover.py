"""``hanchot rules rollover``: copy one year's rules to another year.

Every date (``on``, ``before``, ``from``, ``until``) keeps its day and month in the
new year — "trước ngày 30/7" stays 30/7, and 29/02 becomes 28/02 when the new year
has none; every period (``end_of: 2022-Q1``) keeps its kind ("trong Quý I" stays a
quarter). Ids end in the new year (``-2022`` replaced, else ``-2023`` added) so both
years can live side by side. What cannot be moved mechanically is reported: texts
that name the old year, event-driven rules (they count every event, whichever copy),
rules of other years (not copied).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from engine.core.periods import parse_period
from engine.core.spans import parse_date
from engine.errors import InputError
from engine.i18n import _
from engine.loader.config import rule_paths
from engine.loader.yamlio import load_yaml

TEXT_KEYS = ("title", "output", "basis", "details")


@dataclass
class RolloverReport:
    from_year: int
    to_year: int
    out: Path
    files: list[Path] = field(default_factory=list)
    moved: int = 0
    notes: list[tuple[str, str, str]] = field(default_factory=list)  # file, rule, message

    def note(self, file: str, rule: str, message: str) -> None:
        self.notes.append((file, rule, message))

    def lines(self) -> list[str]:
        out = [
            _("{n} rules moved from {y1} to {y2} in {files} files under {out}").format(
                n=self.moved,
                y1=self.from_year,
                y2=self.to_year,
                files=len(self.files),
                out=self.out,
            )
        ]
        if self.notes:
            out.append(_("To review (not moved mechanically):"))
            out.extend(f"  {f} {r}: {m}" for f, r, m in self.notes)
        return out


def move_date(d: date, years: int) -> tuple[date, bool]:
    """``d`` with its year moved by ``years``; (date, True) when 29/02 became 28/02."""
    try:
        return d.replace(year=d.year + years), False
    except ValueError:  # 29 February into a common year
        return d.replace(year=d.year + years, day=28), True


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def rule_years(due: dict) -> tuple[int | None, int | None]:
    """First and last year a due mapping's dates can fall in (None: open or none)."""
    if "on" in due or "before" in due:
        y = parse_date(str(due.get("on", due.get("before")))).year
        return y, y
    if "end_of" in due:
        y = parse_period(due["end_of"]).year
        return y, y
    if "every" in due or "rrule" in due:
        first = parse_date(str(due["from"])).year if due.get("from") else None
        last = parse_date(str(due["until"])).year if due.get("until") else None
        return first, last
    return None, None


def new_id(rid: str, y1: int, y2: int) -> str:
    if re.search(rf"-{y1}$", rid):
        return rid[: -len(str(y1))] + str(y2)
    return f"{rid}-{y2}"


def roll_rule(rule: dict, y1: int, y2: int, note) -> dict:
    """A copy of ``rule`` (a plain mapping of a rules file) moved from ``y1`` to ``y2``."""
    years = y2 - y1
    out = dict(rule)
    rid = str(rule.get("id"))
    out["id"] = new_id(rid, y1, y2)
    due = dict(rule.get("due") or {})
    for key in ("on", "before", "from", "until"):
        if key in due and due[key] is not None:
            moved, clamped = move_date(parse_date(str(due[key])), years)
            if clamped:
                note(
                    _("{key}: 29/02/{old} has no {new} twin; 28/02 used").format(
                        key=key, old=moved.year - years, new=moved.year
                    )
                )
            due[key] = moved.isoformat()
    if "end_of" in due:
        p = parse_period(due["end_of"])
        key = p.key.replace(str(p.year), str(p.year + years), 1)
        due["end_of"] = key if p.kind != "year" else str(p.year + years)
    if "rrule" in due and re.search(r"UNTIL=|COUNT=", str(due["rrule"]), re.I):
        note(_("rrule has UNTIL or COUNT: check it by hand"))
    if "after" in due:
        note(
            _(
                "event-driven ({event}): not tied to a year; with both years' rules "
                "loaded each event makes two deadlines: keep one of the two rules"
            ).format(event=due["after"])
        )
    out["due"] = due
    for key in TEXT_KEYS:
        text = rule.get(key)
        if isinstance(text, str) and re.search(rf"\b{y1}\b", text):
            note(_("{key} names {year}: review the text").format(key=key, year=y1))
    return out


def roll_over_dir(
    rules_dir: Path, out: Path, y1: int, y2: int, *, force: bool = False
) -> RolloverReport:
    """Write the rules of year ``y1`` found in ``rules_dir`` into ``out`` moved to ``y2``.

    Raises :class:`InputError` when the years are equal, ``out`` is ``rules_dir``,
    or a target file exists (without ``force``).
    """
    from engine.core.calendar import FIRST_YEAR, LAST_YEAR

    if y1 == y2:
        raise InputError(_("--from-year and --to-year are both {year}").format(year=y1))
    for y in (y1, y2):
        if not FIRST_YEAR <= y <= LAST_YEAR:
            raise InputError(
                _("year {year} is outside {first}–{last}").format(
                    year=y, first=FIRST_YEAR, last=LAST_YEAR
                )
            )
    if out.resolve() == rules_dir.resolve():
        raise InputError(
            _("--out {out} is the rules directory itself; choose another").format(out=out)
        )
    report = RolloverReport(y1, y2, out)
    written: list[tuple[Path, str]] = []
    for path in rule_paths(rules_dir):
        data = _plain(load_yaml(path)) or {}
        rolled = []
        for rule in data.get("rules") or []:
            rid = str(rule.get("id"))
            due = rule.get("due") or {}
            first, last = rule_years(due)
            if first is not None and (first > y1 or (last is not None and last < y1)):
                report.note(path.name, rid, _("not of {year}: not copied").format(year=y1))
                continue
            rolled.append(
                roll_rule(rule, y1, y2, lambda m, f=path.name, rid=rid: report.note(f, rid, m))
            )
        if not rolled:
            continue
        head = (
            f"# {path.name} chuyển từ năm {y1} sang năm {y2} bằng `hanchot rules rollover`.\n"
            "# Chú thích của tệp gốc không được chép; xem tệp gốc và báo cáo chuyển năm.\n"
        )
        body = yaml.safe_dump({"rules": rolled}, allow_unicode=True, sort_keys=False, width=100)
        written.append((out / path.name, head + body))
        report.moved += len(rolled)
    if not force:
        taken = [p for p, _text in written if p.exists()]
        if taken:
            raise InputError(
                _("{path} exists; choose another --out or add --force").format(path=taken[0])
            )
    out.mkdir(parents=True, exist_ok=True)
    for p, text in written:
        p.write_text(text, encoding="utf-8")
        report.files.append(p)
    return report
