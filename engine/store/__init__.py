"""The tracking store: events, deadlines, the outbox of reminders and the audit log.

Layers: :mod:`~engine.store.tables` (schema), :mod:`~engine.store.db` (connection,
migrations, daemon lock), :mod:`~engine.store.materialise` (rules + events ->
deadlines), :mod:`~engine.store.outbox` (escalation ladder -> outbox rows),
:mod:`~engine.store.dispatch` (one send cycle), :mod:`~engine.store.ops` (what the
CLI does: record events, close deadlines, status). Nothing here reads the clock:
``now`` is always an aware datetime passed in.
"""
