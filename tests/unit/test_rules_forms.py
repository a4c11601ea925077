"""Each due-date form of SPEC §3, written in YAML as an admin writes it, with its keys.

Rolls are checked at the days off of Vietnam: Tết 2022 (31/01–04/02), 30/4–1/5 2022
(Sat, Sun; observed 02/05 and 03/05), Quốc khánh 2022 (01/09, 02/09) and 2023
(01/09, 02/09 Sat, observed 04/09), and the make-up Saturday 04/05/2024 (worked in
exchange for Monday 29/04/2024).
"""

from __future__ import annotations

from datetime import date

import pytest

from engine.core.rules import Event, plan
from engine.loader.config import load_config


def dues(make_rule_tree, due: str, start: str, end: str, events=()) -> list[tuple[str, str]]:
    config, rules = make_rule_tree(
        {
            "rules/a.yaml": f"""\
rules:
  - id: r
    title: Nhiệm vụ
    lead: van-phong
    due: {due}
"""
        }
    )
    cfg = load_config(config, rules, env={})
    occ = plan(cfg.rules, cfg.calendar, date.fromisoformat(start), date.fromisoformat(end), events)
    return [(o.key, o.due.isoformat()) for o in occ]


def pub(eid: str, day: str, **attrs: str) -> Event:
    return Event("publication", eid, date.fromisoformat(day), attrs)


# ------------------------------------------------------------------------- on
@pytest.mark.parametrize(
    ("due", "expected"),
    [
        ('{"on": 2022-07-29}', "2022-07-29"),  # a Friday, a working day
        ('{"on": 2022-01-31}', "2022-02-07"),  # Tết 31/01–04/02, weekend → Mon 07/02
        ('{"on": 2022-01-31, roll: backward}', "2022-01-28"),
        ('{"on": 2022-01-31, roll: none}', "2022-01-31"),
        ('{"on": 2022-04-30}', "2022-05-04"),  # 30/4, 1/5, observed 2/5 and 3/5 → Wed 04/05
        ('{"on": 2022-09-02}', "2022-09-05"),  # Quốc khánh, then the weekend
        ('{"on": 2024-05-04}', "2024-05-04"),  # make-up Saturday: a working day
        ('{"on": 29/07/2022}', "2022-07-29"),  # the Vietnamese way of writing it
    ],
)
def test_on(make_rule_tree, due, expected):
    assert dues(make_rule_tree, due, "2022-01-01", "2024-12-31") == [("once", expected)]


# ------------------------------------------------------------------------- before
@pytest.mark.parametrize(
    ("due", "expected"),
    [
        ("{before: 2022-07-30}", "2022-07-29"),  # "trước ngày 30/7/2022": Fri 29/07
        ("{before: 2022-07-29}", "2022-07-28"),  # strictly before
        ("{before: 2022-02-07}", "2022-01-28"),  # back over the weekend and Tết
        ("{before: 2022-05-04}", "2022-04-29"),  # back over 30/4–3/5
        ("{before: 2024-05-06}", "2024-05-04"),  # the make-up Saturday is a working day
        ("{before: 2022-02-07, roll: forward}", "2022-02-07"),
    ],
)
def test_before(make_rule_tree, due, expected):
    assert dues(make_rule_tree, due, "2022-01-01", "2024-12-31") == [("once", expected)]


# ------------------------------------------------------------------------- end_of
@pytest.mark.parametrize(
    ("due", "expected"),
    [
        ("{end_of: 2022}", "2022-12-30"),  # 31/12/2022 is a Saturday
        ("{end_of: 2022-Q1}", "2022-03-31"),
        ("{end_of: 2022-04}", "2022-04-29"),  # 30/04 holiday (and a Saturday)
        ("{end_of: 2022-H1}", "2022-06-30"),
        ("{end_of: 2022-Q3}", "2022-09-30"),
        ("{end_of: 2022, roll: forward}", "2023-01-03"),  # 1/1 Sun, 2/1 observed
        ("{end_of: 2022, roll: none}", "2022-12-31"),
    ],
)
def test_end_of(make_rule_tree, due, expected):
    assert dues(make_rule_tree, due, "2022-01-01", "2023-12-31") == [("once", expected)]


# ------------------------------------------------------------------------- every
def test_every_quarter_month_3_day_18(make_rule_tree):
    due = "{every: quarter, month: 3, day: 18, from: 2022-01-01, until: 2022-12-31}"
    assert dues(make_rule_tree, due, "2022-01-01", "2022-12-31") == [
        ("2022-Q1", "2022-03-18"),
        ("2022-Q2", "2022-06-20"),  # Sat 18/06 → Mon 20/06
        ("2022-Q3", "2022-09-19"),  # Sun 18/09 → Mon 19/09
        ("2022-Q4", "2022-12-19"),  # Sun 18/12 → Mon 19/12
    ]


def test_every_month_first_working_day(make_rule_tree):
    due = "{every: month, day: first working day, from: 2022-01-01, until: 2022-12-31}"
    got = dict(dues(make_rule_tree, due, "2022-01-01", "2022-12-31"))
    assert got["2022-01"] == "2022-01-04"  # 1/1 Sat, 2/1 Sun, 3/1 observed
    assert got["2022-02"] == "2022-02-07"  # Tết 1–4/2, weekend 5–6/2
    assert got["2022-05"] == "2022-05-04"  # 1/5 Sun, 2/5 and 3/5 observed
    assert got["2022-09"] == "2022-09-05"  # 1/9, 2/9, weekend
    assert len(got) == 12


def test_every_month_last_working_day(make_rule_tree):
    due = "{every: month, day: last working day, from: 2022-01-01, until: 2022-12-31}"
    got = dict(dues(make_rule_tree, due, "2022-01-01", "2022-12-31"))
    assert got["2022-01"] == "2022-01-28"  # 31/01 is Tết (Giao thừa)
    assert got["2022-04"] == "2022-04-29"
    assert got["2022-12"] == "2022-12-30"


def test_every_half_last_day_rolls_into_next_year(make_rule_tree):
    due = "{every: half, month: 6, day: last}"
    assert dues(make_rule_tree, due, "2022-01-01", "2023-01-31") == [
        ("2022-H1", "2022-06-30"),
        ("2022-H2", "2023-01-03"),  # Sat 31/12, Sun 1/1, observed Mon 2/1 → Tue 3/1
    ]


def test_every_year_on_quoc_khanh(make_rule_tree):
    due = "{every: year, month: 9, day: 2, from: 2022-01-01, until: 2023-12-31}"
    assert dues(make_rule_tree, due, "2022-01-01", "2023-12-31") == [
        ("2022", "2022-09-05"),  # Fri 2/9 holiday, weekend → Mon 5/9
        ("2023", "2023-09-05"),  # Sat 2/9, Sun 3/9, observed Mon 4/9 → Tue 5/9
    ]


def test_every_day_31_clamps_and_roll_override(make_rule_tree):
    due = "{every: month, day: 31, from: 2022-02-01, until: 2022-04-30, roll: backward}"
    assert dues(make_rule_tree, due, "2022-01-01", "2022-12-31") == [
        ("2022-02", "2022-02-28"),
        ("2022-03", "2022-03-31"),
        ("2022-04", "2022-04-29"),  # 30/04 (the month's last day) is off: backward
    ]


def test_every_make_up_saturday_is_kept(make_rule_tree):
    due = "{every: month, day: 4, from: 2024-05-01, until: 2024-05-31}"
    assert dues(make_rule_tree, due, "2024-01-01", "2024-12-31") == [("2024-05", "2024-05-04")]


def test_every_from_until_bound_the_nominal_dates(make_rule_tree):
    due = "{every: month, day: 15, from: 2022-03-16, until: 2022-05-15}"
    assert dues(make_rule_tree, due, "2022-01-01", "2022-12-31") == [
        ("2022-04", "2022-04-15"),
        ("2022-05", "2022-05-16"),  # Sun 15/05 → Mon 16/05
    ]


# ------------------------------------------------------------------------- rrule
def test_rrule_keys_are_the_unrolled_dates(make_rule_tree):
    due = '{rrule: "FREQ=MONTHLY;BYMONTHDAY=25", from: 2022-05-01, until: 2022-09-30}'
    assert dues(make_rule_tree, due, "2022-01-01", "2022-12-31") == [
        ("2022-05-25", "2022-05-25"),
        ("2022-06-25", "2022-06-27"),  # Saturday → Monday
        ("2022-07-25", "2022-07-25"),
        ("2022-08-25", "2022-08-25"),
        ("2022-09-25", "2022-09-26"),  # Sunday → Monday
    ]


# ------------------------------------------------------------------------- after
def test_after_days_counts_from_the_next_day_and_rolls_at_gio_to(make_rule_tree):
    due = "{after: publication, in: 30 days}"
    got = dues(make_rule_tree, due, "2022-01-01", "2022-12-31", [pub("qd-0425", "2022-03-11")])
    assert got == [("qd-0425", "2022-04-12")]  # 10/04 Sun Giỗ Tổ, 11/04 observed


def test_after_vietnamese_span_words(make_rule_tree):
    events = [pub("a", "2022-01-20"), pub("b", "2022-01-31")]
    assert dues(
        make_rule_tree, "{after: publication, in: 15 ngày}", "2022-01-01", "2022-12-31", events
    ) == [
        ("a", "2022-02-07"),  # 04/02 (Tết) → Mon 07/02
        ("b", "2022-02-15"),
    ]
    assert dues(
        make_rule_tree, "{after: publication, in: 1 tháng}", "2022-01-01", "2022-12-31", events
    ) == [
        ("a", "2022-02-21"),  # 20/02 is a Sunday
        ("b", "2022-02-28"),  # 31/01 + 1 month = 28/02 (Điều 148)
    ]
    assert dues(
        make_rule_tree, "{after: publication, in: 2 tuần}", "2022-01-01", "2022-12-31", events
    ) == [
        ("a", "2022-02-07"),  # Thu 03/02 (Tết) → Mon 07/02
        ("b", "2022-02-14"),
    ]


def test_after_working_days_at_30_4_and_the_make_up_saturday(make_rule_tree):
    due = "{after: training-call, in: 5 ngày làm việc}"
    events = [
        Event("training-call", "cv-1", date(2022, 4, 28)),  # README example → 09/05/2022
        Event("training-call", "cv-2", date(2024, 4, 26)),  # Fri; 29/4 swapped, Sat 4/5 worked
    ]
    assert dues(make_rule_tree, due, "2022-01-01", "2024-12-31", events) == [
        ("cv-1", "2022-05-09"),
        ("cv-2", "2024-05-07"),  # 2/5 (1), 3/5 (2), Sat 4/5 (3), 6/5 (4), 7/5 (5)
    ]


def test_after_when_matches_normalised_attributes(make_rule_tree):
    # Only true/false (any case, as spreadsheets write TRUE) are booleans at entry
    # (issue 12.7); "yes" stored before then keeps its old meaning (true), "maybe"
    # matches neither rule.
    events = [
        pub("qd-0425", "2022-03-11"),
        pub("qd-1102", "2022-08-19", delegated="true"),
        pub("qd-1200", "2022-10-03", delegated="TRUE"),
        pub("qd-1300", "2022-10-04", delegated="yes"),
        pub("qd-1400", "2022-10-03", delegated="maybe"),
    ]
    delegated = "{after: publication, in: 15 days, when: {delegated: true}}"
    not_delegated = "{after: publication, in: 30 days, when: {delegated: false}}"
    assert dues(make_rule_tree, delegated, "2022-01-01", "2022-12-31", events) == [
        ("qd-1102", "2022-09-05"),  # 03/09 Sat → Mon 05/09
        ("qd-1200", "2022-10-18"),
        ("qd-1300", "2022-10-19"),  # 04/10 + 15 days = Wed 19/10/2022
    ]
    assert dues(make_rule_tree, not_delegated, "2022-01-01", "2022-12-31", events) == [
        ("qd-0425", "2022-04-12")
    ]


def test_after_other_event_types_are_ignored(make_rule_tree):
    events = [Event("training-call", "x", date(2022, 3, 1))]
    assert (
        dues(
            make_rule_tree, "{after: publication, in: 30 days}", "2022-01-01", "2022-12-31", events
        )
        == []
    )


def test_after_roll_override(make_rule_tree):
    due = "{after: publication, in: 30 days, roll: backward}"
    got = dues(make_rule_tree, due, "2022-01-01", "2022-12-31", [pub("qd-0425", "2022-03-11")])
    assert got == [("qd-0425", "2022-04-08")]  # Sun 10/04 back to Fri 08/04


def test_window_is_on_the_due_date_not_the_nominal_one(make_rule_tree):
    # end_of 2022 rolled forward is due in 2023: outside a 2022 window.
    assert dues(make_rule_tree, "{end_of: 2022, roll: forward}", "2022-01-01", "2022-12-31") == []
