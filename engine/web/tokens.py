"""Signed tokens: mailed action links, sign-in links, session cookies, CSRF fields.

Every token is signed with one secret (``HANCHOT_SECRET_KEY``, or a key generated
once into ``DATA_DIR/secret.key`` with mode 0600), each kind with its own salt so a
token of one kind never passes for another. Action tokens name the recipient, the
deadline and the action, and carry the instant they were issued; their age is
checked against the ``now`` passed in (no clock is read here). Rotating the key kills
every token at once. Whether the deadline is still open is the caller's check
(:func:`engine.web.app` refuses links of closed deadlines).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer

from engine.errors import HanchotError
from engine.i18n import _

SECRET_ENV = "HANCHOT_SECRET_KEY"
KEY_FILE = "secret.key"

#: What a mailed link lets its recipient do.
REPORT, EXTEND, ACK, LIST = "report", "extend", "ack", "list"
ACTIONS = (REPORT, EXTEND, ACK, LIST)


class TokenError(HanchotError):
    """The link is not valid (altered, expired, for another action or recipient)."""

    exit_code = 1


def secret_key(data_dir: Path, env: Mapping[str, str]) -> str:
    """The signing secret: ``HANCHOT_SECRET_KEY``, else the key file, created once.

    The file is created with mode 0600 and never rewritten; delete it (or change the
    variable) to rotate the key, which invalidates every link already mailed.
    """
    value = env.get(SECRET_ENV, "").strip()
    if value:
        return value
    path = data_dir / KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


@dataclass(frozen=True)
class Claim:
    """What a valid action token says."""

    recipient: str
    deadline_id: int | None  # None for the recipient's list
    action: str
    issued: datetime


class Signer:
    """Makes and checks every signed value of the portal with one secret."""

    def __init__(self, secret: str, *, max_age: timedelta = timedelta(days=90)) -> None:
        self._secret = secret.encode()
        self.max_age = max_age
        self._action = URLSafeSerializer(secret, salt="hanchot.action")
        self._signin = URLSafeSerializer(secret, salt="hanchot.signin")
        self._session = URLSafeSerializer(secret, salt="hanchot.session")

    # ---------------------------------------------------------------- action links
    def action_token(
        self, recipient: str, deadline_id: int | None, action: str, now: datetime
    ) -> str:
        if action not in ACTIONS:
            raise ValueError(action)
        return self._action.dumps(
            {"r": recipient.lower(), "d": deadline_id, "a": action, "t": int(now.timestamp())}
        )

    def action_of(self, token: str) -> str | None:
        """The action a genuine token names (age not checked); ``None`` for a bad one."""
        try:
            return self._action.loads(token).get("a")
        except BadSignature:
            return None

    def verify_action(self, token: str, *, action: str, now: datetime) -> Claim:
        """The claim of a token for ``action``; raises :class:`TokenError` when the
        token was altered or signed with another key, is for another action, or is
        older than ``max_age`` at ``now``."""
        try:
            data = self._action.loads(token)
        except BadSignature:
            raise TokenError(_("this link is not valid (altered or from an old key)")) from None
        if data.get("a") != action:
            raise TokenError(_("this link is for another action"))
        issued = datetime.fromtimestamp(int(data["t"]), tz=now.tzinfo)
        if now - issued > self.max_age:
            raise TokenError(_("this link has expired; use the link of a newer mail"))
        return Claim(data["r"], data.get("d"), data["a"], issued)

    # ---------------------------------------------------------------- sign-in links
    def signin_token(self, email: str, nonce: str) -> str:
        return self._signin.dumps({"e": email.lower(), "n": nonce})

    def verify_signin(self, token: str) -> tuple[str, str]:
        """(email, nonce) of a sign-in link; the caller checks the nonce once."""
        try:
            data = self._signin.loads(token)
        except BadSignature:
            raise TokenError(_("this sign-in link is not valid")) from None
        return data["e"], data["n"]

    # ---------------------------------------------------------------- sessions
    def session_cookie(self, email: str, now: datetime) -> str:
        return self._session.dumps(
            {"e": email.lower(), "s": secrets.token_urlsafe(16), "t": int(now.timestamp())}
        )

    def verify_session(self, cookie: str, now: datetime, max_age: timedelta) -> tuple[str, str]:
        """(email, session id) of a session cookie; raises :class:`TokenError`."""
        try:
            data = self._session.loads(cookie)
        except BadSignature:
            raise TokenError(_("the session is not valid; sign in again")) from None
        if now - datetime.fromtimestamp(int(data["t"]), tz=now.tzinfo) > max_age:
            raise TokenError(_("the session has expired; sign in again"))
        return data["e"], data["s"]

    # ---------------------------------------------------------------- CSRF
    def csrf(self, binding: str) -> str:
        """The CSRF field of a form shown to the holder of ``binding`` (a session id
        or an action token): a cross-site page can neither read nor compute it."""
        return hmac.new(self._secret, b"csrf:" + binding.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, binding: str, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(self.csrf(binding), value)
