"""When a daemon last finished a pass, for another process to read (issue 9.2).

``hanchot run`` (after a periodic check, at most every
:data:`DAEMON_SEEN_EVERY_SECONDS`) and ``hanchot run --once`` (after its cycle) write
the instant to ``store_meta``; ``hanchot web`` reads it for ``/healthz`` and
``/metrics`` (:class:`engine.health.PortalHealth`). Light on purpose: the daemon
imports it, and an idle ``run --once`` must start fast.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from engine.store.tables import meta

#: ``store_meta`` key where the daemon (each periodic check) and ``run --once`` write
#: the instant they last finished a pass, so that another process can tell.
DAEMON_SEEN_KEY = "daemon_seen"
#: A daemon seen within this is "recent": it polls every 30 s, and the shipped
#: ``hanchot-once.timer`` runs ``run --once`` every 15 minutes.
DAEMON_RECENT_SECONDS = 20 * 60
#: The daemon writes the instant at most this often (its checks come every 30 s): a
#: write is the costliest part of an idle check, and "recent" allows 20 minutes.
DAEMON_SEEN_EVERY_SECONDS = 5 * 60


def record_daemon_seen(sessions, now: datetime) -> None:
    """Write ``now`` (aware) under :data:`DAEMON_SEEN_KEY`, in a transaction of its own.

    Called by the daemon after a periodic check (at most every
    :data:`DAEMON_SEEN_EVERY_SECONDS`) and by ``run --once`` after its cycle;
    ``hanchot web`` reads it for ``/healthz``."""
    from engine.store.outbox import insert_ignore, require_aware

    text = require_aware(now).isoformat()
    with sessions() as s, s.begin():
        insert_ignore(s, meta, [{"key": DAEMON_SEEN_KEY, "value": text}])
        s.execute(meta.update().where(meta.c.key == DAEMON_SEEN_KEY).values(value=text))


def read_daemon_seen(session) -> datetime | None:
    """The instant :func:`record_daemon_seen` last wrote; ``None`` if never (or unreadable)."""
    text = session.execute(sa.select(meta.c.value).where(meta.c.key == DAEMON_SEEN_KEY)).scalar()
    try:
        return datetime.fromisoformat(text).astimezone(UTC) if text else None
    except ValueError:
        return None
