"""The e-mail policy of hanchot's messages: :data:`email.policy.SMTP` with a fix.

CPython 3.11's header folder for the modern policies (``email.policy.SMTP``,
``default``) loses the space at a fold between two RFC 2047 encoded words: a long
Vietnamese subject such as ``[Nhắc hạn] 1 việc sắp đến hạn — Chánh Văn phòng``
arrives as ``... đến hạn— Chánh ...``. The legacy encoder :class:`email.header.Header`
keeps the space but cuts encoded words anywhere, in the middle of a word, so mail
clients that decode each encoded word on its own show ``Xuất nh ập khẩu``.
:data:`POLICY` therefore encodes non-ASCII unstructured and address headers itself
(:func:`encode_words`): each encoded word holds whole words, the space before a word
inside it, and lines are folded only between encoded words, i.e. at spaces. Everything
else is left to ``SMTP``.

Headers are set through the header API (``msg[name] = value``), which refuses a
value with a line break; :func:`header_text` removes control characters first, so no
value can end a header or add one.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from email.headerregistry import HeaderRegistry, UnstructuredHeader
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


def header_text(text: str) -> str:
    """``text`` made fit for a header: control characters (C0, C1, DEL), line or
    paragraph separators and every other white space become spaces, unpaired
    surrogates U+FFFD, runs of spaces one space, and the ends are stripped. The
    result never contains a line break."""
    if text.isascii() and text.isprintable() and "  " not in text and text == text.strip():
        return text
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zl", "Zp") or ch.isspace():
            # Every white space (U+00A0 too) is a plain space: readers' parsers fold
            # runs of white space in a display name into one space anyway.
            out.append(" ")
        elif cat == "Cs":
            out.append("\ufffd")
        else:
            out.append(ch)
    return _SPACES.sub(" ", "".join(out)).strip()


_SPACES = re.compile(" {2,}")
_WORD = re.compile(r" ?[^ ]+| ")
#: RFC 2047 §2: an encoded word is at most 75 characters.
_EW_MAX = 75
_EW_OVERHEAD = len("=?utf-8?b??=")


def _ew(data: bytes) -> str:
    return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="


def _room(chars: int) -> int:
    """Bytes of UTF-8 text that fit in an encoded word of at most ``chars`` characters."""
    return max((chars - _EW_OVERHEAD) // 4 * 3, 3)


def _pieces(word: str, limit: int) -> list[bytes]:
    """``word`` cut at character boundaries into pieces of at most ``limit`` bytes
    (only for a single word longer than an encoded word can hold)."""
    pieces, current = [], b""
    for ch in word:
        b = ch.encode("utf-8", "surrogatepass")
        if current and len(current) + len(b) > limit:
            pieces.append(current)
            current = b""
        current += b
    if current:
        pieces.append(current)
    return pieces


@lru_cache(maxsize=4096)
def encode_words(text: str, first: int, width: int, limit: int = _EW_MAX) -> tuple[str, ...]:
    """``text`` as RFC 2047 ``B`` encoded words that never split a word.

    Words (split at spaces) are packed greedily; the space before a word travels
    inside the encoded word that starts with it, so a decoder that follows RFC 2047
    (which drops the whitespace *between* encoded words) gives back ``text`` exactly.
    The first word fits in ``first`` characters, the others in ``width`` (the line
    length minus the folding space). A single word longer than an encoded word can
    hold is the only thing ever cut, at a character boundary. ``limit`` is the
    longest encoded word (RFC 2047's 75 by default).
    """
    words: list[bytes] = []
    for token in _WORD.findall(text):
        data = token.encode("utf-8", "surrogatepass")
        most = _room(min(width, limit))
        words.extend(_pieces(token, most) if len(data) > most else [data])
    out: list[str] = []
    current = b""
    for data in words:
        room = _room(min(first if not out else width, limit))
        if current and len(current) + len(data) > room:
            out.append(_ew(current))
            current = b""
        current += data
    if current or not out:
        out.append(_ew(current))
    return tuple(out)


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

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        """As :class:`~email.policy.EmailPolicy` (a value with a line break raises
        :class:`ValueError`), with the parsed header objects of strings cached."""
        if isinstance(value, str) and not hasattr(value, "name"):
            if "=?" in value and issubclass(self.header_factory[name], UnstructuredHeader):
                # The parser would decode "=?...?=" in the text (to a NUL, a CR...):
                # hand it the text as encoded words, which decode to it exactly.
                value = " ".join(encode_words(value, _EW_MAX, _EW_MAX))
            return name, _store(self, name, value)
        return super().header_store_parse(name, value)

    def _encode(self, name: str, text: str) -> str:
        width = self.max_line_length or 78
        words = encode_words(text, width - len(name) - 2, width - 1)
        return f"{self.linesep} ".join(words)

    def _fold_ascii(self, name: str, text: str) -> str | None:
        """A long plain-ASCII unstructured value folded at its spaces only, each word
        kept whole (the modern folder turns a word longer than a line into encoded
        words and doubles the space before it). ``None`` (the modern folder) for a
        value that fits on one line."""
        width = self.max_line_length or 78
        if len(name) + 2 + len(text) <= width:
            if text.isprintable() and text == text.strip() and "  " not in text:
                # what the modern folder writes for it, without its cost
                return f"{name}: {text}{self.linesep}"
            return None
        words = text.split(" ")
        if "" in words or max(map(len, words)) > 990 - len(name):
            return f"{name}: {self._encode(name, text)}{self.linesep}"
        lines = [f"{name}: {words[0]}"]
        for word in words[1:]:
            if len(lines[-1]) + 1 + len(word) <= width:
                lines[-1] += f" {word}"
            else:
                lines.append(f" {word}")
        return self.linesep.join(lines) + self.linesep

    def _encode_phrase(self, text: str) -> str:
        # A display name is always ONE encoded word, even past RFC 2047's 75
        # characters (the line stays far below RFC 5322's 998): CPython's modern
        # parser keeps the whitespace between two encoded words of a phrase, which
        # RFC 2047 §6.2 says to drop, so any split shows a doubled space (or, split
        # inside a word, a space in the middle of the word) in one decoder or the other.
        return encode_words(text, 998, 998, 998)[0]

    def _legacy_fold(self, name: str, value: Any) -> str | None:
        text = str(value)
        groups = getattr(value, "groups", None)
        if groups is None and not (hasattr(value, "params") or hasattr(value, "content_type")):
            # unstructured (Subject, X-...) or a raw string
            if text.isascii() and "=?" not in text:
                # a header object set through the API: folded here; a raw string (MIME
                # structure that render() pre-folds): the modern folder keeps it
                return self._fold_ascii(name, text) if hasattr(value, "name") else None
            return f"{name}: {self._encode(name, text)}{self.linesep}"
        if text.isascii() and "=?" not in text:
            return None
        if groups is None:
            return None  # parameterised MIME headers: the modern folder does RFC 2231
        pieces = []
        for group in groups:
            if group.display_name is not None:
                return None  # named groups: not used by hanchot, leave them to EmailPolicy
            for address in group.addresses:
                if not address.addr_spec.isascii():
                    return None  # internationalised address: needs SMTPUTF8, not RFC 2047
                if address.display_name.isascii() and "=?" not in address.display_name:
                    pieces.append(formataddr((address.display_name, address.addr_spec)))
                else:
                    encoded = self._encode_phrase(address.display_name)
                    pieces.append(
                        _join_address(self, name, encoded, address.addr_spec, first=not pieces)
                    )
        return f"{name}: {f',{self.linesep} '.join(pieces)}{self.linesep}"


@lru_cache(maxsize=4096)
def _cached_store(policy: EmailPolicy, name: str, value: str) -> Any:
    return EmailPolicy.header_store_parse(policy, name, value)[1]


def _store(policy: EmailPolicy, name: str, value: str) -> Any:
    if len(value) > 200:  # long one-off values are not worth keeping
        return EmailPolicy.header_store_parse(policy, name, value)[1]
    return _cached_store(policy, name, value)


#: ``email.policy.SMTP`` (CRLF line ends) with correct RFC 2047 encoding.
POLICY = Rfc2047Policy(linesep="\r\n", header_factory=_CachedHeaderRegistry())
