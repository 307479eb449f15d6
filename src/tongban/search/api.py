"""Search and FAQ JSON API.

``GET /search`` and ``GET /search/suggest`` are the hottest public reads: no
ORM session and no dependency graph (a signed-in caller is resolved on one
pooled connection only when a cookie or token comes with the request), the
answer rendered with orjson.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError
from starlette.routing import Route

from tongban.core.errors import NotAuthenticated, PermissionDenied, ValidationFailed, field_errors
from tongban.identity.access import Actor
from tongban.search import service
from tongban.search.engine import get_engine
from tongban.search.faq import FaqMatch
from tongban.search.index import KINDS, Hit
from tongban.search.schemas import (
    ClickCreate,
    CorrectionCreate,
    FaqAnswerRead,
    FaqAsk,
    FaqAskRead,
    FaqImportRead,
    LearnRead,
    SearchPageRead,
    SuggestPageRead,
    SynonymCreate,
    SynonymPage,
    SynonymRead,
)
from tongban.web.app import ORJSONResponse
from tongban.web.deps import (
    DB,
    SESSION_COOKIE,
    CurrentActor,
    OptionalActor,
    read_actor,
    require_roles,
)

router = APIRouter(tags=["智能搜索与问答"])

AdminActor = Annotated[Actor, require_roles("platform_admin")]
MAX_UPLOAD = 20 * 1024 * 1024

Kind = Annotated[
    str | None,
    Query(pattern="^(item|guide|faq)$", description="只搜一类：item 事项 / guide 指南 / faq 问答"),
]


def hit_dict(h: Hit) -> dict[str, Any]:
    d = h.doc
    return {
        "kind": d.kind,
        "key": d.key,
        "title": d.title,
        "title_html": h.title_html,
        "snippet": h.snippet_html,
        "url": d.url,
        "score": h.score,
        "department": d.department,
        "region_code": d.region_code,
    }


def faq_dict(m: FaqMatch) -> dict[str, Any]:
    return {
        "key": m.key,
        "topic": m.topic,
        "question": m.question,
        "answer": m.answer,
        "item_code": m.item_code,
        "score": m.score,
        "confidence": m.confidence,
    }


async def _optional_reader(request: Request) -> Actor | None:
    """The signed-in caller, if the request carries a session or a token."""
    if not (request.cookies.get(SESSION_COOKIE) or request.headers.get("authorization")):
        return None
    async with request.app.state.engine.connect() as conn:
        try:
            actor = await read_actor(request, conn)
        except NotAuthenticated:
            actor = None
        await conn.commit()
    return actor


_SEARCH_PARAMS = [
    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 100},
     "description": "搜索词：口语、繁体、拼音、首字母均可"},
    {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["item", "guide", "faq"]},
     "description": "只搜一类：item 事项 / guide 指南 / faq 问答"},
    {"name": "region", "in": "query", "schema": {"type": "string", "pattern": "^(\\d{2}|\\d{4}|\\d{6}|\\d{9}|\\d{12})$"},
     "description": "搜索人所在行政区划（影响排序）；不填时用登录账户的区划"},
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 1}},
    {"name": "size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}},
]  # fmt: skip


def _int_param(params: Any, name: str, default: int, hi: int, errors: list[dict[str, str]]) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdecimal() or not 1 <= int(raw) <= hi:
        errors.append({"field": name, "message": f"应为 1 到 {hi} 的整数"})
        return default
    return int(raw)


@router.get(
    "/search", summary="搜索事项、指南和常见问题", response_model=SearchPageRead,
    openapi_extra={"parameters": _SEARCH_PARAMS},
)  # fmt: skip
async def search(request: Request) -> ORJSONResponse:
    # Parameters are read by hand: FastAPI's per-parameter validation cost
    # ~0.4 ms per request here, as much as the search itself.
    params = request.query_params
    errors: list[dict[str, str]] = []
    q = params.get("q", "")
    if len(q) > 100:
        errors.append({"field": "q", "message": "内容太长"})
    kind = params.get("kind") or None
    if kind is not None and kind not in KINDS:
        errors.append({"field": "kind", "message": "取值不在允许范围内"})
    region = params.get("region") or None
    if region is not None and not (
        region.isascii() and region.isdigit() and len(region) in (2, 4, 6, 9, 12)
    ):
        errors.append({"field": "region", "message": "行政区划代码应为 2、4、6、9 或 12 位数字"})
    page = _int_param(params, "page", 1, 50, errors)
    size = _int_param(params, "size", 10, 50, errors)
    if errors:
        raise ValidationFailed("提交的内容不符合要求，请检查后重新提交", details=errors)
    actor = await _optional_reader(request)
    result = await service.search(
        get_engine(request.app), q=q, kind=kind, region=region, page=page, size=size, actor=actor
    )
    return ORJSONResponse(
        {
            "search_id": result.search_id,
            "query": result.query,
            "total": result.total,
            "page": result.page,
            "pages": result.pages,
            "suggestion": result.suggestion,
            "corrected": result.corrected,
            "results": [hit_dict(h) for h in result.hits],
            "faq": [faq_dict(m) for m in result.faq],
        }
    )


def hot_routes() -> list[Route]:
    """``GET /search`` and ``/search/suggest`` ahead of FastAPI's stack
    (``web.app.HotRoutes``): both already read their parameters by hand and
    open no session; the router walk and middleware cost ~0.2 ms a request,
    a third of a search at 100,000 entries."""
    return [
        Route("/api/v1/search", search, methods=["GET"], name="search_hot"),
        Route("/api/v1/search/suggest", suggest_hot, methods=["GET"], name="search_suggest_hot"),
    ]


@router.get(
    "/search/suggest", summary="输入提示（按标题和拼音前缀）", response_model=SuggestPageRead
)
async def suggest(
    request: Request,
    q: Annotated[str, Query(max_length=50)] = "",
    kind: Kind = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 8,
) -> ORJSONResponse:
    return await _suggest(request, q, kind, limit)


class _SuggestParams(BaseModel):
    q: str = Field("", max_length=50)
    kind: str | None = Field(None, pattern="^(item|guide|faq)$")
    limit: int = Field(8, ge=1, le=20)


async def suggest_hot(request: Request) -> ORJSONResponse:
    """``suggest`` as a hot route: the same parameters, limits and errors
    (validated by one model, translated by ``field_errors``)."""
    params = request.query_params
    raw = {k: params[k] for k in ("q", "kind", "limit") if k in params}
    try:
        p = _SuggestParams.model_validate(raw)
    except PydanticValidationError as exc:
        raise ValidationFailed(
            "提交的内容不符合要求，请检查后重新提交", details=field_errors(exc.errors())
        ) from None
    return await _suggest(request, p.q, p.kind, p.limit)


async def _suggest(request: Request, q: str, kind: str | None, limit: int) -> ORJSONResponse:
    found = await service.suggest(get_engine(request.app), q=q, kind=kind, limit=limit)
    return ORJSONResponse({"query": q, "suggestions": [{"title": t, "kind": k} for t, k in found]})


@router.get("/search/status", summary="搜索索引状态（文档数、构建耗时、内存）")
async def status(request: Request) -> ORJSONResponse:
    engine = get_engine(request.app)
    snap = await engine.current()
    before, after = engine.rss_mb
    return ORJSONResponse(
        {
            "version": snap.version,
            **snap.stats(),
            "build_seconds": round(engine.build_seconds, 2),
            "rss_before_build_mb": round(before, 1),
            "rss_after_build_mb": round(after, 1),
        }
    )


@router.post("/search/click", summary="记录搜索后点击的结果（用于排序）", status_code=204)
async def click(body: ClickCreate, request: Request, session: DB, actor: OptionalActor) -> None:
    await service.record_click(
        session,
        get_engine(request.app),
        search_id=body.search_id,
        kind=body.kind,
        key=body.key,
        actor=actor,
    )


@router.post("/faq/ask", summary="常见问题匹配：给出最相近的问答", response_model=FaqAskRead)
async def ask(body: FaqAsk, request: Request) -> ORJSONResponse:
    if len(body.question.strip()) < 2:
        raise ValidationFailed("请把问题写完整（至少 2 个字）", code="question_too_short")
    found = await service.ask_faq(get_engine(request.app), question=body.question, limit=body.limit)
    return ORJSONResponse({"question": body.question, "answers": [faq_dict(m) for m in found]})


# --- administration ---------------------------------------------------------------------------


def _synonym_read(s: Any) -> SynonymRead:
    return SynonymRead(
        id=s.id, term=s.term, canonical=s.canonical, status=s.status, source=s.source, evidence=s.evidence,
        created_at=s.created_at, approved_at=s.approved_at,
    )  # fmt: skip


@router.get("/search/synonyms", summary="同义词列表", response_model=SynonymPage)
async def get_synonyms(
    session: DB,
    actor: CurrentActor,
    q: Annotated[str, Query(max_length=50)] = "",
    status: Annotated[str | None, Query(pattern="^(proposed|approved)$")] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SynonymPage:
    if not actor.is_staff:
        raise PermissionDenied("该功能仅供工作人员使用")
    rows, nxt = await service.get_synonyms(session, q=q, status=status, after=after, limit=limit)
    return SynonymPage(items=[_synonym_read(s) for s in rows], next_after=nxt)


@router.post(
    "/search/synonyms",
    summary="提议同义词（平台管理员可直接启用）",
    response_model=SynonymRead,
    status_code=201,
)
async def create_synonym(body: SynonymCreate, session: DB, actor: CurrentActor) -> SynonymRead:
    syn = await service.propose_synonym(
        session, actor, term=body.term, canonical=body.canonical, approve=body.approve
    )
    return _synonym_read(syn)


@router.post(
    "/search/synonyms/{synonym_id}/approve", summary="启用同义词", response_model=SynonymRead
)
async def approve_synonym(synonym_id: int, session: DB, actor: AdminActor) -> SynonymRead:
    return _synonym_read(await service.approve_synonym(session, actor, synonym_id))


@router.delete("/search/synonyms/{synonym_id}", summary="删除同义词", status_code=204)
async def delete_synonym(synonym_id: int, session: DB, actor: AdminActor) -> None:
    await service.delete_synonym(session, actor, synonym_id)


@router.post("/search/synonyms/learn", summary="从搜索记录中提议同义词", response_model=LearnRead)
async def learn(request: Request, session: DB, actor: AdminActor) -> LearnRead:
    found = await service.learn_synonyms(session, engine=get_engine(request.app))
    return LearnRead(proposed=[_synonym_read(s) for s in found])


@router.post(
    "/search/corrections", summary="工作人员纠正：指定某个搜索词的正确结果", status_code=201
)
async def create_correction(
    body: CorrectionCreate, request: Request, session: DB, actor: CurrentActor
) -> dict:
    corr = await service.add_correction(
        session, get_engine(request.app), actor, query=body.query, kind=body.kind, key=body.key
    )
    return {
        "id": corr.id,
        "query": corr.normalised,
        "kind": corr.kind,
        "key": corr.key,
        "title": corr.title,
    }


@router.post("/faq/imports", summary="导入常见问题（TSV 或 xlsx）", response_model=FaqImportRead)
async def import_faq(
    session: DB,
    actor: AdminActor,
    file: Annotated[
        UploadFile, File(description="列：id、docid、question、answer（可选 item_code）")
    ],
    source: Annotated[str, Form(max_length=60)] = "faq",
    replace: Annotated[bool, Form()] = False,
) -> ORJSONResponse:
    content = await file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise ValidationFailed("文件不能超过 20 MB", code="file_too_large")
    report = await service.import_faq(
        session,
        actor,
        filename=file.filename or "",
        content=content,
        source=source,
        replace=replace,
    )
    body = {
        "id": report.import_id,
        "status": report.status,
        "rows_read": report.rows_read,
        "rows_written": report.rows_written,
        "errors": [{"row": e.row, "column": e.column, "message": e.text()} for e in report.errors],
    }
    return ORJSONResponse(body, status_code=200 if report.status == "done" else 422)


__all__ = ["FaqAnswerRead", "router"]
