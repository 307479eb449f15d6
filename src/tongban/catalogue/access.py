"""Who may read which catalogue records (事项管理的数据权限), in one place.

- Everyone (visitors, applicants, API clients) reads published records only:
  the catalogue is public information (政务公开), drafts are not.
- Staff read the records of their scope, in every status:
  - base items (基本目录) owned by the nation, by a region above theirs (the
    province's catalogue applies in its cities) or inside their subtree;
  - implementation entries (实施清单): roles that serve a whole region —
    platform admin, supervisor, leader, window clerk (综合窗口 takes in every
    department's cases), hotline dispatcher — their region subtree; department
    roles (dept_admin, approver) their department's entries.

Lists are filtered in SQL (``scope_*``); a detail read goes through
``access_*``, which answers ``NotFound`` for a record that does not exist and
for one outside the scope alike, so probing ids reveals nothing. Who may
*change* a record is the service's rule (``service.can_manage_*``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.catalogue.models import NATIONAL, CatalogueItem, Implementation
from tongban.core import scope
from tongban.core.errors import NotFound
from tongban.identity.access import Actor
from tongban.regions.models import Department

# Roles that read every implementation entry of their region subtree.
REGION_READERS = frozenset({"platform_admin", "supervisor", "leader", "clerk", "dispatcher"})

MAX_ID = 2**63 - 1


def is_staff(actor: Actor | None) -> bool:
    return actor is not None and actor.kind == "staff"


def _in_region(column: Any, region_code: str) -> Any:
    if region_code == NATIONAL:
        return column.is_not(None)  # a national office: every region
    return scope.in_subtree(column, region_code)


def scope_items(actor: Actor | None, stmt: Select[Any]) -> Select[Any]:
    if not is_staff(actor):
        return stmt.where(CatalogueItem.status == "published")
    assert actor is not None
    region = actor.region_code
    above = [NATIONAL, *scope.ancestors(region)] if region != NATIONAL else [NATIONAL]
    return stmt.where(
        or_(CatalogueItem.region_code.in_(above), _in_region(CatalogueItem.region_code, region))
    )


def scope_implementations(actor: Actor | None, stmt: Select[Any]) -> Select[Any]:
    if not is_staff(actor):
        return stmt.where(Implementation.status == "published")
    assert actor is not None
    if actor.roles & REGION_READERS:
        return stmt.where(_in_region(Implementation.region_code, actor.region_code))
    if actor.department_id is not None:
        return stmt.where(Implementation.department_id == actor.department_id)
    return stmt.where(false())


def sees_drafts(actor: Actor | None) -> bool:
    """Staff in scope read drafts and history; everyone else the published version."""
    return is_staff(actor)


async def access_item(session: AsyncSession, actor: Actor | None, item_id: int) -> CatalogueItem:
    if not 1 <= item_id <= MAX_ID:
        raise NotFound()
    stmt = scope_items(actor, select(CatalogueItem).where(CatalogueItem.id == item_id))
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound()
    return row


async def access_implementation(
    session: AsyncSession, actor: Actor | None, impl_id: int
) -> Implementation:
    if not 1 <= impl_id <= MAX_ID:
        raise NotFound()
    stmt = scope_implementations(actor, select(Implementation).where(Implementation.id == impl_id))
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound()
    return row


def scope_departments(actor: Actor, stmt: Select[Any]) -> Select[Any]:
    """Departments an administrator may derive implementation entries for:
    a platform admin's region subtree, a department admin's own department."""
    if actor.kind != "staff":
        return stmt.where(false())
    conds = []
    if "platform_admin" in actor.roles:
        conds.append(_in_region(Department.region_code, actor.region_code))
    if "dept_admin" in actor.roles and actor.department_id is not None:
        conds.append(Department.id == actor.department_id)
    if not conds:
        return stmt.where(false())
    return stmt.where(or_(*conds))


async def access_department(session: AsyncSession, actor: Actor, department_id: int) -> Department:
    if not 1 <= department_id <= MAX_ID:
        raise NotFound("部门不存在，或不在您的管理范围内")
    stmt = scope_departments(actor, select(Department).where(Department.id == department_id))
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("部门不存在，或不在您的管理范围内")
    return row
