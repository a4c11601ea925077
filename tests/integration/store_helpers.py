"""Building blocks of the store and daemon tests: a config built in code (no loader)."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime, time
from email.message import EmailMessage
from pathlib import Path

from engine.core.calendar import WorkingCalendar
from engine.core.config import Config, Settings, SmtpSettings
from engine.core.escalation import Policy, Stage, parse_at
from engine.core.rules import After, On, Rule
from engine.core.spans import parse_span
from engine.core.units import Directory, Head, UnitInfo
from engine.store import db

_CAL = WorkingCalendar()


def stage(at: str, notify: list[str], repeat: str | None = None) -> Stage:
    offset, direction = parse_at(at)
    every = parse_span(repeat) if repeat else None
    return Stage(" ".join(at.split()), offset, direction, tuple(notify), every)


DEFAULT_POLICY = Policy(
    "default",
    (
        stage("5 working days before", ["lead"]),
        stage("1 working day before", ["lead", "coordinating"]),
        stage("due", ["lead", "coordinating"]),
        stage("1 working day after", ["lead", "lead.head", "oversight"]),
        stage("5 working days after", ["lead.head", "director"], "5 working days"),
    ),
)


def unit(uid: str, name: str, head_title: str) -> UnitInfo:
    head = Head(head_title, (f"head.{uid}@example.gov.vn",))
    return UnitInfo(uid, name, (f"{uid}@example.gov.vn",), head)


DIRECTORY = Directory(
    units={
        "van-phong": unit("van-phong", "Văn phòng Sở", "Chánh Văn phòng"),
        "thanh-tra": unit("thanh-tra", "Thanh tra Sở", "Chánh Thanh tra"),
        "qlcn": unit("qlcn", "Phòng Quản lý Công nghiệp", "Trưởng phòng Quản lý Công nghiệp"),
        "qlnl": unit("qlnl", "Phòng Quản lý Năng lượng", "Trưởng phòng Quản lý Năng lượng"),
        "ban-giam-doc": unit("ban-giam-doc", "Ban Giám đốc Sở", "Giám đốc Sở"),
    },
    groups={"phong-chuyen-mon": ("qlcn", "qlnl")},
    roles={"oversight": "thanh-tra", "director": "ban-giam-doc"},
)

REPORT_RULE = Rule(
    id="bao-cao-6-thang",
    title="Báo cáo tình hình, kết quả kiểm soát TTHC 6 tháng",
    lead="van-phong",
    due=On(date(2022, 7, 29)),
    coordinating=("phong-chuyen-mon",),
    plan_item="18",
    basis="Thông tư 01/2020/TT-VPCP",
    output="Báo cáo gửi UBND tỉnh",
)

PUBLISH_RULE = Rule(
    id="quy-trinh-noi-bo",
    title="Trình phê duyệt quy trình nội bộ giải quyết TTHC",
    lead="qlcn",
    due=After("publication", parse_span("30 days")),
    coordinating=("van-phong",),
    plan_item="11",
)


def make_config(
    tmp_path: Path,
    *,
    rules: tuple[Rule, ...] = (REPORT_RULE,),
    smtp: SmtpSettings | None = None,
    admin_email: str | None = "admin@example.gov.vn",
    calendar: WorkingCalendar | None = None,
    policy: Policy = DEFAULT_POLICY,
    database: str | None = None,
) -> Config:
    settings = Settings(
        timezone="Asia/Ho_Chi_Minh",
        send_time=time(8, 0),
        database=database or f"sqlite:///{tmp_path / 'var' / 'hanchot.db'}",
        smtp=smtp,
        sender_name="Hệ thống nhắc hạn Sở Công Thương",
        sender_email="nhachan@example.gov.vn",
        admin_email=admin_email,
        mail_dir=str(tmp_path / "var" / "mail"),
    )
    return Config(
        settings=settings,
        directory=DIRECTORY,
        calendar=calendar or _CAL,
        policies={"default": policy},
        rules=rules,
    )


def local(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    """An instant given in Vietnam time (UTC+7), as aware UTC."""
    from zoneinfo import ZoneInfo

    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).astimezone(UTC)


def open_store(config: Config):
    engine = db.make_engine(config.settings.database)
    db.migrate(engine)
    return engine, db.session_factory(engine)


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def text_body(msg: EmailMessage) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def attachments(msg: EmailMessage) -> list[EmailMessage]:
    return [p for p in msg.iter_attachments()]
