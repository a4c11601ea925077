"""Handing rendered messages over: to files (tests, dry runs) or to an SMTP server.

Both transports take a finished :class:`email.message.EmailMessage` (see
:func:`notifications.render.render`) and send it unchanged. Failures of the SMTP
transport are raised as :class:`engine.errors.SendError` whose ``retryable`` says
whether trying again later can help: a 4xx reply, a refused connection or a timeout
can; a 5xx reply cannot (each digest has exactly one recipient, so a refused
recipient means that one message failed for good).
"""

from __future__ import annotations

import os
import re
import select
import smtplib
import ssl
import tempfile
import time
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, Self

import yagmail

from engine.errors import SendError
from engine.i18n import _
from notifications.wire import wire_bytes

Security = Literal["none", "starttls", "ssl"]

#: A connection whose last command succeeded less than this many seconds ago is not
#: checked with NOOP before the next message (only for a hang-up, which costs nothing).
NOOP_AFTER = 5.0


class Transport(Protocol):
    """Anything that can deliver a rendered message; used as a context manager."""

    def send(self, msg: EmailMessage) -> None:
        """Deliver ``msg``; raise :class:`~engine.errors.SendError` on failure."""
        ...

    def close(self) -> None:
        """Release whatever the transport holds (connection, nothing)."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def _safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._@+-]+", "_", text.strip().strip("<>")).strip("._")
    return name[:200] or "message"


class FileTransport:
    """Writes each message to ``directory/<send date>/<message id>.eml``.

    The send date is the date of the message's ``Date`` header as written there (the
    local date); the file name is the ``Message-ID`` made filesystem-safe. Writing is
    atomic (a temporary file, then :func:`os.replace`) and idempotent: the same
    message id overwrites the same file. Raises :class:`ValueError` for a message
    without ``Date`` or ``Message-ID`` and :class:`~engine.errors.SendError`
    (``retryable=True``) when the file cannot be written.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"FileTransport({str(self.directory)!r})"

    def path_for(self, msg: Message) -> Path:
        """Where :meth:`send` writes ``msg``."""
        date_header, message_id = msg["Date"], msg["Message-ID"]
        if not date_header or not message_id:
            raise ValueError("a message needs Date and Message-ID headers to be written")
        day = parsedate_to_datetime(str(date_header)).date()
        return self.directory / day.isoformat() / f"{_safe_name(str(message_id))}.eml"

    def send(self, msg: EmailMessage) -> None:
        """Write ``msg`` (CRLF line ends, as it would go over SMTP) to :meth:`path_for`."""
        path = self.path_for(msg)
        data = wire_bytes(msg)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".eml")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as e:
            msg = _("cannot write {path}: {error}").format(path=path, error=e)
            raise SendError(msg, retryable=True) from e

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def send_error_from(exc: BaseException, *, where: str | None = None) -> SendError:
    """Classify an exception raised while talking SMTP as a :class:`SendError`.

    Retryable: refused or reset connections, timeouts, a dropped connection
    (:class:`smtplib.SMTPServerDisconnected`), a bad greeting
    (:class:`smtplib.SMTPConnectError`), any 4xx reply, and a refused recipient list
    whose codes are all 4xx or 552 (RFC 5321 §4.5.3.1.10). Not retryable: any other
    5xx reply (refused recipient, sender or data, failed login), a certificate that
    does not verify, a server without STARTTLS, and anything else unexpected. The
    message carries the server's code and text (``550 5.1.1 mailbox unavailable``)
    and never a password. ``where`` names the server (default: "SMTP server").
    """
    if isinstance(exc, SendError):
        return exc
    if where is None:
        where = _("SMTP server")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = exc.recipients or {}
        detail = "; ".join(
            f"{rcpt}: {code} {_text(text)}" for rcpt, (code, text) in refused.items()
        )
        # RFC 5321 §4.5.3.1.10: a 552 to RCPT TO (too many recipients, mailbox full)
        # is to be treated as the temporary 452.
        temporary = bool(refused) and all(
            400 <= code < 500 or code == 552 for code, _text_ in refused.values()
        )
        msg = _("{where} refused the recipient: {detail}").format(where=where, detail=detail)
        return SendError(msg, retryable=temporary)
    if isinstance(exc, smtplib.SMTPConnectError):
        msg = _("{where} refused the connection: {code} {text}").format(
            where=where, code=exc.smtp_code, text=_text(exc.smtp_error)
        )
        return SendError(msg, retryable=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        code, text = exc.smtp_code, _text(exc.smtp_error)
        answers = {
            smtplib.SMTPSenderRefused: _("{where} refused the sender: {code} {text}"),
            smtplib.SMTPDataError: _("{where} refused the message: {code} {text}"),
            smtplib.SMTPAuthenticationError: _(
                "{where} refused the login (check smtp.user and HANCHOT_SMTP_PASSWORD): "
                "{code} {text}"
            ),
            smtplib.SMTPHeloError: _("{where} refused the greeting: {code} {text}"),
        }
        msg = answers.get(type(exc)) or _("{where} replied: {code} {text}")
        return SendError(msg.format(where=where, code=code, text=text), retryable=400 <= code < 500)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        msg = _("{where} closed the connection: {error}").format(where=where, error=exc)
        return SendError(msg, retryable=True)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        msg = _("{where} does not support this ({error}); check smtp.security")
        return SendError(msg.format(where=where, error=exc), retryable=False)
    if isinstance(exc, ssl.SSLCertVerificationError):
        msg = _("{where} presented a certificate that does not verify: {reason}")
        return SendError(msg.format(where=where, reason=exc.verify_message), retryable=False)
    if isinstance(exc, ConnectionRefusedError):
        msg = _("{where} refused the connection (nothing listening?)").format(where=where)
        return SendError(msg, retryable=True)
    if isinstance(exc, TimeoutError):  # socket.timeout is an alias of it
        return SendError(_("{where} timed out").format(where=where), retryable=True)
    if isinstance(exc, OSError):
        # Resets, unreachable networks, DNS failures, TLS handshake errors: the
        # network or the server may be back later.
        msg = _("{where}: network error: {error}").format(where=where, error=exc)
        return SendError(msg, retryable=True)
    msg = _("{where}: unexpected {kind}: {error}").format(
        where=where, kind=type(exc).__name__, error=exc
    )
    return SendError(msg, retryable=False)


def _envelope(msg: Message) -> tuple[str, list[str]]:
    def addresses(name: str) -> list[str]:
        found: list[str] = []
        for header in msg.get_all(name, []):
            structured = getattr(header, "addresses", None)
            if structured is not None:
                found.extend(a.addr_spec for a in structured)
            else:
                found.extend(addr for _name, addr in getaddresses([str(header)]) if addr)
        return found

    senders = addresses("Sender") or addresses("From")
    recipients = addresses("To") + addresses("Cc") + addresses("Bcc")
    if len(senders) != 1 or not recipients:
        raise ValueError("a message needs one From address and at least one recipient")
    return senders[0], recipients


class _Secret:
    """A password that does not show itself in ``repr``, ``vars`` or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"


class SmtpTransport:
    """One SMTP connection reused for many messages; use it as a context manager.

    ``security`` is ``"none"`` (plain, e.g. a local relay on port 25), ``"starttls"``
    (upgrade after connecting, usually port 587) or ``"ssl"`` (TLS from the start,
    usually port 465). TLS certificates are verified against the system's CA store
    (``ssl_context`` overrides that). With ``user`` set, the transport logs in with
    ``password`` (which comes from ``HANCHOT_SMTP_PASSWORD``, never from a file, and
    is never logged or shown by :func:`repr`); without ``user`` it does not log in.

    The connection opens at :meth:`open` (or the first :meth:`send`). Before a later
    message the connection is checked with ``NOOP`` when it has been idle for
    :data:`NOOP_AFTER` seconds or more, or when the server has hung up or spoken out
    of turn (seen without a round trip); if the server has dropped it meanwhile, the
    transport reconnects once, transparently. A failure *during* a
    message is not retried here (the message may have been accepted), it raises
    :class:`~engine.errors.SendError` for the caller to schedule.
    """

    def __init__(
        self,
        host: str,
        port: int,
        security: Security = "none",
        user: str | None = None,
        password: str | None = None,
        timeout: float = 30,
        *,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("none", "starttls", "ssl"):
            raise ValueError(f"smtp.security must be none, starttls or ssl, not {security!r}")
        if user and password is None:
            raise ValueError(
                f"smtp.user is {user!r} but no password was given; set HANCHOT_SMTP_PASSWORD"
            )
        self.host = host
        self.port = int(port)
        self.security: Security = security
        self.user = user or None
        self._password = _Secret(password or "")
        self.timeout = float(timeout)
        self.local_hostname = local_hostname
        self._ssl_context = ssl_context
        self._yag: yagmail.SMTP | None = None
        #: time.monotonic() of the last command that succeeded on this connection
        self._last_ok: float | None = None

    def __repr__(self) -> str:
        login = f", user={self.user!r}, password=***" if self.user else ""
        return f"SmtpTransport({self.host!r}, {self.port}, {self.security!r}{login})"

    @property
    def where(self) -> str:
        """``SMTP server host:port``, as error messages name it."""
        return _("SMTP server {host}:{port}").format(host=self.host, port=self.port)

    @property
    def connected(self) -> bool:
        """Whether a connection is currently open (as far as the client knows)."""
        return self._yag is not None and self._yag.smtp is not None

    def _connect(self) -> None:
        context = self._ssl_context or ssl.create_default_context()
        kwargs: dict[str, object] = {"timeout": self.timeout}
        if self.local_hostname:
            kwargs["local_hostname"] = self.local_hostname
        if self.security == "ssl":
            kwargs["context"] = context
        # yagmail defaults to SSL on, and to STARTTLS on whenever SSL is off, so both
        # are always given explicitly. A dict for smtp_starttls is passed to
        # smtplib's starttls(); without a context smtplib would not verify the
        # server's certificate.
        yag = yagmail.SMTP(
            user=None,
            password=None,
            host=self.host,
            port=self.port,
            smtp_ssl=self.security == "ssl",
            smtp_starttls={"context": context} if self.security == "starttls" else False,
            smtp_skip_login=True,
            soft_email_validation=False,
            **kwargs,
        )
        yag.set_logging(None)  # yagmail installs a stderr handler by default
        try:
            yag.login()  # with smtp_skip_login: connect (+ STARTTLS) only
            if self.user:
                # Logged in here and not by yagmail: yagmail appends "@gmail.com" to a
                # user name without "@" and asks the keyring or the terminal for a
                # missing password; relays of a Sở often use plain account names.
                yag.smtp.login(self.user, self._password.reveal())
        except BaseException:
            self._discard(yag)
            raise
        self._yag = yag
        self._last_ok = time.monotonic()

    @staticmethod
    def _discard(yag: yagmail.SMTP | None) -> None:
        if yag is None:
            return
        yag.is_closed = True  # keeps yagmail's __del__ from trying QUIT again
        if yag.smtp is not None:
            try:
                yag.smtp.close()
            except OSError:
                pass

    def _alive(self) -> bool:
        assert self._yag is not None
        if self._recently_ok() and not self._readable():
            return True  # NOOP would only repeat what the last reply just said
        try:
            code, _reply = self._yag.smtp.noop()
        except (smtplib.SMTPException, OSError):
            return False
        if code == 250:
            self._last_ok = time.monotonic()
            return True
        return False

    def _recently_ok(self) -> bool:
        last = self._last_ok
        return last is not None and time.monotonic() - last < NOOP_AFTER

    def _readable(self) -> bool:
        """Whether the server sent something unasked (a 421, or end of file when it
        hung up): between commands an SMTP connection in good order is silent. (A
        421 already taken into smtplib's read buffer along with the previous reply
        is not seen here; the next command then gets it and fails retryably.)"""
        assert self._yag is not None
        smtp = self._yag.smtp
        sock = getattr(smtp, "sock", None)
        if sock is None:
            return True
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        try:
            readable, _w, _x = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def open(self) -> None:
        """Connect (and log in) now; raise :class:`SendError` if that fails."""
        if self.connected:
            return
        try:
            self._connect()
        except Exception as e:
            raise send_error_from(e, where=self.where) from e

    def send(self, msg: EmailMessage) -> None:
        """Send ``msg`` to its ``To``/``Cc`` addresses from its ``From`` address.

        Raises :class:`~engine.errors.SendError` (see :func:`send_error_from`) when the
        server cannot be reached or refuses the message; the transport stays usable for
        the next message either way. Raises :class:`ValueError` for a message without
        a sender or recipient.
        """
        from_addr, to_addrs = _envelope(msg)
        data = wire_bytes(msg)
        if self.connected and not self._alive():
            self._drop()
        self.open()
        assert self._yag is not None
        try:
            refused = self._yag.smtp.sendmail(from_addr, to_addrs, data)
        except smtplib.SMTPResponseException as e:
            # smtplib sent RSET after the refusal; the connection stays usable.
            raise send_error_from(e, where=self.where) from e
        except smtplib.SMTPRecipientsRefused as e:
            raise send_error_from(e, where=self.where) from e
        except Exception as e:
            # Mid-message network trouble: the session state is unknown, start over.
            self._drop()
            raise send_error_from(e, where=self.where) from e
        self._last_ok = time.monotonic()
        if refused:
            # Some of several recipients refused (a digest has one, so rarely seen).
            raise send_error_from(smtplib.SMTPRecipientsRefused(refused), where=self.where)

    def _drop(self) -> None:
        self._last_ok = None
        yag, self._yag = self._yag, None
        self._discard(yag)

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open; never raises."""
        self._last_ok = None
        yag, self._yag = self._yag, None
        if yag is None:
            return
        yag.is_closed = True
        try:
            if yag.smtp is not None:
                yag.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self._discard(yag)

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
