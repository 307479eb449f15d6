"""Identity pages: sign-in (password and SMS), sign-out, "我的" for applicants,
and the staff lists of persons and enterprises in scope.

Thin: every rule lives in ``identity.service``, every query in
``identity.repository`` / ``identity.access`` (read models for pages in
``tongban.web.read_models``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tongban.core import audit
from tongban.core.clock import now, zone
from tongban.core.errors import AppError, NotFound, PermissionDenied, ValidationFailed
from tongban.identity import access, repository, service
from tongban.identity.access import Actor
from tongban.identity.api import client_ip, set_session_cookies
from tongban.identity.models import REAL_NAME_LEVELS
from tongban.identity.schemas import enterprise_read, person_read
from tongban.web import read_models as rm
from tongban.web.deps import (
    CSRF_COOKIE,
    DB,
    SESSION_COOKIE,
    CurrentActor,
    OptionalActor,
    VerifiedForm,
)
from tongban.web.pages import home_path, is_htmx, page, require_staff, safe_next, settle

router = APIRouter(include_in_schema=False)

REGION_PATTERN = r"^(\d{12})?$"


# --- sign-in -------------------------------------------------------------------------------


def _demo_accounts(request: Request) -> list[dict[str, Any]]:
    """The demo accounts to list on the sign-in page (demo mode only)."""
    if not request.app.state.settings.demo_mode:
        return []
    try:
        from tongban.demo import DEMO_ACCOUNTS
    except ImportError:
        return []
    return list(DEMO_ACCOUNTS)


def _login_page(
    request: Request, *, method: str = "password", next_url: str = "", status: int = 200, **ctx: Any
) -> HTMLResponse:
    return page(
        request,
        "identity/login.html",
        {
            "method": method,
            "next": safe_next(next_url, ""),
            "demo_accounts": _demo_accounts(request),
            "sms_minutes": request.app.state.settings.sms_code_minutes,
            "sms_dev_channel": request.app.state.settings.sms_channel == "log",
            **ctx,
        },
        status=status,
    )


async def _signed_in(
    request: Request, session: DB, signed: service.SignedIn, next_url: str | None
) -> Response:
    actor = await service.actor_for_account(
        session, signed.account, via="session", csrf_token=signed.csrf_token
    )
    response = RedirectResponse(safe_next(next_url, home_path(actor)), status_code=303)
    set_session_cookies(request, response, signed)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request,
    actor: OptionalActor,
    next: Annotated[str, Query(max_length=500)] = "",
    method: Annotated[str, Query(pattern="^(password|sms)$")] = "password",
) -> Response:
    if actor is not None and actor.via == "session":
        return RedirectResponse(safe_next(next, home_path(actor)), status_code=303)
    return _login_page(request, method=method, next_url=next)


@router.post("/login", response_class=HTMLResponse)
async def login_password(request: Request, form: VerifiedForm, session: DB) -> Response:
    username = form.get("username", "").strip()[:64]
    password = form.get("password", "")[:200]
    next_url = form.get("next", "")
    if not username or not password:
        return _login_page(
            request, next_url=next_url, username=username, status=422, error="请输入用户名和密码"
        )
    try:
        signed = await service.sign_in_password(
            session,
            username=username,
            password=password,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
            settings=request.app.state.settings,
        )
    except AppError as exc:
        await settle(session, exc)
        # Shown on the form; a failed attempt is kept (persist): it counts towards lockout.
        return _login_page(
            request, next_url=next_url, username=username, status=exc.status, error=exc.message
        )
    return await _signed_in(request, session, signed, next_url)


@router.post("/login/sms/send", response_class=HTMLResponse)
async def login_sms_send(request: Request, form: VerifiedForm, session: DB) -> Response:
    """Send a one-time code (htmx answers the status fragment; without JS, the whole page)."""
    phone = form.get("phone", "").strip()[:20]
    settings = request.app.state.settings
    error, status = "", 200
    try:
        await service.send_sms_code(
            session, phone=phone, secret=request.app.state.secret_key, settings=settings
        )
    except AppError as exc:
        await settle(session, exc)
        error, status = exc.message, exc.status
    if is_htmx(request):
        return page(
            request,
            "identity/_sms_status.html",
            {
                "error": error,
                "sms_minutes": settings.sms_code_minutes,
                "sms_dev_channel": settings.sms_channel == "log",
            },
        )
    return _login_page(
        request,
        method="sms",
        next_url=form.get("next", ""),
        phone=phone,
        status=status,
        sms_error=error,
        sms_sent=not error,
    )


@router.post("/login/sms", response_class=HTMLResponse)
async def login_sms(request: Request, form: VerifiedForm, session: DB) -> Response:
    phone = form.get("phone", "").strip()[:20]
    code = form.get("code", "").strip()[:8]
    next_url = form.get("next", "")
    if not phone or not code:
        return _login_page(
            request,
            method="sms",
            next_url=next_url,
            phone=phone,
            status=422,
            error="请输入手机号码和短信验证码",
        )
    try:
        signed = await service.sign_in_sms(
            session,
            phone=phone,
            code=code,
            secret=request.app.state.secret_key,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
            settings=request.app.state.settings,
        )
    except AppError as exc:
        await settle(session, exc)
        # Shown on the form; a wrong code is kept (persist): the attempt count limits guessing.
        return _login_page(
            request,
            method="sms",
            next_url=next_url,
            phone=phone,
            status=exc.status,
            error=exc.message,
        )
    return await _signed_in(request, session, signed, next_url)


@router.post("/logout")
async def logout(request: Request, form: VerifiedForm, session: DB) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await service.sign_out(session, token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


# --- 我的 (applicants) -------------------------------------------------------------------------

MESSAGES = {"authorised": "已授权经办人。", "revoked": "已撤销经办人授权。"}


def _require_applicant(actor: Actor) -> Actor:
    if actor.kind != "person":
        raise PermissionDenied("该页面仅供个人用户使用")
    return actor


async def _me_context(session: DB, actor: Actor) -> dict[str, Any]:
    recs = await repository.get_my_records(session, actor)
    person = recs["person"]
    ents = recs["enterprises"]
    represented = [e for e in ents if e.legal_rep_id == actor.person_id]
    agents = await repository.get_agents_for(session, actor, [e.id for e in represented])
    people = await rm.agent_people(session, actor, agents)
    t = now()
    agent_rows = []
    for a in agents:
        p = people.get(a.person_id)
        status = "revoked" if a.revoked_at else ("expired" if a.valid_until <= t else "active")
        agent_rows.append(
            {"agent": a, "person": person_read(p, actor) if p else None, "status": status}
        )
    return {
        "person": person_read(person, actor) if person else None,
        "real_name_level": REAL_NAME_LEVELS.get(person.real_name_level, "") if person else "",
        "region_name": (await rm.region_names(session, {person.region_code}, full=True)).get(
            person.region_code, ""
        )
        if person
        else "",
        "enterprises": [
            {"e": enterprise_read(e), "is_rep": e.legal_rep_id == actor.person_id} for e in ents
        ],
        "represented": [enterprise_read(e) for e in represented],
        "agents_by_enterprise": {
            e.id: [r for r in agent_rows if r["agent"].enterprise_id == e.id] for e in represented
        },
        "min_date": (t.astimezone(zone()).date() + dt.timedelta(days=1)).isoformat(),
        "max_date": (t.astimezone(zone()).date() + dt.timedelta(days=365 * 3)).isoformat(),
    }


@router.get("/me", response_class=HTMLResponse)
async def me(
    request: Request,
    actor: CurrentActor,
    session: DB,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    _require_applicant(actor)
    ctx = await _me_context(session, actor)
    return page(request, "identity/me.html", {**ctx, "message": MESSAGES.get(msg, ""), "nav": "me"})


def _parse_expiry(value: str, tz: str) -> dt.datetime:
    """A date from the form → the end of that day in the deployment's zone."""
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed("请选择授权截止日期", code="invalid_expiry") from None
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=zone(tz))


@router.post("/me/enterprises/{enterprise_id}/agents", response_class=HTMLResponse)
async def authorise_agent(
    enterprise_id: int, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    """法定代表人授权经办人 by identity number until a date."""
    _require_applicant(actor)
    id_number = form.get("id_number", "").strip().upper()[:18]
    try:
        valid_until = _parse_expiry(
            form.get("valid_until", ""), request.app.state.settings.timezone
        )
        if len(id_number) != 18:
            raise ValidationFailed("请填写 18 位公民身份号码", code="invalid_id_number")
        agent = await repository.get_by_id_number(session, id_number)
        if agent is None:
            raise NotFound(
                "未找到该公民身份号码对应的实名用户，请经办人先完成注册",
                code="agent_person_not_found",
            )
        await service.authorise_agent(
            session, actor, enterprise_id=enterprise_id, agent=agent, valid_until=valid_until
        )
    except AppError as exc:
        await settle(session, exc)
        ctx = await _me_context(session, actor)
        return page(
            request,
            "identity/me.html",
            {
                **ctx,
                "nav": "me",
                "form_errors": {enterprise_id: exc.message},
                "form_values": {
                    enterprise_id: {
                        "id_number": id_number,
                        "valid_until": form.get("valid_until", ""),
                    }
                },
            },
            status=exc.status,
        )
    return RedirectResponse("/me?msg=authorised#agents", status_code=303)


@router.post("/me/agents/{agent_id}/revoke", response_class=HTMLResponse)
async def revoke_agent(
    agent_id: int, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    """撤销经办人授权, after a confirmation step."""
    _require_applicant(actor)
    if form.get("confirm") != "yes":
        row = await access.access_agent(session, actor, agent_id)
        ent = await access.access_enterprise(session, actor, row.enterprise_id)
        people = await rm.agent_people(session, actor, [row])
        p = people.get(row.person_id)
        return page(
            request,
            "identity/revoke_confirm.html",
            {
                "agent": row,
                "enterprise": enterprise_read(ent),
                "person": person_read(p, actor) if p else None,
                "nav": "me",
            },
        )
    await service.revoke_agent(session, actor, agent_id)
    return RedirectResponse("/me?msg=revoked#agents", status_code=303)


# --- workbench: persons and enterprises in scope --------------------------------------------------


async def _list_page(
    request: Request,
    session: DB,
    actor: Actor,
    *,
    kind: str,
    q: str,
    region: str | None,
    after: int | None,
) -> HTMLResponse:
    require_staff(actor)
    q = q.strip()
    if kind == "persons":
        rows, nxt = await repository.get_persons(
            session, actor, q=q, region_code=region, after=after
        )
        items: list[Any] = [person_read(p, actor) for p in rows]
    else:
        rows_e, nxt = await repository.get_enterprises(
            session, actor, q=q, region_code=region, after=after
        )
        items = [enterprise_read(e) for e in rows_e]
    names = await rm.region_names(session, {i.region_code for i in items})
    ctx = {
        "items": items,
        "next_after": nxt,
        "q": q,
        "region": region or "",
        "after": after,
        "region_names": names,
        "active": kind,
        "kind": kind,
    }
    if is_htmx(request):
        return page(request, f"identity/_{kind}_results.html", ctx)
    ctx["regions"] = await rm.child_regions(session, actor.region_code)
    return page(request, f"identity/{kind}.html", ctx)


@router.get("/workbench/persons", response_class=HTMLResponse)
async def persons(
    request: Request,
    actor: CurrentActor,
    session: DB,
    q: Annotated[str, Query(max_length=50)] = "",
    region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> HTMLResponse:
    return await _list_page(
        request, session, actor, kind="persons", q=q, region=region or None, after=after
    )


@router.get("/workbench/enterprises", response_class=HTMLResponse)
async def enterprises(
    request: Request,
    actor: CurrentActor,
    session: DB,
    q: Annotated[str, Query(max_length=100)] = "",
    region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> HTMLResponse:
    return await _list_page(
        request, session, actor, kind="enterprises", q=q, region=region or None, after=after
    )


@router.get("/workbench/persons/{person_id}", response_class=HTMLResponse)
async def person_detail(
    person_id: int, request: Request, actor: CurrentActor, session: DB
) -> HTMLResponse:
    require_staff(actor)
    person = await access.access_person(session, actor, person_id)
    if actor.sees_full_identifiers:
        # Reading a full identity number is personal-data access: logged (个人信息保护法).
        await audit.record(
            session,
            actor=actor.ref,
            action="person.viewed",
            target_type="person",
            target_id=person.id,
            region_code=person.region_code,
        )
    names = await rm.region_names(session, {person.region_code}, full=True)
    return page(
        request,
        "identity/person_detail.html",
        {
            "p": person_read(person, actor),
            "region_name": names.get(person.region_code, ""),
            "real_name_level": REAL_NAME_LEVELS.get(person.real_name_level, ""),
            "active": "persons",
        },
    )


@router.get("/workbench/enterprises/{enterprise_id}", response_class=HTMLResponse)
async def enterprise_detail(
    enterprise_id: int, request: Request, actor: CurrentActor, session: DB
) -> HTMLResponse:
    require_staff(actor)
    ent = await access.access_enterprise(session, actor, enterprise_id)
    try:
        rep = person_read(await access.access_person(session, actor, ent.legal_rep_id), actor)
    except NotFound:
        rep = None  # the legal representative is registered outside this actor's region
    agents = await repository.get_agents_for(session, actor, [ent.id])
    people = await rm.agent_people(session, actor, agents)
    t = now()
    agent_rows = [
        {
            "agent": a,
            "person": person_read(people[a.person_id], actor) if a.person_id in people else None,
            "status": "revoked"
            if a.revoked_at
            else ("expired" if a.valid_until <= t else "active"),
        }
        for a in agents
    ]
    names = await rm.region_names(session, {ent.region_code}, full=True)
    return page(
        request,
        "identity/enterprise_detail.html",
        {
            "e": enterprise_read(ent),
            "rep": rep,
            "agents": agent_rows,
            "region_name": names.get(ent.region_code, ""),
            "active": "enterprises",
        },
    )
