"""``completion: direct | confirm`` (issue 8.3): a rule's key and settings' ``web.completion``,
read into the core types, and each wrong value reported as ``file:line: message``."""

from __future__ import annotations

from engine.loader.config import load_config
from tests.unit.test_loader_validation import one, problems, rule_with


def test_rule_and_settings_values_are_read(make_rule_tree):
    config, rules = make_rule_tree(
        {
            "rules/a.yaml": rule_with("{end_of: 2022-Q1}", "completion: direct"),
            "rules/b.yaml": rule_with("{end_of: 2022-Q2}").replace("id: r1", "id: r2"),
            "config/settings.yaml": "web: {completion: confirm}\n",
        }
    )
    cfg = load_config(config, rules, env={})
    by_id = {r.id: r.completion for r in cfg.rules}
    assert by_id == {"r1": "direct", "r2": None}
    assert cfg.settings.web.completion == "confirm"


def test_neither_set_leaves_the_built_in_rule(make_rule_tree):
    config, rules = make_rule_tree({"rules/a.yaml": rule_with("{end_of: 2022-Q1}")})
    cfg = load_config(config, rules, env={})
    assert cfg.rules[0].completion is None and cfg.settings.web.completion is None


def test_a_wrong_rule_value_names_its_file_and_line(make_rule_tree):
    p = one(make_rule_tree, {"rules/a.yaml": rule_with("{on: 2022-07-29}", "completion: ngay")})
    assert (p.file, p.line) == ("rules/a.yaml", 5)
    assert "completion" in p.message and "'direct'" in p.message and "'confirm'" in p.message


def test_a_wrong_settings_value_names_its_file_and_line(make_rule_tree):
    found = problems(
        make_rule_tree,
        {
            "rules/a.yaml": rule_with("{on: 2022-07-29}"),
            "config/settings.yaml": "timezone: Asia/Ho_Chi_Minh\nweb:\n  completion: true\n",
        },
    )
    assert [(p.file, p.line) for p in found] == [("config/settings.yaml", 3)]
    assert "web.completion" in found[0].message and "'direct'" in found[0].message
