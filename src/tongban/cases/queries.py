"""Reads the case pages show (办件页面的查询): worklists, counts, one case with its
trail, the applicant's inbox, window intake look-ups, supervision lists.

Every list is scoped in SQL by ``service.scope_cases`` (the rule the API and
``service.get_case`` use) and paged by key (``before``: the last id of the
previous page, newest first). The queue conditions are the API's
(``api.QUEUES``), so the workbench counts are the counts
``GET /api/v1/cases/queues`` answers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.cases import api as cases_api
from tongban.cases import lifecycle, service
from tongban.cases.api import QUEUES
from tongban.cases.models import (
    Case,
    CaseMaterial,
    CasePause,
    CaseTrail,
    CorrectionNotice,
    Notification,
)
from tongban.cases.supervision import SupervisionNotice
from tongban.catalogue.models import Implementation, ImplementationVersion
from tongban.core import scope
from tongban.core.clock import now, zone
from tongban.core.errors import NotFound
from tongban.identity import access
from tongban.identity.access import Actor
from tongban.identity.models import Account, AccountRole, Person
from tongban.regions.models import Department, Region

PAGE = 20


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """What a worklist is narrowed by (every field optional)."""

    queue: str = ""
    state: str = ""
    implementation_id: int | None = None
    department_id: int | None = None
    channel: str = ""
    applicant: str = ""
    number: str = ""
    submitted_from: dt.date | None = None
    submitted_to: dt.date | None = None
    q: str = ""  # the applicant's own list: part of the item name, or the case number
    group: str = ""  # the applicant's own list: open | closed


def _day_start(day: dt.date, tz: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone(tz))


def _filtered(stmt: Any, f: CaseFilter, *, tz: str, dialect: str) -> Any:
    if f.queue and f.queue in QUEUES:
        stmt = stmt.where(QUEUES[f.queue][1])
    if f.state and f.state in lifecycle.STATES:
        stmt = stmt.where(Case.state == f.state)
    if f.group == "open":
        stmt = stmt.where(Case.state.in_(sorted(lifecycle.OPEN_STATES | {"concluded"})))
    elif f.group == "closed":
        stmt = stmt.where(Case.state.in_(sorted(lifecycle.FINAL_STATES)))
    if f.implementation_id:
        stmt = stmt.where(Case.implementation_id == f.implementation_id)
    if f.department_id:
        stmt = stmt.where(Case.department_id == f.department_id)
    if f.channel and f.channel in lifecycle.CHANNELS:
        stmt = stmt.where(Case.channel == f.channel)
    if f.applicant:  # a prefix as the API reads it (a range, ix_case_state_applicant)
        stmt = stmt.where(
            cases_api.applicant_condition(dialect, *cases_api.applicant_bounds(f.applicant))
        )
    if f.number:
        stmt = stmt.where(Case.number == f.number)
    if f.q:
        stmt = stmt.where(or_(Case.number == f.q, Case.item_name.like(_like(f.q), escape="\\")))
    if f.submitted_from:
        stmt = stmt.where(Case.submitted_at >= _day_start(f.submitted_from, tz))
    if f.submitted_to:
        stmt = stmt.where(Case.submitted_at < _day_start(f.submitted_to + dt.timedelta(days=1), tz))
    return stmt


async def get_cases(
    session: AsyncSession,
    actor: Actor,
    f: CaseFilter,
    *,
    before: int | None = None,
    limit: int = PAGE,
    tz: str,
) -> tuple[list[Case], int | None]:
    """One page of the cases the actor may see, newest first; and the cursor of the next page.

    As the API's lists (``api._list_statement``): the page's ids first,
    answered from an index wherever the filters allow, then those rows only
    (a date range read by region in its index, ``cases_api.dated_scope``, and
    fenced, so that index is read and sorted rather than the id order walked
    back through every newer case)."""
    dialect = session.bind.dialect.name
    dated = bool(f.submitted_from or f.submitted_to)
    scoped = (
        cases_api.dated_scope(actor, select(Case.id), dialect)
        if dated
        else service.scope_cases(actor, select(Case.id))
    )
    ids = _filtered(scoped, f, tz=tz, dialect=dialect)
    if before:
        ids = ids.where(Case.id < before)
    if dated:
        dated = ids.offset(0).subquery("dated")
        page = select(dated.c.id).order_by(dated.c.id.desc()).limit(limit + 1).scalar_subquery()
    else:
        page = ids.order_by(Case.id.desc()).limit(limit + 1).scalar_subquery()
    stmt = select(Case).where(Case.id.in_(page)).order_by(Case.id.desc())
    rows = list((await session.execute(stmt)).scalars())
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


async def get_queue_counts(session: AsyncSession, actor: Actor) -> dict[str, dict[str, Any]]:
    """The count of every workbench queue: the statement ``GET /api/v1/cases/queues``
    runs (a seek per queue in the partial count indexes, never a pass over
    every case in scope)."""
    row = (
        await session.execute(cases_api._count_statement(actor, session.bind.dialect.name))
    ).one()
    return {
        key: {"label": label, "count": int(n)}
        for (key, (label, _c)), n in zip(QUEUES.items(), row, strict=True)
    }


@dataclass
class CaseView:
    """One case with everything its page shows."""

    case: Case
    version: ImplementationVersion | None
    trail: list[CaseTrail]
    materials: list[CaseMaterial]
    notices: list[CorrectionNotice]
    pauses: list[CasePause]
    department_name: str

    @property
    def open_notice(self) -> CorrectionNotice | None:
        """The correction notice the applicant has still to answer."""
        if self.case.state != "correction" or not self.notices:
            return None
        return self.notices[-1]

    @property
    def open_pause(self) -> CasePause | None:
        return next((p for p in self.pauses if p.ended_at is None), None)


async def get_case_view(session: AsyncSession, case: Case) -> CaseView:
    """The case's version, trail, materials, notices and pauses (the case is already access-checked)."""
    cid = case.id
    version = await session.get(ImplementationVersion, case.implementation_version_id)
    trail = (
        await session.execute(
            select(CaseTrail).where(CaseTrail.case_id == cid).order_by(CaseTrail.id)
        )
    ).scalars()
    mats = (
        await session.execute(
            select(CaseMaterial).where(CaseMaterial.case_id == cid).order_by(CaseMaterial.id)
        )
    ).scalars()
    notices = (
        await session.execute(
            select(CorrectionNotice)
            .where(CorrectionNotice.case_id == cid)
            .order_by(CorrectionNotice.round)
        )
    ).scalars()
    pauses = (
        await session.execute(
            select(CasePause).where(CasePause.case_id == cid).order_by(CasePause.id)
        )
    ).scalars()
    dept = await session.get(Department, case.department_id)
    return CaseView(
        case,
        version,
        list(trail),
        list(mats),
        list(notices),
        list(pauses),
        dept.name if dept else "",
    )


async def get_material(session: AsyncSession, case: Case, material_id: int) -> CaseMaterial:
    m = await session.get(CaseMaterial, material_id)
    if m is None or m.case_id != case.id or not m.file_sha256:
        raise NotFound("材料不存在", code="material_not_found")
    return m


async def get_supervisors_for(session: AsyncSession, case: Case) -> list[Account]:
    """Supervisors (电子监察) whose region holds the case: who may approve a second correction notice."""
    regions = [*scope.ancestors(case.region_code), case.region_code]
    stmt = (
        select(Account)
        .join(AccountRole, AccountRole.account_id == Account.id)
        .where(
            AccountRole.role == "supervisor",
            Account.kind == "staff",
            Account.region_code.in_(regions),
        )
        .order_by(Account.display_name, Account.id)
        .limit(50)
    )
    return list((await session.execute(stmt)).scalars())


# --- filters' choices ------------------------------------------------------------------------


async def get_filter_choices(
    session: AsyncSession, actor: Actor
) -> dict[str, list[tuple[int, str]]]:
    """Implementations and departments a staff member's worklist may be narrowed to."""
    impl_stmt = select(Implementation.id, Implementation.name).where(
        scope.in_subtree(Implementation.region_code, actor.region_code)
    )
    wide = actor.region_wide or bool(actor.roles & service.INTAKE_WIDE_ROLES)
    if not wide:
        impl_stmt = impl_stmt.where(Implementation.department_id == actor.department_id)
    impls = (
        await session.execute(impl_stmt.order_by(Implementation.name, Implementation.id).limit(300))
    ).all()
    depts: list[Any] = []
    if wide:
        depts = list(
            (
                await session.execute(
                    select(Department.id, Department.name)
                    .where(scope.in_subtree(Department.region_code, actor.region_code))
                    .order_by(Department.region_code, Department.name)
                    .limit(300)
                )
            ).all()
        )
    return {
        "implementations": [(i, n) for i, n in impls],
        "departments": [(i, n) for i, n in depts],
    }


async def get_department_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = (
        await session.execute(select(Department.id, Department.name).where(Department.id.in_(ids)))
    ).all()
    return {i: n for i, n in rows}


async def get_region_names(session: AsyncSession, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = (
        await session.execute(select(Region.code, Region.full_name).where(Region.code.in_(codes)))
    ).all()
    return {c: n for c, n in rows}


# --- the applicant's inbox ----------------------------------------------------------------------


async def get_notifications(
    session: AsyncSession,
    actor: Actor,
    *,
    unread: bool = False,
    before: int | None = None,
    limit: int = PAGE,
) -> tuple[list[Notification], int | None]:
    stmt = select(Notification).where(Notification.account_id == actor.account_id)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before:
        stmt = stmt.where(Notification.id < before)
    rows = list(
        (await session.execute(stmt.order_by(Notification.id.desc()).limit(limit + 1))).scalars()
    )
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


async def count_unread(session: AsyncSession, actor: Actor) -> int:
    stmt = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.account_id == actor.account_id, Notification.read_at.is_(None))
    )
    return int((await session.execute(stmt)).scalar_one())


async def mark_read(
    session: AsyncSession, actor: Actor, notification_id: int | None = None
) -> Notification | None:
    """Mark one message (or, without an id, every message) of the actor's as read."""
    if notification_id is None:
        await session.execute(
            update(Notification)
            .where(Notification.account_id == actor.account_id, Notification.read_at.is_(None))
            .values(read_at=now())
        )
        return None
    n = await session.get(Notification, notification_id)
    if n is None or n.account_id != actor.account_id:
        raise NotFound("消息不存在", code="notification_not_found")
    if n.read_at is None:
        n.read_at = now()
    return n


# --- window intake (一窗受理) ----------------------------------------------------------------------


async def get_person_by_id_number(
    session: AsyncSession, actor: Actor, id_number: str
) -> Person | None:
    """The person with this resident id, if within the clerk's region (the same scope as the person lists)."""
    stmt = access.scope_persons(
        actor, select(Person).where(Person.id_number == id_number.strip().upper())
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_person(session: AsyncSession, actor: Actor, person_id: int) -> Person:
    stmt = access.scope_persons(actor, select(Person).where(Person.id == person_id))
    p = (await session.execute(stmt)).scalar_one_or_none()
    if p is None:
        raise NotFound("未找到该申请人，或不在您的管辖区域内", code="person_not_found")
    return p


async def get_intake_implementations(
    session: AsyncSession, actor: Actor, *, q: str = "", after: int | None = None, limit: int = PAGE
) -> tuple[list[Implementation], int | None]:
    """Published implementations of the clerk's region (its subtree) a window may take in."""
    if actor.kind != "staff":
        return [], None
    stmt = select(Implementation).where(
        Implementation.status == "published",
        Implementation.published_version_id.is_not(None),
        scope.in_subtree(Implementation.region_code, actor.region_code),
    )
    q = q.strip()
    if q:
        stmt = stmt.where(
            or_(
                Implementation.name.like(_like(q), escape="\\"),
                Implementation.impl_code == q.upper(),
            )
        )
    if after:
        stmt = stmt.where(Implementation.id > after)
    rows = list(
        (await session.execute(stmt.order_by(Implementation.id).limit(limit + 1))).scalars()
    )
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


async def get_intake_implementation(
    session: AsyncSession, actor: Actor, impl_id: int
) -> tuple[Implementation, ImplementationVersion]:
    impl = await session.get(Implementation, impl_id)
    if (
        impl is None
        or actor.kind != "staff"
        or impl.status != "published"
        or impl.published_version_id is None
        or not scope.is_within(impl.region_code, actor.region_code)
    ):
        raise NotFound("该事项未发布，或不在您的受理区域内", code="implementation_not_found")
    version = await session.get(ImplementationVersion, impl.published_version_id)
    if version is None:  # pragma: no cover - published_version_id always names a row
        raise NotFound()
    return impl, version


# --- supervision (电子监察) ---------------------------------------------------------------------------


async def get_carded_cases(
    session: AsyncSession,
    actor: Actor,
    *,
    colour: str = "",
    before: int | None = None,
    limit: int = PAGE,
) -> tuple[list[Case], int | None]:
    """Open cases carrying a yellow or red card, in the actor's scope."""
    if actor.kind != "staff":
        return [], None
    stmt = service.scope_cases(actor, select(Case))
    stmt = (
        stmt.where(Case.alert == colour)
        if colour in ("yellow", "red")
        else stmt.where(Case.alert != "")
    )
    if before:
        stmt = stmt.where(Case.id < before)
    rows = list((await session.execute(stmt.order_by(Case.id.desc()).limit(limit + 1))).scalars())
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


async def get_supervised_departments(session: AsyncSession, actor: Actor) -> list[tuple[int, str]]:
    """Departments of the supervisor's region: where a notice may go."""
    if actor.kind != "staff" or "supervisor" not in actor.roles:
        return []
    stmt = (
        select(Department.id, Department.name)
        .where(scope.in_subtree(Department.region_code, actor.region_code))
        .order_by(Department.region_code, Department.name)
        .limit(500)
    )
    return [(i, n) for i, n in (await session.execute(stmt)).all()]


async def get_case_by_number(session: AsyncSession, actor: Actor, number: str) -> Case | None:
    stmt = service.scope_cases(actor, select(Case).where(Case.number == number.strip()))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_notice_case_numbers(
    session: AsyncSession, notices: list[SupervisionNotice]
) -> dict[int, str]:
    ids = {n.case_id for n in notices if n.case_id}
    if not ids:
        return {}
    rows = (await session.execute(select(Case.id, Case.number).where(Case.id.in_(ids)))).all()
    return {i: n for i, n in rows}
