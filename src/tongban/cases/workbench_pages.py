"""The staff workbench for cases (办件工作台): the queues, the case page with only the
actions the actor may take, each confirmed before it is posted; and window
intake (一窗受理): a clerk files an application for the person present and
later hands out the result (统一出件 = ``deliver`` with method ``window``).

Thin: queries in ``queries``, rules in ``service`` (``actions_for``,
``transition``, ``submit``), what is shown in ``views``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.cases import lifecycle, queries, service, views
from tongban.cases.api import QUEUES
from tongban.cases.page_common import (
    CSS,
    Cursor,
    Id,
    calendar_or_none,
    case_context,
    clock_for,
    form_values,
    uploaded_files,
)
from tongban.catalogue import forms
from tongban.core import audit
from tongban.core.errors import AppError, Conflict, NotFound, PermissionDenied, ValidationFailed
from tongban.core.identifiers import InvalidIdentifier, validate_resident_id
from tongban.identity.access import Actor
from tongban.identity.models import Person
from tongban.web.deps import DB, CurrentActor, VerifiedForm
from tongban.web.pages import is_htmx, page, require_staff, settle

router = APIRouter(include_in_schema=False)

CASE_ROLES = ("clerk", "approver", "dept_admin", "supervisor", "leader", "platform_admin")
# Which queue a role opens on.
HOME_QUEUE = {
    "clerk": "to_accept",
    "approver": "to_review",
    "dept_admin": "yellow",
    "supervisor": "red",
}
FILTER_KEYS = ("queue", "state", "impl", "dept", "channel", "applicant", "number", "from", "to")
MAX_ITEM_ROWS = 30
MESSAGES = {
    "filed": "已代为提交申请，办件进入待受理。",
    **{a: f"已{t.label}。" for a, t in lifecycle.TRANSITIONS.items()},
}


def require_case_staff(actor: Actor) -> Actor:
    require_staff(actor)
    if not actor.has_any_role(*CASE_ROLES):
        raise PermissionDenied("您的角色不办理办件")
    return actor


def require_clerk(actor: Actor) -> Actor:
    require_staff(actor)
    if "clerk" not in actor.roles:
        raise PermissionDenied("一窗受理由综合窗口工作人员办理")
    return actor


def _default_queue(actor: Actor) -> str:
    for role, queue in HOME_QUEUE.items():
        if role in actor.roles:
            return queue
    return ""


# --- the worklist ---------------------------------------------------------------------------------


@router.get("/workbench/cases", response_class=HTMLResponse)
async def worklist(
    request: Request,
    actor: CurrentActor,
    session: DB,
    queue: Annotated[str | None, Query(max_length=20)] = None,
    state: Annotated[str, Query(max_length=20)] = "",
    impl: Annotated[int | None, Query(ge=1)] = None,
    dept: Annotated[int | None, Query(ge=1)] = None,
    channel: Annotated[str, Query(max_length=10)] = "",
    applicant: Annotated[str, Query(max_length=50)] = "",
    number: Annotated[str, Query(max_length=50)] = "",
    from_: Annotated[dt.date | None, Query(alias="from")] = None,
    to: Annotated[dt.date | None, Query()] = None,
    before: Cursor = None,
) -> HTMLResponse:
    """办件队列: by role, with filters, counts and pages by key."""
    require_case_staff(actor)
    queue = _default_queue(actor) if queue is None else queue
    if queue not in ("", "all") and queue not in QUEUES:
        raise ValidationFailed("未知的队列", code="queue_invalid")
    if state and state not in lifecycle.STATES:
        raise ValidationFailed("未知的办件状态", code="state_invalid")
    if channel and channel not in lifecycle.CHANNELS:
        raise ValidationFailed("未知的申报渠道", code="channel_invalid")
    s = request.app.state.settings
    f = queries.CaseFilter(
        queue="" if queue == "all" else queue,
        state=state,
        implementation_id=impl,
        department_id=dept,
        channel=channel,
        applicant=applicant.strip(),
        number=number.strip(),
        submitted_from=from_,
        submitted_to=to,
    )
    rows, nxt = await queries.get_cases(session, actor, f, before=before, tz=s.timezone)
    cal = await calendar_or_none(session)
    filters = {
        "queue": queue or "all",
        "state": state,
        "impl": impl or "",
        "dept": dept or "",
        "channel": channel,
        "applicant": applicant.strip(),
        "number": number.strip(),
        "from": from_.isoformat() if from_ else "",
        "to": to.isoformat() if to else "",
    }
    kept = {k: v for k, v in filters.items() if v not in ("", None)}
    ctx: dict[str, Any] = {
        "items": [
            {
                "c": c,
                "state_label": lifecycle.STATES[c.state],
                "clock": clock_for(request, c, cal),
                "channel_label": lifecycle.CHANNELS.get(c.channel, c.channel),
                "next": views.next_step(c, for_applicant=False),
            }
            for c in rows
        ],
        "next_before": nxt,
        "before": before,
        "filters": filters,
        "query": urlencode(kept),
        "next_query": urlencode({**kept, "before": nxt}) if nxt else "",
        "first_query": urlencode(kept),
        "dept_names": await queries.get_department_names(session, {c.department_id for c in rows}),
        "active": "cases",
        "css": CSS,
    }
    if is_htmx(request):
        return page(request, "cases/_wb_results.html", ctx)
    ctx.update(
        counts=await queries.get_queue_counts(session, actor),
        choices=await queries.get_filter_choices(session, actor),
        states=lifecycle.STATES,
        channels=lifecycle.CHANNELS,
        tab_query={k: v for k, v in kept.items() if k != "queue"},
    )
    return page(request, "cases/worklist.html", ctx)


# --- the case page and its actions ---------------------------------------------------------------------


def _item_rows(form: dict[str, str] | None, *, add: int = 0) -> list[dict[str, str]]:
    """The correction notice's rows as posted (at least three; ``add`` more)."""
    rows = []
    if form:
        for i in range(MAX_ITEM_ROWS):
            kind = form.get(f"item.{i}.kind")
            if kind is None:
                break
            rows.append(
                {
                    "kind": kind,
                    "name": form.get(f"item.{i}.name", ""),
                    "reason": form.get(f"item.{i}.reason", ""),
                }
            )
    while len(rows) < 3:
        rows.append({"kind": "material", "name": "", "reason": ""})
    for _ in range(add):
        if len(rows) < MAX_ITEM_ROWS:
            rows.append({"kind": "material", "name": "", "reason": ""})
    return rows


def _items(form: dict[str, str]) -> list[dict[str, str]]:
    """The filled rows of a correction notice (a row with a name or a reason)."""
    out = []
    for r in _item_rows(form):
        name, reason = r["name"].strip(), r["reason"].strip()
        if name or reason:
            out.append({"kind": r["kind"], "name": name[:200], "reason": reason[:1000]})
    return out


def action_data(action: str, form: dict[str, str]) -> dict[str, Any]:
    """What a posted action form means to ``service.transition``."""
    data: dict[str, Any] = {"comment": form.get("comment", "").strip()[:2000]}
    for key in ("reason", "kind", "result", "outcome", "method", "tracking_number", "days"):
        if key in form:
            data[key] = form[key].strip()[:2000]
    if action == "request_correction":
        data["items"] = _items(form)
        approver = form.get("approved_by", "")
        if approver.isdecimal():
            data["approved_by"] = int(approver)
    return data


def action_summary(
    action: str, data: dict[str, Any], supervisors: dict[int, str]
) -> list[tuple[str, str]]:
    """Lines the confirmation shows: what will be recorded."""
    lines: list[tuple[str, str]] = []
    if action == "request_correction":
        for i, it in enumerate(data.get("items", []), 1):
            lines.append(
                (
                    f"第 {i} 项（{views.KIND_LABELS.get(it['kind'], it['kind'])}）",
                    f"{it['name']}：{it['reason']}",
                )
            )
        if data.get("approved_by"):
            lines.append(
                (
                    "批准人（电子监察）",
                    supervisors.get(data["approved_by"], str(data["approved_by"])),
                )
            )
    if action == "suspend" and data.get("kind"):
        lines.append(("特别程序", lifecycle.SPECIAL_PROCEDURES.get(data["kind"], data["kind"])))
    if action == "extend" and data.get("days"):
        lines.append(("延长", f"{data['days']} 个工作日"))
    if action == "decide" and data.get("outcome"):
        lines.append(("决定", "准予许可" if data["outcome"] == "grant" else "不予许可"))
    if action == "deliver" and data.get("method"):
        lines.append(("送达方式", lifecycle.DELIVERY_METHODS.get(data["method"], data["method"])))
        if data.get("tracking_number"):
            lines.append(("快递单号", data["tracking_number"]))
    if data.get("reason"):
        lines.append(("理由", data["reason"]))
    if data.get("result"):
        lines.append(("程序结果", data["result"]))
    if data.get("comment"):
        lines.append(("办理意见", data["comment"]))
    return lines


async def _case_page(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    case_id: int,
    *,
    open_action: str = "",
    posted: dict[str, str] | None = None,
    add_rows: int = 0,
    error: str = "",
    message: str = "",
    status: int = 200,
) -> HTMLResponse:
    c = await service.get_case(session, actor, case_id)
    if actor.kind != "staff":
        raise NotFound("办件不存在，或您无权查看", code="case_not_found")
    view = await queries.get_case_view(session, c)
    ctx = case_context(request, actor, view, await calendar_or_none(session))
    actions = service.actions_for(c, actor)
    guide_materials = [
        s["name"] for s in views.material_slots(view.version.fields if view.version else None)
    ]
    form_labels = [r["label"] for sec in ctx["form_rows"] for r in sec["rows"]]
    supervisors = []
    if any(t.action == "request_correction" for t in actions) and c.correction_round:
        supervisors = await queries.get_supervisors_for(session, c)
    if actor.sees_full_identifiers and not message and not error:
        # the page shows full identity numbers: personal-data access, logged (个人信息保护法)
        await audit.record(
            session,
            actor=actor.ref,
            action="case.viewed",
            target_type="case",
            target_id=c.id,
            region_code=c.region_code,
        )
    ctx.update(
        actions=actions,
        action_names={t.action for t in actions},
        open_action=open_action,
        posted=posted or {},
        item_rows=_item_rows(posted if open_action == "request_correction" else None, add=add_rows),
        guide_materials=guide_materials,
        form_labels=form_labels,
        supervisors=supervisors,
        next=views.next_step(c, for_applicant=False),
        error=error,
        message=message,
        active="cases",
    )
    return page(request, "cases/wb_case.html", ctx, status=status)


@router.get("/workbench/cases/{case_id}", response_class=HTMLResponse)
async def case_page(
    case_id: Id,
    request: Request,
    actor: CurrentActor,
    session: DB,
    msg: Annotated[str, Query(max_length=30)] = "",
) -> HTMLResponse:
    """The case: form (masked per role), materials, 服务轨迹, the clock, and the allowed actions only."""
    require_case_staff(actor)
    return await _case_page(request, session, actor, case_id, message=MESSAGES.get(msg, ""))


@router.post("/workbench/cases/{case_id}/actions/{action}", response_class=HTMLResponse)
async def case_action(
    case_id: Id, action: str, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    """One action: shown for confirmation first, then performed by ``service.transition``."""
    require_case_staff(actor)
    t = lifecycle.TRANSITIONS.get(action)
    if t is None or t.by != "staff":
        raise NotFound("未知的办理操作", code="unknown_action")
    c = await service.get_case(session, actor, case_id)
    if c.state not in t.sources:
        raise Conflict(
            f"办件当前状态为「{lifecycle.STATES[c.state]}」，不能执行「{t.label}」",
            code="invalid_state",
        )
    if t not in service.actions_for(c, actor, hide_futile=False):  # the rule's own message
        raise PermissionDenied(f"您不能对该办件执行「{t.label}」", code="action_forbidden")
    if form.get("add_row") or form.get("back"):
        add = 1 if form.get("add_row") else 0
        return await _case_page(
            request, session, actor, case_id, open_action=action, posted=form, add_rows=add
        )
    data = action_data(action, form)
    if form.get("confirm") != "yes":
        # what the table itself requires is asked for before the confirmation (the rest after it)
        missing = ""
        if t.needs_reason and len(str(data.get("reason") or "")) < 2:
            missing = "请填写理由"
        elif action == "request_correction" and not data["items"]:
            missing = "一次性告知须列明全部需补齐补正的材料或内容"
        if missing:
            return await _case_page(
                request,
                session,
                actor,
                case_id,
                open_action=action,
                posted=form,
                error=missing,
                status=422,
            )
        supervisors = (
            {a.id: a.display_name for a in await queries.get_supervisors_for(session, c)}
            if data.get("approved_by")
            else {}
        )
        hidden = [
            (k, v) for k, v in form.items() if k not in ("csrf_token", "confirm", "add_row", "back")
        ]
        return page(
            request,
            "cases/wb_confirm.html",
            {
                "c": c,
                "t": t,
                "lines": action_summary(action, data, supervisors),
                "hidden": hidden,
                "rights_notice": lifecycle.RIGHTS_NOTICE
                if action == "reject" or data.get("outcome") == "deny"
                else "",
                "active": "cases",
                "css": CSS,
            },
        )
    try:
        await service.transition(session, actor, case_id, action, data)
    except AppError as exc:
        await settle(session, exc)
        return await _case_page(
            request,
            session,
            actor,
            case_id,
            open_action=action,
            posted=form,
            error=exc.message,
            status=exc.status,
        )
    return RedirectResponse(f"/workbench/cases/{case_id}?msg={action}", status_code=303)


# --- window intake (一窗受理) -------------------------------------------------------------------------------


def _person_values(p: Person) -> dict[str, Any]:
    """The person's data by data element (``forms.prefill``), as the online entry prefills it."""
    values: dict[str, Any] = {"person.name": p.name, "person.id_number": p.id_number}
    if p.phone:
        values["person.phone"] = p.phone
    try:
        rid = validate_resident_id(p.id_number)
    except InvalidIdentifier:
        return values
    values["person.birth_date"] = rid.birth_date.isoformat()
    values["person.gender"] = "男" if rid.sex == "M" else "女"  # GB 11643: odd sequence = male
    return values


@router.get("/workbench/intake", response_class=HTMLResponse)
async def intake(
    request: Request,
    actor: CurrentActor,
    session: DB,
    id_number: Annotated[str, Query(max_length=18)] = "",
    person: Annotated[int | None, Query(ge=1)] = None,
    q: Annotated[str, Query(max_length=50)] = "",
    after: Cursor = None,
) -> HTMLResponse:
    """一窗受理, step 1 and 2: find the person present by resident id, then the service."""
    require_clerk(actor)
    found: Person | None = None
    error = ""
    id_number = id_number.strip().upper()
    if person:
        found = await queries.get_person(session, actor, person)
    elif id_number:
        try:
            validate_resident_id(id_number)
        except InvalidIdentifier as exc:
            error = exc.message
        else:
            found = await queries.get_person_by_id_number(session, actor, id_number)
            if found is None:
                error = "未找到该公民身份号码对应的实名信息（或不在本辖区），请核对号码，或先为其办理实名登记。"
    if found is not None and id_number:
        await audit.record(
            session,
            actor=actor.ref,
            action="person.looked_up",
            target_type="person",
            target_id=found.id,
            region_code=found.region_code,
            details={"purpose": "一窗受理"},
        )
    impls: list[Any] = []
    nxt = None
    if found is not None:
        impls, nxt = await queries.get_intake_implementations(session, actor, q=q, after=after)
    s = request.app.state.settings
    handouts, _ = await queries.get_cases(
        session,
        actor,
        queries.CaseFilter(queue="to_deliver", channel="window"),
        limit=10,
        tz=s.timezone,
    )
    ctx = {
        "id_number": id_number,
        "person": found,
        "error": error,
        "q": q.strip(),
        "impls": impls,
        "next_after": nxt,
        "after": after,
        "handouts": handouts,
        "active": "intake",
        "css": CSS,
    }
    if (
        is_htmx(request)
        and found is not None
        and request.headers.get("hx-target") == "impl-results"
    ):
        return page(request, "cases/_intake_impls.html", ctx)
    return page(request, "cases/intake.html", ctx)


async def _intake_form(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    impl_id: int,
    person_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: list[dict[str, str]] | None = None,
    key: str = "",
    uploaded: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    impl, version = await queries.get_intake_implementation(session, actor, impl_id)
    p = await queries.get_person(session, actor, person_id)
    definition = version.form or forms.default_form(
        for_enterprise=impl.for_enterprises and not impl.for_persons
    )
    pv = _person_values(p)
    locked = forms.locked_fields(definition, pv)
    vals = {**forms.prefill(definition, pv), **(values or {}), **locked}
    return page(
        request,
        "cases/intake_form.html",
        {
            "impl": impl,
            "version": version,
            "person": p,
            "sections": forms.layout(definition, vals, errors or [], locked=set(locked)),
            "other_errors": forms.unplaced_errors(definition, errors or []),
            "error_count": len(errors or []),
            "slots": views.material_slots(version.fields),
            "uploaded": await uploaded_files(session, actor, uploaded or {}),
            "idempotency_key": key or secrets.token_urlsafe(18),
            "error": error,
            "active": "intake",
            "css": CSS,
        },
        status=status,
    )


@router.get("/workbench/intake/{impl_id}", response_class=HTMLResponse)
async def intake_form(
    impl_id: Id,
    request: Request,
    actor: CurrentActor,
    session: DB,
    person: Annotated[int, Query(ge=1)],
) -> HTMLResponse:
    """一窗受理, step 3: the same form as online, prefilled from the person present."""
    require_clerk(actor)
    return await _intake_form(request, session, actor, impl_id, person)


@router.post("/workbench/intake/{impl_id}", response_class=HTMLResponse)
async def intake_submit(
    impl_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    """File the application for the person present (channel 窗口)."""
    require_clerk(actor)
    pid = form.get("person", "")
    if not pid.isdecimal():
        raise ValidationFailed("请先确定申请人", code="applicant_required")
    person_id = int(pid)
    key = form.get("_key", "")[:64] or secrets.token_urlsafe(18)
    uploaded = views.posted_materials(form)
    impl, version = await queries.get_intake_implementation(session, actor, impl_id)
    p = await queries.get_person(session, actor, person_id)
    definition = version.form or forms.default_form(
        for_enterprise=impl.for_enterprises and not impl.for_persons
    )
    data = {
        **forms.from_html(definition, form_values(form)),
        **forms.locked_fields(definition, _person_values(p)),
    }
    clean, errors = forms.validate_submission(definition, data)
    if errors:
        return await _intake_form(
            request,
            session,
            actor,
            impl_id,
            person_id,
            values=data,
            errors=errors,
            key=key,
            uploaded=uploaded,
            status=422,
        )
    try:
        materials = views.materials_from(
            uploaded, views.slot_names(views.material_slots(version.fields)), actor
        )
        c, _created = await service.submit(
            session,
            actor,
            implementation_id=impl.id,
            form_data=clean,
            idempotency_key=key,
            channel="window",
            applicant_person_id=p.id,
            materials=materials,
        )
    except AppError as exc:
        await settle(session, exc)
        details = exc.details if isinstance(exc.details, list) else None
        return await _intake_form(
            request,
            session,
            actor,
            impl_id,
            person_id,
            values=data,
            errors=details,
            key=key,
            uploaded=uploaded,
            error=exc.message,
            status=exc.status,
        )
    return RedirectResponse(f"/workbench/cases/{c.id}?msg=filed", status_code=303)
