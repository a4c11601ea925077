"""The portal as an ASGI application (Starlette, Jinja2, no JavaScript framework).

``create_app(config, sessions, signer=..., clock=...)`` builds it; ``hanchot web``
serves it with uvicorn. Pages are server-rendered in Vietnamese. A mailed link
(``/a/TOKEN``) opens the action it names for its deadline and signs its recipient in
(a signed, HttpOnly, SameSite=Lax cookie; Secure when the base URL is https); other
pages need a session, obtained by a one-time link mailed by the daemon (``/dang-nhap``).
Every form carries a CSRF field bound to the session or to the link's token. Every
change is made by a function of :mod:`engine.store.portal_ops` or
:mod:`engine.store.ops`, the ones the CLI uses; the web process never sends mail.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from engine.core.calendar import format_vi
from engine.core.config import Config
from engine.core.spans import parse_date
from engine.errors import HanchotError, InputError
from engine.i18n import _
from engine.store import portal_ops as po
from engine.store.db import SessionFactory
from engine.store.portal_tables import attachments, reports, signins
from engine.store.tables import CLOSED_BY_USER, REPORTED
from engine.web import views
from engine.web.tokens import ACK, EXTEND, LIST, REPORT, Signer, TokenError

log = logging.getLogger("hanchot.web")
TEMPLATES = Path(__file__).with_name("templates")
COOKIE = "hanchot_session"
SESSION_AGE = timedelta(hours=12)
SIGNIN_AGE = timedelta(minutes=30)
#: Sign-in requests allowed per address and per client address in SIGNIN_WINDOW.
SIGNIN_PER_EMAIL, SIGNIN_PER_CLIENT, SIGNIN_WINDOW = 3, 10, timedelta(minutes=15)

STATUS_VI = {
    "open": "Đang thực hiện",
    "reported": "Đã báo cáo, chờ xác nhận",
    "done": "Đã hoàn thành",
    "waived": "Không phải thực hiện",
    "cancelled": "Đã hủy",
}
ACTION_VI = {
    "create": "Tạo hạn từ kế hoạch",
    "recompute": "Tính lại hạn",
    "report": "Báo cáo hoàn thành",
    "confirm": "Xác nhận hoàn thành",
    "return": "Trả lại báo cáo",
    "done": "Đóng: đã hoàn thành",
    "waive": "Đóng: không phải thực hiện",
    "waived": "Đóng: không phải thực hiện",
    "request-extension": "Đề nghị gia hạn",
    "approve-extension": "Đồng ý gia hạn",
    "refuse-extension": "Không đồng ý gia hạn",
    "acknowledge": "Đã tiếp nhận",
    "cancel": "Hủy",
    "reopen": "Mở lại",
}


def _date_vi(d: date | None) -> str:
    return format_vi(d) if d else ""


def _datetime_vi(config: Config, at: datetime | None) -> str:
    if at is None:
        return ""
    from zoneinfo import ZoneInfo

    loc = at.astimezone(ZoneInfo(config.settings.timezone))
    return f"{loc:%H:%M} {loc.day:02d}/{loc.month:02d}/{loc.year}"


def create_app(
    config: Config,
    sessions: SessionFactory,
    *,
    signer: Signer,
    clock: Callable[[], datetime],
    data_dir: Path,
) -> Starlette:
    """The portal on ``config``'s store. ``clock`` gives the aware current instant
    (tests pass a fixed one); ``data_dir`` holds the attachments."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True
    )
    env.filters["vi"] = _date_vi
    env.filters["at_vi"] = lambda at: _datetime_vi(config, at)
    env.globals.update(STATUS_VI=STATUS_VI, ACTION_VI=ACTION_VI, unit_name=_unit_name(config))
    base = config.settings.web.base_url or ""
    secure = base.startswith("https://")

    # ------------------------------------------------------------------ helpers
    def render(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
        ctx.setdefault("me", getattr(request.state, "me", None))
        html = env.get_template(name).render(request=request, **ctx)
        resp = HTMLResponse(html, status_code=status)
        resp.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    def message(request: Request, title: str, text: str, status: int = 200) -> HTMLResponse:
        return render(request, "message.html", status=status, title=title, text=text)

    proxies = trusted_networks(config.settings.web.trusted_proxies)

    def client(request: Request) -> str | None:
        peer = request.client.host if request.client else None
        return client_address(peer, request.headers.getlist("x-forwarded-for"), proxies)

    def set_session(resp: Response, email: str, now: datetime) -> None:
        resp.set_cookie(
            COOKIE,
            signer.session_cookie(email, now),
            max_age=int(SESSION_AGE.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/",
        )

    def current(request: Request) -> tuple[po.Person, str] | None:
        """(person, session id) of the request's session cookie, if valid."""
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            email, sid = signer.verify_session(cookie, clock(), SESSION_AGE)
        except TokenError:
            return None
        who = po.person(config.directory, email)
        return (who, sid) if who is not None else None

    def need_session(request: Request) -> tuple[po.Person, str]:
        got = current(request)
        if got is None:
            raise _Redirect("/dang-nhap")
        request.state.me = got[0]
        return got

    # ------------------------------------------------------------------ pages
    async def home(request: Request) -> Response:
        return RedirectResponse("/viec" if current(request) else "/dang-nhap", status_code=303)

    async def my_list(request: Request) -> Response:
        who, _sid = need_session(request)
        now = clock()
        with sessions() as s:
            lst = views.my_list(s, config, who, now)
        return render(request, "list.html", lst=lst, today=views.today_of(config, now))

    def deadline_context(s, row, who: po.Person) -> dict:
        rule = next((r for r in config.rules if r.id == row.rule_id), None)
        return {
            "d": row,
            "rule": rule,
            "steps": _explain(config, s, rule, row),
            "history": views.history(s, row.id),
            "reports": views.reports_of(s, row.id),
            "extensions": views.extensions_of(s, row.id),
            "acks": views.acks_of(s, row.id),
            "pending_ext": po.pending_extension(s, row.id),
            "can_report": row.status == "open" and po.can_report(config.directory, who, row),
            "completion": po.completion_policy(config, row, who),
            "can_decide": po.can_decide_extension(config, who),
            "is_admin": who.is_admin,
            "acked": who.email in po.acknowledged_by(s, row.id),
        }

    async def deadline_page(request: Request) -> Response:
        who, sid = need_session(request)
        with sessions() as s:
            row = _row_or_404(s, request.path_params["id"])
            if row is None or not po.can_view(config.directory, who, row):
                return message(request, "Không tìm thấy", "Không có hạn này.", 404)
            ctx = deadline_context(s, row, who)
        return render(
            request, "deadline.html", csrf=signer.csrf(sid), form_base=f"/han/{row.id}", **ctx
        )

    def too_big(request: Request) -> bool:
        """A request body larger than ten files at the limit is refused unread."""
        size = request.headers.get("content-length", "")
        limit = 10 * config.settings.web.max_upload_bytes + 1024 * 1024
        return size.isdigit() and int(size) > limit

    async def deadline_action(request: Request) -> Response:
        who, sid = need_session(request)
        if too_big(request):
            return message(request, "Tệp quá lớn", "Tệp đính kèm vượt giới hạn.", 413)
        form = await request.form(
            max_files=10, max_part_size=config.settings.web.max_upload_bytes + 1
        )
        if not signer.check_csrf(sid, form.get("csrf")):
            return message(request, "Biểu mẫu hết hiệu lực", "Hãy tải lại trang rồi thử lại.", 403)
        action = request.path_params["action"]
        did = request.path_params["id"]
        return await perform(request, who, did, action, form, f"/han/{did}")

    async def perform(request, who, did: int, action: str, form, back: str) -> Response:
        now = clock()
        addr = client(request)
        try:
            uploads = []
            for f in form.getlist("files"):
                if isinstance(f, UploadFile) and f.filename:
                    uploads.append(po.Upload(f.filename, await f.read()))
            with sessions() as s, s.begin():
                if action == REPORT:
                    status = po.report_completion(
                        s,
                        config,
                        did,
                        who,
                        doc_number=str(form.get("doc_number", "")),
                        doc_date=_opt_date(form.get("doc_date")),
                        note=str(form.get("note", "")),
                        uploads=uploads,
                        data_dir=data_dir,
                        now=now,
                        address=addr,
                    )
                    done = (
                        "Đã ghi nhận: hạn đã được đóng là hoàn thành."
                        if status == "done"
                        else "Đã gửi báo cáo; đầu mối sẽ xác nhận. Hệ thống ngừng nhắc hạn này."
                    )
                elif action == EXTEND:
                    new_due = _opt_date(form.get("new_due"))
                    if new_due is None:
                        raise InputError(_("give the new due date"))
                    po.request_extension(
                        s,
                        config,
                        did,
                        who,
                        new_due=new_due,
                        reason=str(form.get("reason", "")),
                        now=now,
                        address=addr,
                    )
                    done = "Đã gửi đề nghị gia hạn; hạn chỉ thay đổi khi được đồng ý."
                elif action == ACK:
                    po.acknowledge(s, config, did, who, now=now, address=addr)
                    done = "Đã ghi nhận: đơn vị đã tiếp nhận. Không nhắc trước hạn nữa."
                elif action == "confirm":
                    po.confirm_report(s, config, did, who, now=now, address=addr)
                    done = "Đã xác nhận hoàn thành."
                elif action == "return":
                    po.return_report(
                        s,
                        config,
                        did,
                        who,
                        reason=str(form.get("reason", "")),
                        now=now,
                        address=addr,
                    )
                    done = "Đã trả lại báo cáo; đơn vị sẽ nhận thư nêu lý do."
                elif action in ("approve", "refuse"):
                    po.decide_extension(
                        s,
                        config,
                        did,
                        who,
                        approve=action == "approve",
                        reason=str(form.get("reason", "")),
                        now=now,
                        address=addr,
                    )
                    done = "Đã đồng ý gia hạn." if action == "approve" else "Đã từ chối gia hạn."
                elif action == "waive":
                    po.waive(
                        s,
                        config,
                        did,
                        who,
                        reason=str(form.get("reason", "")),
                        now=now,
                        address=addr,
                    )
                    done = "Đã đóng hạn: không phải thực hiện."
                else:
                    return message(request, "Không tìm thấy", "Không có thao tác này.", 404)
        except HanchotError as e:
            return render(
                request,
                "message.html",
                status=400,
                title="Chưa thực hiện được",
                text=e.message,
                back=back,
            )
        log.info("%s %s deadline %s from %s", who.email, action, did, addr)
        return render(request, "message.html", title="Đã thực hiện", text=done, back=back)

    # ------------------------------------------------------------------ mailed links
    def claim_of(request: Request, action: str):
        token = request.path_params["token"]
        try:
            claim = signer.verify_action(token, action=action, now=clock())
        except TokenError as e:
            raise _Refused(e.message) from None
        who = po.person(config.directory, claim.recipient)
        if who is None:
            raise _Refused(_("this address is no longer in units.yaml"))
        return token, claim, who

    def action_of(token: str) -> str:
        return signer.action_of(token) or REPORT  # a bad token is refused just below

    async def link_get(request: Request) -> Response:
        token = request.path_params["token"]
        action = action_of(token)
        token, claim, who = claim_of(request, action)
        request.state.me = who
        now = clock()
        if action == LIST:
            resp = RedirectResponse("/viec", status_code=303)
            set_session(resp, who.email, now)
            return resp
        with sessions() as s:
            row = _row_or_404(s, claim.deadline_id)
            if row is None or not po.can_view(config.directory, who, row):
                raise _Refused(_("this link is not for you"))
            if row.status in CLOSED_BY_USER or row.status == "cancelled":
                raise _Refused(
                    _("this deadline is closed ({status}); the link no longer works").format(
                        status=STATUS_VI.get(row.status, row.status)
                    )
                )
            ctx = deadline_context(s, row, who)
        resp = render(
            request,
            "deadline.html",
            csrf=signer.csrf(token),
            form_base=f"/a/{token}",
            only=action,
            **ctx,
        )
        set_session(resp, who.email, now)
        return resp

    async def link_post(request: Request) -> Response:
        token = request.path_params["token"]
        action = action_of(token)
        token, claim, who = claim_of(request, action)
        request.state.me = who
        if too_big(request):
            return message(request, "Tệp quá lớn", "Tệp đính kèm vượt giới hạn.", 413)
        form = await request.form(
            max_files=10, max_part_size=config.settings.web.max_upload_bytes + 1
        )
        if not signer.check_csrf(token, form.get("csrf")):
            return message(request, "Biểu mẫu hết hiệu lực", "Hãy mở lại đường dẫn trong thư.", 403)
        with sessions() as s:
            row = _row_or_404(s, claim.deadline_id)
            if row is None or row.status != "open" and action != ACK:
                raise _Refused(_("this deadline is closed; the link no longer works"))
        return await perform(request, who, claim.deadline_id, action, form, f"/a/{token}")

    # ------------------------------------------------------------------ attachments
    async def attachment(request: Request) -> Response:
        who, _sid = need_session(request)
        with sessions() as s:
            att = s.execute(
                sa.select(attachments, reports.c.deadline_id)
                .join(reports, reports.c.id == attachments.c.report_id)
                .where(attachments.c.id == request.path_params["id"])
            ).first()
            row = _row_or_404(s, att.deadline_id) if att else None
            if row is None or not po.can_view(config.directory, who, row):
                return message(request, "Không tìm thấy", "Không có tệp này.", 404)
        path = po.attachment_path(data_dir, att.sha256)
        # Never inline, never sniffed: an uploaded .html cannot run on our origin.
        quoted = _quote(att.filename)
        return Response(
            path.read_bytes(),
            media_type="application/octet-stream",
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )

    # ------------------------------------------------------------------ sign-in
    async def signin_form(request: Request) -> Response:
        pre = secrets.token_urlsafe(16)
        resp = render(request, "signin.html", csrf=signer.csrf("pre:" + pre))
        resp.set_cookie("hanchot_pre", pre, httponly=True, samesite="lax", secure=secure)
        return resp

    async def signin_post(request: Request) -> Response:
        form = await request.form()
        pre = request.cookies.get("hanchot_pre", "")
        if not pre or not signer.check_csrf("pre:" + pre, form.get("csrf")):
            return message(request, "Biểu mẫu hết hiệu lực", "Hãy tải lại trang rồi thử lại.", 403)
        email = str(form.get("email", "")).strip().lower()
        now = clock()
        addr = client(request)
        sent = "Nếu địa chỉ có trong danh sách đơn vị, thư đăng nhập sẽ đến trong ít phút."
        if len(email) > 320 or not re.fullmatch(r"[^\s@]+@[^\s@]+", email):
            return message(request, "Địa chỉ không hợp lệ", "Hãy nhập một địa chỉ thư.", 400)
        with sessions() as s, s.begin():
            since = now - SIGNIN_WINDOW
            by_email = s.execute(
                sa.select(sa.func.count()).where(
                    signins.c.email == email, signins.c.requested_at > since
                )
            ).scalar()
            by_client = s.execute(
                sa.select(sa.func.count()).where(
                    signins.c.from_addr == addr, signins.c.requested_at > since
                )
            ).scalar()
            if by_email >= SIGNIN_PER_EMAIL or by_client >= SIGNIN_PER_CLIENT:
                return message(request, "Quá nhiều yêu cầu", "Hãy thử lại sau 15 phút.", 429)
            nonce = secrets.token_urlsafe(24)
            s.execute(
                signins.insert().values(email=email, nonce=nonce, requested_at=now, from_addr=addr)
            )
            if po.person(config.directory, email) is not None:
                # Without web.base_url (a first try on one machine): the address used.
                origin = base or str(request.base_url).rstrip("/")
                link = f"{origin}/dang-nhap/{signer.signin_token(email, nonce)}"
                po.queue_notice(
                    s,
                    kind="signin",
                    recipient=email,
                    subject="Đường dẫn đăng nhập cổng nhắc hạn",
                    body=(
                        "Mở đường dẫn sau để đăng nhập (dùng một lần, trong 30 phút):\n"
                        f"{link}\n\nNếu bạn không yêu cầu, hãy bỏ qua thư này."
                    ),
                    now=now,
                )
        return message(request, "Đã nhận yêu cầu", sent)

    async def signin_link(request: Request) -> Response:
        now = clock()
        try:
            email, nonce = signer.verify_signin(request.path_params["token"])
        except TokenError as e:
            return message(request, "Đường dẫn không hợp lệ", e.message, 403)
        with sessions() as s, s.begin():
            row = s.execute(sa.select(signins).where(signins.c.nonce == nonce)).first()
            if row is None or row.used_at is not None or row.email != email:
                return message(request, "Đường dẫn không hợp lệ", "Đường dẫn đã được dùng.", 403)
            if now - row.requested_at > SIGNIN_AGE:
                return message(request, "Đường dẫn hết hạn", "Hãy yêu cầu đường dẫn mới.", 403)
            s.execute(signins.update().where(signins.c.id == row.id).values(used_at=now))
        if po.person(config.directory, email) is None:
            return message(
                request, "Đường dẫn không hợp lệ", "Địa chỉ không còn trong danh sách.", 403
            )
        resp = RedirectResponse("/viec", status_code=303)
        set_session(resp, email, now)
        return resp

    async def signout(request: Request) -> Response:
        resp = RedirectResponse("/dang-nhap", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    # ------------------------------------------------------------------ events (admin)
    def events_page(request: Request, who, sid, status: int = 200, **extra) -> Response:
        from engine.store.ops import list_events

        with sessions() as s:
            recent = list_events(s)[-30:][::-1]
        return render(
            request, "events.html", status=status, csrf=signer.csrf(sid), events=recent, **extra
        )

    async def events_get(request: Request) -> Response:
        who, sid = need_session(request)
        if not who.is_admin:
            return message(request, "Không có quyền", "Trang này dành cho đầu mối.", 403)
        return events_page(request, who, sid)

    async def events_post(request: Request) -> Response:
        from engine.store.materialise import materialise
        from engine.store.ops import record_event

        who, sid = need_session(request)
        if not who.is_admin:
            return message(request, "Không có quyền", "Trang này dành cho đầu mối.", 403)
        form = await request.form()
        if not signer.check_csrf(sid, form.get("csrf")):
            return message(request, "Biểu mẫu hết hiệu lực", "Hãy tải lại trang rồi thử lại.", 403)
        now = clock()
        try:
            when = _opt_date(form.get("date"))
            if when is None:
                raise InputError(_("give the event's date"))
            attrs: dict[str, str] = {}
            for n, line in enumerate(str(form.get("attrs", "")).splitlines(), 1):
                if not line.strip():
                    continue
                k, sep, v = line.partition("=")
                if not sep or not k.strip():
                    raise InputError(_("attribute line {n} is not key=value").format(n=n))
                attrs[k.strip()] = v.strip()
            with sessions() as s, s.begin():
                added = record_event(
                    s,
                    str(form.get("type", "")).strip(),
                    str(form.get("id", "")).strip(),
                    when,
                    attrs,
                    actor=who.email,
                    now=now,
                )
                report = materialise(s, config, now, actor=who.email)
        except HanchotError as e:
            return events_page(request, who, sid, status=400, error=e.message)
        done = f"Đã ghi sự kiện; {report.created} hạn mới." if added else "Sự kiện này đã có."
        return events_page(request, who, sid, ok=done)

    # ------------------------------------------------------------------ errors
    async def on_redirect(request: Request, exc: _Redirect) -> Response:
        return RedirectResponse(exc.to, status_code=303)

    async def on_refused(request: Request, exc: _Refused) -> Response:
        return message(request, "Đường dẫn không dùng được", exc.message, 403)

    routes = [
        Route("/", home),
        Route("/viec", my_list),
        Route("/han/{id:int}", deadline_page),
        Route("/han/{id:int}/{action}", deadline_action, methods=["POST"]),
        Route("/a/{token}", link_get),
        Route("/a/{token}", link_post, methods=["POST"]),
        Route("/tep/{id:int}", attachment),
        Route("/dang-nhap", signin_form),
        Route("/dang-nhap", signin_post, methods=["POST"]),
        Route("/dang-nhap/{token}", signin_link),
        Route("/dang-xuat", signout, methods=["POST"]),
        Route("/su-kien", events_get),
        Route("/su-kien", events_post, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={_Redirect: on_redirect, _Refused: on_refused},
    )
    app.state.extra_routes = routes  # the overview module appends its pages
    app.state.render = render
    app.state.need_session = need_session
    return app


def trusted_networks(entries) -> tuple:
    """``web.trusted_proxies`` as :mod:`ipaddress` networks (checked by the loader)."""
    import ipaddress

    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def client_address(peer: str | None, forwarded: list[str], trusted: tuple) -> str | None:
    """The address of the client behind the reverse proxies in ``trusted``.

    ``X-Forwarded-For`` is believed only when the connection comes from a trusted
    proxy, and then read from the right (each proxy appends the address it saw): the
    first hop that is not a trusted proxy is the client — what a client wrote in the
    header itself stands to the left of it and is never used. A hop that is not an
    IP address stops the walk at the last trusted one. Without trusted proxies (the
    default) the connection's own address, whatever the headers say.
    """
    import ipaddress

    def ip(text: str):
        try:
            return ipaddress.ip_address(text.strip().strip("[]"))
        except ValueError:
            return None

    def is_trusted(addr) -> bool:
        return any(addr.version == n.version and addr in n for n in trusted)

    here = ip(peer) if peer else None
    if here is None or not trusted or not is_trusted(here):
        return peer
    hops = [h.strip() for line in forwarded for h in line.split(",") if h.strip()]
    for hop in reversed(hops):
        addr = ip(hop)
        if addr is None:
            break
        here = addr
        if not is_trusted(addr):
            return str(addr)
    return str(here)


class _Redirect(Exception):
    def __init__(self, to: str) -> None:
        self.to = to


class _Refused(HanchotError):
    pass


def _row_or_404(s, deadline_id):
    if deadline_id is None:
        return None
    return po.deadline_by_id(s, deadline_id) if _exists(s, deadline_id) else None


def _exists(s, deadline_id) -> bool:
    from engine.store.tables import deadlines

    return (
        s.execute(sa.select(deadlines.c.id).where(deadlines.c.id == deadline_id)).first()
        is not None
    )


def _opt_date(value) -> date | None:
    text = str(value or "").strip()
    return parse_date(text) if text else None


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _unit_name(config: Config) -> Callable[[str], str]:
    def name(ref: str) -> str:
        try:
            return config.directory.name_of(ref)
        except KeyError:
            return ref

    return name


def _explain(config: Config, s, rule, row) -> list:
    """The ``due --explain`` steps of this deadline's rule date (before any extension)."""
    if rule is None:
        return []
    from engine.core.rules import plan
    from engine.store.materialise import stored_events

    target = row.original_due or row.due
    try:
        occs = plan(
            [rule],
            config.calendar,
            target - timedelta(days=15),
            target + timedelta(days=15),
            stored_events(s),
        )
    except HanchotError:
        return []
    for occ in occs:
        if occ.key == row.key:
            return occ.explain(config.calendar)
    return []


__all__ = ["REPORTED", "create_app"]
