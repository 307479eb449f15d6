"""Read models for the pages: counts, names and breakdowns that span domains.

Every query here is scoped by the same ``access.scope_*`` functions as the
domain repositories (filtering in SQL), and reads only. When a domain's
repository grows the equivalent function, the pages should call it and the
query here should go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core import scope
from tongban.core.audit import AuditChainHead, AuditEntry
from tongban.identity import access
from tongban.identity.access import Actor
from tongban.identity.models import Account, AccountRole, Enterprise, EnterpriseAgent, Person
from tongban.regions import repository as regions_repository
from tongban.regions.models import Department, Region


async def department_of(session: AsyncSession, actor: Actor) -> Department | None:
    if actor.department_id is None:
        return None
    found = await regions_repository.get_department(session, actor.department_id)
    return found[0] if found else None


async def region_of(session: AsyncSession, code: str) -> Region | None:
    return await regions_repository.get_by_code(session, code)


async def child_regions(session: AsyncSession, code: str) -> list[Region]:
    return await regions_repository.get_children(session, code)


async def region_names(
    session: AsyncSession, codes: set[str], *, full: bool = False
) -> dict[str, str]:
    """Names (or full names: 山东省济南市历下区) of the given region codes."""
    if not codes:
        return {}
    found = await regions_repository.get_names(session, sorted(codes))
    return {c: (f if full else n) for c, (n, f) in found.items()}


async def count_persons(session: AsyncSession, actor: Actor) -> int:
    stmt = access.scope_persons(actor, select(func.count()).select_from(Person))
    return int((await session.execute(stmt)).scalar_one())


async def count_enterprises(session: AsyncSession, actor: Actor) -> int:
    stmt = access.scope_enterprises(actor, select(func.count()).select_from(Enterprise))
    return int((await session.execute(stmt)).scalar_one())


async def count_accounts(session: AsyncSession, actor: Actor) -> dict[str, int]:
    """Accounts the actor administers, by kind (applicants, staff)."""
    stmt = access.scope_accounts(actor, select(Account.kind, func.count()).group_by(Account.kind))
    counts = {"person": 0, "staff": 0}
    for kind, n in (await session.execute(stmt)).all():
        counts[kind] = int(n)
    return counts


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def get_accounts(
    session: AsyncSession,
    actor: Actor,
    *,
    q: str = "",
    after: int | None = None,
    limit: int = 30,
) -> tuple[list[tuple[Account, list[str]]], int | None]:
    """Accounts the actor administers (``access.scope_accounts``) with their roles, keyset-paginated."""
    stmt = access.scope_accounts(actor, select(Account))
    if q:
        stmt = stmt.where(
            or_(
                Account.username.like(_like(q), escape="\\"),
                Account.display_name.like(_like(q), escape="\\"),
            )
        )
    if after:
        stmt = stmt.where(Account.id > after)
    rows = list((await session.execute(stmt.order_by(Account.id).limit(limit + 1))).scalars())
    nxt = rows[limit - 1].id if len(rows) > limit else None
    rows = rows[:limit]
    roles: dict[int, list[str]] = {}
    if rows:
        rstmt = select(AccountRole.account_id, AccountRole.role).where(
            AccountRole.account_id.in_([a.id for a in rows])
        )
        for account_id, role in (await session.execute(rstmt)).all():
            roles.setdefault(account_id, []).append(role)
    return [(a, sorted(roles.get(a.id, []))) for a in rows], nxt


async def agent_people(
    session: AsyncSession, actor: Actor, agents: list[EnterpriseAgent]
) -> dict[int, Person]:
    """The persons named in enterprise-agent rows the actor may see (for their names)."""
    ids = {a.person_id for a in agents}
    if not ids:
        return {}
    visible = access.scope_agents(
        actor, select(EnterpriseAgent.person_id).where(EnterpriseAgent.person_id.in_(ids))
    )
    rows = (await session.execute(select(Person).where(Person.id.in_(visible)))).scalars()
    return {p.id: p for p in rows}


async def latest_audit(session: AsyncSession, actor: Actor, *, limit: int = 30) -> list[AuditEntry]:
    """Newest audit entries of the chains in the administrator's region subtree.

    A chain numbers its entries 1, 2, 3 … as they are written (its head holds
    the last number), so the newest ``limit`` of a subtree are among the last
    ``limit`` of each of its chains: one range of the chain index (region,
    lane, seq) per chain head, not a sort of the whole log (every submission adds
    an entry). Twice ``limit`` per chain: an entry's time is taken just before
    its number, so two written at once may hold them in either order."""
    h = AuditChainHead
    stmt = (
        select(AuditEntry)
        .select_from(h)
        .join(
            AuditEntry,
            and_(
                # ``|| ''``: SQLite would carry the subtree's range over to the
                # entries through a plain equality and walk every entry of it
                AuditEntry.region_code == h.region_code.concat(""),
                AuditEntry.lane == h.lane,
                AuditEntry.seq > h.seq - 2 * limit,
            ),
        )
        .where(scope.in_subtree(h.region_code, actor.region_code))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


@dataclass
class RegionRow:
    code: str
    name: str
    persons: int = 0
    enterprises: int = 0
    accounts: int = 0


@dataclass
class Breakdown:
    region_code: str
    rows: list[RegionRow] = field(default_factory=list)
    maximum: int = 1

    @property
    def totals(self) -> dict[str, int]:
        return {
            k: sum(getattr(r, k) for r in self.rows) for k in ("persons", "enterprises", "accounts")
        }


async def region_breakdown(session: AsyncSession, actor: Actor) -> Breakdown:
    """Persons, enterprises and accounts in the actor's subtree, by child region.

    Records registered at the actor's own level (not in any child) form a row
    of their own ("本级"). Counts only: no record is read.
    """
    root = actor.region_code
    level = scope.level_of(root)
    out = Breakdown(region_code=root)
    digits = 12 if level >= 5 else scope.LEVEL_DIGITS[level + 1]
    names = {r.code: r.name for r in await child_regions(session, root)}
    rows: dict[str, RegionRow] = {c: RegionRow(code=c, name=n) for c, n in names.items()}

    async def tally(model: Any, scoped: Any, attr: str) -> None:
        key = func.substr(model.region_code, 1, digits)
        stmt = scoped(select(key, func.count()).select_from(model)).group_by(key)
        for prefix, n in (await session.execute(stmt)).all():
            code = str(prefix).ljust(12, "0")
            if code not in rows:
                rows[code] = RegionRow(
                    code=code, name="本级" if code == root else names.get(code, code)
                )
            setattr(rows[code], attr, int(n))

    await tally(Person, lambda s: access.scope_persons(actor, s), "persons")
    await tally(Enterprise, lambda s: access.scope_enterprises(actor, s), "enterprises")
    # Account totals by region are aggregate statistics for the leader's own
    # subtree; no account is read, so the account-administration scope does not apply.
    await tally(Account, lambda s: s.where(scope.in_subtree(Account.region_code, root)), "accounts")
    ordered = sorted(rows.values(), key=lambda r: (r.code != root, r.code))
    out.rows = [r for r in ordered if r.persons or r.enterprises or r.accounts or r.code in names]
    out.maximum = max([1] + [max(r.persons, r.enterprises, r.accounts) for r in out.rows])
    return out
