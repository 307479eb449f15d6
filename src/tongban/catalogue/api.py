"""Catalogue JSON API (事项管理接口) under ``/api/v1/catalogue``: base items,
implementation entries, their versions and change logs, and the application
form of an implementation with the applicant's prefill.

Thin: reads go through ``access`` and ``repository``, every change through one
``service`` function (which checks who may). A record outside the caller's
scope answers 404 ``not_found`` exactly like one that does not exist.
Cookie-authenticated writes send a JSON body or the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from tongban.catalogue import access, codes, forms, repository, service
from tongban.catalogue.models import (
    ACTIONS,
    NATIONAL,
    CatalogueChange,
    CatalogueItem,
    Implementation,
)
from tongban.catalogue.schemas import (
    ChangeRead,
    FormCheck,
    ImplementationCreate,
    ImplementationDetail,
    ImplementationRead,
    ImplementationUpdate,
    ImplementationVersionRead,
    ItemCreate,
    ItemDetail,
    ItemRead,
    ItemUpdate,
    ItemVersionRead,
    OnlineOverride,
    RetireRequest,
    VersionRead,
    has_nul,
)
from tongban.core.errors import NotFound, PermissionDenied, ValidationFailed
from tongban.identity.access import Actor
from tongban.regions.models import Region
from tongban.web.deps import DB, CurrentActor, OptionalActor

router = APIRouter(prefix="/catalogue", tags=["事项管理"])

Id = Annotated[int, Path(ge=1, le=access.MAX_ID)]
VersionNo = Annotated[int, Path(ge=1, le=1_000_000)]
After = Annotated[
    int | None, Query(ge=0, le=access.MAX_ID, description="上一页最后一条的 id（键集分页）")
]
Limit = Annotated[int, Query(ge=1, le=100)]
Status = Literal["draft", "published", "retired"]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_after: int | None = None


def _clean_text(value: str, field: str) -> str:
    if "\x00" in value:
        raise ValidationFailed(
            "内容包含不允许的控制字符",
            details=[{"field": field, "message": "包含不允许的控制字符"}],
        )
    return value.strip()


def _check_body(body: BaseModel) -> None:
    if has_nul(body.model_dump()):
        raise ValidationFailed("提交的内容包含不允许的控制字符（NUL）", code="validation_failed")


def _require_staff(actor: Actor) -> None:
    if actor.kind != "staff":
        raise PermissionDenied("仅工作人员可以查看")


# --- read models ------------------------------------------------------------------------------


def item_read(item: CatalogueItem) -> ItemRead:
    r = ItemRead.model_validate(item)
    r.item_type_label = codes.item_type_label(item.item_type)
    r.has_draft = item.status != "retired" and item.current_version != item.published_version
    return r


def impl_read(impl: Implementation) -> ImplementationRead:
    r = ImplementationRead.model_validate(impl)
    r.has_draft = impl.status != "retired" and impl.current_version != impl.published_version
    return r


def change_read(change: CatalogueChange, actor_name: str) -> ChangeRead:
    r = ChangeRead.model_validate(change)
    r.action_label = ACTIONS.get(change.action, change.action)
    r.actor_name = actor_name
    return r


async def _item_detail(session: DB, actor: Actor | None, item: CatalogueItem) -> ItemDetail:
    versions = await repository.get_item_versions(session, item.id)
    if access.sees_drafts(actor):
        shown = next(v for v in versions if v.version == item.current_version)
    else:
        versions = [v for v in versions if v.version == item.published_version]
        if not versions:
            raise NotFound()
        shown = versions[0]
    return ItemDetail(
        **item_read(item).model_dump(),
        version=ItemVersionRead.model_validate(shown),
        versions=[VersionRead.model_validate(v) for v in versions],
    )


async def _impl_detail(
    session: DB, actor: Actor | None, impl: Implementation
) -> ImplementationDetail:
    versions = await repository.get_impl_versions(session, impl.id)
    if access.sees_drafts(actor):
        shown = next(v for v in versions if v.version == impl.current_version)
    else:
        versions = [v for v in versions if v.version == impl.published_version]
        if not versions:
            raise NotFound()
        shown = versions[0]
    return ImplementationDetail(
        **impl_read(impl).model_dump(),
        version=ImplementationVersionRead.model_validate(shown),
        versions=[VersionRead.model_validate(v) for v in versions],
    )


# --- base items (基本目录) ----------------------------------------------------------------------


@router.get(
    "/items",
    summary="基本目录事项列表（按数据权限；访客只见已发布）",
    response_model=Page[ItemRead],
)
async def list_items(
    actor: OptionalActor,
    session: DB,
    q: Annotated[
        str, Query(max_length=100, description="事项名称的一部分，或基本编码（可只填开头）")
    ] = "",
    type: Annotated[str | None, Query(pattern=r"^\d{2}$", description="事项类型代码")] = None,
    status: Annotated[Status | None, Query(description="状态")] = None,
    after: After = None,
    limit: Limit = 20,
) -> Page[ItemRead]:
    rows, nxt = await repository.get_items(
        session,
        actor,
        q=_clean_text(q, "q"),
        item_type=type,
        status=status,
        after=after,
        limit=limit,
    )
    return Page[ItemRead](items=[item_read(i) for i in rows], next_after=nxt)


@router.post(
    "/items", summary="新建基本目录事项（草稿）", response_model=ItemDetail, status_code=201
)
async def create_item(body: ItemCreate, actor: CurrentActor, session: DB) -> ItemDetail:
    _check_body(body)
    if body.region_code != NATIONAL and await session.get(Region, body.region_code) is None:
        raise ValidationFailed(
            "行政区划不存在", details=[{"field": "region_code", "message": "行政区划代码不存在"}]
        )
    item = await service.create_item(
        session,
        actor,
        base_code=body.base_code,
        fields=body.fields,
        region_code=body.region_code,
        note=body.note,
    )
    return await _item_detail(session, actor, item)


@router.get("/items/{item_id}", summary="基本目录事项详情（含版本列表）", response_model=ItemDetail)
async def get_item(item_id: Id, actor: OptionalActor, session: DB) -> ItemDetail:
    item = await access.access_item(session, actor, item_id)
    return await _item_detail(session, actor, item)


@router.put(
    "/items/{item_id}",
    summary="保存草稿（已发布的版本不变，另开新草稿）",
    response_model=ItemDetail,
)
async def save_item(item_id: Id, body: ItemUpdate, actor: CurrentActor, session: DB) -> ItemDetail:
    _check_body(body)
    item = await access.access_item(session, actor, item_id)
    await service.save_item_draft(session, actor, item.id, body.fields, note=body.note)
    return await _item_detail(session, actor, item)


@router.post("/items/{item_id}/publish", summary="发布草稿", response_model=ItemDetail)
async def publish_item(item_id: Id, actor: CurrentActor, session: DB) -> ItemDetail:
    item = await access.access_item(session, actor, item_id)
    await service.publish_item(session, actor, item.id)
    return await _item_detail(session, actor, item)


@router.post("/items/{item_id}/retire", summary="停用事项（须填写原因）", response_model=ItemDetail)
async def retire_item(
    item_id: Id, body: RetireRequest, actor: CurrentActor, session: DB
) -> ItemDetail:
    _check_body(body)
    item = await access.access_item(session, actor, item_id)
    await service.retire_item(session, actor, item.id, reason=body.reason)
    return await _item_detail(session, actor, item)


@router.get("/items/{item_id}/versions", summary="版本列表", response_model=list[VersionRead])
async def list_item_versions(item_id: Id, actor: OptionalActor, session: DB) -> list[VersionRead]:
    return (await get_item(item_id, actor, session)).versions


@router.get(
    "/items/{item_id}/versions/{version}",
    summary="某一版本的全部要素",
    response_model=ItemVersionRead,
)
async def get_item_version(
    item_id: Id, version: VersionNo, actor: OptionalActor, session: DB
) -> ItemVersionRead:
    item = await access.access_item(session, actor, item_id)
    if not access.sees_drafts(actor) and version != item.published_version:
        raise NotFound("事项版本不存在", code="version_not_found")
    row = await repository.get_item_version(session, item.id, version)
    if row is None:
        raise NotFound("事项版本不存在", code="version_not_found")
    return ItemVersionRead.model_validate(row)


@router.get(
    "/items/{item_id}/changes", summary="变更记录（工作人员）", response_model=Page[ChangeRead]
)
async def list_item_changes(
    item_id: Id,
    actor: CurrentActor,
    session: DB,
    before: Annotated[
        int | None, Query(ge=1, le=access.MAX_ID, description="上一页最小的 id")
    ] = None,
    limit: Limit = 50,
) -> Page[ChangeRead]:
    _require_staff(actor)
    item = await access.access_item(session, actor, item_id)
    rows, nxt = await repository.get_changes(
        session, entity="item", entity_id=item.id, before=before, limit=limit
    )
    return Page[ChangeRead](items=[change_read(c, n) for c, n in rows], next_after=nxt)


# --- implementation entries (实施清单) ------------------------------------------------------------


@router.get(
    "/implementations",
    summary="实施清单列表（按数据权限；访客只见已发布）",
    response_model=Page[ImplementationRead],
)
async def list_implementations(
    actor: OptionalActor,
    session: DB,
    q: Annotated[
        str, Query(max_length=100, description="事项名称的一部分，或实施编码（可只填开头）")
    ] = "",
    region: Annotated[
        str | None, Query(pattern=r"^\d{12}$", description="行政区划代码（含下级）")
    ] = None,
    department: Annotated[
        int | None, Query(ge=1, le=access.MAX_ID, description="实施部门 id")
    ] = None,
    item: Annotated[
        int | None, Query(ge=1, le=access.MAX_ID, description="基本目录事项 id")
    ] = None,
    status: Annotated[Status | None, Query()] = None,
    online: Annotated[
        Literal["done", "can", "cannot"] | None, Query(description="全程网办认定")
    ] = None,
    after: After = None,
    limit: Limit = 20,
) -> Page[ImplementationRead]:
    rows, nxt = await repository.get_implementations(
        session,
        actor,
        q=_clean_text(q, "q"),
        region_code=region,
        department_id=department,
        item_id=item,
        status=status,
        online_status=online,
        after=after,
        limit=limit,
    )
    return Page[ImplementationRead](items=[impl_read(i) for i in rows], next_after=nxt)


@router.post(
    "/implementations",
    summary="由已发布的基本目录事项派生实施清单（草稿）",
    response_model=ImplementationDetail,
    status_code=201,
)
async def create_implementation(
    body: ImplementationCreate, actor: CurrentActor, session: DB
) -> ImplementationDetail:
    _check_body(body)
    item = await access.access_item(session, actor, body.item_id)
    dept = await access.access_department(session, actor, body.department_id)
    impl = await service.create_implementation(
        session,
        actor,
        item_id=item.id,
        department_id=dept.id,
        impl_code=body.impl_code or None,
        local=body.local,
        overrides=body.overrides,
        form=body.form,
        note=body.note,
    )
    return await _impl_detail(session, actor, impl)


@router.get(
    "/implementations/{impl_id}",
    summary="实施清单详情（含版本列表）",
    response_model=ImplementationDetail,
)
async def get_implementation(
    impl_id: Id, actor: OptionalActor, session: DB
) -> ImplementationDetail:
    impl = await access.access_implementation(session, actor, impl_id)
    return await _impl_detail(session, actor, impl)


@router.put(
    "/implementations/{impl_id}",
    summary="保存草稿：事项要素、实施要素、申请表单",
    response_model=ImplementationDetail,
)
async def save_implementation(
    impl_id: Id, body: ImplementationUpdate, actor: CurrentActor, session: DB
) -> ImplementationDetail:
    _check_body(body)
    impl = await access.access_implementation(session, actor, impl_id)
    await service.save_implementation_draft(
        session,
        actor,
        impl.id,
        fields=body.fields,
        local=body.local,
        form=body.form,
        note=body.note,
        rebase=body.rebase,
    )
    return await _impl_detail(session, actor, impl)


@router.post(
    "/implementations/{impl_id}/publish", summary="发布草稿", response_model=ImplementationDetail
)
async def publish_implementation(
    impl_id: Id, actor: CurrentActor, session: DB
) -> ImplementationDetail:
    impl = await access.access_implementation(session, actor, impl_id)
    await service.publish_implementation(session, actor, impl.id)
    return await _impl_detail(session, actor, impl)


@router.post(
    "/implementations/{impl_id}/retire",
    summary="停用（须填写原因）",
    response_model=ImplementationDetail,
)
async def retire_implementation(
    impl_id: Id, body: RetireRequest, actor: CurrentActor, session: DB
) -> ImplementationDetail:
    _check_body(body)
    impl = await access.access_implementation(session, actor, impl_id)
    await service.retire_implementation(session, actor, impl.id, reason=body.reason)
    return await _impl_detail(session, actor, impl)


@router.put(
    "/implementations/{impl_id}/online",
    summary="人工认定全程网办（须填写理由）",
    response_model=ImplementationRead,
)
async def set_online(
    impl_id: Id, body: OnlineOverride, actor: CurrentActor, session: DB
) -> ImplementationRead:
    _check_body(body)
    impl = await access.access_implementation(session, actor, impl_id)
    return impl_read(await service.set_online_override(session, actor, impl.id, body))


@router.delete(
    "/implementations/{impl_id}/online",
    summary="取消人工认定，按事项要素自动认定",
    response_model=ImplementationRead,
)
async def reset_online(impl_id: Id, actor: CurrentActor, session: DB) -> ImplementationRead:
    impl = await access.access_implementation(session, actor, impl_id)
    return impl_read(await service.set_online_override(session, actor, impl.id, None))


@router.get(
    "/implementations/{impl_id}/versions", summary="版本列表", response_model=list[VersionRead]
)
async def list_impl_versions(impl_id: Id, actor: OptionalActor, session: DB) -> list[VersionRead]:
    return (await get_implementation(impl_id, actor, session)).versions


@router.get(
    "/implementations/{impl_id}/versions/{version}",
    summary="某一版本的全部要素",
    response_model=ImplementationVersionRead,
)
async def get_impl_version(
    impl_id: Id, version: VersionNo, actor: OptionalActor, session: DB
) -> ImplementationVersionRead:
    impl = await access.access_implementation(session, actor, impl_id)
    if not access.sees_drafts(actor) and version != impl.published_version:
        raise NotFound("实施清单版本不存在", code="version_not_found")
    row = await repository.get_impl_version(session, impl.id, version)
    if row is None:
        raise NotFound("实施清单版本不存在", code="version_not_found")
    return ImplementationVersionRead.model_validate(row)


@router.get(
    "/implementations/{impl_id}/changes",
    summary="变更记录（工作人员）",
    response_model=Page[ChangeRead],
)
async def list_impl_changes(
    impl_id: Id,
    actor: CurrentActor,
    session: DB,
    before: Annotated[int | None, Query(ge=1, le=access.MAX_ID)] = None,
    limit: Limit = 50,
) -> Page[ChangeRead]:
    _require_staff(actor)
    impl = await access.access_implementation(session, actor, impl_id)
    rows, nxt = await repository.get_changes(
        session, entity="implementation", entity_id=impl.id, before=before, limit=limit
    )
    return Page[ChangeRead](items=[change_read(c, n) for c, n in rows], next_after=nxt)


# --- the application form (申请表单) ------------------------------------------------------------


@router.get("/implementations/{impl_id}/form", summary="申请表单（已发布版本）及当前申请人的预填值")
async def get_form(
    impl_id: Id,
    actor: CurrentActor,
    session: DB,
    enterprise_id: Annotated[
        int | None, Query(ge=1, le=access.MAX_ID, description="代表办理的企业 id")
    ] = None,
) -> dict[str, Any]:
    impl, version, form = await repository.get_published_form(session, actor, impl_id)
    values, _ = await repository.get_prefill_values(session, actor, enterprise_id=enterprise_id)
    locked = forms.locked_fields(form, values)
    return {
        "implementation_id": impl.id,
        "name": impl.name,
        "version": version.version,
        "version_id": version.id,
        "form": form,
        "sections": forms.ordered_sections(form),
        "prefill": {**forms.prefill(form, values), **locked},
        "locked": sorted(locked),
    }


@router.post(
    "/implementations/{impl_id}/form/check", summary="按已发布的申请表单校验填写内容（不提交）"
)
async def check_form(
    impl_id: Id, body: FormCheck, actor: CurrentActor, session: DB
) -> dict[str, Any]:
    _check_body(body)
    _impl, version, form = await repository.get_published_form(session, actor, impl_id)
    values, _ = await repository.get_prefill_values(
        session, actor, enterprise_id=body.enterprise_id
    )
    data = {**body.data, **forms.locked_fields(form, values)}
    clean, errors = forms.validate_submission(form, data)
    return {"valid": not errors, "version_id": version.id, "data": clean, "errors": errors}
