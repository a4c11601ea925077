"""``hanchot web``: the portal (SPEC §5.1), served by uvicorn."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from engine.cli import DEFAULT_CONFIG, DEFAULT_RULES, ConfigOpt, RulesOpt, app
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
