"""A message's bytes as they go over SMTP, without the cost of ``email.generator``.

:func:`wire_bytes` gives exactly ``msg.as_bytes(policy=msg.policy.clone(linesep="\\r\\n"))``
for the messages hanchot builds (:func:`notifications.render.render`, the failure
summary) at a fraction of the cost: the generator parses the ``Content-Type`` of
every part several times over (``get_content_type``, ``get_boundary``) and refolds
the same shared header objects for every message; here the content type and the
boundary are read once per part, and the folded bytes of a shared header object are
kept. Each header is still folded by the message's own policy, each body written as
the generator writes it (line ends made CRLF). Anything this module does not handle
the generator's way for certain (another policy, a part without a ``Content-Type``,
``message/*``, ``multipart/signed``, a preamble or epilogue, a non-ASCII payload,
a boundary it cannot read simply) is handed to ``as_bytes`` itself, so the result
is the generator's in every case.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Any

from notifications.policy import POLICY

_CRLF = "\r\n"
_NLCRE = re.compile(r"\r\n|\r|\n")
#: ``multipart/x; boundary="token"`` exactly, the one form whose boundary is read
#: here (any other multipart ``Content-Type`` goes to the generator).
_BOUNDARY = re.compile(r'[^;"]*;[ \t]*boundary="([A-Za-z0-9\'()+_,./:=?-]+)"')
_LINE_ENDS = re.compile(r"[\r\n]")
#: Folded header bytes of header objects, by (name, id(object)); each entry holds the
#: object itself so its id cannot be reused while the entry lives.
_folded: dict[tuple[str, int], tuple[Any, bytes]] = {}
_FOLDED_MAX = 4096


class _Unsupported(Exception):
    """The message has something the fast path leaves to the generator."""


def wire_bytes(msg: Message) -> bytes:
    """``msg`` as the bytes ``msg.as_bytes(policy=msg.policy.clone(linesep="\\r\\n"))``
    gives (CRLF line ends), faster for messages of :data:`POLICY`."""
    out: list[bytes] = []
    try:
        _part(msg, out)
    except _Unsupported:
        return msg.as_bytes(policy=msg.policy.clone(linesep=_CRLF))
    return b"".join(out)


def _header_bytes(name: str, value: Any) -> bytes:
    if not hasattr(value, "name"):  # a raw string: folded cheaply, not worth keeping
        return POLICY.fold_binary(name, value)
    key = (name, id(value))
    hit = _folded.get(key)
    if hit is not None and hit[0] is value:
        return hit[1]
    data = POLICY.fold_binary(name, value)
    if len(_folded) >= _FOLDED_MAX:
        _folded.clear()
    _folded[key] = (value, data)
    return data


def _content_type(part: Message) -> tuple[str, str, str | None]:
    """``(maintype, subtype, boundary)`` of ``part``, read the way
    :meth:`~email.message.Message.get_content_type` and ``get_boundary`` read them."""
    value = None
    for name, v in part._headers:  # noqa: SLF001 (what msg.get() looks through)
        if name.lower() == "content-type":
            value = v
            break
    if value is None:
        raise _Unsupported  # the default depends on the parent (multipart/digest)
    # what header_fetch_parse gives: the header object, or the raw value unfolded
    text = str(value) if hasattr(value, "name") else _LINE_ENDS.sub("", value)
    ctype = text.partition(";")[0].strip().lower()
    if ctype.count("/") != 1:
        ctype = "text/plain"  # RFC 2045 §5.2, as get_content_type
    maintype, subtype = ctype.split("/")
    boundary = None
    if maintype == "multipart":
        m = _BOUNDARY.fullmatch(text)
        if m is None:
            raise _Unsupported
        boundary = m.group(1)
    return maintype, subtype, boundary


def _part(part: Message, out: list[bytes]) -> None:
    if part.policy is not POLICY or part.preamble is not None or part.epilogue is not None:
        raise _Unsupported
    maintype, subtype, boundary = _content_type(part)
    payload = part._payload  # noqa: SLF001
    body: list[bytes] = []
    if maintype == "multipart":
        if subtype == "signed" or not isinstance(payload, list):
            raise _Unsupported
        mark = f"--{boundary}".encode("ascii")
        body.append(mark + b"\r\n")
        for i, sub in enumerate(payload):
            if i:
                body.append(b"\r\n" + mark + b"\r\n")
            _part(sub, body)
        body.append(b"\r\n" + mark + b"--\r\n")
    elif maintype == "message" or not isinstance(payload, str | None):
        raise _Unsupported
    elif payload:
        if not payload.isascii():
            raise _Unsupported  # 8-bit or surrogate-escaped bodies: the generator's rules
        body.append(_NLCRE.sub(_CRLF, payload).encode("ascii"))
    for name, value in part._headers:  # noqa: SLF001
        out.append(_header_bytes(name, value))
    out.append(b"\r\n")
    out.extend(body)
