"""Electronic supervision (电子监察): yellow and red cards, supervision notices (督办).

- ``sweep`` marks open cases: **red** once past their due instant (the
  acceptance window of Art. 32 while 待受理, the decision limit once accepted);
  **yellow** when due within ``supervision_yellow_days`` working days, or when
  the current review step has run past its own limit. Every change of colour
  writes a ``SupervisionCard`` (the log); cards are never deleted.
- A supervisor issues a ``SupervisionNotice`` to a department (optionally
  about one case) with a reply deadline; the department replies; the
  supervisor closes it. Every step is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    Text,
    and_,
    bindparam,
    func,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from tongban.cases.models import Case
from tongban.core import audit, scope
from tongban.core.clock import now
from tongban.core.db import Base, BigIntPK, RegionScoped, lock_for_update
from tongban.core.deadlines import due_at, working_days_left
from tongban.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tongban.core.outbox import record_event
from tongban.core.settings import get_settings
from tongban.core.workdays import UnknownCalendarYear, load_calendar
from tongban.identity.access import Actor

COLOURS = {"yellow": "黄牌预警", "red": "红牌警告"}
RULES = {
    "overdue": "已超过办结时限",
    "accept_overdue": "已超过受理期限（5 个工作日）",
    "due_soon": "临近办结时限",
    "accept_due_soon": "临近受理期限",
    "step_over_limit": "当前环节超过环节时限",
}
NOTICE_STATES = {"open": "待回复", "replied": "已回复", "closed": "已办结"}


class SupervisionCard(RegionScoped, Base):
    __tablename__ = "supervision_card"
    __table_args__ = (Index("ix_supervision_card_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    colour: Mapped[str] = mapped_column(String(8))  # yellow / red / "" (cleared)
    rule: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(default=now)


class SupervisionNotice(RegionScoped, Base):
    """督办单."""

    __tablename__ = "supervision_notice"
    __table_args__ = (Index("ix_supervision_notice_department_state", "department_id", "state"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    content: Mapped[str] = mapped_column(Text)
    reply_due_at: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(String(10), default="open")
    issued_by: Mapped[int] = mapped_column(ForeignKey("account.id"))
    issued_at: Mapped[dt.datetime] = mapped_column(default=now)
    reply: Mapped[str] = mapped_column(Text, default="")
    replied_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    replied_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]


def classify(case: Any, at: dt.datetime, cal: Any, *, yellow_days: int, tz: str) -> tuple[str, str]:
    """(colour, rule) for one open case at ``at``; ``("", "")`` when on time."""
    if case.state == "submitted" and case.accept_due_at:
        if at > case.accept_due_at:
            return "red", "accept_overdue"
        if working_days_left(at, case.accept_due_at, cal, tz=tz) <= yellow_days:
            return "yellow", "accept_due_soon"
        return "", ""
    if case.state != "reviewing" or case.due_at is None:
        return "", ""
    if at > case.due_at:
        return "red", "overdue"
    if working_days_left(at, case.due_at, cal, tz=tz) <= yellow_days:
        return "yellow", "due_soon"
    step = case.steps[case.step_index] if case.step_index < len(case.steps) else None
    limit = (step or {}).get("limit")
    if limit and case.step_started_at and limit.get("value"):
        step_due = due_at(
            case.step_started_at, int(limit["value"]), limit.get("unit", "working_day"), cal, tz=tz
        )
        if step_due and at > step_due:
            return "yellow", "step_over_limit"
    return "", ""


# What ``classify`` reads of a case, and what a change of colour writes: the
# sweep reads these columns only (never the form, never ORM objects).
_SWEEP_COLUMNS = (
    Case.id,
    Case.state,
    Case.alert,
    Case.accept_due_at,
    Case.due_at,
    Case.steps,
    Case.step_index,
    Case.step_started_at,
    Case.department_id,
    Case.region_code,
)
_SWEPT = ("submitted", "reviewing")
_SET_ALERT = (
    update(Case.__table__)
    .where(Case.__table__.c.id == bindparam("b_id"))
    .values(alert=bindparam("b_alert"))
)


def _open_cases_after(batch: int) -> Any:
    """The next ``batch`` swept cases by id after ``:last``: the next ``batch``
    of each swept state, each a seek in ``ix_case_state_id`` (state, id), merged
    by id. (``state IN (…) ORDER BY id`` walks the primary key through every
    case, open or not, reading each row.)"""
    parts = [
        select(*_SWEEP_COLUMNS)
        .where(Case.state == state, Case.id > bindparam("last"))
        .order_by(Case.id)
        .limit(batch)
        .subquery()
        for state in _SWEPT
    ]
    merged = union_all(*(select(*p.c) for p in parts)).subquery("swept")
    return select(*merged.c).order_by(merged.c.id).limit(batch)


def _sync_loaded(session: AsyncSession, alerts: list[tuple[int, str]]) -> None:
    """Cases of the session's identity map take the colour just written (as
    if they had been updated through the ORM and flushed)."""
    loaded = session.sync_session.identity_map
    if not len(loaded):
        return
    for case_id, colour in alerts:
        obj = loaded.get(identity_key(Case, case_id))
        if obj is not None:
            set_committed_value(obj, "alert", colour)


async def sweep(session: AsyncSession, *, batch: int = 500) -> dict[str, int]:
    """Recolour every open case; returns counts of changes. Keyset batches by id.

    Reads the columns ``classify`` needs (not the case rows), and writes only
    the cases whose colour changes: one UPDATE (executemany) and one INSERT of
    their cards per batch, then their events in order."""
    settings = get_settings()
    cal = await load_calendar(session)
    at = now()
    changed = {"yellow": 0, "red": 0, "cleared": 0, "unknown_year": 0}
    await session.flush()  # the cases as the session holds them
    yellow_days, tz = settings.supervision_yellow_days, settings.timezone
    next_batch = _open_cases_after(batch)
    last = 0
    while True:
        rows = (await session.execute(next_batch, {"last": last})).all()
        if not rows:
            break
        alerts: list[tuple[int, str]] = []
        cards: list[dict[str, Any]] = []
        events: list[tuple[str, dict[str, Any]]] = []
        for case in rows:
            last = case.id
            try:
                colour, rule = classify(case, at, cal, yellow_days=yellow_days, tz=tz)
            except UnknownCalendarYear:
                changed["unknown_year"] += 1
                continue
            if colour == case.alert:
                continue
            alerts.append((case.id, colour))
            cards.append(
                {
                    "case_id": case.id,
                    "department_id": case.department_id,
                    "colour": colour,
                    "rule": rule or "cleared",
                    "region_code": case.region_code,
                    "at": now(),
                }
            )
            changed[colour or "cleared"] += 1
            if colour:
                events.append(
                    (case.region_code, {"case_id": case.id, "colour": colour, "rule": rule})
                )
        if alerts:
            await session.execute(_SET_ALERT, [{"b_id": i, "b_alert": c} for i, c in alerts])
            await session.execute(insert(SupervisionCard.__table__), cards)
            _sync_loaded(session, alerts)
            for region_code, payload in events:
                await record_event(session, "case.alert", payload, region_code=region_code)
    # cases that left the swept states keep no colour
    stale = list(
        (
            await session.execute(
                # alert > '' is alert != '' (NOT NULL), as a range: a seek in ix_case_alert_id
                select(Case.id).where(Case.alert > "", ~Case.state.in_(_SWEPT))
            )
        ).scalars()
    )
    if stale:
        await session.execute(_SET_ALERT, [{"b_id": i, "b_alert": ""} for i in stale])
        _sync_loaded(session, [(i, "") for i in stale])
    return changed


def _scoped(actor: Actor, stmt: Any, region_col: Any, dept_col: Any) -> Any:
    if actor.kind != "staff":
        raise PermissionDenied("只有工作人员可以查看电子监察信息", code="supervision_forbidden")
    stmt = stmt.where(scope.in_subtree(region_col, actor.region_code))
    if not actor.region_wide:
        stmt = stmt.where(dept_col == actor.department_id)
    return stmt


async def alert_counts(
    session: AsyncSession, actor: Actor, *, by: str = "department"
) -> list[dict[str, Any]]:
    """Yellow and red counts of open cases grouped by department, item or region."""
    key = {
        "department": Case.department_id,
        "item": Case.implementation_id,
        "region": Case.region_code,
    }[by]
    label = {"department": None, "item": func.max(Case.item_name), "region": None}[by]
    cols = [
        key,
        func.sum(case_when(Case.alert == "yellow")),
        func.sum(case_when(Case.alert == "red")),
    ]
    if label is not None:
        cols.append(label)
    stmt = select(*cols).where(Case.alert != "").group_by(key).order_by(key)
    stmt = _scoped(actor, stmt, Case.region_code, Case.department_id)
    out = []
    for row in (await session.execute(stmt)).all():
        out.append(
            {
                "key": row[0],
                "yellow": int(row[1] or 0),
                "red": int(row[2] or 0),
                **({"name": row[3]} if label is not None else {}),
            }
        )
    return out


def case_when(cond: Any) -> Any:
    from sqlalchemy import case

    return case((cond, 1), else_=0)


async def issue_notice(
    session: AsyncSession,
    actor: Actor,
    *,
    department_id: int,
    content: str,
    reply_days: int = 3,
    case_id: int | None = None,
) -> SupervisionNotice:
    if actor.kind != "staff" or "supervisor" not in actor.roles:
        raise PermissionDenied("只有电子监察人员可以发出督办单", code="supervision_forbidden")
    from tongban.regions.models import Department

    dept = await session.get(Department, department_id)
    if dept is None or not scope.is_within(dept.region_code, actor.region_code):
        raise NotFound("部门不存在，或不在您的监察范围内", code="department_not_found")
    if len(content.strip()) < 5:
        raise ValidationFailed("请写明督办内容（至少 5 个字）", code="content_required")
    if not 1 <= reply_days <= 30:
        raise ValidationFailed("回复期限应为 1–30 个工作日", code="reply_days_invalid")
    if case_id is not None:
        case = await session.get(Case, case_id)
        if case is None or case.department_id != dept.id:
            raise ValidationFailed("所选办件不属于该部门", code="case_not_in_department")
    cal = await load_calendar(session)
    notice = SupervisionNotice(
        department_id=dept.id,
        case_id=case_id,
        content=content.strip(),
        region_code=dept.region_code,
        reply_due_at=due_at(now(), reply_days, "working_day", cal, tz=get_settings().timezone),
        issued_by=actor.account_id,
    )
    session.add(notice)
    await session.flush()
    await audit.record(
        session,
        actor=actor.ref,
        action="supervision.notice",
        target_type="supervision_notice",
        target_id=notice.id,
        region_code=notice.region_code,
        details={"department_id": dept.id, "case_id": case_id},
    )
    await record_event(
        session,
        "supervision.notice_issued",
        {"notice_id": notice.id, "department_id": dept.id},
        region_code=notice.region_code,
    )
    return notice


async def _locked_notice(session: AsyncSession, notice_id: int) -> SupervisionNotice:
    n = (
        await lock_for_update(
            session, select(SupervisionNotice).where(SupervisionNotice.id == notice_id)
        )
    ).scalar_one_or_none()
    if n is None:
        raise NotFound("督办单不存在", code="notice_not_found")
    return n


async def reply_notice(
    session: AsyncSession, actor: Actor, notice_id: int, *, reply: str
) -> SupervisionNotice:
    n = await _locked_notice(session, notice_id)
    if (
        actor.kind != "staff"
        or actor.department_id != n.department_id
        or not actor.roles & {"dept_admin", "approver"}
    ):
        raise NotFound("督办单不存在", code="notice_not_found")
    if n.state != "open":
        raise Conflict("该督办单已回复", code="notice_not_open")
    if len(reply.strip()) < 5:
        raise ValidationFailed("请写明整改或办理情况（至少 5 个字）", code="reply_required")
    n.reply, n.replied_by, n.replied_at, n.state = reply.strip(), actor.account_id, now(), "replied"
    await audit.record(
        session,
        actor=actor.ref,
        action="supervision.reply",
        target_type="supervision_notice",
        target_id=n.id,
        region_code=n.region_code,
    )
    return n


async def close_notice(session: AsyncSession, actor: Actor, notice_id: int) -> SupervisionNotice:
    n = await _locked_notice(session, notice_id)
    if (
        actor.kind != "staff"
        or "supervisor" not in actor.roles
        or not scope.is_within(n.region_code, actor.region_code)
    ):
        raise NotFound("督办单不存在", code="notice_not_found")
    if n.state != "replied":
        raise Conflict("部门尚未回复，不能办结督办单", code="notice_not_replied")
    n.state, n.closed_at = "closed", now()
    await audit.record(
        session,
        actor=actor.ref,
        action="supervision.close",
        target_type="supervision_notice",
        target_id=n.id,
        region_code=n.region_code,
    )
    return n


async def list_notices(
    session: AsyncSession, actor: Actor, *, state: str | None = None, overdue_only: bool = False
) -> list[SupervisionNotice]:
    stmt = _scoped(
        actor,
        select(SupervisionNotice),
        SupervisionNotice.region_code,
        SupervisionNotice.department_id,
    )
    if state:
        stmt = stmt.where(SupervisionNotice.state == state)
    if overdue_only:
        stmt = stmt.where(
            and_(SupervisionNotice.state == "open", SupervisionNotice.reply_due_at < now())
        )
    return list(
        (await session.execute(stmt.order_by(SupervisionNotice.id.desc()).limit(200))).scalars()
    )
