"""The tracking report (SPEC §5.1 ``hanchot report``) as rows, CSV, XLSX and SVG.

Columns follow the plan's own table — STT, Nội dung công việc, Thời gian thực hiện,
Đơn vị chủ trì, Đơn vị phối hợp, Kết quả — then the status, the completion date, the
working days late and the result document.
"""

from __future__ import annotations

import csv
import io
from html import escape

from engine.core.config import Config
from engine.report import spreadsheet_cell
from engine.web.views import CATEGORIES, ReportLine

HEADER = [
    "STT",
    "Nội dung công việc",
    "Thời gian thực hiện",
    "Đơn vị chủ trì",
    "Đơn vị phối hợp",
    "Kết quả",
    "Tình trạng",
    "Ngày hoàn thành",
    "Số ngày làm việc chậm",
    "Văn bản kết quả",
]
CATEGORY_VI = dict(CATEGORIES)


def _name(config: Config, ref: str) -> str:
    try:
        return config.directory.name_of(ref)
    except KeyError:
        return ref


def table_rows(config: Config, lines: list[ReportLine]) -> list[list]:
    """One list per deadline, in :data:`HEADER` order; dates as ``dd/mm/yyyy``."""
    outputs = {r.id: r.output or "" for r in config.rules}
    out = []
    for i, ln in enumerate(lines, 1):
        r = ln.row
        out.append(
            [
                i,
                r.title,
                r.due.strftime("%d/%m/%Y"),
                _name(config, r.lead),
                "; ".join(_name(config, c) for c in r.coordinating or ()),
                outputs.get(r.rule_id, ""),
                CATEGORY_VI[ln.category],
                ln.finished.strftime("%d/%m/%Y") if ln.finished else "",
                ln.late_working_days,
                r.evidence or "" if r.status == "done" else "",
            ]
        )
    return out


def to_csv(config: Config, lines: list[ReportLine]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    # Formula injection: no cell a user typed (titles, evidence) may start a formula.
    w.writerows([spreadsheet_cell(v) for v in row] for row in table_rows(config, lines))
    return buf.getvalue()


def to_xlsx(config: Config, lines: list[ReportLine], totals: dict[str, dict[str, int]]) -> bytes:
    """A workbook: sheet "Chi tiết" (the table) and "Tổng hợp" (counts per unit)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    wb = Workbook(write_only=True)  # streamed: a year of 100,000 deadlines fits in memory
    ws = wb.create_sheet("Chi tiết")
    for col, width in zip("ABCDEFGHIJ", (6, 60, 14, 30, 30, 30, 26, 14, 12, 40), strict=True):
        ws.column_dimensions[col].width = width

    def bold_row(sheet, values):
        cells = []
        for v in values:
            cell = WriteOnlyCell(sheet, value=v)
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            cells.append(cell)
        sheet.append(cells)

    bold_row(ws, HEADER)
    for row in table_rows(config, lines):
        ws.append([spreadsheet_cell(v) if isinstance(v, str) else v for v in row])
    ws2 = wb.create_sheet("Tổng hợp")
    bold_row(ws2, ["Đơn vị chủ trì", *CATEGORY_VI.values()])
    for unit, c in totals.items():
        ws2.append([spreadsheet_cell(_name(config, unit)), *(c[k] for k, _ in CATEGORIES)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


COLORS = {
    "done_on_time": "#1e6b34",
    "done_late": "#8a5a00",
    "open_in_time": "#0b57d0",
    "open_late": "#b3261e",
    "waived": "#8a94a0",
}


def bar_chart(config: Config, totals: dict[str, dict[str, int]]) -> str:
    """A horizontal stacked bar per unit, as inline SVG (no script, no external file)."""
    bar_h, gap, label_w, width = 22, 8, 220, 600
    biggest = max((sum(c.values()) for c in totals.values()), default=0) or 1
    scale = (width - label_w - 40) / biggest
    height = len(totals) * (bar_h + gap) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="Biểu đồ số hạn theo đơn vị" '
        f'style="width:100%;max-width:{width}px;height:auto">'
    ]
    for i, (unit, c) in enumerate(totals.items()):
        y = i * (bar_h + gap) + 4
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h * 0.7:.0f}" text-anchor="end" '
            f'font-size="12">{escape(_name(config, unit)[:32])}</text>'
        )
        x = label_w
        for key, label in CATEGORIES:
            n = c[key]
            if not n:
                continue
            w = n * scale
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{COLORS[key]}"><title>{escape(label)}: {n}</title></rect>'
            )
            if w > 14:
                parts.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + bar_h * 0.7:.0f}" text-anchor="middle" '
                    f'font-size="12" fill="#fff">{n}</text>'
                )
            x += w
    parts.append("</svg>")
    return "".join(parts)
