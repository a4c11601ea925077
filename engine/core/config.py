"""Everything loaded from ``config/`` and ``rules/``, as frozen core types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time

from engine.core.calendar import WorkingCalendar
from engine.core.escalation import Policy
from engine.core.rules import Rule
from engine.core.units import Directory


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 25
    security: str = "none"  # none | starttls | ssl
    user: str | None = None
    timeout: float = 30.0
    # The password is never here: only HANCHOT_SMTP_PASSWORD in the environment.


@dataclass(frozen=True, slots=True)
class WebSettings:
    """``web:`` of settings.yaml: the portal (issue 8)."""

    #: Public address of the portal, put in front of every mailed link; None: no links.
    base_url: str | None = None
    #: Days a mailed action link stays valid.
    token_days: int = 90
    #: Largest attachment accepted, in bytes.
    max_upload_bytes: int = 10 * 1024 * 1024
    #: Who approves extensions: the focal point (role ``admin``) or role ``director``.
    extension_approver: str = "admin"
    #: Default completion policy of every rule without ``completion:`` (``direct`` or
    #: ``confirm``); ``None``: direct only when the lead is the focal point itself.
    completion: str | None = None
    #: Reverse proxies (addresses or CIDR networks) whose ``X-Forwarded-For`` is
    #: believed for the client address (sign-in rate limit, audit ``from``).
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    timezone: str = "Asia/Ho_Chi_Minh"
    send_time: time = time(8, 0)
    database: str = "sqlite:///var/hanchot.db"
    smtp: SmtpSettings | None = None  # None: write .eml files under mail_dir
    sender_name: str = "Hệ thống nhắc hạn"
    sender_email: str = "nhachan@example.gov.vn"
    admin_email: str | None = None
    mail_dir: str = "var/mail"
    horizon_years: int = 1  # materialise deadlines up to the end of next year
    #: Where hanchot keeps its files (signing key, attachments).
    data_dir: str = "var"
    web: WebSettings = field(default_factory=WebSettings)


@dataclass(frozen=True)
class Config:
    settings: Settings
    directory: Directory
    calendar: WorkingCalendar
    policies: Mapping[str, Policy]
    rules: tuple[Rule, ...]
    #: file name -> rule ids it defines, in order (for ``check``'s summary)
    files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
