"""事项管理 pages under ``/admin/catalogue``: base items and implementation
entries — lists, edit forms, versions and their differences, change logs,
publishing and retiring with a confirmation, deriving implementation entries,
the 全程网办 override, and the application-form editor.

Staff read what ``catalogue.access`` lets them; every change goes through one
``catalogue.service`` function, which decides who may (platform admins;
department admins for their department's entries). Forms post every input,
row operations included ("add a material", "move a field up"): the page is
rendered again from what was posted (htmx swaps the form only), and nothing
is written until "保存草稿".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tongban.catalogue import access, admin_forms, checks, codes, forms, repository, service
from tongban.catalogue.models import (
    ACTIONS,
    NATIONAL,
    ONLINE_STATUSES,
    STATUSES,
    VERSION_STATUSES,
    CatalogueItem,
    Implementation,
    ImplementationVersion,
    ItemVersion,
)
from tongban.catalogue.schemas import ItemFields, LocalFields, has_nul
from tongban.core import scope
from tongban.core.errors import AppError, NotFound, ValidationFailed
from tongban.identity.access import Actor
from tongban.web.deps import DB, CurrentActor, VerifiedForm
from tongban.web.pages import is_htmx, page, require_staff, settle

router = APIRouter(prefix="/admin/catalogue", include_in_schema=False)

Id = Annotated[int, Path(ge=1, le=access.MAX_ID)]
VersionNo = Annotated[int, Path(ge=1, le=1_000_000)]
OptId = Annotated[int | None, Query(ge=0, le=access.MAX_ID)]
REGION_PATTERN = r"^(\d{12})?$"

MESSAGES = {
    "created": "已新建草稿。",
    "saved": "草稿已保存。",
    "published": "已发布。新的办件将按这一版本办理。",
    "retired": "已停用。",
    "derived": "已派生实施清单草稿，请补充本地要素后发布。",
    "online": "全程网办认定已更新。",
    "form_saved": "申请表单已保存到草稿，发布后生效。",
}
SAMPLE_PREFILL = {  # what the preview shows where the applicant's data will go
    "person.name": "（申请人姓名）",
    "person.id_number": "（申请人身份号码）",
    "person.phone": "（申请人手机号码）",
    "enterprise.name": "（单位名称）",
    "enterprise.credit_code": "（统一社会信用代码）",
}


def _staff(actor: Actor) -> Actor:
    return require_staff(actor)


def _msg(msg: str) -> str:
    return MESSAGES.get(msg, "")


def _check_text(form: dict[str, str]) -> None:
    if has_nul(form):
        raise ValidationFailed("提交的内容包含不允许的控制字符")


async def _form_data(request: Request) -> Any:
    """All posted pairs (``VerifiedForm`` keeps one value per name; checkboxes need all)."""
    return await request.form()


def _common(active: str) -> dict[str, Any]:
    return {
        "active": active,
        "codes": codes,
        "statuses": STATUSES,
        "version_statuses": VERSION_STATUSES,
        "online_statuses": ONLINE_STATUSES,
        "actions": ACTIONS,
        "labels": admin_forms.FIELD_LABELS,
        "local_labels": admin_forms.LOCAL_LABELS,
    }


async def _form_options(session: DB) -> dict[str, Any]:
    themes = await repository.get_themes(session)
    return {
        "themes": themes,
        "material_kinds": admin_forms.MATERIAL_KINDS,
        "step_roles": admin_forms.STEP_ROLES,
        "data_elements": forms.DATA_ELEMENTS,
    }


def _theme_names(themes: list[Any]) -> dict[str, str]:
    return {t.code: t.name for t in themes}


# --- base items: list ----------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def catalogue_home(actor: CurrentActor) -> Response:
    _staff(actor)
    return RedirectResponse("/admin/catalogue/items", status_code=303)


@router.get("/items", response_class=HTMLResponse)
async def item_list(
    request: Request,
    actor: CurrentActor,
    session: DB,
    q: Annotated[str, Query(max_length=100)] = "",
    type: Annotated[str, Query(pattern=r"^(\d{2})?$")] = "",
    status: Annotated[str, Query(pattern=r"^(draft|published|retired)?$")] = "",
    after: OptId = None,
) -> HTMLResponse:
    _staff(actor)
    q = q.replace("\x00", "").strip()
    rows, nxt = await repository.get_items(
        session, actor, q=q, item_type=type or None, status=status or None, after=after or None
    )
    ctx = {
        **_common("catalogue_items"),
        "rows": rows,
        "next_after": nxt,
        "q": q,
        "type": type,
        "status": status,
        "after": after,
        "can_create": "platform_admin" in actor.roles,
    }
    if is_htmx(request):
        return page(request, "catalogue/admin_items_results.html", ctx)
    return page(request, "catalogue/admin_items.html", ctx)


# --- base items: create and edit ---------------------------------------------------------------------


def _region_choices(actor: Actor) -> list[tuple[str, str]]:
    out = []
    if scope.level_of(actor.region_code) <= 1 or actor.region_code == NATIONAL:
        out.append((NATIONAL, "国家基本目录（全国通用）"))
    if actor.region_code != NATIONAL:
        out.append((actor.region_code, "本地区目录"))
    return out


async def _item_form_page(
    request: Request,
    session: DB,
    actor: Actor,
    *,
    item: CatalogueItem | None,
    doc: dict[str, Any],
    extra: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    opts = await _form_options(session)
    region_names = await repository.get_region_names(
        session, {c for c, _ in _region_choices(actor)} - {NATIONAL}
    )
    ctx = {
        **_common("catalogue_items"),
        **opts,
        "item": item,
        "doc": doc,
        "extra": extra or {},
        "errors": errors or {},
        "error": error,
        "error_list": [
            (admin_forms.label_of(k), m) for k, ms in (errors or {}).items() for m in ms
        ],
        "region_choices": [
            (c, f"{label}（{region_names.get(c, c)}）" if c != NATIONAL else label)
            for c, label in _region_choices(actor)
        ],
        "action": f"/admin/catalogue/items/{item.id}/edit"
        if item
        else "/admin/catalogue/items/new",
    }
    return page(request, "catalogue/admin_item_edit.html", ctx, status=status)


def _blank_item_doc() -> dict[str, Any]:
    return {
        "item_type": "01",
        "levels": [],
        "service_objects": ["1"],
        "statutory_limit": {"value": 20, "unit": "working_day"},
        "promised_limit": {"value": 10, "unit": "working_day"},
        "case_type": "2",
        "handling_forms": ["1"],
        "visits": 1,
        "online_depth": 1,
        "legal_basis": [dict(admin_forms.ROW_DEFAULTS["legal_basis"])],
        "materials": [dict(admin_forms.ROW_DEFAULTS["materials"])],
        "result": {"kind": "document"},
    }


@router.get("/items/new", response_class=HTMLResponse)
async def item_new(request: Request, actor: CurrentActor, session: DB) -> HTMLResponse:
    _staff(actor)
    return await _item_form_page(
        request,
        session,
        actor,
        item=None,
        doc=_blank_item_doc(),
        extra={
            "base_code": "",
            "region_code": _region_choices(actor)[0][0] if _region_choices(actor) else "",
            "note": "",
        },
    )


@router.post("/items/new", response_class=HTMLResponse)
async def item_create(
    request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    _staff(actor)
    _check_text(form)
    data = await _form_data(request)
    op = form.get("op", "save")
    extra = {
        "base_code": form.get("base_code", "").strip()[:40],
        "region_code": form.get("region_code", "")[:12],
        "note": form.get("note", "")[:500],
    }
    if op != "save":
        doc = admin_forms.item_doc_from_form(data)
        admin_forms.apply_row_op(doc, op)
        return await _item_form_page(request, session, actor, item=None, doc=doc, extra=extra)
    doc = admin_forms.item_doc_from_form(data, drop_blank_rows=True)
    region = (
        extra["region_code"]
        if extra["region_code"] in {c for c, _ in _region_choices(actor)}
        else ""
    )
    try:
        if not region:
            raise ValidationFailed(
                "请选择目录归属", details=[{"field": "region_code", "message": "请选择目录归属"}]
            )
        item = await service.create_item(
            session,
            actor,
            base_code=extra["base_code"],
            fields=doc,
            region_code=region,
            note=extra["note"],
        )
    except AppError as exc:
        await settle(session, exc)
        return await _item_form_page(
            request,
            session,
            actor,
            item=None,
            doc=doc,
            extra=extra,
            errors=admin_forms.errors_by_field(exc.details),
            error=exc.message,
            status=exc.status,
        )
    return RedirectResponse(f"/admin/catalogue/items/{item.id}?msg=created", status_code=303)


@router.get("/items/{item_id}/edit", response_class=HTMLResponse)
async def item_edit(
    item_id: Id, request: Request, actor: CurrentActor, session: DB
) -> HTMLResponse:
    _staff(actor)
    item = await access.access_item(session, actor, item_id)
    latest = await service.item_version(session, item.id, item.current_version)
    return await _item_form_page(
        request,
        session,
        actor,
        item=item,
        doc=dict(latest.fields),
        extra={"note": latest.note if latest.status == "draft" else "", "version": latest},
    )


@router.post("/items/{item_id}/edit", response_class=HTMLResponse)
async def item_save(
    item_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    _staff(actor)
    _check_text(form)
    item = await access.access_item(session, actor, item_id)
    data = await _form_data(request)
    op = form.get("op", "save")
    extra = {"note": form.get("note", "")[:500]}
    if op != "save":
        doc = admin_forms.item_doc_from_form(data)
        admin_forms.apply_row_op(doc, op)
        return await _item_form_page(request, session, actor, item=item, doc=doc, extra=extra)
    doc = admin_forms.item_doc_from_form(data, drop_blank_rows=True)
    try:
        await service.save_item_draft(session, actor, item.id, doc, note=extra["note"])
    except AppError as exc:
        await settle(session, exc)
        item = await access.access_item(session, actor, item_id)
        return await _item_form_page(
            request,
            session,
            actor,
            item=item,
            doc=doc,
            extra=extra,
            errors=admin_forms.errors_by_field(exc.details),
            error=exc.message,
            status=exc.status,
        )
    return RedirectResponse(f"/admin/catalogue/items/{item.id}?msg=saved", status_code=303)


# --- base items: overview, versions, diff, changes -------------------------------------------------------


@router.get("/items/{item_id}", response_class=HTMLResponse)
async def item_detail(
    item_id: Id,
    request: Request,
    actor: CurrentActor,
    session: DB,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    _staff(actor)
    item = await access.access_item(session, actor, item_id)
    versions = await repository.get_item_versions(session, item.id)
    latest = versions[0]
    fields = ItemFields.model_validate(latest.fields)
    impls, _ = await repository.get_implementations(session, actor, item_id=item.id, limit=50)
    dept_names = await repository.get_department_names(session, {i.department_id for i in impls})
    region_names = await repository.get_region_names(
        session, {i.region_code for i in impls} | {item.region_code}
    )
    themes = await repository.get_themes(session)
    ctx = {
        **_common("catalogue_items"),
        "item": item,
        "latest": latest,
        "versions": versions,
        "rows": admin_forms.diff_rows(
            None, latest.fields, admin_forms.FIELD_LABELS, themes=_theme_names(themes)
        ),
        "problems": checks.guide_problems(fields),
        "impls": impls,
        "impl_count": await repository.count_implementations_of(session, actor, item.id),
        "dept_names": dept_names,
        "region_names": region_names,
        "can_manage": service.can_manage_base(actor, item.region_code),
        "can_derive": bool(actor.roles & {"platform_admin", "dept_admin"})
        and item.status == "published",
        "message": _msg(msg),
    }
    return page(request, "catalogue/admin_item.html", ctx)


async def _version_page(
    request: Request,
    session: DB,
    *,
    kind: str,
    record: CatalogueItem | Implementation,
    row: ItemVersion | ImplementationVersion,
) -> HTMLResponse:
    themes = _theme_names(await repository.get_themes(session))
    rows = admin_forms.diff_rows(None, row.fields, admin_forms.FIELD_LABELS, themes=themes)
    if isinstance(row, ImplementationVersion):
        rows += admin_forms.diff_rows(None, row.local, admin_forms.LOCAL_LABELS, prefix="local.")
    form_sections = (
        forms.layout(row.form, {}) if isinstance(row, ImplementationVersion) and row.form else []
    )
    return page(
        request,
        "catalogue/admin_version.html",
        {
            **_common("catalogue_items" if kind == "item" else "catalogue_impls"),
            "kind": kind,
            "record": record,
            "row": row,
            "rows": rows,
            "form_sections": form_sections,
            "base_url": _base_url(kind, record.id),
        },
    )


def _base_url(kind: str, record_id: int) -> str:
    return f"/admin/catalogue/{'items' if kind == 'item' else 'implementations'}/{record_id}"


@router.get("/items/{item_id}/versions/{version}", response_class=HTMLResponse)
async def item_version_page(
    item_id: Id, version: VersionNo, request: Request, actor: CurrentActor, session: DB
) -> HTMLResponse:
    _staff(actor)
    item = await access.access_item(session, actor, item_id)
    row = await service.item_version(session, item.id, version)
    return await _version_page(request, session, kind="item", record=item, row=row)


async def _diff_page(
    request: Request,
    session: DB,
    *,
    kind: str,
    record: CatalogueItem | Implementation,
    versions: list[Any],
    a: int | None,
    b: int | None,
) -> HTMLResponse:
    by_no = {v.version: v for v in versions}
    newest = versions[0].version
    b = b if b in by_no else newest
    if a not in by_no:
        a = max((n for n in by_no if n < b), default=b)
    old, new = by_no[a], by_no[b]
    themes = _theme_names(await repository.get_themes(session))
    rows = admin_forms.diff_rows(old.fields, new.fields, admin_forms.FIELD_LABELS, themes=themes)
    form_changed = False
    if kind == "implementation":
        rows += admin_forms.diff_rows(
            old.local, new.local, admin_forms.LOCAL_LABELS, prefix="local."
        )
        form_changed = old.form != new.form
    only = request.query_params.get("only") == "1"
    return page(
        request,
        "catalogue/admin_diff.html",
        {
            **_common("catalogue_items" if kind == "item" else "catalogue_impls"),
            "kind": kind,
            "record": record,
            "versions": versions,
            "a": a,
            "b": b,
            "old": old,
            "new": new,
            "rows": [r for r in rows if r["changed"]] if only else rows,
            "changed_count": sum(1 for r in rows if r["changed"]) + (1 if form_changed else 0),
            "form_changed": form_changed,
            "only": only,
            "base_url": _base_url(kind, record.id),
        },
    )


VersionQuery = Annotated[int | None, Query(ge=1, le=1_000_000)]


@router.get("/items/{item_id}/diff", response_class=HTMLResponse)
async def item_diff(
    item_id: Id,
    request: Request,
    actor: CurrentActor,
    session: DB,
    a: VersionQuery = None,
    b: VersionQuery = None,
) -> HTMLResponse:
    _staff(actor)
    item = await access.access_item(session, actor, item_id)
    versions = await repository.get_item_versions(session, item.id)
    return await _diff_page(request, session, kind="item", record=item, versions=versions, a=a, b=b)


async def _changes_page(
    request: Request, session: DB, *, kind: str, record: Any, before: int | None
) -> HTMLResponse:
    rows, older = await repository.get_changes(
        session, entity=kind, entity_id=record.id, before=before or None, limit=50
    )
    labels = {
        **admin_forms.FIELD_LABELS,
        **{f"local.{k}": v for k, v in admin_forms.LOCAL_LABELS.items()},
        "form": "申请表单",
        "base_version": "所依据的基本目录版本",
    }
    return page(
        request,
        "catalogue/admin_changes.html",
        {
            **_common("catalogue_items" if kind == "item" else "catalogue_impls"),
            "kind": kind,
            "record": record,
            "rows": rows,
            "older": older,
            "before": before,
            "change_labels": {k.removeprefix("fields."): v for k, v in labels.items()},
            "base_url": _base_url(kind, record.id),
        },
    )


@router.get("/items/{item_id}/changes", response_class=HTMLResponse)
async def item_changes(
    item_id: Id, request: Request, actor: CurrentActor, session: DB, before: OptId = None
) -> HTMLResponse:
    _staff(actor)
    item = await access.access_item(session, actor, item_id)
    return await _changes_page(request, session, kind="item", record=item, before=before)


# --- base items: publish and retire ---------------------------------------------------------------------


async def _confirm_page(
    request: Request,
    session: DB,
    *,
    kind: str,
    what: str,
    record: Any,
    error: str = "",
    reason: str = "",
    findings: list[dict[str, Any]] | None = None,
    status: int = 200,
) -> HTMLResponse:
    base_url = _base_url(kind, record.id)
    ctx: dict[str, Any] = {
        **_common("catalogue_items" if kind == "item" else "catalogue_impls"),
        "kind": kind,
        "what": what,
        "record": record,
        "error": error,
        "reason": reason,
        "base_url": base_url,
        "error_findings": findings or [],
    }
    if what == "publish":
        if kind == "item":
            draft = await repository.get_item_version(session, record.id, record.current_version)
            published = (
                await repository.get_item_version(session, record.id, record.published_version)
                if record.published_version
                else None
            )
        else:
            draft = await repository.get_impl_version(session, record.id, record.current_version)
            published = (
                await repository.get_impl_version(session, record.id, record.published_version)
                if record.published_version
                else None
            )
        assert draft is not None
        ctx["draft"] = draft
        ctx["published"] = published
        themes = _theme_names(await repository.get_themes(session))
        rows = admin_forms.diff_rows(
            published.fields if published else None,
            draft.fields,
            admin_forms.FIELD_LABELS,
            themes=themes,
        )
        ctx["changes"] = [r for r in rows if r["changed"]]
        fields = ItemFields.model_validate(draft.fields)
        local = (
            LocalFields.model_validate(draft.local)
            if isinstance(draft, ImplementationVersion)
            else None
        )
        ctx["problems"] = checks.guide_problems(fields, local)
        if isinstance(draft, ImplementationVersion):
            if published is not None and isinstance(published, ImplementationVersion):
                local_rows = admin_forms.diff_rows(
                    published.local, draft.local, admin_forms.LOCAL_LABELS, prefix="local."
                )
                ctx["changes"] += [r for r in local_rows if r["changed"]]
                ctx["form_changed"] = published.form != draft.form
            item = await _item_of(session, record)
            ctx["consistency"] = await service.consistency_of(session, draft, item)
            ctx["online"] = checks.classify_online(fields)
        ctx["can_publish"] = draft.status == "draft"
    return page(request, "catalogue/admin_confirm.html", ctx, status=status)


async def _item_of(session: DB, impl: Implementation) -> CatalogueItem:
    item = await session.get(CatalogueItem, impl.item_id)
    if item is None:  # pragma: no cover - the foreign key keeps it
        raise NotFound()
    return item


@dataclass(frozen=True)
class _Kind:
    """What publishing and retiring differ in between base items and entries."""

    name: str  # the confirmation page's ``kind``: "item" or "implementation"
    access: Callable[[DB, Actor, int], Awaitable[Any]]
    publish: Callable[..., Awaitable[Any]]
    retire: Callable[..., Awaitable[Any]]


ITEM = _Kind("item", access.access_item, service.publish_item, service.retire_item)
IMPLEMENTATION = _Kind(
    "implementation",
    access.access_implementation,
    service.publish_implementation,
    service.retire_implementation,
)


async def _confirm(
    kind: _Kind, what: str, record_id: int, request: Request, actor: Actor, session: DB
) -> HTMLResponse:
    _staff(actor)
    record = await kind.access(session, actor, record_id)
    return await _confirm_page(request, session, kind=kind.name, what=what, record=record)


async def _publish(
    kind: _Kind,
    record_id: int,
    request: Request,
    form: Any,
    actor: Actor,
    session: DB,
) -> Response:
    """发布 after the confirmation; on refusal the confirmation page again, with
    the reason (and, for an entry blocked by 同源 findings, each finding)."""
    _staff(actor)
    record = await kind.access(session, actor, record_id)
    if form.get("confirm") != "yes":
        return await _confirm_page(request, session, kind=kind.name, what="publish", record=record)
    try:
        await kind.publish(session, actor, record.id)
    except AppError as exc:
        await settle(session, exc)
        record = await kind.access(session, actor, record_id)
        return await _confirm_page(
            request,
            session,
            kind=kind.name,
            what="publish",
            record=record,
            error=exc.message,
            findings=exc.details if isinstance(exc.details, list) else [],
            status=exc.status,
        )
    return RedirectResponse(f"{_base_url(kind.name, record.id)}?msg=published", status_code=303)


async def _retire(
    kind: _Kind,
    record_id: int,
    request: Request,
    form: Any,
    actor: Actor,
    session: DB,
) -> Response:
    """停用 with a reason, after the confirmation."""
    _staff(actor)
    _check_text(form)
    record = await kind.access(session, actor, record_id)
    reason = form.get("reason", "").strip()[:500]
    if form.get("confirm") != "yes":
        return await _confirm_page(
            request, session, kind=kind.name, what="retire", record=record, reason=reason
        )
    try:
        await kind.retire(session, actor, record.id, reason=reason)
    except AppError as exc:
        await settle(session, exc)
        record = await kind.access(session, actor, record_id)
        return await _confirm_page(
            request,
            session,
            kind=kind.name,
            what="retire",
            record=record,
            error=exc.message,
            reason=reason,
            status=exc.status,
        )
    return RedirectResponse(f"{_base_url(kind.name, record.id)}?msg=retired", status_code=303)


@router.get("/items/{item_id}/publish", response_class=HTMLResponse)
async def item_publish_confirm(
    item_id: Id, request: Request, actor: CurrentActor, session: DB
) -> HTMLResponse:
    return await _confirm(ITEM, "publish", item_id, request, actor, session)


@router.post("/items/{item_id}/publish", response_class=HTMLResponse)
async def item_publish(
    item_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    return await _publish(ITEM, item_id, request, form, actor, session)


@router.get("/items/{item_id}/retire", response_class=HTMLResponse)
async def item_retire_confirm(
    item_id: Id, request: Request, actor: CurrentActor, session: DB
) -> HTMLResponse:
    return await _confirm(ITEM, "retire", item_id, request, actor, session)


@router.post("/items/{item_id}/retire", response_class=HTMLResponse)
async def item_retire(
    item_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    return await _retire(ITEM, item_id, request, form, actor, session)


# --- deriving an implementation entry (派生实施清单) ------------------------------------------------------------


async def _derive_page(
    request: Request,
    session: DB,
    actor: Actor,
    item: CatalogueItem,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    region = (request.query_params.get("region") or (values or {}).get("region", "")).strip()
    if region and (len(region) != 12 or not (region.isascii() and region.isdigit())):
        region = ""
    departments = await repository.get_departments_in_scope(
        session, actor, region_code=region or None
    )
    published = (
        await service.item_version(session, item.id, item.published_version)
        if item.published_version
        else None
    )
    return page(
        request,
        "catalogue/admin_derive.html",
        {
            **_common("catalogue_impls"),
            "item": item,
            "published": published,
            "departments": departments,
            "regions": await repository.get_child_regions(session, actor.region_code)
            if "platform_admin" in actor.roles
            else [],
            "region": region,
            "values": values or {},
            "errors": errors or {},
            "error": error,
        },
        status=status,
    )


@router.get("/items/{item_id}/derive", response_class=HTMLResponse)
async def derive_form(
    item_id: Id, request: Request, actor: CurrentActor, session: DB
) -> HTMLResponse:
    _staff(actor)
    item = await access.access_item(session, actor, item_id)
    return await _derive_page(request, session, actor, item)


@router.post("/items/{item_id}/derive", response_class=HTMLResponse)
async def derive(
    item_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    _staff(actor)
    _check_text(form)
    item = await access.access_item(session, actor, item_id)
    values = {
        k: form.get(k, "").strip()[:300]
        for k in (
            "department_id",
            "impl_code",
            "promised_value",
            "promised_unit",
            "address",
            "hours",
            "window",
            "phone",
            "note",
            "region",
        )
    }
    try:
        if not values["department_id"].isdecimal():
            raise ValidationFailed(
                "请选择实施部门", details=[{"field": "department_id", "message": "请选择实施部门"}]
            )
        dept = await access.access_department(session, actor, int(values["department_id"]))
        overrides = None
        if values["promised_value"]:
            if not values["promised_value"].isdecimal():
                raise ValidationFailed(
                    "承诺时限应为整数", details=[{"field": "promised_value", "message": "应为整数"}]
                )
            overrides = {
                "promised_limit": {
                    "value": int(values["promised_value"]),
                    "unit": values["promised_unit"] or "working_day",
                }
            }
        local = {k: values[k] for k in ("address", "hours", "window", "phone") if values[k]}
        impl = await service.create_implementation(
            session,
            actor,
            item_id=item.id,
            department_id=dept.id,
            impl_code=values["impl_code"] or None,
            local=local,
            overrides=overrides,
            note=values["note"],
        )
    except AppError as exc:
        await settle(session, exc)
        item = await access.access_item(session, actor, item_id)
        errs = admin_forms.errors_by_field(exc.details)
        if "promised_limit.value" in errs or "promised_limit.unit" in errs:
            errs.setdefault("promised_value", []).extend(
                errs.pop("promised_limit.value", []) + errs.pop("promised_limit.unit", [])
            )
        return await _derive_page(
            request,
            session,
            actor,
            item,
            values=values,
            errors=errs,
            error=exc.message,
            status=exc.status,
        )
    return RedirectResponse(
        f"/admin/catalogue/implementations/{impl.id}?msg=derived", status_code=303
    )


# --- implementation entries: list and overview --------------------------------------------------------------


@router.get("/implementations", response_class=HTMLResponse)
async def impl_list(
    request: Request,
    actor: CurrentActor,
    session: DB,
    q: Annotated[str, Query(max_length=100)] = "",
    region: Annotated[str, Query(pattern=REGION_PATTERN)] = "",
    status: Annotated[str, Query(pattern=r"^(draft|published|retired)?$")] = "",
    online: Annotated[str, Query(pattern=r"^(done|can|cannot)?$")] = "",
    department: OptId = None,
    item: OptId = None,
    after: OptId = None,
) -> HTMLResponse:
    _staff(actor)
    q = q.replace("\x00", "").strip()
    rows, nxt = await repository.get_implementations(
        session,
        actor,
        q=q,
        region_code=region or None,
        department_id=department or None,
        item_id=item or None,
        status=status or None,
        online_status=online or None,
        after=after or None,
    )
    ctx = {
        **_common("catalogue_impls"),
        "rows": rows,
        "next_after": nxt,
        "q": q,
        "region": region,
        "status": status,
        "online": online,
        "department": department or "",
        "item_id": item or "",
        "after": after,
        "dept_names": await repository.get_department_names(
            session, {r.department_id for r in rows}
        ),
        "region_names": await repository.get_region_names(
            session, {r.region_code for r in rows}, full=False
        ),
    }
    if is_htmx(request):
        return page(request, "catalogue/admin_impls_results.html", ctx)
    ctx["regions"] = (
        await repository.get_child_regions(session, actor.region_code)
        if actor.roles & access.REGION_READERS
        else []
    )
    return page(request, "catalogue/admin_impls.html", ctx)


@router.get("/implementations/{impl_id}", response_class=HTMLResponse)
async def impl_detail(
    impl_id: Id,
    request: Request,
    actor: CurrentActor,
    session: DB,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    _staff(actor)
    return await _impl_detail_page(request, session, actor, impl_id, message=_msg(msg))


async def _impl_detail_page(
    request: Request,
    session: DB,
    actor: Actor,
    impl_id: int,
    *,
    message: str = "",
    error: str = "",
    override: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    impl = await access.access_implementation(session, actor, impl_id)
    item = await _item_of(session, impl)
    versions = await repository.get_impl_versions(session, impl.id)
    latest = versions[0]
    fields = ItemFields.model_validate(latest.fields)
    local = LocalFields.model_validate(latest.local)
    base_version = (
        await session.get(ItemVersion, latest.base_version_id) if latest.base_version_id else None
    )
    themes = _theme_names(await repository.get_themes(session))
    rows = admin_forms.diff_rows(None, latest.fields, admin_forms.FIELD_LABELS, themes=themes)
    rows += admin_forms.diff_rows(None, latest.local, admin_forms.LOCAL_LABELS, prefix="local.")
    form_def = latest.form or forms.default_form()
    ctx = {
        **_common("catalogue_impls"),
        "impl": impl,
        "item": item,
        "latest": latest,
        "versions": versions,
        "base_version": base_version,
        "rows": rows,
        "problems": checks.guide_problems(fields, local),
        "consistency": await service.consistency_of(session, latest, item),
        "computed_online": checks.classify_online(fields),
        "dept_name": (await repository.get_department_names(session, {impl.department_id})).get(
            impl.department_id, ""
        ),
        "region_name": (await repository.get_region_names(session, {impl.region_code})).get(
            impl.region_code, impl.region_code
        ),
        "can_manage": service.can_manage_implementation(actor, impl),
        "can_override": service.can_manage_implementation(actor, impl)
        and "platform_admin" in actor.roles,
        "form_field_count": len(form_def["schema"]["properties"]),
        "form_section_count": len(forms.ordered_sections(form_def)),
        "message": message,
        "error": error,
        "override": override or {},
        "item_stale": bool(
            item.published_version
            and base_version
            and base_version.version != item.published_version
        ),
    }
    return page(request, "catalogue/admin_impl.html", ctx, status=status)


@router.post("/implementations/{impl_id}/online", response_class=HTMLResponse)
async def impl_online(
    impl_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    _staff(actor)
    _check_text(form)
    impl = await access.access_implementation(session, actor, impl_id)
    values = {"status": form.get("status", ""), "reason": form.get("reason", "").strip()[:500]}
    try:
        if form.get("reset") == "1":
            await service.set_online_override(session, actor, impl.id, None)
        else:
            await service.set_online_override(session, actor, impl.id, values)
    except AppError as exc:
        await settle(session, exc)
        return await _impl_detail_page(
            request, session, actor, impl_id, error=exc.message, override=values, status=exc.status
        )
    return RedirectResponse(
        f"/admin/catalogue/implementations/{impl.id}?msg=online#online", status_code=303
    )


# --- implementation entries: edit ---------------------------------------------------------------------------


async def _impl_form_page(
    request: Request,
    session: DB,
    actor: Actor,
    impl: Implementation,
    *,
    doc: dict[str, Any],
    local: dict[str, Any],
    note: str,
    errors: dict[str, list[str]] | None = None,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    item = await _item_of(session, impl)
    opts = await _form_options(session)
    return page(
        request,
        "catalogue/admin_impl_edit.html",
        {
            **_common("catalogue_impls"),
            **opts,
            "impl": impl,
            "item": item,
            "doc": doc,
            "local": local,
            "note": note,
            "errors": errors or {},
            "error": error,
            "error_list": [
                (admin_forms.label_of(k), m) for k, ms in (errors or {}).items() for m in ms
            ],
            "same_fields": checks.SAME_FIELDS,
            "action": f"/admin/catalogue/implementations/{impl.id}/edit",
        },
        status=status,
    )


@router.get("/implementations/{impl_id}/edit", response_class=HTMLResponse)
async def impl_edit(
    impl_id: Id, request: Request, actor: CurrentActor, session: DB
) -> HTMLResponse:
    _staff(actor)
    impl = await access.access_implementation(session, actor, impl_id)
    latest = await service.impl_version(session, impl.id, impl.current_version)
    return await _impl_form_page(
        request,
        session,
        actor,
        impl,
        doc=dict(latest.fields),
        local=dict(latest.local),
        note=latest.note if latest.status == "draft" else "",
    )


@router.post("/implementations/{impl_id}/edit", response_class=HTMLResponse)
async def impl_save(
    impl_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    _staff(actor)
    _check_text(form)
    impl = await access.access_implementation(session, actor, impl_id)
    data = await _form_data(request)
    op = form.get("op", "save")
    note = form.get("note", "")[:500]
    local = admin_forms.local_doc_from_form(data)
    if op not in ("save", "rebase"):
        doc = admin_forms.item_doc_from_form(data)
        admin_forms.apply_row_op(doc, op)
        return await _impl_form_page(request, session, actor, impl, doc=doc, local=local, note=note)
    doc = admin_forms.item_doc_from_form(data, drop_blank_rows=True)
    try:
        await service.save_implementation_draft(
            session, actor, impl.id, fields=doc, local=local, note=note, rebase=op == "rebase"
        )
    except AppError as exc:
        await settle(session, exc)
        impl = await access.access_implementation(session, actor, impl_id)
        errs = admin_forms.errors_by_field(exc.details)
        if exc.code == "local_fields_invalid":
            errs = {f"local.{k}": v for k, v in errs.items()}
        return await _impl_form_page(
            request,
            session,
            actor,
            impl,
            doc=doc,
            local=local,
            note=note,
            errors=errs,
            error=exc.message,
            status=exc.status,
        )
    return RedirectResponse(
        f"/admin/catalogue/implementations/{impl.id}?msg=saved", status_code=303
    )


@router.get("/implementations/{impl_id}/versions/{version}", response_class=HTMLResponse)
async def impl_version_page(
    impl_id: Id, version: VersionNo, request: Request, actor: CurrentActor, session: DB
) -> HTMLResponse:
    _staff(actor)
    impl = await access.access_implementation(session, actor, impl_id)
    row = await service.impl_version(session, impl.id, version)
    return await _version_page(request, session, kind="implementation", record=impl, row=row)


@router.get("/implementations/{impl_id}/diff", response_class=HTMLResponse)
async def impl_diff(
    impl_id: Id,
    request: Request,
    actor: CurrentActor,
    session: DB,
    a: VersionQuery = None,
    b: VersionQuery = None,
) -> HTMLResponse:
    _staff(actor)
    impl = await access.access_implementation(session, actor, impl_id)
    versions = await repository.get_impl_versions(session, impl.id)
    return await _diff_page(
        request, session, kind="implementation", record=impl, versions=versions, a=a, b=b
    )


@router.get("/implementations/{impl_id}/changes", response_class=HTMLResponse)
async def impl_changes(
    impl_id: Id, request: Request, actor: CurrentActor, session: DB, before: OptId = None
) -> HTMLResponse:
    _staff(actor)
    impl = await access.access_implementation(session, actor, impl_id)
    return await _changes_page(request, session, kind="implementation", record=impl, before=before)


@router.get("/implementations/{impl_id}/publish", response_class=HTMLResponse)
async def impl_publish_confirm(
    impl_id: Id, request: Request, actor: CurrentActor, session: DB
) -> HTMLResponse:
    return await _confirm(IMPLEMENTATION, "publish", impl_id, request, actor, session)


@router.post("/implementations/{impl_id}/publish", response_class=HTMLResponse)
async def impl_publish(
    impl_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    return await _publish(IMPLEMENTATION, impl_id, request, form, actor, session)


@router.get("/implementations/{impl_id}/retire", response_class=HTMLResponse)
async def impl_retire_confirm(
    impl_id: Id, request: Request, actor: CurrentActor, session: DB
) -> HTMLResponse:
    return await _confirm(IMPLEMENTATION, "retire", impl_id, request, actor, session)


@router.post("/implementations/{impl_id}/retire", response_class=HTMLResponse)
async def impl_retire(
    impl_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    return await _retire(IMPLEMENTATION, impl_id, request, form, actor, session)


# --- the application-form editor (申请表单设计) ------------------------------------------------------------------


def _preview(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """The preview: the definition rendered as applicants will see it, with
    placeholders where their identity will be filled in."""
    try:
        values = forms.prefill(definition, SAMPLE_PREFILL)
        return forms.layout(definition, values)
    except (KeyError, TypeError, AttributeError, ValueError):  # a half-edited definition
        return []


async def _editor_page(
    request: Request,
    session: DB,
    actor: Actor,
    impl: Implementation,
    *,
    rows: list[dict[str, Any]],
    sections: list[dict[str, Any]],
    note: str = "",
    message: str = "",
    error: str = "",
    row_errors: dict[int, list[str]] | None = None,
    sec_errors: dict[int, list[str]] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    definition, _, _ = admin_forms.definition_from_editor(rows, sections)
    latest = await service.impl_version(session, impl.id, impl.current_version)
    return page(
        request,
        "catalogue/admin_form_editor.html",
        {
            **_common("catalogue_impls"),
            "impl": impl,
            "latest": latest,
            "rows": rows,
            "sections": sections,
            "note": note,
            "message": message,
            "error": error,
            "row_errors": row_errors or {},
            "sec_errors": sec_errors or {},
            "general": general or [],
            "preview": _preview(definition),
            "field_types": admin_forms.FIELD_TYPE_LABELS,
            "widgets": admin_forms.WIDGET_LABELS,
            "formats": admin_forms.FORMAT_LABELS,
            "data_elements": forms.DATA_ELEMENTS,
            "can_manage": service.can_manage_implementation(actor, impl),
            "action": f"/admin/catalogue/implementations/{impl.id}/form",
        },
        status=status,
    )


@router.get("/implementations/{impl_id}/form", response_class=HTMLResponse)
async def form_editor(
    impl_id: Id,
    request: Request,
    actor: CurrentActor,
    session: DB,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    _staff(actor)
    impl = await access.access_implementation(session, actor, impl_id)
    latest = await service.impl_version(session, impl.id, impl.current_version)
    definition = latest.form or forms.default_form(
        for_enterprise=impl.for_enterprises and not impl.for_persons
    )
    rows, sections = admin_forms.editor_from_definition(definition)
    return await _editor_page(
        request, session, actor, impl, rows=rows, sections=sections, message=_msg(msg)
    )


@router.post("/implementations/{impl_id}/form", response_class=HTMLResponse)
async def form_editor_post(
    impl_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    """The editor's buttons re-render it from what was posted; "保存草稿"
    validates and saves the definition through the service."""
    _staff(actor)
    _check_text(form)
    impl = await access.access_implementation(session, actor, impl_id)
    data = await _form_data(request)
    op = form.get("op", "save")
    note = form.get("note", "")[:500]
    rows, sections = admin_forms.editor_from_form(data)
    if op == "reset_default":
        rows, sections = admin_forms.editor_from_definition(
            forms.default_form(for_enterprise=impl.for_enterprises and not impl.for_persons)
        )
        return await _editor_page(
            request, session, actor, impl, rows=rows, sections=sections, note=note
        )
    if op != "save":
        admin_forms.apply_editor_op(rows, sections, op)
        return await _editor_page(
            request, session, actor, impl, rows=rows, sections=sections, note=note
        )
    definition, row_errors, sec_errors = admin_forms.definition_from_editor(rows, sections)
    if row_errors or sec_errors:
        return await _editor_page(
            request,
            session,
            actor,
            impl,
            rows=rows,
            sections=sections,
            note=note,
            error="表单定义有误，请按提示修改后保存",
            row_errors=row_errors,
            sec_errors=sec_errors,
            status=422,
        )
    try:
        await service.save_implementation_draft(session, actor, impl.id, form=definition, note=note)
    except AppError as exc:
        await settle(session, exc)
        impl = await access.access_implementation(session, actor, impl_id)
        by_row, by_sec, general = admin_forms.map_definition_errors(exc.details, rows)
        return await _editor_page(
            request,
            session,
            actor,
            impl,
            rows=rows,
            sections=sections,
            note=note,
            error=exc.message,
            row_errors=by_row,
            sec_errors=by_sec,
            general=general,
            status=exc.status,
        )
    return RedirectResponse(
        f"/admin/catalogue/implementations/{impl.id}/form?msg=form_saved", status_code=303
    )


@router.post("/implementations/{impl_id}/form/preview", response_class=HTMLResponse)
async def form_preview(
    impl_id: Id, request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> HTMLResponse:
    """The live preview (htmx): the posted editor rendered by the applicants' renderer."""
    _staff(actor)
    await access.access_implementation(session, actor, impl_id)
    rows, sections = admin_forms.editor_from_form(await _form_data(request))
    definition, _, _ = admin_forms.definition_from_editor(rows, sections)
    return page(
        request,
        "catalogue/admin_form_preview.html",
        {"preview": _preview(definition)},
    )
