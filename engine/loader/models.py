"""Pydantic models of the YAML files (SPEC §2–3): the boundary where text comes in.

Every model forbids unknown keys (a typo such as ``coordinatng`` is an error, with
the near key suggested by :mod:`engine.loader.config`). Values are parsed with the
core's own parsers (dates, spans, rolls, periods), so a message reads the same in
``hanchot due`` and in ``hanchot check``. Cross-field checks (``from`` after
``until``, ``month`` within the period) and references between files (units,
groups, policies) are made in :mod:`engine.loader.config`, which knows the lines.

``RulesFile.model_json_schema()`` is what ``hanchot schema`` prints for editors.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    WithJsonSchema,
    field_validator,
)

from engine.core.escalation import parse_at
from engine.core.periods import Period, parse_period
from engine.core.rules import DAY_WORDS
from engine.core.spans import Roll, Span, normalize_words, parse_date, parse_roll, parse_span
from engine.errors import InputError
from engine.i18n import _
from engine.loader.names import (
    check_attr_name,
    check_display_name,
    check_event_type,
    check_rule_id,
)

#: The keys that name a due-date form; exactly one of them is in every ``due``.
FORM_KEYS = ("on", "before", "end_of", "every", "rrule", "after")
#: Prefix of the union tags in pydantic error locations (skipped when finding lines).
TAG_PREFIX = "form:"

ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
EVENT_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# A pragmatic address check: one @, no spaces or brackets, a dotted domain.
EMAIL_RE = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\".]{2,}$")
# Control characters (C0, DEL, C1) and the Unicode line/paragraph separators.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _parser(parse, *, scalar: bool = True):
    """Wrap a core parser so its InputError becomes a pydantic ValueError.

    ``scalar``: refuse true/false, lists and mappings before parsing.
    """

    def validate(value: Any) -> Any:
        if scalar and isinstance(value, bool | list | dict):
            raise ValueError(_("{value!r} is not a single value").format(value=value))
        try:
            return parse(value)
        except InputError as e:
            raise ValueError(e.message) from None

    return validate


def _date(value: Any) -> date:
    if isinstance(value, int):  # `2022` where a date is wanted
        raise InputError(
            _("{value!r} is not a valid date; write YYYY-MM-DD (2022-07-29)").format(value=value)
        )
    return parse_date(value)


def _period(value: Any) -> Period:
    if isinstance(value, float):
        raise InputError(
            _("period {value!r} is not YYYY, YYYY-Qn, YYYY-Hn or YYYY-MM").format(value=value)
        )
    return parse_period(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise InputError(_("{value!r} must be text").format(value=value))
    return value


def _span(value: Any) -> Span:
    return parse_span(_text(value))


def _roll(value: Any) -> Roll:
    r = parse_roll(_text(value))
    assert r is not None
    return r


def _day(value: Any) -> int | str:
    if isinstance(value, int) and 1 <= value <= 31:
        return value
    if isinstance(value, str):
        s = normalize_words(value)
        if s.isdigit() and 1 <= int(s) <= 31:
            return int(s)
        if s in DAY_WORDS:
            return s
    raise InputError(
        _("day {value!r} is not 1..31, 'last', 'last working day' or 'first working day'").format(
            value=value
        )
    )


def _rrule(value: Any) -> str:
    from dateutil.rrule import rrulestr

    text = _text(value).strip()
    if "DTSTART" in text.upper():
        raise InputError(_("write the start of an rrule as 'from:', not DTSTART in the rule"))
    try:
        rrulestr(text)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise InputError(_("invalid RRULE {text!r}: {error}").format(text=text, error=e)) from None
    return text


def _email(value: Any) -> str:
    text = _text(value).strip()
    if not EMAIL_RE.match(text):
        raise InputError(_("{text!r} is not an e-mail address").format(text=text))
    return text


def _one_or_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _scalar_text(value: Any) -> str:
    """``plan_item: 11`` and ``plan_item: "11"`` are the same."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(_("{value!r} must be text").format(value=value))
    return str(value)


def _timezone(value: Any) -> str:
    text = _text(value).strip()
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            _("unknown time zone {text!r} (e.g. Asia/Ho_Chi_Minh)").format(text=text)
        ) from None
    return text


_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _send_time(value: Any) -> time:
    if isinstance(value, int):
        # YAML 1.1 reads an unquoted 8:00 as the sexagesimal number 480.
        raise InputError(_('must be "HH:MM" in quotes, e.g. send_time: "08:00"'))
    m = _HHMM.match(_text(value).strip())
    if not m:
        raise InputError(_('{value!r} is not "HH:MM" (e.g. "08:00")').format(value=value))
    return time(int(m.group(1)), int(m.group(2)))


def _at(value: Any) -> str:
    text = _scalar_text(value)
    parse_at(text)
    return normalize_words(text)


def _when_value(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("yes", "no"):
        # Only true/false are booleans (README): `yes` would compare as the text "yes".
        raise InputError(
            _("{value!r}: write true or false for a yes/no attribute").format(value=value)
        )
    if isinstance(value, str | int | float | bool):
        return value
    raise InputError(
        _("{value!r}: a 'when' value must be a single text, number or true/false").format(
            value=value
        )
    )


def _title(value: Any) -> str:
    text = unicodedata.normalize("NFC", _text(value)).strip()
    if not text:
        raise InputError(_("is empty; give the duty's title"))
    bad = CONTROL_RE.search(text)
    if bad:
        if bad.group() in "\r\n\u2028\u2029":
            what = _("a line break")
        else:
            what = _("a control character")
        raise InputError(
            _(
                "contains {kind} ({char!r}); a title becomes a mail subject: write it on one line"
            ).format(kind=what, char=bad.group())
        )
    return text


SPAN_PATTERN = (
    r"^\s*\d+\s+(days?|calendar days?|working days?|weeks?|months?|ngày|ngày làm việc|tuần"
    r"|tháng)\s*$"
)
DATE_SCHEMA = {
    "type": "string",
    "pattern": r"^(\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4})$",
    "description": "YYYY-MM-DD (2022-07-29) or dd/mm/yyyy",
}

DateField = Annotated[date, PlainValidator(_parser(_date)), WithJsonSchema(DATE_SCHEMA)]
SpanField = Annotated[
    Span,
    PlainValidator(_parser(_span)),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": SPAN_PATTERN,
            "examples": ["30 days", "5 working days", "15 ngày", "5 ngày làm việc", "1 tháng"],
        }
    ),
]
RollField = Annotated[
    Roll,
    PlainValidator(_parser(_roll)),
    WithJsonSchema({"enum": ["forward", "backward", "none"]}),
]
PeriodField = Annotated[
    Period,
    PlainValidator(_parser(_period)),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1901, "maximum": 2100},
                {"type": "string", "pattern": r"^\d{4}(-(Q[1-4]|H[12]|\d{2}))?$"},
            ],
            "description": "2022 (year), 2022-H1, 2022-Q3 or 2022-06",
        }
    ),
]
DayField = Annotated[
    int | str,
    PlainValidator(_parser(_day)),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 31},
                {"enum": list(DAY_WORDS)},
            ]
        }
    ),
]
RRuleField = Annotated[
    str,
    PlainValidator(_parser(_rrule)),
    WithJsonSchema({"type": "string", "examples": ["FREQ=MONTHLY;BYMONTHDAY=25"]}),
]
Email = Annotated[
    str,
    PlainValidator(_parser(_email)),
    WithJsonSchema({"type": "string", "format": "email"}),
]
Emails = Annotated[
    tuple[Email, ...],
    BeforeValidator(_one_or_list),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "email"},
                {"type": "array", "items": {"type": "string", "format": "email"}, "minItems": 1},
            ]
        }
    ),
]
Ids = Annotated[
    tuple[str, ...],
    BeforeValidator(_one_or_list),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]
ScalarText = Annotated[
    str,
    PlainValidator(_parser(_scalar_text)),
    WithJsonSchema({"type": ["string", "integer"]}),
]
Title = Annotated[
    str,
    PlainValidator(_parser(_title)),
    WithJsonSchema({"type": "string", "minLength": 1, "pattern": r"^[^\n\r\t]*$"}),
]


def _display(what: str):
    def check(value: Any) -> str:
        return check_display_name(value, what)

    return check


def _name_field(what: str):
    return Annotated[
        str,
        PlainValidator(_parser(_display(what))),
        WithJsonSchema({"type": "string", "minLength": 1, "pattern": r"^[^\n\r\t]*$"}),
    ]


WhenValue = Annotated[
    Any,
    PlainValidator(_parser(_when_value, scalar=False)),
    WithJsonSchema({"type": ["string", "integer", "boolean"]}),
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


# --------------------------------------------------------------------- due forms
class DueOn(Model):
    """``{on: 2022-07-29}`` — that date (roll forward)."""

    on: DateField
    roll: RollField | None = None


class DueBefore(Model):
    """``{before: 2022-07-30}`` — the last working day strictly before it."""

    before: DateField
    roll: RollField | None = None


class DueEndOf(Model):
    """``{end_of: 2022-Q1}`` — the period's last day (roll backward)."""

    end_of: PeriodField
    roll: RollField | None = None


class DueEvery(Model):
    """``{every: quarter, month: 3, day: 18}`` — day ``day`` of month ``month`` of each period."""

    every: Literal["month", "quarter", "half", "year"]
    day: DayField
    month: int = Field(1, ge=1, le=12)
    from_: DateField | None = Field(None, alias="from")
    until: DateField | None = None
    roll: RollField | None = None


class DueRRule(Model):
    """``{rrule: "FREQ=MONTHLY;BYMONTHDAY=25", from: D, until: D}`` (RFC 5545)."""

    rrule: RRuleField
    from_: DateField = Field(alias="from")
    until: DateField | None = None
    roll: RollField | None = None


class DueAfter(Model):
    """``{after: publication, in: 30 days, when: {delegated: true}}``."""

    after: str = Field(pattern=EVENT_TYPE_RE.pattern, max_length=50)
    in_: SpanField = Field(alias="in")
    when: dict[str, WhenValue] = Field(default_factory=dict)
    roll: RollField | None = None

    @field_validator("after", mode="before")
    @classmethod
    def _after(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                return check_event_type(v)
            except InputError as e:
                raise ValueError(e.message) from None
        return v

    @field_validator("when", mode="before")
    @classmethod
    def _when_keys(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for k in v:
                try:
                    check_attr_name(k)
                except InputError as e:
                    raise ValueError(e.message) from None
        return v


FORM_MODELS: dict[str, type[Model]] = {
    "on": DueOn,
    "before": DueBefore,
    "end_of": DueEndOf,
    "every": DueEvery,
    "rrule": DueRRule,
    "after": DueAfter,
}
#: Every key any due form knows (for "did you mean" suggestions).
ALL_DUE_KEYS = sorted(
    {a.alias or n for m in FORM_MODELS.values() for n, a in m.model_fields.items()}
)


def form_key(value: Any) -> str | None:
    """The form key of a raw ``due`` mapping, when it has exactly one."""
    if isinstance(value, dict):
        found = [k for k in FORM_KEYS if k in value]
        return found[0] if len(found) == 1 else None
    for key, model in FORM_MODELS.items():
        if isinstance(value, model):
            return key
    return None


def _due_tag(value: Any) -> str | None:
    key = form_key(value)
    return TAG_PREFIX + key if key else None


def _check_due(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value
    if not isinstance(value, dict):
        raise ValueError(
            _(
                "must be a mapping such as {{end_of: 2022}} or {{after: publication, in: 30 days}}"
            ).format()
        )
    found = [k for k in FORM_KEYS if k in value]
    if len(found) > 1:
        raise ValueError(_("has {keys}; give exactly one form").format(keys=_(" and ").join(found)))
    if not found:
        import difflib

        for k in value:
            near = difflib.get_close_matches(str(k), FORM_KEYS, n=1, cutoff=0.6)
            if near and k not in ALL_DUE_KEYS:
                raise ValueError(
                    _("unknown key {key!r}{hint}").format(
                        key=k, hint=_(" (did you mean {near!r}?)").format(near=near[0])
                    )
                )
        raise ValueError(_("needs one of {keys}").format(keys=", ".join(FORM_KEYS)))
    return value


Due = Annotated[
    Annotated[DueOn, Tag(TAG_PREFIX + "on")]
    | Annotated[DueBefore, Tag(TAG_PREFIX + "before")]
    | Annotated[DueEndOf, Tag(TAG_PREFIX + "end_of")]
    | Annotated[DueEvery, Tag(TAG_PREFIX + "every")]
    | Annotated[DueRRule, Tag(TAG_PREFIX + "rrule")]
    | Annotated[DueAfter, Tag(TAG_PREFIX + "after")],
    Discriminator(_due_tag),
    BeforeValidator(_check_due),
]


# --------------------------------------------------------------------- rules
class RuleModel(Model):
    """One duty of the plan (SPEC §2, a rules file)."""

    id: str = Field(
        pattern=ID_RE.pattern,
        max_length=100,
        description="unique across all files, [a-z0-9-]+, at most 100 characters",
    )
    title: Title
    plan_item: ScalarText | None = None
    basis: str | None = None
    output: str | None = None
    details: str | None = Field(None, description="the plan row's full text (import-plan)")
    lead: str = Field(description="unit or group id: đơn vị chủ trì")
    coordinating: Ids = Field((), description="unit or group ids: đơn vị phối hợp")
    escalation: str = "default"
    completion: Literal["direct", "confirm"] | None = Field(
        None,
        description="a portal report closes the deadline at once (direct) or waits for the "
        "focal point (confirm); default: settings web.completion, else confirm unless the "
        "lead is the focal point",
    )
    due: Due

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                check_rule_id(v)
            except InputError as e:
                raise ValueError(e.message) from None
        return v


class RulesFile(Model):
    """A rules file: ``rules: [...]``."""

    model_config = ConfigDict(
        extra="forbid",
        title="hanchot rules file",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )
    rules: list[RuleModel]


# --------------------------------------------------------------------- units
class HeadModel(Model):
    title: _name_field("head title")  # type: ignore[valid-type]
    email: Emails


class UnitModel(Model):
    name: _name_field("unit name")  # type: ignore[valid-type]
    email: Emails
    head: HeadModel | None = None
    aliases: Ids = Field((), description="other names of the unit in plans (import-plan)")


class GroupModel(Model):
    """``group-id: {members: [...], aliases: [...]}`` (the long form of a group)."""

    members: Ids
    aliases: Ids = ()


class UnitsFile(Model):
    units: dict[str, UnitModel]
    groups: dict[str, Ids | GroupModel] = Field(default_factory=dict)
    roles: dict[str, str] = Field(default_factory=dict)


# --------------------------------------------------------------------- escalation
class StageModel(Model):
    at: Annotated[str, PlainValidator(_parser(_at))]
    notify: Ids
    repeat: SpanField | None = None


class EscalationFile(Model):
    policies: dict[str, list[StageModel]]


# --------------------------------------------------------------------- settings
class SmtpModel(Model):
    host: str
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    user: str | None = None
    timeout: float = Field(30.0, gt=0)


class SenderModel(Model):
    name: _name_field("sender name") = "Hệ thống nhắc hạn"  # type: ignore[valid-type]
    email: Email = "nhachan@example.gov.vn"


def _ip_network(value: Any) -> str:
    """An IP address or network of ``web.trusted_proxies`` (``10.0.0.0/8``, ``::1``)."""
    import ipaddress

    text = str(value).strip()
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InputError(
            _("{value!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)").format(
                value=value
            )
        ) from None
    return text


class WebModel(Model):
    base_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")] | None = None
    token_days: int = Field(90, ge=1, le=3650)
    max_upload_mb: float = Field(10, gt=0, le=1024)
    extension_approver: Literal["admin", "director"] = "admin"
    completion: Literal["direct", "confirm"] | None = None
    trusted_proxies: list[Annotated[str, PlainValidator(_parser(_ip_network))]] = Field(
        default_factory=list,
        description="reverse proxies (addresses or networks) whose X-Forwarded-For is "
        "believed for the client address",
    )


class SettingsFile(Model):
    timezone: Annotated[str, PlainValidator(_parser(_timezone))] = "Asia/Ho_Chi_Minh"
    send_time: Annotated[time, PlainValidator(_parser(_send_time))] = time(8, 0)
    database: str = "sqlite:///var/hanchot.db"
    smtp: SmtpModel | None = None
    sender: SenderModel | None = None
    admin_email: Email | None = None
    mail_dir: str = "var/mail"
    horizon_years: int = Field(1, ge=0, le=10)
    data_dir: str = "var"
    web: WebModel | None = None
