"""Who may see and manage which licences (证照的数据权限), in one place.

- A holder (person account) sees the licences held by their person and by the
  enterprises they represent or act for as a current agent (identity rules).
- Staff see the licences of their region subtree: roles that serve a whole
  region (platform admin, supervisor, leader, dispatcher, window clerk — 统一出件)
  every department's, the others (approver, dept_admin) their own department's.
- An API client with the ``licences:read`` scope sees its region subtree.
- Issuing, changing, revoking and annulling: staff of the issuing department
  with the approver or dept_admin role (``can_issue``); seals are managed by
  the department's dept_admin or a platform admin of the region
  (``can_manage_seals``).

Lists are filtered in SQL (``scope_licences``); a detail read goes through
``access_licence``, which answers ``NotFound`` outside the scope.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core import scope
from tongban.core.errors import NotFound, PermissionDenied
from tongban.identity.access import Actor, scope_enterprises
from tongban.identity.models import Enterprise
from tongban.licences.models import NATIONAL, Licence, LicenceType

REGION_READERS = frozenset({"platform_admin", "supervisor", "leader", "dispatcher", "clerk"})
ISSUER_ROLES = frozenset({"approver", "dept_admin"})


def _in_region(column: Any, region_code: str) -> Any:
    if region_code == NATIONAL:
        return column.is_not(None)
    return scope.in_subtree(column, region_code)


def scope_licences(actor: Actor | None, stmt: Select[Any]) -> Select[Any]:
    if actor is None:
        return stmt.where(false())
    if actor.kind == "person" and actor.person_id is not None:
        enterprises = scope_enterprises(actor, select(Enterprise.id))
        return stmt.where(
            or_(
                Licence.holder_person_id == actor.person_id,
                Licence.holder_enterprise_id.in_(enterprises),
            )
        )
    if actor.kind == "staff":
        stmt = stmt.where(_in_region(Licence.region_code, actor.region_code))
        if actor.roles & REGION_READERS:
            return stmt
        if actor.department_id is None:
            return stmt.where(false())
        return stmt.where(Licence.issuer_department_id == actor.department_id)
    if actor.kind == "api" and "licences:read" in actor.scopes:
        return stmt.where(_in_region(Licence.region_code, actor.region_code))
    return stmt.where(false())


async def access_licence(session: AsyncSession, actor: Actor | None, licence_id: int) -> Licence:
    row = (
        await session.execute(
            scope_licences(actor, select(Licence).where(Licence.id == licence_id))
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("未找到该证照，或您无权查看", code="licence_not_found")
    return row


def is_holder(actor: Actor | None) -> bool:
    return actor is not None and actor.kind == "person"


def sees_full_identifiers(actor: Actor | None) -> bool:
    """Holders see their own codes in full; staff per their role (identity rules)."""
    return actor is not None and (actor.kind == "person" or actor.sees_full_identifiers)


def can_issue(actor: Actor, licence_type: LicenceType, department_id: int) -> bool:
    """Staff of an issuing department of the type, with a role that decides."""
    return (
        actor.kind == "staff"
        and bool(actor.roles & ISSUER_ROLES)
        and actor.department_id == department_id
        and department_id in (licence_type.issuing_department_ids or [])
    )


def require_issuer(actor: Actor, licence_type: LicenceType, department_id: int) -> None:
    if actor.kind == "system":
        return
    if not can_issue(actor, licence_type, department_id):
        raise PermissionDenied(
            "只有该证照颁发部门的审批人员或部门管理员可以办理", code="not_licence_issuer"
        )


def can_manage_seals(actor: Actor, *, department_id: int, department_region: str) -> bool:
    if actor.kind != "staff":
        return False
    if "dept_admin" in actor.roles and actor.department_id == department_id:
        return True
    return "platform_admin" in actor.roles and (
        actor.region_code == NATIONAL or scope.is_within(department_region, actor.region_code)
    )


def can_manage_types(actor: Actor) -> bool:
    return actor.kind == "staff" and "platform_admin" in actor.roles
