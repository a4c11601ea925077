"""Rules + events -> deadlines: idempotent, recomputed on edits, never deleted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from engine.core.calendar import WorkingCalendar
from engine.core.rules import On
from engine.errors import InputError, StoreError
from engine.store.materialise import materialise
from engine.store.ops import close_deadline, record_event, status_lines
from engine.store.tables import audit, deadlines
from tests.integration.store_helpers import (
    PUBLISH_RULE,
    REPORT_RULE,
    local,
    make_config,
    open_store,
)

NOW = local(2022, 7, 1)


def rows(sessions):
    with sessions() as s:
        return {
            (r.rule_id, r.key): r
            for r in s.execute(sa.select(deadlines).order_by(deadlines.c.id)).all()
        }


def run(sessions, config, now=NOW):
    with sessions() as s, s.begin():
        return materialise(s, config, now)


def audit_rows(sessions, action):
    with sessions() as s:
        return s.execute(sa.select(audit).where(audit.c.action == action)).all()


def test_idempotent_by_rule_and_key(tmp_path):
    config = make_config(tmp_path)
    _, sessions = open_store(config)
    assert run(sessions, config).created == 1
    again = run(sessions, config)
    assert (again.created, again.updated, again.cancelled) == (0, 0, 0)
    (row,) = rows(sessions).values()
    assert row.due == date(2022, 7, 29) and row.status == "open"
    assert row.next_send_at == local(2022, 7, 22)  # first stage: 5 working days before
    assert len(audit_rows(sessions, "create")) == 1


def test_rule_edit_recomputes_open_and_logs_old_and_new(tmp_path):
    config = make_config(tmp_path)
    _, sessions = open_store(config)
    run(sessions, config)
    moved = replace(config, rules=(replace(REPORT_RULE, due=On(date(2022, 8, 5))),))
    assert run(sessions, moved).updated == 1
    assert rows(sessions)[("bao-cao-6-thang", "once")].due == date(2022, 8, 5)
    (entry,) = audit_rows(sessions, "recompute")
    assert entry.old["due"] == "2022-07-29" and entry.new["due"] == "2022-08-05"


def test_calendar_edit_recomputes(tmp_path):
    config = make_config(tmp_path)
    _, sessions = open_store(config)
    run(sessions, config)
    off = WorkingCalendar(extra_days_off={date(2022, 7, 29): "Nghỉ đột xuất"})
    assert run(sessions, replace(config, calendar=off)).updated == 1
    assert rows(sessions)[("bao-cao-6-thang", "once")].due == date(2022, 8, 1)


def test_closed_deadlines_are_never_touched(tmp_path):
    config = make_config(tmp_path)
    _, sessions = open_store(config)
    run(sessions, config)
    with sessions() as s, s.begin():
        close_deadline(s, "bao-cao-6-thang", "once", "done", "BC 12", actor="cv", now=NOW)
    moved = replace(config, rules=(replace(REPORT_RULE, due=On(date(2022, 8, 5))),))
    assert run(sessions, moved).updated == 0
    row = rows(sessions)[("bao-cao-6-thang", "once")]
    assert (row.status, row.due, row.evidence, row.closed_by) == (
        "done",
        date(2022, 7, 29),
        "BC 12",
        "cv",
    )
    assert run(sessions, replace(config, rules=())).cancelled == 0
    with sessions() as s, s.begin(), pytest.raises(StoreError, match="already done"):
        close_deadline(s, "bao-cao-6-thang", "once", "waived", "x", actor="cv", now=NOW)


def test_removed_rule_cancels_never_deletes_and_comes_back(tmp_path):
    config = make_config(tmp_path)
    _, sessions = open_store(config)
    run(sessions, config)
    assert run(sessions, replace(config, rules=())).cancelled == 1
    row = rows(sessions)[("bao-cao-6-thang", "once")]
    assert row.status == "cancelled" and row.next_send_at is None
    assert "removed" in audit_rows(sessions, "cancel")[0].reason
    assert run(sessions, config).reopened == 1
    assert rows(sessions)[("bao-cao-6-thang", "once")].status == "open"


def test_events_start_after_rules(tmp_path):
    config = make_config(tmp_path, rules=(PUBLISH_RULE,))
    _, sessions = open_store(config)
    with sessions() as s, s.begin():
        assert record_event(s, "publication", "qd-0425", date(2022, 3, 15), {}, actor="a", now=NOW)
        # the same event again is a no-op; a different date is an error
        assert not record_event(
            s, "publication", "qd-0425", date(2022, 3, 15), {}, actor="a", now=NOW
        )
        with pytest.raises(InputError, match="already recorded"):
            record_event(s, "publication", "qd-0425", date(2022, 3, 16), {}, actor="a", now=NOW)
    run(sessions, config)
    row = rows(sessions)[("quy-trinh-noi-bo", "qd-0425")]
    assert row.due == date(2022, 4, 14)  # 30 days from 15/03 (Điều 147 BLDS 2015)


def test_status_overdue_first_then_due_soon(tmp_path):
    rules = (
        REPORT_RULE,
        replace(REPORT_RULE, id="som", due=On(date(2022, 7, 20)), lead="thanh-tra"),
        replace(REPORT_RULE, id="xa", due=On(date(2022, 12, 1))),
    )
    config = make_config(tmp_path, rules=rules)
    _, sessions = open_store(config)
    now = local(2022, 7, 25, 9)
    run(sessions, config, now)
    with sessions() as s:
        lines = status_lines(s, config, now)
        assert [(x.rule, x.state) for x in lines] == [
            ("som", "overdue"),
            ("bao-cao-6-thang", "due-soon"),
        ]
        assert lines[0].working_days_left == -3
        assert [x.rule for x in status_lines(s, config, now, unit="thanh-tra")] == ["som"]
        assert len(status_lines(s, config, now, everything=True)) == 3


def test_naive_now_refused(tmp_path):
    config = make_config(tmp_path)
    _, sessions = open_store(config)
    with pytest.raises(ValueError, match="naive"):
        run(sessions, config, datetime(2022, 7, 1))
    assert datetime(2022, 7, 1, tzinfo=UTC)  # aware is fine
