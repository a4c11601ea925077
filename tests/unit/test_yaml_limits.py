"""YAML that would exhaust memory or crash the number parser is refused with its line.

Issue 12 point 3 (alias bombs) and the YAML half of point 9 (5000-digit integers).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.loader.yamlio import MAX_NODES, load_yaml, parse_yaml

#: The probe's 1 KB file: nine levels of nine aliases each expand to 9**9 (387 million)
#: strings. Before the fix `check` ran for over a minute and died with MemoryError.
BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
)


def test_the_bomb_is_small_and_plain_pyyaml_reads_it_fast():
    import yaml

    assert len(BOMB.encode()) < 1024
    t0 = time.perf_counter()
    yaml.safe_load(BOMB)  # shares the aliased lists instead of copying them
    assert time.perf_counter() - t0 < 1


def test_alias_bomb_is_refused_quickly_with_its_line():
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as e:
        parse_yaml(BOMB, "config/settings.yaml")
    assert time.perf_counter() - t0 < 5
    (p,) = e.value.problems
    assert p.file == "config/settings.yaml"
    assert isinstance(p.line, int) and 1 <= p.line <= 9
    assert p.message.startswith("too many aliases")
    assert str(p).startswith("config/settings.yaml:")


def test_aliases_and_merge_keys_within_the_limit_still_work():
    text = "base: &b {lead: qlcn, due: {on: 2022-07-29}}\nr1: {<<: *b, id: x}\nr2: [*b, *b]\n"
    data = parse_yaml(text, "rules/a.yaml")
    assert data["r1"] == {"lead": "qlcn", "due": {"on": "2022-07-29"}, "id": "x"}
    assert data["r2"] == [data["base"], data["base"]]


def test_a_document_just_over_the_limit_is_refused_and_one_under_is_not():
    # A flat list of n plain strings builds n + 1 values (the list itself).
    under = "[" + ", ".join(["x"] * (MAX_NODES - 1)) + "]"
    assert len(parse_yaml(under, "big.yaml")) == MAX_NODES - 1
    with pytest.raises(ConfigError, match="too many aliases"):
        parse_yaml("[" + ", ".join(["x"] * (MAX_NODES + 1)) + "]", "big.yaml")


@pytest.mark.parametrize(
    "text, line",
    [("n: " + "9" * 5000 + "\n", 1), ("rules:\n  - id: a\n    n: " + "1" * 5000 + "\n", 3)],
)
def test_a_5000_digit_integer_is_a_config_error_with_its_line(text, line):
    with pytest.raises(ConfigError) as e:
        parse_yaml(text, "rules/a.yaml")
    (p,) = e.value.problems
    assert (p.file, p.line) == ("rules/a.yaml", line)
    assert "4300 digits" in p.message


def test_bombs_in_rules_and_events_files_are_refused_the_same_way(tmp_path: Path):
    for name in ("rules.yaml", "events.yaml"):
        path = tmp_path / name
        path.write_text(BOMB, encoding="utf-8")
        with pytest.raises(ConfigError, match=r"^.*:\d+: too many aliases"):
            load_yaml(path, name)
