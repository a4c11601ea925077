"""Load ``config/`` and ``rules/`` into a frozen :class:`engine.core.config.Config`.

:func:`load_config` reads every file, validates it (pydantic models of
:mod:`engine.loader.models` for the shapes, then the references between files),
and reports **every** problem of the run at once as one
:class:`~engine.errors.ConfigError` whose problems are ``file:line: message``,
sorted by file then line.

Files (SPEC §2): ``settings.yaml`` and ``calendar.yaml`` are optional;
``units.yaml`` and ``escalation.yaml`` are required as soon as one rule exists;
the rules are every ``*.yaml`` / ``*.yml`` of the rules directory, sorted by name.
"""

from __future__ import annotations

import difflib
import os
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.core.calendar import FIRST_YEAR, LAST_YEAR, WorkingCalendar
from engine.core.config import Config, Settings, SmtpSettings, WebSettings
from engine.core.escalation import BASE_AUDIENCES, Policy, Stage, parse_at
from engine.core.periods import MONTHS_IN
from engine.core.rules import (
    After,
    Before,
    DueForm,
    EndOf,
    Every,
    On,
    RRule,
    Rule,
    when_value,
)
from engine.core.units import Directory, Head, UnitInfo
from engine.errors import ConfigError, Problem
from engine.i18n import _
from engine.loader.calendar_file import read_calendar_data
from engine.loader.models import (
    FORM_MODELS,
    TAG_PREFIX,
    DueAfter,
    DueBefore,
    DueEndOf,
    DueEvery,
    DueOn,
    DueRRule,
    RuleModel,
    SettingsFile,
    StageModel,
    UnitModel,
)
from engine.loader.names import is_rule_id
from engine.loader.yamlio import LineDict, LineList, line_of, load_yaml

RULE_SUFFIXES = (".yaml", ".yml")


# =============================================================== error helpers
def suggest(word: Any, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a choice is near ``word``, else ``""``."""
    near = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return _(" (did you mean {near!r}?)").format(near=near[0]) if near else ""


def expected_one_of(keys: Iterable[str]) -> str:
    """``; expected one of a, b, c`` (after an unknown key)."""
    return _("; expected one of {keys}").format(keys=", ".join(keys))


def _unwrap(t: Any) -> Any:
    while True:
        origin = typing.get_origin(t)
        if origin is typing.Annotated:
            t = typing.get_args(t)[0]
            continue
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(t) if a is not type(None)]
            if len(args) == 1:
                t = args[0]
                continue
        return t


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class that holds the last element of ``loc`` (for key suggestions)."""
    t: Any = model
    for el in loc[:-1]:
        if isinstance(el, str) and el.startswith(TAG_PREFIX):
            t = FORM_MODELS[el[len(TAG_PREFIX) :]]
            continue
        t = _unwrap(t)
        if isinstance(t, type) and issubclass(t, BaseModel):
            fields = {f.alias or n: f for n, f in t.model_fields.items()}
            if el not in fields:
                return None
            t = fields[el].annotation
        elif typing.get_origin(t) is dict:
            t = typing.get_args(t)[1]
        elif typing.get_origin(t) in (list, tuple):
            t = typing.get_args(t)[0]
        else:
            return None
    t = _unwrap(t)
    return t if isinstance(t, type) and issubclass(t, BaseModel) else None


def model_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _line_at(root: Any, loc: Iterable[Any], default: int | None) -> int | None:
    """The line of the deepest node of ``root`` along ``loc`` that has one."""
    node = root
    line = line_of(root, default=default)
    for el in loc:
        if isinstance(node, LineDict):
            if el not in node:
                break
            line = node.line_of(el)
            node = node[el]
        elif isinstance(node, LineList) and isinstance(el, int) and 0 <= el < len(node):
            line = node.line_of(el)
            node = node[el]
        else:
            break
    return line


# pydantic error types -> what the value must be (translated when the message is made)
_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "int",
    "int_parsing": "int",
    "int_from_float": "int",
    "float_type": "number",
    "float_parsing": "number",
    "list_type": "list",
    "tuple_type": "list",
    "dict_type": "mapping",
    "model_type": "mapping",
    "model_attributes_type": "mapping",
    "bool_type": "bool",
    "bool_parsing": "bool",
}


def _must_be(kind: str) -> str:
    return {
        "text": _("must be text"),
        "int": _("must be a whole number"),
        "number": _("must be a number"),
        "list": _("must be a list"),
        "mapping": _("must be a mapping (key: value)"),
        "bool": _("must be true or false"),
    }[kind]


def unknown_key(key: Any, parent: str = "", hint: str = "") -> str:
    """``unknown key 'x' in smtp (did you mean 'y'?)``."""
    if parent:
        return _("unknown key {key!r} in {parent}{hint}").format(key=key, parent=parent, hint=hint)
    return _("unknown key {key!r}{hint}").format(key=key, hint=hint)


def missing_key(key: Any, parent: str = "") -> str:
    """``missing required key 'x' in smtp``."""
    if parent:
        return _("missing required key {key!r} in {parent}").format(key=key, parent=parent)
    return _("missing required key {key!r}").format(key=key)


def _message(err: Mapping[str, Any], loc: tuple, shown: tuple, model: type[BaseModel]) -> str:
    kind = err["type"]
    path_els = [str(x) for x in shown + loc if not isinstance(x, int)]
    here = ".".join(path_els)
    parent = ".".join(path_els[:-1])
    last = loc[-1] if loc else None
    if kind == "extra_forbidden":
        holder = _model_at(model, err["loc"])
        keys = model_keys(holder) if holder else []
        hint = suggest(last, keys)
        if not hint and keys:
            hint = expected_one_of(keys)
        return unknown_key(last, parent, hint)
    if kind == "missing":
        return missing_key(last, parent)
    value = err.get("input")
    if kind in _TYPE_WORDS:
        return _("{key}: {must} (got {value!r})").format(
            key=here, must=_must_be(_TYPE_WORDS[kind]), value=value
        )
    if kind == "literal_error":
        return _("{key}: {value!r} is not {expected}").format(
            key=here, value=value, expected=err["ctx"]["expected"]
        )
    if kind == "string_pattern_mismatch":
        return _("{key}: {value!r} may contain only a-z, 0-9, '-' and '_'").format(
            key=here, value=value
        )
    # pydantic's own English text; the messages of hanchot's validators are translated
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    elif msg.startswith("Input should be"):
        msg = f"{value!r} should be" + msg[len("Input should be") :]
    return f"{here}: {msg}" if here else msg


def pydantic_problems(
    error: ValidationError,
    model: type[BaseModel],
    file: str,
    root: Any,
    prefix: tuple = (),
    shown: tuple = (),
    default_line: int | None = None,
    skip: Callable[[Mapping[str, Any]], bool] | None = None,
) -> list[Problem]:
    """``file:line: message`` for each error of validating ``root[prefix...]`` as ``model``.

    ``prefix`` is where the validated value sits inside ``root`` (for lines);
    ``shown`` is prepended to each message's key path; errors for which ``skip(err)``
    is true (an already reported fault) are left out.
    """
    out: list[Problem] = []
    for err in error.errors(include_url=False):
        if skip is not None and skip(err):
            continue
        loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and x.startswith(TAG_PREFIX)))
        line = _line_at(root, prefix + loc, default_line)
        out.append(Problem(file, line, _message(err, loc, shown, model)))
    return out


class _Collector:
    """The problems of one run, in the order found (sorted at the end)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, file: str | None, line: int | None, message: str) -> None:
        self.problems.append(Problem(file, line, message))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def load(self, path: Path) -> tuple[bool, Any]:
        """Parse one YAML file; (False, None) when it is unreadable or invalid YAML."""
        try:
            return True, load_yaml(path)
        except ConfigError as e:
            self.extend(e.problems)
            return False, None

    def unknown_keys(self, file: str, data: LineDict, keys: tuple[str, ...]) -> None:
        for k in data:
            if k not in keys:
                hint = suggest(k, keys) or expected_one_of(keys)
                self.add(file, data.line_of(k), unknown_key(k, hint=hint))

    def raise_if_any(self) -> None:
        if self.problems:
            ordered = sorted(
                self.problems, key=lambda p: (p.file or "", p.line if p.line is not None else 0)
            )
            raise ConfigError(ordered)


def _is_smtp_password(err: Mapping[str, Any]) -> bool:
    """The pydantic error of ``smtp.password`` (reported on its own, with the fix)."""
    return err["type"] == "extra_forbidden" and tuple(err["loc"][-2:]) == ("smtp", "password")


def _mapping_or_problem(c: _Collector, file: str, data: Any, what: str) -> LineDict | None:
    if isinstance(data, dict):
        return data  # type: ignore[return-value]
    c.add(file, line_of(data, default=1), _("expected a mapping: {keys}").format(keys=what))
    return None


# =============================================================== settings
def _web_settings(m) -> WebSettings:
    if m is None:
        return WebSettings()
    return WebSettings(
        base_url=m.base_url.rstrip("/") if m.base_url else None,
        token_days=m.token_days,
        max_upload_bytes=int(m.max_upload_mb * 1024 * 1024),
        extension_approver=m.extension_approver,
        completion=m.completion,
        trusted_proxies=tuple(m.trusted_proxies),
    )


def _load_settings(c: _Collector, path: Path, env: Mapping[str, str]) -> Settings:
    name = str(path)
    settings = Settings()
    if path.exists():
        ok, data = c.load(path)
        if ok and data is not None:
            data = _mapping_or_problem(c, name, data, "timezone, send_time, database, smtp...")
        if ok and data:
            smtp = data.get("smtp")
            if isinstance(smtp, dict) and "password" in smtp:
                c.add(
                    name,
                    line_of(smtp, "password"),
                    _(
                        "smtp.password: do not write the password in settings.yaml; "
                        "put it in the HANCHOT_SMTP_PASSWORD environment variable"
                    ),
                )
            try:
                m = SettingsFile.model_validate(data)
            except ValidationError as e:
                c.extend(pydantic_problems(e, SettingsFile, name, data, skip=_is_smtp_password))
            else:
                smtp_settings = (
                    SmtpSettings(
                        host=m.smtp.host,
                        port=m.smtp.port,
                        security=m.smtp.security,
                        user=m.smtp.user,
                        timeout=m.smtp.timeout,
                    )
                    if m.smtp is not None
                    else None
                )
                settings = Settings(
                    timezone=m.timezone,
                    send_time=m.send_time,
                    database=m.database,
                    smtp=smtp_settings,
                    sender_name=m.sender.name if m.sender else Settings.sender_name,
                    sender_email=m.sender.email if m.sender else Settings.sender_email,
                    admin_email=m.admin_email,
                    mail_dir=m.mail_dir,
                    horizon_years=m.horizon_years,
                    data_dir=m.data_dir,
                    web=_web_settings(m.web),
                )
    from dataclasses import replace

    # Paths written in settings.yaml belong to the deployment: they are relative to
    # the configuration directory's parent (the directory holding config/ and rules/),
    # not to wherever the shell happens to be. A URL given on the command line or in
    # HANCHOT_DATABASE_URL is relative to the current directory, like any argument.
    root = Path(os.path.abspath(path.parent)).parent
    settings = replace(
        settings,
        database=absolute_sqlite_url(settings.database, root),
        mail_dir=str(root / settings.mail_dir),
    )
    url = env.get("HANCHOT_DATABASE_URL")
    if url:
        settings = replace(settings, database=absolute_sqlite_url(url, Path.cwd()))
    return settings


_PLAIN_SQLITE = re.compile(r"sqlite:///([A-Za-z0-9._/-]+)")
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._/-]*")


def absolute_sqlite_url(url: str, base: Path) -> str:
    """``url`` with a relative SQLite file path made absolute against ``base``.

    Other databases, in-memory SQLite, absolute paths and URLs that do not parse
    (reported when the database is opened) come back unchanged.
    """
    # The usual `sqlite:///var/hanchot.db` under a plain directory needs no quoting:
    # answer it without importing SQLAlchemy (~100 ms of every command's start-up).
    plain = _PLAIN_SQLITE.fullmatch(url)
    if plain and _PLAIN_PATH.fullmatch(str(base)):
        name = plain.group(1)
        if name.startswith("/"):
            return url
        return "sqlite:///" + os.path.normpath(base / name)
    import sqlalchemy as sa

    try:
        u = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is no number
        return url
    name = u.database
    if u.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return url
    if name.startswith("file:") or Path(name).is_absolute():
        return url
    return u.set(database=os.path.normpath(base / name)).render_as_string(hide_password=False)


# =============================================================== calendar
def _load_calendar(c: _Collector, path: Path) -> WorkingCalendar:
    from engine.loader.calendar_cache import calendar_source, names_en

    if not path.exists():
        return WorkingCalendar(source=calendar_source(path.parent), names_en=names_en)
    ok, data = c.load(path)
    if not ok:
        return WorkingCalendar()
    try:
        off, work = read_calendar_data(data, str(path))
    except ConfigError as e:
        c.extend(e.problems)
        return WorkingCalendar()
    return WorkingCalendar(
        off, work, source=calendar_source(path.parent, off, work), names_en=names_en
    )


# =============================================================== units
def _ids(value: Any) -> list[Any] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return list(value)
    return None


def _load_units(c: _Collector, path: Path, needed: bool) -> Directory | None:
    """The directory; ``None`` when the file is missing or unusable (skip reference checks)."""
    name = str(path)
    if not path.exists():
        if needed:
            c.add(
                name,
                None,
                _(
                    "file not found; units.yaml is required when rules exist "
                    "(it lists the units that lead and coordinate each duty)"
                ),
            )
        return None
    ok, data = c.load(path)
    if not ok:
        return None
    if data is None:
        data = LineDict()
        data.line, data.lines = 1, {}
    data = _mapping_or_problem(c, name, data, "units, groups, roles")
    if data is None:
        return None
    c.unknown_keys(name, data, ("units", "groups", "roles"))
    units: dict[str, UnitInfo] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    raw_units = data.get("units")
    if raw_units is None:
        c.add(name, data.line or 1, missing_key("units"))
        raw_units = {}
    elif not isinstance(raw_units, dict):
        c.add(name, line_of(data, "units"), _("units: must be a mapping of unit id to unit"))
        raw_units = {}
    for uid, raw in raw_units.items():
        uline = line_of(raw_units, uid)
        if not is_rule_id(uid):
            c.add(
                name, uline, _("unit id {id!r} must be lower-case a-z, 0-9 and '-'").format(id=uid)
            )
            continue
        try:
            m = UnitModel.model_validate(raw)
        except ValidationError as e:
            c.extend(
                pydantic_problems(
                    e, UnitModel, name, data, ("units", uid), ("units", uid), default_line=uline
                )
            )
            # Keep the id known: its other faults are reported, its references are not.
            units[uid] = UnitInfo(uid, uid, ())
            continue
        head = Head(m.head.title, m.head.email) if m.head else None
        units[uid] = UnitInfo(uid, m.name, m.email, head)
        if m.aliases:
            aliases[uid] = tuple(m.aliases)

    groups: dict[str, tuple[str, ...]] = {}
    group_lines: dict[str, int | None] = {}
    raw_groups = data.get("groups") or {}
    if not isinstance(raw_groups, dict):
        c.add(
            name,
            line_of(data, "groups"),
            _("groups: must be a mapping of group id to unit ids"),
        )
        raw_groups = {}
    for gid, members in raw_groups.items():
        gline = line_of(raw_groups, gid)
        if not is_rule_id(gid):
            c.add(
                name, gline, _("group id {id!r} must be lower-case a-z, 0-9 and '-'").format(id=gid)
            )
            continue
        if gid in units:
            c.add(
                name,
                gline,
                _("group {group!r} has the id of a unit; give it another id").format(group=gid),
            )
            continue
        if isinstance(members, dict):
            # Long form: {members: [...], aliases: [...]}.
            c.unknown_keys(name, members, ("members", "aliases"))
            names = _ids(members.get("aliases", []))
            if names is None or not all(isinstance(x, str) for x in names):
                c.add(
                    name,
                    line_of(members, "aliases", gline),
                    _("group {group!r}: aliases must be a list of names").format(group=gid),
                )
            elif names:
                aliases[gid] = tuple(names)
            members = members.get("members")
            if members is None:
                c.add(
                    name,
                    gline,
                    _("group {group!r}: missing required key 'members'").format(group=gid),
                )
                continue
        ids = _ids(members)
        if ids is None or not all(isinstance(x, str) for x in ids):
            c.add(
                name,
                gline,
                _("group {group!r}: must be a list of unit or group ids").format(group=gid),
            )
            continue
        if not ids:
            c.add(name, gline, _("group {group!r} is empty").format(group=gid))
            continue
        groups[gid] = tuple(ids)
        group_lines[gid] = gline
    for gid, members in groups.items():
        raw_members = raw_groups[gid]
        if isinstance(raw_members, dict):
            raw_members = raw_members.get("members")
        for j, mid in enumerate(members):
            if mid not in units and mid not in groups:
                mline = line_of(raw_members, j, group_lines[gid])
                hint = suggest(mid, [*units, *groups])
                c.add(
                    name,
                    mline,
                    _("group {group!r}: unknown unit or group {member!r}{hint}").format(
                        group=gid, member=mid, hint=hint
                    ),
                )
    # Cycles: a group that contains itself through other groups.
    reported: set[frozenset[str]] = set()

    def visit(gid: str, trail: list[str]) -> None:
        for mid in groups.get(gid, ()):
            if mid not in groups:
                continue
            if mid in trail:
                cycle = trail[trail.index(mid) :] + [mid]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    c.add(
                        name,
                        group_lines[cycle[0]],
                        _("group {group!r} contains itself: {cycle}").format(
                            group=cycle[0], cycle=" → ".join(cycle)
                        ),
                    )
                continue
            visit(mid, trail + [mid])

    for gid in groups:
        visit(gid, [gid])

    roles: dict[str, str] = {}
    raw_roles = data.get("roles") or {}
    if not isinstance(raw_roles, dict):
        c.add(name, line_of(data, "roles"), _("roles: must be a mapping of role name to unit id"))
        raw_roles = {}
    for role, target in raw_roles.items():
        rline = line_of(raw_roles, role)
        if not is_rule_id(role):
            c.add(
                name,
                rline,
                _("role name {role!r} must be lower-case a-z, 0-9 and '-'").format(role=role),
            )
            continue
        if role in BASE_AUDIENCES or role in units or role in groups:
            c.add(
                name,
                rline,
                _("role {role!r} has the name of a unit, group or audience word").format(role=role),
            )
            continue
        if not isinstance(target, str) or (target not in units and target not in groups):
            hint = suggest(target, [*units, *groups])
            c.add(
                name,
                rline,
                _("role {role!r}: unknown unit or group {target!r}{hint}").format(
                    role=role, target=target, hint=hint
                ),
            )
            continue
        roles[role] = target
    return Directory(units, groups, roles, aliases)


# =============================================================== escalation
def _load_policies(
    c: _Collector, path: Path, needed: bool, directory: Directory | None
) -> tuple[dict[str, Policy], bool]:
    """(policies, usable): ``usable`` is False when policy references cannot be checked."""
    name = str(path)
    if not path.exists():
        if needed:
            c.add(
                name,
                None,
                _(
                    "file not found; escalation.yaml is required when rules exist "
                    "(it says who is reminded when; at least a 'default' policy)"
                ),
            )
        return {}, False
    ok, data = c.load(path)
    if not ok:
        return {}, False
    if data is None:
        data = LineDict()
        data.line, data.lines = 1, {}
    data = _mapping_or_problem(c, name, data, "policies")
    if data is None:
        return {}, False
    c.unknown_keys(name, data, ("policies",))
    raw = data.get("policies")
    if not isinstance(raw, dict):
        c.add(name, line_of(data, "policies", 1), _("policies: must be a mapping of policy names"))
        return {}, False
    out: dict[str, Policy] = {}
    for pname, stages in raw.items():
        pline = line_of(raw, pname)
        if not isinstance(stages, list) or not stages:
            c.add(
                name,
                pline,
                _("policy {policy!r}: must be a non-empty list of stages").format(policy=pname),
            )
            out[str(pname)] = Policy(str(pname), ())
            continue
        built: list[Stage] = []
        for i, st in enumerate(stages):
            sline = line_of(stages, i, pline)
            try:
                m = StageModel.model_validate(st)
            except ValidationError as e:
                c.extend(
                    pydantic_problems(
                        e,
                        StageModel,
                        name,
                        data,
                        ("policies", pname, i),
                        ("policies", pname),
                        default_line=sline,
                    )
                )
                continue
            if directory is not None:
                notify = st.get("notify") if isinstance(st, dict) else None
                for j, word in enumerate(m.notify):
                    if word in BASE_AUDIENCES or directory.known(word):
                        continue
                    wline = line_of(notify, j, line_of(st, "notify", sline))
                    hint = suggest(
                        word,
                        [*BASE_AUDIENCES, *directory.roles, *directory.units, *directory.groups],
                    )
                    c.add(
                        name,
                        wline,
                        _(
                            "policy {policy!r}: unknown audience {word!r}{hint}; use lead, "
                            "coordinating, lead.head, coordinating.head, a role, unit or group"
                        ).format(policy=pname, word=word, hint=hint),
                    )
            offset, direction = parse_at(m.at)
            built.append(Stage(m.at, offset, direction, tuple(m.notify), m.repeat))
        out[str(pname)] = Policy(str(pname), tuple(built))
    return out, True


# =============================================================== rules
def rule_paths(rules_dir: Path) -> list[Path]:
    """Every ``*.yaml`` / ``*.yml`` file of ``rules_dir``, sorted by name."""
    return sorted(
        (p for p in rules_dir.iterdir() if p.suffix in RULE_SUFFIXES and p.is_file()),
        key=lambda p: p.name,
    )


def _read_rules(
    c: _Collector, paths: list[Path]
) -> list[tuple[str, int | None, LineDict, RuleModel | None]]:
    """Every rule mapping of every file, with its model (``None`` when invalid)."""
    out = []
    for path in paths:
        name = str(path)
        ok, data = c.load(path)
        if not ok or data is None:
            continue
        if not isinstance(data, dict):
            c.add(name, line_of(data, default=1), _("a rules file is a mapping: rules: [ ... ]"))
            continue
        c.unknown_keys(name, data, ("rules",))
        if "rules" not in data:
            c.add(name, data.line or 1, missing_key("rules"))
            continue
        items = data["rules"]
        if items is None:
            continue
        if not isinstance(items, list):
            c.add(name, line_of(data, "rules"), _("rules: must be a list of rules (- id: ...)"))
            continue
        for i, item in enumerate(items):
            line = line_of(items, i)
            m: RuleModel | None = None
            todos = list(_todos(item, (), line))
            for where, tline, text in todos:
                c.add(name, tline, _("{key}: unresolved {todo}").format(key=where, todo=text))
            if todos:
                # A draft of `hanchot import-plan`: the TODO is the fault to fix, not
                # the shape errors it causes.
                if isinstance(item, dict):
                    out.append((name, line, item, None))
                continue
            try:
                m = RuleModel.model_validate(item)
            except ValidationError as e:
                c.extend(pydantic_problems(e, RuleModel, name, items, (i,), (), line))
            if isinstance(item, dict):
                out.append((name, line, item, m))
    return out


TODO_MARK = "TODO:"


def _todos(node: Any, path: tuple, line: int | None) -> Iterable[tuple[str, int | None, str]]:
    """(key path, line, text) of every ``TODO:`` text an import left in a rule."""
    if isinstance(node, str):
        if node.lstrip().startswith(TODO_MARK):
            yield ".".join(str(p) for p in path) or "rule", line, node.strip()
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _todos(v, (*path, k), line_of(node, k, line))
    elif isinstance(node, list):
        for j, v in enumerate(node):
            yield from _todos(v, path, line_of(node, j, line))


def _is_todo(value: str) -> bool:
    return value.lstrip().startswith(TODO_MARK)


def _check_date(c: _Collector, file: str, line: int | None, d: date | None, what: str) -> None:
    if d is not None and not FIRST_YEAR <= d.year <= LAST_YEAR:
        c.add(
            file,
            line,
            _("{key} {date} is outside the Vietnamese calendar ({first}–{last})").format(
                key=what, date=d.isoformat(), first=FIRST_YEAR, last=LAST_YEAR
            ),
        )


def _from_after_until(start: date, end: date) -> str:
    return _("from {start} is after until {end}").format(
        start=start.isoformat(), end=end.isoformat()
    )


def _form(c: _Collector, file: str, raw: Any, m: Any) -> DueForm | None:
    """The core due form of a validated model; cross-field problems go to ``c``."""

    def at(key: str) -> int | None:
        return line_of(raw, key)

    if isinstance(m, DueOn):
        _check_date(c, file, at("on"), m.on, "on")
        return On(m.on, m.roll)
    if isinstance(m, DueBefore):
        _check_date(c, file, at("before"), m.before, "before")
        return Before(m.before, m.roll)
    if isinstance(m, DueEndOf):
        _check_date(c, file, at("end_of"), m.end_of.end, "end_of")
        return EndOf(m.end_of, m.roll)
    if isinstance(m, DueEvery):
        bad = False
        n = MONTHS_IN[m.every]
        if m.month > n:
            where = {
                "month": _("a month"),
                "quarter": _("a quarter"),
                "half": _("a half"),
                "year": _("a year"),
            }[m.every]
            c.add(
                file,
                at("month") if "month" in raw else at("every"),
                _(
                    "month {month} is not within {period} (1..{n}); month counts within each period"
                ).format(month=m.month, period=where, n=n),
            )
            bad = True
        _check_date(c, file, at("from"), m.from_, "from")
        _check_date(c, file, at("until"), m.until, "until")
        if m.from_ and m.until and m.from_ > m.until:
            c.add(
                file,
                at("until"),
                _from_after_until(m.from_, m.until),
            )
            bad = True
        if bad:
            return None
        return Every(m.every, m.day, m.month, m.from_, m.until, m.roll)
    if isinstance(m, DueRRule):
        _check_date(c, file, at("from"), m.from_, "from")
        _check_date(c, file, at("until"), m.until, "until")
        if m.until and m.from_ > m.until:
            c.add(
                file,
                at("until"),
                _from_after_until(m.from_, m.until),
            )
            return None
        return RRule(m.rrule, m.from_, m.until, m.roll)
    if isinstance(m, DueAfter):
        when = tuple(sorted((str(k), when_value(v)) for k, v in m.when.items()))
        return After(m.after, m.in_, when, m.roll)
    raise TypeError(f"unknown due model {m!r}")  # pragma: no cover


def _build_rules(
    c: _Collector,
    parsed: list[tuple[str, int | None, LineDict, RuleModel | None]],
    directory: Directory | None,
    policies: Mapping[str, Policy] | None,
) -> tuple[list[Rule], dict[str, list[str]]]:
    """Check references (on the raw data, so an invalid rule is still checked) and build."""
    rules: list[Rule] = []
    files: dict[str, list[str]] = {}
    seen: dict[str, tuple[str, int | None]] = {}
    refs = [*directory.units, *directory.groups] if directory else []
    for file, line, raw, m in parsed:
        ok = m is not None
        rid = raw.get("id")
        if isinstance(rid, str):
            if rid in seen:
                f0, l0 = seen[rid]
                c.add(
                    file,
                    line_of(raw, "id", line),
                    _("duplicate rule id {id!r} (first defined at {where})").format(
                        id=rid, where=f"{f0}:{l0}"
                    ),
                )
                ok = False
            else:
                seen[rid] = (file, line_of(raw, "id", line))
                files.setdefault(file, []).append(rid)
        if directory is not None:
            lead = raw.get("lead")
            if isinstance(lead, str) and not _is_todo(lead) and not directory.known(lead):
                c.add(
                    file,
                    line_of(raw, "lead", line),
                    _("lead: unknown unit or group {id!r}{hint}").format(
                        id=lead, hint=suggest(lead, refs)
                    ),
                )
                ok = False
            raw_coord = raw.get("coordinating")
            coord = [raw_coord] if isinstance(raw_coord, str) else raw_coord
            if isinstance(coord, list):
                for j, cid in enumerate(coord):
                    if isinstance(cid, str) and not _is_todo(cid) and not directory.known(cid):
                        cline = line_of(raw_coord, j, line_of(raw, "coordinating", line))
                        c.add(
                            file,
                            cline,
                            _("coordinating: unknown unit or group {id!r}{hint}").format(
                                id=cid, hint=suggest(cid, refs)
                            ),
                        )
                        ok = False
        policy = raw.get("escalation", "default")
        if policies is not None and isinstance(policy, str) and policy not in policies:
            c.add(
                file,
                line_of(raw, "escalation", line),
                _("escalation: unknown policy {policy!r}{hint}").format(
                    policy=policy, hint=suggest(policy, policies)
                )
                + (
                    _("; escalation.yaml has {policies}").format(policies=", ".join(policies))
                    if policies
                    else ""
                ),
            )
            ok = False
        if m is None:
            continue
        due = _form(c, file, raw.get("due"), m.due)
        if due is None or not ok:
            continue
        rules.append(
            Rule(
                id=m.id,
                title=m.title,
                lead=m.lead,
                due=due,
                coordinating=tuple(m.coordinating),
                plan_item=m.plan_item,
                basis=m.basis,
                output=m.output,
                escalation=m.escalation,
                completion=m.completion,
                file=file,
                line=line,
            )
        )
    return rules, files


# =============================================================== entry point
def load_config(
    config_dir: Path | str,
    rules_dir: Path | str,
    *,
    clock_year: int | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Read, validate and convert the configuration and every rules file.

    ``clock_year`` is the current year as the CLI's clock gives it (the loader reads
    no clock): the working calendar is prepared around it. ``env`` defaults to
    ``os.environ`` (``HANCHOT_DATABASE_URL`` overrides ``settings.database``).

    Returns the frozen :class:`~engine.core.config.Config`. Raises
    :class:`~engine.errors.ConfigError` carrying every problem of every file,
    sorted by file then line.
    """
    config_dir = Path(config_dir)
    rules_dir = Path(rules_dir)
    c = _Collector()
    settings = _load_settings(c, config_dir / "settings.yaml", os.environ if env is None else env)
    calendar = _load_calendar(c, config_dir / "calendar.yaml")

    if rules_dir.is_dir():
        paths = rule_paths(rules_dir)
    else:
        c.add(str(rules_dir), None, _("rules directory not found (use --rules DIR)"))
        paths = []
    parsed = _read_rules(c, paths)
    needed = bool(paths)
    directory = _load_units(c, config_dir / "units.yaml", needed)
    policies, policies_ok = _load_policies(c, config_dir / "escalation.yaml", needed, directory)
    rules, files = _build_rules(c, parsed, directory, policies if policies_ok else None)
    for p in paths:
        files.setdefault(str(p), [])
    c.raise_if_any()
    if clock_year is not None and FIRST_YEAR < clock_year < LAST_YEAR:
        calendar.is_working_day(date(clock_year, 1, 1))  # cover clock_year
    return Config(
        settings=settings,
        directory=directory or Directory({}, {}, {}),
        calendar=calendar,
        policies=policies,
        rules=tuple(rules),
        files={f: tuple(ids) for f, ids in sorted(files.items())},
    )


def load_directory(config_dir: Path | str) -> Directory:
    """Only the units, groups, roles and aliases of ``config_dir/units.yaml``.

    Raises :class:`~engine.errors.ConfigError` with every problem of the file.
    """
    c = _Collector()
    directory = _load_units(c, Path(config_dir) / "units.yaml", True)
    c.raise_if_any()
    assert directory is not None
    return directory


__all__ = [
    "absolute_sqlite_url",
    "load_config",
    "load_directory",
    "pydantic_problems",
    "rule_paths",
    "suggest",
]
