"""``hanchot plan --diff OLD NEW``: which deadlines appear, disappear or move.

Deadlines are paired by (rule id, key) first; what is left is paired by the rule
id without a trailing year (``-2022``) and the key without its year (``Q1``,
``once``, the event id), so a rollover's copy pairs with its original. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from engine.core.calendar import WorkingCalendar
from engine.core.rules import Event, Occurrence, Rule, plan

APPEARS = "appears"
DISAPPEARS = "disappears"
MOVES = "moves"
SAME = "same"


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    old: Occurrence | None
    new: Occurrence | None

    def as_dict(self) -> dict:
        def side(o: Occurrence | None) -> dict | None:
            if o is None:
                return None
            return {"rule": o.rule.id, "key": o.key, "due": o.due.isoformat()}

        return {"change": self.kind, "old": side(self.old), "new": side(self.new)}


def _loose(o: Occurrence) -> tuple[str, str]:
    rid = re.sub(r"-(19|20)\d\d$", "", o.rule.id)
    key = re.sub(r"^(19|20)\d\d-?", "", o.key) or "year"
    return rid, key


def diff_occurrences(old: Iterable[Occurrence], new: Iterable[Occurrence]) -> list[Change]:
    """Pair two lists of deadlines; every deadline is in exactly one change."""
    old_by = {(o.rule.id, o.key): o for o in old}
    new_by = {(o.rule.id, o.key): o for o in new}
    changes: list[Change] = []
    for k in [k for k in old_by if k in new_by]:
        a, b = old_by.pop(k), new_by.pop(k)
        changes.append(Change(SAME if a.due == b.due else MOVES, a, b))
    loose_old: dict[tuple[str, str], list[Occurrence]] = {}
    for o in old_by.values():
        loose_old.setdefault(_loose(o), []).append(o)
    loose_new: dict[tuple[str, str], list[Occurrence]] = {}
    for o in new_by.values():
        loose_new.setdefault(_loose(o), []).append(o)
    for k, olds in loose_old.items():
        news = loose_new.get(k, [])
        if len(olds) == 1 and len(news) == 1:
            a, b = olds[0], news[0]
            changes.append(Change(SAME if a.due == b.due else MOVES, a, b))
            old_by.pop((a.rule.id, a.key))
            new_by.pop((b.rule.id, b.key))
    changes += [Change(DISAPPEARS, o, None) for o in old_by.values()]
    changes += [Change(APPEARS, None, o) for o in new_by.values()]
    changes.sort(key=lambda c: ((c.new or c.old).due, (c.new or c.old).rule.id, c.kind))
    return changes


def diff_plans(
    old_rules: Iterable[Rule],
    new_rules: Iterable[Rule],
    cal: WorkingCalendar,
    start: date,
    end: date,
    events: Iterable[Event] = (),
) -> list[Change]:
    """The changes between the deadlines two rule sets give in ``[start, end]``."""
    evs = list(events)
    return diff_occurrences(
        plan(list(old_rules), cal, start, end, evs), plan(list(new_rules), cal, start, end, evs)
    )
