"""``hanchot run``: the background process that never forgets a deadline.

On start: load the config, migrate the database, take the one-daemon lock,
materialise deadlines, then sleep until the next send instant (APScheduler 3.x
``BlockingScheduler``, memory job store: the database is the truth, the scheduler
only holds the next wake-up). The next wake-up is the earliest of every open
deadline's ``next_send_at``, every pending row's ``next_attempt_at`` (retries) and
the stuck-claim timeout. Every ``poll_seconds`` (30 s) a cheap check looks at the
config and rules files' mtimes (reload; a bad new config is reported and the old
one kept), at new events recorded by other processes, at the local date (the
horizon moves), and at the database's next wake-up (``done`` from the CLI, ``event
add``). SIGTERM/SIGINT let the current message finish, then exit cleanly.

``hanchot run --once`` (:func:`run_once`) is one dispatch cycle as of a given
instant, without the lock: the outbox claims keep concurrent processes from sending
a row twice.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from engine.errors import ConfigError, HanchotError
from engine.i18n import _
from engine.store import db
from engine.store.dispatch import (
    DispatchReport,
    build_errors,
    dispatch,
    next_wake,
    transport_factory,
)
from engine.store.materialise import materialise
from engine.store.notices import send_notices
from engine.store.tables import events
from engine.web.links import link_maker

log = logging.getLogger("hanchot.daemon")

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OffsetFormatter(logging.Formatter):
    """Log times as ISO 8601 with their UTC offset (``2026-11-27T10:35:02+07:00``),
    in the machine's local time, so a line is never ambiguous."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="seconds")


def setup_logging(level: int = logging.INFO) -> None:
    """One line per event on stderr; the libraries' chatter kept at warnings."""
    handler = logging.StreamHandler()
    handler.setFormatter(OffsetFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    for name in ("alembic", "apscheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _load(config_dir: Path, rules_dir: Path, now: datetime):
    from engine.loader.config import load_config

    return load_config(config_dir, rules_dir, clock_year=now.year)


def run_once(
    config_dir: Path, rules_dir: Path, now: datetime, env: Mapping[str, str]
) -> DispatchReport:
    """Migrate, load the config, materialise, and run exactly one dispatch cycle.

    SIGTERM and SIGINT (Ctrl-C) are handled as the daemon handles them: the message
    in flight is finished, every claimed but unsent row goes back to ``pending``, and
    the report says which signal stopped the cycle (``stopped_by``) and how many
    reminders were left (``left``).
    """
    stopped: list[str] = []

    def on_signal(signum, _frame) -> None:
        if not stopped:
            stopped.append(signal.Signals(signum).name)
            log.info(
                _("{signal}: finishing the current message, then stopping").format(
                    signal=stopped[0]
                )
            )

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        cfg = _load(config_dir, rules_dir, now)
        engine = db.make_engine(cfg.settings.database)
        try:
            db.migrate(engine)
            sessions = db.session_factory(engine)
            with sessions() as s, s.begin():
                materialise(s, cfg, now)
            transports = transport_factory(cfg.settings, env.get("HANCHOT_SMTP_PASSWORD"))
            report = dispatch(
                cfg,
                sessions,
                transports,
                now,
                should_stop=lambda: bool(stopped),
                links=link_maker(cfg.settings, env, now, cfg.directory),
            )
            if not stopped:
                send_notices(cfg, sessions, transports, now)  # the portal's one-off messages
        finally:
            engine.dispose()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopped:
        report.stopped_by = stopped[0]
    return report


def files_signature(config_dir: Path, rules_dir: Path) -> tuple:
    """(path, mtime, size) of every config and rules file: changes when one is edited."""
    out = []
    for folder, patterns in ((config_dir, ("*.yaml", "*.yml")), (rules_dir, ("*.yaml", "*.yml"))):
        for pattern in patterns:
            for p in sorted(Path(folder).glob(pattern)):
                try:
                    st = p.stat()
                except OSError:
                    continue
                out.append((str(p), st.st_mtime_ns, st.st_size))
    return tuple(sorted(out))


class Daemon:
    """The long-running process; :meth:`run` blocks until stopped."""

    def __init__(
        self,
        config_dir: Path,
        rules_dir: Path,
        env: Mapping[str, str],
        *,
        clock: Clock = _utcnow,
        poll_seconds: float = 30.0,
    ) -> None:
        self.config_dir = Path(config_dir)
        self.rules_dir = Path(rules_dir)
        self.env = env
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self._scheduler = None
        self._signature: tuple = ()
        self._events_mark = None
        self._day = None
        self._wake: datetime | None = None

    # ------------------------------------------------------------ start/stop
    def run(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.blocking import BlockingScheduler

        now = self.clock()
        self._signature = files_signature(self.config_dir, self.rules_dir)
        self.config = _load(self.config_dir, self.rules_dir, now)
        url = self.config.settings.database
        self.engine = db.make_engine(url)
        db.migrate(self.engine)
        lock = db.DaemonLock(self.engine, url)
        lock.acquire()
        try:
            self.sessions = db.session_factory(self.engine)
            self._transports()
            self._materialise(now, "start")
            self._scheduler = BlockingScheduler(
                timezone=UTC,
                executors={"default": ThreadPoolExecutor(1)},
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            )
            self._scheduler.add_job(self._poll, "interval", seconds=self.poll_seconds, id="poll")
            self._schedule(now)
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
            log.info(
                "hanchot daemon started on %s (%d rules); next wake-up %s",
                sa.engine.make_url(url).render_as_string(hide_password=True),
                len(self.config.rules),
                self._wake.isoformat() if self._wake else "none",
            )
            self._scheduler.start()
        finally:
            lock.release()
            self.engine.dispose()
            log.info("hanchot daemon stopped")

    def _on_signal(self, signum, _frame) -> None:
        log.info("signal %d: finishing the current message, then stopping", signum)
        self.stop()

    def stop(self) -> None:
        """Stop after the message being sent (if any); safe from a signal handler."""
        self.stopping.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    # ------------------------------------------------------------ jobs
    def _transports(self):
        self.transports = transport_factory(
            self.config.settings, self.env.get("HANCHOT_SMTP_PASSWORD")
        )

    def _materialise(self, now: datetime, why: str) -> None:
        with self.sessions() as s, s.begin():
            report = materialise(s, self.config, now)
            self._events_mark = tuple(
                s.execute(sa.select(sa.func.count(), sa.func.max(events.c.id))).one()
            )
        self._day = now.astimezone(ZoneInfo(self.config.settings.timezone)).date()
        if report.created or report.updated or report.cancelled or report.reopened:
            log.info("deadlines (%s): %s", why, report)

    def _schedule(self, now: datetime, wake: datetime | None = None) -> None:
        """Put the dispatch job at the database's next wake-up (never in the past)."""
        if wake is None:
            with self.sessions() as s:
                wake = next_wake(s)
        self._wake = wake
        if wake is None:
            if self._scheduler.get_job("dispatch"):
                self._scheduler.remove_job("dispatch")
            return
        run_at = max(wake, now + timedelta(seconds=1))
        job = self._scheduler.get_job("dispatch")
        if job is not None and job.next_run_time is not None and job.next_run_time <= run_at:
            return  # already due earlier: never postpone it
        self._scheduler.add_job(
            self._cycle, "date", run_date=run_at, id="dispatch", replace_existing=True
        )

    def _cycle(self) -> None:
        if self.stopping.is_set():
            return
        now = self.clock()
        try:
            report = dispatch(
                self.config,
                self.sessions,
                self.transports,
                now,
                should_stop=self.stopping.is_set,
                links=link_maker(self.config.settings, self.env, now, self.config.directory),
            )
        except Exception:  # the database went away...: log, try again in a minute
            log.exception("dispatch cycle failed; retrying in 60 s")
            self._schedule(now, now + timedelta(seconds=60))
            return
        if report.digests_sent or report.failed or report.deferred:
            log.info("cycle at %s: %s", now.isoformat(), report)
        if not self.stopping.is_set():
            self._schedule(now, report.next_wake)

    def _poll(self) -> None:
        if self.stopping.is_set():
            return
        now = self.clock()
        try:
            self._reload_if_changed(now)
            with self.sessions() as s:
                mark = tuple(s.execute(sa.select(sa.func.count(), sa.func.max(events.c.id))).one())
            today = now.astimezone(ZoneInfo(self.config.settings.timezone)).date()
            if send_notices(self.config, self.sessions, self.transports, now):
                log.info("portal notices sent")
            if mark != self._events_mark:
                self._materialise(now, "new events")
            elif today != self._day:
                self._materialise(now, "new day")
            self._schedule(now)
        except Exception:
            log.exception("periodic check failed")

    def _reload_if_changed(self, now: datetime) -> None:
        sig = files_signature(self.config_dir, self.rules_dir)
        if sig == self._signature:
            return
        self._signature = sig
        try:
            new = _load(self.config_dir, self.rules_dir, now)
        except ConfigError as e:
            log.error("new configuration rejected; still running the previous one:\n%s", e)
            return
        except HanchotError as e:
            log.error("new configuration rejected; still running the previous one: %s", e)
            return
        if new.settings.database != self.config.settings.database:
            log.warning("the database setting changed; restart hanchot to use it")
        self.config = new
        self._transports()
        log.info("configuration reloaded (%d rules)", len(new.rules))
        self._materialise(now, "configuration changed")
        with self.sessions() as s:
            unbuilt, _error = build_errors(s)
        if unbuilt:  # the fix may be in this edit: try them now, not after the backoff
            self._schedule(now, now)


def run_forever(config_dir: Path, rules_dir: Path, env: Mapping[str, str]) -> None:
    """Entry point of ``hanchot run``; poll interval from ``HANCHOT_POLL_SECONDS``."""
    poll = float(env.get("HANCHOT_POLL_SECONDS") or 30)
    Daemon(config_dir, rules_dir, env, poll_seconds=poll).run()
