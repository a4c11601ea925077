"""``hanchot web``: the portal (SPEC §5.1), served by uvicorn."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from engine.cli import DEFAULT_CONFIG, DEFAULT_RULES, ConfigOpt, RulesOpt, _dump_json, _out, app
from engine.commands.store_cmds import NowOpt, parse_now
from engine.errors import InputError
from engine.i18n import _


@app.command()
def web(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    now: NowOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Cổng web: đơn vị báo cáo hoàn thành, đề nghị gia hạn, xác nhận đã tiếp nhận."""
    import uvicorn

    from engine.daemon import setup_logging
    from engine.web.serve import build

    if not 0 < port < 65536:
        raise InputError(_("--port {port} is not a TCP port (1-65535)").format(port=port))
    if now is None:
        clock = lambda: datetime.now(UTC)  # noqa: E731
    else:
        fixed = parse_now(now)  # a frozen clock: demos and tests of a past plan
        clock = lambda: fixed  # noqa: E731
    setup_logging()
    asgi = build(config, rules, os.environ, clock)
    typer.echo(
        _("hanchot web: serving on http://{host}:{port}/ (Ctrl-C stops)").format(
            host=host, port=port
        ),
        err=True,
    )
    try:
        uvicorn.run(asgi, host=host, port=port, log_level="warning", server_header=False)
    except OSError as e:
        raise InputError(
            _("cannot listen on {host}:{port}: {error}").format(host=host, port=port, error=e)
        ) from None


@app.command()
def report(
    period: Annotated[str, typer.Option("--period", help="2022-Q2, 2022-H1 or 2022.")],
    unit: Annotated[str | None, typer.Option("--unit", help="Only this unit or group.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json | csv | xlsx")] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", help="Write to this file (required for xlsx).")
    ] = None,
    now: NowOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Báo cáo theo dõi: đúng hạn, quá hạn, chưa xong trong hạn, chưa xong quá hạn."""
    from engine.commands.store_cmds import open_store
    from engine.web import export, views

    if fmt not in ("table", "json", "csv", "xlsx"):
        raise InputError(
            _("unknown --format {fmt!r}; use table, json, csv or xlsx").format(fmt=fmt)
        )
    if fmt == "xlsx" and output is None:
        raise InputError(_("--format xlsx needs --output FILE.xlsx"))
    at = parse_now(now)
    cfg, sessions = open_store(config, rules, at)
    with sessions() as s:
        start, end, lines = views.period_report(s, cfg, period, at, unit)
    by_unit = views.counts(lines, lambda ln: ln.row.lead)
    by_item = views.counts(lines, lambda ln: ln.row.plan_item or "")
    if fmt == "xlsx":
        output.write_bytes(export.to_xlsx(cfg, lines, by_unit))
        return
    if fmt == "csv":
        text = export.to_csv(cfg, lines)
    elif fmt == "json":
        text = _dump_json(
            {
                "period": period,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "by_unit": by_unit,
                "by_plan_item": by_item,
                "deadlines": [
                    {
                        "rule": ln.row.rule_id,
                        "key": ln.row.key,
                        "title": ln.row.title,
                        "plan_item": ln.row.plan_item,
                        "due": ln.row.due.isoformat(),
                        "original_due": ln.row.original_due.isoformat()
                        if ln.row.original_due
                        else None,
                        "lead": ln.row.lead,
                        "coordinating": list(ln.row.coordinating or ()),
                        "status": ln.row.status,
                        "category": ln.category,
                        "finished": ln.finished.isoformat() if ln.finished else None,
                        "late_working_days": ln.late_working_days,
                        "evidence": ln.row.evidence if ln.row.status == "done" else None,
                    }
                    for ln in lines
                ],
            }
        )
    else:
        width = max((len(cfg.directory.name_of(u)) for u in by_unit), default=10)
        heads = [label for _k, label in views.CATEGORIES]
        rows = [f"{'Đơn vị chủ trì':<{width}} | " + " | ".join(heads)]
        for u, c in by_unit.items():
            cells = [f"{c[k]:>{len(label)}}" for k, label in views.CATEGORIES]
            rows.append(f"{cfg.directory.name_of(u):<{width}} | " + " | ".join(cells))
        rows.append(f"{start.strftime('%d/%m/%Y')} – {end.strftime('%d/%m/%Y')}: {len(lines)}")
        text = "\n".join(rows)
    if output is not None:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    else:
        _out(text.rstrip("\n"))
