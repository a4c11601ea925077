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


@dataclass
class MyList:
    """The recipient's list, in the order the issue asks for."""

    overdue: list = field(default_factory=list)
    soon: list = field(default_factory=list)
    reported: list = field(default_factory=list)
    later: list = field(default_factory=list)
    done: list = field(default_factory=list)

    @property
    def sections(self) -> list[tuple[str, str, list]]:
        return [
            ("overdue", "Quá hạn", self.overdue),
            ("soon", "Sắp đến hạn", self.soon),
            ("reported", "Đã báo cáo, chờ xác nhận", self.reported),
            ("later", "Còn lại trong quý", self.later),
            ("done", "Đã xong", self.done),
        ]


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


def my_list(session: Session, config: Config, who: Person, now: datetime) -> MyList:
    """Deadlines ``who``'s units lead or coordinate (all of them for the focal point and
    the director): overdue first, then due within 5 working days, then reported ones,
    the rest of the quarter, and those closed this quarter."""
    today = today_of(config, now)
    q_start, q_end = quarter_bounds(today)
    soon = config.calendar.add_working_days(today, SOON_WORKING_DAYS)
    cols = (
        deadlines.c.id,
        deadlines.c.rule_id,
        deadlines.c.key,
        deadlines.c.title,
        deadlines.c.plan_item,
        deadlines.c.due,
        deadlines.c.lead,
        deadlines.c.coordinating,
        deadlines.c.status,
        deadlines.c.closed_at,
        deadlines.c.reported_at,
    )
    q = sa.select(*cols).where(
        sa.or_(
            sa.and_(deadlines.c.status.in_((OPEN, REPORTED)), deadlines.c.due <= q_end),
            sa.and_(
                deadlines.c.status.in_((DONE, WAIVED)),
                deadlines.c.due >= q_start,
                deadlines.c.due <= q_end,
            ),
        )
    )
    everyone = who.is_admin or who.is_director
    refs = _refs_for(config, who.units)
    if not everyone:
        # Lead matched in SQL; coordinating (a JSON list) checked below.
        coord = sa.cast(deadlines.c.coordinating, sa.String)
        like = [coord.like(f'%"{r}"%') for r in refs]
        q = q.where(sa.or_(deadlines.c.lead.in_(refs), *like))
    out = MyList()
    for r in session.execute(q.order_by(deadlines.c.due, deadlines.c.id)):
        if not everyone and not (who.units & concerned_units(config.directory, r)):
            continue
        if r.status in (DONE, WAIVED):
            out.done.append(r)
        elif r.status == REPORTED:
            out.reported.append(r)
        elif r.due < today:
            out.overdue.append(r)
        elif r.due <= soon:
            out.soon.append(r)
        else:
            out.later.append(r)
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
