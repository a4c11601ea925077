"""``--log-format json``: one JSON object per line, secrets masked.

Each line: ``{"ts": ISO 8601 UTC, "level", "logger", "message"}`` plus ``"exc"`` (the
traceback text) when an exception is logged. The values of ``HANCHOT_SMTP_PASSWORD``,
``HANCHOT_SECRET_KEY`` and ``HANCHOT_DB_PASSWORD`` and the password of any URL are
replaced by ``***`` wherever they would appear, in text and JSON logs alike.
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import UTC, datetime

SECRET_VARS = ("HANCHOT_SMTP_PASSWORD", "HANCHOT_SECRET_KEY", "HANCHOT_DB_PASSWORD")
# scheme://user:password@host -> scheme://user:***@host
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s]+)(@)", re.IGNORECASE)


def mask(text: str, env=os.environ) -> str:
    """``text`` with every known secret replaced by ``***``."""
    for var in SECRET_VARS:
        value = env.get(var)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return _URL_PASSWORD.sub(r"\1***\3", text)


class MaskingFormatter(logging.Formatter):
    """The usual text line, with secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line (UTF-8, not ASCII-escaped), secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        if record.exc_info:
            out["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)
