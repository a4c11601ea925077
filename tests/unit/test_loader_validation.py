"""Every validation error of issue 3, each with its file, line and message.

The trees are written by the ``make_rule_tree`` fixture (tests/conftest.py); the
working directory is the tree, so files are named ``rules/a.yaml``.
"""

from __future__ import annotations

import pytest

from engine.errors import ConfigError, Problem
from engine.loader.config import load_config

ONE_RULE = """\
    rules:
      - id: r1
        title: Báo cáo quý
        lead: van-phong
        due: {end_of: 2022-Q1}
    """


def problems(make_rule_tree, files, *, base=True, env=None) -> list[Problem]:
    config, rules = make_rule_tree(files, base=base)
    with pytest.raises(ConfigError) as info:
        load_config(config, rules, env=env or {})
    return info.value.problems


def one(make_rule_tree, files, **kw) -> Problem:
    found = problems(make_rule_tree, files, **kw)
    assert len(found) == 1, found
    return found[0]


def rule_with(due: str, extra: str = "") -> str:
    """A rule whose ``due`` is on line 5 (line 6 with one ``extra`` line on line 5)."""
    more = f"\n    {extra}" if extra else ""
    return f"""\
rules:
  - id: r1
    title: Báo cáo
    lead: van-phong{more}
    due: {due}
"""


#: A policy that names no role, for trees whose units.yaml defines none.
PLAIN_ESCALATION = "policies:\n  default:\n    - {at: due, notify: [lead]}\n"


# ------------------------------------------------------------------------- YAML
def test_yaml_syntax_error(make_rule_tree):
    p = one(make_rule_tree, {"rules/a.yaml": "rules:\n  - id: [unclosed\n"})
    assert (p.file, p.line) == ("rules/a.yaml", 3)
    assert p.message.startswith("YAML: ")


def test_object_tags_are_refused(make_rule_tree):
    p = one(
        make_rule_tree,
        {"rules/a.yaml": "rules:\n  - !!python/object/apply:os.system [echo pwned]\n"},
    )
    assert (p.file, p.line) == ("rules/a.yaml", 2)
    assert p.message == (
        "YAML: tags are not allowed ('tag:yaml.org,2002:python/object/apply:os.system')"
    )


def test_duplicate_yaml_key(make_rule_tree):
    p = one(make_rule_tree, {"rules/a.yaml": "rules: []\nrules: []\n"})
    assert p == Problem("rules/a.yaml", 2, "YAML: duplicate key 'rules'")


# ------------------------------------------------------------------------- keys
def test_unknown_key_suggests_the_near_key(make_rule_tree):
    p = one(make_rule_tree, {"rules/a.yaml": rule_with("{end_of: 2022}", "coordinatng: [qlcn]")})
    assert p == Problem(
        "rules/a.yaml", 5, "unknown key 'coordinatng' (did you mean 'coordinating'?)"
    )


def test_unknown_key_inside_due_and_units(make_rule_tree):
    found = problems(
        make_rule_tree,
        {
            "rules/a.yaml": rule_with("{after: publication, in: 30 days, whne: {a: b}}"),
            "config/escalation.yaml": PLAIN_ESCALATION,
            "config/units.yaml": """\
                units:
                  van-phong: {name: Văn phòng, email: vp@example.gov.vn,
                              haed: {title: x, email: y@example.gov.vn}}
                """,
        },
    )
    assert found == [
        Problem(
            "config/units.yaml",
            3,
            "unknown key 'haed' in units.van-phong (did you mean 'head'?)",
        ),
        Problem("rules/a.yaml", 5, "unknown key 'whne' in due (did you mean 'when'?)"),
    ]


def test_unknown_form_key_suggests_the_form(make_rule_tree):
    p = one(make_rule_tree, {"rules/a.yaml": rule_with("{ater: publication, in: 30 days}")})
    assert p == Problem("rules/a.yaml", 5, "due: unknown key 'ater' (did you mean 'after'?)")


def test_missing_required_keys(make_rule_tree):
    found = problems(
        make_rule_tree,
        {
            "rules/a.yaml": """\
                rules:
                  - id: r1
                    lead: van-phong
                    due: {after: publication}
                """
        },
    )
    assert found == [
        Problem("rules/a.yaml", 2, "missing required key 'title'"),
        Problem("rules/a.yaml", 4, "missing required key 'in' in due"),
    ]


def test_missing_rules_key(make_rule_tree):
    found = problems(make_rule_tree, {"rules/a.yaml": "rule: []\n"})
    assert found == [
        Problem("rules/a.yaml", 1, "unknown key 'rule' (did you mean 'rules'?)"),
        Problem("rules/a.yaml", 1, "missing required key 'rules'"),
    ]


# ------------------------------------------------------------------------- references
def test_unknown_unit_and_group(make_rule_tree):
    found = problems(
        make_rule_tree,
        {
            "rules/a.yaml": """\
                rules:
                  - id: r1
                    title: Báo cáo
                    lead: van-phng
                    coordinating: [thanh-tra, phong-chuyen-mn]
                    due: {end_of: 2022}
                """
        },
    )
    assert found == [
        Problem(
            "rules/a.yaml", 4, "lead: unknown unit or group 'van-phng' (did you mean 'van-phong'?)"
        ),
        Problem(
            "rules/a.yaml",
            5,
            "coordinating: unknown unit or group 'phong-chuyen-mn' "
            "(did you mean 'phong-chuyen-mon'?)",
        ),
    ]


def test_unknown_group_member_and_role_target(make_rule_tree):
    found = problems(
        make_rule_tree,
        {
            "rules/a.yaml": ONE_RULE,
            "config/units.yaml": """\
                units:
                  van-phong: {name: Văn phòng, email: vp@example.gov.vn}
                  thanh-tra: {name: Thanh tra, email: tt@example.gov.vn}
                groups:
                  hai-don-vi:
                    - van-phong
                    - thanh-tr
                roles:
                  oversight: thanh-tra
                  director: ban-giam-doc
                """,
        },
    )
    assert found == [
        Problem(
            "config/units.yaml",
            7,
            "group 'hai-don-vi': unknown unit or group 'thanh-tr' (did you mean 'thanh-tra'?)",
        ),
        Problem("config/units.yaml", 10, "role 'director': unknown unit or group 'ban-giam-doc'"),
    ]


def test_unknown_role_in_a_policy(make_rule_tree):
    p = one(
        make_rule_tree,
        {
            "rules/a.yaml": ONE_RULE,
            "config/escalation.yaml": """\
                policies:
                  default:
                    - {at: due, notify: [lead]}
                    - {at: 1 working day after, notify: [lead.head, directr]}
                """,
        },
    )
    assert p == Problem(
        "config/escalation.yaml",
        4,
        "policy 'default': unknown audience 'directr' (did you mean 'director'?); use lead, "
        "coordinating, lead.head, coordinating.head, a role, unit or group",
    )


def test_unknown_policy(make_rule_tree):
    p = one(make_rule_tree, {"rules/a.yaml": rule_with("{end_of: 2022}", "escalation: defualt")})
    assert p == Problem(
        "rules/a.yaml",
        5,
        "escalation: unknown policy 'defualt' (did you mean 'default'?); "
        "escalation.yaml has default",
    )


def test_duplicate_rule_ids_across_files(make_rule_tree):
    p = one(make_rule_tree, {"rules/a.yaml": ONE_RULE, "rules/b.yaml": "\n" + ONE_RULE})
    assert p == Problem(
        "rules/b.yaml", 3, "duplicate rule id 'r1' (first defined at rules/a.yaml:2)"
    )


def test_group_cycle(make_rule_tree):
    p = one(
        make_rule_tree,
        {
            "rules/a.yaml": ONE_RULE,
            "config/escalation.yaml": PLAIN_ESCALATION,
            "config/units.yaml": """\
                units:
                  van-phong: {name: Văn phòng, email: vp@example.gov.vn}
                groups:
                  a: [van-phong, b]
                  b: [c]
                  c: [a]
                """,
        },
    )
    assert p == Problem("config/units.yaml", 4, "group 'a' contains itself: a → b → c → a")


def test_missing_units_and_escalation_files(make_rule_tree):
    found = problems(make_rule_tree, {"rules/a.yaml": ONE_RULE}, base=False)
    assert [(p.file, p.line) for p in found] == [
        ("config/escalation.yaml", None),
        ("config/units.yaml", None),
    ]
    assert "required when rules exist" in found[1].message


def test_no_rules_needs_no_units(make_rule_tree):
    config, rules = make_rule_tree({}, base=False)
    cfg = load_config(config, rules, env={})
    assert cfg.rules == ()


# ------------------------------------------------------------------------- values
def test_invalid_date(make_rule_tree):
    p = one(make_rule_tree, {"rules/a.yaml": rule_with('{"on": 2022-02-30}')})
    assert p == Problem(
        "rules/a.yaml",
        5,
        "due.on: '2022-02-30' is not a date: 02/2022 has 28 days",
    )


def test_invalid_date_in_block_style_points_at_its_line(make_rule_tree):
    p = one(
        make_rule_tree,
        {
            "rules/a.yaml": """\
                rules:
                  - id: r1
                    title: Báo cáo
                    lead: van-phong
                    due:
                      every: month
                      day: 18
                      from: 2022-02-30
                """
        },
    )
    assert (p.line, p.message.split(":")[0]) == (8, "due.from")


def test_invalid_span(make_rule_tree):
    p = one(make_rule_tree, {"rules/a.yaml": rule_with("{after: publication, in: 30 dayz}")})
    assert p == Problem(
        "rules/a.yaml",
        5,
        "due.in: span '30 dayz': unknown unit 'dayz'; use days, working days, weeks, months "
        "(or ngày, ngày làm việc, tuần, tháng)",
    )


def test_invalid_roll_word(make_rule_tree):
    p = one(make_rule_tree, {"rules/a.yaml": rule_with("{end_of: 2022, roll: fwd}")})
    assert p == Problem(
        "rules/a.yaml", 5, "due.roll: unknown roll 'fwd'; use forward, backward or none"
    )


def test_invalid_rrule(make_rule_tree):
    p = one(
        make_rule_tree,
        {"rules/a.yaml": rule_with('{rrule: "FREQ=SOMETIMES", from: 2022-01-01}')},
    )
    assert p == Problem(
        "rules/a.yaml", 5, "due.rrule: invalid RRULE 'FREQ=SOMETIMES': invalid 'FREQ': SOMETIMES"
    )


def test_from_after_until(make_rule_tree):
    p = one(
        make_rule_tree,
        {
            "rules/a.yaml": """\
                rules:
                  - id: r1
                    title: Báo cáo
                    lead: van-phong
                    due:
                      every: quarter
                      month: 3
                      day: 18
                      from: 2022-06-01
                      until: 2022-01-01
                """
        },
    )
    assert p == Problem("rules/a.yaml", 10, "from 2022-06-01 is after until 2022-01-01")


def test_month_outside_the_period(make_rule_tree):
    p = one(make_rule_tree, {"rules/a.yaml": rule_with("{every: quarter, month: 4, day: 1}")})
    assert p == Problem(
        "rules/a.yaml",
        5,
        "month 4 is not within a quarter (1..3); month counts within each period",
    )


def test_two_forms_in_one_due(make_rule_tree):
    p = one(make_rule_tree, {"rules/a.yaml": rule_with('{"on": 2022-01-03, before: 2022-01-05}')})
    assert p == Problem("rules/a.yaml", 5, "due: has on and before; give exactly one form")


@pytest.mark.parametrize(
    ("title", "what"),
    [('"Hai\\ndòng"', "a line break ('\\n')"), ('"Chuông\\x07"', "a control character ('\\x07')")],
)
def test_control_characters_in_titles(make_rule_tree, title, what):
    text = ONE_RULE.replace("title: Báo cáo quý", f"title: {title}")
    p = one(make_rule_tree, {"rules/a.yaml": text})
    assert p == Problem(
        "rules/a.yaml",
        3,
        f"title: contains {what}; a title becomes a mail subject: write it on one line",
    )


def test_block_title_keeps_no_trailing_newline(make_rule_tree):
    text = ONE_RULE.replace("title: Báo cáo quý", "title: >\n          Báo cáo\n          quý")
    config, rules = make_rule_tree({"rules/a.yaml": text})
    assert load_config(config, rules, env={}).rules[0].title == "Báo cáo quý"


def test_bad_email_addresses(make_rule_tree):
    found = problems(
        make_rule_tree,
        {
            "rules/a.yaml": ONE_RULE,
            "config/escalation.yaml": PLAIN_ESCALATION,
            "config/units.yaml": """\
                units:
                  van-phong:
                    name: Văn phòng
                    email: [vp@example.gov.vn, "vp(at)example.gov.vn"]
                    head: {title: Chánh Văn phòng, email: "cvp example.gov.vn"}
                """,
            "config/settings.yaml": "sender: {name: X, email: nobody}\nadmin_email: a@b\n",
        },
    )
    assert found == [
        Problem("config/settings.yaml", 1, "sender.email: 'nobody' is not an e-mail address"),
        Problem("config/settings.yaml", 2, "admin_email: 'a@b' is not an e-mail address"),
        Problem(
            "config/units.yaml",
            4,
            "units.van-phong.email: 'vp(at)example.gov.vn' is not an e-mail address",
        ),
        Problem(
            "config/units.yaml",
            5,
            "units.van-phong.head.email: 'cvp example.gov.vn' is not an e-mail address",
        ),
    ]


# ------------------------------------------------------------------------- settings
def test_smtp_password_in_yaml_is_an_error(make_rule_tree):
    p = one(
        make_rule_tree,
        {
            "config/settings.yaml": """\
                smtp:
                  host: mail.example.gov.vn
                  password: hunter2
                """
        },
    )
    assert p == Problem(
        "config/settings.yaml",
        3,
        "smtp.password: do not write the password in settings.yaml; "
        "put it in the HANCHOT_SMTP_PASSWORD environment variable",
    )


def test_settings_values(make_rule_tree):
    found = problems(
        make_rule_tree,
        {
            "config/settings.yaml": """\
                timezone: Asia/Hanoi_City
                send_time: 8:00
                smtp: {host: mail.example.gov.vn, security: tls}
                """
        },
    )
    assert found == [
        Problem(
            "config/settings.yaml",
            1,
            "timezone: unknown time zone 'Asia/Hanoi_City' (e.g. Asia/Ho_Chi_Minh)",
        ),
        Problem(
            "config/settings.yaml",
            2,
            'send_time: must be "HH:MM" in quotes, e.g. send_time: "08:00"',
        ),
        Problem(
            "config/settings.yaml", 3, "smtp.security: 'tls' is not 'none', 'starttls' or 'ssl'"
        ),
    ]


def test_settings_and_database_env(make_rule_tree):
    config, rules = make_rule_tree(
        {
            "config/settings.yaml": """\
                timezone: Asia/Ho_Chi_Minh
                send_time: "07:30"
                database: sqlite:///x.db
                smtp: {host: mail.example.gov.vn, port: 587, security: starttls, user: u}
                sender: {name: Nhắc hạn, email: nhachan@example.gov.vn}
                """
        }
    )
    s = load_config(config, rules, env={}).settings
    # A relative path in settings.yaml belongs to the deployment: config/'s parent.
    root = config.absolute().parent
    assert (s.send_time.hour, s.send_time.minute, s.database) == (7, 30, f"sqlite:///{root}/x.db")
    assert (s.smtp.port, s.smtp.security, s.sender_email) == (
        587,
        "starttls",
        "nhachan@example.gov.vn",
    )
    s2 = load_config(config, rules, env={"HANCHOT_DATABASE_URL": "postgresql://db/h"}).settings
    assert s2.database == "postgresql://db/h"


def test_calendar_yaml_errors_are_collected_too(make_rule_tree):
    found = problems(
        make_rule_tree,
        {
            "rules/a.yaml": rule_with("{end_of: 2022, roll: fwd}"),
            "config/calendar.yaml": "extra_days_off: [{date: 2022-02-30, reason: x}]\n",
        },
    )
    assert [(p.file, p.line) for p in found] == [("config/calendar.yaml", 1), ("rules/a.yaml", 5)]


# ------------------------------------------------------------------------- together
def test_all_errors_of_all_files_together_sorted(make_rule_tree):
    found = problems(
        make_rule_tree,
        {
            "rules/b.yaml": rule_with("{end_of: 2022, roll: fwd}").replace("r1", "r2"),
            "rules/a.yaml": rule_with('{"on": 2022-02-30}', "coordinatng: [qlcn]"),
            "rules/c.yaml": "rules: [\n",
            "config/escalation.yaml": PLAIN_ESCALATION,
            "config/units.yaml": """\
                units:
                  van-phong: {name: Văn phòng, email: nobody}
                """,
        },
    )
    assert [(p.file, p.line) for p in found] == [
        ("config/units.yaml", 2),
        ("rules/a.yaml", 5),
        ("rules/a.yaml", 6),
        ("rules/b.yaml", 5),
        ("rules/c.yaml", 2),
    ]
    text = str(ConfigError(found))
    assert text.splitlines()[0] == (
        "config/units.yaml:2: units.van-phong.email: 'nobody' is not an e-mail address"
    )


# ---------------------------------------------------------------- aliases (import-plan)
def test_units_and_groups_take_aliases(make_rule_tree):
    config, rules = make_rule_tree(
        {
            "config/units.yaml": """\
                units:
                  van-phong:
                    name: Văn phòng Sở
                    email: vp@example.gov.vn
                    aliases: [VP Sở, Văn phòng]
                  qlcn: {name: Phòng Quản lý Công nghiệp, email: qlcn@example.gov.vn}
                groups:
                  phong-chuyen-mon:
                    members: [qlcn]
                    aliases: [Các phòng có liên quan]
                  tat-ca: [van-phong, phong-chuyen-mon]
                """,
        }
    )
    from engine.loader.config import load_directory

    d = load_directory(config)
    assert d.aliases == {
        "van-phong": ("VP Sở", "Văn phòng"),
        "phong-chuyen-mon": ("Các phòng có liên quan",),
    }
    assert d.expand("tat-ca") == ["van-phong", "qlcn"]


def test_group_long_form_faults_are_reported(make_rule_tree):
    config, rules = make_rule_tree(
        {
            "config/units.yaml": """\
                units:
                  qlcn: {name: Phòng Quản lý Công nghiệp, email: qlcn@example.gov.vn}
                groups:
                  a:
                    membres: [qlcn]
                  b:
                    members: [qlcn]
                    aliases: 5
                """,
        }
    )
    from engine.loader.config import load_directory

    with pytest.raises(ConfigError) as e:
        load_directory(config)
    text = str(e.value)
    assert "config/units.yaml:5: unknown key 'membres' (did you mean 'members'?)" in text
    assert "config/units.yaml:4: group 'a': missing required key 'members'" in text
    assert "config/units.yaml:8: group 'b': aliases must be a list of names" in text


def test_todo_markers_of_a_draft_are_rejected_with_their_line(make_rule_tree):
    config, rules = make_rule_tree(
        {
            "rules/a.yaml": """\
                rules:
                  - id: x
                    title: X
                    lead: "TODO: unknown unit 'Phòng Hợp tác'"
                    coordinating: [thanh-tra, "TODO: unknown unit 'Ban X'"]
                    due: "TODO: could not read the timing 'Tùy tình hình'"
                """,
        }
    )
    with pytest.raises(ConfigError) as e:
        load_config(config, rules)
    assert [str(p) for p in e.value.problems] == [
        "rules/a.yaml:4: lead: unresolved TODO: unknown unit 'Phòng Hợp tác'",
        "rules/a.yaml:5: coordinating: unresolved TODO: unknown unit 'Ban X'",
        "rules/a.yaml:6: due: unresolved TODO: could not read the timing 'Tùy tình hình'",
    ]


# ------------------------------------------------------------ names (issue 12.1, 12.2)
def test_control_characters_in_names_that_reach_mail_headers(make_rule_tree):
    # Issue 12.2: CR/LF in the sender name, a unit name or a head title passed check,
    # then every reminder using it failed for good. Group ids (the '$' before a final
    # newline let "phong-chuyen-mon\n" through) are names in headers too.
    found = problems(
        make_rule_tree,
        {
            "rules/a.yaml": ONE_RULE,
            "config/units.yaml": """\
                units:
                  van-phong:
                    name: "Văn phòng Sở\\r\\nBcc: evil@attacker.test"
                    email: vanphong@example.gov.vn
                    head: {title: "Chánh Văn phòng\\nX-Evil: 1", email: cvp@example.gov.vn}
                  qlcn: {name: "Phòng\\x1b[2JQLCN", email: qlcn@example.gov.vn}
                groups:
                  "phong-chuyen-mon\\n": [qlcn]
                """,
            "config/escalation.yaml": PLAIN_ESCALATION,
            "config/settings.yaml": (
                'sender: {name: "Nhắc hạn\\r\\nReply-To: evil@attacker.test"}\n'
            ),
        },
    )
    assert [(p.file, p.line, p.message) for p in found] == [
        (
            "config/settings.yaml",
            1,
            "sender.name: sender name contains a line break ('\\r'); "
            "a name goes into mail headers: write it on one line",
        ),
        (
            "config/units.yaml",
            3,
            "units.van-phong.name: unit name contains a line break ('\\r'); "
            "a name goes into mail headers: write it on one line",
        ),
        (
            "config/units.yaml",
            5,
            "units.van-phong.head.title: head title contains a line break ('\\n'); "
            "a name goes into mail headers: write it on one line",
        ),
        (
            "config/units.yaml",
            6,
            "units.qlcn.name: unit name contains a control character ('\\x1b'); "
            "a name goes into mail headers: write it on one line",
        ),
        (
            "config/units.yaml",
            8,
            "group id 'phong-chuyen-mon\\n' must be lower-case a-z, 0-9 and '-'",
        ),
    ]


def test_rule_id_length_and_event_names_in_rules(make_rule_tree):
    long_id = "bao-cao-" + "x" * 93  # 101 characters
    found = problems(
        make_rule_tree,
        {
            "rules/a.yaml": f"""\
                rules:
                  - id: {long_id}
                    title: Báo cáo
                    lead: van-phong
                    due: {{on: 2022-07-29}}
                  - id: r2
                    title: Báo cáo
                    lead: van-phong
                    due: {{after: publication, in: 30 days, when: {{delegated: yes}}}}
                  - id: r3
                    title: Báo cáo
                    lead: van-phong
                    due: {{after: publication, in: 30 days, when: {{"Bcc: x": true}}}}
                """
        },
    )
    assert [(p.line, p.message) for p in found] == [
        (
            2,
            f"id: rule id '{long_id[:20]}'… is 101 characters long; at most 100 are allowed",
        ),
        (9, "due.when.delegated: 'yes': write true or false for a yes/no attribute"),
        (13, "due.when: attribute name 'Bcc: x' may contain only a-z, 0-9, '-' and '_'"),
    ]
