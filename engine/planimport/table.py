"""Find a plan's task table (Phụ lục "Nội dung, nhiệm vụ cụ thể") and its rows.

Two inputs give the same rows:

* plain text as Word or a PDF viewer exports it: one table row per line, cells
  separated by tabs, the header row repeated after each page break, a row that
  runs over a page break continued on the next page with an empty STT cell,
  HTML fragments (``<p>``, ``<ul>``, ``<i>``) inside cells;
* ``.docx``: the tables as python-docx reads them, merged cells counted once
  (a horizontal merge fills one cell, a vertical merge leaves the cells below
  empty, i.e. a continuation).

Columns are found by their header words, in any order; a column the header lacks
is reported, never guessed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.plan_phrases import fold
from engine.errors import InputError
from engine.i18n import _

#: Column → how its header starts (folded: lower case, no diacritics).
COLUMNS = {
    "stt": ("stt", "tt", "so tt", "so thu tu"),
    "content": ("noi dung",),
    "timing": ("thoi gian", "thoi han", "tien do"),
    "lead": ("don vi chu tri", "co quan chu tri", "chu tri"),
    "coordinating": ("don vi phoi hop", "co quan phoi hop", "phoi hop"),
    "output": ("ket qua", "san pham"),
}
#: How the report names a column (the plan's own words).
COLUMN_NAMES = {
    "stt": "STT",
    "content": "Nội dung (công việc)",
    "timing": "Thời gian (thực hiện|hoàn thành)",
    "lead": "(Đơn vị|Cơ quan) chủ trì",
    "coordinating": "(Đơn vị|Cơ quan) phối hợp",
    "output": "Kết quả|Sản phẩm",
}
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII")
_SECTION_RE = re.compile(r"^(" + "|".join(reversed(_ROMAN)) + r")\b\.?\s*(.*)$")
_ITEM_RE = re.compile(r"^(\d+(?:\.\d+)*)\.?$")


@dataclass(frozen=True, slots=True)
class RawRow:
    """One table row as read: where it is (a line, or ``table T row R``) and its cells."""

    where: int | str
    cells: tuple[str, ...]


#: Between two tables (a line of prose, the end of a docx table).
BREAK = RawRow(0, ())


@dataclass
class Section:
    label: str  # as printed: "II"
    number: int  # in order of appearance: 1, 2, 3...
    title: str
    where: int | str


@dataclass
class PlanRow:
    """One numbered row of the task table, continuation pages joined."""

    stt: str
    section: Section | None
    where: int | str
    cells: dict[str, str] = field(default_factory=dict)

    def text(self, column: str) -> str:
        return clean_cell(self.cells.get(column, ""))


@dataclass
class PlanTable:
    rows: list[PlanRow]
    sections: list[Section]
    missing: list[str]  # columns the header lacks
    notes: list[str]  # what the reader noticed (misnumbered sections...)


# ------------------------------------------------------------------ cells
_BLOCK_TAGS = re.compile(r"<\s*(?:/?p|/?li|br\s*/?|/?ul|/?ol|/?div)\b[^>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>]{1,200}>")


def clean_cell(text: str) -> str:
    """Cell text for people: HTML fragments turned into lines, entities decoded,
    spaces collapsed, empty lines dropped."""
    s = _BLOCK_TAGS.sub("\n", text)
    s = _ANY_TAG.sub("", s)
    s = html.unescape(s).replace("\u00a0", " ")
    lines = (" ".join(line.split()) for line in s.splitlines())
    return "\n".join(line for line in lines if line)


def one_line(text: str) -> str:
    return " ".join(clean_cell(text).split())


_CLOSE_AT_END = re.compile(r"(?:\s*</(?:p|li|ul|ol)>)+\s*$", re.IGNORECASE)
_OPEN_AT_START = re.compile(r"^\s*(?:<(?:p|li|ul|ol)\b[^>]*>\s*)+", re.IGNORECASE)


def join_split(before: str, more: str) -> str:
    """Join a cell's text with its continuation on the next page.

    A page break inside a sentence closes and reopens the HTML paragraph
    ("… ước tính chi</p>" + "<p>phí phải bỏ ra …"): those tags are dropped so the
    sentence stays whole. A new paragraph (after ". ; :" or starting with a capital
    or a bullet) is kept as one.
    """
    close, open_ = _CLOSE_AT_END.search(before), _OPEN_AT_START.match(more)
    if open_:
        head = before[: close.start()] if close else before
        tail = more[open_.end() :]
        text_head = _ANY_TAG.sub("", head).rstrip()
        if text_head and text_head[-1] not in ".;:!?)" and tail[:1].islower():
            return f"{head.rstrip()} {tail.lstrip()}"
    return f"{before} {more}"


# ------------------------------------------------------------------ inputs
def text_rows(text: str) -> Iterator[RawRow]:
    """Rows of exported text: tab-separated lines; other non-empty lines break tables."""
    for n, line in enumerate(text.splitlines(), start=1):
        if "\t" in line:
            yield RawRow(n, tuple(c.strip() for c in line.split("\t")))
        elif line.strip():
            yield BREAK


def docx_rows(path: Path) -> Iterator[RawRow]:
    """Rows of every table of a ``.docx``, merged cells counted once."""
    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
        from docx.oxml.ns import qn
    except ImportError:  # pragma: no cover - a dependency of hanchot
        raise InputError(_("reading .docx needs python-docx (pip install python-docx)")) from None
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as e:
        raise InputError(
            _("{path}: not a readable .docx file ({error})").format(path=path, error=e)
        ) from None
    for t, table in enumerate(document.tables, start=1):
        for r, tr in enumerate(table._tbl.tr_lst, start=1):
            cells: list[str] = []
            for tc in tr.tc_lst:
                span = tc.grid_span
                pr = tc.tcPr
                vmerge = pr.find(qn("w:vMerge")) if pr is not None else None
                continued = vmerge is not None and vmerge.get(qn("w:val")) in (None, "continue")
                paras = ["".join(t.text or "" for t in p.iter(qn("w:t"))) for p in tc.p_lst]
                text = "" if continued else "\n".join(paras)
                cells.append(text)
                cells.extend("" for _k in range(span - 1))
            yield RawRow(f"bảng {t} dòng {r}", tuple(cells))
        yield BREAK


def read_rows(path: Path) -> list[RawRow]:
    """The raw rows of a plan file: ``.docx`` or UTF-8 text (tab-separated cells)."""
    if not path.is_file():
        raise InputError(_("{path}: file not found").format(path=path))
    if path.suffix.lower() == ".docx":
        return list(docx_rows(path))
    if path.suffix.lower() == ".doc":
        raise InputError(
            _("{path}: old Word .doc is not read; save it as .docx or as text").format(path=path)
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(
            _("{path}: not UTF-8 text (byte {byte}); save it as UTF-8").format(
                path=path, byte=e.start
            )
        ) from None
    return list(text_rows(text))


# ------------------------------------------------------------------ the table
def header_columns(cells: Iterable[str]) -> dict[str, int]:
    """Column name → index for a header row (empty when it is not one)."""
    found: dict[str, int] = {}
    for i, cell in enumerate(cells):
        f = fold(one_line(cell)).rstrip(".:")
        for col, starts in COLUMNS.items():
            if col in found:
                continue
            if col == "stt" and f in starts or col != "stt" and f.startswith(starts):
                found[col] = i
                break
    return found


def _is_task_header(cols: dict[str, int]) -> bool:
    return "stt" in cols and len(cols) >= 3


def parse_table(rows: Iterable[RawRow]) -> PlanTable:
    """The numbered rows and sections of every task table among ``rows``.

    Raises :class:`InputError` when there is no task table (no header row with STT
    and at least two other known columns).
    """
    cols: dict[str, int] | None = None
    seen_header = False
    out: list[PlanRow] = []
    sections: list[Section] = []
    missing: list[str] = []
    notes: list[str] = []
    current: PlanRow | None = None
    section: Section | None = None
    section_current = False  # the last row was a section row

    def cell(raw: RawRow, col: str) -> str:
        assert cols is not None
        i = cols.get(col)
        return raw.cells[i] if i is not None and i < len(raw.cells) else ""

    for raw in rows:
        if raw is BREAK or not raw.cells:
            cols, current = None, None
            continue
        header = header_columns(raw.cells)
        if "stt" in header and len(header) >= 2 or fold(raw.cells[0]) == "stt":
            if _is_task_header(header):
                if cols is None and not seen_header:
                    missing = [COLUMN_NAMES[c] for c in COLUMNS if c not in header]
                seen_header = True
                if cols is None:
                    current = None
                # A header repeated after a page break: the next row may continue
                # the current one (empty STT), so keep it.
                cols = header
            else:
                cols, current = None, None  # another table (Phụ lục 2...)
            continue
        if cols is None:
            continue
        stt = one_line(cell(raw, "stt"))
        m_sec = _SECTION_RE.match(stt)
        m_item = _ITEM_RE.match(stt)
        if m_sec and not m_item:
            label, rest = m_sec.group(1), m_sec.group(2).strip()
            title = one_line(rest or cell(raw, "content")).rstrip(".")
            section = Section(label, len(sections) + 1, title, raw.where)
            if sections and label in {s.label for s in sections}:
                notes.append(
                    _(
                        "section {label} at line {where} is numbered {label} again; "
                        "counted as section {counted}"
                    ).format(label=label, where=raw.where, counted=_ROMAN[section.number - 1])
                )
            sections.append(section)
            current, section_current = None, True
            continue
        if stt:
            current = PlanRow(stt.rstrip("."), section, raw.where)
            for col in COLUMNS:
                if col != "stt":
                    current.cells[col] = cell(raw, col)
            out.append(current)
            section_current = False
            continue
        # An empty STT cell: the row continues the previous one on a new page.
        if current is not None:
            for col in COLUMNS:
                if col == "stt":
                    continue
                more = cell(raw, col)
                if more.strip():
                    before = current.cells.get(col, "")
                    current.cells[col] = join_split(before, more) if before else more
        elif section_current and section is not None:
            extra = one_line(cell(raw, "content"))
            if extra:
                section.title = f"{section.title} {extra}"
    if not seen_header:
        raise InputError(
            _(
                "no task table found: no row has the headers STT, Nội dung, Thời gian, "
                "Đơn vị chủ trì, Đơn vị phối hợp, Kết quả"
            )
        )
    return PlanTable(out, sections, missing, notes)
