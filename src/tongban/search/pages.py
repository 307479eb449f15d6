"""Search pages: administration of synonyms, the FAQ knowledge base and the
search log (platform administrators), and the public page of one FAQ entry.
Thin: the rules live in ``service``."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core.errors import AppError, NotFound
from tongban.identity.access import Actor
from tongban.search import repository, service
from tongban.search.engine import get_engine
from tongban.search.models import SYNONYM_SOURCES, SYNONYM_STATUSES
from tongban.web.deps import DB, OptionalActor, VerifiedForm, require_roles
from tongban.web.pages import is_htmx, page, settle

router = APIRouter(include_in_schema=False)

AdminActor = Annotated[Actor, require_roles("platform_admin")]

MESSAGES = {
    "added": "已添加同义词。",
    "proposed": "已提交，待审核后生效。",
    "approved": "已启用，搜索将在几秒内按新的同义词工作。",
    "deleted": "已删除。",
    "corrected": "已记录纠正：该搜索词将首先显示您指定的结果。",
}


# --- synonyms ---------------------------------------------------------------------------------


async def _synonyms_page(
    request: Request, session: AsyncSession, *, q: str = "", status: str = "", after: int | None = None,
    message: str = "", error: str = "", form: dict[str, str] | None = None, code: int = 200,
) -> HTMLResponse:  # fmt: skip
    rows, nxt = await service.get_synonyms(session, q=q, status=status or None, after=after)
    ctx: dict[str, Any] = {
        "rows": rows,
        "next_after": nxt,
        "q": q,
        "status": status,
        "after": after,
        "counts": await repository.count_synonyms(session),
        "statuses": SYNONYM_STATUSES,
        "sources": SYNONYM_SOURCES,
        "message": message,
        "error": error,
        "form": form or {},
        "active": "search_synonyms",
    }
    if is_htmx(request) and request.method == "GET":
        return page(request, "search/_synonym_rows.html", ctx)
    return page(request, "search/synonyms.html", ctx, status=code)


@router.get("/admin/search/synonyms", response_class=HTMLResponse)
async def synonyms(
    request: Request,
    actor: AdminActor,
    session: DB,
    q: Annotated[str, Query(max_length=50)] = "",
    status: Annotated[str, Query(pattern="^(|proposed|approved)$")] = "",
    after: Annotated[int | None, Query(ge=0)] = None,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    return await _synonyms_page(request, session, q=q.strip(), status=status, after=after,
                                message=MESSAGES.get(msg, ""))  # fmt: skip


@router.post("/admin/search/synonyms", response_class=HTMLResponse)
async def synonym_add(
    request: Request, form: VerifiedForm, actor: AdminActor, session: DB
) -> Response:
    approve = form.get("approve") == "1"
    try:
        await service.propose_synonym(
            session,
            actor,
            term=form.get("term", ""),
            canonical=form.get("canonical", ""),
            approve=approve,
        )
    except AppError as exc:
        await settle(session, exc)
        return await _synonyms_page(request, session, error=exc.message, form=form, code=exc.status)
    return RedirectResponse(
        f"/admin/search/synonyms?msg={'added' if approve else 'proposed'}", status_code=303
    )


@router.post("/admin/search/synonyms/{synonym_id}/approve", response_class=HTMLResponse)
async def synonym_approve(
    synonym_id: int, request: Request, form: VerifiedForm, actor: AdminActor, session: DB
) -> Response:
    await service.approve_synonym(session, actor, synonym_id)
    return RedirectResponse("/admin/search/synonyms?msg=approved", status_code=303)


@router.get("/admin/search/synonyms/{synonym_id}/delete", response_class=HTMLResponse)
async def synonym_delete_confirm(
    synonym_id: int, request: Request, actor: AdminActor, session: DB
) -> HTMLResponse:
    syn = await repository.get_synonym(session, synonym_id)
    if syn is None:
        raise NotFound("同义词不存在")
    return page(request, "search/synonym_delete.html", {"syn": syn, "active": "search_synonyms",
                                                         "statuses": SYNONYM_STATUSES})  # fmt: skip


@router.post("/admin/search/synonyms/{synonym_id}/delete", response_class=HTMLResponse)
async def synonym_delete(
    synonym_id: int, request: Request, form: VerifiedForm, actor: AdminActor, session: DB
) -> Response:
    if form.get("confirm") != "yes":
        return RedirectResponse(f"/admin/search/synonyms/{synonym_id}/delete", status_code=303)
    await service.delete_synonym(session, actor, synonym_id)
    return RedirectResponse("/admin/search/synonyms?msg=deleted", status_code=303)


@router.post("/admin/search/synonyms/learn", response_class=HTMLResponse)
async def synonym_learn(
    request: Request, form: VerifiedForm, actor: AdminActor, session: DB
) -> HTMLResponse:
    found = await service.learn_synonyms(session, engine=get_engine(request.app))
    message = (
        f"从搜索记录中提议了 {len(found)} 条同义词，请逐条审核。"
        if found
        else "搜索记录中暂时没有可提议的同义词。"
    )
    return await _synonyms_page(
        request, session, status="proposed" if found else "", message=message
    )


# --- FAQ --------------------------------------------------------------------------------------


async def _faq_page(
    request: Request, session: AsyncSession, *, q: str = "", after: int | None = None,
    report: service.ImportReport | None = None, code: int = 200,
) -> HTMLResponse:  # fmt: skip
    rows, nxt = await repository.get_faq_entries(session, q=q, after=after)
    return page(
        request,
        "search/faq.html",
        {
            "rows": rows,
            "next_after": nxt,
            "q": q,
            "after": after,
            "count": await repository.count_faq(session),
            "imports": await repository.get_faq_imports(session),
            "report": report,
            "active": "search_faq",
        },
        status=code,
    )


@router.get("/admin/search/faq", response_class=HTMLResponse)
async def faq_admin(
    request: Request,
    actor: AdminActor,
    session: DB,
    q: Annotated[str, Query(max_length=64)] = "",
    after: Annotated[int | None, Query(ge=0)] = None,
) -> HTMLResponse:
    return await _faq_page(request, session, q=q.strip(), after=after)


@router.post("/admin/search/faq/import", response_class=HTMLResponse)
async def faq_import(
    request: Request, form: VerifiedForm, actor: AdminActor, session: DB
) -> HTMLResponse:
    upload = (await request.form()).get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        report = service.ImportReport(
            None, "rejected", 0, 0, [service.faq_io.RowError(1, "", "请选择要导入的文件")]
        )
        return await _faq_page(request, session, report=report, code=422)
    content = await upload.read()
    try:
        report = await service.import_faq(
            session, actor, filename=upload.filename, content=content,
            source=form.get("source", "faq") or "faq", replace=form.get("replace") == "1",
        )  # fmt: skip
    except AppError as exc:
        await settle(session, exc)
        report = service.ImportReport(
            None, "rejected", 0, 0, [service.faq_io.RowError(1, "", exc.message)]
        )
    return await _faq_page(
        request, session, report=report, code=200 if report.status == "done" else 422
    )


# --- search log, corrections ----------------------------------------------------------------------


@router.get("/admin/search/logs", response_class=HTMLResponse)
async def search_logs(
    request: Request, actor: AdminActor, session: DB, msg: Annotated[str, Query(max_length=20)] = ""
) -> HTMLResponse:
    engine = get_engine(request.app)
    await engine.flush_logs(session)
    snap = engine.snapshot
    return page(
        request,
        "search/logs.html",
        {
            "logs": await repository.get_recent_logs(session, limit=50),
            "stats": snap.stats() if snap else None,
            "build_seconds": engine.build_seconds,
            "message": MESSAGES.get(msg, ""),
            "active": "search_logs",
        },
    )


@router.post("/admin/search/corrections", response_class=HTMLResponse)
async def correction_add(
    request: Request, form: VerifiedForm, actor: AdminActor, session: DB
) -> Response:
    await service.add_correction(
        session, get_engine(request.app), actor, query=form.get("query", ""),
        kind=form.get("kind", "item"), key=form.get("key", ""),
    )  # fmt: skip
    return RedirectResponse("/admin/search/logs?msg=corrected", status_code=303)


# --- public -------------------------------------------------------------------------------------


@router.get("/faq/{entry_id}", response_class=HTMLResponse)
async def faq_entry(
    entry_id: int, request: Request, actor: OptionalActor, session: DB
) -> HTMLResponse:
    entry = await repository.get_faq_entry(session, entry_id)
    if entry is None:
        raise NotFound("该问题不存在")
    return page(request, "search/faq_entry.html", {"entry": entry})


# --- the public search page -----------------------------------------------------------------------

KIND_LABELS = {"item": "办事事项", "guide": "办事指南", "faq": "常见问题"}


@router.get("/search", response_class=HTMLResponse)
async def search_page(
    request: Request,
    actor: OptionalActor,
    q: Annotated[str, Query(max_length=100)] = "",
    kind: Annotated[str, Query(pattern="^(|item|guide|faq)$")] = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=100)] = 1,
) -> HTMLResponse:
    """One search box across items, guides and FAQ answers (the same service as the API)."""
    q = q.strip()
    result = None
    if q:
        region = request.cookies.get("tongban_region") or None
        result = await service.search(
            get_engine(request.app),
            q=q,
            kind=kind or None,
            region=region,
            page=page_no,
            actor=actor,
        )
    return page(
        request,
        "search/results.html",
        {"q": q, "kind": kind, "result": result, "kinds": KIND_LABELS},
    )


@router.get("/search/go", include_in_schema=False)
async def search_go(
    request: Request,
    actor: OptionalActor,
    session: DB,
    sid: Annotated[str, Query(max_length=32)],
    kind: Annotated[str, Query(pattern="^(item|guide|faq)$")],
    key: Annotated[str, Query(max_length=120)],
) -> Response:
    """Follow a result: the click is logged (it feeds ranking and synonym learning), then redirect."""
    engine = get_engine(request.app)
    snap = await engine.current()
    url = snap.url_of(kind, key)
    with contextlib.suppress(
        NotFound
    ):  # an expired search id: still take the person where they wanted to go
        await service.record_click(session, engine, search_id=sid, kind=kind, key=key, actor=actor)
    if not url or not url.startswith("/"):
        raise NotFound("该搜索结果不存在", code="result_not_found")
    return RedirectResponse(url, status_code=303)


@router.get("/search/suggest-options", response_class=HTMLResponse, include_in_schema=False)
async def suggest_options(
    request: Request, q: Annotated[str, Query(max_length=100)] = ""
) -> HTMLResponse:
    """Autocomplete as <option> elements for the search box's datalist (htmx)."""
    items = (
        await service.suggest(get_engine(request.app), q=q.strip(), limit=8) if q.strip() else []
    )
    return page(request, "search/_suggest_options.html", {"items": items})
