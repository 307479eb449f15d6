"""Case rules: submit (idempotent), every lifecycle transition, deadlines.

Each transition: lock the case, check the table (``lifecycle.TRANSITIONS``),
the actor's role and scope and the step, apply, recompute the due date, write
the trail (服务轨迹), the audit log and an event, notify the applicant — one
transaction (the edge commits).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.cases import lifecycle
from tongban.cases.models import (
    Case,
    CaseCounter,
    CaseMaterial,
    CasePause,
    CaseTrail,
    CorrectionNotice,
    Notification,
)
from tongban.catalogue import forms
from tongban.catalogue.models import Implementation, ImplementationVersion
from tongban.core import audit, scope
from tongban.core.clock import local, now
from tongban.core.db import lock_for_update
from tongban.core.deadlines import Pause, due_at
from tongban.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tongban.core.outbox import record_event
from tongban.core.settings import get_settings
from tongban.core.workdays import load_calendar
from tongban.identity.access import Actor, can_act_for_enterprise
from tongban.identity.models import Account, Enterprise, Person

ACCEPT_WINDOW_DAYS = 5  # 行政许可法 第三十二条: accept, refuse or notify within 5 days
MAX_EXTENSION_DAYS = 10  # 第四十二条: +10 days with the agency head's approval
INTAKE_WIDE_ROLES = frozenset({"clerk"})  # 综合窗口 accepts for every department of its region


# --- scope --------------------------------------------------------------------------


def staff_sees(actor: Actor, case: Case) -> bool:
    if actor.kind != "staff" or not scope.is_within(case.region_code, actor.region_code):
        return False
    if actor.region_wide or actor.roles & INTAKE_WIDE_ROLES:
        return True
    return actor.department_id == case.department_id


def applicant_sees(actor: Actor, case: Case) -> bool:
    return actor.kind == "person" and (case.applicant_person_id == actor.person_id or case.submitted_by == actor.account_id)


def scope_cases(actor: Actor, stmt: Any) -> Any:
    """WHERE clauses for lists: the same rule as ``staff_sees``/``applicant_sees``."""
    from sqlalchemy import false, or_

    if actor.kind == "person":
        return stmt.where(or_(Case.applicant_person_id == actor.person_id, Case.submitted_by == actor.account_id))
    if actor.kind != "staff":
        return stmt.where(false())
    stmt = stmt.where(scope.in_subtree(Case.region_code, actor.region_code))
    if actor.region_wide or actor.roles & INTAKE_WIDE_ROLES:
        return stmt
    return stmt.where(Case.department_id == actor.department_id)


async def get_case(session: AsyncSession, actor: Actor, case_id: int, *, lock: bool = False) -> Case:
    stmt = select(Case).where(Case.id == case_id)
    case = ((await lock_for_update(session, stmt)) if lock else (await session.execute(stmt))).scalar_one_or_none()
    if case is None or not (staff_sees(actor, case) or applicant_sees(actor, case)):
        raise NotFound("办件不存在，或您无权查看", code="case_not_found")
    return case


# --- numbers, notifications, trail ------------------------------------------------------


async def next_number(session: AsyncSession, region_code: str, at: dt.datetime) -> str:
    """办件编号 ``<region 6>-<yyyymmdd>-<6-digit sequence>`` (local date), e.g. 370102-20261121-000042."""
    region6, day = region_code[:6], local(at).strftime("%Y%m%d")
    dialect = session.bind.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(CaseCounter).values(region6=region6, day=day, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=["region6", "day"], set_={"value": CaseCounter.value + 1})
    value = (await session.execute(stmt.returning(CaseCounter.value))).scalar_one()
    return f"{region6}-{day}-{value:06d}"


async def notify(session: AsyncSession, case: Case, title: str, body: str = "") -> None:
    """In-app inbox for the applicant's account; SMS/email go out from the event."""
    account_ids = {case.submitted_by}
    owner = (
        await session.execute(select(Account.id).where(Account.person_id == case.applicant_person_id, Account.kind == "person"))
    ).scalars().all()
    account_ids.update(owner)
    for acc in sorted(account_ids):
        kind = (await session.execute(select(Account.kind).where(Account.id == acc))).scalar_one()
        if kind != "person":
            continue
        session.add(Notification(account_id=acc, case_id=case.id, title=title, body=body))
    await record_event(session, "case.notified", {"case_id": case.id, "title": title}, region_code=case.region_code)


async def _trail(session: AsyncSession, case: Case, actor: Actor, action: str, from_state: str, *, step: str = "", comment: str = "", data: dict[str, Any] | None = None) -> None:
    session.add(
        CaseTrail(
            case_id=case.id, action=action, from_state=from_state, to_state=case.state, step_name=step, actor_ref=actor.ref,
            actor_name=actor.display_name, comment=comment, data=data or {}, region_code=case.region_code,
        )
    )
    await audit.record(
        session, actor=actor.ref, action=f"case.{action}", target_type="case", target_id=case.id, region_code=case.region_code,
        details={"from": from_state, "to": case.state, "step": step},
    )
    await record_event(session, f"case.{action}", {"case_id": case.id, "number": case.number, "state": case.state}, region_code=case.region_code)


# --- submit --------------------------------------------------------------------------


def review_steps(fields: dict[str, Any]) -> list[dict[str, Any]]:
    if fields.get("case_type") == "1" or fields.get("promised_limit", {}).get("value") == 0:
        return [dict(s) for s in lifecycle.INSTANT_STEPS]
    steps = [
        {"name": s["name"], "role": s.get("role") or "approver", "limit": s.get("limit")}
        for s in fields.get("steps") or []
        if s.get("role") in ("approver", "clerk")
    ]
    return steps or [dict(s) for s in lifecycle.DEFAULT_STEPS]


async def submit(
    session: AsyncSession,
    actor: Actor,
    *,
    implementation_id: int,
    form_data: dict[str, Any],
    idempotency_key: str,
    channel: str = "pc",
    enterprise_id: int | None = None,
    applicant_person_id: int | None = None,
    materials: list[dict[str, Any]] | None = None,
) -> tuple[Case, bool]:
    """File an application. Returns ``(case, created)``; the same key again returns the same case."""
    key = (idempotency_key or "").strip()
    if not 8 <= len(key) <= 80:
        raise ValidationFailed("幂等键（Idempotency-Key）应为 8–80 个字符", code="idempotency_key_invalid")
    if actor.account_id is None:
        raise PermissionDenied("请先登录", code="not_authenticated")
    existing = (
        await session.execute(select(Case).where(Case.submitted_by == actor.account_id, Case.idempotency_key == key))
    ).scalar_one_or_none()
    if existing:
        if existing.implementation_id != implementation_id:
            raise Conflict("该幂等键已用于另一项申请", code="idempotency_key_reused")
        return existing, False
    if channel not in lifecycle.CHANNELS:
        raise ValidationFailed("申报渠道无效", code="channel_invalid")
    if actor.kind == "person":
        if channel == "window":
            raise ValidationFailed("窗口渠道只能由窗口工作人员代为申报", code="channel_invalid")
        person_id = actor.person_id
    elif actor.kind == "staff" and "clerk" in actor.roles:
        if channel != "window" or applicant_person_id is None:
            raise ValidationFailed("窗口代办须选择窗口渠道并指明申请人", code="applicant_required")
        person_id = applicant_person_id
    else:
        raise PermissionDenied("只有申请人或窗口工作人员可以提交申请", code="submit_forbidden")
    person = await session.get(Person, person_id) if person_id else None
    if person is None:
        raise NotFound("申请人不存在", code="person_not_found")
    impl = await session.get(Implementation, implementation_id)
    if impl is None or impl.status != "published" or impl.published_version_id is None:
        raise NotFound("该事项未发布或已停用", code="implementation_not_found")
    if actor.kind == "staff" and not scope.is_within(impl.region_code, actor.region_code):
        raise NotFound("该事项未发布或已停用", code="implementation_not_found")
    version = await session.get(ImplementationVersion, impl.published_version_id)
    assert version is not None
    applicant_name = person.name
    if enterprise_id is not None:
        ent = await session.get(Enterprise, enterprise_id)
        probe = actor if actor.kind == "person" else Actor(kind="person", account_id=None, display_name="", region_code="", via="system", person_id=person.id)
        if ent is None or not await can_act_for_enterprise(session, probe, enterprise_id):
            raise PermissionDenied("您未获该企业授权办理此事项", code="enterprise_not_authorised")
        applicant_name = ent.name
    form = version.form or forms.default_form()
    clean, errors = forms.validate_submission(form, form_data or {})
    if errors:
        raise ValidationFailed("申请表填写有误，请修改后提交", code="form_invalid", details=errors)
    at = now()
    cal = await load_calendar(session)
    fields = version.fields
    limit = fields["promised_limit"]
    case = Case(
        number=await next_number(session, impl.region_code, at),
        implementation_id=impl.id,
        implementation_version_id=version.id,
        department_id=impl.department_id,
        region_code=impl.region_code,
        item_name=impl.name,
        applicant_person_id=person.id,
        applicant_enterprise_id=enterprise_id,
        applicant_name=applicant_name,
        submitted_by=actor.account_id,
        channel=channel,
        idempotency_key=key,
        state="submitted",
        steps=review_steps(fields),
        form_data=clean,
        limit_value=int(limit["value"]),
        limit_unit=limit["unit"],
        submitted_at=at,
        accept_due_at=due_at(at, ACCEPT_WINDOW_DAYS, "working_day", cal, tz=get_settings().timezone),
    )
    try:
        async with session.begin_nested():
            session.add(case)
            await session.flush()
    except IntegrityError:
        # a concurrent retry with the same key won the race: answer with its case
        again = (
            await session.execute(select(Case).where(Case.submitted_by == actor.account_id, Case.idempotency_key == key))
        ).scalar_one_or_none()
        if again is None:
            raise
        return again, False
    for m in materials or []:
        session.add(CaseMaterial(case_id=case.id, name=m["name"], file_sha256=m.get("sha256"), replaced_by=m.get("replaced_by"), round=0))
    await _trail(session, case, actor, "submit", "", comment=lifecycle.CHANNELS[channel])
    await notify(session, case, f"您的申请已提交：{case.item_name}", f"办件编号 {case.number}，请留意受理结果。")
    return case, True


# --- transitions -----------------------------------------------------------------------


def _set_step(case: Case, index: int) -> None:
    case.step_index = index
    case.current_step = case.steps[index]["name"] if index < len(case.steps) else ""
    case.at_last_step = index >= len(case.steps) - 1


def _current_step(case: Case) -> dict[str, Any] | None:
    return case.steps[case.step_index] if case.state in ("reviewing", "suspended") and case.step_index < len(case.steps) else None


def actions_for(case: Case, actor: Actor) -> list[lifecycle.Transition]:
    applicant = applicant_sees(actor, case) and actor.kind == "person"
    if not applicant and not staff_sees(actor, case):
        return []
    return lifecycle.allowed_actions(
        case.state, step=_current_step(case), is_last_step=case.step_index >= len(case.steps) - 1,
        roles=actor.roles, applicant=applicant,
    )


async def _pauses(session: AsyncSession, case_id: int) -> list[Pause]:
    rows = (await session.execute(select(CasePause).where(CasePause.case_id == case_id).order_by(CasePause.id))).scalars()
    return [Pause(r.started_at, r.ended_at) for r in rows]


async def _recompute_due(session: AsyncSession, case: Case) -> None:
    if case.accepted_at is None:
        return
    cal = await load_calendar(session)
    case.due_at = due_at(
        case.accepted_at, case.limit_value, case.limit_unit, cal, pauses=await _pauses(session, case.id),
        extension=case.extension_days, tz=get_settings().timezone,
    )


def _reason(data: dict[str, Any], *, min_len: int = 2) -> str:
    reason = str(data.get("reason") or "").strip()
    if len(reason) < min_len:
        raise ValidationFailed("请填写理由", code="reason_required", details=[{"field": "reason", "message": "请填写理由"}])
    return reason


async def transition(session: AsyncSession, actor: Actor, case_id: int, action: str, data: dict[str, Any] | None = None) -> Case:
    data = data or {}
    t = lifecycle.TRANSITIONS.get(action)
    if t is None:
        raise ValidationFailed("未知的办理操作", code="unknown_action")
    case = await get_case(session, actor, case_id, lock=True)
    if case.state not in t.sources:
        raise Conflict(
            f"办件当前状态为「{lifecycle.STATES[case.state]}」，不能执行「{t.label}」", code="invalid_state",
            details={"state": case.state, "action": action},
        )
    if t not in actions_for(case, actor):
        raise PermissionDenied(f"您不能对该办件执行「{t.label}」", code="action_forbidden")
    from_state, at = case.state, now()
    step = _current_step(case)
    step_name = step["name"] if step else ""
    comment = str(data.get("comment") or "")[:2000]
    extra: dict[str, Any] = {}
    title = f"您的办件{t.label}：{case.item_name}"

    if action == "accept":
        case.state, case.accepted_at, case.step_started_at = "reviewing", at, at
        _set_step(case, 0)
        await _recompute_due(session, case)
        title = f"您的申请已受理：{case.item_name}"
    elif action == "reject":
        reason = _reason(data)
        case.state, case.outcome, case.concluded_at = "rejected", "6", at
        case.outcome_reason = f"{reason}\n{lifecycle.RIGHTS_NOTICE}"
        comment = reason
        title = f"您的申请不予受理：{case.item_name}"
    elif action == "request_correction":
        extra = await _correction(session, actor, case, data)
        case.state = "correction"
        title = f"请补齐补正材料：{case.item_name}"
    elif action == "resubmit":
        await _resubmit(session, case, data)
        case.state = "submitted"
    elif action == "pass_step":
        _set_step(case, case.step_index + 1)
        case.step_started_at = at
        extra = {"next_step": case.steps[case.step_index]["name"]}
    elif action == "return_step":
        comment = _reason(data)
        if case.step_index == 0:
            raise Conflict("已是第一个环节，不能再退回", code="first_step")
        _set_step(case, case.step_index - 1)
        case.step_started_at = at
    elif action == "decide":
        outcome = data.get("outcome")
        if outcome not in ("grant", "deny"):
            raise ValidationFailed("请选择决定结果：准予或不予", code="outcome_required")
        reason = str(data.get("reason") or "").strip()
        if outcome == "deny":
            reason = _reason(data)
            case.outcome_reason = f"{reason}\n{lifecycle.RIGHTS_NOTICE}"
        else:
            case.outcome_reason = reason or "符合法定条件、标准，准予许可。"
        case.outcome = "0" if outcome == "grant" else "1"
        case.state, case.concluded_at = "concluded", at
        comment = case.outcome_reason
        extra = {"outcome": lifecycle.OUTCOMES[case.outcome]}
        title = f"您的办件已办结（{lifecycle.OUTCOMES[case.outcome]}）：{case.item_name}"
    elif action == "suspend":
        kind = data.get("kind")
        if kind not in lifecycle.SPECIAL_PROCEDURES:
            raise ValidationFailed("请选择特别程序种类", code="procedure_required")
        reason = _reason(data)
        session.add(CasePause(case_id=case.id, kind=kind, reason=reason, started_at=at))
        case.state, case.due_at = "suspended", None
        comment, extra = reason, {"kind": lifecycle.SPECIAL_PROCEDURES[kind]}
        title = f"您的办件进入{lifecycle.SPECIAL_PROCEDURES[kind]}程序，期间不计入办理时限：{case.item_name}"
    elif action == "resume":
        pause = (
            await session.execute(select(CasePause).where(CasePause.case_id == case.id, CasePause.ended_at.is_(None)))
        ).scalar_one()
        pause.ended_at, pause.result = at, str(data.get("result") or "")[:2000]
        await session.flush()
        case.state = "reviewing"
        await _recompute_due(session, case)
    elif action == "extend":
        reason = _reason(data)
        try:
            days = int(data.get("days", 0))
        except (TypeError, ValueError):
            days = 0
        if days < 1 or case.extension_days + days > MAX_EXTENSION_DAYS:
            raise ValidationFailed(
                f"延长期限应为 1 至 {MAX_EXTENSION_DAYS - case.extension_days} 个工作日（法定最多延长 {MAX_EXTENSION_DAYS} 日）",
                code="extension_invalid",
            )
        case.extension_days += days
        await _recompute_due(session, case)
        comment, extra = reason, {"days": days}
        title = f"您的办件经批准延长 {days} 个工作日：{case.item_name}"
    elif action == "deliver":
        method = data.get("method")
        if method not in lifecycle.DELIVERY_METHODS:
            raise ValidationFailed("请选择送达方式", code="delivery_method_required")
        if method == "post":
            tracking = str(data.get("tracking_number") or "").strip()
            if not 6 <= len(tracking) <= 40:
                raise ValidationFailed("邮寄送达须填写快递单号", code="tracking_required")
            case.tracking_number = tracking
        case.delivery_method, case.state, case.delivered_at = method, "delivered", at
        extra = {"method": lifecycle.DELIVERY_METHODS[method]}
        title = f"您的办件结果已{lifecycle.DELIVERY_METHODS[method]}：{case.item_name}"
    elif action == "withdraw":
        comment = _reason(data)
        await _end_open_pause(session, case, at)
        case.state, case.outcome, case.concluded_at = "withdrawn", "5", at
    elif action == "void":
        comment = _reason(data)
        await _end_open_pause(session, case, at)
        case.state, case.outcome, case.concluded_at = "voided", "2", at
    case.updated_at = at
    if case.state not in lifecycle.OPEN_STATES:
        case.alert = ""
    await session.flush()
    await _trail(session, case, actor, action, from_state, step=step_name, comment=comment, data=extra)
    await notify(session, case, title, comment)
    return case


async def _end_open_pause(session: AsyncSession, case: Case, at: dt.datetime) -> None:
    await session.execute(update(CasePause).where(CasePause.case_id == case.id, CasePause.ended_at.is_(None)).values(ended_at=at))


async def _correction(session: AsyncSession, actor: Actor, case: Case, data: dict[str, Any]) -> dict[str, Any]:
    """一次性告知: every item at once; a later notice raising new items needs a supervisor."""
    raw = data.get("items")
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed("一次性告知须列明全部需补齐补正的材料或内容", code="correction_items_required")
    items = []
    for i, it in enumerate(raw):
        if not isinstance(it, dict) or it.get("kind") not in ("material", "field") or not str(it.get("name") or "").strip() or not str(it.get("reason") or "").strip():
            raise ValidationFailed(f"第 {i + 1} 项告知内容不完整：须写明类别、名称和原因", code="correction_item_invalid")
        items.append({"kind": it["kind"], "name": str(it["name"]).strip(), "reason": str(it["reason"]).strip()})
    previous = (
        await session.execute(select(CorrectionNotice).where(CorrectionNotice.case_id == case.id).order_by(CorrectionNotice.round))
    ).scalars().all()
    raised = {it["name"] for n in previous for it in n.items}
    new_items = [it["name"] for it in items if previous and it["name"] not in raised]
    approved_by = None
    if new_items:
        approver_id = data.get("approved_by")
        sup = await session.get(Account, approver_id) if isinstance(approver_id, int) else None
        from tongban.identity.models import AccountRole

        roles = set((await session.execute(select(AccountRole.role).where(AccountRole.account_id == sup.id))).scalars()) if sup else set()
        if sup is None or "supervisor" not in roles or not scope.is_within(case.region_code, sup.region_code):
            raise Conflict(
                "再次告知中包含首次告知未提出的内容（" + "、".join(new_items) + "），须经电子监察人员批准",
                code="second_notice_needs_approval",
                details={"new_items": new_items},
            )
        approved_by = sup.id
    case.correction_round += 1
    session.add(
        CorrectionNotice(
            case_id=case.id, round=case.correction_round, items=items, new_items=new_items, flagged=bool(new_items),
            approved_by=approved_by, issued_by=actor.account_id,
        )
    )
    return {"round": case.correction_round, "items": items, "flagged": bool(new_items)}


async def _resubmit(session: AsyncSession, case: Case, data: dict[str, Any]) -> None:
    version = await session.get(ImplementationVersion, case.implementation_version_id)
    assert version is not None
    if "form_data" in data:
        clean, errors = forms.validate_submission(version.form or forms.default_form(), data["form_data"] or {})
        if errors:
            raise ValidationFailed("申请表填写有误，请修改后提交", code="form_invalid", details=errors)
        case.form_data = clean
    for m in data.get("materials") or []:
        session.add(CaseMaterial(case_id=case.id, name=m["name"], file_sha256=m.get("sha256"), replaced_by=m.get("replaced_by"), round=case.correction_round))
    notice = (
        await session.execute(select(CorrectionNotice).where(CorrectionNotice.case_id == case.id, CorrectionNotice.round == case.correction_round))
    ).scalar_one_or_none()
    if notice is not None:
        notice.answered_at = now()
