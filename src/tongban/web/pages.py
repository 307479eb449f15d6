"""Public and staff pages that belong to no single domain: the portal, the
search page, display preferences, the staff workbench home and the
leader's dashboard. (Theme, department and region browsing and the guides
are ``catalogue.guide_pages``.)

Also the page helpers every domain's ``pages.py`` uses: ``page()`` (render with
a visitor CSRF token so the header's preference switches work everywhere),
``safe_next()`` and ``home_path()``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core.errors import AppError, PermissionDenied
from tongban.identity import service as identity_service
from tongban.identity.access import Actor
from tongban.identity.models import ROLES
from tongban.web import read_models as rm
from tongban.web.deps import (
    DB,
    CurrentActor,
    OptionalActor,
    VerifiedForm,
    ensure_anon_csrf,
    require_roles,
)
from tongban.web.render import PREF_COOKIE, environment, pref_cookie_value, preferences, render

router = APIRouter(include_in_schema=False)

STAFF_KINDS = {"staff"}


# --- helpers shared by every domain's pages ---------------------------------------------


def home_path(actor: Actor | None) -> str:
    """Where an account lands after signing in (and what "我的" links to)."""
    if actor is None:
        return "/"
    if actor.kind == "person":
        return "/me"
    if "platform_admin" in actor.roles:
        return "/admin"
    if "leader" in actor.roles:
        return "/leader"
    return "/workbench"


def safe_next(value: str | None, default: str = "/") -> str:
    """A redirect target from a ``next`` parameter: local paths only.

    Refuses absolute and protocol-relative URLs (``//evil``), backslashes
    (browsers read ``/\\evil`` as ``//evil``) and control characters or spaces
    (browsers strip tabs and newlines, turning ``/\\t/evil`` into ``//evil``).
    """
    if not value or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def current_path(request: Request) -> str:
    """The page to come back to (after a preference switch, after signing in).

    A page rendered in answer to a POST (a form shown again with its errors)
    has no GET address of its own: come back to the page the form was on.
    """
    if request.method not in ("GET", "HEAD"):
        referer = urlsplit(request.headers.get("referer", ""))
        if referer.netloc == request.url.netloc:
            return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))
        return "/"
    q = request.url.query
    return request.url.path + (f"?{q}" if q else "")


def page(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render a page; visitors get a CSRF token for the header's forms."""
    if getattr(request.state, "actor", None) is None:
        ensure_anon_csrf(request)
    return render(request, template, context, status=status)


def is_htmx(request: Request) -> bool:
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


async def settle(session: AsyncSession, exc: AppError) -> None:
    """A page that shows an error instead of raising it ends its transaction
    as the request edge would have: kept only for errors that must leave a
    trace (``AppError.persist``: a failed sign-in counts towards lockout)."""
    if not exc.persist:
        await session.rollback()


def require_staff(actor: Actor) -> Actor:
    if actor.kind not in STAFF_KINDS:
        raise PermissionDenied("该页面仅供工作人员使用")
    return actor


def _install_template_globals() -> None:
    env = environment()
    env.globals.update(home_path=home_path, role_names=ROLES, current_path=current_path)


_install_template_globals()


# --- portal ----------------------------------------------------------------------------

# Life events (人生事) and enterprise stages as the portal home shows them
# (icon, words). ``code`` is the catalogue theme (``catalogue.service.DEFAULT_THEMES``)
# whose list ``/services/themes/{code}`` shows; ``services`` are examples.
PERSONAL_THEMES: dict[str, dict[str, Any]] = {
    "birth": {
        "code": "birth",
        "name": "出生",
        "icon": "生",
        "desc": "出生证明、落户、医保",
        "services": [
            "出生医学证明",
            "预防接种证",
            "出生登记（落户）",
            "城乡居民医保参保登记",
            "社会保障卡申领",
            "新生儿出生“一件事”",
        ],
    },
    "school": {
        "code": "school",
        "name": "上学",
        "icon": "学",
        "desc": "入学、学籍、资助",
        "services": ["义务教育入学报名", "转学与学籍变动", "学生资助申请", "教师资格认定"],
    },
    "employment": {
        "code": "work",
        "name": "就业",
        "icon": "业",
        "desc": "就业登记、技能补贴",
        "services": [
            "就业登记",
            "失业登记与失业保险金申领",
            "职业技能培训补贴",
            "灵活就业人员参保",
            "人才引进落户",
        ],
    },
    "marriage": {
        "code": "marriage",
        "name": "婚育",
        "icon": "婚",
        "desc": "结婚、生育登记",
        "services": ["结婚登记（预约）", "生育登记", "生育保险待遇申领", "育儿补贴申领"],
    },
    "housing": {
        "code": "housing",
        "name": "住房",
        "icon": "房",
        "desc": "公积金、不动产",
        "services": ["住房公积金提取", "不动产登记", "公共租赁住房申请", "住房租赁备案"],
    },
    "travel": {
        "code": "driving",
        "name": "出行",
        "icon": "行",
        "desc": "驾驶证、出入境",
        "services": ["驾驶证换领", "机动车登记", "出入境证件办理", "居住证办理"],
    },
    "medical": {
        "code": "medical",
        "name": "就医",
        "icon": "医",
        "desc": "医保报销、异地备案",
        "services": ["异地就医备案", "医疗费用零星报销", "门诊慢特病待遇认定"],
    },
    "retirement": {
        "code": "retire",
        "name": "退休",
        "icon": "退",
        "desc": "退休、养老金",
        "services": ["职工退休申请", "养老保险待遇领取", "养老保险关系转移接续", "高龄津贴申领"],
    },
    "farewell": {
        "code": "death",
        "name": "身后事",
        "icon": "念",
        "desc": "户口注销、丧葬补助",
        "services": ["死亡医学证明", "户口注销", "丧葬补助金与抚恤金申领", "身后事“一件事”"],
    },
}
LEGAL_THEMES: dict[str, dict[str, Any]] = {
    "start": {
        "code": "start_business",
        "name": "开办",
        "icon": "开",
        "desc": "设立登记、印章、发票",
        "services": [
            "企业设立登记",
            "公章刻制备案",
            "发票申领",
            "员工参保登记",
            "住房公积金缴存登记",
            "企业开办“一件事”",
        ],
    },
    "permit": {
        "code": "permit",
        "name": "准营",
        "icon": "营",
        "desc": "经营许可",
        "services": ["食品经营许可", "公共场所卫生许可", "药品经营许可", "道路运输经营许可"],
    },
    "change": {
        "code": "change",
        "name": "变更",
        "icon": "变",
        "desc": "名称、住所、法定代表人",
        "services": ["名称变更登记", "住所变更登记", "法定代表人变更登记", "税务登记信息变更"],
    },
    "construction": {
        "code": "invest",
        "name": "工程建设",
        "icon": "建",
        "desc": "规划、施工许可",
        "services": ["建设用地规划许可", "建设工程规划许可", "建筑工程施工许可", "竣工联合验收"],
    },
    "tax": {
        "code": "tax",
        "name": "纳税缴费",
        "icon": "税",
        "desc": "申报、社保缴费",
        "services": ["增值税申报", "社会保险费申报缴纳", "涉税证明开具"],
    },
    "cancel": {
        "code": "cancel",
        "name": "注销",
        "icon": "销",
        "desc": "简易注销、清税",
        "services": ["企业简易注销登记", "清税证明", "社会保险注销登记", "企业注销“一件事”"],
    },
}


@router.get("/", response_class=HTMLResponse)
async def portal_home(request: Request, actor: OptionalActor) -> HTMLResponse:
    return page(request, "portal/home.html", {"personal": PERSONAL_THEMES, "legal": LEGAL_THEMES})


# --- display preferences ---------------------------------------------------------------------


@router.post("/prefs")
async def set_prefs(
    request: Request, form: VerifiedForm, actor: OptionalActor, session: DB
) -> RedirectResponse:
    """Switch 长者模式 or 简/繁 display: kept on the account, or in a cookie for visitors."""
    changes: dict[str, Any] = {}
    if form.get("elderly") in ("0", "1"):
        changes["elderly"] = form["elderly"] == "1"
    if form.get("script") in ("hans", "hant"):
        changes["script"] = form["script"]
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    if not changes:
        return response
    if actor is not None and actor.account_id is not None:
        for key, value in changes.items():
            await identity_service.set_preference(session, actor, key, value)
    else:
        prefs = preferences(request) | changes
        response.set_cookie(
            PREF_COOKIE,
            pref_cookie_value(prefs),
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=request.app.state.settings.cookie_secure,
            path="/",
        )
    return response


# --- staff workbench --------------------------------------------------------------------------


@router.get("/workbench", response_class=HTMLResponse)
async def workbench_home(request: Request, actor: CurrentActor, session: DB) -> HTMLResponse:
    require_staff(actor)
    ctx = {
        "department": await rm.department_of(session, actor),
        "region": await rm.region_of(session, actor.region_code),
        "persons_count": await rm.count_persons(session, actor),
        "enterprises_count": await rm.count_enterprises(session, actor),
        "active": "home",
    }
    return page(request, "workbench/home.html", ctx)


# Entries for capabilities still being built: the nav shows them to their
# roles, and the page says so instead of pretending.
UPCOMING = {
    "hotline": (
        "dispatcher",
        "12345 热线派单",
        "热线工单的分类、派单、签收、回访和满意度将在这里处理。",
    ),
}


async def _upcoming(request: Request, actor: Actor, section: str) -> HTMLResponse:
    require_staff(actor)
    role, title, text = UPCOMING[section]
    if not actor.has_any_role(role, "platform_admin"):
        raise PermissionDenied()
    return page(
        request, "workbench/upcoming.html", {"title": title, "text": text, "active": section}
    )


@router.get("/workbench/hotline", response_class=HTMLResponse)
async def workbench_hotline(request: Request, actor: CurrentActor) -> HTMLResponse:
    return await _upcoming(request, actor, "hotline")


# --- leader dashboard ---------------------------------------------------------------------------

LeaderActor = Annotated[Actor, require_roles("leader")]


@router.get("/leader", response_class=HTMLResponse)
async def leader_home(request: Request, session: DB, actor: LeaderActor) -> HTMLResponse:
    """领导驾驶舱: read-only counts by child region of the leader's region."""
    board = await rm.region_breakdown(session, actor)
    return page(
        request,
        "leader/home.html",
        {
            "board": board,
            "active": "leader",
            "region": await rm.region_of(session, actor.region_code),
        },
    )
