"""occurrences() sorts by (due date, key) in two stable passes (a speed-up for plans of
a million occurrences): the order must be the one of the single (due, key) sort."""

from __future__ import annotations

import random
from datetime import date, timedelta

from engine.core.calendar import WorkingCalendar
from engine.core.rules import After, Event, Rule, occurrences
from engine.core.spans import parse_span


def test_order_is_by_due_then_key_whatever_the_recorded_order():
    rng = random.Random(11)
    events = [
        Event("publication", f"{rng.choice('ABqđ')}-{rng.randrange(400):03}-{i}", day, {})
        for i in range(3000)
        for day in [date(2022, 1, 3) + timedelta(days=rng.randrange(200))]
    ]
    rule = Rule("r", "Việc", "van-phong", After("publication", parse_span("10 working days")))
    got = occurrences(rule, WorkingCalendar(), date(2021, 1, 1), date(2023, 12, 31), events)
    assert len(got) == len(events)
    # Many share a due date (200 dates, 3,000 events): the key decides among them.
    assert len({o.due for o in got}) < 200
    expected = sorted(got, key=lambda o: (o.due, o.key))
    assert [(o.due, o.key) for o in got] == [(o.due, o.key) for o in expected]
    assert [o.key for o in got] != [e.id for e in events]  # the input was not in order
