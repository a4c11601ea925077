"""``/healthz`` and ``/metrics`` of ``hanchot run --http H:P`` (SPEC §5.1, issue 9).

The daemon feeds a :class:`Health` through four calls — :meth:`Health.set_config`,
:meth:`Health.set_role`, :meth:`Health.record_cycle` (or
:meth:`Health.record_cycle_failure`) and :meth:`Health.record_reload_failure` — and
:class:`HealthServer` answers HTTP from a thread of its own:

- ``GET /healthz``: 200 ``{"status": "ok", ...}`` when the database answers, the
  configuration is loaded and the last dispatch cycle finished (or none has run
  yet); otherwise 503 with ``{"status": "unavailable", "reasons": [...]}``. A standby
  daemon that waits for the lock is healthy (``"role": "standby"``).
- ``GET /metrics``: Prometheus text format (``prometheus-client``). Figures read from
  the database are computed at scrape time on a separate small connection pool: the
  indexed ones (oldest pending row, seconds until the next send) at most once every
  ``db_interval`` seconds; the counts of deadlines by status and outbox rows by state,
  which read an index entry per row, at most once every ``count_interval`` seconds
  and after each dispatch cycle — so a scraped daemon with a million rows stays idle
  between its cycles. Counters (messages, cycles, reload failures) come from the
  daemon.

Nothing here reads the clock by itself: ``clock`` is passed in.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from engine.errors import InputError

log = logging.getLogger("hanchot.health")

Clock = Callable[[], datetime]


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) -> (host, port); :class:`InputError` if bad."""
    from engine.i18n import _

    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(
            _("--http {value!r} is not HOST:PORT, e.g. 127.0.0.1:9464").format(value=text)
        )
    return host, int(port)


@dataclass(frozen=True)
class DbFigures:
    """What ``/metrics`` reads from the database at one instant."""

    deadlines: dict[str, int]
    outbox: dict[str, int]
    next_send: datetime | None
    oldest_pending: datetime | None


def read_figures(
    session, now: datetime, counts: tuple[dict[str, int], dict[str, int]] | None = None
) -> DbFigures:
    """Deadlines by status, outbox rows by state, the next wake-up and the oldest due
    pending row's send instant (indexed look-ups except the two counts). ``counts``:
    the (deadlines, outbox) counts of an earlier read, kept instead of counting again."""
    from engine.store.dispatch import next_wake
    from engine.store.tables import PENDING, UTCDateTime, deadlines, outbox

    if counts is not None:
        by_status, by_state = counts
    else:
        by_status = dict(
            session.execute(
                sa.select(deadlines.c.status, sa.func.count()).group_by(deadlines.c.status)
            ).all()
        )
        by_state = dict(
            session.execute(
                sa.select(outbox.c.state, sa.func.count()).group_by(outbox.c.state)
            ).all()
        )
    oldest = session.execute(
        sa.select(sa.func.min(outbox.c.send_at)).where(
            outbox.c.state == PENDING, outbox.c.next_attempt_at <= now
        )
    ).scalar()
    if oldest is not None:
        oldest = UTCDateTime().process_result_value(oldest, session.get_bind().dialect)
    return DbFigures(by_status, by_state, next_wake(session), oldest)


class Health:
    """The daemon's state as ``/healthz`` and ``/metrics`` report it (thread-safe)."""

    def __init__(
        self,
        clock: Clock,
        *,
        registry: CollectorRegistry | None = None,
        db_interval: float = 10.0,
        count_interval: float = 300.0,
    ) -> None:
        self.clock = clock
        self.registry = registry or CollectorRegistry()
        self.db_interval = db_interval
        self.count_interval = count_interval
        self._counts_at: float | None = None  # when the two counts were last read
        self._lock = threading.Lock()
        self._engine: sa.Engine | None = None
        self._config_loaded = False
        self._role = "starting"
        self._cycle_error: str | None = None
        self._check_error: str | None = None
        self._figures: DbFigures | None = None
        self._figures_at: float | None = None
        r = self.registry
        self.sent = Counter("hanchot_messages_sent", "Digest messages sent.", registry=r)
        self.reminders_sent = Counter(
            "hanchot_reminders_sent", "Reminders (outbox rows) sent in digests.", registry=r
        )
        self.deferred = Counter(
            "hanchot_reminders_deferred",
            "Reminders deferred after a transient failure (4xx, no connection).",
            registry=r,
        )
        self.failed = Counter(
            "hanchot_reminders_failed", "Reminders failed for good (5xx).", registry=r
        )
        self.cycles = Counter("hanchot_cycles", "Dispatch cycles finished.", registry=r)
        self.cycle_failures = Counter(
            "hanchot_cycle_failures", "Dispatch cycles that raised (database down...).", registry=r
        )
        self.reload_failures = Counter(
            "hanchot_config_reload_failures",
            "Edited configuration rejected (the previous one kept running).",
            registry=r,
        )
        self.duration = Histogram(
            "hanchot_cycle_duration_seconds",
            "Duration of a dispatch cycle.",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.last_cycle = Gauge(
            "hanchot_last_cycle_timestamp_seconds",
            "When the last dispatch cycle finished (Unix time).",
            registry=r,
        )
        r.register(_DbCollector(self))

    # ------------------------------------------------------------ fed by the daemon
    def attach(self, url: str) -> None:
        """Check and read the database at ``url`` through a small pool of its own."""
        from engine.store.db import sqlite_path

        if sqlite_path(url) is not None:
            engine = sa.create_engine(url, connect_args={"timeout": 5})
        elif sa.engine.make_url(url).get_backend_name() == "postgresql":
            engine = sa.create_engine(
                url, pool_pre_ping=True, pool_size=1, connect_args={"connect_timeout": 5}
            )
        else:
            engine = sa.create_engine(url, pool_pre_ping=True)
        with self._lock:
            old, self._engine = self._engine, engine
        if old is not None:
            old.dispose()

    def close(self) -> None:
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    def set_config(self, loaded: bool) -> None:
        with self._lock:
            self._config_loaded = loaded

    def set_role(self, role: str) -> None:
        """``starting``, ``standby`` (waiting for the lock) or ``active``."""
        with self._lock:
            self._role = role

    def record_cycle(self, report, seconds: float, now: datetime) -> None:
        """A cycle finished: count what it did (a :class:`DispatchReport`)."""
        self.sent.inc(report.digests_sent)
        self.reminders_sent.inc(report.rows_sent)
        self.deferred.inc(report.deferred)
        self.failed.inc(report.failed)
        self.cycles.inc()
        self.duration.observe(seconds)
        self.last_cycle.set(now.timestamp())
        with self._lock:
            self._cycle_error = None
            # read the database afresh on the next scrape, the counts too
            self._figures_at = self._counts_at = None

    def record_cycle_failure(self, error: str, seconds: float) -> None:
        """A cycle raised (the database went away...): 503 until one finishes."""
        self.cycle_failures.inc()
        self.duration.observe(seconds)
        with self._lock:
            self._cycle_error = error

    def record_check(self, error: str | None) -> None:
        """The daemon's periodic check (reload, new events, lock) failed or passed."""
        with self._lock:
            self._check_error = error

    def record_reload_failure(self) -> None:
        self.reload_failures.inc()

    # ------------------------------------------------------------ answers
    def _database_error(self) -> str | None:
        with self._lock:
            engine = self._engine
        if engine is None:
            return "database not opened yet"
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as e:  # any driver error means "does not answer"
            reason = getattr(e, "orig", None) or e
            return f"database does not answer: {str(reason).strip().splitlines()[0]}"
        return None

    def status(self) -> tuple[int, dict]:
        """(HTTP status, JSON body) of ``/healthz``."""
        reasons = []
        db_error = self._database_error()
        if db_error:
            reasons.append(db_error)
        with self._lock:
            if not self._config_loaded:
                reasons.append("configuration not loaded")
            if self._role == "starting":
                reasons.append("starting")
            if self._cycle_error:
                reasons.append(f"last dispatch cycle failed: {self._cycle_error}")
            if self._check_error:
                reasons.append(f"last periodic check failed: {self._check_error}")
            role = self._role
        body = {
            "status": "unavailable" if reasons else "ok",
            "role": role,
            "checked_at": self.clock().astimezone(UTC).isoformat(),
        }
        if reasons:
            body["reasons"] = reasons
        return (503 if reasons else 200), body

    def figures(self, mono: float) -> DbFigures | None:
        """The database figures, cached ``db_interval`` seconds (the two counts
        ``count_interval`` seconds, or until the next cycle); ``None`` if unreadable."""
        with self._lock:
            engine = self._engine
            if self._figures_at is not None and mono - self._figures_at < self.db_interval:
                return self._figures
            counts = None
            if (
                self._figures is not None
                and self._counts_at is not None
                and mono - self._counts_at < self.count_interval
            ):
                counts = (self._figures.deadlines, self._figures.outbox)
        if engine is None:
            return None
        try:
            from sqlalchemy.orm import Session

            with Session(engine) as s:
                figures = read_figures(s, self.clock(), counts)
        except Exception as e:
            log.debug("metrics: cannot read the database: %s", e)
            figures = None
        with self._lock:
            self._figures, self._figures_at = figures, mono
            if figures is None:
                self._counts_at = None
            elif counts is None:
                self._counts_at = mono
        return figures

    def metrics(self) -> bytes:
        return generate_latest(self.registry)


class _DbCollector:
    """Gauges read from the database (and the role) at scrape time."""

    def __init__(self, health: Health) -> None:
        self.health = health

    def describe(self):
        return []  # computed at scrape time; nothing to check at registration

    def collect(self):
        import time

        h = self.health
        role = GaugeMetricFamily("hanchot_role", "1 for this process's role.", labels=["role"])
        with h._lock:
            role.add_metric([h._role], 1)
        yield role
        figures = h.figures(time.monotonic())
        up = GaugeMetricFamily("hanchot_database_up", "1 when the database answered.")
        up.add_metric([], 1 if figures is not None else 0)
        yield up
        if figures is None:
            return
        now = h.clock()
        d = GaugeMetricFamily("hanchot_deadlines", "Deadlines by status.", labels=["status"])
        for status in ("open", "done", "waived", "cancelled"):
            d.add_metric([status], figures.deadlines.get(status, 0))
        yield d
        o = GaugeMetricFamily("hanchot_outbox_rows", "Outbox rows by state.", labels=["state"])
        for state in ("pending", "sending", "sent", "superseded", "failed"):
            o.add_metric([state], figures.outbox.get(state, 0))
        yield o
        oldest = GaugeMetricFamily(
            "hanchot_oldest_pending_seconds",
            "Age of the oldest reminder that is due and not sent yet (0: none).",
        )
        age = 0.0
        if figures.oldest_pending is not None:
            age = max(0.0, (now - figures.oldest_pending).total_seconds())
        oldest.add_metric([], age)
        yield oldest
        if figures.next_send is not None:
            nxt = GaugeMetricFamily(
                "hanchot_next_send_seconds",
                "Seconds until the next send instant (negative: overdue); absent if none.",
            )
            nxt.add_metric([], (figures.next_send - now).total_seconds())
            yield nxt


class HealthServer:
    """A threaded HTTP server for ``/healthz`` and ``/metrics`` on ``host:port``."""

    def __init__(self, health: Health, host: str, port: int) -> None:
        from engine.errors import StoreError
        from engine.i18n import _

        handler = _make_handler(health)
        try:
            self.httpd = ThreadingHTTPServer((host, port), handler)
        except OSError as e:
            raise StoreError(
                _("cannot listen on {host}:{port} for --http: {error}").format(
                    host=host, port=port, error=e.strerror or e
                )
            ) from None
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": IDLE_POLL},
            name="hanchot-http",
            daemon=True,
        )

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("health and metrics on http://%s:%d/healthz", *self.httpd.server_address[:2])
        return self

    def stop(self) -> None:
        """Stop serving, at once: the loop waits for a request up to :data:`IDLE_POLL`
        seconds between looks at the stop flag, so it is woken by connections to
        itself until it has seen the flag."""
        import socket

        closing = threading.Thread(target=self.httpd.shutdown, daemon=True)
        closing.start()
        host, port = self.httpd.server_address[:2]
        if host in ("0.0.0.0", "::", ""):
            host = "::1" if self.httpd.address_family == socket.AF_INET6 else "127.0.0.1"
        while closing.is_alive():
            try:
                socket.create_connection((host, port), timeout=1).close()
            except OSError:
                pass
            closing.join(0.05)
        self.httpd.server_close()


#: Seconds the health server's loop waits for a request before it looks at its stop
#: flag again (the standard library's default, 0.5 s, wakes an idle daemon twice a
#: second for nothing); :meth:`HealthServer.stop` wakes it at once.
IDLE_POLL = 60.0


def _make_handler(health: Health):
    class Handler(BaseHTTPRequestHandler):
        server_version = "hanchot"

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                code, body = health.status()
                self._send(code, "application/json; charset=utf-8", _json(body))
            elif path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, health.metrics())
            else:
                self._send(404, "application/json; charset=utf-8", _json({"error": "not found"}))

        def _send(self, code: int, ctype: str, data: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt: str, *args) -> None:
            log.debug("http: " + fmt, *args)

    return Handler


def _json(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


# ------------------------------------------------------------------ the web process
from engine.store.heartbeat import (  # noqa: E402  (re-exported for the web process)
    DAEMON_RECENT_SECONDS,
    read_daemon_seen,
)


class PortalHealth(Health):
    """``/healthz`` and ``/metrics`` of ``hanchot web`` (the portal's own process).

    ``/healthz``: 200 when the database answers (the configuration is loaded before
    the app exists), else 503 with the reasons; either way ``"daemon"`` says when a
    daemon (or ``run --once``) last finished a pass, read from the database, and
    whether that is within :data:`DAEMON_RECENT_SECONDS` — the portal works without a
    daemon, but its notices (sign-in links) wait for one. ``/metrics``: the database
    figures of ``hanchot run --http`` (no counters: this process sends nothing),
    ``hanchot_notices{state}`` and ``hanchot_daemon_last_seen_timestamp_seconds``;
    no address, name or title.
    """

    def __init__(
        self,
        clock: Clock,
        url: str,
        *,
        db_interval: float = 10.0,
        recent_seconds: float = DAEMON_RECENT_SECONDS,
    ) -> None:
        super().__init__(clock, db_interval=db_interval)
        self.recent_seconds = recent_seconds
        self.set_config(True)
        self.set_role("portal")
        self.attach(url)
        self.portal_registry = CollectorRegistry()
        self.portal_registry.register(_DbCollector(self))
        self.portal_registry.register(_PortalCollector(self))
        self._portal: tuple[float, dict[str, int], datetime | None] | None = None

    def portal_figures(self, mono: float) -> tuple[dict[str, int], datetime | None] | None:
        """(notices by state, daemon last seen), cached ``db_interval`` seconds."""
        from sqlalchemy.orm import Session

        from engine.store.portal_tables import notices

        with self._lock:
            engine, cached = self._engine, self._portal
        if cached is not None and mono - cached[0] < self.db_interval:
            return cached[1], cached[2]
        if engine is None:
            return None
        try:
            with Session(engine) as s:
                by_state = dict(
                    s.execute(
                        sa.select(notices.c.state, sa.func.count()).group_by(notices.c.state)
                    ).all()
                )
                seen = read_daemon_seen(s)
        except Exception as e:
            log.debug("metrics: cannot read the database: %s", e)
            return None
        with self._lock:
            self._portal = (mono, by_state, seen)
        return by_state, seen

    def daemon(self) -> dict:
        """``{"last_seen": ISO or None, "seconds_ago": int or None, "recent": bool}``."""
        from sqlalchemy.orm import Session

        with self._lock:
            engine = self._engine
        seen = None
        if engine is not None:
            try:  # read afresh (one primary-key look-up): a probe wants the present
                with Session(engine) as s:
                    seen = read_daemon_seen(s)
            except Exception as e:  # the reasons already say the database is down
                log.debug("healthz: cannot read the daemon's last pass: %s", e)
        if seen is None:
            return {"last_seen": None, "seconds_ago": None, "recent": False}
        ago = (self.clock() - seen).total_seconds()
        return {
            "last_seen": seen.isoformat(),
            "seconds_ago": int(ago),
            "recent": ago <= self.recent_seconds,
        }

    def status(self) -> tuple[int, dict]:
        code, body = super().status()
        body["daemon"] = self.daemon()
        return code, body

    def metrics(self) -> bytes:
        return generate_latest(self.portal_registry)


class _PortalCollector:
    """The portal's own gauges: notices by state, the daemon's last pass."""

    def __init__(self, health: PortalHealth) -> None:
        self.health = health

    def describe(self):
        return []

    def collect(self):
        import time

        got = self.health.portal_figures(time.monotonic())
        if got is None:
            return
        by_state, seen = got
        n = GaugeMetricFamily(
            "hanchot_notices", "Portal notices (sign-in links, reports) by state.", labels=["state"]
        )
        for state in ("pending", "sending", "sent", "failed"):
            n.add_metric([state], by_state.get(state, 0))
        yield n
        if seen is not None:
            g = GaugeMetricFamily(
                "hanchot_daemon_last_seen_timestamp_seconds",
                "When a daemon or run --once last finished a pass (Unix time).",
            )
            g.add_metric([], seen.timestamp())
            yield g


def add_health_routes(app, health: Health) -> None:
    """``GET /healthz`` and ``GET /metrics`` on a Starlette app (no session needed)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response
    from starlette.routing import Route

    # Both ask the database: in a worker thread, never blocking the portal's loop.
    async def healthz(request) -> Response:
        code, body = await run_in_threadpool(health.status)
        return Response(
            _json(body),
            status_code=code,
            media_type="application/json; charset=utf-8",
            headers={"Cache-Control": "no-store"},
        )

    async def metrics(request) -> Response:
        data = await run_in_threadpool(health.metrics)
        return Response(data, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    app.router.routes.append(Route("/healthz", healthz))
    app.router.routes.append(Route("/metrics", metrics))
