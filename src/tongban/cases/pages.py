"""Case pages for applicants (我的办件, 我的消息) and what every case page shares:
material preview and download, material upload from a page.

Thin: every state change is ``service.transition`` / ``service.submit``, every
read is ``queries``; what a page shows is computed in ``views``. The staff
workbench is ``workbench_pages``, electronic supervision
``supervision_pages``; ``router`` here carries all three.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.cases import lifecycle, queries, service, supervision_pages, views, workbench_pages
from tongban.cases.page_common import (
    CSS,
    MESSAGES,
    Cursor,
    Id,
    calendar_or_none,
    case_context,
    clock_for,
    form_values,
    require_applicant,
    uploaded_files,
)
from tongban.catalogue import forms
from tongban.catalogue import repository as catalogue_repository
from tongban.core import files
from tongban.core.errors import AppError, NotFound, PermissionDenied, ValidationFailed
from tongban.identity.access import Actor
from tongban.web.deps import DB, CurrentActor, VerifiedForm
from tongban.web.pages import is_htmx, page, settle

router = APIRouter(include_in_schema=False)
router.include_router(workbench_pages.router)
router.include_router(supervision_pages.router)


# --- 我的办件 ------------------------------------------------------------------------------------


@router.get("/me/cases", response_class=HTMLResponse)
async def my_cases(
    request: Request,
    actor: CurrentActor,
    session: DB,
    group: Annotated[str, Query(pattern="^(|open|closed)$")] = "",
    q: Annotated[str, Query(max_length=50)] = "",
    before: Cursor = None,
) -> HTMLResponse:
    """我的办件: state, progress, deadline and next step of each case."""
    require_applicant(actor)
    s = request.app.state.settings
    f = queries.CaseFilter(group=group, q=q.strip())
    rows, nxt = await queries.get_cases(session, actor, f, before=before, tz=s.timezone)
    cal = await calendar_or_none(session)
    items = [
        {
            "c": c,
            "state_label": lifecycle.STATES[c.state],
            "progress": views.progress(c),
            "clock": clock_for(request, c, cal),
            "next": views.next_step(c, for_applicant=True),
        }
        for c in rows
    ]
    ctx = {
        "items": items,
        "next_before": nxt,
        "before": before,
        "group": group,
        "q": q.strip(),
        "nav": "cases",
        "css": CSS,
    }
    if is_htmx(request):
        return page(request, "cases/_my_results.html", ctx)
    ctx["unread"] = await queries.count_unread(session, actor)
    return page(request, "cases/my_cases.html", ctx)


async def _resubmit_form(
    session: AsyncSession, actor: Actor, view: queries.CaseView
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """The form to resubmit with (the case's own version), the identity-locked
    fields, and the upload slots: the materials the notice asks for first."""
    c = view.case
    form = (view.version.form if view.version else None) or forms.default_form()
    try:
        prefill, _ent = await catalogue_repository.get_prefill_values(
            session, actor, enterprise_id=c.applicant_enterprise_id
        )
    except NotFound:  # no longer acting for the enterprise: lock what the person holds
        prefill, _ent = await catalogue_repository.get_prefill_values(session, actor)
    locked = forms.locked_fields(form, prefill)
    slots = resubmit_slots(view)
    return form, locked, slots


def resubmit_slots(view: queries.CaseView) -> list[dict[str, Any]]:
    notice = view.open_notice
    asked = [it["name"] for it in (notice.items if notice else []) if it.get("kind") == "material"]
    guide = views.material_slots(view.version.fields if view.version else None)
    names = asked + [s["name"] for s in guide if s["name"] not in asked]
    by_name = {s["name"]: s for s in guide}
    return [
        {
            "index": i,
            "name": n,
            "required": n in asked,
            "asked": n in asked,
            "commitment_allowed": bool(by_name.get(n, {}).get("commitment_allowed")),
            "replaceable": False,
            "note": "一次性告知要求补正" if n in asked else "",
        }
        for i, n in enumerate(names)
    ]


async def _my_case_page(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    case_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: list[dict[str, str]] | None = None,
    uploaded: dict[str, str] | None = None,
    error: str = "",
    message: str = "",
    status: int = 200,
) -> HTMLResponse:
    c = await service.get_case(session, actor, case_id)
    if not service.applicant_sees(actor, c):
        raise NotFound("办件不存在，或您无权查看", code="case_not_found")
    view = await queries.get_case_view(session, c)
    ctx = case_context(request, actor, view, await calendar_or_none(session))
    actions = {t.action for t in service.actions_for(c, actor)}
    resubmit: dict[str, Any] | None = None
    if "resubmit" in actions:
        form, locked, slots = await _resubmit_form(session, actor, view)
        vals = {**c.form_data, **(values or {}), **locked}
        resubmit = {
            "sections": forms.layout(form, vals, errors or [], locked=set(locked)),
            "other_errors": forms.unplaced_errors(form, errors or []),
            "error_count": len(errors or []),
            "slots": slots,
            "uploaded": await uploaded_files(session, actor, uploaded or {}),
        }
    ctx.update(
        actions=actions,
        resubmit=resubmit,
        next=views.next_step(c, for_applicant=True),
        error=error,
        message=message,
        nav="cases",
    )
    return page(request, "cases/my_case.html", ctx, status=status)


@router.get("/me/cases/{case_id}", response_class=HTMLResponse)
async def my_case(
    case_id: Id,
    request: Request,
    actor: CurrentActor,
    session: DB,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """The applicant's case: form data, materials, 服务轨迹, the clock, a correction notice to answer."""
    require_applicant(actor)
    return await _my_case_page(request, session, actor, case_id, message=MESSAGES.get(msg, ""))


@router.post("/me/cases/{case_id}/resubmit", response_class=HTMLResponse)
async def my_case_resubmit(
    case_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    """补正后重新提交: the corrected form and materials; the case returns to 待受理."""
    require_applicant(actor)
    uploaded = views.posted_materials(form)
    c = await service.get_case(session, actor, case_id)
    if not service.applicant_sees(actor, c):
        raise NotFound("办件不存在，或您无权查看", code="case_not_found")
    view = await queries.get_case_view(session, c)
    if c.state != "correction":
        raise AppError(
            f"办件当前状态为「{lifecycle.STATES[c.state]}」，不能补正后重新提交",
            code="invalid_state",
            status=409,
        )
    definition, locked, slots = await _resubmit_form(session, actor, view)
    data = {**forms.from_html(definition, form_values(form)), **locked}
    clean, errors = forms.validate_submission(definition, data)
    if errors:
        return await _my_case_page(
            request,
            session,
            actor,
            case_id,
            values=data,
            errors=errors,
            uploaded=uploaded,
            status=422,
        )
    try:
        materials = views.materials_from(uploaded, views.slot_names(slots), actor)
        await service.transition(
            session, actor, case_id, "resubmit", {"form_data": clean, "materials": materials}
        )
    except AppError as exc:
        await settle(session, exc)
        details = exc.details if isinstance(exc.details, list) else None
        return await _my_case_page(
            request,
            session,
            actor,
            case_id,
            values=data,
            errors=details,
            uploaded=uploaded,
            error=exc.message,
            status=exc.status,
        )
    return RedirectResponse(f"/me/cases/{case_id}?msg=resubmitted", status_code=303)


@router.get("/me/cases/{case_id}/withdraw", response_class=HTMLResponse)
async def my_case_withdraw_confirm(
    case_id: Id, request: Request, actor: CurrentActor, session: DB
) -> HTMLResponse:
    """撤回申请: say what it means and ask for a reason before anything changes."""
    require_applicant(actor)
    c = await service.get_case(session, actor, case_id)
    if "withdraw" not in {t.action for t in service.actions_for(c, actor)}:
        raise AppError(
            f"办件当前状态为「{lifecycle.STATES[c.state]}」，不能撤回",
            code="invalid_state",
            status=409,
        )
    return page(
        request,
        "cases/withdraw.html",
        {"c": c, "reason": "", "error": "", "nav": "cases", "css": CSS},
    )


@router.post("/me/cases/{case_id}/withdraw", response_class=HTMLResponse)
async def my_case_withdraw(
    case_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    require_applicant(actor)
    reason = form.get("reason", "").strip()[:2000]
    try:
        if form.get("confirm") != "yes":
            raise ValidationFailed("请勾选“我确认撤回本次申请”", code="confirm_required")
        await service.transition(session, actor, case_id, "withdraw", {"reason": reason})
    except AppError as exc:
        await settle(session, exc)
        c = await service.get_case(session, actor, case_id)
        return page(
            request,
            "cases/withdraw.html",
            {"c": c, "reason": reason, "error": exc.message, "nav": "cases", "css": CSS},
            status=exc.status,
        )
    return RedirectResponse(f"/me/cases/{case_id}?msg=withdrawn", status_code=303)


# --- 我的消息 ----------------------------------------------------------------------------------------


@router.get("/me/inbox", response_class=HTMLResponse)
async def my_inbox(
    request: Request,
    actor: CurrentActor,
    session: DB,
    unread: Annotated[bool, Query()] = False,
    before: Cursor = None,
) -> HTMLResponse:
    require_applicant(actor)
    rows, nxt = await queries.get_notifications(session, actor, unread=unread, before=before)
    ctx = {
        "items": rows,
        "next_before": nxt,
        "before": before,
        "unread": unread,
        "unread_count": await queries.count_unread(session, actor),
        "nav": "inbox",
        "css": CSS,
    }
    if is_htmx(request):
        return page(request, "cases/_inbox_results.html", ctx)
    return page(request, "cases/inbox.html", ctx)


@router.post("/me/inbox/read")
async def my_inbox_read_all(
    form: VerifiedForm, actor: CurrentActor, session: DB
) -> RedirectResponse:
    """全部标为已读."""
    require_applicant(actor)
    await queries.mark_read(session, actor)
    return RedirectResponse("/me/inbox", status_code=303)


@router.post("/me/inbox/{notification_id}/read")
async def my_inbox_read(
    notification_id: Id, form: VerifiedForm, actor: CurrentActor, session: DB
) -> RedirectResponse:
    """Mark one message read and open its case."""
    require_applicant(actor)
    n = await queries.mark_read(session, actor, notification_id)
    target = f"/me/cases/{n.case_id}" if n is not None and n.case_id else "/me/inbox"
    return RedirectResponse(target, status_code=303)


# --- materials: preview, download, upload from a page ------------------------------------------------


@router.get("/cases/{case_id}/materials/{material_id}")
async def material_file(
    case_id: Id,
    material_id: Id,
    actor: CurrentActor,
    session: DB,
    download: Annotated[bool, Query()] = False,
) -> Response:
    """A material of a case the actor may see: shown in the browser (PDF, images) or downloaded."""
    c = await service.get_case(session, actor, case_id)
    m = await queries.get_material(session, c, material_id)
    row, data = await files.load(session, m.file_sha256 or "")
    inline = not download and row.content_type in ("application/pdf", "image/png", "image/jpeg")
    filename = quote(f"{m.name}-{row.name}")
    return Response(
        data,
        media_type=row.content_type,
        headers={
            "Content-Disposition": f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{filename}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/cases/uploads", response_class=HTMLResponse)
async def page_upload(
    request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> HTMLResponse:
    """Upload one material from a page (htmx, multipart): answer its slot with the
    file's name and a token the form submits (``views.upload_token``)."""
    if actor.kind not in ("person", "staff"):
        raise PermissionDenied("请以申请人或窗口工作人员身份上传", code="upload_forbidden")
    raw = await request.form()
    slot = {
        "index": _slot_index(form.get("_slot", "")),
        "name": form.get("_slot_name", "")[:200],
        "required": form.get("_slot_required") == "1",
        "asked": form.get("_slot_asked") == "1",
        "commitment_allowed": False,
        "replaceable": False,
        "note": "",
    }
    upload = next(
        (
            v
            for k, v in raw.multi_items()
            if k.startswith("_file.") and not isinstance(v, str) and v.filename
        ),
        None,
    )
    error, token, stored = "", "", None
    try:
        if upload is None:
            raise ValidationFailed("请选择要上传的文件", code="file_required")
        limit = request.app.state.settings.media_max_mb * 1024 * 1024
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise ValidationFailed(
                f"文件过大：最大 {request.app.state.settings.media_max_mb} MB",
                code="file_too_large",
            )
        stored = await files.store(
            session, data, upload.filename or "附件", account_id=actor.account_id
        )
        token = views.upload_token(actor, stored.sha256)
    except AppError as exc:
        await settle(session, exc)
        error = exc.message
    return page(
        request,
        "cases/_upload_slot.html",
        {
            "slot": slot,
            "token": token,
            "file": {"name": files.clean_name(upload.filename or "")}
            if stored and upload
            else None,
            "upload_error": error,
        },
    )


def _slot_index(value: str) -> int:
    if not value.isdecimal() or int(value) > 199:
        raise ValidationFailed("材料序号无效", code="material_invalid")
    return int(value)
