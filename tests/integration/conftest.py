"""A real SMTP server (aiosmtpd) on loopback for the mail transport tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Chosen by binding port 0 and closing again: not every aiosmtpd version lets the
    Controller bind port 0 and report it back.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    peer: tuple[str, int]  # the client's address: one value per SMTP session


@dataclass
class RecordingHandler:
    """Records every accepted message; can be told to refuse or to drop the session.

    ``reject`` maps a recipient address to the reply for its RCPT TO (e.g.
    ``"550 5.1.1 mailbox unavailable"``); ``reply_all`` (e.g. ``"451 4.3.0 try again
    later"``) answers MAIL FROM and RCPT TO for everyone; ``drop_after_data`` makes
    the server close the connection just after accepting a message.
    """

    received: list[Received] = field(default_factory=list)
    reject: dict[str, str] = field(default_factory=dict)
    reply_all: str | None = None
    drop_after_data: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if self.reply_all:
            return self.reply_all
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.reply_all:
            return self.reply_all
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.received.append(
                Received(
                    envelope.mail_from,
                    tuple(envelope.rcpt_tos),
                    bytes(envelope.original_content or envelope.content),
                    tuple(session.peer[:2]),
                )
            )
        if self.drop_after_data:
            server.loop.call_later(0.05, server.transport.close)
        return "250 2.0.0 Message accepted for delivery"


@dataclass
class SmtpServer:
    """The running test server: where it listens and what it received."""

    host: str
    port: int
    handler: RecordingHandler

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def sessions(self) -> int:
        """How many distinct SMTP connections delivered at least one message."""
        return len({r.peer for r in self.received})


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An aiosmtpd server on 127.0.0.1 and a free port, stopped after the test."""
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, server_hostname="smtp.hanchot.test"
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()
