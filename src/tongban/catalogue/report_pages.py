"""事项报告 and 导入导出: pages under ``/admin/catalogue/reports`` and
``/admin/catalogue/import``, and their JSON API under ``/api/v1/catalogue``.

Thin: the reports are ``catalogue.reports``, the import and export
``catalogue.io``, every change a ``catalogue.service`` function (the fix link
rebases a draft; the 全程网办 override). Platform administrators, supervisors
and leaders read the reports of their region subtree; only platform
administrators fix, override, import and export.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from tongban.catalogue import checks, io, reports, service
from tongban.catalogue.models import ONLINE_STATUSES
from tongban.catalogue.schemas import ItemFields
from tongban.core.errors import AppError, PermissionDenied, ValidationFailed
from tongban.identity.access import Actor
from tongban.web.deps import DB, CurrentActor, VerifiedForm
from tongban.web.pages import is_htmx, page, settle

router = APIRouter(prefix="/admin/catalogue", include_in_schema=False)
api_router = APIRouter(prefix="/catalogue", tags=["事项报告与导入导出"])

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
Region = Annotated[str, Query(pattern=r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})?$")]
Dept = Annotated[int | None, Query(ge=1, le=2**63 - 1)]
# Pages: a filter form sends an empty value for "all departments".
DeptFilter = Annotated[str, Query(pattern=r"^\d{0,18}$")]
Code = Annotated[str, Query(pattern=r"^[a-z0-9_]{0,40}$")]
PageNo = Annotated[int, Query(ge=1, le=100_000)]

MESSAGES = {
    "override": "全程网办认定已更新。",
    "reset": "已恢复为按事项要素自动认定。",
    "published": "实施清单已发布，一致性报告已更新。",
}


def _layout(actor: Actor) -> str:
    if "platform_admin" in actor.roles:
        return "layouts/admin.html"
    if "leader" in actor.roles:
        return "layouts/leader.html"
    return "layouts/workbench.html"


def _require_admin(actor: Actor) -> None:
    if actor.kind != "staff" or "platform_admin" not in actor.roles:
        raise PermissionDenied("只有平台管理员可以执行此操作", code="catalogue_admin_only")


def _ctx(actor: Actor, active: str, **kw: Any) -> dict[str, Any]:
    return {
        "layout": _layout(actor),
        "active": active,
        "is_admin": "platform_admin" in actor.roles,
        **kw,
    }


def _query(**fixed: Any) -> Any:
    """``query(**changes)`` for the templates: the current filters with some
    changed, as a query string of the non-empty parameters (kept across pages)."""

    def query(**changes: Any) -> str:
        return urlencode({k: v for k, v in {**fixed, **changes}.items() if v not in (None, "")})

    return query


async def _filters(session: DB, actor: Actor, root: str) -> dict[str, Any]:
    return {
        "regions": await reports.regions_in(session, actor, actor.region_code),
        "departments": await reports.departments_in(session, actor, root),
    }


# --- overview ---------------------------------------------------------------------------------


@router.get("/reports", response_class=HTMLResponse)
async def reports_home(request: Request, actor: CurrentActor, session: DB) -> HTMLResponse:
    cons = await reports.consistency_report(session, actor, per_page=1)
    guide = await reports.guide_quality_report(session, actor, per_page=1)
    rates = await reports.online_rates(session, actor)
    return page(
        request,
        "catalogue/report_home.html",
        _ctx(
            actor,
            "catalogue_reports",
            cons=cons,
            guide=guide,
            rates=rates,
            cons_labels=reports.CONSISTENCY_LABELS,
            guide_labels=reports.GUIDE_LABELS,
        ),
    )


# --- (a) consistency -----------------------------------------------------------------------------


@router.get("/reports/consistency", response_class=HTMLResponse)
async def consistency_page(
    request: Request,
    actor: CurrentActor,
    session: DB,
    region: Region = "",
    department: DeptFilter = "",
    code: Code = "",
    page_no: Annotated[PageNo, Query(alias="page")] = 1,
    msg: Code = "",
) -> HTMLResponse:
    report = await reports.consistency_report(
        session,
        actor,
        region_code=region or None,
        department_id=int(department) if department else None,
        code=code or None,
        page=page_no,
    )
    ctx = _ctx(
        actor,
        "catalogue_reports",
        report=report,
        region=region,
        department=department,
        code=code,
        labels=reports.CONSISTENCY_LABELS,
        base="/admin/catalogue/reports/consistency",
        message=MESSAGES.get(msg, ""),
        query=_query(region=region, department=department, code=code),
    )
    if is_htmx(request):
        return page(request, "catalogue/report_consistency_results.html", ctx)
    ctx.update(await _filters(session, actor, report.region_code))
    return page(request, "catalogue/report_consistency.html", ctx)


@router.get("/reports/consistency/{impl_id}/fix", response_class=HTMLResponse)
async def fix_confirm(
    request: Request, impl_id: Id, actor: CurrentActor, session: DB
) -> HTMLResponse:
    entry, findings, draft = await reports.entry_findings(session, actor, impl_id)
    return page(
        request,
        "catalogue/report_fix.html",
        _ctx(
            actor,
            "catalogue_reports",
            entry=entry,
            findings=findings,
            draft=draft,
            done=None,
            same_fields=checks.SAME_FIELDS,
        ),
    )


@router.post("/reports/consistency/{impl_id}/fix", response_class=HTMLResponse)
async def fix_do(
    request: Request, impl_id: Id, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    """The fix link: a draft whose same-at-every-level elements are the base item's (rebase)."""
    entry, findings, draft = await reports.entry_findings(session, actor, impl_id)
    ctx = _ctx(
        actor,
        "catalogue_reports",
        entry=entry,
        findings=findings,
        draft=draft,
        done=None,
        same_fields=checks.SAME_FIELDS,
    )
    try:
        version = await service.save_implementation_draft(
            session, actor, impl_id, rebase=True, note="按一致性报告修正：与基本目录保持一致"
        )
    except AppError as exc:
        await settle(session, exc)
        return page(
            request, "catalogue/report_fix.html", {**ctx, "error": exc.message}, status=exc.status
        )
    remaining = await _draft_findings(session, impl_id, version.fields)
    return page(
        request, "catalogue/report_fix.html", {**ctx, "done": version, "remaining": remaining}
    )


async def _draft_findings(
    session: DB, impl_id: int, fields: dict[str, Any]
) -> list[checks.Finding]:
    from tongban.catalogue.models import CatalogueItem, Implementation

    impl = await session.get(Implementation, impl_id)
    assert impl is not None
    item = await session.get(CatalogueItem, impl.item_id)
    assert item is not None and item.published_version
    base = await service.item_version(session, item.id, item.published_version)
    return checks.consistency_diffs(
        ItemFields.model_validate(base.fields), ItemFields.model_validate(fields)
    )


@router.post("/reports/consistency/{impl_id}/publish", response_class=HTMLResponse)
async def fix_publish(
    request: Request, impl_id: Id, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    await reports.access_entry(session, actor, impl_id)
    try:
        await service.publish_implementation(session, actor, impl_id)
    except AppError as exc:
        await settle(session, exc)
        entry, findings, draft = await reports.entry_findings(session, actor, impl_id)
        return page(
            request,
            "catalogue/report_fix.html",
            _ctx(
                actor,
                "catalogue_reports",
                entry=entry,
                findings=findings,
                draft=draft,
                done=None,
                same_fields=checks.SAME_FIELDS,
                error=exc.message,
            ),
            status=exc.status,
        )
    return RedirectResponse("/admin/catalogue/reports/consistency?msg=published", status_code=303)


# --- (b) guide quality -------------------------------------------------------------------------------


@router.get("/reports/guide-quality", response_class=HTMLResponse)
async def guide_page(
    request: Request,
    actor: CurrentActor,
    session: DB,
    region: Region = "",
    department: DeptFilter = "",
    code: Code = "",
    target: Annotated[str, Query(pattern=r"^(impl|base)?$")] = "impl",
    page_no: Annotated[PageNo, Query(alias="page")] = 1,
) -> HTMLResponse:
    ctx = _ctx(
        actor,
        "catalogue_reports",
        region=region,
        department=department,
        code=code,
        target=target or "impl",
        labels=reports.GUIDE_LABELS,
        base="/admin/catalogue/reports/guide-quality",
    )
    if target == "base":
        rows, total, pages, checked, by_code = await reports.base_guide_quality(
            session, actor, code=code or None, page=page_no
        )
        ctx.update(
            base_rows=rows,
            total=total,
            pages=pages,
            checked=checked,
            by_code=by_code,
            page_no=min(page_no, pages),
            query=_query(target="base", code=code),
        )
    else:
        report = await reports.guide_quality_report(
            session,
            actor,
            region_code=region or None,
            department_id=int(department) if department else None,
            code=code or None,
            page=page_no,
        )
        ctx.update(report=report, query=_query(region=region, department=department, code=code))
    if is_htmx(request):
        return page(request, "catalogue/report_guide_results.html", ctx)
    ctx.update(await _filters(session, actor, reports.report_root(actor, region or None)))
    return page(request, "catalogue/report_guide.html", ctx)


# --- (c) 全程网办 -------------------------------------------------------------------------------------


@router.get("/reports/online", response_class=HTMLResponse)
async def online_page(
    request: Request,
    actor: CurrentActor,
    session: DB,
    region: Region = "",
    department: DeptFilter = "",
    status: Annotated[str, Query(pattern=r"^(done|can|cannot)?$")] = "",
    overridden: Annotated[str, Query(pattern=r"^(yes|no)?$")] = "",
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    msg: Code = "",
) -> HTMLResponse:
    rates = await reports.online_rates(
        session, actor, region or None, department_id=int(department) if department else None
    )
    rows, nxt = await reports.online_entries(
        session,
        actor,
        region_code=region or None,
        department_id=int(department) if department else None,
        status=status or None,
        overridden={"yes": True, "no": False}.get(overridden),
        after=after,
    )
    ctx = _ctx(
        actor,
        "catalogue_reports",
        rates=rates,
        rows=rows,
        next_after=nxt,
        after=after,
        region=region,
        department=department,
        status=status,
        overridden=overridden,
        statuses=ONLINE_STATUSES,
        message=MESSAGES.get(msg, ""),
        query=_query(region=region, department=department, status=status, overridden=overridden),
    )
    if is_htmx(request):
        return page(request, "catalogue/report_online_results.html", ctx)
    ctx.update(await _filters(session, actor, rates.region_code))
    return page(request, "catalogue/report_online.html", ctx)


@router.get("/reports/online/{impl_id}/override", response_class=HTMLResponse)
async def override_form(
    request: Request, impl_id: Id, actor: CurrentActor, session: DB
) -> HTMLResponse:
    _require_admin(actor)
    entry = await reports.access_entry(session, actor, impl_id)
    return page(
        request,
        "catalogue/report_override.html",
        _ctx(
            actor,
            "catalogue_reports",
            entry=entry,
            statuses=ONLINE_STATUSES,
            choice="",
            reason="",
            confirming=False,
        ),
    )


@router.post("/reports/online/{impl_id}/override", response_class=HTMLResponse)
async def override_do(
    request: Request, impl_id: Id, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    """Two steps: the form posts to a confirmation showing the change; that posts ``confirm=yes``."""
    _require_admin(actor)
    entry = await reports.access_entry(session, actor, impl_id)
    choice, reason = form.get("status", ""), form.get("reason", "").strip()
    ctx = _ctx(
        actor,
        "catalogue_reports",
        entry=entry,
        statuses=ONLINE_STATUSES,
        choice=choice,
        reason=reason,
        confirming=False,
    )
    error = ""
    if choice not in (*ONLINE_STATUSES, "auto"):
        error = "请选择认定结果"
    elif choice != "auto" and not 2 <= len(reason) <= 500:
        error = "请填写认定理由（2–500 字）"
    if error:
        return page(request, "catalogue/report_override.html", {**ctx, "error": error}, status=422)
    if form.get("confirm") != "yes":
        return page(request, "catalogue/report_override.html", {**ctx, "confirming": True})
    try:
        await service.set_online_override(
            session,
            actor,
            impl_id,
            None if choice == "auto" else {"status": choice, "reason": reason},
        )
    except AppError as exc:
        await settle(session, exc)
        return page(
            request,
            "catalogue/report_override.html",
            {**ctx, "error": exc.message},
            status=exc.status,
        )
    msg = "reset" if choice == "auto" else "override"
    return RedirectResponse(f"/admin/catalogue/reports/online?msg={msg}", status_code=303)


# --- import and export pages -------------------------------------------------------------------------


@router.get("/import", response_class=HTMLResponse)
async def import_form(request: Request, actor: CurrentActor, session: DB) -> HTMLResponse:
    _require_admin(actor)
    return page(
        request,
        "catalogue/import_form.html",
        _ctx(actor, "catalogue_import", region_code=actor.region_code),
    )


async def _uploads(request: Request) -> list[io.Source]:
    limit = request.app.state.settings.media_max_mb * 1024 * 1024
    sources = []
    for value in (await request.form()).getlist("file"):
        if isinstance(value, str) or not getattr(value, "filename", ""):
            continue
        data = await value.read(limit + 1)
        if len(data) > limit:
            raise ValidationFailed(
                f"文件 {value.filename} 超过 {limit // 1024 // 1024} MB", code="import_too_large"
            )
        sources.append(io.Source(value.filename or "upload", data))
    if not sources:
        raise ValidationFailed(
            "请选择要导入的 xlsx 或 CSV 文件",
            code="import_no_file",
            details=[{"field": "file", "message": "必填项未填写"}],
        )
    return sources


@router.post("/import", response_class=HTMLResponse)
async def import_do(
    request: Request, form: VerifiedForm, actor: CurrentActor, session: DB
) -> Response:
    """Check (``mode=check``) or import an uploaded template or list; the report either way."""
    _require_admin(actor)
    dry_run = form.get("mode") != "import"
    layout = form.get("layout", "auto")
    ctx = _ctx(actor, "catalogue_import", region_code=actor.region_code, dry_run=dry_run)
    try:
        sources = await _uploads(request)
        result = await io.import_catalogue(
            session,
            actor,
            sources,
            layout=layout if layout in io.LAYOUTS else "auto",
            region_code=form.get("region") or None,
            publish=form.get("publish", "yes") == "yes",
            dry_run=dry_run,
        )
    except io.ImportInvalid as exc:
        await settle(session, exc)
        return page(
            request,
            "catalogue/import_report.html",
            {**ctx, "report": exc.report, "error": exc.message},
            status=422,
        )
    except AppError as exc:
        await settle(session, exc)
        return page(
            request, "catalogue/import_form.html", {**ctx, "error": exc.message}, status=exc.status
        )
    return page(request, "catalogue/import_report.html", {**ctx, "report": result})


def _download(name: str, data: bytes) -> Response:
    media = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if name.endswith(".xlsx")
        else "text/csv; charset=utf-8"
    )
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@router.get("/import/template.xlsx")
async def import_template(actor: CurrentActor) -> Response:
    _require_admin(actor)
    return _download("事项导入模板.xlsx", io.blank_template())


async def _export(session: DB, actor: Actor, fmt: str, table: str, region: str) -> Response:
    _require_admin(actor)
    files = await io.export_catalogue(session, actor, fmt=fmt, region_code=region or None)
    if fmt == "xlsx":
        return _download("事项目录.xlsx", files["catalogue.xlsx"])
    name = f"{io.IMPL_SHEET if table == 'impl' else io.BASE_SHEET}.csv"
    return _download(name, files[name])


@router.get("/export")
async def export_page(
    actor: CurrentActor,
    session: DB,
    fmt: Annotated[str, Query(alias="format", pattern=r"^(xlsx|csv)$")] = "xlsx",
    table: Annotated[str, Query(pattern=r"^(base|impl)$")] = "base",
    region: Region = "",
) -> Response:
    return await _export(session, actor, fmt, table, region)


# --- JSON API ------------------------------------------------------------------------------------------


@api_router.get(
    "/reports/consistency", summary="同标同源一致性报告（按区划、部门、问题类型筛选，分页）"
)
async def api_consistency(
    actor: CurrentActor,
    session: DB,
    region: Region = "",
    department_id: Dept = None,
    code: Code = "",
    page_no: Annotated[PageNo, Query(alias="page")] = 1,
) -> dict[str, Any]:
    report = await reports.consistency_report(
        session,
        actor,
        region_code=region or None,
        department_id=department_id,
        code=code or None,
        page=page_no,
    )
    return report.as_dict()


@api_router.get(
    "/reports/guide-quality", summary="办事指南质量报告（按规则计数；target=base 为基本目录）"
)
async def api_guide(
    actor: CurrentActor,
    session: DB,
    region: Region = "",
    department_id: Dept = None,
    code: Code = "",
    target: Annotated[str, Query(pattern=r"^(impl|base)$")] = "impl",
    page_no: Annotated[PageNo, Query(alias="page")] = 1,
) -> dict[str, Any]:
    if target == "base":
        rows, total, pages, checked, by_code = await reports.base_guide_quality(
            session, actor, code=code or None, page=page_no
        )
        return {
            "kind": "guide_base",
            "checked": checked,
            "total": total,
            "page": min(page_no, pages),
            "pages": pages,
            "by_code": [
                {"code": c, "label": reports.GUIDE_LABELS.get(c, c), "count": n}
                for c, n in by_code.items()
            ],
            "rows": [r.as_dict() for r in rows],
        }
    report = await reports.guide_quality_report(
        session,
        actor,
        region_code=region or None,
        department_id=department_id,
        code=code or None,
        page=page_no,
    )
    return report.as_dict()


@api_router.get(
    "/reports/online", summary="全程网办清单（已实现 / 具备条件 / 暂不具备，按 id 翻页）"
)
async def api_online(
    actor: CurrentActor,
    session: DB,
    region: Region = "",
    department_id: Dept = None,
    status: Annotated[str, Query(pattern=r"^(done|can|cannot)?$")] = "",
    overridden: bool | None = None,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    rows, nxt = await reports.online_entries(
        session,
        actor,
        region_code=region or None,
        department_id=department_id,
        status=status or None,
        overridden=overridden,
        after=after,
        limit=limit,
    )
    return {"items": [r.as_dict() for r in rows], "next_after": nxt}


@api_router.get("/reports/online/rates", summary="全程网办率（总数、各区划、各部门）")
async def api_online_rates(
    actor: CurrentActor, session: DB, region: Region = "", department_id: Dept = None
) -> dict[str, Any]:
    return (
        await reports.online_rates(session, actor, region or None, department_id=department_id)
    ).as_dict()


class OverrideBody(BaseModel):
    status: str = Field(
        pattern=r"^(done|can|cannot)$", description="done 已实现 / can 具备条件 / cannot 暂不具备"
    )
    reason: str = Field(min_length=2, max_length=500)


@api_router.put(
    "/reports/online/{impl_id}/override", summary="人工认定全程网办（平台管理员，须填写理由）"
)
async def api_override(
    impl_id: Id, body: Annotated[OverrideBody, Body()], actor: CurrentActor, session: DB
) -> dict[str, Any]:
    _require_admin(actor)
    await reports.access_entry(session, actor, impl_id)
    await service.set_online_override(session, actor, impl_id, body.model_dump())
    return (await reports.access_entry(session, actor, impl_id)).as_dict()


@api_router.delete(
    "/reports/online/{impl_id}/override", summary="取消人工认定，恢复按事项要素自动认定"
)
async def api_override_reset(impl_id: Id, actor: CurrentActor, session: DB) -> dict[str, Any]:
    _require_admin(actor)
    await reports.access_entry(session, actor, impl_id)
    await service.set_online_override(session, actor, impl_id, None)
    return (await reports.access_entry(session, actor, impl_id)).as_dict()


@api_router.post(
    "/reports/consistency/{impl_id}/fix", summary="按基本目录修正实施清单（生成草稿，不发布）"
)
async def api_fix(impl_id: Id, actor: CurrentActor, session: DB) -> dict[str, Any]:
    await reports.access_entry(session, actor, impl_id)
    version = await service.save_implementation_draft(
        session, actor, impl_id, rebase=True, note="按一致性报告修正：与基本目录保持一致"
    )
    remaining = await _draft_findings(session, impl_id, version.fields)
    return {
        "implementation_id": impl_id,
        "version": version.version,
        "status": version.status,
        "remaining": [f.as_dict() for f in remaining],
    }


@api_router.post("/import", summary="导入事项（xlsx / CSV 模板或四川事项清单；dry_run 只检查）")
async def api_import(
    request: Request,
    actor: CurrentActor,
    session: DB,
    layout: Annotated[str, Query(pattern=r"^(auto|template|sichuan-list)$")] = "auto",
    region: Region = "",
    publish: bool = True,
    dry_run: bool = False,
) -> dict[str, Any]:
    _require_admin(actor)
    sources = await _uploads(request)
    result = await io.import_catalogue(
        session,
        actor,
        sources,
        layout=layout,
        region_code=region or None,
        publish=publish,
        dry_run=dry_run,
    )
    return result.as_dict()


@api_router.get("/export", summary="导出事项（xlsx 或 CSV 模板）")
async def api_export(
    actor: CurrentActor,
    session: DB,
    fmt: Annotated[str, Query(alias="format", pattern=r"^(xlsx|csv)$")] = "xlsx",
    table: Annotated[str, Query(pattern=r"^(base|impl)$")] = "base",
    region: Region = "",
) -> Response:
    return await _export(session, actor, fmt, table, region)
