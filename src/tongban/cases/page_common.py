"""What every case page module shares: path types, the case page's context
(clock, progress, form rows masked as the API masks them, trail), the
calendar, the form inputs that are fields of the application form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.cases import lifecycle, queries, views
from tongban.cases.api import _mask_form
from tongban.cases.models import Case
from tongban.core.clock import now
from tongban.core.errors import AppError, PermissionDenied
from tongban.core.workdays import WorkCalendar, load_calendar
from tongban.identity.access import Actor

MAX_ID = 2**63 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Cursor = Annotated[int | None, Query(ge=1, le=MAX_ID)]
CONTROL_KEYS = frozenset({"csrf_token", "_key", "confirm", "person"})
PAGE_PREFIXES = ("_mat.", "_file.")

MESSAGES = {
    "submitted": "申请已提交。请留意受理结果，办理进度会发到“我的消息”。",
    "resubmitted": "补正材料已提交，办件回到待受理，工作人员将重新审核。",
    "withdrawn": "申请已撤回。",
}
CSS = ["/static/css/cases.css"]


def require_applicant(actor: Actor) -> Actor:
    if actor.kind != "person":
        raise PermissionDenied("该页面仅供个人用户使用")
    return actor


def form_values(form: dict[str, str]) -> dict[str, str]:
    """The fields of the application form among a page's inputs."""
    return {
        k: v
        for k, v in form.items()
        if k not in CONTROL_KEYS and not k.startswith(PAGE_PREFIXES) and "." not in k
    }


async def calendar_or_none(session: AsyncSession) -> WorkCalendar | None:
    try:
        return await load_calendar(session)
    except AppError:
        return None


def clock_for(request: Request, case: Case, cal: WorkCalendar | None) -> views.Clock:
    s = request.app.state.settings
    return views.clock(case, cal, now(), tz=s.timezone, yellow_days=s.supervision_yellow_days)


def case_context(
    request: Request, actor: Actor, view: queries.CaseView, cal: WorkCalendar | None
) -> dict[str, Any]:
    """What both case pages (the applicant's and the workbench's) show."""
    c = view.case
    form = view.version.form if view.version else None
    return {
        "c": c,
        "view": view,
        "state_label": lifecycle.STATES[c.state],
        "channel_label": lifecycle.CHANNELS.get(c.channel, c.channel),
        "outcome_label": lifecycle.OUTCOMES.get(c.outcome or "", ""),
        "clock": clock_for(request, c, cal),
        "progress": views.progress(c),
        "form_rows": views.form_rows(form, _mask_form(form, c.form_data, actor)),
        "trail": views.trail_rows(view.trail),
        "kind_labels": views.KIND_LABELS,
        "procedures": lifecycle.SPECIAL_PROCEDURES,
        "delivery_methods": lifecycle.DELIVERY_METHODS,
        "rights_notice": lifecycle.RIGHTS_NOTICE,
        "css": CSS,
    }


async def uploaded_files(
    session: AsyncSession, actor: Actor, posted: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Materials a form carried back (``{slot: token}``), with their files' names, to show them again."""
    from tongban.core.files import StoredFile

    out: dict[str, dict[str, Any]] = {}
    for slot, token in posted.items():
        if token == views.COMMITMENT:
            out[slot] = {"token": token, "name": "", "commitment": True}
            continue
        try:
            sha = views.token_sha(actor, token)
        except AppError:
            continue
        row = await session.get(StoredFile, sha)
        if row is not None:
            out[slot] = {"token": token, "name": row.name, "size": row.size, "commitment": False}
    return out
