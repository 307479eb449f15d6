"""Cases JSON API: submit (Idempotency-Key), worklists, detail, actions, exchange export,
supervision, the applicant's inbox."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, func, select

from tongban.cases import exchange, lifecycle, service, supervision
from tongban.cases.models import Case, CaseMaterial, CaseTrail, CorrectionNotice, Notification
from tongban.catalogue.models import ImplementationVersion
from tongban.core import scope
from tongban.core.clock import now
from tongban.core.errors import NotAuthenticated, ValidationFailed
from tongban.core.identifiers import mask_phone, mask_resident_id
from tongban.identity.access import Actor
from tongban.web.deps import DB, CurrentActor

router = APIRouter(tags=["办件"])

QUEUES: dict[str, tuple[str, Any]] = {
    "to_accept": ("待受理", Case.state == "submitted"),
    "to_review": ("待审查", and_(Case.state == "reviewing", Case.at_last_step.is_(False))),
    "to_decide": ("待决定", and_(Case.state == "reviewing", Case.at_last_step.is_(True))),
    "to_deliver": ("待送达", Case.state == "concluded"),
    "corrections": ("补正中", Case.state == "correction"),
    "paused": ("特别程序中", Case.state == "suspended"),
    "yellow": ("黄牌预警", Case.alert == "yellow"),
    "red": ("红牌警告", Case.alert == "red"),
}


class SubmitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    implementation_id: int
    form_data: dict[str, Any] = Field(default_factory=dict)
    channel: str = "pc"
    enterprise_id: int | None = None
    applicant_person_id: int | None = None  # window intake: the person present
    materials: list[dict[str, Any]] = Field(default_factory=list, max_length=100)


def _iso(v: dt.datetime | None) -> str | None:
    return v.isoformat() if v else None


def case_summary(c: Case) -> dict[str, Any]:
    return {
        "id": c.id,
        "number": c.number,
        "item_name": c.item_name,
        "implementation_id": c.implementation_id,
        "department_id": c.department_id,
        "region_code": c.region_code,
        "applicant_name": c.applicant_name,
        "channel": c.channel,
        "channel_label": lifecycle.CHANNELS.get(c.channel, c.channel),
        "state": c.state,
        "state_label": lifecycle.STATES[c.state],
        "current_step": c.current_step,
        "alert": c.alert,
        "submitted_at": _iso(c.submitted_at),
        "accept_due_at": _iso(c.accept_due_at),
        "accepted_at": _iso(c.accepted_at),
        "due_at": _iso(c.due_at),
        "concluded_at": _iso(c.concluded_at),
        "delivered_at": _iso(c.delivered_at),
        "outcome": c.outcome,
        "outcome_label": lifecycle.OUTCOMES.get(c.outcome or "", ""),
    }


def _mask_form(form: dict[str, Any] | None, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    if actor.sees_full_identifiers or actor.kind == "person":
        return dict(data)
    elements = {k: v.get("element") for k, v in ((form or {}).get("ui", {}).get("fields", {}) or {}).items()}
    out = {}
    for k, v in data.items():
        el = elements.get(k) or ""
        if isinstance(v, str) and (el.endswith("id_number") or k.endswith("id_number")):
            out[k] = mask_resident_id(v)
        elif isinstance(v, str) and (el.endswith("phone") or k == "phone"):
            out[k] = mask_phone(v)
        else:
            out[k] = v
    return out


async def case_detail(session: Any, actor: Actor, c: Case) -> dict[str, Any]:
    version = await session.get(ImplementationVersion, c.implementation_version_id)
    trail = (await session.execute(select(CaseTrail).where(CaseTrail.case_id == c.id).order_by(CaseTrail.id))).scalars().all()
    materials = (await session.execute(select(CaseMaterial).where(CaseMaterial.case_id == c.id).order_by(CaseMaterial.id))).scalars().all()
    notices = (await session.execute(select(CorrectionNotice).where(CorrectionNotice.case_id == c.id).order_by(CorrectionNotice.round))).scalars().all()
    return {
        **case_summary(c),
        "implementation_version": version.version if version else None,
        "steps": c.steps,
        "step_index": c.step_index,
        "extension_days": c.extension_days,
        "outcome_reason": c.outcome_reason,
        "delivery_method": c.delivery_method,
        "tracking_number": c.tracking_number,
        "form_data": _mask_form(version.form if version else None, c.form_data, actor),
        "materials": [{"name": m.name, "sha256": m.file_sha256, "replaced_by": m.replaced_by, "round": m.round} for m in materials],
        "corrections": [{"round": n.round, "items": n.items, "flagged": n.flagged, "issued_at": _iso(n.issued_at), "answered_at": _iso(n.answered_at)} for n in notices],
        "trail": [
            {"action": t.action, "label": lifecycle.TRANSITIONS[t.action].label if t.action in lifecycle.TRANSITIONS else "提交申请",
             "from": t.from_state, "to": t.to_state, "step": t.step_name, "actor": t.actor_name, "comment": t.comment, "data": t.data, "at": _iso(t.at)}
            for t in trail
        ],
        "actions": [{"action": t.action, "label": t.label, "needs_reason": t.needs_reason} for t in service.actions_for(c, actor)],
    }


@router.post("/cases", summary="提交申请（幂等：同一 Idempotency-Key 返回同一办件）", status_code=201)
async def submit(body: SubmitBody, session: DB, actor: CurrentActor, response: Response,
                 idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None) -> dict:
    if not idempotency_key:
        raise ValidationFailed("请在请求头中提供 Idempotency-Key，以免重复提交", code="idempotency_key_required")
    case, created = await service.submit(
        session, actor, implementation_id=body.implementation_id, form_data=body.form_data, idempotency_key=idempotency_key,
        channel=body.channel, enterprise_id=body.enterprise_id, applicant_person_id=body.applicant_person_id,
        materials=body.materials,
    )
    if not created:
        response.status_code = 200
    return case_summary(case)


@router.get("/cases", summary="办件列表（工作台队列 / 我的办件）")
async def list_cases(
    session: DB,
    actor: CurrentActor,
    queue: Annotated[str | None, Query(description="、".join(f"{k} {v[0]}" for k, v in QUEUES.items()))] = None,
    state: str | None = None,
    implementation_id: int | None = None,
    department_id: int | None = None,
    channel: str | None = None,
    applicant: Annotated[str | None, Query(max_length=50)] = None,
    number: Annotated[str | None, Query(max_length=50)] = None,
    submitted_from: dt.date | None = None,
    submitted_to: dt.date | None = None,
    region: Annotated[str | None, Query(max_length=12)] = None,
    before: Annotated[int | None, Query(description="keyset cursor: the last id of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict:
    stmt = service.scope_cases(actor, select(Case))
    if queue:
        if queue not in QUEUES:
            raise ValidationFailed("未知的队列", code="queue_invalid")
        stmt = stmt.where(QUEUES[queue][1])
    if state:
        if state not in lifecycle.STATES:
            raise ValidationFailed("未知的办件状态", code="state_invalid")
        stmt = stmt.where(Case.state == state)
    if implementation_id:
        stmt = stmt.where(Case.implementation_id == implementation_id)
    if department_id:
        stmt = stmt.where(Case.department_id == department_id)
    if channel:
        stmt = stmt.where(Case.channel == channel)
    if applicant:
        stmt = stmt.where(Case.applicant_name.startswith(applicant, autoescape=True))
    if number:
        stmt = stmt.where(Case.number == number.strip())
    if region:
        stmt = stmt.where(scope.in_subtree(Case.region_code, scope.normalise(region)))
    if submitted_from:
        stmt = stmt.where(Case.submitted_at >= dt.datetime.combine(submitted_from, dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=8))))
    if submitted_to:
        stmt = stmt.where(Case.submitted_at < dt.datetime.combine(submitted_to + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=8))))
    if before:
        stmt = stmt.where(Case.id < before)
    rows = (await session.execute(stmt.order_by(Case.id.desc()).limit(limit + 1))).scalars().all()
    items = [case_summary(c) for c in rows[:limit]]
    return {"items": items, "next": rows[limit - 1].id if len(rows) > limit else None}


@router.get("/cases/queues", summary="工作台各队列数量")
async def queue_counts(session: DB, actor: CurrentActor) -> dict:
    out = {}
    for key, (label, cond) in QUEUES.items():
        n = (await session.execute(service.scope_cases(actor, select(func.count()).select_from(Case)).where(cond))).scalar_one()
        out[key] = {"label": label, "count": n}
    return out


@router.get("/cases/{case_id}", summary="办件详情（含服务轨迹与可执行操作）")
async def get_case(case_id: int, session: DB, actor: CurrentActor) -> dict:
    c = await service.get_case(session, actor, case_id)
    return await case_detail(session, actor, c)


@router.post("/cases/{case_id}/actions/{action}", summary="执行办理操作")
async def act(case_id: int, action: str, session: DB, actor: CurrentActor, body: dict[str, Any] | None = None) -> dict:
    c = await service.transition(session, actor, case_id, action, body or {})
    return await case_detail(session, actor, c)


@router.get("/cases/{case_id}/exchange", summary="国家标准交换数据（GB/T 39046 办件信息）")
async def exchange_record(case_id: int, session: DB, actor: CurrentActor) -> dict:
    if actor.kind != "staff":
        raise NotAuthenticated("只有工作人员可以导出交换数据", status=403, code="permission_denied")
    c = await service.get_case(session, actor, case_id)
    return await exchange.record_for(session, c)


@router.get("/me/notifications", summary="我的消息")
async def my_notifications(session: DB, actor: CurrentActor, unread: bool = False, before: int | None = None,
                           limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict:
    stmt = select(Notification).where(Notification.account_id == actor.account_id)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before:
        stmt = stmt.where(Notification.id < before)
    rows = (await session.execute(stmt.order_by(Notification.id.desc()).limit(limit + 1))).scalars().all()
    return {
        "items": [{"id": n.id, "case_id": n.case_id, "title": n.title, "body": n.body, "read": n.read_at is not None, "at": _iso(n.created_at)} for n in rows[:limit]],
        "next": rows[limit - 1].id if len(rows) > limit else None,
    }


@router.post("/me/notifications/read", summary="全部标为已读")
async def mark_read(session: DB, actor: CurrentActor) -> dict:
    from sqlalchemy import update

    res = await session.execute(
        update(Notification).where(Notification.account_id == actor.account_id, Notification.read_at.is_(None)).values(read_at=now())
    )
    return {"updated": res.rowcount}


# --- supervision ----------------------------------------------------------------------


class NoticeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    department_id: int
    content: str = Field(max_length=2000)
    reply_days: int = 3
    case_id: int | None = None


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reply: str = Field(max_length=4000)


def _notice(n: supervision.SupervisionNotice) -> dict[str, Any]:
    return {
        "id": n.id, "department_id": n.department_id, "case_id": n.case_id, "content": n.content, "state": n.state,
        "state_label": supervision.NOTICE_STATES[n.state], "reply_due_at": _iso(n.reply_due_at), "issued_at": _iso(n.issued_at),
        "reply": n.reply, "replied_at": _iso(n.replied_at), "closed_at": _iso(n.closed_at),
        "overdue": n.state == "open" and n.reply_due_at < now(),
    }


@router.get("/supervision/alerts", summary="红黄牌统计（按部门、事项或区划）")
async def alerts(session: DB, actor: CurrentActor, by: Annotated[str, Query(pattern="^(department|item|region)$")] = "department") -> dict:
    return {"by": by, "items": await supervision.alert_counts(session, actor, by=by)}


@router.get("/supervision/notices", summary="督办单列表")
async def notices(session: DB, actor: CurrentActor, state: str | None = None, overdue: bool = False) -> dict:
    return {"items": [_notice(n) for n in await supervision.list_notices(session, actor, state=state, overdue_only=overdue)]}


@router.post("/supervision/notices", summary="发出督办单", status_code=201)
async def issue(body: NoticeBody, session: DB, actor: CurrentActor) -> dict:
    return _notice(await supervision.issue_notice(session, actor, department_id=body.department_id, content=body.content,
                                                  reply_days=body.reply_days, case_id=body.case_id))


@router.post("/supervision/notices/{notice_id}/reply", summary="部门回复督办单")
async def reply(notice_id: int, body: ReplyBody, session: DB, actor: CurrentActor) -> dict:
    return _notice(await supervision.reply_notice(session, actor, notice_id, reply=body.reply))


@router.post("/supervision/notices/{notice_id}/close", summary="办结督办单")
async def close(notice_id: int, session: DB, actor: CurrentActor) -> dict:
    return _notice(await supervision.close_notice(session, actor, notice_id))

