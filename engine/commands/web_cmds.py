"""``hanchot web``: the portal (SPEC §5.1), served by uvicorn."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from engine.cli import (
    DEFAULT_CONFIG,
    DEFAULT_RULES,
    ConfigOpt,
    DatabaseOpt,
    RulesOpt,
    _dump_json,
    _out,
    app,
    require_dirs,
)
from engine.commands.store_cmds import NowOpt, parse_now
from engine.errors import InputError
from engine.i18n import _


@app.command()
def web(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    now: NowOpt = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Cổng web: đơn vị báo cáo hoàn thành, đề nghị gia hạn, xác nhận đã tiếp nhận."""
    import uvicorn

    from engine.daemon import setup_logging
    from engine.web.serve import build

    if not 0 < port < 65536:
        raise InputError(_("--port {port} is not a TCP port (1-65535)").format(port=port))
    require_dirs(config, rules)
    if database:
        os.environ["HANCHOT_DATABASE_URL"] = database  # wins over settings.database
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
    database: DatabaseOpt = None,
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
    cfg, sessions = open_store(config, rules, at, database=database, create=False)
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


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``127.0.0.1:8080``, ``[::1]:8080``) → (host, port); InputError else."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(
            _("--web {value!r} is not HOST:PORT (e.g. 127.0.0.1:8080)").format(value=text)
        )
    return host, int(port)


def serve_in_thread(asgi, host: str, port: int):
    """Start uvicorn for ``asgi`` in a daemon thread (``hanchot run --web``); returns the
    server, whose ``should_exit`` stops it."""
    import threading
    import time

    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(asgi, host=host, port=port, log_level="warning", server_header=False)
    )
    thread = threading.Thread(target=server.run, name="hanchot-web", daemon=True)
    thread.start()
    for _i in range(100):  # wait until it listens (or failed to)
        if server.started or not thread.is_alive():
            break
        time.sleep(0.05)
    if not server.started:
        raise InputError(_("cannot listen on {host}:{port}").format(host=host, port=port))
    return server


def run_with_web(config, rules, listen: str, now: str | None, **daemon_options) -> None:
    """``hanchot run --web HOST:PORT``: the daemon, and the portal in the same process;
    ``daemon_options`` (``http``, ``standby``) go to :func:`engine.daemon.run_forever`."""
    from engine import daemon
    from engine.web.serve import build

    host, port = parse_listen(listen)
    if now is not None:
        raise InputError(_("--now is only for --once"))
    asgi = build(config, rules, os.environ, lambda: datetime.now(UTC))
    server = serve_in_thread(asgi, host, port)
    typer.echo(
        _("hanchot web: serving on http://{host}:{port}/ (Ctrl-C stops)").format(
            host=host, port=port
        ),
        err=True,
    )
    try:
        daemon.run_forever(config, rules, os.environ, **daemon_options)
    finally:
        server.should_exit = True


# ------------------------------------------------------------------ portal actions
ext_app = typer.Typer(
    no_args_is_help=True, help="Gia hạn (extensions): request, approve, refuse — as the portal."
)
app.add_typer(ext_app, name="extension")
ByAddr = Annotated[
    str | None,
    typer.Option("--by", help="Acting address from units.yaml (default: settings admin_email)."),
]


def _portal_action(config, rules, now, by, database=None):
    """(config, sessions, person, instant) for a CLI command that acts as the portal does."""
    from engine.commands.store_cmds import open_store
    from engine.store.portal_ops import person

    at = parse_now(now)
    cfg, sessions = open_store(config, rules, at, database=database, create=False)
    address = by or cfg.settings.admin_email
    if not address:
        raise InputError(_("give --by ADDRESS (an address from units.yaml)"))
    who = person(cfg.directory, address)
    if who is None:
        raise InputError(
            _("{address} is not an address of any unit in units.yaml").format(address=address)
        )
    return cfg, sessions, who, at


@app.command()
def confirm(
    rule: Annotated[str, typer.Argument(help="Rule id.")],
    key: Annotated[str, typer.Argument(help="Occurrence key.")],
    by: ByAddr = None,
    now: NowOpt = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Xác nhận báo cáo hoàn thành của đơn vị (đầu mối)."""
    from engine.store import portal_ops as po

    cfg, sessions, who, at = _portal_action(config, rules, now, by, database)
    with sessions() as s, s.begin():
        row = po.deadline_by_ref(s, rule, key)
        po.confirm_report(s, cfg, row.id, who, now=at)
    _out(_("Confirmed: {rule} {key} is done.").format(rule=rule, key=key))


@app.command("return")
def return_(
    rule: Annotated[str, typer.Argument(help="Rule id.")],
    key: Annotated[str, typer.Argument(help="Occurrence key.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the report is returned.")],
    by: ByAddr = None,
    now: NowOpt = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Trả lại báo cáo hoàn thành, nêu lý do (đơn vị được gửi thư)."""
    from engine.store import portal_ops as po

    cfg, sessions, who, at = _portal_action(config, rules, now, by, database)
    with sessions() as s, s.begin():
        row = po.deadline_by_ref(s, rule, key)
        po.return_report(s, cfg, row.id, who, reason=reason, now=at)
    _out(_("Returned: {rule} {key} is open again.").format(rule=rule, key=key))


@ext_app.command("request")
def ext_request(
    rule: Annotated[str, typer.Argument(help="Rule id.")],
    key: Annotated[str, typer.Argument(help="Occurrence key.")],
    to: Annotated[str, typer.Option("--to", help="New due date, YYYY-MM-DD.")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    by: ByAddr = None,
    now: NowOpt = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Đề nghị gia hạn."""
    from engine.core.spans import parse_date
    from engine.store import portal_ops as po

    new_due = parse_date(to)
    cfg, sessions, who, at = _portal_action(config, rules, now, by, database)
    with sessions() as s, s.begin():
        row = po.deadline_by_ref(s, rule, key)
        po.request_extension(s, cfg, row.id, who, new_due=new_due, reason=reason, now=at)
    _out(
        _("Extension to {date} requested for {rule} {key}.").format(
            date=new_due.isoformat(), rule=rule, key=key
        )
    )


def _decide(rule, key, approve, reason, by, now, database, config, rules) -> None:
    from engine.store import portal_ops as po

    cfg, sessions, who, at = _portal_action(config, rules, now, by, database)
    with sessions() as s, s.begin():
        row = po.deadline_by_ref(s, rule, key)
        po.decide_extension(s, cfg, row.id, who, approve=approve, reason=reason or "", now=at)
        due = po.deadline_by_id(s, row.id).due
    _out(_("{rule} {key}: due {date}.").format(rule=rule, key=key, date=due.isoformat()))


@ext_app.command("approve")
def ext_approve(
    rule: Annotated[str, typer.Argument(help="Rule id.")],
    key: Annotated[str, typer.Argument(help="Occurrence key.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Note (optional).")] = None,
    by: ByAddr = None,
    now: NowOpt = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Đồng ý gia hạn: hạn và toàn bộ lịch nhắc dời theo hạn mới."""
    _decide(rule, key, True, reason, by, now, database, config, rules)


@ext_app.command("refuse")
def ext_refuse(
    rule: Annotated[str, typer.Argument(help="Rule id.")],
    key: Annotated[str, typer.Argument(help="Occurrence key.")],
    reason: Annotated[str, typer.Option("--reason", help="Why not.")],
    by: ByAddr = None,
    now: NowOpt = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    rules: RulesOpt = DEFAULT_RULES,
) -> None:
    """Không đồng ý gia hạn (nêu lý do)."""
    _decide(rule, key, False, reason, by, now, database, config, rules)
