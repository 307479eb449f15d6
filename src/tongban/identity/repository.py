"""Identity queries (lists with scope, search and keyset pagination)."""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from typing import Any

import orjson
from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tongban.core import scope
from tongban.core.clock import now
from tongban.core.sqlite_inline import (
    InlineConnection,
    bind_datetime,
    execute_write,
    numbered_params,
    read_datetime,
)
from tongban.identity import access
from tongban.identity.access import Actor
from tongban.identity.models import Enterprise, EnterpriseAgent, Person


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def get_persons(
    session: AsyncSession,
    actor: Actor,
    *,
    q: str = "",
    region_code: str | None = None,
    after: int | None = None,
    limit: int = 20,
) -> tuple[list[Person], int | None]:
    stmt = access.scope_persons(actor, select(Person))
    if q:
        # Search by name, or by the exact identity number / phone (never by fragments of them).
        stmt = stmt.where(
            or_(
                Person.name.like(_like(q), escape="\\"),
                Person.id_number == q.upper(),
                Person.phone == q,
            )
        )
    if region_code:
        stmt = stmt.where(scope.in_subtree(Person.region_code, region_code))
    if after:
        stmt = stmt.where(Person.id > after)
    rows = list((await session.execute(stmt.order_by(Person.id).limit(limit + 1))).scalars())
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


async def get_enterprises(
    session: AsyncSession,
    actor: Actor,
    *,
    q: str = "",
    region_code: str | None = None,
    after: int | None = None,
    limit: int = 20,
) -> tuple[list[Enterprise], int | None]:
    stmt = access.scope_enterprises(actor, select(Enterprise))
    if q:
        stmt = stmt.where(
            or_(Enterprise.name.like(_like(q), escape="\\"), Enterprise.credit_code == q.upper())
        )
    if region_code:
        stmt = stmt.where(scope.in_subtree(Enterprise.region_code, region_code))
    if after:
        stmt = stmt.where(Enterprise.id > after)
    rows = list((await session.execute(stmt.order_by(Enterprise.id).limit(limit + 1))).scalars())
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


async def get_agents_for(
    session: AsyncSession, actor: Actor, enterprise_ids: list[int]
) -> list[EnterpriseAgent]:
    if not enterprise_ids:
        return []
    stmt = access.scope_agents(
        actor, select(EnterpriseAgent).where(EnterpriseAgent.enterprise_id.in_(enterprise_ids))
    )
    return list((await session.execute(stmt.order_by(EnterpriseAgent.id))).scalars())


async def get_by_id_number(session: AsyncSession, id_number: str) -> Person | None:
    return (
        await session.execute(select(Person).where(Person.id_number == id_number.upper()))
    ).scalar_one_or_none()


# The applicant's own records, built once (the hottest read of the portal).
# Same rule as access.scope_enterprises for a person: legal representative, or
# a current agent (tests/identity/test_access.py checks both paths agree).
_PERSON_COLS = (
    Person.id,
    Person.name,
    Person.id_number,
    Person.phone,
    Person.region_code,
    Person.real_name_level,
    Person.is_demo,
)
_ENTERPRISE_COLS = (
    Enterprise.id,
    Enterprise.credit_code,
    Enterprise.name,
    Enterprise.region_code,
    Enterprise.legal_rep_id,
    Enterprise.is_demo,
)
_AGENT_COLS = (
    EnterpriseAgent.id,
    EnterpriseAgent.enterprise_id,
    EnterpriseAgent.person_id,
    EnterpriseAgent.valid_from,
    EnterpriseAgent.valid_until,
    EnterpriseAgent.revoked_at,
)
_MY_PERSON = select(*_PERSON_COLS).where(Person.id == bindparam("pid"))
_MY_ENTERPRISES = (
    select(*_ENTERPRISE_COLS)
    .where(
        or_(
            Enterprise.legal_rep_id == bindparam("pid"),
            Enterprise.id.in_(
                select(EnterpriseAgent.enterprise_id).where(
                    EnterpriseAgent.person_id == bindparam("pid"),
                    EnterpriseAgent.revoked_at.is_(None),
                    EnterpriseAgent.valid_from <= bindparam("t"),
                    EnterpriseAgent.valid_until > bindparam("t"),
                )
            ),
        )
    )
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


# --- the same read on the driver connection (the hot route) --------------------------------
#
# ``GET /api/v1/me/records`` runs its statements on the driver connection of
# a pooled connection (``web.deps.raw_connection``): no SQLAlchemy statement
# execution, result processing or ORM (~90 µs per statement on SQLite, against
# ~7 µs for the driver). The statements are written once, in a form both
# PostgreSQL and SQLite run, and the values come back as SQLAlchemy's types
# would give them (bool, aware UTC datetimes, decoded JSON), so the rendering
# functions of ``identity.schemas`` work on either kind of row.


class RawStatement:
    """One statement in PostgreSQL's ``$1`` style, with its SQLite form."""

    __slots__ = ("pg", "sqlite")

    def __init__(self, sql: str) -> None:
        self.pg = " ".join(sql.split())
        self.sqlite = numbered_params(self.pg)


class RawConnection:
    """The driver connection of one pooled connection: ``sqlite3`` (called
    inline on the event loop, as ``core.sqlite_inline`` does) or ``asyncpg``.
    Reads run in autocommit; ``execute`` runs one writing statement in a
    transaction of its own (on SQLite behind the database's write lock)."""

    __slots__ = ("_dbapi", "driver", "is_sqlite")

    def __init__(self, dbapi_connection: Any) -> None:
        self._dbapi = dbapi_connection
        self.is_sqlite = isinstance(dbapi_connection, InlineConnection)
        self.driver = dbapi_connection.driver_connection

    def _args(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(bind_datetime(a) if isinstance(a, dt.datetime) else a for a in args)

    async def fetch(self, stmt: RawStatement, *args: Any) -> list[Any]:
        if self.is_sqlite:
            # fetchall: no SQLite statement stays open (it would pin a read snapshot)
            return self.driver.execute(stmt.sqlite, self._args(args)).fetchall()
        return await self.driver.fetch(stmt.pg, *args)

    async def execute(self, stmt: RawStatement, *args: Any) -> None:
        if self.is_sqlite:
            await execute_write(self._dbapi, stmt.sqlite, self._args(args))
        else:
            await self.driver.execute(stmt.pg, *args)

    def datetime(self, value: Any) -> dt.datetime | None:
        """A datetime column's value, as ``core.db.UTCDateTime`` gives it."""
        if self.is_sqlite:
            return read_datetime(value)
        return value.astimezone(dt.UTC) if value is not None else None

    def json(self, value: Any) -> Any:
        """A JSON column's value, decoded (asyncpg decodes through the codec
        SQLAlchemy installs on its connections; sqlite3 returns the text)."""
        return orjson.loads(value) if isinstance(value, str | bytes) else value


PersonRow = namedtuple("PersonRow", "id name id_number phone region_code real_name_level is_demo")
EnterpriseRow = namedtuple("EnterpriseRow", "id credit_code name region_code legal_rep_id is_demo")
AgentRow = namedtuple("AgentRow", "id enterprise_id person_id valid_from valid_until revoked_at")

# The enterprises the person represents or acts for as a current agent (as
# _MY_ENTERPRISES), then every agent of the enterprises they represent (as
# _AGENTS_OF): one statement, one round trip, one snapshot. Each branch fills
# its own columns; NULL pads the others (PostgreSQL takes each column's type
# from the branch that has one).
_MY_RECORDS_RAW = RawStatement("""
    SELECT 0, e.id, e.credit_code, e.name, e.region_code, e.legal_rep_id, e.is_demo,
           NULL, NULL, NULL, NULL, NULL
    FROM enterprise e
    WHERE e.legal_rep_id = $1
       OR e.id IN (SELECT g.enterprise_id FROM enterprise_agent g
                   WHERE g.person_id = $1 AND g.revoked_at IS NULL
                     AND g.valid_from <= $2 AND g.valid_until > $2)
    UNION ALL
    SELECT 1, a.id, NULL, NULL, NULL, NULL, NULL,
           a.enterprise_id, a.person_id, a.valid_from, a.valid_until, a.revoked_at
    FROM enterprise r JOIN enterprise_agent a ON a.enterprise_id = r.id
    WHERE r.legal_rep_id = $1
    ORDER BY 1, 2
""")


async def get_my_records_raw(
    conn: RawConnection, actor: Actor, person: PersonRow | None
) -> dict[str, Any]:
    """``get_my_records`` on a driver connection. ``person`` is the actor's
    person row, read with the session (``service.resolve_session_raw``)."""
    if actor.kind != "person" or actor.person_id is None:
        return {"person": None, "enterprises": [], "agents": []}
    ents: list[EnterpriseRow] = []
    agents: list[AgentRow] = []
    when = conn.datetime
    for r in await conn.fetch(_MY_RECORDS_RAW, actor.person_id, now()):
        if r[0] == 0:
            ents.append(EnterpriseRow(r[1], r[2], r[3], r[4], r[5], bool(r[6])))
        else:
            agents.append(AgentRow(r[1], r[7], r[8], when(r[9]), when(r[10]), when(r[11])))
    return {"person": person, "enterprises": ents, "agents": agents}
