"""Who may see what (数据权限), in one place per kind of record.

Rules:
- an applicant (person account) sees their own person record, the enterprises
  they represent (法定代表人) or act for as a current agent (经办人), and nothing else;
- staff see records whose region lies in their own region's subtree; records
  owned by a department (cases, later) are further limited to their department,
  except for roles that oversee a region (platform admin, supervisor, leader);
- a leader reads their region subtree and never writes;
- an API client sees what its token's scopes and its department's region allow.

Every list is filtered in SQL (``scope_*`` functions add WHERE clauses that use
the region index); every detail read goes through an ``access_*`` function that
answers ``NotFound`` — not "forbidden" — for records outside the scope, so
probing ids reveals nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core import scope
from tongban.core.clock import now
from tongban.core.errors import NotFound, PermissionDenied
from tongban.identity.models import Account, Enterprise, EnterpriseAgent, Person

# Roles whose work needs full identity numbers and phones (intake, review,
# account administration). Everyone else sees masked values.
FULL_IDENTIFIER_ROLES = frozenset({"clerk", "approver", "platform_admin"})
# Roles that oversee a whole region rather than one department.
REGION_WIDE_ROLES = frozenset({"platform_admin", "supervisor", "leader", "dispatcher"})
STAFF_WRITE_ROLES = frozenset(
    {"clerk", "approver", "dept_admin", "supervisor", "dispatcher", "platform_admin"}
)


@dataclass(frozen=True)
class Actor:
    """The signed-in party of a request."""

    kind: str  # person | staff | api
    account_id: int | None
    display_name: str
    region_code: str
    via: str  # session | token | system
    person_id: int | None = None
    department_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)
    csrf_token: str = ""
    api_client_id: int | None = None
    preferences: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def ref(self) -> str:
        """How the audit log names this actor."""
        if self.kind == "api":
            return f"api:{self.api_client_id}"
        if self.account_id is None:
            return "system"
        return f"account:{self.account_id}"

    def has_any_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def is_applicant(self) -> bool:
        return self.kind == "person"

    @property
    def read_only(self) -> bool:
        return self.kind == "staff" and not (self.roles & STAFF_WRITE_ROLES)

    @property
    def sees_full_identifiers(self) -> bool:
        return bool(self.roles & FULL_IDENTIFIER_ROLES)

    @property
    def region_wide(self) -> bool:
        return bool(self.roles & REGION_WIDE_ROLES)


SYSTEM = Actor(
    kind="system", account_id=None, display_name="系统", region_code="000000000000", via="system"
)


def require_write(actor: Actor) -> None:
    if actor.read_only or actor.kind == "system":
        raise PermissionDenied("当前角色只能查看，不能修改")


def _represented_enterprises(person_id: int) -> Any:
    """Enterprise ids a person may act for: legal representative or current agent."""
    t = now()
    as_agent = select(EnterpriseAgent.enterprise_id).where(
        EnterpriseAgent.person_id == person_id,
        EnterpriseAgent.revoked_at.is_(None),
        EnterpriseAgent.valid_from <= t,
        EnterpriseAgent.valid_until > t,
    )
    as_rep = select(Enterprise.id).where(Enterprise.legal_rep_id == person_id)
    return as_agent.union(as_rep)


# --- persons ------------------------------------------------------------------


def scope_persons(actor: Actor, stmt: Select[Any]) -> Select[Any]:
    if actor.kind == "person":
        return stmt.where(Person.id == actor.person_id)
    if actor.kind == "staff":
        return stmt.where(scope.in_subtree(Person.region_code, actor.region_code))
    if actor.kind == "api" and "persons:read" in actor.scopes:
        return stmt.where(scope.in_subtree(Person.region_code, actor.region_code))
    return stmt.where(false())


async def access_person(session: AsyncSession, actor: Actor, person_id: int) -> Person:
    row = (
        await session.execute(scope_persons(actor, select(Person).where(Person.id == person_id)))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound()
    return row


# --- enterprises ------------------------------------------------------------------


def scope_enterprises(actor: Actor, stmt: Select[Any]) -> Select[Any]:
    if actor.kind == "person" and actor.person_id is not None:
        return stmt.where(Enterprise.id.in_(_represented_enterprises(actor.person_id)))
    if actor.kind == "staff":
        return stmt.where(scope.in_subtree(Enterprise.region_code, actor.region_code))
    if actor.kind == "api" and "enterprises:read" in actor.scopes:
        return stmt.where(scope.in_subtree(Enterprise.region_code, actor.region_code))
    return stmt.where(false())


async def access_enterprise(session: AsyncSession, actor: Actor, enterprise_id: int) -> Enterprise:
    stmt = scope_enterprises(actor, select(Enterprise).where(Enterprise.id == enterprise_id))
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound()
    return row


async def can_act_for_enterprise(session: AsyncSession, actor: Actor, enterprise_id: int) -> bool:
    """May this applicant file and sign for the enterprise now?"""
    if actor.kind != "person" or actor.person_id is None:
        return False
    stmt = select(
        exists().where(
            Enterprise.id == enterprise_id,
            Enterprise.id.in_(_represented_enterprises(actor.person_id)),
        )
    )
    return bool((await session.execute(stmt)).scalar())


# --- enterprise agents ---------------------------------------------------------------


def scope_agents(actor: Actor, stmt: Select[Any]) -> Select[Any]:
    if actor.kind == "person" and actor.person_id is not None:
        return stmt.where(
            or_(
                EnterpriseAgent.person_id == actor.person_id,
                EnterpriseAgent.enterprise_id.in_(
                    select(Enterprise.id).where(Enterprise.legal_rep_id == actor.person_id)
                ),
            )
        )
    if actor.kind == "staff":
        return stmt.where(scope.in_subtree(EnterpriseAgent.region_code, actor.region_code))
    return stmt.where(false())


async def access_agent(session: AsyncSession, actor: Actor, agent_id: int) -> EnterpriseAgent:
    row = (
        await session.execute(
            scope_agents(actor, select(EnterpriseAgent).where(EnterpriseAgent.id == agent_id))
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound()
    return row


# --- accounts -------------------------------------------------------------------


def scope_accounts(actor: Actor, stmt: Select[Any]) -> Select[Any]:
    """Account administration: platform admins in their subtree; department
    admins for their own department's staff; everyone sees their own."""
    own = Account.id == actor.account_id
    if actor.kind == "staff" and "platform_admin" in actor.roles:
        return stmt.where(or_(own, scope.in_subtree(Account.region_code, actor.region_code)))
    if actor.kind == "staff" and "dept_admin" in actor.roles and actor.department_id is not None:
        return stmt.where(
            or_(own, and_(Account.kind == "staff", Account.department_id == actor.department_id))
        )
    if actor.account_id is not None:
        return stmt.where(own)
    return stmt.where(false())


async def access_account(session: AsyncSession, actor: Actor, account_id: int) -> Account:
    row = (
        await session.execute(
            scope_accounts(actor, select(Account).where(Account.id == account_id))
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound()
    return row


# --- department-owned records (cases and the like, used by later domains) -------------


def scope_department_records(
    actor: Actor, stmt: Select[Any], *, region_col: Any, department_col: Any
) -> Select[Any]:
    """Records owned by a department: staff see their department's records in
    their region subtree; region-wide roles see the whole subtree."""
    if actor.kind != "staff":
        return stmt.where(false())
    stmt = stmt.where(scope.in_subtree(region_col, actor.region_code))
    if actor.region_wide:
        return stmt
    return stmt.where(department_col == actor.department_id)
