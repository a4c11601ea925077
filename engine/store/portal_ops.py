"""What units and the focal point do from the portal: report completion with evidence,
confirm or return a report, request and decide extensions, acknowledge a reminder.

One function per action, used by the web portal and the CLI alike, so every action
goes through the same checks and lands in the audit log. Nothing here reads the clock
or the environment: ``now`` (aware) and the data directory are passed in. Each
function works inside the caller's transaction and commits nothing.

Who may do what is decided from ``units.yaml``: a person is an e-mail address; the
units they belong to are the units that list it (as the unit's or its head's address);
role ``admin`` (the focal point, đầu mối kiểm soát TTHC) and role ``director`` are the
units those roles name.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.core.calendar import format_vi
from engine.core.config import Config
from engine.core.units import Directory
from engine.errors import InputError, StoreError
from engine.i18n import _
from engine.store.audit import log_change
from engine.store.ops import close_deadline
from engine.store.outbox import next_instant_after, require_aware
from engine.store.portal_tables import (
    R_CONFIRMED,
    R_DIRECT,
    R_PENDING,
    R_RETURNED,
    X_APPROVED,
    X_PENDING,
    X_REFUSED,
    acknowledgements,
    attachments,
    extensions,
    notices,
    reports,
)
from engine.store.tables import DONE, OPEN, PENDING, REPORTED, SUPERSEDED, WAIVED, deadlines, outbox

ADMIN, DIRECTOR = "admin", "director"


# ------------------------------------------------------------------ people
@dataclass(frozen=True)
class Person:
    """One address and what ``units.yaml`` makes of it."""

    email: str
    units: frozenset[str]  # units listing this address (unit or head address)
    heads: frozenset[str]  # units this address heads
    roles: frozenset[str] = field(default_factory=frozenset)  # admin, director

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def is_director(self) -> bool:
        return DIRECTOR in self.roles


def role_units(directory: Directory, role: str) -> set[str]:
    """The units a role (``admin``, ``director``) names; empty when not configured."""
    if role not in directory.roles:
        return set()
    return set(directory.expand(directory.roles[role]))


def person(directory: Directory, email: str) -> Person | None:
    """Who ``email`` is; ``None`` when no unit in ``units.yaml`` lists it."""
    want = email.strip().lower()
    units, heads = set(), set()
    for uid, info in directory.units.items():
        if want in (e.lower() for e in info.emails):
            units.add(uid)
        if info.head is not None and want in (e.lower() for e in info.head.emails):
            units.add(uid)
            heads.add(uid)
    if not units:
        return None
    roles = {r for r in (ADMIN, DIRECTOR) if units & role_units(directory, r)}
    return Person(want, frozenset(units), frozenset(heads), frozenset(roles))


def _expand(directory: Directory, ref: str) -> set[str]:
    try:
        return set(directory.expand(ref))
    except KeyError:
        return {ref}


def lead_units(directory: Directory, row) -> set[str]:
    return _expand(directory, row.lead)


def concerned_units(directory: Directory, row) -> set[str]:
    """Lead and coordinating units of a deadline, groups expanded."""
    out = _expand(directory, row.lead)
    for c in row.coordinating or ():
        out |= _expand(directory, c)
    return out


def can_view(directory: Directory, who: Person, row) -> bool:
    return who.is_admin or who.is_director or bool(who.units & concerned_units(directory, row))


def can_report(directory: Directory, who: Person, row) -> bool:
    """The lead unit (its members and head) reports; the focal point may too."""
    return who.is_admin or bool(who.units & lead_units(directory, row))


def can_decide_extension(config: Config, who: Person) -> bool:
    approver = config.settings.web.extension_approver
    return who.is_admin if approver == ADMIN else (who.is_director or who.is_admin)


DIRECT, CONFIRM = "direct", "confirm"


def completion_policy(config: Config, row, who: Person | None = None) -> str:
    """What a completion report of deadline ``row`` does (issue 8.3): ``direct`` closes
    it as done at once, ``confirm`` waits for the focal point.

    The first that says: the focal point reporting itself (``who.is_admin``: nobody
    else would confirm) → ``direct``; the rule's ``completion:``; ``web.completion``
    of settings.yaml; else ``direct`` when the lead is the focal point itself and
    ``confirm`` otherwise.
    """
    if who is not None and who.is_admin:
        return DIRECT
    rule = next((r for r in config.rules if r.id == row.rule_id), None)
    if rule is not None and rule.completion is not None:
        return rule.completion
    if config.settings.web.completion is not None:
        return config.settings.web.completion
    admin = role_units(config.directory, ADMIN)
    lead = lead_units(config.directory, row)
    return DIRECT if admin and lead <= admin else CONFIRM


# ------------------------------------------------------------------ typed text
#: Longest note or reason accepted (characters).
MAX_TEXT = 4000


def one_line(value: str, what: str, limit: int = 200) -> str:
    """Text typed into a one-line field (a document number): no control characters,
    at most ``limit`` characters. Raises :class:`InputError`."""
    from engine.loader.names import UNSAFE_RE

    text = value.strip()
    if UNSAFE_RE.search(text):
        raise InputError(
            _("{what} must be one line of text without control characters").format(what=what)
        )
    if len(text) > limit:
        raise InputError(
            _("{what} is {n} characters long; at most {limit} are allowed").format(
                what=what, n=len(text), limit=limit
            )
        )
    return text


def text_block(value: str, what: str, limit: int = MAX_TEXT) -> str:
    """A note or a reason: several lines allowed, no other control characters."""
    if not value:
        return ""
    lines = value.replace("\r\n", "\n").strip().split("\n")
    text = "\n".join(one_line(ln, what, limit) for ln in lines)
    if len(text) > limit:
        raise InputError(
            _("{what} is {n} characters long; at most {limit} are allowed").format(
                what=what, n=len(text), limit=limit
            )
        )
    return text


# ------------------------------------------------------------------ lookups
def deadline_by_id(session: Session, deadline_id: int):
    row = session.execute(sa.select(deadlines).where(deadlines.c.id == deadline_id)).first()
    if row is None:
        raise StoreError(_("no deadline with id {id}").format(id=deadline_id))
    return row


def deadline_by_ref(session: Session, rule_id: str, key: str):
    row = session.execute(
        sa.select(deadlines).where(deadlines.c.rule_id == rule_id, deadlines.c.key == key)
    ).first()
    if row is None:
        raise StoreError(
            _("no deadline {rule} {key}; `hanchot status` lists them").format(rule=rule_id, key=key)
        )
    return row


def _require(allowed: bool, who: Person, what: str) -> None:
    if not allowed:
        raise StoreError(
            _("{who} may not {what} for this deadline").format(who=who.email, what=what)
        )


# ------------------------------------------------------------------ attachments
@dataclass(frozen=True)
class Upload:
    """A file given with a report: the name the user's computer gave it, and its bytes."""

    filename: str
    data: bytes


_UNSAFE = re.compile(r"[^\w.\- ()]+", re.UNICODE)


def safe_filename(name: str) -> str:
    """A display name without directories, control characters or leading dots.

    The name is only ever shown and offered as a download name; files are stored
    under their SHA-256, so no name can reach another path.
    """
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    return name[:200] or "tep-dinh-kem"


def attachment_path(data_dir: Path, sha256: str) -> Path:
    """Where the attachment with this digest lives: ``DATA/attachments/ab/abcdef...``."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise InputError(_("not a SHA-256 digest: {value!r}").format(value=sha256))
    return data_dir / "attachments" / sha256[:2] / sha256


def store_attachment(data_dir: Path, upload: Upload, max_bytes: int) -> tuple[str, str, int]:
    """Write an upload under its SHA-256 (once; the same bytes are stored once).

    Returns (sha256, safe display name, size). Raises :class:`InputError` when the
    file is empty or larger than ``max_bytes``.
    """
    size = len(upload.data)
    if size > max_bytes:
        raise InputError(
            _("file {name} is {size} bytes; the limit is {limit} bytes").format(
                name=safe_filename(upload.filename), size=size, limit=max_bytes
            )
        )
    if size == 0:
        raise InputError(_("file {name} is empty").format(name=safe_filename(upload.filename)))
    digest = hashlib.sha256(upload.data).hexdigest()
    path = attachment_path(data_dir, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(upload.data)
            os.chmod(tmp, 0o640)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return digest, safe_filename(upload.filename), size


# ------------------------------------------------------------------ notices
def queue_notice(
    session: Session,
    *,
    kind: str,
    recipient: str,
    subject: str,
    body: str,
    now: datetime,
    deadline_id: int | None = None,
) -> None:
    """A one-off message for the daemon to send (the web process never sends mail)."""
    session.execute(
        notices.insert().values(
            kind=kind,
            recipient=recipient,
            subject=subject,
            body=body,
            deadline_id=deadline_id,
            state=PENDING,
            created_at=require_aware(now),
        )
    )


def _admin_addresses(directory: Directory) -> list[str]:
    out: list[str] = []
    for uid in sorted(role_units(directory, ADMIN)):
        for e in directory.units[uid].emails:
            if e.lower() not in out:
                out.append(e.lower())
    return out


def _lead_addresses(directory: Directory, row) -> list[str]:
    out: list[str] = []
    for uid in sorted(lead_units(directory, row)):
        info = directory.units.get(uid)
        for e in info.emails if info else ():
            if e.lower() not in out:
                out.append(e.lower())
    return out


# ------------------------------------------------------------------ report completion
def _evidence_text(doc_number: str, doc_date: date | None, note: str, names: list[str]) -> str:
    parts = [doc_number.strip()]
    if doc_date is not None:
        parts.append(doc_date.isoformat())
    if note.strip():
        parts.append(note.strip())
    if names:
        parts.append(", ".join(names))
    return "; ".join(p for p in parts if p)


def _stop_pending(session: Session, deadline_id: int, now: datetime, why: str) -> None:
    session.execute(
        outbox.update()
        .where(outbox.c.deadline_id == deadline_id, outbox.c.state == PENDING)
        .values(state=SUPERSEDED, last_error=why, updated_at=now)
    )


def report_completion(
    session: Session,
    config: Config,
    deadline_id: int,
    who: Person,
    *,
    doc_number: str,
    doc_date: date | None,
    note: str,
    uploads: list[Upload] = (),  # type: ignore[assignment]
    data_dir: Path,
    now: datetime,
    address: str | None = None,
) -> str:
    """The lead unit reports the deadline done, with the document that did it.

    ``direct`` policy: the deadline is closed as done at once (through
    :func:`~engine.store.ops.close_deadline`, as ``hanchot done`` does). ``confirm``:
    it becomes ``reported`` — no more reminders — and the focal point gets one notice
    to confirm or return it. Returns the deadline's new status.

    Raises :class:`InputError` for missing evidence or a bad attachment, and
    :class:`StoreError` when the deadline is not open or ``who`` is not its lead.
    """
    now = require_aware(now)
    row = deadline_by_id(session, deadline_id)
    _require(can_report(config.directory, who, row), who, _("report completion"))
    if row.status != OPEN:
        raise StoreError(
            _("deadline {rule} {key} is {status}, not open").format(
                rule=row.rule_id, key=row.key, status=row.status
            )
        )
    doc_number = one_line(doc_number, _("the document number"))
    note = text_block(note, _("the note"))
    if not doc_number.strip() and not note.strip() and not uploads:
        raise InputError(_("give the document number, a note or a file as evidence"))
    stored = [store_attachment(data_dir, u, config.settings.web.max_upload_bytes) for u in uploads]
    policy = completion_policy(config, row, who)
    res = session.execute(
        reports.insert().values(
            deadline_id=row.id,
            reported_by=who.email,
            reported_at=now,
            doc_number=doc_number.strip() or None,
            doc_date=doc_date,
            note=note.strip() or None,
            state=R_DIRECT if policy == "direct" else R_PENDING,
        )
    )
    report_id = res.inserted_primary_key[0]
    for digest, name, size in stored:
        session.execute(
            attachments.insert().values(
                report_id=report_id, sha256=digest, filename=name, size=size
            )
        )
    evidence = _evidence_text(doc_number, doc_date, note, [n for _d, n, _s in stored])
    audit_new: dict[str, Any] = {"report": report_id, "from": address, "files": len(stored)}
    if policy == "direct":
        close_deadline(session, row.rule_id, row.key, DONE, evidence, actor=who.email, now=now)
        session.execute(deadlines.update().where(deadlines.c.id == row.id).values(reported_at=now))
        log_change(
            session,
            at=now,
            actor=who.email,
            action="report",
            entity="deadline",
            entity_id=row.id,
            rule_id=row.rule_id,
            key=row.key,
            new=audit_new | {"status": DONE},
            reason=evidence,
        )
        return DONE
    session.execute(
        deadlines.update()
        .where(deadlines.c.id == row.id, deadlines.c.status == OPEN)
        .values(status=REPORTED, reported_at=now, next_send_at=None, updated_at=now)
    )
    _stop_pending(session, row.id, now, "completion reported")
    log_change(
        session,
        at=now,
        actor=who.email,
        action="report",
        entity="deadline",
        entity_id=row.id,
        rule_id=row.rule_id,
        key=row.key,
        old={"status": OPEN},
        new=audit_new | {"status": REPORTED},
        reason=evidence,
    )
    for addr in _admin_addresses(config.directory):
        queue_notice(
            session,
            kind="report",
            recipient=addr,
            subject=f"Báo cáo hoàn thành chờ xác nhận: {row.title}",
            body=(
                f"{who.email} báo cáo đã hoàn thành: {row.title} ({row.rule_id}/{row.key}), "
                f"hạn {format_vi(row.due)}.\nBằng chứng: {evidence}\n"
                "Xin xác nhận hoặc trả lại báo cáo trên cổng."
            ),
            now=now,
            deadline_id=row.id,
        )
    return REPORTED


def pending_report(session: Session, deadline_id: int):
    return session.execute(
        sa.select(reports)
        .where(reports.c.deadline_id == deadline_id, reports.c.state == R_PENDING)
        .order_by(reports.c.id.desc())
    ).first()


def confirm_report(
    session: Session,
    config: Config,
    deadline_id: int,
    who: Person,
    *,
    now: datetime,
    address: str | None = None,
) -> None:
    """The focal point confirms a reported deadline: done, with the report's evidence.

    On time or late stays decided by when the unit reported (``reported_at``).
    """
    now = require_aware(now)
    _require(who.is_admin, who, _("confirm reports"))
    row = deadline_by_id(session, deadline_id)
    rep = pending_report(session, deadline_id)
    if row.status != REPORTED or rep is None:
        raise StoreError(
            _("deadline {rule} {key} has no report waiting for confirmation").format(
                rule=row.rule_id, key=row.key
            )
        )
    names = [
        r.filename
        for r in session.execute(
            sa.select(attachments.c.filename).where(attachments.c.report_id == rep.id)
        )
    ]
    evidence = _evidence_text(rep.doc_number or "", rep.doc_date, rep.note or "", names)
    session.execute(
        deadlines.update()
        .where(deadlines.c.id == row.id, deadlines.c.status == REPORTED)
        .values(
            status=DONE,
            evidence=evidence,
            closed_by=who.email,
            closed_at=now,
            next_send_at=None,
            updated_at=now,
        )
    )
    session.execute(
        reports.update()
        .where(reports.c.id == rep.id)
        .values(state=R_CONFIRMED, decided_by=who.email, decided_at=now)
    )
    log_change(
        session,
        at=now,
        actor=who.email,
        action="confirm",
        entity="deadline",
        entity_id=row.id,
        rule_id=row.rule_id,
        key=row.key,
        old={"status": REPORTED},
        new={"status": DONE, "report": rep.id, "from": address},
        reason=evidence,
    )


def return_report(
    session: Session,
    config: Config,
    deadline_id: int,
    who: Person,
    *,
    reason: str,
    now: datetime,
    address: str | None = None,
) -> None:
    """The focal point returns a report with a reason: the deadline is open again,
    reminders resume, and the lead unit is mailed the reason."""
    now = require_aware(now)
    _require(who.is_admin, who, _("return reports"))
    reason = text_block(reason, _("the reason"))
    if not reason.strip():
        raise InputError(_("a returned report needs a reason"))
    row = deadline_by_id(session, deadline_id)
    rep = pending_report(session, deadline_id)
    if row.status != REPORTED or rep is None:
        raise StoreError(
            _("deadline {rule} {key} has no report waiting for confirmation").format(
                rule=row.rule_id, key=row.key
            )
        )
    session.execute(
        deadlines.update()
        .where(deadlines.c.id == row.id)
        .values(
            status=OPEN,
            reported_at=None,
            next_send_at=_next_send(config, row, row.due),
            updated_at=now,
        )
    )
    session.execute(
        reports.update()
        .where(reports.c.id == rep.id)
        .values(state=R_RETURNED, decided_by=who.email, decided_at=now, decision_reason=reason)
    )
    log_change(
        session,
        at=now,
        actor=who.email,
        action="return",
        entity="deadline",
        entity_id=row.id,
        rule_id=row.rule_id,
        key=row.key,
        old={"status": REPORTED},
        new={"status": OPEN, "report": rep.id, "from": address},
        reason=reason,
    )
    for addr in _lead_addresses(config.directory, row):
        queue_notice(
            session,
            kind="returned",
            recipient=addr,
            subject=f"Báo cáo bị trả lại: {row.title}",
            body=(
                f"Báo cáo hoàn thành «{row.title}» ({row.rule_id}/{row.key}) đã bị trả lại.\n"
                f"Lý do: {reason.strip()}\nHạn: {format_vi(row.due)}."
            ),
            now=now,
            deadline_id=row.id,
        )


def _next_send(config: Config, row, due: date) -> datetime | None:
    rule = next((r for r in config.rules if r.id == row.rule_id), None)
    policy = config.policies.get(rule.escalation) if rule is not None else None
    if policy is None:
        return None
    s = config.settings
    return next_instant_after(
        policy, config.calendar, due, row.materialised_through, s.timezone, s.send_time
    )


# ------------------------------------------------------------------ extensions
def request_extension(
    session: Session,
    config: Config,
    deadline_id: int,
    who: Person,
    *,
    new_due: date,
    reason: str,
    now: datetime,
    address: str | None = None,
) -> int:
    """The lead unit asks for a later due date; returns the request's id.

    Raises :class:`InputError` for an empty reason or a date not after the current due
    date, :class:`StoreError` when the deadline is closed or a request is pending.
    """
    now = require_aware(now)
    row = deadline_by_id(session, deadline_id)
    _require(can_report(config.directory, who, row), who, _("request an extension"))
    if row.status != OPEN:
        raise StoreError(
            _("deadline {rule} {key} is {status}, not open").format(
                rule=row.rule_id, key=row.key, status=row.status
            )
        )
    reason = text_block(reason, _("the reason"))
    if not reason.strip():
        raise InputError(_("an extension request needs a reason"))
    if new_due <= row.due:
        raise InputError(
            _("the new due date {new} must be after the current one, {due}").format(
                new=format_vi(new_due), due=format_vi(row.due)
            )
        )
    if session.execute(
        sa.select(extensions.c.id).where(
            extensions.c.deadline_id == row.id, extensions.c.state == X_PENDING
        )
    ).first():
        raise StoreError(_("an extension request for this deadline is already waiting"))
    res = session.execute(
        extensions.insert().values(
            deadline_id=row.id,
            requested_by=who.email,
            requested_at=now,
            old_due=row.due,
            new_due=new_due,
            reason=reason.strip(),
            state=X_PENDING,
        )
    )
    ext_id = res.inserted_primary_key[0]
    log_change(
        session,
        at=now,
        actor=who.email,
        action="request-extension",
        entity="deadline",
        entity_id=row.id,
        rule_id=row.rule_id,
        key=row.key,
        new={"extension": ext_id, "new_due": new_due, "from": address},
        reason=reason.strip(),
    )
    return ext_id


def keep_extension(session: Session, row, plan_due: date, *, now: datetime, actor: str) -> date:
    """The due date of an existing open (or cancelled) deadline whose rule now gives
    ``plan_due``; called by :func:`engine.store.materialise.materialise` for each one.

    Without an approved extension (``row.original_due`` is None) that is ``plan_due``.
    With one, an approved extension is a decision about this deadline, and a changed
    plan (rule edited, calendar corrected) does not undo it:

    - the due date is the later of the plan's date and the granted date — a plan that
      moves later than the extension moves the deadline with it; one that moves
      earlier does not shorten what was granted;
    - ``original_due`` becomes the plan's current date ("hạn ban đầu" on the deadline
      page and in ``hanchot report``), with an audit row when it moves.

    The granted date is the newest approved request's (``extensions``), so a plan that
    moves past it and back again returns to it.
    """
    if row.original_due is None:
        return plan_due
    granted = session.execute(
        sa.select(extensions.c.new_due)
        .where(extensions.c.deadline_id == row.id, extensions.c.state == X_APPROVED)
        .order_by(extensions.c.decided_at.desc(), extensions.c.id.desc())
        .limit(1)
    ).scalar()
    if granted is None:  # extended before requests were kept: the stored due date
        granted = row.due if row.due > row.original_due else plan_due
    if row.original_due != plan_due:
        session.execute(
            deadlines.update().where(deadlines.c.id == row.id).values(original_due=plan_due)
        )
        log_change(
            session,
            at=require_aware(now),
            actor=actor,
            action="recompute",
            entity="deadline",
            entity_id=row.id,
            rule_id=row.rule_id,
            key=row.key,
            old={"original_due": row.original_due},
            new={"original_due": plan_due},
            reason="the plan's date changed; the approved extension is kept",
        )
    return max(plan_due, granted)


def pending_extension(session: Session, deadline_id: int):
    return session.execute(
        sa.select(extensions).where(
            extensions.c.deadline_id == deadline_id, extensions.c.state == X_PENDING
        )
    ).first()


def decide_extension(
    session: Session,
    config: Config,
    deadline_id: int,
    who: Person,
    *,
    approve: bool,
    reason: str = "",
    now: datetime,
    address: str | None = None,
) -> None:
    """Approve or refuse the pending extension request of a deadline.

    Approved: ``due`` becomes the requested date, the first due date is kept in
    ``original_due``, pending reminders of the old date are withdrawn and the whole
    ladder is recomputed from the new date. Refusing needs a reason.
    """
    now = require_aware(now)
    _require(can_decide_extension(config, who), who, _("decide extensions"))
    row = deadline_by_id(session, deadline_id)
    ext = pending_extension(session, deadline_id)
    if ext is None:
        raise StoreError(_("no extension request is waiting for this deadline"))
    reason = text_block(reason, _("the reason"))
    if not approve and not reason.strip():
        raise InputError(_("a refused extension needs a reason"))
    state = X_APPROVED if approve else X_REFUSED
    session.execute(
        extensions.update()
        .where(extensions.c.id == ext.id)
        .values(state=state, decided_by=who.email, decided_at=now, decision_reason=reason.strip())
    )
    if approve and row.status == OPEN:
        session.execute(
            deadlines.update()
            .where(deadlines.c.id == row.id)
            .values(
                due=ext.new_due,
                original_due=row.original_due or row.due,
                next_send_at=_next_send(config, row, ext.new_due),
                updated_at=now,
            )
        )
        _stop_pending(session, row.id, now, "due date extended")
    log_change(
        session,
        at=now,
        actor=who.email,
        action="approve-extension" if approve else "refuse-extension",
        entity="deadline",
        entity_id=row.id,
        rule_id=row.rule_id,
        key=row.key,
        old={"due": row.due},
        new={"due": ext.new_due if approve else row.due, "extension": ext.id, "from": address},
        reason=reason.strip() or ext.reason,
    )


# ------------------------------------------------------------------ acknowledge
def acknowledge(
    session: Session,
    config: Config,
    deadline_id: int,
    who: Person,
    *,
    now: datetime,
    address: str | None = None,
) -> bool:
    """ "Đã tiếp nhận": stops the reminders up to the due date to ``who`` only; the
    escalations after the due date still go. Returns False when already acknowledged."""
    now = require_aware(now)
    row = deadline_by_id(session, deadline_id)
    _require(can_view(config.directory, who, row), who, _("acknowledge"))
    if session.execute(
        sa.select(acknowledgements.c.id).where(
            acknowledgements.c.deadline_id == row.id, acknowledgements.c.recipient == who.email
        )
    ).first():
        return False
    session.execute(
        acknowledgements.insert().values(deadline_id=row.id, recipient=who.email, at=now)
    )
    # Withdraw this recipient's queued reminders that are not yet late.
    session.execute(
        outbox.update()
        .where(
            outbox.c.deadline_id == row.id,
            outbox.c.state == PENDING,
            sa.func.lower(outbox.c.recipient) == who.email,
            outbox.c.send_at <= _due_end(config, row.due),
        )
        .values(state=SUPERSEDED, last_error="acknowledged", updated_at=now)
    )
    log_change(
        session,
        at=now,
        actor=who.email,
        action="acknowledge",
        entity="deadline",
        entity_id=row.id,
        rule_id=row.rule_id,
        key=row.key,
        new={"recipient": who.email, "from": address},
    )
    return True


def _due_end(config: Config, due: date) -> datetime:
    from engine.core.escalation import send_instant

    s = config.settings
    return send_instant(due, s.send_time, s.timezone)


def acknowledged_by(session: Session, deadline_id: int) -> set[str]:
    return {
        r.recipient
        for r in session.execute(
            sa.select(acknowledgements.c.recipient).where(
                acknowledgements.c.deadline_id == deadline_id
            )
        )
    }


# ------------------------------------------------------------------ waive
def waive(
    session: Session,
    config: Config,
    deadline_id: int,
    who: Person,
    *,
    reason: str,
    now: datetime,
    address: str | None = None,
) -> None:
    """The focal point waives a deadline, as ``hanchot waive`` does (same function)."""
    _require(who.is_admin, who, _("waive deadlines"))
    row = deadline_by_id(session, deadline_id)
    if row.status == REPORTED:
        raise StoreError(_("confirm or return the report first"))
    close_deadline(session, row.rule_id, row.key, WAIVED, reason, actor=who.email, now=now)


__all__ = [
    "Person",
    "Upload",
    "acknowledge",
    "confirm_report",
    "decide_extension",
    "keep_extension",
    "person",
    "report_completion",
    "request_extension",
    "return_report",
    "safe_filename",
    "store_attachment",
    "waive",
]
