"""At-least-once with a one-message window (README, "Hot standby (PostgreSQL) and what
'delivered' means"): each digest is marked ``sent`` and committed before the next
one is handed to the server, also now that marks go through one connection per cycle
(issue 11 item 3). The SMTP server looks at the database from its own connection
while it receives each message.

``bao-cao-6-thang`` is due Fri 29/07/2022; 1 working day before is Thu 28/07, when the
lead (Văn phòng Sở) and the coordinating units (QLCN, QLNL) are mailed: three digests
in one cycle. The 22/07 row (5 wd before, never sent) is superseded by 28/07's.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.store.tables import SENDING, SENT, outbox
from tests.integration.store_helpers import local
from tests.integration.test_store_dispatch import Store

pytestmark = pytest.mark.smtp

DAY = local(2022, 7, 28)


def test_each_digest_is_committed_as_sent_before_the_next_is_handed_over(tmp_path, smtp_server):
    store = Store(tmp_path, smtp_server)
    store.materialise(local(2022, 7, 1))
    seen: list[tuple[str, dict[str, str]]] = []
    received = smtp_server.handler.handle_DATA

    async def handle_data(server, session, envelope):
        with store.engine.connect() as c:  # not the dispatcher's connection
            states = dict(
                c.execute(
                    sa.select(outbox.c.recipient, outbox.c.state).where(outbox.c.send_at == DAY)
                ).all()
            )
        seen.append((envelope.rcpt_tos[0], states))
        return await received(server, session, envelope)

    smtp_server.handler.handle_DATA = handle_data
    report = store.dispatch(DAY)
    assert report.digests_sent == 3
    order = [rcpt for rcpt, _states in seen]
    assert sorted(order) == [
        "qlcn@example.gov.vn",
        "qlnl@example.gov.vn",
        "van-phong@example.gov.vn",
    ]
    for k, (rcpt, states) in enumerate(seen):
        assert states[rcpt] == SENDING  # claimed, in flight
        for before in order[:k]:
            assert states[before] == SENT, (rcpt, states)
