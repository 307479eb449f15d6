"""Electronic licences JSON API: public keys and verification (public), licence types,
seals, issuance, change, revocation, the actor's licences."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.routing import Route

from tongban.core.clock import local, now
from tongban.core.errors import AppError, PermissionDenied, ValidationFailed, field_errors
from tongban.identity.access import Actor
from tongban.identity.api import client_ip
from tongban.licences import access, config, payload, service
from tongban.licences.models import NATIONAL, Licence, LicenceType, Seal
from tongban.licences.schemas import (
    LicenceChange,
    LicenceIssue,
    LicenceTypeCreate,
    LicenceTypeUpdate,
    SealCreate,
    StatusChange,
    VerifyRequest,
    history_dict,
    licence_dict,
    type_dict,
)
from tongban.web.app import ORJSONResponse
from tongban.web.deps import DB, CurrentActor, raw_connection, request_transaction

router = APIRouter(tags=["电子证照"])

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _today() -> Any:
    return local(now(), config.settings().timezone).date()


# --- public: keys and verification ---------------------------------------------------------------


@router.get("/licences/keys", summary="证照验签公钥（离线核验用）")
async def public_keys(session: DB) -> Response:
    """Every seal and seal-maker public key, active or retired, with validity and
    the signed seal (GB/T 38540 shape): what an offline verifier needs."""
    body = await service.public_keys(session)
    return ORJSONResponse(body, headers={"Cache-Control": "public, max-age=300"})


async def _requester(request: Request, session: Any) -> str:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        from tongban.identity.service import resolve_bearer

        actor = await resolve_bearer(session, auth[7:].strip())
        if actor is None:
            raise AppError("访问令牌无效或已过期", code="invalid_token", status=401)
        return actor.ref
    return "anonymous"


def _verify_text(raw: bytes) -> str:
    """The identifier or payload of a verify request body; Chinese errors."""
    try:
        body = VerifyRequest.model_validate(orjson.loads(raw) if raw else {})
    except orjson.JSONDecodeError as e:
        raise ValidationFailed("请求内容不是有效的 JSON", code="validation_failed") from e
    except ValidationError as e:
        raise ValidationFailed(details=field_errors(e.errors())) from e
    text = body.payload or body.identifier
    if not text:
        raise ValidationFailed("请提供证照标识或二维码内容", code="verify_input_required")
    return text


def _hot_text(raw: bytes) -> str:
    """``_verify_text`` for the common body, ``{"payload": "<text>"}``, without
    the model (same outcome); any other body goes through ``_verify_text``."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if type(body) is dict and len(body) == 1:
        text = body.get("payload")
        if type(text) is str and len(text) <= 2000:
            text = text.strip()
            if text:
                return text
    return _verify_text(raw)


@router.post(
    "/licences/verify",
    summary="核验电子证照（证照标识或二维码内容）",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": VerifyRequest.model_json_schema()}},
        }
    },
)
async def verify(request: Request, session: DB) -> Response:
    """Answer valid / expired / revoked / annulled / superseded / not_found /
    invalid with the issuer and the holder masked. Public; a departmental
    system may send its bearer token so the log names it. Every call is logged.

    Body: ``{"identifier": "1.2.156.3005.2…"}`` or ``{"payload": "TB1.…"}``.
    Anonymous QR-payload checks are served by ``verify_hot`` (same answers).
    """
    text = _verify_text(await request.body())
    requester = await _requester(request, session)
    v = await service.verify(
        session,
        text=text,
        channel="api",
        requester=requester,
        ip=client_ip(request),
        maker=request.app.state.sessionmaker,
    )
    return ORJSONResponse(v.to_dict())


async def _general(request: Request) -> Response:
    """``verify`` with its own session, committed as the request edge would."""
    async with request_transaction(request) as session:
        return await verify(request, session)


async def verify_hot(request: Request) -> Response:
    """``POST /api/v1/licences/verify`` for the common case — an anonymous QR
    payload, verification log batched — served before FastAPI's routing
    (``web.app.HotRoutes``): the body read and validated by hand, the
    signature checked against the cached seal key, the licence's status read
    on the pooled connection's driver (one indexed read), the log row queued.
    Anything else (a bearer token, an identifier, unbatched logging) takes
    the general path, ``verify``."""
    if request.headers.get("authorization") or not service.log_batched():
        return await _general(request)
    text = _hot_text(await request.body())
    if not payload.looks_like_payload(text):
        return await _general(request)
    maker, ip = request.app.state.sessionmaker, client_ip(request)
    try:
        async with raw_connection(request) as conn:
            lookup = service.RawLookup(conn, _db_key(request))
            v = await service.verify_payload(lookup, text, today=service.today_local())
    except ValidationFailed:
        service.log_verification(
            None,
            maker,
            licence_id=None,
            identifier="",
            channel="api",
            requester="anonymous",
            ip=ip,
            result="invalid",
            region_code=NATIONAL,
        )
        raise
    service.log_verification(
        None,
        maker,
        licence_id=v.licence_id,
        identifier=v.identifier,
        channel="api",
        requester="anonymous",
        ip=ip,
        result=v.result,
        region_code=v.region_code,
    )
    return ORJSONResponse(v.to_dict())


def _db_key(request: Request) -> str:
    state = request.app.state
    key = getattr(state, "licence_db_key", None)
    if key is None:
        key = state.licence_db_key = str(state.engine.url)
    return key


def hot_routes() -> list[Route]:
    return [
        Route("/api/v1/licences/verify", verify_hot, methods=["POST"], name="licence_verify_hot")
    ]


# --- licence types (证照目录) -------------------------------------------------------------------


@router.get("/licence-types", summary="证照目录")
async def list_types(session: DB, actor: CurrentActor) -> dict[str, Any]:
    rows = (await session.execute(select(LicenceType).order_by(LicenceType.code))).scalars()
    return {"items": [type_dict(t) for t in rows]}


@router.post("/licence-types", status_code=201, summary="登记证照类型")
async def create_type(body: LicenceTypeCreate, session: DB, actor: CurrentActor) -> dict[str, Any]:
    return type_dict(await service.create_type(session, actor, body))


@router.patch("/licence-types/{type_id}", summary="修改证照类型")
async def update_type(
    type_id: Id, body: LicenceTypeUpdate, session: DB, actor: CurrentActor
) -> dict[str, Any]:
    return type_dict(await service.update_type(session, actor, type_id, body))


# --- seals ---------------------------------------------------------------------------------------


def seal_dict(s: Seal) -> dict[str, Any]:
    """A seal's public facts (never its private key)."""
    return {
        "id": s.id,
        "kind": s.kind,
        "department_id": s.department_id,
        "name": s.name,
        "esid": s.esid,
        "algorithm": s.algorithm,
        "key_id": s.key_id,
        "public_key": s.public_key,
        "keystore": s.keystore,
        "status": s.status,
        "valid_from": s.valid_from.isoformat(),
        "valid_until": s.valid_until.isoformat(),
        "retired_at": s.retired_at.isoformat() if s.retired_at else None,
        "created_at": s.created_at.isoformat(),
    }


@router.get("/licence-seals", summary="电子印章（公开信息）")
async def list_seals(
    session: DB, actor: CurrentActor, department_id: Annotated[int | None, Query(ge=1)] = None
) -> dict[str, Any]:
    if actor.kind != "staff":
        raise PermissionDenied()
    return {
        "items": [
            seal_dict(s) for s in await service.get_seals(session, department_id=department_id)
        ]
    }


@router.post("/licence-seals", status_code=201, summary="制作或更换部门电子印章（轮换）")
async def create_seal(body: SealCreate, session: DB, actor: CurrentActor) -> dict[str, Any]:
    png = None
    if body.image_sha256:
        from tongban.core import files

        png = (
            files.path_of(body.image_sha256).read_bytes()
            if files.path_of(body.image_sha256).exists()
            else None
        )
        if png is None or not png.startswith(b"\x89PNG"):
            raise ValidationFailed("印章图片应为已上传的 PNG 文件", code="invalid_seal_image")
    seal = await service.create_seal(
        session,
        actor,
        body.department_id,
        algorithm=body.algorithm,
        image_png=png,
        image_sha256=body.image_sha256,
    )
    return seal_dict(seal)


# --- licences ------------------------------------------------------------------------------------


@router.get("/licences", summary="我的证照 / 本部门证照")
async def list_licences(
    session: DB,
    actor: CurrentActor,
    before: Annotated[int | None, Query(ge=1, description="上一页最后一条的 id")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    stmt = (
        access.scope_licences(actor, select(Licence)).order_by(Licence.id.desc()).limit(limit + 1)
    )
    if before is not None:
        stmt = stmt.where(Licence.id < before)
    rows = list((await session.execute(stmt)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    full, today = access.sees_full_identifiers(actor), _today()
    return {
        "items": [licence_dict(lic, full=full, today=today) for lic in rows],
        "next_before": rows[-1].id if more and rows else None,
    }


@router.post("/licences", status_code=201, summary="颁发证照")
async def issue(body: LicenceIssue, session: DB, actor: CurrentActor) -> dict[str, Any]:
    if actor.kind != "staff":
        raise PermissionDenied("只有颁发部门的工作人员可以颁发证照")
    lic = await service.issue(
        session,
        actor,
        type_code=body.type_code,
        data=body.data,
        holder_person_id=body.holder_person_id,
        holder_enterprise_id=body.holder_enterprise_id,
        number=body.number,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
    )
    return licence_dict(lic, full=access.sees_full_identifiers(actor), today=_today())


@router.get("/licences/{licence_id}", summary="证照详情")
async def get_licence(licence_id: Id, session: DB, actor: CurrentActor) -> dict[str, Any]:
    lic = await access.access_licence(session, actor, licence_id)
    out = licence_dict(lic, full=access.sees_full_identifiers(actor), today=_today())
    out["history"] = [history_dict(h) for h in await service.get_history(session, lic.id)]
    return out


async def _after(session: Any, actor: Actor, lic: Licence) -> dict[str, Any]:
    return licence_dict(lic, full=access.sees_full_identifiers(actor), today=_today())


@router.post("/licences/{licence_id}/change", summary="变更证照（生成新版本）")
async def change(
    licence_id: Id, body: LicenceChange, session: DB, actor: CurrentActor
) -> dict[str, Any]:
    lic = await service.change(
        session, actor, licence_id, reason=body.reason, data=body.data, valid_until=body.valid_until
    )
    return await _after(session, actor, lic)


@router.post("/licences/{licence_id}/revoke", summary="吊销证照")
async def revoke(
    licence_id: Id, body: StatusChange, session: DB, actor: CurrentActor
) -> dict[str, Any]:
    return await _after(
        session, actor, await service.revoke(session, actor, licence_id, reason=body.reason)
    )


@router.post("/licences/{licence_id}/annul", summary="注销证照")
async def annul(
    licence_id: Id, body: StatusChange, session: DB, actor: CurrentActor
) -> dict[str, Any]:
    return await _after(
        session, actor, await service.annul(session, actor, licence_id, reason=body.reason)
    )
