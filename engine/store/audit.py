"""Writing the append-only audit log (the database refuses UPDATE/DELETE on it, and
TRUNCATE on PostgreSQL).

Each entry names ``actor`` (``--by``, self-declared, or the portal's signed-in user)
and ``os_user``, the login of the process that wrote it, which ``--by`` cannot change.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from engine.store import bulk
from engine.store.tables import audit


def jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """Dates and instants as ISO text, so the JSON column takes them."""
    if values is None:
        return None
    out = {}
    for k, v in values.items():
        out[k] = v.isoformat() if hasattr(v, "isoformat") else v
    return out


@lru_cache(maxsize=1)
def os_user() -> str:
    """The account this process runs as: the name of its real uid (not ``$USER``,
    which the caller sets as freely as ``--by``); ``uid N`` when it has no name."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name[:200]
    except KeyError:
        return f"uid {uid}"


def log_change(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None = None,
    rule_id: str | None = None,
    key: str | None = None,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    reason: str | None = None,
    os_login: str | None = None,
) -> None:
    """Append one entry; part of the caller's transaction. ``os_login`` defaults to
    :func:`os_user` (tests pass one)."""
    session.execute(
        audit.insert().values(
            at=at,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            rule_id=rule_id,
            key=key,
            old=jsonable(old),
            new=jsonable(new),
            reason=reason,
            os_user=os_login or os_user(),
        )
    )


def log_changes(session: Session, entries: Iterable[dict[str, Any]], chunk: int = 5000) -> None:
    """Append many entries in one driver-level executemany per ``chunk`` (bulk
    materialisation and imports). Each entry holds :func:`log_change`'s keyword
    arguments; ``old`` and ``new`` are made JSON-able, ``os_user`` defaults to
    :func:`os_user`. The rows stored are the ones :func:`log_change` would store.

    Values repeat over thousands of entries (one instant, a few due dates): each
    distinct ``at`` is converted once, and each distinct ``old``/``new`` *object* is
    serialised once (pass the same dict to entries that share it).
    """
    conn = session.connection()
    at = bulk.memo_converter(conn, audit.c.at)
    old_json = _json_by_identity(bulk.converter(conn, audit.c.old))
    new_json = _json_by_identity(bulk.converter(conn, audit.c.new))
    me = os_user()
    rows = []
    for e in entries:
        rows.append(
            (
                at(e["at"]),
                e["actor"],
                e["action"],
                e["entity"],
                e.get("entity_id"),
                e.get("rule_id"),
                e.get("key"),
                old_json(e.get("old")),
                new_json(e.get("new")),
                e.get("reason"),
                e.get("os_login") or me,
            )
        )
        if len(rows) >= chunk:
            bulk.insert(conn, audit, COLUMNS, rows)
            rows = []
    bulk.insert(conn, audit, COLUMNS, rows)


#: The columns of an audit row, in the order :func:`log_changes` writes them.
COLUMNS = (
    "at",
    "actor",
    "action",
    "entity",
    "entity_id",
    "rule_id",
    "key",
    "old",
    "new",
    "reason",
    "os_user",
)


def _json_by_identity(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``jsonable`` then ``convert``, once per distinct object (kept alive meanwhile,
    so an id is never reused for another object within one call)."""
    seen: dict[int, tuple[Any, Any]] = {}
    none = convert(None)

    def one(value: Any) -> Any:
        if value is None:
            return none
        hit = seen.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        out = convert(jsonable(value))
        seen[id(value)] = (value, out)
        return out

    return one
