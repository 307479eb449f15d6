"""Identity queries (lists with scope, search and keyset pagination)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core import scope
from tongban.identity import access
from tongban.identity.access import Actor
from tongban.identity.models import Enterprise, EnterpriseAgent, Person


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def get_persons(
    session: AsyncSession, actor: Actor, *, q: str = "", region_code: str | None = None,
    after: int | None = None, limit: int = 20,
) -> tuple[list[Person], int | None]:
    stmt = access.scope_persons(actor, select(Person))
    if q:
        # Search by name, or by the exact identity number / phone (never by fragments of them).
        stmt = stmt.where(or_(Person.name.like(_like(q), escape="\\"), Person.id_number == q.upper(), Person.phone == q))
    if region_code:
        stmt = stmt.where(scope.in_subtree(Person.region_code, region_code))
    if after:
        stmt = stmt.where(Person.id > after)
    rows = list((await session.execute(stmt.order_by(Person.id).limit(limit + 1))).scalars())
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


async def get_enterprises(
    session: AsyncSession, actor: Actor, *, q: str = "", region_code: str | None = None,
    after: int | None = None, limit: int = 20,
) -> tuple[list[Enterprise], int | None]:
    stmt = access.scope_enterprises(actor, select(Enterprise))
    if q:
        stmt = stmt.where(or_(Enterprise.name.like(_like(q), escape="\\"), Enterprise.credit_code == q.upper()))
    if region_code:
        stmt = stmt.where(scope.in_subtree(Enterprise.region_code, region_code))
    if after:
        stmt = stmt.where(Enterprise.id > after)
    rows = list((await session.execute(stmt.order_by(Enterprise.id).limit(limit + 1))).scalars())
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


async def get_agents_for(session: AsyncSession, actor: Actor, enterprise_ids: list[int]) -> list[EnterpriseAgent]:
    if not enterprise_ids:
        return []
    stmt = access.scope_agents(actor, select(EnterpriseAgent).where(EnterpriseAgent.enterprise_id.in_(enterprise_ids)))
    return list((await session.execute(stmt.order_by(EnterpriseAgent.id))).scalars())


async def get_by_id_number(session: AsyncSession, id_number: str) -> Person | None:
    return (await session.execute(select(Person).where(Person.id_number == id_number.upper()))).scalar_one_or_none()


async def get_my_records(session: AsyncSession, actor: Actor) -> dict[str, Any]:
    """An applicant's own records: person, enterprises they act for, agents."""
    person = None
    if actor.person_id is not None:
        person = (await session.execute(select(Person).where(Person.id == actor.person_id))).scalar_one_or_none()
    ents = list((await session.execute(access.scope_enterprises(actor, select(Enterprise)).order_by(Enterprise.id))).scalars()) if actor.kind == "person" else []
    return {"person": person, "enterprises": ents}
