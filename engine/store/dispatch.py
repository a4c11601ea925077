"""One dispatch cycle: outbox rows due at ``now`` -> one digest per recipient and instant.

The cycle (:func:`dispatch`):

1. rows left in ``sending`` by a process that died go back to ``pending`` (at once
   when its death is known: :func:`dead_tokens`; else after ``stuck_after``):
   at-least-once rather than silently dropped;
2. open deadlines with ``next_send_at <= now`` get their outbox rows
   (:func:`engine.store.outbox.materialise_due`);
3. pending rows with ``next_attempt_at <= now`` (and rows whose message could not
   be built, every cycle) are grouped by recipient, whatever instant each was due
   at: one message per person per cycle; each group is *claimed* with a conditional
   UPDATE (pending -> sending, only while the deadline is still open), rendered as
   one digest and sent; the rows are marked ``sent`` with the digest's
   deterministic Message-ID. Transient failures (connection refused, timeout, 4xx,
   552 to RCPT TO) keep the rows pending with an exponential backoff; permanent
   ones (5xx) mark them ``failed`` with the answer; an error while building the
   message keeps them pending (a defect, not a delivery failure: see
   :func:`build_errors`);
4. the admin gets one failure summary per local day listing failed rows not yet
   reported (itself an outbox row, stage ``failure-summary``, so it goes out once).

Nothing reads the clock: ``now`` (aware) is an argument.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import secrets
import socket
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from engine.core.config import Config, Settings
from engine.errors import SendError
from engine.i18n import _
from engine.store.audit import log_change
from engine.store.db import SessionFactory
from engine.store.outbox import insert_ignore, materialise_due, message_id, require_aware
from engine.store.tables import (
    FAILED,
    FAILURE_SUMMARY,
    OPEN,
    PENDING,
    SENDING,
    SENT,
    SUPERSEDED,
    deadlines,
    outbox,
)

log = logging.getLogger("hanchot.dispatch")

#: After this many transient failures in a row the server is taken as down and the
#: rest of the cycle's digests are deferred (each with its own backoff).
MAX_TRANSIENT_IN_A_ROW = 3
MAX_BACKOFF = timedelta(hours=6)
#: Groups claimed per transaction; each sent digest is still committed on its own.
CLAIM_BATCH = 100

TransportFactory = Callable[[], AbstractContextManager]


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed try: 2, 4, 8... minutes, at most 6 hours."""
    return min(timedelta(minutes=2 ** min(attempts, 20)), MAX_BACKOFF)


def transport_factory(settings: Settings, password: str | None = None) -> TransportFactory:
    """SMTP per ``settings.smtp`` (one connection per cycle, reused), else .eml files
    under ``settings.mail_dir`` so a fresh machine works without a mail server.

    ``notifications`` (Jinja2, the mail modules) is imported when a transport is made,
    that is when there is something to send: a cycle with nothing due never loads it.
    """
    smtp = settings.smtp
    if smtp is None:

        def files():
            from notifications.transport import FileTransport

            return FileTransport(settings.mail_dir)

        return files
    if smtp.user and not password:
        from engine.errors import ConfigError

        raise ConfigError(
            _(
                "smtp.user is set ({user}) but HANCHOT_SMTP_PASSWORD is not: "
                "set the password in the environment, or remove smtp.user"
            ).format(user=smtp.user)
        )

    def server():
        from notifications.transport import SmtpTransport

        return SmtpTransport(smtp.host, smtp.port, smtp.security, smtp.user, password, smtp.timeout)

    return server


@dataclass
class DispatchReport:
    """What one cycle did; ``next_wake`` is when the next cycle has work (or None)."""

    created: int = 0
    superseded: int = 0
    digests_sent: int = 0
    rows_sent: int = 0
    failed: int = 0
    deferred: int = 0
    #: rows kept pending because hanchot could not build their message (a defect or
    #: a bad configuration, not the recipient's fault); counted in ``deferred`` too
    build_errors: int = 0
    #: rows claimed but given back unsent because the cycle was told to stop
    left: int = 0
    #: the signal that stopped the cycle (set by the caller that handles signals)
    stopped_by: str | None = None
    reclaimed: int = 0
    next_wake: datetime | None = None
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        # One line that scripts read: the same fields in both languages.
        return _(
            "{sent} messages sent ({reminders} reminders), {failed} failed, "
            "{deferred} deferred, {superseded} superseded"
        ).format(
            sent=self.digests_sent,
            reminders=self.rows_sent,
            failed=self.failed,
            deferred=self.deferred,
            superseded=self.superseded,
        )

    @property
    def exit_code(self) -> int:
        """``hanchot run --once``'s exit code (SPEC §5.1): 0 everything due was sent,
        3 some was deferred (transient: server down, stopped mid-cycle, a message
        that could not be built), 4 some failed for good (with or without deferred)."""
        if self.failed:
            return 4
        if self.deferred or self.left or self.stopped_by is not None:
            return 3
        return 0


@dataclass
class _Group:
    recipient: str
    name: str | None
    send_at: datetime
    ids: list[int]


def dispatch(
    config: Config,
    sessions: SessionFactory,
    transports: TransportFactory,
    now: datetime,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    stuck_after: timedelta = timedelta(minutes=15),
    links: Callable | None = None,
) -> DispatchReport:
    """Run one cycle as of ``now`` (see the module docstring). Raises ValueError for a
    naive ``now``; send failures are recorded in the outbox, never raised. ``links``
    (:func:`engine.web.links.link_maker`) gives each item its signed portal links."""
    now = require_aware(now)
    report = DispatchReport()
    with sessions() as s, s.begin():
        report.reclaimed = _reclaim(s, now, stuck_after)
        report.created, report.superseded = materialise_due(s, config, now)
        groups = _due_groups(s, now, report)
    with _owner(sessions) as owner:
        if groups:
            _send_groups(
                config, sessions, transports, now, groups, report, should_stop, owner, links
            )
        if config.settings.admin_email and not should_stop():
            with sessions() as s, s.begin():
                summary = _queue_failure_summary(s, config, now)
            if summary is not None:
                _send_groups(
                    config, sessions, transports, now, [summary], report, should_stop, owner
                )
    with sessions() as s:
        report.next_wake = next_wake(s, stuck_after)
    return report


INTERRUPTED = "retried after an interrupted send"
#: ``last_error`` prefix of rows whose message hanchot could not build (kept pending).
BUILD_ERROR = "internal error: "


def _reclaim(s, now: datetime, stuck_after: timedelta) -> int:
    """Rows left in ``sending`` go back to ``pending``: at once when the process that
    claimed them is known dead (same machine, its pid gone or reused: see
    :func:`claim_owner`), else after ``stuck_after``. Returns how many."""
    timed_out = (
        outbox.update()
        .where(outbox.c.state == SENDING, outbox.c.claimed_at < now - stuck_after)
        .values(state=PENDING, claim_token=None, last_error=INTERRUPTED)
    )
    n = s.execute(timed_out).rowcount or 0
    tokens = s.execute(
        sa.select(outbox.c.claim_token).where(outbox.c.state == SENDING).distinct()
    ).scalars()
    dead = dead_tokens(s, list(tokens))
    if dead:
        n += (
            s.execute(
                outbox.update()
                .where(outbox.c.state == SENDING, outbox.c.claim_token.in_(dead))
                .values(state=PENDING, claim_token=None, last_error=INTERRUPTED)
            ).rowcount
            or 0
        )
    if n:
        log.warning(
            _("{n} reminder(s) left in sending by an interrupted process: pending again").format(
                n=n
            )
        )
    return n


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8")).hexdigest()[:8]


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), which
    tells a reused pid from the original; ``"gone"`` when there is no such process;
    ``None`` where ``/proc`` is not there (not Linux) or cannot be read."""
    if not os.path.isdir("/proc/self"):
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return "gone"
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after it
    fields = stat[stat.rindex(b")") + 2 :].split()
    return fields[19].decode("ascii")  # field 22: starttime


#: First key of the session-level advisory lock that a dispatch cycle on PostgreSQL
#: holds while it has claims ("hanc"); the second key is the cycle's own random id,
#: the last part of its claim tokens. The lock ends with the session, so a cycle
#: whose lock is gone from ``pg_locks`` died, on whatever machine it ran.
PG_OWNER_NS = 0x68616E63


@contextmanager
def _owner(sessions: SessionFactory) -> Iterator[str]:
    """The claim-token suffix of one cycle: :func:`claim_owner`, plus on PostgreSQL the
    id of an advisory lock held on a connection of its own until the cycle ends."""
    with sessions() as s:
        engine = s.get_bind()
    if engine.dialect.name != "postgresql":
        yield claim_owner()
        return
    ident = secrets.randbelow(2**31 - 2) + 1
    conn = engine.connect()
    args = {"ns": PG_OWNER_NS, "id": ident}
    try:
        conn.execute(sa.text("SELECT pg_advisory_lock(:ns, :id)"), args)
        conn.commit()
        yield f"{claim_owner()}.{ident}"
    finally:
        try:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:ns, :id)"), args)
            conn.commit()
        except sa.exc.SQLAlchemyError:
            conn.invalidate()  # never back to the pool with the lock held
        finally:
            conn.close()


def dead_tokens(s, tokens: list[str]) -> list[str]:
    """The claim tokens among ``tokens`` whose process is known dead: by
    :func:`owner_is_dead`, and on PostgreSQL by the owner's advisory lock being gone."""
    dead = [t for t in tokens if t and owner_is_dead(t)]
    pg = {t: int(t.rsplit(".", 1)[1]) for t in tokens if t and t not in dead and _pg_id(t)}
    if pg and s.get_bind().dialect.name == "postgresql":
        held = set(
            s.execute(
                sa.text(
                    "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' "
                    "AND classid::bigint = :ns AND objsubid = 2 AND granted"
                ),
                {"ns": PG_OWNER_NS},
            ).scalars()
        )
        dead += [t for t, ident in pg.items() if ident not in held]
    return dead


def _pg_id(token: str) -> bool:
    parts = token.split(".")
    return len(parts) == 5 and parts[4].isdigit()


def claim_owner() -> str:
    """``host.pid.start``: who is claiming (part of each claim token)."""
    pid = os.getpid()
    return f"{_host_tag()}.{pid}.{_start_ticks(pid) or '-'}"


def owner_is_dead(token: str) -> bool:
    """Whether the process that made claim ``token`` has certainly ended: it ran on
    this machine and its pid is gone, or now belongs to a process started later.
    Unknown (another machine, an old token): ``False``, the timeout decides."""
    parts = token.split(".")
    if len(parts) not in (4, 5) or parts[1] != _host_tag() or not parts[2].isdigit():
        return False
    pid, started = int(parts[2]), parts[3]
    now_started = _start_ticks(pid)
    if now_started == "gone":
        return True
    if now_started is not None and started != "-":
        return now_started != started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _due_groups(s, now: datetime, report: DispatchReport) -> list[_Group]:
    rows = s.execute(
        sa.select(
            outbox.c.id,
            outbox.c.recipient,
            outbox.c.recipient_name,
            outbox.c.send_at,
            outbox.c.deadline_id,
            outbox.c.stage,
            deadlines.c.status,
        )
        .select_from(outbox.outerjoin(deadlines, deadlines.c.id == outbox.c.deadline_id))
        .where(
            outbox.c.state == PENDING,
            sa.or_(
                outbox.c.next_attempt_at <= now,
                # Cheap to try again (nothing reaches the server): every cycle, so a
                # fixed configuration sends them at once.
                outbox.c.last_error.startswith(BUILD_ERROR, autoescape=True),
            ),
            outbox.c.send_at <= now,
        )
        .order_by(outbox.c.send_at, outbox.c.recipient, outbox.c.id)
    ).all()
    closed = [r.id for r in rows if r.deadline_id is not None and r.status != OPEN]
    if closed:
        s.execute(
            outbox.update()
            .where(outbox.c.id.in_(closed))
            .values(state=SUPERSEDED, last_error="deadline closed", updated_at=now)
        )
        report.superseded += len(closed)
    # One message per recipient per cycle (SPEC §4, issue 7.1), whatever instant each
    # row was due at: rows of several instants wait together after downtime.
    groups: dict[str, _Group] = {}
    for r in rows:
        if r.deadline_id is None or r.status != OPEN:
            continue  # failure summaries are queued separately
        g = groups.get(r.recipient.lower())
        if g is None:
            g = groups[r.recipient.lower()] = _Group(r.recipient, r.recipient_name, r.send_at, [])
        elif r.send_at >= g.send_at:  # rows come by send_at: the latest names the digest
            g.send_at, g.name = r.send_at, r.recipient_name
        g.ids.append(r.id)
    out = list(groups.values())
    summaries = [r for r in rows if r.deadline_id is None and r.stage == FAILURE_SUMMARY]
    out.extend(_Group(r.recipient, r.recipient_name, r.send_at, [r.id]) for r in summaries)
    return out


class _Writes:
    """The cycle's claims and marks on one connection, held for the cycle: each
    statement is built once and run as an executemany, one row per parameter set.
    Every mark (:meth:`finish`) still commits on its own, at once: a digest the
    server accepted is durable as sent before the next one is tried (README,
    "Operating hanchot": at-least-once, a duplicate only for the message in flight
    when the process dies)."""

    def __init__(self, sessions: SessionFactory) -> None:
        with sessions() as s:
            self._engine = s.get_bind()
        self._conn: sa.Connection | None = None

    def __enter__(self) -> _Writes:
        return self

    def __exit__(self, *exc) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()  # rolls back anything uncommitted (an error mid-statement)

    @property
    def conn(self) -> sa.Connection:
        if self._conn is None:
            self._conn = self._engine.connect()
        return self._conn

    def claim(self, groups: list[_Group], now: datetime, owner: str) -> dict:
        """Take the rows of several groups pending -> sending in one transaction, one
        claim token per group (``random.owner``), only while their deadline is open.
        Returns token -> rows."""
        tokens = [f"{uuid.uuid4().hex[:16]}.{owner}" for _g in groups]
        params = [
            {"b_oid": i, "b_tok": token, "b_at": now}
            for token, g in zip(tokens, groups, strict=True)
            for i in g.ids
        ]
        conn = self.conn
        try:
            if params:
                conn.execute(_CLAIM, params)
            conn.commit()
            rows = conn.execute(
                sa.select(outbox, *[c.label(f"d_{c.name}") for c in deadlines.c])
                .select_from(outbox.outerjoin(deadlines, deadlines.c.id == outbox.c.deadline_id))
                .where(
                    outbox.c.id.in_([i for g in groups for i in g.ids]),  # primary key: fast
                    outbox.c.claim_token.in_(tokens),
                )
                .order_by(outbox.c.id)
            ).all()
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        out: dict[str, list] = {t: [] for t in tokens}
        for r in rows:
            out[r.claim_token].append(r)
        return out

    def finish(self, token: str, rows, **values) -> None:
        """Set ``values`` on the claimed ``rows`` (still held by ``token``), count the
        attempt, drop the claim, commit."""
        stmt = _finish_statement(tuple(sorted(values)))
        params = [
            {"b_oid": r.id, "b_tok": token, **{f"v_{k}": v for k, v in values.items()}}
            for r in rows
        ]
        conn = self.conn
        try:
            conn.execute(stmt, params)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise


_CLAIM = (
    outbox.update()
    .where(
        outbox.c.id == sa.bindparam("b_oid"),
        outbox.c.state == PENDING,
        sa.or_(
            outbox.c.deadline_id.is_(None),
            sa.select(deadlines.c.id)
            .where(deadlines.c.id == outbox.c.deadline_id, deadlines.c.status == OPEN)
            .exists(),
        ),
    )
    .values(
        state=SENDING,
        claim_token=sa.bindparam("b_tok", type_=outbox.c.claim_token.type),
        claimed_at=sa.bindparam("b_at", type_=outbox.c.claimed_at.type),
    )
)


@functools.cache
def _finish_statement(names: tuple[str, ...]) -> sa.Update:
    return (
        outbox.update()
        .where(outbox.c.id == sa.bindparam("b_oid"), outbox.c.claim_token == sa.bindparam("b_tok"))
        .values(
            claim_token=None,
            attempts=outbox.c.attempts + 1,
            **{k: sa.bindparam(f"v_{k}", type_=outbox.c[k].type) for k in names},
        )
    )


def _finish(writes: _Writes, token: str, rows, **values) -> None:
    writes.finish(token, rows, **values)


def _send_groups(
    config, sessions, transports, now, groups, report, should_stop, owner, links=None
) -> None:
    from notifications.render import render

    tz = config.settings.timezone
    transient_in_a_row = 0
    claimed: dict[str, list] = {}
    transport_cm = transports()
    try:
        transport = transport_cm.__enter__()
    except SendError as e:
        # Cannot even connect (or log in): nothing was sent, everything waits.
        log.error(_("mail server unavailable: {error}").format(error=e.message))
        report.errors.append(e.message)
        _defer(sessions, groups, now, report, e.message)
        return
    # Digests are rendered one claimed batch ahead, in a thread of their own, while this
    # one waits for the mail server's replies (the socket waits release the GIL): the
    # same messages, built by the same pure function, in a fraction of the time.
    renderer = ThreadPoolExecutor(1, thread_name_prefix="hanchot-render")
    built: dict[str, Future] = {}

    def build(g: _Group, rows, mid: str) -> EmailMessage:
        return render(_digest(config, g, rows, mid, now, links), tz=tz)

    with transport_cm, _Writes(sessions) as writes, _shut_down(renderer):
        for i, g in enumerate(groups):
            if should_stop():
                _release(sessions, claimed, now)
                report.left += sum(len(gr.ids) for gr in groups[i:])
                log.info(
                    _("stopping: {n} digest(s) left for the next cycle").format(n=len(groups) - i)
                )
                return
            if transient_in_a_row >= MAX_TRANSIENT_IN_A_ROW:
                _release(sessions, claimed, now)
                _defer(sessions, groups[i:], now, report, "not tried: the mail server is down")
                return
            if i % CLAIM_BATCH == 0:
                batch = groups[i : i + CLAIM_BATCH]
                claimed = writes.claim(batch, now, owner)
                tokens = dict(zip(map(id, batch), claimed, strict=True))
                built = {
                    t: renderer.submit(build, gr, rows, message_id([r.id for r in rows]))
                    for gr, (t, rows) in zip(batch, claimed.items(), strict=True)
                    if rows and rows[0].deadline_id is not None
                }
            token = tokens[id(g)]
            rows = claimed[token]
            if not rows:
                continue
            ids = [r.id for r in rows]
            mid = message_id(ids)
            try:
                if rows[0].deadline_id is None:
                    msg = _summary_message(config, sessions, rows[0], mid, now)
                else:
                    msg = built.pop(token).result()
            except Exception as e:
                # A defect of hanchot or of its configuration (a unit name with a line
                # break that bypassed check...), not the recipient's: keep the rows,
                # tell the admin (log, hanchot status), send once it is fixed.
                _build_error(writes, token, rows, e, now, report)
                continue
            try:
                transport.send(msg)
            except SendError as e:
                if e.retryable:
                    transient_in_a_row += 1
                    attempts = max(r.attempts for r in rows) + 1
                    _finish(
                        writes,
                        token,
                        rows,
                        state=PENDING,
                        last_error=e.message,
                        next_attempt_at=now + backoff(attempts),
                        updated_at=now,
                    )
                    report.deferred += len(rows)
                    report.errors.append(f"{g.recipient}: {e.message}")
                    log.warning(
                        _("deferred {message_id} to {recipient}: {error}").format(
                            message_id=mid, recipient=g.recipient, error=e.message
                        )
                    )
                else:
                    _fail(writes, sessions, token, rows, e.message, now, report)
                continue
            transient_in_a_row = 0
            _finish(writes, token, rows, state=SENT, sent_at=now, message_id=mid, updated_at=now)
            report.digests_sent += 1
            report.rows_sent += len(rows)
            n = len({r.deadline_id for r in rows})
            log.info(
                _("sent {message_id} to {recipient}: {n} deadline(s)").format(
                    message_id=mid, recipient=g.recipient, n=n
                )
            )


@contextmanager
def _shut_down(executor: ThreadPoolExecutor):
    """``executor`` for the block; then its waiting work is dropped (a digest left
    unsent is rendered again next time) and the one in progress is not waited for."""
    try:
        yield executor
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def _build_error(writes, token, rows, exc: Exception, now, report) -> None:
    error = f"{BUILD_ERROR}{type(exc).__name__}: {exc}"
    attempts = max(r.attempts for r in rows) + 1
    _finish(
        writes,
        token,
        rows,
        state=PENDING,
        last_error=error[:2000],
        next_attempt_at=now + backoff(attempts),
        updated_at=now,
    )
    report.deferred += len(rows)
    report.build_errors += len(rows)
    report.errors.append(f"{rows[0].recipient}: {error}")
    log.error(
        _(
            "cannot build the message to {recipient} ({n} reminder(s) kept pending; fix "
            "the configuration, they go out on the next cycle): {error}"
        ).format(recipient=rows[0].recipient, n=len(rows), error=error),
        exc_info=exc,
    )


def _fail(writes, sessions, token, rows, error: str, now, report) -> None:
    _finish(writes, token, rows, state=FAILED, last_error=error, updated_at=now)
    report.failed += len(rows)
    report.errors.append(f"{rows[0].recipient}: {error}")
    log.error(
        _("failed for good to {recipient}: {error}").format(
            recipient=rows[0].recipient, error=error
        )
    )
    with sessions() as s, s.begin():
        for r in rows:
            log_change(
                s,
                at=now,
                actor="hanchot",
                action="send-failed",
                entity="outbox",
                entity_id=r.id,
                rule_id=r.d_rule_id,
                key=r.d_key,
                new={"state": FAILED, "recipient": r.recipient, "stage": r.stage},
                reason=error,
            )


def _release(sessions, claimed: dict[str, list], now) -> None:
    """Give back claimed rows not yet sent (stopping, server down): pending again."""
    ids = [r.id for rows in claimed.values() for r in rows]
    if not ids:
        return
    with sessions() as s, s.begin():
        s.execute(
            outbox.update()
            .where(
                outbox.c.id.in_(ids),
                outbox.c.claim_token.in_(list(claimed)),
                outbox.c.state == SENDING,
            )
            .values(state=PENDING, claim_token=None, updated_at=now)
        )


def _defer(sessions, groups: list[_Group], now, report, why: str) -> None:
    ids = [i for g in groups for i in g.ids]
    report.deferred += defer_pending(sessions, outbox, ids, now, why, updated_at=now)


def defer_pending(sessions, table: sa.Table, ids: list[int], now, why: str, **also) -> int:
    """Rows of ``table`` (the outbox, the portal's notices) not tried because the mail
    server is down: each pending one counts the attempt and waits its own backoff.
    ``also``: more values to set. Returns how many were deferred."""
    with sessions() as s, s.begin():
        rows = s.execute(
            sa.select(table.c.id, table.c.attempts).where(
                table.c.id.in_(ids), table.c.state == PENDING
            )
        ).all()
        for r in rows:
            s.execute(
                table.update()
                .where(table.c.id == r.id, table.c.state == PENDING)
                .values(
                    attempts=r.attempts + 1,
                    last_error=why,
                    next_attempt_at=now + backoff(r.attempts + 1),
                    **also,
                )
            )
    return len(rows)


def _digest(config: Config, g: _Group, rows, mid: str, now: datetime, links=None):
    from notifications.model import Digest, DigestItem

    s = config.settings
    zone = ZoneInfo(s.timezone)
    send_at = g.send_at if g.send_at.astimezone(zone).date() == now.astimezone(zone).date() else now
    day = send_at.astimezone(zone).date()
    rules = {r.id: r for r in config.rules}
    directory = config.directory
    by_deadline = {}
    for r in rows:  # one item per deadline, the latest stage wins
        prev = by_deadline.get(r.deadline_id)
        if prev is None or (r.send_at, r.id) > (prev.send_at, prev.id):
            by_deadline[r.deadline_id] = r

    def name(ref: str) -> str:
        try:
            return directory.name_of(ref)
        except KeyError:
            return ref

    items = []
    for r in by_deadline.values():
        rule = rules.get(r.d_rule_id)
        items.append(
            DigestItem(
                rule_id=r.d_rule_id,
                key=r.d_key,
                title=r.d_title,
                plan_item=r.d_plan_item,
                due=r.d_due,
                working_days_left=config.calendar.working_days_between(day, r.d_due),
                stage=r.stage,
                lead_name=name(r.d_lead),
                coordinating_names=tuple(name(c) for c in r.d_coordinating or ()),
                output=rule.output if rule else None,
                basis=rule.basis if rule else None,
                links=tuple(links(g.recipient, r.deadline_id, r.d_lead).items()) if links else (),
            )
        )
    return Digest(
        recipient_email=g.recipient,
        recipient_name=g.name,
        items=tuple(items),
        message_id=mid,
        send_at=send_at,
        sender_name=s.sender_name,
        sender_email=s.sender_email,
        focal_point=focal_point(directory, g.recipient),
        list_link=links(g.recipient, None, None).get("list") if links else None,
    )


def focal_point(directory, recipient: str) -> str | None:
    """Whom ``recipient`` reports a finished deadline to: the name of role ``admin``
    (the Sở's focal point for TTHC control, Văn phòng Sở in the 2022 plan); ``None``
    when the recipient is the focal point itself (its unit's or its head's address),
    or no ``admin`` role is configured."""
    if "admin" not in directory.roles:
        return None
    try:
        units = [directory.units[u] for u in directory.expand("admin")]
    except KeyError:
        return None
    own = {e.lower() for u in units for e in u.emails}
    own |= {e.lower() for u in units if u.head is not None for e in u.head.emails}
    if recipient.lower() in own:
        return None
    return directory.name_of("admin")


# ------------------------------------------------------------------ failure summary
def _queue_failure_summary(s, config: Config, now: datetime) -> _Group | None:
    """Queue today's summary if failed rows are unreported and none was queued today."""
    unreported = (
        sa.select(outbox.c.id)
        .where(
            outbox.c.state == FAILED,
            outbox.c.reported_in.is_(None),
            outbox.c.deadline_id.is_not(None),
        )
        .limit(1)
    )
    if s.execute(unreported).first() is None:
        return None
    day = now.astimezone(ZoneInfo(config.settings.timezone)).date()
    repeat = day.year * 10000 + day.month * 100 + day.day
    admin = config.settings.admin_email
    insert_ignore(
        s,
        outbox,
        [
            {
                "deadline_id": None,
                "stage": FAILURE_SUMMARY,
                "repeat": repeat,
                "recipient": admin,
                "recipient_name": "Quản trị hệ thống nhắc hạn",
                "send_at": now,
                "state": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    row = s.execute(
        sa.select(outbox.c.id, outbox.c.state, outbox.c.send_at).where(
            outbox.c.deadline_id.is_(None),
            outbox.c.stage == FAILURE_SUMMARY,
            outbox.c.repeat == repeat,
            outbox.c.recipient == admin,
        )
    ).first()
    if row is None or row.send_at != now:
        return None  # today's summary exists already: the rest goes tomorrow
    s.execute(
        outbox.update()
        .where(
            outbox.c.state == FAILED,
            outbox.c.reported_in.is_(None),
            outbox.c.deadline_id.is_not(None),
        )
        .values(reported_in=row.id)
    )
    return _Group(admin, "Quản trị hệ thống nhắc hạn", now, [row.id])


def _summary_message(config: Config, sessions, row, mid: str, now: datetime) -> EmailMessage:
    from email.headerregistry import Address
    from email.utils import format_datetime

    from engine.core.calendar import format_vi
    from notifications.policy import POLICY, header_text

    s = config.settings
    zone = ZoneInfo(s.timezone)
    with sessions() as ses:
        failed = ses.execute(
            sa.select(
                outbox.c.recipient,
                outbox.c.stage,
                outbox.c.last_error,
                deadlines.c.rule_id,
                deadlines.c.key,
                deadlines.c.title,
            )
            .select_from(outbox.join(deadlines, deadlines.c.id == outbox.c.deadline_id))
            .where(outbox.c.reported_in == row.id)
            .order_by(outbox.c.id)
        ).all()
    day = row.send_at.astimezone(zone).date()
    lines = [
        f"Ngày {format_vi(day)}, hệ thống nhắc hạn không gửi được {len(failed)} thư nhắc "
        "(máy chủ thư từ chối người nhận). Xin kiểm tra lại địa chỉ trong config/units.yaml.",
        "",
    ]
    for f in failed:
        lines.append(f"- {f.recipient}: {f.title} ({f.rule_id} {f.key}), mốc «{f.stage}»")
        lines.append(f"  Trả lời của máy chủ: {f.last_error}")
    msg = EmailMessage(policy=POLICY)
    msg["From"] = Address(display_name=header_text(s.sender_name), addr_spec=s.sender_email)
    msg["To"] = Address(display_name=header_text(row.recipient_name or ""), addr_spec=row.recipient)
    msg["Subject"] = f"[Nhắc hạn] {len(failed)} thư không gửi được ngày {day:%d/%m/%Y}"
    msg["Date"] = format_datetime(row.send_at.astimezone(zone))
    msg["Message-ID"] = mid
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("\n".join(lines) + "\n", charset="utf-8", cte="quoted-printable")
    return msg


def build_errors(s) -> tuple[int, str | None]:
    """How many pending rows wait because their message could not be built, and the
    latest such error (``(0, None)`` when none): for ``hanchot status``."""
    where = (
        outbox.c.state == PENDING,
        outbox.c.last_error.startswith(BUILD_ERROR, autoescape=True),
    )
    count = s.execute(sa.select(sa.func.count()).where(*where)).scalar() or 0
    if not count:
        return 0, None
    latest = s.execute(
        sa.select(outbox.c.last_error).where(*where).order_by(outbox.c.updated_at.desc())
    ).first()
    return count, latest[0]


# ------------------------------------------------------------------ wake-up
def next_wake(s, stuck_after: timedelta = timedelta(minutes=15)) -> datetime | None:
    """The earliest instant at which a cycle has something to do (indexed look-ups)."""
    candidates = [
        s.execute(sa.select(sa.func.min(deadlines.c.next_send_at))).scalar(),
        s.execute(
            sa.select(sa.func.min(outbox.c.next_attempt_at)).where(outbox.c.state == PENDING)
        ).scalar(),
    ]
    stuck = s.execute(
        sa.select(sa.func.min(outbox.c.claimed_at)).where(outbox.c.state == SENDING)
    ).scalar()
    if stuck is not None:
        candidates.append(stuck + stuck_after)
        # A claim of a process known dead is taken back by the next cycle: now.
        tokens = s.execute(
            sa.select(outbox.c.claim_token).where(outbox.c.state == SENDING).distinct()
        ).scalars()
        if dead_tokens(s, list(tokens)):
            candidates.append(stuck)
    from engine.store.tables import UTCDateTime

    conv = UTCDateTime().process_result_value
    out = [conv(c, s.get_bind().dialect) for c in candidates if c is not None]
    return min(out, default=None)
