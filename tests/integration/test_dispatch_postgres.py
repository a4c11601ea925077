"""Issue 12.15 on PostgreSQL: the claims of a dispatch cycle that died on another
machine are taken back at once, because its advisory lock went with its session."""

# ruff: noqa: F811 - the PostgreSQL fixtures are imported and then requested by name
from __future__ import annotations

import time

import sqlalchemy as sa

from engine.store import db
from engine.store.dispatch import PG_OWNER_NS, dead_tokens, dispatch, transport_factory
from engine.store.materialise import materialise
from engine.store.outbox import materialise_due
from engine.store.tables import PENDING, SENDING, outbox
from tests.integration.store_helpers import local, make_config
from tests.integration.test_store_postgres import pg_engine, pg_url  # noqa: F401

# A host tag that is not this machine's: only the database can tell.
ELSEWHERE = "0000000000000000.ffffffff.4242.99"


def setup(tmp_path, pg_engine, pg_url):
    config = make_config(tmp_path, database=pg_url, admin_email=None)
    db.migrate(pg_engine)
    sessions = db.session_factory(pg_engine)
    now = local(2022, 7, 22)
    with sessions() as s, s.begin():
        materialise(s, config, local(2022, 7, 1))
    return config, sessions, now


def claim(sessions, token, at):
    with sessions() as s, s.begin():
        s.execute(
            outbox.update()
            .where(outbox.c.state == PENDING)
            .values(state=SENDING, claim_token=token, claimed_at=at)
        )


def test_claims_of_a_cycle_whose_lock_is_gone_are_reclaimed_at_once(
    tmp_path,
    pg_engine,
    pg_url,
):
    config, sessions, now = setup(tmp_path, pg_engine, pg_url)
    transports = transport_factory(config.settings)
    with sessions() as s, s.begin():
        materialise_due(s, config, now)
    claim(sessions, f"{ELSEWHERE}.12345", now)  # lock 12345 is held by nobody
    report = dispatch(config, sessions, transports, local(2022, 7, 22, 8, 1))
    assert report.reclaimed == 1 and report.digests_sent == 1


def test_claims_of_a_live_cycle_elsewhere_are_left_alone(
    tmp_path,
    pg_engine,
    pg_url,
):
    config, sessions, now = setup(tmp_path, pg_engine, pg_url)
    with sessions() as s, s.begin():
        materialise_due(s, config, now)
    other = db.make_engine(pg_url)  # the other machine's session, alive
    try:
        with other.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:ns, 777)"), {"ns": PG_OWNER_NS})
            conn.commit()
            token = f"{ELSEWHERE}.777"
            claim(sessions, token, now)
            with sessions() as s:
                assert dead_tokens(s, [token]) == []
            report = dispatch(
                config, sessions, transport_factory(config.settings), local(2022, 7, 22, 8, 1)
            )
            assert report.reclaimed == 0 and report.digests_sent == 0
        other.dispose()  # its session ends (the process died): the lock is gone
        # ...once the server has ended that backend, which closing the socket only starts
        # (under load it took a few ms more: the check raced it once in 7 runs).
        deadline = time.monotonic() + 10
        while True:
            with sessions() as s:
                found = dead_tokens(s, [token])
            if found == [token] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert found == [token]
    finally:
        other.dispose()
