"""Identity queries (lists with scope, search and keyset pagination)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tongban.core import scope
from tongban.core.clock import now
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


# The applicant's own records, built once (the hottest read of the portal).
# Same rule as access.scope_enterprises for a person: legal representative, or
# a current agent (tests/identity/test_access.py checks both paths agree).
_PERSON_COLS = (Person.id, Person.name, Person.id_number, Person.phone, Person.region_code,
                Person.real_name_level, Person.is_demo)
_ENTERPRISE_COLS = (Enterprise.id, Enterprise.credit_code, Enterprise.name, Enterprise.region_code,
                    Enterprise.legal_rep_id, Enterprise.is_demo)
_AGENT_COLS = (EnterpriseAgent.id, EnterpriseAgent.enterprise_id, EnterpriseAgent.person_id,
               EnterpriseAgent.valid_from, EnterpriseAgent.valid_until, EnterpriseAgent.revoked_at)
_MY_PERSON = select(*_PERSON_COLS).where(Person.id == bindparam("pid"))
_MY_ENTERPRISES = (
    select(*_ENTERPRISE_COLS)
    .where(or_(
        Enterprise.legal_rep_id == bindparam("pid"),
        Enterprise.id.in_(
            select(EnterpriseAgent.enterprise_id).where(
                EnterpriseAgent.person_id == bindparam("pid"),
                EnterpriseAgent.revoked_at.is_(None),
                EnterpriseAgent.valid_from <= bindparam("t"),
                EnterpriseAgent.valid_until > bindparam("t"),
            )
        ),
    ))
    .order_by(Enterprise.id)
)
_AGENTS_OF = (
    select(*_AGENT_COLS)
    .where(EnterpriseAgent.enterprise_id.in_(bindparam("eids", expanding=True)))
    .order_by(EnterpriseAgent.id)
)


async def get_my_records(session: AsyncSession, actor: Actor) -> dict[str, Any]:
    """An applicant's own records as plain rows: the person, the enterprises
    they act for, and the agents of the enterprises they represent."""
    return await get_my_records_on(await session.connection(), actor)


async def get_my_records_on(conn: AsyncConnection, actor: Actor) -> dict[str, Any]:
    """``get_my_records`` on a plain connection (the portal's hottest read)."""
    if actor.kind != "person" or actor.person_id is None:
        return {"person": None, "enterprises": [], "agents": []}
    pid = actor.person_id
    person = (await conn.execute(_MY_PERSON, {"pid": pid})).one_or_none()
    ents = (await conn.execute(_MY_ENTERPRISES, {"pid": pid, "t": now()})).all()
    represented = [e.id for e in ents if e.legal_rep_id == pid]
    agents = (await conn.execute(_AGENTS_OF, {"eids": represented})).all() if represented else []
    return {"person": person, "enterprises": ents, "agents": agents}
