"""Safe names (issue 12.1, 12.14): one check per kind of name, for every entry path.

The hostile inputs are the probe's own (issue 12): an event id that adds a Bcc
header, one that ends the headers and replaces the body, Rich markup, a type with a
space.
"""

from __future__ import annotations

import pytest

from engine.errors import InputError
from engine.loader.names import (
    MAX_ID,
    MAX_TYPE,
    check_attr_name,
    check_attr_value,
    check_display_name,
    check_event_id,
    check_event_type,
    check_rule_id,
    printable,
)

#: Issue 12.1: "qd-1\r\nBcc: evil@attacker.test" adds a Bcc line to the mail.
BCC_ID = "qd-1\r\nBcc: evil@attacker.test"
#: Issue 12.1: an id that ends the headers with a blank line and brings its own body.
BODY_ID = "qd-2\r\nReply-To: evil@attacker.test\r\n\r\n<h1>Nộp phí tại http://evil.test</h1>"


@pytest.mark.parametrize("good", ["qd-0425", "512/QD-UBND", "CV_12.2022", "a", "9" * MAX_ID])
def test_event_ids_in_the_safe_set_pass(good):
    assert check_event_id(good) == good
    assert check_event_id(f"  {good} ") == good  # spreadsheet padding


@pytest.mark.parametrize(
    "bad",
    [BCC_ID, BODY_ID, "[/]", "[link=http://evil.test]x", "qd 1", "qđ-1", "-qd", "qd-1\n", "\x1b"],
)
def test_event_ids_outside_the_safe_set_are_refused(bad):
    with pytest.raises(InputError, match=r"may contain only letters A-Z and a-z, digits"):
        check_event_id(bad)


def test_length_limits_that_both_databases_accept():
    # Columns are VARCHAR(200) (ids, keys) and VARCHAR(100) (types): limits 100 and 50.
    with pytest.raises(InputError, match="is 101 characters long; at most 100 are allowed"):
        check_event_id("a" * (MAX_ID + 1))
    with pytest.raises(InputError, match="is 51 characters long; at most 50 are allowed"):
        check_event_type("a" * (MAX_TYPE + 1))
    with pytest.raises(InputError, match="at most 100"):
        check_rule_id("a" * (MAX_ID + 1))
    with pytest.raises(InputError, match="must not be empty"):
        check_event_id("  ")


@pytest.mark.parametrize(
    "check, name",
    [
        (check_rule_id, "bao-cao\n"),
        (check_event_type, "publication\n"),
        (check_attr_name, "delegated\n"),
    ],
)
def test_the_dollar_before_a_final_newline_is_not_a_loophole(check, name):
    # re.match("^[a-z]+$", "abc\n") matches; every check uses fullmatch, and only
    # spaces are trimmed, so a final line break is refused rather than dropped.
    with pytest.raises(InputError):
        check(name)


def test_event_types_and_attribute_names():
    assert check_event_type("training-call") == "training-call"
    assert check_event_type("cong_bo") == "cong_bo"
    # Issue 12.14: `event add "Bad Type"` and the CSV import give the same answer.
    with pytest.raises(InputError) as info:
        check_event_type("Bad Type")
    assert info.value.message == "event type 'Bad Type' may contain only a-z, 0-9, '-' and '_'"
    with pytest.raises(InputError, match="attribute name 'Bcc: x'"):
        check_attr_name("Bcc: x")


def test_rule_ids():
    with pytest.raises(InputError, match=r"rule id 'Bao_cao' may contain only lower-case"):
        check_rule_id("Bao_cao")
    with pytest.raises(InputError):
        check_rule_id("bao--cao")


def test_attribute_values_are_one_line():
    assert check_attr_value("Quyết định, ủy quyền", "ghi_chu") == "Quyết định, ủy quyền"
    with pytest.raises(InputError, match=r"attribute ghi_chu contains a line break \('\\r'\)"):
        check_attr_value("x\r\nBcc: evil@attacker.test", "ghi_chu")
    with pytest.raises(InputError, match="a control character"):
        check_attr_value("\x1b[31mđỏ", "ghi_chu")


@pytest.mark.parametrize("bad", ["Văn phòng\r\nBcc: evil@attacker.test", "Sở\u2028Công Thương"])
def test_display_names_refuse_line_breaks(bad):
    with pytest.raises(InputError, match="a name goes into mail headers"):
        check_display_name(bad, "unit name")


def test_printable_shows_control_characters_as_escapes():
    assert printable("qd-1\r\nBcc: x") == "qd-1\\r\\nBcc: x"
    assert printable("\x1b[2J[/]") == "\\x1b[2J[/]"
    assert printable("Thứ Sáu, 29/07/2022") == "Thứ Sáu, 29/07/2022"
    assert printable(None) == ""


def test_undecodable_bytes_of_a_command_line_are_refused_and_printable():
    # A non-UTF-8 byte in argv arrives as a lone surrogate (surrogateescape).
    with pytest.raises(InputError, match="a byte that is not UTF-8 text"):
        check_attr_value("ghi\udcff", "ghi_chu")
    with pytest.raises(InputError, match="a byte that is not UTF-8 text"):
        check_display_name("\udd00", "unit name")
    assert printable("a\udcffb") == "a\\udcffb"
