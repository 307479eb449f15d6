"""我的证照 JSON API: the holder's licences, 用证授权 and 使用记录, 免证办 offers,
renewal drafts; the third party's access to a shared licence; 证照汇聚 imports.
Thin: everything goes through ``wallet``, ``reuse``, ``expiry`` and ``bulk``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tongban.catalogue.guide_pages import public_base
from tongban.core.errors import NotFound, PermissionDenied
from tongban.identity.access import Actor
from tongban.identity.api import client_ip
from tongban.licences import bulk, expiry, reuse, service, wallet
from tongban.licences.schemas import history_dict, licence_dict
from tongban.web.deps import DB, CurrentActor, OptionalActor

router = APIRouter(tags=["我的证照"])
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
Token = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _holder(actor: Actor) -> Actor:
    if actor.kind != "person":
        raise NotFound("“我的证照”供个人用户登录后使用", code="wallet_for_persons")
    return actor


def wallet_item(lic: Any, on: Any) -> dict[str, Any]:
    """A licence as the wallet lists it: the licence (holder's own codes in full) and its countdown."""
    return licence_dict(lic, full=True, today=on) | {
        "days_left": wallet.days_left(lic, on),
        "countdown": wallet.expiry_text(lic, on),
        "expiry_level": wallet.expiry_level(lic, on),
        "page_url": f"/me/licences/{lic.id}",
    }


@router.get("/me/licences", summary="我的证照（本人及所代表企业的证照）")
async def my_licences(
    session: DB,
    actor: CurrentActor,
    status: Annotated[
        str,
        Query(
            max_length=10,
            description="valid 有效 / expiring 即将到期 / expired 已过期 / ended 已吊销或注销",
        ),
    ] = "",
    holder: Annotated[str, Query(max_length=24, description="me 本人 / ent:<企业 id>")] = "",
    type_code: Annotated[str, Query(max_length=21, description="证照类型代码")] = "",
    q: Annotated[str, Query(max_length=50, description="证照名称或编号")] = "",
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="上一页最后一条的 id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = wallet.PAGE_SIZE,
) -> dict[str, Any]:
    actor = _holder(actor)
    if status and status not in wallet.STATUS_FILTERS:
        from tongban.core.errors import ValidationFailed

        raise ValidationFailed("证照状态筛选无效", code="invalid_filter")
    await wallet.claim_imported(session, actor)
    rows, next_before = await wallet.get_wallet(
        session,
        actor,
        wallet.WalletFilter(
            status=status, holder=holder, type_code=type_code, q=q, before=before, limit=limit
        ),
    )
    on = wallet.today()
    return {
        "items": [wallet_item(lic, on) for lic in rows],
        "next_before": next_before,
        "counts": await wallet.wallet_counts(session, actor),
    }


@router.get("/me/licences/{licence_id}", summary="我的证照详情（含用证授权、使用记录）")
async def my_licence(licence_id: Id, session: DB, actor: CurrentActor) -> dict[str, Any]:
    lic = await wallet.get_holder_licence(session, _holder(actor), licence_id)
    on = wallet.today()
    return wallet_item(lic, on) | {
        "history": [history_dict(h) for h in await service.get_history(session, lic.id)],
        "shares": [wallet.share_dict(s) for s in await wallet.get_shares(session, lic.id)],
        "uses": [wallet.use_dict(u) for u in await wallet.get_uses(session, lic.id)],
    }


class ShareCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    recipient: str = Field(min_length=2, max_length=200, description="被授权方（单位或个人名称）")
    purpose: str = Field(min_length=2, max_length=500, description="用途")
    days: int = Field(
        wallet.SHARE_DEFAULT_DAYS, ge=1, le=wallet.SHARE_MAX_DAYS, description="授权期限（天）"
    )
    show_full: bool = Field(False, description="向被授权方显示完整证件号码")


@router.get("/me/licences/{licence_id}/shares", summary="用证授权列表")
async def shares(licence_id: Id, session: DB, actor: CurrentActor) -> dict[str, Any]:
    lic = await wallet.get_holder_licence(session, _holder(actor), licence_id)
    return {"items": [wallet.share_dict(s) for s in await wallet.get_shares(session, lic.id)]}


@router.post(
    "/me/licences/{licence_id}/shares",
    status_code=201,
    summary="授权第三方使用证照（返回一次性显示的链接）",
)
async def create_share(
    licence_id: Id, body: ShareCreate, request: Request, session: DB, actor: CurrentActor
) -> dict[str, Any]:
    share, token = await wallet.create_share(
        session,
        _holder(actor),
        licence_id,
        recipient=body.recipient,
        purpose=body.purpose,
        days=body.days,
        show_full=body.show_full,
    )
    return wallet.share_dict(share) | {
        "token": token,
        "url": f"{public_base(request)}/shared/{token}",
    }


@router.post("/me/licences/{licence_id}/shares/{share_id}/revoke", summary="撤销用证授权")
async def revoke_share(
    licence_id: Id, share_id: Id, session: DB, actor: CurrentActor
) -> dict[str, Any]:
    return wallet.share_dict(
        await wallet.revoke_share(session, _holder(actor), licence_id, share_id)
    )


@router.get("/me/licences/{licence_id}/uses", summary="使用记录")
async def uses(
    licence_id: Id,
    session: DB,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    lic = await wallet.get_holder_licence(session, _holder(actor), licence_id)
    return {
        "items": [wallet.use_dict(u) for u in await wallet.get_uses(session, lic.id, limit=limit)]
    }


# --- 免证办 ---------------------------------------------------------------------------------------------------


@router.get("/me/licence-offers", summary="免证办：可替代申请材料的电子证照和共享数据")
async def offers(
    session: DB,
    actor: CurrentActor,
    implementation_id: Annotated[int, Query(ge=1, le=2**63 - 1)],
    enterprise_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> dict[str, Any]:
    """Each material of the item that a licence type or shared data replaces, with what the
    applicant holds for it. To use one, submit the material as ``{"name", "licence_id"}``
    through ``POST /api/v1/me/licence-applications`` (or tick it on the online form)."""
    impl, found = await reuse.get_offers(
        session, _holder(actor), implementation_id, enterprise_id=enterprise_id
    )
    on = wallet.today()
    return {
        "implementation_id": impl.id,
        "items": [
            {
                "index": o.index,
                "material": o.material,
                "licence_type_code": o.licence_type_code,
                "data_element": o.data_element,
                "data_label": o.data_label or None,
                "licences": [
                    wallet_item(x, on) | {"choice": f"{reuse.LICENCE_PREFIX}{x.id}"}
                    for x in o.licences
                ],
                "data_choice": f"{reuse.DATA_PREFIX}{o.data_element}" if o.data_label else None,
            }
            for o in found
        ],
    }


class ReuseApplication(BaseModel):
    model_config = ConfigDict(extra="forbid")
    implementation_id: int = Field(ge=1, le=2**63 - 1)
    form_data: dict[str, Any] = Field(default_factory=dict)
    enterprise_id: int | None = Field(None, ge=1, le=2**63 - 1)
    channel: str = Field("pc", pattern="^(pc|mobile)$")
    choices: dict[str, str] = Field(
        default_factory=dict,
        max_length=100,
        description="材料序号 → licence:<证照 id> 或 data:<数据项>（即持证人同意用证授权）",
    )
    consent: bool = Field(description="持证人同意将所选证照、数据提供给办理部门用于本次申请")


@router.post(
    "/me/licence-applications",
    status_code=201,
    summary="免证办申请：以我的电子证照替代申请材料提交申请",
)
async def reuse_application(
    body: ReuseApplication,
    request: Request,
    response: Response,
    session: DB,
    actor: CurrentActor,
) -> dict[str, Any]:
    """File an application whose materials are replaced by wallet licences or shared data
    (with ``Idempotency-Key``, as ``POST /api/v1/cases``); the trail records the authorised use."""
    from tongban.core.errors import ValidationFailed

    actor = _holder(actor)
    if not body.consent and body.choices:
        raise ValidationFailed("请确认同意用证授权", code="consent_required")
    key = request.headers.get("idempotency-key", "")
    if not key:
        raise ValidationFailed(
            "请在请求头中提供 Idempotency-Key，以免重复提交", code="idempotency_key_required"
        )
    if any(not reuse.is_choice(v) for v in body.choices.values()):
        raise ValidationFailed(
            "材料选择应为 licence:<证照 id> 或 data:<数据项>", code="material_invalid"
        )
    case, created = await reuse.file_with_choices(
        session,
        actor,
        implementation_id=body.implementation_id,
        form_data=body.form_data,
        idempotency_key=key,
        channel=body.channel,
        enterprise_id=body.enterprise_id,
        materials=dict(body.choices),
    )
    if not created:
        response.status_code = 200
    return {
        "case_id": case.id,
        "number": case.number,
        "case_url": f"/me/cases/{case.id}",
        "created": created,
    }


# --- renewals --------------------------------------------------------------------------------------------------


@router.get("/me/licence-renewals", summary="待确认的续期申请")
async def renewals(session: DB, actor: CurrentActor) -> dict[str, Any]:
    return {
        "items": [
            expiry.renewal_dict(r, lic)
            for r, lic in await expiry.get_renewals(session, _holder(actor))
        ]
    }


@router.post("/me/licence-renewals/{renewal_id}/confirm", summary="确认并提交续期申请")
async def confirm_renewal(renewal_id: Id, session: DB, actor: CurrentActor) -> dict[str, Any]:
    case = await expiry.confirm_renewal(session, _holder(actor), renewal_id)
    return {"case_id": case.id, "number": case.number, "case_url": f"/me/cases/{case.id}"}


@router.post("/me/licence-renewals/{renewal_id}/dismiss", summary="暂不办理续期")
async def dismiss_renewal(renewal_id: Id, session: DB, actor: CurrentActor) -> dict[str, Any]:
    r = await expiry.dismiss_renewal(session, _holder(actor), renewal_id)
    return expiry.renewal_dict(r)


# --- the third party -------------------------------------------------------------------------------------------


@router.get("/shared-licences/{token}", summary="被授权方查看证照（用证授权链接）")
async def shared_licence(
    token: Token, request: Request, session: DB, actor: OptionalActor
) -> dict[str, Any]:
    share, lic = await wallet.open_share(session, token)
    wallet.record_use(
        session,
        lic,
        "view",
        share=share,
        actor_ref=actor.ref if actor else "anonymous",
        ip=client_ip(request),
    )
    return {
        "licence": licence_dict(lic, full=share.show_full, today=wallet.today())
        | {"pdf_url": f"/shared/{token}.pdf"},
        "share": {
            k: v
            for k, v in wallet.share_dict(share).items()
            if k in ("recipient", "purpose", "valid_until", "valid_from")
        },
    }


@router.post("/shared-licences/{token}/verify", summary="被授权方在线核验证照")
async def shared_verify(
    token: Token, request: Request, session: DB, actor: OptionalActor
) -> dict[str, Any]:
    share, lic = await wallet.open_share(session, token)
    ip = client_ip(request)
    v = await service.verify(
        session,
        text=lic.identifier,
        channel="api",
        requester=f"share:{share.id}",
        ip=ip,
        maker=request.app.state.sessionmaker,
    )
    wallet.record_use(
        session,
        lic,
        "verify",
        share=share,
        actor_ref=actor.ref if actor else "anonymous",
        ip=ip,
        result=v.result,
    )
    return v.to_dict()


# --- 证照汇聚 -----------------------------------------------------------------------------------------------------


@router.post(
    "/licence-imports",
    status_code=201,
    summary="证照汇聚：导入历史证照（CSV 或 xlsx，整批校验后写入）",
)
async def create_import(
    request: Request,
    session: DB,
    actor: CurrentActor,
    type_code: Annotated[str, Query(min_length=21, max_length=21, description="证照类型代码")],
    department_id: Annotated[int, Query(ge=1, le=2**63 - 1, description="颁发部门")],
    file_name: Annotated[str, Query(max_length=200)] = "upload.csv",
    dry_run: Annotated[bool, Query(description="只校验，不写入")] = False,
) -> dict[str, Any]:
    """The request body is the file (``text/csv`` or the xlsx bytes), at most
    ``bulk.MAX_API_ROWS`` rows. Every row is checked first: any error answers 422
    ``licence_import_invalid`` with the errors by row number and writes nothing.
    Rows already imported (same type and 证照编号) are skipped. Staff of the
    issuing department (approver, dept_admin)."""
    if actor.kind != "staff":
        raise PermissionDenied("只有颁发部门的工作人员可以导入证照")
    data = await request.body()
    if not data:
        from tongban.core.errors import ValidationFailed

        raise ValidationFailed("请上传导入文件", code="file_required")
    report = await bulk.import_data(
        session,
        actor,
        file_name=file_name,
        data=data,
        type_code=type_code,
        department_id=department_id,
        dry_run=dry_run,
    )
    return report.to_dict()


@router.get("/licence-imports/{import_id}", summary="证照汇聚批次报告")
async def get_import(import_id: Id, session: DB, actor: CurrentActor) -> dict[str, Any]:
    job = await bulk.get_import(session, actor, import_id)
    return {
        "id": job.id,
        "status": job.status,
        "file_name": job.file_name,
        "type_code": job.type_code,
        "department_id": job.department_id,
        "total": job.total_rows,
        "imported": job.imported,
        "skipped": job.skipped,
        "next_row": job.next_row,
        "started_at": job.started_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "report": job.report,
    }
