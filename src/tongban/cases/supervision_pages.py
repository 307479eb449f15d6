"""Electronic supervision pages (电子监察): yellow and red counts by department, item
or region, the carded cases, and supervision notices (督办单) — issued by a
supervisor, answered by the department (its administrator or approvers),
closed by the supervisor. Rules and scope are ``cases.supervision``'s."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.cases import lifecycle, queries, supervision
from tongban.cases.page_common import CSS, Cursor, Id
from tongban.core.clock import now
from tongban.core.errors import AppError, PermissionDenied, ValidationFailed
from tongban.identity.access import Actor
from tongban.web.deps import DB, CurrentActor, VerifiedForm
from tongban.web.pages import is_htmx, page, require_staff, settle

router = APIRouter(include_in_schema=False)

SUPERVISION_ROLES = ("supervisor", "dept_admin", "approver", "leader", "platform_admin")
BY = {"department": "按部门", "item": "按事项", "region": "按区划"}
MESSAGES = {"issued": "督办单已发出。", "replied": "已回复督办单。", "closed": "督办单已办结。"}


def require_supervision(actor: Actor) -> Actor:
    require_staff(actor)
    if not actor.has_any_role(*SUPERVISION_ROLES):
        raise PermissionDenied("电子监察页面供电子监察人员和部门负责人使用")
    return actor


async def _page(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    *,
    by: str = "department",
    colour: str = "",
    before: int | None = None,
    message: str = "",
    error: str = "",
    posted: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    counts = await supervision.alert_counts(session, actor, by=by)
    if by == "department":
        names: dict[Any, str] = await queries.get_department_names(
            session, {r["key"] for r in counts}
        )
    elif by == "region":
        names = await queries.get_region_names(session, {r["key"] for r in counts})
    else:
        names = {r["key"]: r.get("name", "") for r in counts}
    cases, nxt = await queries.get_carded_cases(session, actor, colour=colour, before=before)
    notices = await supervision.list_notices(session, actor)
    ctx = {
        "by": by,
        "by_labels": BY,
        "counts": [{**r, "label": names.get(r["key"], str(r["key"]))} for r in counts],
        "totals": {
            "yellow": sum(r["yellow"] for r in counts),
            "red": sum(r["red"] for r in counts),
        },
        "colour": colour,
        "cases": cases,
        "case_dept_names": await queries.get_department_names(
            session, {c.department_id for c in cases}
        ),
        "state_labels": lifecycle.STATES,
        "next_query": urlencode({"by": by, "colour": colour, "before": nxt}) if nxt else "",
        "before": before,
        "notices": notices,
        "notice_states": supervision.NOTICE_STATES,
        "notice_cases": await queries.get_notice_case_numbers(session, notices),
        "notice_depts": await queries.get_department_names(
            session, {n.department_id for n in notices}
        ),
        "departments": await queries.get_supervised_departments(session, actor),
        "now": now(),
        "message": message,
        "error": error,
        "posted": posted or {},
        "active": "supervision",
        "css": CSS,
    }
    if is_htmx(request) and request.headers.get("hx-target") == "carded-results":
        return page(request, "cases/_sup_cases.html", ctx, status=status)
    return page(request, "cases/supervision.html", ctx, status=status)


@router.get("/workbench/supervision", response_class=HTMLResponse)
async def supervision_home(
    request: Request,
    actor: CurrentActor,
    session: DB,
    by: Annotated[str, Query(pattern="^(department|item|region)$")] = "department",
    colour: Annotated[str, Query(pattern="^(|yellow|red)$")] = "",
    before: Cursor = None,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """红黄牌 counts, the carded cases, the supervision notices."""
    require_supervision(actor)
    return await _page(
        request, session, actor, by=by, colour=colour, before=before, message=MESSAGES.get(msg, "")
    )


@router.post("/workbench/supervision/notices", response_class=HTMLResponse)
async def issue_notice(
    request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    """发出督办单 (supervisor), optionally about one case by its number."""
    require_supervision(actor)
    try:
        dept = form.get("department_id", "")
        if not dept.isdecimal():
            raise ValidationFailed("请选择被督办的部门", code="department_required")
        days = form.get("reply_days", "3")
        if not days.isdecimal():
            raise ValidationFailed("回复期限应为 1–30 个工作日", code="reply_days_invalid")
        case_id = None
        number = form.get("case_number", "").strip()
        if number:
            c = await queries.get_case_by_number(session, actor, number)
            if c is None:
                raise ValidationFailed(
                    "未找到该办件编号，或不在您的监察范围内", code="case_not_found"
                )
            case_id = c.id
        await supervision.issue_notice(
            session,
            actor,
            department_id=int(dept),
            content=form.get("content", "")[:2000],
            reply_days=int(days),
            case_id=case_id,
        )
    except AppError as exc:
        await settle(session, exc)
        return await _page(
            request, session, actor, error=exc.message, posted=form, status=exc.status
        )
    return RedirectResponse("/workbench/supervision?msg=issued#notices", status_code=303)


@router.post("/workbench/supervision/notices/{notice_id}/reply", response_class=HTMLResponse)
async def reply_notice(
    notice_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    """部门回复督办单."""
    require_supervision(actor)
    try:
        await supervision.reply_notice(
            session, actor, notice_id, reply=form.get("reply", "")[:4000]
        )
    except AppError as exc:
        await settle(session, exc)
        return await _page(
            request, session, actor, error=exc.message, posted=form, status=exc.status
        )
    return RedirectResponse("/workbench/supervision?msg=replied#notices", status_code=303)


@router.post("/workbench/supervision/notices/{notice_id}/close", response_class=HTMLResponse)
async def close_notice(
    notice_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    """办结督办单 (supervisor)."""
    require_supervision(actor)
    try:
        await supervision.close_notice(session, actor, notice_id)
    except AppError as exc:
        await settle(session, exc)
        return await _page(request, session, actor, error=exc.message, status=exc.status)
    return RedirectResponse("/workbench/supervision?msg=closed#notices", status_code=303)
