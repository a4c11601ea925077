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

Ready — the log line ``hanchot daemon started`` and ``/healthz`` answering 200 — comes
once the first dispatch job is scheduled. When nothing changed since the last run, no
step of the start or of a periodic check reads every deadline or outbox row: the
materialisation fingerprint and the events' high-water mark say so, and the next
wake-up is three indexed look-ups (``tests/integration/test_daemon_startup.py`` checks
the query plans; ``bench/bench_daemon.py`` measures the real process).

``hanchot run --once`` (:func:`run_once`) is one dispatch cycle as of a given
instant, without the lock: the outbox claims keep concurrent processes from sending
a row twice.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from engine.errors import ConfigError, HanchotError, InputError, StoreError
from engine.i18n import _
from engine.store import db
from engine.store.dispatch import (
    DispatchReport,
    build_errors,
    dispatch,
    next_wake,
    transport_factory,
)
from engine.store.heartbeat import DAEMON_SEEN_EVERY_SECONDS, record_daemon_seen
from engine.store.materialise import events_mark, materialise
from engine.store.notices import notice_due_times, send_notices
from engine.web.links import link_maker

log = logging.getLogger("hanchot.daemon")

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OffsetFormatter(logging.Formatter):
    """Log times as ISO 8601 with their UTC offset (``2026-11-27T10:35:02+07:00``),
    in the machine's local time, so a line is never ambiguous; secrets masked
    (:func:`engine.logfmt.mask`)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="seconds")

    def format(self, record: logging.LogRecord) -> str:
        from engine.logfmt import mask

        return mask(super().format(record))


def setup_logging(level: int = logging.INFO, fmt: str = "text") -> None:
    """One line per event on stderr (``fmt="json"``: one JSON object per line, see
    :mod:`engine.logfmt`); secrets masked; the libraries' chatter kept at warnings."""
    from engine.logfmt import JsonFormatter

    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
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

    from engine import quick_once

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        # Read before the config is loaded: a file edited meanwhile differs next time.
        try:
            inputs = quick_once.signature(config_dir, rules_dir, env)
        except OSError:
            inputs = None
        cfg = _load(config_dir, rules_dir, now)
        engine = db.make_engine(cfg.settings.database)
        try:
            db.migrate(engine)
            mark = quick_once.mark_before(engine)
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
                record_daemon_seen(sessions, now)  # hanchot web's /healthz reads it
            if not stopped and report.exit_code == 0:
                # What lets the next `run --once` with nothing to do skip all this.
                quick_once.remember(engine, config_dir, inputs, mark, cfg.settings.timezone, now)
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
        health=None,
        standby: bool = False,
        retry_max_seconds: float = 60.0,
        stuck_after: timedelta = timedelta(minutes=15),
    ) -> None:
        self.config_dir = Path(config_dir)
        self.rules_dir = Path(rules_dir)
        self.env = env
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self._ended = threading.Event()  # run() is over
        self._seen_written: datetime | None = None  # when a check last wrote daemon_seen
        #: SQLite: a connection of its own for PRAGMA data_version (see _quiet); None
        #: on PostgreSQL, where every check is a full one.
        self._watch: db.ChangeWatch | None = None
        #: (data_version, files, day, until) of the last full check that succeeded
        self._quiet_since: tuple | None = None
        self._scheduler = None
        self._signature: tuple = ()
        self._events_mark = None
        self._day = None
        self._wake: datetime | None = None
        #: an engine.health.Health fed by the daemon, or None (no --http)
        self.health = health
        self.standby = standby
        self.retry_max_seconds = retry_max_seconds
        #: a claim older than this is taken as left by a dead process and sent again
        self.stuck_after = stuck_after
        self._failures = 0  # dispatch cycles failed in a row (backoff)
        self._dirty = False  # a periodic check failed: materialise at the next one
        self._lock: db.DaemonLock | None = None
        self.lost_lock = False

    # ------------------------------------------------------------ start/stop
    def run(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.blocking import BlockingScheduler

        now = self.clock()
        # From the start: a SIGTERM while starting (systemd stopping us early) is a
        # clean stop too, not a kill.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self._signature = files_signature(self.config_dir, self.rules_dir)
        self.config = _load(self.config_dir, self.rules_dir, now)
        url = self.config.settings.database
        self.engine = db.make_engine(url)
        db.migrate(self.engine)
        if self.health is not None:
            self.health.set_config(True)
            self.health.attach(url)
        lock = self._lock = db.DaemonLock(self.engine, url)
        if not self._take_lock(lock):
            self.engine.dispose()
            return
        try:
            self.sessions = db.session_factory(self.engine)
            self._watch = db.ChangeWatch.open(url)
            self._transports()
            self._materialise(now, _("deadlines at start: {report}"))
            self._scheduler = BlockingScheduler(
                timezone=UTC,
                executors={"default": ThreadPoolExecutor(1)},
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            )
            self._scheduler.add_job(self._poll, "interval", seconds=self.poll_seconds, id="poll")
            threading.Thread(target=self._stop_when_asked, name="hanchot-stop", daemon=True).start()
            self._schedule(now)
            where = sa.engine.make_url(url).render_as_string(hide_password=True)
            n = len(self.config.rules)
            if self._wake is None:
                started = _("hanchot daemon started on {database} ({n} rules); nothing to send")
                log.info(started.format(database=where, n=n))
            else:
                started = _("hanchot daemon started on {database} ({n} rules); next wake-up {wake}")
                log.info(started.format(database=where, n=n, wake=self._wake.isoformat()))
            if self.stopping.is_set():
                return
            if self.health is not None:
                self.health.set_role("active")
            self._scheduler.start()
        finally:
            self._ended.set()
            self.stopping.set()  # the watcher thread ends too
            if self._watch is not None:
                self._watch.close()
            lock.release()
            self.engine.dispose()
            log.info(_("hanchot daemon stopped"))

    def _take_lock(self, lock: db.DaemonLock) -> bool:
        """Take the one-daemon lock; with ``standby``, wait for it (False: stopped
        while waiting)."""
        if not self.standby:
            lock.acquire()
        else:
            if self.health is not None:
                self.health.set_role("standby")
            log.info(_("standby: waiting for the lock of the active daemon"))
            if not lock.wait(self.stopping):
                log.info(_("hanchot standby stopped"))
                return False
            log.info(_("standby: lock taken; this daemon is now the active one"))
            # The files may have been edited during the wait: take over with the
            # configuration the active daemon was running, not the one of our start.
            sig = files_signature(self.config_dir, self.rules_dir)
            if sig != self._signature:
                try:
                    self.config = _load(self.config_dir, self.rules_dir, self.clock())
                    self._signature = sig
                except HanchotError as e:
                    log.error(
                        _("configuration rejected; keeping the one of the start: {error}").format(
                            error=e
                        )
                    )
        return True

    def _on_signal(self, signum, _frame) -> None:
        # Only a flag: the handler runs in the main thread at any point, perhaps while it
        # holds a scheduler lock that the job in flight is waiting for; shutting the
        # scheduler down here and waiting for that job hung the process (1 stop in 4 right
        # after start-up, until SIGKILL). The watcher thread below does the rest, after the
        # message in flight (the single worker runs one job at a time).
        self.stopping.set()
        log.info(
            _("{signal}: finishing the current message, then stopping").format(
                signal=signal.Signals(signum).name
            )
        )

    def _stop_when_asked(self) -> None:
        """A thread of its own: blocked (no CPU, no wake-up while idle) until a stop is
        asked for, then ends the scheduler from outside the main thread, as APScheduler
        allows. Asked before the scheduler runs (a signal between the last check and
        ``start``), it waits for it to run; it ends with :meth:`run` in any case."""
        from apscheduler.schedulers import SchedulerNotRunningError

        self.stopping.wait()
        while not self._ended.is_set():
            scheduler = self._scheduler
            if scheduler is not None and scheduler.running:
                try:
                    scheduler.shutdown(wait=False)
                except SchedulerNotRunningError:  # stopped meanwhile
                    pass
                return
            self._ended.wait(0.05)

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
        """Materialise as of ``now``; ``why`` is the log line's ``{report}`` template."""
        with self.sessions() as s, s.begin():
            report = materialise(s, self.config, now)
            self._events_mark = events_mark(s)
        self._day = now.astimezone(ZoneInfo(self.config.settings.timezone)).date()
        if report.created or report.updated or report.cancelled or report.reopened:
            log.info(why.format(report=report))

    def _schedule(self, now: datetime, wake: datetime | None = None) -> None:
        """Put the dispatch job at the database's next wake-up (never in the past)."""
        if wake is None:
            with self.sessions() as s:
                wake = next_wake(s, self.stuck_after)
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
        started = time.monotonic()
        try:
            report = dispatch(
                self.config,
                self.sessions,
                self.transports,
                now,
                should_stop=self.stopping.is_set,
                stuck_after=self.stuck_after,
                links=link_maker(self.config.settings, self.env, now, self.config.directory),
            )
        except Exception as e:  # the database went away...: log, retry with backoff
            self._failures += 1
            delay = min(self.retry_max_seconds, 2.0 ** (self._failures - 1))
            log.exception(
                _("dispatch cycle failed; retrying in {delay} s").format(delay=f"{delay:g}")
            )
            if self.health is not None:
                self.health.record_cycle_failure(_one_line(e), time.monotonic() - started)
            self._schedule(now, now + timedelta(seconds=delay))
            return
        self._failures = 0
        if self.health is not None:
            self.health.record_cycle(report, time.monotonic() - started, now)
        if report.digests_sent or report.failed or report.deferred:
            log.info(_("cycle at {now}: {report}").format(now=now.isoformat(), report=report))
        if not self.stopping.is_set():
            self._schedule(now, report.next_wake)

    def _poll(self) -> None:
        if self.stopping.is_set():
            # a stop that came between the start-up and the scheduler running
            self._scheduler.shutdown(wait=False)
            return
        now = self.clock()
        try:
            self._check_lock()
            if self.stopping.is_set():
                return
            if self._quiet(now):
                if self.health is not None:
                    self.health.record_check(None)
                return
            version = self._watch.version() if self._watch is not None else None
            self._reload_if_changed(now)
            # The same high-water mark as materialise's fingerprint: the events' newest
            # id alone misses a removal followed by a recording under the reused id.
            with self.sessions() as s:
                mark = events_mark(s)
            today = now.astimezone(ZoneInfo(self.config.settings.timezone)).date()
            if send_notices(self.config, self.sessions, self.transports, now):
                log.info(_("portal notices sent"))
            if mark != self._events_mark:
                self._materialise(now, _("deadlines after new events: {report}"))
            elif today != self._day:
                self._materialise(now, _("deadlines on a new day: {report}"))
            elif self._dirty:
                self._materialise(now, _("deadlines after a failed check: {report}"))
            self._dirty = False
            self._schedule(now)
            seen = self._seen_written
            if seen is None or (now - seen).total_seconds() >= DAEMON_SEEN_EVERY_SECONDS:
                record_daemon_seen(self.sessions, now)  # hanchot web's /healthz reads it
                self._seen_written = now
            if version is not None:
                self._quiet_since = (version, self._signature, today, self._quiet_until(now))
        except Exception as e:
            self._quiet_since = None
            # The database went away...: whatever this check was to do (a reload's
            # materialisation) is redone by the next one that gets through.
            self._dirty = True
            log.error(_("periodic check failed: {error}").format(error=_one_line(e)))
            if self.health is not None:
                self.health.record_check(_one_line(e))
            return
        if self.health is not None:
            self.health.record_check(None)

    def _quiet(self, now: datetime) -> bool:
        """Whether this check can be skipped: nothing it looks at can have changed since
        the last full one (SQLite only). No other connection committed anything (``PRAGMA
        data_version``, read before that check began, so a commit during it counts as
        a change), the files are as they were, the day is the same, and nothing the
        check does by the clock falls due before now: writing ``daemon_seen``, a
        portal notice's next try, taking back a notice claim left by a dead process.
        The idle daemon then does no SQL of its own between two of its jobs."""
        quiet = self._quiet_since
        if quiet is None or self._watch is None or self._dirty:
            return False
        version, signature, day, until = quiet
        if until is not None and now >= until:
            return False
        if now.astimezone(ZoneInfo(self.config.settings.timezone)).date() != day:
            return False
        if files_signature(self.config_dir, self.rules_dir) != signature:
            return False
        return self._watch.version() == version

    def _quiet_until(self, now: datetime) -> datetime | None:
        """The first instant at which a check has something to do by the clock alone."""
        times = [self._seen_written + timedelta(seconds=DAEMON_SEEN_EVERY_SECONDS)]
        with self.sessions() as s:
            times += notice_due_times(s, self.stuck_after)
        return min(t for t in times if t is not None)

    def _check_lock(self) -> None:
        """A database restart drops the PostgreSQL lock: take it again, or stop when a
        standby has taken over in the meantime (systemd restarts us as the standby)."""
        if self._lock is None:
            return
        held = self._lock.still_held()
        if held is False:
            log.error(_("another hanchot daemon took the lock over; stopping this one"))
            self.lost_lock = True
            self.stopping.set()
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=False)
        elif held is None:
            raise StoreError(_("the database does not answer (lock check)"))

    def _reload_if_changed(self, now: datetime) -> None:
        sig = files_signature(self.config_dir, self.rules_dir)
        if sig == self._signature:
            return
        self._signature = sig
        try:
            new = _load(self.config_dir, self.rules_dir, now)
        except HanchotError as e:
            # A ConfigError lists its file:line: problems one per line, below the
            # headline; any other error is one line.
            sep = "\n" if isinstance(e, ConfigError) else " "
            rejected = _("new configuration rejected; still running the previous one:")
            log.error(f"{rejected}{sep}{e}")
            self._reload_failed()
            return
        if new.settings.database != self.config.settings.database:
            log.warning(_("the database setting changed; restart hanchot to use it"))
        self.config = new
        self._transports()
        log.info(_("configuration reloaded ({n} rules)").format(n=len(new.rules)))
        self._materialise(now, _("deadlines after the configuration changed: {report}"))
        with self.sessions() as s:
            unbuilt, _error = build_errors(s)
        if unbuilt:  # the fix may be in this edit: try them now, not after the backoff
            self._schedule(now, now)

    def _reload_failed(self) -> None:
        if self.health is not None:
            self.health.record_reload_failure()


def _one_line(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive, finite number of seconds from ``env[name]``; InputError otherwise."""
    raw = env.get(name) or str(default)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InputError(
            _("{name} must be a positive number of seconds, not {value!r}").format(
                name=name, value=raw
            )
        )
    return value


def run_forever(
    config_dir: Path,
    rules_dir: Path,
    env: Mapping[str, str],
    *,
    http: tuple[str, int] | None = None,
    standby: bool = False,
) -> None:
    """Entry point of ``hanchot run``; poll interval from ``HANCHOT_POLL_SECONDS``, the
    longest wait between retries of a failed cycle from ``HANCHOT_RETRY_MAX_SECONDS``
    (60), the age at which another process's claim counts as abandoned from
    ``HANCHOT_STUCK_AFTER_SECONDS`` (900). ``http``: serve ``/healthz`` and ``/metrics``
    there. Raises StoreError when a standby took the lock over (a non-zero exit, so
    systemd restarts this one)."""
    poll = _seconds(env, "HANCHOT_POLL_SECONDS", 30)
    retry_max = _seconds(env, "HANCHOT_RETRY_MAX_SECONDS", 60)
    stuck = timedelta(seconds=_seconds(env, "HANCHOT_STUCK_AFTER_SECONDS", 900))
    health = server = None
    if http is not None:
        from engine.health import Health, HealthServer

        health = Health(_utcnow)
        server = HealthServer(health, *http).start()
    d = Daemon(
        config_dir,
        rules_dir,
        env,
        poll_seconds=poll,
        health=health,
        standby=standby,
        retry_max_seconds=retry_max,
        stuck_after=stuck,
    )
    try:
        d.run()
    finally:
        if server is not None:
            server.stop()
            health.close()
    if d.lost_lock:
        raise StoreError(_("another hanchot daemon took over the database lock"))
