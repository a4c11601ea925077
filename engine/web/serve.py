"""Wiring the portal: config, store, signing key and clock into the ASGI app."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.applications import Starlette

from engine.web.tokens import Signer, secret_key


def build(
    config_dir: Path, rules_dir: Path, env: Mapping[str, str], clock: Callable[[], datetime]
) -> Starlette:
    """Load the config, migrate and materialise the store as of ``clock()``, and return
    the portal app. Raises :class:`~engine.errors.HanchotError` for bad config."""
    from engine.loader.config import load_config
    from engine.store import db
    from engine.store.materialise import materialise
    from engine.web.app import create_app
    from engine.web.overview import add_overview

    now = clock()
    cfg = load_config(config_dir, rules_dir, clock_year=now.astimezone(UTC).year)
    engine = db.make_engine(cfg.settings.database)
    db.migrate(engine)
    sessions = db.session_factory(engine)
    with sessions() as s, s.begin():
        materialise(s, cfg, now)
    data_dir = Path(cfg.settings.data_dir)
    signer = Signer(secret_key(data_dir, env), max_age=timedelta(days=cfg.settings.web.token_days))
    app = create_app(cfg, sessions, signer=signer, clock=clock, data_dir=data_dir)
    add_overview(app, cfg, sessions, clock)
    from engine.health import PortalHealth, add_health_routes

    health = PortalHealth(clock, cfg.settings.database)
    add_health_routes(app, health)  # /healthz, /metrics: no sign-in, no personal data
    app.state.health = health
    app.state.config = cfg
    app.state.signer = signer
    app.state.sessions = sessions
    return app
