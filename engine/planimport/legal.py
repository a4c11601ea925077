"""Legal documents that have been replaced, and the rules that still cite them.

The data (``replaced_documents.yaml`` in this package) lists each replaced document
with its successor, the date the successor takes effect and the article that says
so. :func:`replaced_citations` finds the rules whose ``basis`` cites a replaced
document for a year after the replacement; a year in which the old document was in
force, even for a day, never gets a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources

from engine.core.plan_phrases import fold
from engine.core.rules import After, Before, EndOf, Every, On, RRule, Rule


@dataclass(frozen=True, slots=True)
class Replacement:
    replaced: str  # "61/2018/NĐ-CP"
    kind: str  # "Nghị định"
    by: str
    by_kind: str
    effective: date  # the successor's first day in force
    source: str

    @property
    def last_year_in_force(self) -> int:
        """The last year in which the replaced document was in force for a day or more."""
        return (self.effective - timedelta(days=1)).year

    def cited_in(self, text: str) -> bool:
        """Whether ``text`` cites this document (``61/2018/NĐ-CP``, ``Nghị định số 61/2018``)."""
        number, _sep, suffix = self.replaced.partition("/")[2].partition("/")
        head = self.replaced.split("/")[0]
        pattern = rf"(?<![\d/]){re.escape(head)}/{re.escape(number)}(?:/([a-z0-9-]+))?"
        for m in re.finditer(pattern, fold(text)):
            if m.group(1) is None or m.group(1) == fold(suffix):
                return True
        return False


@lru_cache(maxsize=1)
def replacements() -> tuple[Replacement, ...]:
    """The replaced documents shipped with hanchot."""
    import yaml

    text = (
        resources.files("engine.planimport")
        .joinpath("replaced_documents.yaml")
        .read_text(encoding="utf-8")
    )
    out = []
    for d in yaml.safe_load(text)["documents"]:
        eff = d["effective"]
        out.append(
            Replacement(
                replaced=str(d["replaced"]),
                kind=str(d["kind"]),
                by=str(d["by"]),
                by_kind=str(d["by_kind"]),
                effective=eff if isinstance(eff, date) else date.fromisoformat(str(eff)),
                source=" ".join(str(d["source"]).split()),
            )
        )
    return tuple(out)


def rule_years(rule: Rule) -> tuple[int, int | None] | None:
    """(first, last) year a rule's deadlines fall in; last ``None`` = open-ended;
    ``None`` for event-driven rules (they have no year of their own)."""
    form = rule.due
    if isinstance(form, On | Before):
        return form.date.year, form.date.year
    if isinstance(form, EndOf):
        return form.period.year, form.period.year
    if isinstance(form, Every | RRule):
        first = form.start.year if form.start else (form.until.year if form.until else None)
        if first is None:
            return None
        return first, form.until.year if form.until else None
    if isinstance(form, After):
        return None
    return None  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Citation:
    rule: Rule
    year: int  # the first year after the replacement the rule has deadlines in
    replacement: Replacement


def replaced_citations(
    rules: Iterable[Rule], table: Iterable[Replacement] | None = None
) -> list[Citation]:
    """Rules citing a replaced document for a year after the replacement."""
    table = tuple(replacements() if table is None else table)
    out = []
    for rule in rules:
        if not rule.basis:
            continue
        years = rule_years(rule)
        if years is None:
            continue
        first, last = years
        for rep in table:
            if not rep.cited_in(rule.basis):
                continue
            after = rep.last_year_in_force + 1
            if last is None or last >= after:
                out.append(Citation(rule, max(first, after), rep))
    return out


def warning_lines(citations: Iterable[Citation]) -> list[str]:
    """``file:line: warning: ...`` for each citation (person-facing, translated)."""
    from engine.i18n import _

    lines = []
    for c in citations:
        where = f"{c.rule.file}:{c.rule.line}: " if c.rule.file else ""
        lines.append(
            where
            + _(
                "warning: rule {rule!r} has deadlines in {year} but its basis cites "
                "{kind} {old}, replaced by {by_kind} {new} from {effective}"
            ).format(
                rule=c.rule.id,
                year=c.year,
                kind=c.replacement.kind,
                old=c.replacement.replaced,
                by_kind=c.replacement.by_kind,
                new=c.replacement.by,
                effective=c.replacement.effective.strftime("%d/%m/%Y"),
            )
        )
    return lines
