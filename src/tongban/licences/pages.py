"""Licence pages: the licence (holder or staff in scope), its PDF, and the public
verification page (核验), plus revocation and annulment forms for the issuing
department. Thin: reads through ``access``, changes through ``service``."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import or_, select

from tongban.catalogue import pdf
from tongban.catalogue.guide_pages import public_base
from tongban.core.clock import local, now
from tongban.core.errors import AppError, NotFound, ValidationFailed
from tongban.identity.access import Actor
from tongban.identity.api import client_ip
from tongban.identity.models import Enterprise, Person
from tongban.licences import access, config, service
from tongban.licences import pdf as licence_pdf_module
from tongban.licences.models import VERIFY_CHANNELS, VERIFY_RESULTS, Licence, LicenceType, Seal
from tongban.licences.schemas import history_dict, licence_dict
from tongban.web.deps import DB, CurrentActor, OptionalActor, VerifiedForm
from tongban.web.pages import page, settle
from tongban.web.render import environment, preferences, to_traditional

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
CSS = ["/static/css/licences.css"]


def _today() -> dt.date:
    return local(now(), config.settings().timezone).date()


def chinese_date(value: str | dt.date | None) -> str:
    if not value:
        return "长期"
    d = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return f"{d.year}年{d.month:02d}月{d.day:02d}日"


def verify_url(base: str, lic: Licence) -> str:
    return f"{base}/verify?p={lic.qr_payload}"


def _fields(lt: LicenceType | None, data: dict[str, Any]) -> list[tuple[str, str]]:
    """照面信息 in the type's display order, labelled by the schema's titles."""
    props = ((lt.field_schema if lt else None) or {}).get("properties") or {}
    order = list(((lt.template if lt else None) or {}).get("fields") or props.keys())
    order += [k for k in data if k not in order]
    out = []
    for name in order:
        if name in data and data[name] not in (None, ""):
            label = (props.get(name) or {}).get("title") or name
            value = data[name]
            out.append(
                (str(label), "是" if value is True else "否" if value is False else str(value))
            )
    return out


async def _seal_image(session: Any, lic: Licence) -> str:
    """The seal picture as a data: URI (SVG or PNG), for the page and the PDF."""
    seal = await session.get(Seal, lic.seal_id)
    if seal is None:
        return ""
    pic = ((seal.document or {}).get("sealInfo") or {}).get("picture") or {}
    if not pic.get("data"):
        return ""
    from tongban.licences.crypto import b64u_decode

    mime = "image/svg+xml" if pic.get("type") == "svg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(b64u_decode(pic['data'])).decode()}"


async def _context(request: Request, session: Any, actor: Actor, lic: Licence) -> dict[str, Any]:
    lt = await session.get(LicenceType, lic.licence_type_id)
    full = access.sees_full_identifiers(actor)
    view = licence_dict(lic, full=full, today=_today())
    base = public_base(request)
    url = verify_url(base, lic)
    return {
        "lic": lic,
        "v": view,
        "fields": _fields(lt, lic.data),
        "color": ((lt.template if lt else None) or {}).get("color") or "#8a1c1c",
        "seal_src": await _seal_image(session, lic),
        "qr_svg": pdf.qr_svg(url, scale=2),
        "verify_link": url,
        "chinese_date": chinese_date,
        "css": CSS,
    }


@router.get("/licences/{licence_id}.pdf")
async def licence_pdf(
    request: Request, session: DB, actor: CurrentActor, licence_id: Id
) -> Response:
    """The printable licence: WeasyPrint, CJK font, the seal picture, the QR code."""
    lic = await access.access_licence(session, actor, licence_id)
    ctx = await _context(request, session, actor, lic)
    ctx |= {"font_stack": pdf.FONT_STACK, "prefs": preferences(request)}
    html = environment().get_template("licences/licence_pdf.html").render(ctx)
    if ctx["prefs"]["script"] == "hant":
        html = to_traditional(html)
    data = await licence_pdf_module.cached_pdf(html, data_dir=request.app.state.settings.data_dir)
    name = quote(f"{lic.name}-{lic.number}.pdf")
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"inline; filename=\"licence-{lic.id}.pdf\"; filename*=UTF-8''{name}",
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/licences/{licence_id}", response_class=HTMLResponse)
async def licence_page(
    request: Request, session: DB, actor: CurrentActor, licence_id: Id
) -> HTMLResponse:
    """The licence as its holder or the issuing staff see it, with its history and verifications."""
    lic = await access.access_licence(session, actor, licence_id)
    ctx = await _context(request, session, actor, lic)
    lt = await session.get(LicenceType, lic.licence_type_id)
    ctx |= {
        "history": [history_dict(h) for h in await service.get_history(session, lic.id)],
        "verifications": [
            {
                "at": r.at,
                "channel": VERIFY_CHANNELS.get(r.channel, r.channel),
                "result": VERIFY_RESULTS.get(r.result, r.result),
            }
            for r in await service.get_verifications(session, lic.id, limit=20)
        ],
        "can_manage": lt is not None
        and access.can_issue(actor, lt, lic.issuer_department_id)
        and lic.status == "valid",
        "message": {"revoked": "证照已吊销。", "annulled": "证照已注销。"}.get(
            request.query_params.get("done", ""), ""
        ),
        "nav": "me" if actor.kind == "person" else "",
    }
    layout = "layouts/portal.html" if actor.kind == "person" else "layouts/workbench.html"
    return page(request, "licences/licence.html", ctx | {"layout": layout})


@router.post("/licences/{licence_id}/status", response_class=HTMLResponse)
async def licence_status(
    request: Request, session: DB, actor: CurrentActor, form: VerifiedForm, licence_id: Id
) -> Response:
    """吊销 or 注销 from the licence page (issuing department)."""
    action = form.get("action", "")
    try:
        if action == "revoke":
            await service.revoke(session, actor, licence_id, reason=form.get("reason", ""))
        elif action == "annul":
            await service.annul(session, actor, licence_id, reason=form.get("reason", ""))
        else:
            raise ValidationFailed("请选择吊销或注销", code="action_required")
    except AppError as e:
        await settle(session, e)
        if e.status == 404:
            raise
        lic = await access.access_licence(session, actor, licence_id)
        ctx = await _context(request, session, actor, lic)
        ctx |= {
            "history": [],
            "verifications": [],
            "can_manage": True,
            "error": e.message,
            "layout": "layouts/workbench.html",
            "reason": form.get("reason", ""),
        }
        return page(request, "licences/licence.html", ctx, status=e.status)
    return RedirectResponse(
        f"/licences/{licence_id}?done={'revoked' if action == 'revoke' else 'annulled'}",
        status_code=303,
    )


# --- 核验 (public) ------------------------------------------------------------------------------


RESULT_STYLE = {
    "valid": ("ok", "✓", "有效"),
    "expired": ("warn", "!", "已过期"),
    "revoked": ("error", "✕", "已吊销"),
    "annulled": ("error", "✕", "已注销"),
    "superseded": ("warn", "!", "非最新版本"),
    "not_found": ("error", "?", "未找到"),
    "invalid": ("error", "✕", "验证失败"),
}


@router.get("/verify", response_class=HTMLResponse)
async def verify_page(
    request: Request,
    session: DB,
    actor: OptionalActor,
    p: Annotated[str, Query(max_length=2000)] = "",
    q: Annotated[str, Query(max_length=2000)] = "",
) -> HTMLResponse:
    """证照核验: open from the QR code (``?p=``) or paste the payload or the identifier (``?q=``)."""
    text = (p or q).strip()
    ctx: dict[str, Any] = {"q": q.strip(), "css": CSS, "nav": "verify", "result": None, "error": ""}
    if text:
        requester = actor.ref if actor is not None else "anonymous"
        try:
            v = await service.verify(
                session,
                text=text,
                channel="page",
                requester=requester,
                ip=client_ip(request),
                maker=request.app.state.sessionmaker,
            )
        except ValidationFailed as e:
            ctx["error"] = e.message
        else:
            style, mark, word = RESULT_STYLE[v.result]
            ctx["result"] = {**v.to_dict(), "style": style, "mark": mark, "word": word}
    ctx["chinese_date"] = chinese_date
    status = 200
    return page(request, "licences/verify.html", ctx, status=status)


# --- 工作台: the department's licences and manual issuance ----------------------------------------


def _require_staff(actor: Actor) -> None:
    if actor.kind != "staff":
        raise AppError("该页面仅供工作人员使用", code="permission_denied", status=403)


async def _issuable_types(session: Any, actor: Actor) -> list[LicenceType]:
    rows = (
        await session.execute(
            select(LicenceType).where(LicenceType.status == "active").order_by(LicenceType.name)
        )
    ).scalars()
    return [
        t
        for t in rows
        if actor.department_id is not None and access.can_issue(actor, t, actor.department_id)
    ]


@router.get("/workbench/licences", response_class=HTMLResponse)
async def workbench_licences(
    request: Request, session: DB, actor: CurrentActor, q: Annotated[str, Query(max_length=64)] = ""
) -> HTMLResponse:
    """电子证照 (工作台): the licences in the actor's scope, newest first, and what they may issue."""
    _require_staff(actor)
    stmt = access.scope_licences(actor, select(Licence)).order_by(Licence.id.desc()).limit(50)
    q = q.strip()
    if q:
        stmt = stmt.where(
            or_(Licence.number == q, Licence.identifier == q, Licence.holder_code == q.upper())
        )
    today = _today()
    full = access.sees_full_identifiers(actor)
    items = [
        licence_dict(lic, full=full, today=today) for lic in (await session.execute(stmt)).scalars()
    ]
    ctx = {
        "items": items,
        "types": await _issuable_types(session, actor),
        "q": q,
        "css": CSS,
        "active": "licences",
    }
    return page(request, "licences/workbench.html", ctx)


def _form_fields(lt: LicenceType) -> list[dict[str, Any]]:
    schema = lt.field_schema or {}
    required = set(schema.get("required") or [])
    order = list((lt.template or {}).get("fields") or (schema.get("properties") or {}).keys())
    props = schema.get("properties") or {}
    order += [k for k in props if k not in order]
    return [
        {
            "name": n,
            "label": (props.get(n) or {}).get("title") or n,
            "required": n in required,
            "enum": (props.get(n) or {}).get("enum"),
        }
        for n in order
        if n in props
    ]


async def _issue_form(
    request: Request,
    session: Any,
    actor: Actor,
    code: str,
    *,
    values: dict[str, str] | None = None,
    error: str = "",
    details: list[dict[str, str]] | None = None,
    status: int = 200,
) -> HTMLResponse:
    types = {t.code: t for t in await _issuable_types(session, actor)}
    lt = types.get(code)
    if lt is None:
        raise NotFound("证照类型不存在，或本部门不能颁发该证照", code="licence_type_not_found")
    ctx = {
        "lt": lt,
        "fields": _form_fields(lt),
        "values": values or {},
        "error": error,
        "field_errors": {d["field"]: d["message"] for d in details or []},
        "css": CSS,
        "active": "licences",
    }
    return page(request, "licences/issue.html", ctx, status=status)


@router.get("/workbench/licences/issue", response_class=HTMLResponse)
async def issue_form(
    request: Request,
    session: DB,
    actor: CurrentActor,
    type: Annotated[str, Query(max_length=21)] = "",
) -> HTMLResponse:
    _require_staff(actor)
    return await _issue_form(request, session, actor, type.strip().upper())


@router.post("/workbench/licences/issue", response_class=HTMLResponse)
async def issue_submit(
    request: Request, session: DB, actor: CurrentActor, form: VerifiedForm
) -> Response:
    """颁发 by hand: the holder by 公民身份号码 or 统一社会信用代码, the data from the form."""
    _require_staff(actor)
    code = form.get("type_code", "").strip().upper()
    lt = next((t for t in await _issuable_types(session, actor) if t.code == code), None)
    if lt is None:
        raise NotFound("证照类型不存在，或本部门不能颁发该证照", code="licence_type_not_found")
    holder_code = form.get("holder_code", "").strip().upper()
    data = {f["name"]: form.get(f"f_{f['name']}", "").strip() for f in _form_fields(lt)}
    data = {k: v for k, v in data.items() if v}
    try:
        person_id = enterprise_id = None
        if lt.holder_kind == "enterprise":
            enterprise_id = (
                await session.execute(
                    select(Enterprise.id).where(Enterprise.credit_code == holder_code)
                )
            ).scalar()
        else:
            person_id = (
                await session.execute(select(Person.id).where(Person.id_number == holder_code))
            ).scalar()
        if person_id is None and enterprise_id is None:
            raise ValidationFailed(
                "未找到该持证主体，请核对证件号码",
                code="holder_not_found",
                details=[{"field": "holder_code", "message": "未找到"}],
            )
        until = form.get("valid_until", "").strip()
        lic = await service.issue(
            session,
            actor,
            type_code=lt.code,
            data=data,
            holder_person_id=person_id,
            holder_enterprise_id=enterprise_id,
            valid_until=dt.date.fromisoformat(until) if until else None,
        )
    except (AppError, ValueError) as e:
        err = e if isinstance(e, AppError) else ValidationFailed("有效期截止日期格式不正确")
        await settle(session, err)
        details = err.details if isinstance(err.details, list) else None
        return await _issue_form(
            request,
            session,
            actor,
            code,  # lt itself expired with the rollback
            values=dict(form),
            error=err.message,
            details=details,
            status=err.status,
        )
    return RedirectResponse(f"/licences/{lic.id}", status_code=303)
