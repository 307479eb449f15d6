"""Identity JSON API: sign-in, the signed-in user's records, persons and enterprises."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tongban.core import audit
from tongban.core.errors import NotFound
from tongban.identity import access, repository, service
from tongban.identity.schemas import (
    AccountRead,
    AgentCreate,
    AgentRead,
    EnterpriseRead,
    LoginRequest,
    Page,
    PersonRead,
    PreferenceUpdate,
    SmsLoginRequest,
    SmsSendRequest,
    account_dict,
    account_read,
    agent_dict,
    agent_read,
    enterprise_dict,
    enterprise_read,
    person_dict,
    person_read,
)
from tongban.web.app import ORJSONResponse
from tongban.web.deps import CSRF_COOKIE, DB, SESSION_COOKIE, CurrentActor, read_actor

router = APIRouter(tags=["身份认证"])


def set_session_cookies(request: Request, response: Response, signed: service.SignedIn) -> None:
    settings = request.app.state.settings
    max_age = settings.session_hours * 3600
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        signed.csrf_token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


@router.post("/auth/login", summary="用户名密码登录")
async def login(body: LoginRequest, request: Request, response: Response, session: DB) -> dict:
    signed = await service.sign_in_password(
        session,
        username=body.username,
        password=body.password,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        settings=request.app.state.settings,
    )
    set_session_cookies(request, response, signed)
    actor = await service.actor_for_account(
        session, signed.account, via="session", csrf_token=signed.csrf_token
    )
    return {
        "account": account_read(actor).model_dump(),
        "csrf_token": signed.csrf_token,
        "expires_at": signed.expires_at.isoformat(),
    }


@router.post("/auth/logout", summary="退出登录")
async def logout(request: Request, response: Response, session: DB) -> dict:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await service.sign_out(session, token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return {"ok": True}


@router.post("/auth/sms/send", summary="发送短信验证码")
async def sms_send(body: SmsSendRequest, request: Request, session: DB) -> dict:
    await service.send_sms_code(
        session,
        phone=body.phone,
        secret=request.app.state.secret_key,
        settings=request.app.state.settings,
    )
    return {"ok": True, "message": "如该号码已注册，验证码已发送"}


@router.post("/auth/sms/login", summary="短信验证码登录")
async def sms_login(
    body: SmsLoginRequest, request: Request, response: Response, session: DB
) -> dict:
    signed = await service.sign_in_sms(
        session,
        phone=body.phone,
        code=body.code,
        secret=request.app.state.secret_key,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        settings=request.app.state.settings,
    )
    set_session_cookies(request, response, signed)
    actor = await service.actor_for_account(
        session, signed.account, via="session", csrf_token=signed.csrf_token
    )
    return {"account": account_read(actor).model_dump(), "csrf_token": signed.csrf_token}


@router.get("/me", summary="当前登录账户", response_model=AccountRead)
async def me(actor: CurrentActor) -> AccountRead:
    return account_read(actor)


@router.get("/me/records", summary="我的信息：本人、所代表的企业及经办人授权")
async def my_records(request: Request) -> ORJSONResponse:
    # The portal's hottest read: one pooled connection, statements built once,
    # plain rows, no ORM session and no dependency graph (bench/run.py read).
    async with request.app.state.engine.connect() as conn:
        actor = await read_actor(request, conn)
        recs = await repository.get_my_records_on(conn, actor)
        await conn.commit()  # keeps a session-expiry refresh, if one was written
    person = recs["person"]
    return ORJSONResponse(
        {
            "account": account_dict(actor),
            "person": person_dict(person, actor) if person else None,
            "enterprises": [enterprise_dict(e) for e in recs["enterprises"]],
            "agents": [agent_dict(a) for a in recs["agents"]],
        }
    )


@router.put("/me/preferences", summary="显示设置（长者模式、繁体显示）")
async def update_preferences(body: PreferenceUpdate, actor: CurrentActor, session: DB) -> dict:
    prefs = {}
    if body.elderly is not None:
        prefs = await service.set_preference(session, actor, "elderly", body.elderly)
    if body.script is not None:
        prefs = await service.set_preference(session, actor, "script", body.script)
    return {"preferences": prefs}


@router.get("/persons", summary="自然人列表（按数据权限）", response_model=Page[PersonRead])
async def list_persons(
    actor: CurrentActor,
    session: DB,
    q: Annotated[str, Query(max_length=50, description="姓名，或完整的身份号码/手机号")] = "",
    region: Annotated[
        str | None, Query(pattern=r"^\d{12}$", description="行政区划代码（12位）")
    ] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Page[PersonRead]:
    rows, nxt = await repository.get_persons(
        session, actor, q=q.strip(), region_code=region, after=after, limit=limit
    )
    return Page[PersonRead](items=[person_read(p, actor) for p in rows], next_after=nxt)


@router.get("/persons/{person_id}", summary="自然人详情", response_model=PersonRead)
async def get_person(person_id: int, actor: CurrentActor, session: DB) -> PersonRead:
    person = await access.access_person(session, actor, person_id)
    if actor.sees_full_identifiers and actor.kind == "staff":
        # Reading a full identity number is personal-data access: logged (个人信息保护法).
        await audit.record(
            session,
            actor=actor.ref,
            action="person.viewed",
            target_type="person",
            target_id=person.id,
            region_code=person.region_code,
        )
    return person_read(person, actor)


@router.get("/enterprises", summary="法人列表（按数据权限）", response_model=Page[EnterpriseRead])
async def list_enterprises(
    actor: CurrentActor,
    session: DB,
    q: Annotated[str, Query(max_length=100)] = "",
    region: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Page[EnterpriseRead]:
    rows, nxt = await repository.get_enterprises(
        session, actor, q=q.strip(), region_code=region, after=after, limit=limit
    )
    return Page[EnterpriseRead](items=[enterprise_read(e) for e in rows], next_after=nxt)


@router.get("/enterprises/{enterprise_id}", summary="法人详情", response_model=EnterpriseRead)
async def get_enterprise(enterprise_id: int, actor: CurrentActor, session: DB) -> EnterpriseRead:
    return enterprise_read(await access.access_enterprise(session, actor, enterprise_id))


@router.post(
    "/enterprises/{enterprise_id}/agents",
    summary="法定代表人授权经办人",
    response_model=AgentRead,
    status_code=201,
)
async def create_agent(
    enterprise_id: int, body: AgentCreate, actor: CurrentActor, session: DB
) -> AgentRead:
    person = await repository.get_by_id_number(session, body.id_number)
    if person is None:
        raise NotFound(
            "未找到该公民身份号码对应的实名用户，请经办人先完成注册", code="agent_person_not_found"
        )
    row = await service.authorise_agent(
        session, actor, enterprise_id=enterprise_id, agent=person, valid_until=body.valid_until
    )
    return agent_read(row)


@router.delete("/agents/{agent_id}", summary="撤销经办人授权", response_model=AgentRead)
async def delete_agent(agent_id: int, actor: CurrentActor, session: DB) -> AgentRead:
    return agent_read(await service.revoke_agent(session, actor, agent_id))
