"""Random YAML-ish input never makes the loader crash: only ConfigError, with places."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import ConfigError
from engine.loader.config import load_config
from engine.loader.events import read_events

BASE = Path(__file__).resolve().parent.parent / "conftest.py"

WORDS = [
    "rules",
    "id",
    "title",
    "lead",
    "coordinating",
    "coordinatng",
    "due",
    "on",
    "before",
    "end_of",
    "every",
    "day",
    "month",
    "from",
    "until",
    "rrule",
    "after",
    "in",
    "when",
    "roll",
    "escalation",
    "plan_item",
    "units",
    "groups",
    "roles",
    "name",
    "email",
    "head",
    "policies",
    "at",
    "notify",
    "repeat",
    "smtp",
    "password",
    "timezone",
    "send_time",
    "extra_days_off",
    "date",
    "reason",
    "events",
    "type",
    "van-phong",
    "default",
    "lead.head",
]
VALUES = [
    "2022-02-30",
    "2022-07-29",
    "29/7/2022",
    "2022-Q5",
    "2022-H1",
    "30 days",
    "5 ngày làm việc",
    "-3 weeks",
    "last working day",
    "FREQ=MONTHLY;BYMONTHDAY=25",
    "FREQ=NOPE",
    "forward",
    "sideways",
    "a@b.vn",
    "not an address",
    "due",
    "5 working days before",
    "Hai\ndòng",
    "08:00",
    "8:00",
    "Asia/Ho_Chi_Minh",
    "!!python/object:os.system",
    "",
    "\x07",
    "9999-12-31",
]

scalars = st.one_of(
    st.sampled_from(VALUES),
    st.sampled_from(WORDS),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(WORDS), st.text(max_size=8), st.integers(-3, 40))
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)
yamlish_text = st.lists(
    st.sampled_from(
        list("rules:-[]{}&*!|>#'\"\n abc12@/.,%?<=")
        + ["  ", "\n  - ", "!!python/object:x ", "rules:\n", "- id: ", "due: ", "<<: *a"]
    ),
    max_size=60,
).map("".join)


def _base_files() -> dict[str, str]:
    ns: dict = {"__file__": str(BASE), "__name__": "base_files"}
    exec(compile(BASE.read_text(encoding="utf-8").split("RuleTree =")[0], str(BASE), "exec"), ns)
    return ns["BASE_FILES"]


BASE_FILES = _base_files()
TARGETS = [
    "rules/a.yaml",
    "config/units.yaml",
    "config/escalation.yaml",
    "config/settings.yaml",
    "config/calendar.yaml",
]


def _load(target: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "config").mkdir()
        (root / "rules").mkdir()
        files = dict(BASE_FILES)
        files.setdefault("rules/a.yaml", "rules: []\n")
        for rel, t in files.items():
            (root / rel).write_text(textwrap.dedent(t), encoding="utf-8")
        (root / "rules" / "b.yaml").write_text(
            "rules:\n  - {id: b, title: t, lead: van-phong, due: {end_of: 2022}}\n",
            encoding="utf-8",
        )
        (root / target).write_text(text, encoding="utf-8")
        try:
            load_config(root / "config", root / "rules", env={})
        except ConfigError as e:
            assert e.problems
            for p in e.problems:
                assert p.file and p.message
                assert "Traceback" not in p.message


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.sampled_from(TARGETS), trees)
def test_random_structures_give_only_config_errors(target, tree):
    if target == "rules/a.yaml" and not isinstance(tree, dict):
        tree = {"rules": [tree] if not isinstance(tree, list) else tree}
    _load(target, yaml.safe_dump(tree, allow_unicode=True))


@FUZZ
@given(st.sampled_from(TARGETS), yamlish_text)
def test_random_text_gives_only_config_errors(target, text):
    _load(target, text)


@FUZZ
@given(trees)
def test_random_rules_give_only_config_errors(rule):
    _load("rules/a.yaml", yaml.safe_dump({"rules": [rule]}, allow_unicode=True))


@FUZZ
@given(
    st.dictionaries(st.sampled_from(WORDS), scalars, max_size=8),
    st.dictionaries(st.sampled_from(WORDS + ["every", "after"]), scalars, max_size=6),
)
def test_random_rule_fields_and_due_forms(fields, due):
    fields = {"id": "r", "title": "t", "lead": "van-phong", **fields, "due": due}
    _load("rules/a.yaml", yaml.safe_dump({"rules": [fields]}, allow_unicode=True))


@FUZZ
@given(st.sampled_from(["ev.yaml", "ev.csv"]), yamlish_text)
def test_random_events_files_give_only_config_errors(name, text):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_text(text, encoding="utf-8")
        try:
            read_events(p)
        except ConfigError as e:
            assert e.problems
