"""ops.record_event / remove_event: the one code path every caller (CLI, portal) uses."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from engine.errors import InputError
from engine.store.materialise import materialise
from engine.store.ops import record_event, remove_event
from engine.store.outbox import materialise_due
from engine.store.tables import audit, deadlines, events, outbox
from tests.integration.store_helpers import PUBLISH_RULE, local, make_config, open_store

NOW = local(2022, 3, 16)


@pytest.fixture
def store(tmp_path):
    config = make_config(tmp_path, rules=(PUBLISH_RULE,))
    _, sessions = open_store(config)
    return config, sessions


@pytest.mark.parametrize(
    "type_, event_id, attrs, message",
    [
        ("publication", "qd-1\r\nBcc: evil@attacker.test", {}, "event id 'qd-1\\r\\nBcc"),
        ("Bad Type", "qd-1", {}, "event type 'Bad Type' may contain only"),
        ("publication", "[/]", {}, "event id '[/]' may contain only"),
        ("publication", "qd-1", {"x\r\nBcc": "1"}, "attribute name 'x\\r\\nBcc'"),
        ("publication", "qd-1", {"ghi_chu": "a\r\nBcc: x"}, "attribute ghi_chu contains"),
    ],
)
def test_record_event_refuses_unsafe_names_whoever_calls(store, type_, event_id, attrs, message):
    _, sessions = store
    with sessions() as s, s.begin():
        with pytest.raises(InputError, match=re.escape(message)):
            record_event(s, type_, event_id, date(2022, 3, 15), attrs, actor="a", now=NOW)
    with sessions() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 0


def test_record_event_with_rules_refuses_an_unused_type(store):
    config, sessions = store
    with sessions() as s, s.begin():
        with pytest.raises(InputError, match="did you mean 'publication'"):
            record_event(
                s,
                "publicaton",
                "qd-1",
                date(2022, 3, 15),
                {},
                actor="a",
                now=NOW,
                rules=config.rules,
            )


def test_remove_event_cancels_supersedes_and_audits(store):
    config, sessions = store
    with sessions() as s, s.begin():
        record_event(s, "publication", "qd-0425", date(2022, 3, 15), {}, actor="a", now=NOW)
        materialise(s, config, NOW)
    # 15/03/2022 + 30 days = Thu 14/04/2022; the first stage is 5 working days before
    # it (07/04, Thu), queued by a run on that morning.
    run_at = local(2022, 4, 7)
    with sessions() as s, s.begin():
        materialise(s, config, run_at)
        materialise_due(s, config, run_at)
    with sessions() as s:
        assert "pending" in s.execute(sa.select(outbox.c.state)).scalars().all()
    with sessions() as s, s.begin():
        got = remove_event(
            s, config.rules, "publication", "qd-0425", "nhầm", actor="admin", now=run_at
        )
    assert got.cancelled == (("quy-trinh-noi-bo", "qd-0425"),) and got.closed == ()
    with sessions() as s:
        assert s.execute(sa.select(deadlines.c.status)).scalars().all() == ["cancelled"]
        assert "pending" not in s.execute(sa.select(outbox.c.state)).scalars().all()
        (entry,) = s.execute(sa.select(audit).where(audit.c.action == "remove")).all()
        assert (entry.actor, entry.reason, entry.old["date"]) == ("admin", "nhầm", "2022-03-15")
    # A later run does not bring it back.
    with sessions() as s, s.begin():
        assert materialise(s, config, run_at).reopened == 0
