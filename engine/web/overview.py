"""The overview pages for the focal point and the director: the four tracking
categories per unit and per plan item for a quarter or a year, a bar chart (SVG),
and the same as CSV and XLSX downloads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.core.config import Config
from engine.core.periods import Period
from engine.errors import HanchotError
from engine.store.db import SessionFactory
from engine.web import export, views


def add_overview(
    app: Starlette, config: Config, sessions: SessionFactory, clock: Callable[[], datetime]
) -> None:
    render = app.state.render
    need_session = app.state.need_session

    def allowed(request: Request) -> tuple[bool, str, datetime]:
        who, _sid = need_session(request)
        now = clock()
        period = request.query_params.get("ky") or str(
            Period.containing("quarter", views.today_of(config, now))
        )
        return who.is_admin or who.is_director, period, now

    def figures(request: Request):
        ok, period, now = allowed(request)
        if not ok:
            return None
        with sessions() as s:
            start, end, lines = views.period_report(s, config, period, now)
        return period, start, end, lines

    async def page(request: Request) -> Response:
        ok, period, now = allowed(request)
        if not ok:
            return render(
                request,
                "message.html",
                403,
                title="Không có quyền",
                text="Trang này dành cho đầu mối và Ban Giám đốc.",
            )
        try:
            with sessions() as s:
                start, end, by_unit, by_item, total = views.period_counts(s, config, period, now)
        except HanchotError as e:
            return render(request, "message.html", 400, title="Kỳ không hợp lệ", text=e.message)
        by_item = dict(sorted(by_item.items(), key=lambda kv: _natural(kv[0])))
        return render(
            request,
            "overview.html",
            period=period,
            start=start,
            end=end,
            by_unit=by_unit,
            by_item=by_item,
            categories=views.CATEGORIES,
            chart=Markup(export.bar_chart(config, by_unit)),
            total=total,
            colors=export.COLORS,
        )

    async def download(request: Request) -> Response:
        try:
            got = figures(request)
        except HanchotError as e:
            return Response(e.message, status_code=400, media_type="text/plain; charset=utf-8")
        if got is None:
            return Response("", status_code=403)
        period, _s, _e, lines = got
        fmt = request.path_params["fmt"]
        name = f"bao-cao-{period}.{fmt}"
        disp = {"Content-Disposition": f'attachment; filename="{name}"'}
        if fmt == "csv":
            body = "\ufeff" + export.to_csv(config, lines)  # BOM: Excel reads UTF-8
            return Response(body, media_type="text/csv; charset=utf-8", headers=disp)
        totals = views.counts(lines, lambda ln: ln.row.lead)
        return Response(
            export.to_xlsx(config, lines, totals),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers=disp,
        )

    app.router.routes.append(Route("/tong-quan", page))
    app.router.routes.append(Route("/tong-quan.{fmt:str}", download))


def _natural(text: str) -> tuple:
    """Plan items in the plan's order: "2" before "10", "3a" after "3"."""
    import re

    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.findall(r"\d+|\D+", text))
