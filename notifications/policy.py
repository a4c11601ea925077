"""The e-mail policy of hanchot's messages: :data:`email.policy.SMTP` with a fix.

CPython 3.11's header folder for the modern policies (``email.policy.SMTP``,
``default``) loses the space at a fold between two RFC 2047 encoded words: a long
Vietnamese subject such as ``[Nhắc hạn] 1 việc sắp đến hạn — Chánh Văn phòng``
arrives as ``... đến hạn— Chánh ...`` (about 6% of random Vietnamese subjects, and as
many long display names, lose a space). The legacy encoder :class:`email.header.Header`
puts whitespace inside the encoded words and is correct, so :data:`POLICY` uses it for
non-ASCII unstructured and address headers and leaves everything else to ``SMTP``.
"""

from __future__ import annotations

from email.header import Header
from email.headerregistry import HeaderRegistry
from email.policy import EmailPolicy
from email.utils import formataddr
from functools import lru_cache
from typing import Any


class _CachedHeaderRegistry(HeaderRegistry):
    """:class:`~email.headerregistry.HeaderRegistry` that builds each header class
    once: the stock registry creates a new class with ``type()`` for every header
    it parses, which was a large part of the cost of building a message."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


@lru_cache(maxsize=4096)
def _encode_words(name: str, text: str, maxlinelen: int | None, linesep: str) -> str:
    return Header(text, "utf-8", maxlinelen=maxlinelen, header_name=name).encode(linesep=linesep)


def _join_address(
    policy: EmailPolicy, name: str, encoded: str, addr_spec: str, *, first: bool
) -> str:
    lines = encoded.split(policy.linesep)
    # the last line so far, with "To: " or the " " of a continuation
    indent = len(name) + 2 if first and len(lines) == 1 else 1
    width = indent + len(lines[-1].strip()) + len(addr_spec) + 4
    gap = " " if width <= (policy.max_line_length or 78) else f"{policy.linesep} "
    return f"{encoded}{gap}<{addr_spec}>"


class Rfc2047Policy(EmailPolicy):
    """:class:`~email.policy.EmailPolicy` that encodes non-ASCII headers the legacy way."""

    def fold(self, name: str, value: Any) -> str:
        """Fold ``name: value`` for text output (see the module docstring)."""
        folded = self._legacy_fold(name, value)
        return folded if folded is not None else super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        """Fold ``name: value`` for bytes output (see the module docstring)."""
        folded = self._legacy_fold(name, value)
        return folded.encode("ascii") if folded is not None else super().fold_binary(name, value)

    def _encode(self, name: str, text: str) -> str:
        return _encode_words(name, text, self.max_line_length, self.linesep)

    def _legacy_fold(self, name: str, value: Any) -> str | None:
        text = str(value)
        if text.isascii():
            return None
        groups = getattr(value, "groups", None)
        if groups is None:  # unstructured (Subject, X-...) or a raw string
            if hasattr(value, "params") or hasattr(value, "content_type"):
                return None  # parameterised MIME headers: the modern folder does RFC 2231
            return f"{name}: {self._encode(name, text)}{self.linesep}"
        pieces = []
        for group in groups:
            if group.display_name is not None:
                return None  # named groups: not used by hanchot, leave them to EmailPolicy
            for address in group.addresses:
                if not address.addr_spec.isascii():
                    return None  # internationalised address: needs SMTPUTF8, not RFC 2047
                if address.display_name.isascii():
                    pieces.append(formataddr((address.display_name, address.addr_spec)))
                else:
                    encoded = self._encode(name, address.display_name)
                    pieces.append(
                        _join_address(self, name, encoded, address.addr_spec, first=not pieces)
                    )
        return f"{name}: {f',{self.linesep} '.join(pieces)}{self.linesep}"


#: ``email.policy.SMTP`` (CRLF line ends) with correct RFC 2047 encoding.
POLICY = Rfc2047Policy(linesep="\r\n", header_factory=_CachedHeaderRegistry())
