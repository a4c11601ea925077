"""Mail for hanchot: rendering reminder digests and handing them to a transport.

This package depends only on :mod:`engine.core`, :mod:`engine.errors` and
:mod:`engine.i18n` (the operator's error messages; the mail itself is Vietnamese); the daemon
and the CLI decide *what* to send and *when*, this package decides *how it looks* and
*how it leaves*.
"""

from notifications.model import Digest, DigestItem
from notifications.render import days_left_vi, ics_for, render, subject_for
from notifications.transport import FileTransport, SmtpTransport, Transport, send_error_from

__all__ = [
    "Digest",
    "DigestItem",
    "FileTransport",
    "SmtpTransport",
    "Transport",
    "days_left_vi",
    "ics_for",
    "render",
    "send_error_from",
    "subject_for",
]
