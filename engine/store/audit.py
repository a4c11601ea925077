"""Writing the append-only audit log (the database refuses UPDATE/DELETE on it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.store.tables import audit


def jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """Dates and instants as ISO text, so the JSON column takes them."""
    if values is None:
        return None
    out = {}
    for k, v in values.items():
        out[k] = v.isoformat() if hasattr(v, "isoformat") else v
    return out


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
) -> None:
    """Append one entry; part of the caller's transaction."""
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
        )
    )
