"""Which SMTP failures are worth a retry: the classification behind SendError."""

from __future__ import annotations

import smtplib

import pytest

from engine.errors import SendError
from notifications import SmtpTransport, send_error_from


@pytest.mark.parametrize(
    ("exc", "retryable", "text"),
    [
        (ConnectionRefusedError(111, "Connection refused"), True, "refused the connection"),
        (TimeoutError(), True, "timed out"),
        (ConnectionResetError(104, "reset"), True, "network error"),
        (smtplib.SMTPServerDisconnected("gone"), True, "closed the connection"),
        (smtplib.SMTPConnectError(554, b"no service"), True, "554 no service"),
        (smtplib.SMTPSenderRefused(451, b"4.3.0 busy", "a@b.vn"), True, "451 4.3.0 busy"),
        (smtplib.SMTPDataError(452, b"4.3.1 full"), True, "452 4.3.1 full"),
        (smtplib.SMTPResponseException(421, b"4.4.2 closing"), True, "421"),
        (
            smtplib.SMTPRecipientsRefused({"a@b.vn": (450, b"4.2.1 greylisted")}),
            True,
            "a@b.vn: 450 4.2.1 greylisted",
        ),
        (
            smtplib.SMTPRecipientsRefused({"a@b.vn": (550, b"5.1.1 mailbox unavailable")}),
            False,
            "550 5.1.1 mailbox unavailable",
        ),
        (smtplib.SMTPDataError(554, b"5.7.1 spam"), False, "554 5.7.1 spam"),
        (smtplib.SMTPSenderRefused(553, b"5.7.1 not yours", "a@b.vn"), False, "553"),
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"), False, "535"),
        (smtplib.SMTPNotSupportedError("no STARTTLS"), False, "smtp.security"),
        (ValueError("strange"), False, "unexpected ValueError"),
    ],
)
def test_classification(exc, retryable, text):
    err = send_error_from(exc, where="SMTP server mail:25")
    assert isinstance(err, SendError)
    assert err.retryable is retryable
    assert text in str(err)
    assert str(err).startswith("SMTP server mail:25")


def test_a_send_error_passes_through():
    err = SendError("x", retryable=True)
    assert send_error_from(err) is err


def test_password_never_shown():
    t = SmtpTransport("mail.example.gov.vn", 587, "starttls", user="nhachan", password="pw-XYZ")
    assert "pw-XYZ" not in repr(t)
    assert "pw-XYZ" not in str(vars(t))


def test_a_user_without_password_is_a_configuration_error():
    with pytest.raises(ValueError, match="HANCHOT_SMTP_PASSWORD"):
        SmtpTransport("mail.example.gov.vn", 587, "starttls", user="nhachan")


def test_unknown_security_word():
    with pytest.raises(ValueError, match="none, starttls or ssl"):
        SmtpTransport("mail.example.gov.vn", 587, "tls")  # type: ignore[arg-type]
