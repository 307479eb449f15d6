"""平台管理 pages: overview, accounts, event deliveries (outbox), audit log.

Platform administrators only. Thin: the outbox rules live in
``tongban.admin.outbox``, the audit chain check in ``tongban.core.audit``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tongban.admin import outbox
from tongban.core import audit
from tongban.core.errors import AppError
from tongban.identity.access import Actor
from tongban.web import read_models as rm
from tongban.web.deps import DB, VerifiedForm, require_roles
from tongban.web.pages import is_htmx, page, settle

router = APIRouter(include_in_schema=False)

AdminActor = Annotated[Actor, require_roles("platform_admin")]

MESSAGES = {"retried": "已重新排队，稍后由后台任务再次投递。"}


@router.get("/admin", response_class=HTMLResponse)
async def admin_home(request: Request, actor: AdminActor, session: DB) -> HTMLResponse:
    ctx = {
        "accounts": await rm.count_accounts(session, actor),
        "persons_count": await rm.count_persons(session, actor),
        "enterprises_count": await rm.count_enterprises(session, actor),
        "deliveries": await outbox.count_deliveries_by_status(session, actor),
        "failed": await outbox.get_failed_deliveries(session, actor, limit=5),
        "entries": await rm.latest_audit(session, actor, limit=8),
        "region": await rm.region_of(session, actor.region_code),
        "active": "admin",
    }
    return page(request, "admin/home.html", ctx)


@router.get("/admin/accounts", response_class=HTMLResponse)
async def admin_accounts(
    request: Request,
    actor: AdminActor,
    session: DB,
    q: Annotated[str, Query(max_length=64)] = "",
    after: Annotated[int | None, Query(ge=0)] = None,
) -> HTMLResponse:
    rows, nxt = await rm.get_accounts(session, actor, q=q.strip(), after=after)
    names = await rm.region_names(session, {a.region_code for a, _ in rows})
    return page(
        request,
        "admin/accounts.html",
        {
            "rows": rows,
            "next_after": nxt,
            "q": q.strip(),
            "after": after,
            "region_names": names,
            "counts": await rm.count_accounts(session, actor),
            "active": "accounts",
        },
    )


async def _outbox_page(
    request: Request,
    actor: Actor,
    session: DB,
    *,
    before: int | None = None,
    error: str = "",
    message: str = "",
    status: int = 200,
) -> HTMLResponse:
    failed = await outbox.get_failed_deliveries(session, actor, before_id=before, limit=50)
    return page(
        request,
        "admin/outbox.html",
        {
            "deliveries": await outbox.count_deliveries_by_status(session, actor),
            "failed": failed,
            "before": before,
            "older": failed[-1].id if len(failed) == 50 else None,
            "error": error,
            "message": message,
            "active": "outbox",
        },
        status=status,
    )


@router.get("/admin/outbox", response_class=HTMLResponse)
async def admin_outbox(
    request: Request,
    actor: AdminActor,
    session: DB,
    before: Annotated[int | None, Query(ge=0)] = None,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    return await _outbox_page(request, actor, session, before=before, message=MESSAGES.get(msg, ""))


@router.post("/admin/outbox/{delivery_id}/retry", response_class=HTMLResponse)
async def admin_outbox_retry(
    delivery_id: int, request: Request, form: VerifiedForm, actor: AdminActor, session: DB
) -> Response:
    try:
        await outbox.retry_failed_delivery(session, actor, delivery_id=delivery_id)
    except AppError as exc:
        await settle(session, exc)
        return await _outbox_page(request, actor, session, error=exc.message, status=exc.status)
    return RedirectResponse("/admin/outbox?msg=retried", status_code=303)


@router.get("/admin/audit", response_class=HTMLResponse)
async def admin_audit(request: Request, actor: AdminActor, session: DB) -> HTMLResponse:
    return page(
        request,
        "admin/audit.html",
        {
            "entries": await rm.latest_audit(session, actor, limit=50),
            "report": None,
            "active": "audit",
        },
    )


@router.post("/admin/audit/verify", response_class=HTMLResponse)
async def admin_audit_verify(
    request: Request, form: VerifiedForm, actor: AdminActor, session: DB
) -> HTMLResponse:
    """Walk every audit chain and show what was edited, deleted or inserted."""
    report = await audit.verify(session)
    ctx: dict[str, Any] = {"report": report, "active": "audit"}
    if is_htmx(request):
        return page(request, "admin/_verify_report.html", ctx)
    ctx["entries"] = await rm.latest_audit(session, actor, limit=50)
    return page(request, "admin/audit.html", ctx)
