"""The links a digest carries for one recipient and one deadline (issue 8.2)."""

from __future__ import annotations

from datetime import datetime

from engine.core.config import Settings
from engine.web.tokens import ACK, EXTEND, LIST, REPORT, Signer

#: Link labels as the mail shows them.
LABELS = {
    REPORT: "Báo cáo hoàn thành",
    EXTEND: "Đề nghị gia hạn",
    ACK: "Đã tiếp nhận",
    LIST: "Danh sách việc của tôi",
}


def links_for(
    settings: Settings, signer: Signer, recipient: str, deadline_id: int, now: datetime
) -> dict[str, str]:
    """``{report, extend, ack, list}`` → absolute URLs signed for ``recipient`` and
    this deadline; empty when ``web.base_url`` is not configured (no portal)."""
    base = settings.web.base_url
    if not base:
        return {}
    out = {
        a: f"{base}/a/{signer.action_token(recipient, deadline_id, a, now)}"
        for a in (REPORT, EXTEND, ACK)
    }
    out[LIST] = f"{base}/a/{signer.action_token(recipient, None, LIST, now)}"
    return out


def link_maker(settings: Settings, env, now: datetime, directory=None):
    """The digest's links for one dispatch cycle: ``fn(recipient, deadline_id, lead)``
    → ``{report, extend, ack}`` (report and extend only for the lead unit's addresses
    and the focal point, when ``directory`` is given), or ``{list}`` when
    ``deadline_id`` is None. ``None`` when no portal is configured (``web.base_url``).
    Reads the signing key once."""
    from datetime import timedelta
    from pathlib import Path

    from engine.web.tokens import secret_key

    if not settings.web.base_url:
        return None
    signer = Signer(
        secret_key(Path(settings.data_dir), env),
        max_age=timedelta(days=settings.web.token_days),
    )
    base = settings.web.base_url

    def url(recipient: str, deadline_id: int | None, action: str) -> str:
        return f"{base}/a/{signer.action_token(recipient, deadline_id, action, now)}"

    def make(recipient: str, deadline_id: int | None, lead: str | None) -> dict[str, str]:
        if deadline_id is None:
            return {LIST: url(recipient, None, LIST)}
        actions = [REPORT, EXTEND, ACK]
        if (
            directory is not None
            and lead is not None
            and not _may_report(directory, recipient, lead)
        ):
            actions = [ACK]
        return {a: url(recipient, deadline_id, a) for a in actions}

    return make


def _may_report(directory, recipient: str, lead: str) -> bool:
    from engine.store.portal_ops import person, role_units

    who = person(directory, recipient)
    if who is None:
        return False
    try:
        lead_units = set(directory.expand(lead))
    except KeyError:
        lead_units = {lead}
    return bool(who.units & (lead_units | role_units(directory, "admin")))
