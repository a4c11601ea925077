"""``hanchot due --stdin``: many due dates, streamed.

Reads whatever input is available (``os.read``), answers every complete line of it,
flushes, and reads again: a pipe gets its answers as soon as its lines arrive, and
a 200,000-line file is processed in large batches.
"""

from __future__ import annotations

import os
from datetime import date
from typing import TextIO

from engine.core.calendar import WorkingCalendar
from engine.core.spans import Roll, Span, add_span, parse_date, parse_span
from engine.errors import InputError
from engine.i18n import _

CHUNK = 1 << 16


def due_stream(cal: WorkingCalendar, roll: Roll | None, fd: int, out: TextIO) -> int:
    """Answer ``START<TAB>SPAN`` lines from file descriptor ``fd``; returns lines done.

    A bad line stops the run with ``<stdin>:N: message`` (InputError); the answers
    to the lines before it have been written.
    """
    spans: dict[str, Span] = {}
    fromiso = date.fromisoformat
    lineno = 0
    pending = b""
    write = out.write
    while True:
        chunk = os.read(fd, CHUNK)
        if not chunk:
            if pending:
                lines = [pending]
                pending = b""
            else:
                break
        else:
            data = pending + chunk
            lines = data.split(b"\n")
            pending = lines.pop()
        answers = []
        try:
            for raw in lines:
                lineno += 1
                text = raw.decode("utf-8").rstrip("\r")
                if not text.strip():
                    answers.append("")
                    continue
                start_s, sep, span_s = text.partition("\t")
                if not sep:
                    raise InputError(_("expected START<TAB>SPAN"))
                try:
                    start = fromiso(start_s)
                except ValueError:
                    start = parse_date(start_s)
                sp = spans.get(span_s)
                if sp is None:
                    sp = spans[span_s] = parse_span(span_s)
                answers.append(add_span(cal, start, sp, roll).isoformat())
        except (InputError, UnicodeDecodeError) as e:
            if answers:
                write("\n".join(answers) + "\n")
            out.flush()
            msg = e.message if isinstance(e, InputError) else _("not UTF-8 text")
            raise InputError(f"<stdin>:{lineno}: {msg}") from None
        if answers:
            write("\n".join(answers) + "\n")
            out.flush()
    return lineno
