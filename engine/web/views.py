"""What the portal's pages show, read from the store (no HTML here, no changes).

Kept apart from the ASGI app so the same queries serve the pages, the CLI's report
and the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.core.config import Config
from engine.core.periods import Period, parse_period
from engine.store.portal_ops import Person, concerned_units
from engine.store.portal_tables import acknowledgements, attachments, extensions, reports
from engine.store.tables import CANCELLED, DONE, OPEN, REPORTED, WAIVED, audit, deadlines

SOON_WORKING_DAYS = 5


def today_of(config: Config, now: datetime) -> date:
    return now.astimezone(ZoneInfo(config.settings.timezone)).date()


def quarter_bounds(d: date) -> tuple[date, date]:
    p = Period.containing("quarter", d)
    return p.start, p.end


def local_date(config: Config, instant: datetime | None) -> date | None:
    if instant is None:
        return None
    return instant.astimezone(ZoneInfo(config.settings.timezone)).date()


#: Deadlines shown per section of the list; the rest are counted ("và N hạn khác").
SECTION_LIMIT = 50
#: Sections are counted up to this many; above, the page says "more than 1000".
COUNT_CAP = 1000


@dataclass
class Section:
    key: str
    label: str
    rows: list
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)

    @property
    def capped(self) -> bool:
        return self.total > COUNT_CAP


@dataclass
class MyList:
    """The recipient's list, in the order the issue asks for."""

    sections: list[Section] = field(default_factory=list)

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


def _refs_for(config: Config, units: frozenset[str]) -> set[str]:
    """Every unit, group or role id whose members include one of ``units``."""
    d = config.directory
    out = set(units)
    for ref in list(d.groups) + list(d.roles):
        try:
            if set(d.expand(ref)) & units:
                out.add(ref)
        except KeyError:
            continue
    return out


LIST_COLUMNS = (
    deadlines.c.id,
    deadlines.c.rule_id,
    deadlines.c.key,
    deadlines.c.title,
    deadlines.c.plan_item,
    deadlines.c.due,
    deadlines.c.lead,
    deadlines.c.status,
)


def my_list(
    session: Session, config: Config, who: Person, now: datetime, limit: int = SECTION_LIMIT
) -> MyList:
    """Deadlines ``who``'s units lead or coordinate (all of them for the focal point and
    the director): overdue first (most overdue first), then due within 5 working days,
    reported ones waiting for confirmation, the rest of the quarter, and those of the
    quarter already closed. At most ``limit`` rows per section, with the total."""
    today = today_of(config, now)
    q_start, q_end = quarter_bounds(today)
    soon = config.calendar.add_working_days(today, SOON_WORKING_DAYS)
    c = deadlines.c
    mine = sa.true()
    if not (who.is_admin or who.is_director):
        refs = sorted(_refs_for(config, who.units))
        coord = sa.cast(c.coordinating, sa.String)
        # Exact: JSON lists are written ["a", "b"]; every ref is [a-z0-9-]+.
        mine = sa.or_(c.lead.in_(refs), *(coord.like(f'%"{r}"%') for r in refs))
    parts = [
        ("overdue", "Quá hạn", sa.and_(c.status == OPEN, c.due < today), c.due),
        ("soon", "Sắp đến hạn", sa.and_(c.status == OPEN, c.due >= today, c.due <= soon), c.due),
        ("reported", "Đã báo cáo, chờ xác nhận", c.status == REPORTED, c.due),
        (
            "later",
            "Còn lại trong quý",
            sa.and_(c.status == OPEN, c.due > soon, c.due <= q_end),
            c.due,
        ),
        (
            "done",
            "Đã xong trong quý",
            sa.and_(c.status.in_((DONE, WAIVED)), c.due >= q_start, c.due <= q_end),
            c.due.desc(),
        ),
    ]
    out = MyList()
    for key, label, where, order in parts:
        cond = sa.and_(where, mine)
        rows = session.execute(
            sa.select(*LIST_COLUMNS).where(cond).order_by(order, c.id).limit(limit)
        ).all()
        total = len(rows)
        if total == limit:  # counted up to COUNT_CAP ("more than 1000")
            capped = sa.select(c.id).where(cond).limit(COUNT_CAP + 1).subquery()
            total = session.execute(sa.select(sa.func.count()).select_from(capped)).scalar()
        out.sections.append(Section(key, label, rows, total))
    return out


def history(session: Session, deadline_id: int) -> list:
    return session.execute(
        sa.select(audit)
        .where(audit.c.entity == "deadline", audit.c.entity_id == deadline_id)
        .order_by(audit.c.at, audit.c.id)
    ).all()


def reports_of(session: Session, deadline_id: int) -> list[tuple]:
    """(report, [attachments]) of a deadline, newest first."""
    reps = session.execute(
        sa.select(reports).where(reports.c.deadline_id == deadline_id).order_by(reports.c.id.desc())
    ).all()
    out = []
    for rep in reps:
        atts = session.execute(
            sa.select(attachments)
            .where(attachments.c.report_id == rep.id)
            .order_by(attachments.c.id)
        ).all()
        out.append((rep, atts))
    return out


def extensions_of(session: Session, deadline_id: int) -> list:
    return session.execute(
        sa.select(extensions)
        .where(extensions.c.deadline_id == deadline_id)
        .order_by(extensions.c.id.desc())
    ).all()


def acks_of(session: Session, deadline_id: int) -> list:
    return session.execute(
        sa.select(acknowledgements)
        .where(acknowledgements.c.deadline_id == deadline_id)
        .order_by(acknowledgements.c.at)
    ).all()


# ------------------------------------------------------------------ overview / report
CATEGORIES = (
    ("done_on_time", "Đã hoàn thành đúng hạn"),
    ("done_late", "Đã hoàn thành quá hạn"),
    ("open_in_time", "Chưa hoàn thành trong hạn"),
    ("open_late", "Chưa hoàn thành quá hạn"),
    ("waived", "Không phải thực hiện"),
)


def category(config: Config, row, today: date) -> str | None:
    """The Government's tracking category of one deadline as of ``today``.

    Done deadlines are judged by the day the unit reported (``reported_at``), else
    the day they were closed; open and reported-but-unconfirmed ones by today.
    """
    if row.status == CANCELLED:
        return None
    if row.status == WAIVED:
        return "waived"
    if row.status == DONE:
        finished = local_date(config, row.reported_at or row.closed_at)
        return "done_on_time" if finished <= row.due else "done_late"
    return "open_late" if row.due < today else "open_in_time"


@dataclass
class ReportLine:
    """One deadline of the period, as the plan's table shows it plus its status."""

    row: object
    category: str
    finished: date | None
    late_working_days: int


def period_report(
    session: Session, config: Config, period: str, now: datetime, unit: str | None = None
) -> tuple[date, date, list[ReportLine]]:
    """Every deadline due in ``period`` (``2022-Q2``, ``2022-H1``, ``2022``) with its
    category; raises :class:`~engine.errors.InputError` for a bad period or unit."""
    from engine.errors import InputError

    p = parse_period(period)
    start, end = p.start, p.end
    today = today_of(config, now)
    q = (
        sa.select(deadlines)
        .where(deadlines.c.due >= start, deadlines.c.due <= end, deadlines.c.status != CANCELLED)
        .order_by(deadlines.c.due, deadlines.c.rule_id, deadlines.c.key)
    )
    want = None
    if unit is not None:
        if not config.directory.known(unit):
            raise InputError(f"unknown unit {unit!r}; see config/units.yaml")
        want = set(config.directory.expand(unit))
    out = []
    for r in session.execute(q):
        if want is not None and not (want & concerned_units(config.directory, r)):
            continue
        cat = category(config, r, today)
        finished = local_date(config, r.reported_at or r.closed_at) if r.status == DONE else None
        upto = finished if finished is not None else (today if r.status != WAIVED else None)
        late = 0
        if upto is not None and upto > r.due:
            late = config.calendar.working_days_between(r.due, upto)
        out.append(ReportLine(r, cat, finished, late))
    return start, end, out


def counts(lines: list[ReportLine], key) -> dict[str, dict[str, int]]:
    """``key(line)`` (a unit, a plan item) → category → count."""
    out: dict[str, dict[str, int]] = {}
    for ln in lines:
        bucket = out.setdefault(key(ln), {c: 0 for c, _ in CATEGORIES})
        bucket[ln.category] += 1
    return out


def period_counts(
    session: Session, config: Config, period: str, now: datetime
) -> tuple[date, date, dict, dict, int]:
    """The overview's figures only: (start, end, by lead unit, by plan item, total).

    Same categories as :func:`period_report`, from six columns per deadline instead of
    whole rows (the overview of 100,000 deadlines must render in 50 ms).
    """
    p = parse_period(period)
    today = today_of(config, now)
    zone = ZoneInfo(config.settings.timezone)
    c = deadlines.c
    rows = session.execute(
        sa.select(c.lead, c.plan_item, c.status, c.due, c.reported_at, c.closed_at).where(
            c.due >= p.start, c.due <= p.end, c.status != CANCELLED
        )
    ).all()
    blank = {k: 0 for k, _ in CATEGORIES}
    by_unit: dict[str, dict[str, int]] = {}
    by_item: dict[str, dict[str, int]] = {}
    for lead, item, status, due, reported_at, closed_at in rows:
        if status == WAIVED:
            cat = "waived"
        elif status == DONE:
            finished = (reported_at or closed_at).astimezone(zone).date()
            cat = "done_on_time" if finished <= due else "done_late"
        else:
            cat = "open_late" if due < today else "open_in_time"
        u = by_unit.get(lead)
        if u is None:
            u = by_unit[lead] = dict(blank)
        u[cat] += 1
        i = by_item.get(item or "—")
        if i is None:
            i = by_item[item or "—"] = dict(blank)
        i[cat] += 1
    return p.start, p.end, by_unit, by_item, len(rows)
