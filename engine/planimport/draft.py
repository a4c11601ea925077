"""Draft rules from a plan's task table, with a review of every decision.

Each numbered row becomes one rule (or, when the row states "trong thời hạn N ngày
kể từ …", one event-driven rule per such phrase), or is listed as a heading when it
has no timing and no unit (items 3 and 18 of the 2022 plan). Every decision carries
how sure it is — ``exact``, ``inferred``, ``todo`` — and why; what cannot be decided
is written as a ``TODO:`` text that ``hanchot check`` rejects, never dropped.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from engine.core.plan_phrases import (
    DEFAULT_EVENT_SPAN,
    DEFAULT_REPORT_DAY,
    EXACT,
    INFERRED,
    TODO,
    TimingDraft,
    deadline_in_text,
    fold,
    is_period,
    is_vague,
    read_timing,
    spans_in_text,
)
from engine.core.unit_match import UnitMatch, UnitMatcher
from engine.core.units import Directory
from engine.errors import InputError
from engine.i18n import _
from engine.planimport.table import PlanRow, PlanTable, Section, one_line

_RANK = {EXACT: 0, INFERRED: 1, TODO: 2}
TITLE_MAX = 150
_BASIS_RE = re.compile(
    r"\b(Luật|Nghị định|Thông tư|Quyết định|Kế hoạch|Công văn|Chỉ thị|Nghị quyết)"
    r"\s+(?:số\s+)?(\d+/(?:\d{4}/)?[A-ZĐ][A-ZĐ0-9]*(?:-[A-ZĐ0-9]+)+)"
)


def worst(*levels: str) -> str:
    return max(levels, key=lambda x: _RANK[x])


@dataclass
class Draft:
    """One drafted rule: the mapping written to YAML, and the review of it."""

    section: Section | None
    row: PlanRow
    rule: dict
    certainty: str
    reasons: list[str]
    comments: list[str]


@dataclass
class Heading:
    row: PlanRow
    reason: str


@dataclass
class ImportResult:
    year: int
    source: str
    drafts: list[Draft] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def files(self) -> dict[str, list[Draft]]:
        """File name → its drafts: one file per section of the table."""
        out: dict[str, list[Draft]] = {}
        for d in self.drafts:
            out.setdefault(section_file(d.section), []).append(d)
        return out


# ------------------------------------------------------------------ helpers
def slug(text: str, words: int = 6, limit: int = 48) -> str:
    parts = re.findall(r"[a-z0-9]+", fold(text))
    out = ""
    for p in parts[:words]:
        if len(out) + len(p) + 1 > limit:
            break
        out = f"{out}-{p}" if out else p
    return out or "muc"


def section_file(section: Section | None) -> str:
    if section is None:
        return "00-chung.yaml"
    return f"{section.number:02d}-{slug(section.title, 5, 40)}.yaml"


def shorten(text: str, limit: int = TITLE_MAX) -> str:
    """A one-line title from a cell: its first bullet's first sentence, at most
    ``limit`` characters (cut at a word, with "…")."""
    first = next((line for line in text.splitlines() if line.strip(" -•+")), "")
    first = first.strip(" -•+").strip()
    sentence = re.split(r"(?<=[a-zà-ỹ)])\.\s", first, maxsplit=1)[0].rstrip(". ;:")
    if len(sentence) <= limit:
        return sentence
    cut = sentence[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def extract_basis(text: str) -> str | None:
    """Legal documents cited in ``text``: ``Nghị định 61/2018/NĐ-CP; Thông tư ...``."""
    seen: list[str] = []
    for m in _BASIS_RE.finditer(" ".join(text.split())):
        ref = f"{m.group(1)} {m.group(2)}"
        if ref not in seen:
            seen.append(ref)
    return "; ".join(seen) or None


def guess_year(table: PlanTable) -> int | None:
    """The year most timing cells name ("Trong năm 2022"), if any."""
    years = Counter(
        int(y)
        for row in table.rows
        for y in re.findall(r"\b(19\d\d|20\d\d|2100)\b", row.text("timing"))
    )
    return years.most_common(1)[0][0] if years else None


def _clip(text: str, limit: int = 90) -> str:
    """A quoted phrase for a comment: no bullet, at most ``limit`` characters."""
    text = text.strip(" -•+")
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _todo_units(m: UnitMatch) -> list[str]:
    return [
        f"TODO: unknown unit {words!r}"
        + (f" (closest: {', '.join(cands)})" if cands else "")
        + "; add an alias in units.yaml or write the id"
        for words, cands in m.unknown
    ]


# ------------------------------------------------------------------ drafting
def draft_rules(
    table: PlanTable,
    directory: Directory,
    *,
    year: int | None = None,
    source: str = "plan",
    report_day: int | str = DEFAULT_REPORT_DAY,
    event_span: str = DEFAULT_EVENT_SPAN,
) -> ImportResult:
    """Draft one rule per numbered row (see the module's docstring).

    Raises :class:`InputError` when the plan's year can be neither read nor is given.
    """
    if year is None:
        year = guess_year(table)
        if year is None:
            raise InputError(_("cannot tell the plan's year from its table; give --year"))
    matcher = UnitMatcher(directory)
    result = ImportResult(year, source, missing_columns=list(table.missing))
    result.notes.extend(table.notes)
    used: set[str] = set()
    for row in table.rows:
        timing_text = one_line(row.text("timing"))
        lead_text = one_line(row.text("lead"))
        coord_text = one_line(row.text("coordinating"))
        if not timing_text and not lead_text and not coord_text:
            result.headings.append(
                Heading(row, "no timing and no unit: a heading for the rows after it")
            )
            continue
        content = row.text("content")
        output = row.text("output")
        where = f"{source}:{row.where}"

        timings: list[tuple[TimingDraft, str]] = []
        cell = read_timing(timing_text, year, report_day=report_day, event_span=event_span)
        if not timing_text:
            cell = TimingDraft(None, TODO, "the Thời gian cell is empty", "")
        spans = spans_in_text(content + "\n" + output, year) if is_vague(cell) else []
        stated = deadline_in_text(output, year) if is_period(cell) else None
        if spans:
            for s in spans:
                timings.append(
                    (
                        s,
                        f"Nội dung/Kết quả: {_clip(s.phrase)!r} wins over Thời gian "
                        f"{timing_text!r}",
                    )
                )
        elif stated is not None:
            timings.append(
                (
                    stated,
                    f"Kết quả states {_clip(stated.phrase)!r}: wins over Thời gian {timing_text!r}",
                )
            )
        else:
            timings.append((cell, f"Thời gian {timing_text!r}"))

        lead_m = matcher.as_lead(matcher.match(lead_text))
        if not lead_text:
            lead_m = UnitMatch((), TODO, "the Chủ trì cell is empty", (("", ()),))
        coord_m = matcher.match(coord_text)
        title_base = shorten(one_line(content) if "\n" not in content else content)
        basis = extract_basis(content + " " + output)
        for n, (t, came_from) in enumerate(timings, start=1):
            title = title_base
            if len(timings) > 1:
                title = shorten(t.phrase)
            rid = f"{slug(title)}-{year}"
            if rid in used:
                k = 2
                while f"{rid}-{k}" in used:
                    k += 1
                rid = f"{rid}-{k}"
            used.add(rid)
            rule: dict = {"id": rid, "title": title or f"TODO: title of item {row.stt}"}
            rule["plan_item"] = row.stt
            if basis:
                rule["basis"] = basis
            if output:
                rule["output"] = one_line(output)
            if lead_m.ids and len(lead_m.ids) == 1:
                rule["lead"] = lead_m.ids[0]
            elif lead_m.unknown and lead_m.unknown[0][0]:
                rule["lead"] = _todo_units(lead_m)[0]
            else:
                rule["lead"] = "TODO: no lead unit in the plan's Chủ trì cell; write a unit id"
            coordinating = [*coord_m.ids, *_todo_units(coord_m)]
            if coordinating:
                rule["coordinating"] = coordinating
            if t.due is None:
                rule["due"] = f"TODO: could not read the timing {t.phrase!r} ({t.reason})"
            else:
                rule["due"] = dict(t.due)
            rule["details"] = clean_details(content)
            reasons = [
                f"due: {t.reason}",
                f"lead: {lead_m.reason}",
            ]
            if coord_text:
                reasons.append(f"coordinating: {coord_m.reason}")
            comments = [
                f"Mục {row.stt} — {where}",
                f"hạn ← {came_from} → {_flow(t.due) if t.due else 'TODO'} ({t.certainty})",
                f"chủ trì ← {lead_text!r} ({lead_m.certainty})",
            ]
            if coord_text:
                comments.append(f"phối hợp ← {coord_text!r} ({coord_m.certainty})")
            periodic = re.search(r"\bdinh ky\b", fold(content + " " + output))
            if periodic and "every" not in (t.due or {}):
                hint = (
                    "hint: the row also mentions a periodic duty ('định kỳ'); "
                    "consider a separate 'every' rule"
                )
                reasons.append(hint)
                comments.append(hint)
            sure = worst(t.certainty, lead_m.certainty, coord_m.certainty if coord_text else EXACT)
            if len(timings) > 1:
                reasons.append(f"row split: rule {n} of {len(timings)} for this row")
            result.drafts.append(Draft(row.section, row, rule, sure, reasons, comments))
    return result


def clean_details(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


# ------------------------------------------------------------------ writing
def _flow(value) -> str:
    return yaml.safe_dump(
        value, allow_unicode=True, default_flow_style=True, width=10**6, sort_keys=False
    ).strip()


def _scalar(value) -> str:
    text = yaml.safe_dump(value, allow_unicode=True, width=10**6, default_style=None).strip()
    if text.endswith("\n..."):
        text = text[:-4].strip()
    return text


def _block(key: str, text: str, indent: str) -> list[str]:
    if "\n" not in text:
        return [f"{indent}{key}: {_scalar(text)}"]
    return [f"{indent}{key}: |-", *(f"{indent}  {line}" for line in text.splitlines())]


def render_file(result: ImportResult, drafts: list[Draft]) -> str:
    """One rules file of drafts, with a comment for each decision."""
    section = drafts[0].section
    head = [
        f"# Bản nháp của `hanchot import-plan` từ {result.source} (năm {result.year}).",
        "# Kiểm tra từng quy tắc, sửa mọi 'TODO:' rồi chạy `hanchot check`.",
    ]
    if section is not None:
        head.insert(0, f"# Mục {section.label}. {section.title}")
    lines = [*head, "", "rules:"]
    for d in drafts:
        lines.append("")
        lines.extend(f"  # {c}" for c in d.comments)
        first = True
        for key, value in d.rule.items():
            indent = "  - " if first else "    "
            first = False
            if key == "due" and isinstance(value, dict):
                lines.append(f"{indent}due: {_flow(value)}")
            elif key == "coordinating":
                lines.append(f"{indent}coordinating: {_flow(value)}")
            elif isinstance(value, str):
                lines.extend(_block(key, value, indent))
            else:
                lines.append(f"{indent}{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"


def write_drafts(result: ImportResult, out: Path, *, force: bool = False) -> list[Path]:
    """Write one rules file per section into ``out``; never overwrite without ``force``."""
    files = result.files()
    targets = [out / name for name in files]
    if not force:
        taken = [p for p in [*targets, out / REVIEW_FILE] if p.exists()]
        if taken:
            raise InputError(
                _(
                    "{path} exists; choose another --out or add --force to overwrite "
                    "({n} file(s) would be replaced)"
                ).format(path=taken[0], n=len(taken))
            )
    out.mkdir(parents=True, exist_ok=True)
    for (_name, drafts), path in zip(files.items(), targets, strict=True):
        path.write_text(render_file(result, drafts), encoding="utf-8")
    review = json.dumps(review_data(result, out, targets), ensure_ascii=False, indent=2)
    (out / REVIEW_FILE).write_text(review + "\n", encoding="utf-8")
    return targets


REVIEW_FILE = "import-review.json"


def review_data(result: ImportResult, out: Path, paths: list[Path]) -> dict:
    """The whole review as ``--format json`` prints it and ``import-review.json`` keeps it."""
    return {
        "source": result.source,
        "year": result.year,
        "out": str(out),
        "files": [str(p) for p in paths],
        "missing_columns": result.missing_columns,
        "notes": result.notes,
        "rows": review_rows(result),
    }


def review_rows(result: ImportResult) -> list[dict]:
    """The review report: per row what was decided, how sure (exact, inferred, todo), why."""
    rows: list[dict] = []
    for d in result.drafts:
        rows.append(
            {
                "plan_item": d.row.stt,
                "source": f"{result.source}:{d.row.where}",
                "file": section_file(d.section),
                "rule": d.rule["id"],
                "decision": "rule",
                "due": d.rule["due"],
                "lead": d.rule.get("lead"),
                "coordinating": d.rule.get("coordinating", []),
                "certainty": d.certainty,
                "why": d.reasons,
            }
        )
    for h in result.headings:
        rows.append(
            {
                "plan_item": h.row.stt,
                "source": f"{result.source}:{h.row.where}",
                "file": None,
                "rule": None,
                "decision": "heading",
                "due": None,
                "lead": None,
                "coordinating": [],
                "certainty": EXACT,
                "why": [h.reason],
            }
        )

    def order(r: dict) -> tuple:
        parts = [int(p) if p.isdigit() else 0 for p in str(r["plan_item"]).split(".")]
        return (parts, r["rule"] or "")

    rows.sort(key=order)
    return rows
