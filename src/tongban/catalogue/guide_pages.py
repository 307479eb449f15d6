"""Guides and browsing for people (办事指南, 办事服务): public pages, no sign-in.

- ``/services``: the catalogue home — search box, life-event themes of persons
  and enterprises, departments and regions, the visitor's region first;
- ``/services/themes/{code}``, ``/services/departments/{id}``,
  ``/services/regions/{code}``: paginated lists of published entries with
  filters (person/enterprise, region subtree, 全程网办 only);
- ``/guide/{id}``: the guide of one implementation entry; ``/guide/{id}.pdf``
  its PDF (``catalogue.pdf``); ``/guide/code/{实施编码}`` redirects;
- ``/files/{sha256}?g={id}``: blank forms and samples a published guide offers.

Thin: queries in ``guide_queries``, rendering of facts into words in
``guide_context``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.catalogue import codes, guide_queries, pdf
from tongban.catalogue.guide_queries import Guide, ListFilter
from tongban.catalogue.models import ONLINE_STATUSES
from tongban.catalogue.schemas import Step
from tongban.core import files, scope
from tongban.core.clock import local
from tongban.core.errors import NotFound
from tongban.identity.access import Actor
from tongban.web.deps import DB, OptionalActor, VerifiedForm
from tongban.web.pages import LEGAL_THEMES, PERSONAL_THEMES, is_htmx, page, safe_next
from tongban.web.render import environment, preferences, to_traditional

log = logging.getLogger("tongban.catalogue.guide")

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

REGION_COOKIE = "tongban_region"
REGION_RE = re.compile(r"\d{12}")
SHA_PATTERN = r"^[0-9a-f]{64}$"
MAX_ID = 2**63 - 1  # a bigint: larger ids are answered 422, never passed to the database
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
AUDIENCES = {"person": "个人办事", "enterprise": "法人办事"}


# --- the visitor's region --------------------------------------------------------------------


def visitor_region(request: Request, actor: Actor | None) -> str | None:
    """The region whose entries come first: the visitor's pick (cookie), else
    the signed-in account's region."""
    raw = request.cookies.get(REGION_COOKIE, "")
    if REGION_RE.fullmatch(raw) and raw != "0" * 12:
        return raw
    if (
        actor is not None
        and REGION_RE.fullmatch(actor.region_code or "")
        and actor.region_code != "0" * 12
    ):
        return actor.region_code
    return None


def public_base(request: Request) -> str:
    """The platform's public address for printed links and QR codes."""
    configured = request.app.state.settings.base_url.strip().rstrip("/")
    return configured or str(request.base_url).rstrip("/")


# --- the guide as words ---------------------------------------------------------------------


def chinese_date(value: dt.datetime | None, tz: str = "Asia/Shanghai") -> str:
    if value is None:
        return ""
    d = local(value, tz)
    return f"{d.year}年{d.month}月{d.day}日"


def default_steps(guide: Guide) -> list[Step]:
    """申请 → 受理 → 审查 → 决定 → 送达, worded from the entry's own facts."""
    f = guide.fields
    online = bool({"2", "3"} & set(f.handling_forms)) and f.online_depth >= 2
    how = "在线填写申请并上传材料，或到窗口提交" if online else "到办理窗口提交申请材料"
    delivery = ["到窗口领取"]
    if f.express:
        delivery.append("邮寄送达")
    if online:
        delivery.append("电子送达")
    delivery_text = (
        "、".join(delivery[:-1]) + "或" + delivery[-1] if len(delivery) > 1 else delivery[0]
    )
    instant = f.promised_limit.value == 0 or f.case_type == "1"
    return [
        Step(name="申请", actor="申请人", description=how),
        Step(
            name="受理",
            actor="综合受理窗口",
            description="查验材料：齐全、符合法定形式的当场受理；不齐全的一次性告知需要补正的全部内容",
        ),
        Step(name="审查", actor=guide.department.name, description="审查申请材料，必要时进行核查"),
        Step(
            name="决定",
            actor=guide.department.name,
            description=("当场作出决定" if instant else "在承诺时限内作出决定")
            + "；不予办理的，书面说明理由",
            limit=f.promised_limit if not instant else None,
        ),
        Step(name="送达", actor=guide.department.name, description=f"办理结果可{delivery_text}"),
    ]


def _copies(m: Any) -> str:
    parts = []
    if m.originals:
        parts.append(f"原件 {m.originals} 份")
    if m.copies:
        parts.append(f"复印件 {m.copies} 份")
    return "；".join(parts) or ("电子材料" if m.kind == "electronic" else "—")


def material_rows(guide: Guide, *, downloads: bool) -> list[dict[str, Any]]:
    rows = []
    gid = guide.impl.id
    for m in guide.fields.materials:
        notes = []
        if m.licence_type_code:
            notes.append(("exempt", "可用电子证照代替，经您授权后由系统调取"))
        elif m.data_element:
            notes.append(("exempt", "通过政务数据共享获取，无需您提供"))
        if m.commitment_allowed:
            notes.append(("commit", "可以书面承诺代替本证明，事后核查"))
        rows.append(
            {
                "name": m.name,
                "issuer": m.issuer or "—",
                "copies": _copies(m),
                "required": m.required,
                "kind": {"paper": "纸质", "electronic": "电子", "both": "纸质或电子"}[m.kind],
                "form_url": f"/files/{m.form_file}?g={gid}" if downloads and m.form_file else "",
                "sample_url": f"/files/{m.sample_file}?g={gid}"
                if downloads and m.sample_file
                else "",
                "notes": notes,
                "note": m.note,
            }
        )
    return rows


async def faq_entries(session: AsyncSession, guide: Guide) -> list[dict[str, str]]:
    """FAQ answers for the item (``tongban.search.faq_for_item``: those filed
    under its base code, then those matching its name); nothing, and no
    error, when the search package is absent or does not answer."""
    try:
        from tongban.search import faq_for_item
    except ImportError:
        return []
    try:
        found = await faq_for_item(
            session, item_name=guide.fields.name, item_code=guide.base_code, limit=8
        )
        return [
            {"question": str(e["question"]), "answer": str(e["answer"])}
            for e in found
            if e.get("question") and e.get("answer")
        ]
    except Exception:  # the guide must render even when the FAQ does not answer
        log.warning("faq_for_item failed for implementation %s", guide.impl.id, exc_info=True)
        return []


def guide_context(
    guide: Guide, *, base: str, actor: Actor | None, faq: list[dict[str, str]]
) -> dict[str, Any]:
    f, loc, impl = guide.fields, guide.local, guide.impl
    published = impl.status == "published"
    online = bool({"2", "3"} & set(f.handling_forms)) and f.online_depth >= 2
    apply_path = f"/apply/{impl.id}"
    apply_url = apply_path if actor is not None else f"/login?next={quote(apply_path, safe='')}"
    guide_path = f"/guide/{impl.id}"
    return {
        "g": guide,
        "f": f,
        "loc": loc,
        "impl": impl,
        "retired": guide.retired,
        "item_type": codes.item_type_label(f.item_type),
        "levels": [codes.EXERCISE_LEVELS[x] for x in f.levels],
        "objects": [codes.SERVICE_OBJECTS[x] for x in f.service_objects],
        "case_type": codes.CASE_TYPES.get(f.case_type, ""),
        "handling_forms": [codes.HANDLING_FORMS[x] for x in f.handling_forms],
        "online_depth": codes.ONLINE_DEPTHS.get(f.online_depth, ""),
        "online_status": ONLINE_STATUSES.get(impl.online_status, ""),
        "tongban_scope": codes.TONGBAN_SCOPES.get(f.tongban_scope, ""),
        "result_kind": codes.RESULT_KINDS.get(f.result.kind, ""),
        "region_name": guide.region.full_name if guide.region else impl.region_code,
        "statutory": f.statutory_limit.label(),
        "promised": f.promised_limit.label(),
        "instant": f.promised_limit.value == 0,
        "special_procedures": [
            {
                "kind": codes.SPECIAL_PROCEDURE_KINDS[p.kind],
                "name": p.name,
                "limit": p.limit.label() if p.limit else "",
            }
            for p in f.special_procedures
        ],
        "steps": f.steps or default_steps(guide),
        "default_steps": not f.steps,
        "materials": material_rows(guide, downloads=published),
        "result_sample_url": (
            f"/files/{f.result.sample_file}?g={impl.id}"
            if published and f.result.sample_file
            else ""
        ),
        "can_apply": published and online,
        "apply_url": apply_url,
        "apply_path": apply_path,
        "external_url": f.online_url
        if published and f.online_url.startswith(("https://", "http://"))
        else "",
        "faq": faq,
        "version": guide.version.version,
        "published_on": chinese_date(guide.published_at),
        "guide_path": guide_path,
        "guide_url": base + guide_path,
        "pdf_path": f"{guide_path}.pdf",
        "base": base,
        "qr_svg": pdf.qr_svg(base + guide_path),
    }


async def _guide_or_404(session: AsyncSession, impl_id: int) -> Guide:
    guide = await guide_queries.get_guide(session, impl_id)
    if guide is None:
        raise NotFound("办事指南不存在或尚未发布", code="guide_not_found")
    return guide


# --- guide routes -------------------------------------------------------------------------------
# The PDF route comes first: "/guide/12.pdf" would otherwise reach "/guide/{impl_id}".


@router.get("/guide/code/{impl_code}")
async def guide_by_code(
    session: DB, impl_code: Annotated[str, Path(max_length=80, pattern=r"^[0-9A-Za-z\-]+$")]
) -> RedirectResponse:
    impl_id = await guide_queries.get_impl_id_by_code(session, impl_code)
    if impl_id is None:
        raise NotFound("办事指南不存在或尚未发布", code="guide_not_found")
    return RedirectResponse(f"/guide/{impl_id}", status_code=301)


@router.get("/guide/{impl_id}.pdf")
async def guide_pdf(request: Request, session: DB, actor: OptionalActor, impl_id: Id) -> Response:
    guide = await _guide_or_404(session, impl_id)
    ctx = guide_context(
        guide, base=public_base(request), actor=None, faq=await faq_entries(session, guide)
    )
    ctx |= {"font_stack": pdf.FONT_STACK, "prefs": preferences(request), "for_pdf": True}
    html = environment().get_template("catalogue/guide_pdf.html").render(ctx)
    if ctx["prefs"]["script"] == "hant":
        html = to_traditional(html)
    etag = f'"{pdf.key_of(html)}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    out = await pdf.cached_pdf(html, data_dir=request.app.state.settings.data_dir)
    name = quote(f"{guide.fields.name}办事指南.pdf")
    headers["Content-Disposition"] = (
        f"inline; filename=\"guide-{impl_id}.pdf\"; filename*=UTF-8''{name}"
    )
    if out.rendered_ms is not None:
        headers["Server-Timing"] = f"pdf;dur={out.rendered_ms:.1f}"
    return Response(out.data, media_type="application/pdf", headers=headers)


@router.get("/guide/{impl_id}", response_class=HTMLResponse)
async def guide_page(
    request: Request, session: DB, actor: OptionalActor, impl_id: Id
) -> HTMLResponse:
    guide = await _guide_or_404(session, impl_id)
    ctx = guide_context(
        guide, base=public_base(request), actor=actor, faq=await faq_entries(session, guide)
    )
    ctx["nav"] = "personal" if guide.impl.for_persons else "legal"
    return page(request, "catalogue/guide_page.html", ctx)


@router.get("/files/{sha256}")
async def guide_file(
    session: DB,
    sha256: Annotated[str, Path(pattern=SHA_PATTERN)],
    g: Annotated[int, Query(ge=0, le=MAX_ID, description="the guide that offers the file")] = 0,
) -> Response:
    """A blank form or sample offered by a published guide. Stored files are
    otherwise private (case materials): a file no published guide offers is
    answered 404, the same as a missing one."""
    if not await guide_queries.published_file_reference(session, g, sha256):
        raise NotFound("文件不存在", code="file_not_found")
    row, data = await files.load(session, sha256)
    return Response(
        data,
        media_type=row.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(row.name)}",
            "Cache-Control": "public, max-age=31536000, immutable",  # content-addressed
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- browsing -------------------------------------------------------------------------------------

LEGACY_THEMES = {
    slug: t.get("code", slug) for slug, t in {**PERSONAL_THEMES, **LEGAL_THEMES}.items()
}

PageNo = Annotated[int, Query(ge=1, le=100000)]
Audience = Annotated[str, Query(pattern="^(|person|enterprise)$")]
RegionParam = Annotated[str, Query(pattern=r"^(\d{12})?$")]
OnlineParam = Annotated[str, Query(pattern="^(|1)$")]


BROWSE_CACHE_SECONDS = 60.0
BROWSE_CACHE_MAX = 2000


async def _browse_cached(
    request: Request, key: tuple[Any, ...], load: Callable[[], Awaitable[T]]
) -> T:
    """The counts on ``/services`` (themes, departments, regions) aggregate the
    whole catalogue — tens of milliseconds at 100,000 entries — and change only
    when something is published: kept per application for a minute."""
    cache: dict[tuple[Any, ...], tuple[float, Any]] | None = getattr(
        request.app.state, "guide_browse_cache", None
    )
    if cache is None:
        cache = {}
        request.app.state.guide_browse_cache = cache
    hit = cache.get(key)
    clock = time.monotonic()
    if hit is not None and hit[0] > clock:
        return hit[1]
    value = await load()
    if len(cache) >= BROWSE_CACHE_MAX:
        cache.clear()
    cache[key] = (clock + BROWSE_CACHE_SECONDS, value)
    return value


async def _region_label(session: AsyncSession, code: str | None) -> str:
    if not code:
        return ""
    r = await guide_queries.get_region(session, code)
    return r.full_name if r else code


@router.get("/services", response_class=HTMLResponse)
async def services_home(
    request: Request,
    session: DB,
    actor: OptionalActor,
    theme: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    if theme:  # the portal's first links: /services?theme=birth
        code = LEGACY_THEMES.get(theme, theme)
        if await guide_queries.get_theme(session, code) is None:
            raise NotFound("没有这个办事主题", code="theme_not_found")
        return RedirectResponse(f"/services/themes/{code}", status_code=301)
    home = visitor_region(request, actor)
    themes = await _browse_cached(
        request, ("themes",), lambda: guide_queries.themes_with_counts(session)
    )
    view = await _browse_cached(
        request, ("region", home), lambda: guide_queries.region_view(session, home)
    )
    departments = await _browse_cached(
        request,
        ("departments", home),
        lambda: guide_queries.departments_with_entries(session, home_region=home),
    )
    ctx = {
        "nav": "services",
        "person_themes": [t for t in themes if t.audience == "person"],
        "enterprise_themes": [t for t in themes if t.audience == "enterprise"],
        "departments": departments,
        "home": home,
        "home_view": view,
        "home_name": view.region.full_name if view.region else "",
    }
    return page(request, "catalogue/guide_services.html", ctx)


async def _list_page(
    request: Request,
    session: AsyncSession,
    actor: Actor | None,
    *,
    kind: str,
    title: str,
    base_path: str,
    flt: ListFilter,
    page_no: int,
    extra: dict[str, Any],
) -> HTMLResponse:
    home = visitor_region(request, actor)
    listing = await guide_queries.list_published(session, flt, home_region=home, page=page_no)
    params = {
        "audience": flt.audience,
        "online": "1" if flt.online_only else "",
        "region": flt.region_code or "" if kind != "region" else "",
    }
    ctx = {
        "kind": kind,
        "title": title,
        "base_path": base_path,
        "listing": listing,
        "params": params,
        "query": {k: v for k, v in params.items() if v},
        "home": home,
        "home_name": await _region_label(session, home),
        "region_name": await _region_label(session, flt.region_code) if kind != "region" else "",
        "online_names": ONLINE_STATUSES,
        "audiences": AUDIENCES,
        **extra,
    }
    if is_htmx(request):
        return page(request, "catalogue/_guide_results.html", ctx)
    return page(request, "catalogue/guide_list.html", ctx)


@router.get("/services/themes/{code}", response_class=HTMLResponse)
async def services_theme(
    request: Request,
    session: DB,
    actor: OptionalActor,
    code: Annotated[str, Path(max_length=40)],
    page: PageNo = 1,
    audience: Audience = "",
    online: OnlineParam = "",
    region: RegionParam = "",
) -> HTMLResponse:
    theme = await guide_queries.get_theme(session, code)
    if theme is None:
        raise NotFound("没有这个办事主题", code="theme_not_found")
    flt = ListFilter(
        theme=theme.code, region_code=region or None, audience=audience, online_only=online == "1"
    )
    return await _list_page(
        request,
        session,
        actor,
        kind="theme",
        title=theme.name,
        base_path=f"/services/themes/{theme.code}",
        flt=flt,
        page_no=page,
        extra={"theme": theme, "nav": "legal" if theme.audience == "enterprise" else "personal"},
    )


@router.get("/services/departments/{department_id}", response_class=HTMLResponse)
async def services_department(
    request: Request,
    session: DB,
    actor: OptionalActor,
    department_id: Id,
    page: PageNo = 1,
    audience: Audience = "",
    online: OnlineParam = "",
) -> HTMLResponse:
    found = await guide_queries.get_department(session, department_id)
    if found is None:
        raise NotFound("部门不存在", code="department_not_found")
    dept, region = found
    flt = ListFilter(department_id=dept.id, audience=audience, online_only=online == "1")
    return await _list_page(
        request,
        session,
        actor,
        kind="department",
        title=dept.name,
        base_path=f"/services/departments/{dept.id}",
        flt=flt,
        page_no=page,
        extra={
            "department": dept,
            "dept_region": region.full_name if region else dept.region_code,
            "nav": "services",
        },
    )


@router.get("/services/regions", response_class=HTMLResponse)
async def services_regions(request: Request, session: DB, actor: OptionalActor) -> HTMLResponse:
    """The provinces: where the region picker starts."""
    view = await guide_queries.region_view(session, None)
    return page(
        request,
        "catalogue/guide_regions.html",
        {"view": view, "home": visitor_region(request, actor), "nav": "services"},
    )


@router.get("/services/regions/{code}", response_class=HTMLResponse)
async def services_region(
    request: Request,
    session: DB,
    actor: OptionalActor,
    code: Annotated[str, Path(pattern=r"^\d{12}$")],
    page: PageNo = 1,
    audience: Audience = "",
    online: OnlineParam = "",
) -> HTMLResponse:
    view = await guide_queries.region_view(session, code)
    if view.region is None:
        raise NotFound("没有这个行政区划", code="region_not_found")
    flt = ListFilter(region_code=code, audience=audience, online_only=online == "1")
    return await _list_page(
        request,
        session,
        actor,
        kind="region",
        title=view.region.full_name,
        base_path=f"/services/regions/{code}",
        flt=flt,
        page_no=page,
        extra={
            "view": view,
            "nav": "services",
            "level_name": scope.LEVEL_NAMES.get(view.region.level, ""),
        },
    )


@router.post("/services/region")
async def set_region(request: Request, session: DB, form: VerifiedForm) -> RedirectResponse:
    """Remember the visitor's region (a cookie): its entries come first in every list."""
    code = form.get("region", "").strip()
    response = RedirectResponse(safe_next(form.get("next"), "/services"), status_code=303)
    if not code:
        response.delete_cookie(REGION_COOKIE, path="/")
        return response
    if not REGION_RE.fullmatch(code) or await guide_queries.get_region(session, code) is None:
        raise NotFound("没有这个行政区划", code="region_not_found")
    response.set_cookie(
        REGION_COOKIE,
        code,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.cookie_secure,
        path="/",
    )
    return response
