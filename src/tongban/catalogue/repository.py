"""Catalogue queries: lists with scope, search and keyset pagination; versions;
change logs; what the pages need around them.

Every list is filtered by ``access.scope_*`` in SQL and paginated by id
(``after`` = the last id of the previous page), so a list costs the same on
page 1 and page 1,000.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.catalogue import access, forms
from tongban.catalogue.models import (
    CatalogueChange,
    CatalogueItem,
    Implementation,
    ImplementationVersion,
    ItemVersion,
    Theme,
)
from tongban.core import scope
from tongban.core.errors import NotFound
from tongban.core.identifiers import InvalidIdentifier, validate_resident_id
from tongban.identity import repository as identity_repository
from tongban.identity.access import Actor
from tongban.identity.models import Account
from tongban.regions.models import Department, Region


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _page(rows: list[Any], limit: int) -> tuple[list[Any], int | None]:
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


# --- base items ---------------------------------------------------------------------------


async def get_items(
    session: AsyncSession,
    actor: Actor | None,
    *,
    q: str = "",
    item_type: str | None = None,
    status: str | None = None,
    after: int | None = None,
    limit: int = 20,
) -> tuple[list[CatalogueItem], int | None]:
    """Base items in scope; ``q``: part of the name, or the 基本编码 (or its start)."""
    stmt = access.scope_items(actor, select(CatalogueItem))
    q = q.strip()
    if q:
        code = q.upper()
        stmt = stmt.where(
            or_(
                CatalogueItem.name.like(_like(q), escape="\\"),
                CatalogueItem.base_code == code,
                CatalogueItem.base_code.like(_like(code)[1:], escape="\\"),
            )
        )
    if item_type:
        stmt = stmt.where(CatalogueItem.item_type == item_type)
    if status:
        stmt = stmt.where(CatalogueItem.status == status)
    if after:
        stmt = stmt.where(CatalogueItem.id > after)
    rows = list((await session.execute(stmt.order_by(CatalogueItem.id).limit(limit + 1))).scalars())
    return _page(rows, limit)


async def get_item_versions(session: AsyncSession, item_id: int) -> list[ItemVersion]:
    stmt = (
        select(ItemVersion)
        .where(ItemVersion.item_id == item_id)
        .order_by(ItemVersion.version.desc())
    )
    return list((await session.execute(stmt)).scalars())


async def get_item_version(session: AsyncSession, item_id: int, version: int) -> ItemVersion | None:
    stmt = select(ItemVersion).where(ItemVersion.item_id == item_id, ItemVersion.version == version)
    return (await session.execute(stmt)).scalar_one_or_none()


async def count_implementations_of(session: AsyncSession, actor: Actor | None, item_id: int) -> int:
    stmt = access.scope_implementations(
        actor,
        select(func.count()).select_from(Implementation).where(Implementation.item_id == item_id),
    )
    return int((await session.execute(stmt)).scalar_one())


# --- implementations --------------------------------------------------------------------------


async def get_implementations(
    session: AsyncSession,
    actor: Actor | None,
    *,
    q: str = "",
    region_code: str | None = None,
    department_id: int | None = None,
    item_id: int | None = None,
    status: str | None = None,
    online_status: str | None = None,
    after: int | None = None,
    limit: int = 20,
) -> tuple[list[Implementation], int | None]:
    """Implementation entries in scope; ``region_code``: that region's subtree;
    ``q``: part of the name, or the 实施编码 (or its start)."""
    stmt = access.scope_implementations(actor, select(Implementation))
    q = q.strip()
    if q:
        code = q.upper()
        stmt = stmt.where(
            or_(
                Implementation.name.like(_like(q), escape="\\"),
                Implementation.impl_code == code,
                Implementation.impl_code.like(_like(code)[1:], escape="\\"),
            )
        )
    if region_code:
        stmt = stmt.where(scope.in_subtree(Implementation.region_code, region_code))
    if department_id:
        stmt = stmt.where(Implementation.department_id == department_id)
    if item_id:
        stmt = stmt.where(Implementation.item_id == item_id)
    if status:
        stmt = stmt.where(Implementation.status == status)
    if online_status:
        stmt = stmt.where(Implementation.online_status == online_status)
    if after:
        stmt = stmt.where(Implementation.id > after)
    rows = list(
        (await session.execute(stmt.order_by(Implementation.id).limit(limit + 1))).scalars()
    )
    return _page(rows, limit)


async def get_impl_versions(session: AsyncSession, impl_id: int) -> list[ImplementationVersion]:
    stmt = (
        select(ImplementationVersion)
        .where(ImplementationVersion.implementation_id == impl_id)
        .order_by(ImplementationVersion.version.desc())
    )
    return list((await session.execute(stmt)).scalars())


async def get_impl_version(
    session: AsyncSession, impl_id: int, version: int
) -> ImplementationVersion | None:
    stmt = select(ImplementationVersion).where(
        ImplementationVersion.implementation_id == impl_id, ImplementationVersion.version == version
    )
    return (await session.execute(stmt)).scalar_one_or_none()


# --- change log -------------------------------------------------------------------------------


async def get_changes(
    session: AsyncSession,
    *,
    entity: str,
    entity_id: int,
    before: int | None = None,
    limit: int = 50,
) -> tuple[list[tuple[CatalogueChange, str]], int | None]:
    """The change log of one record, newest first, with who made each change;
    ``before``: the smallest id of the previous page."""
    stmt = (
        select(CatalogueChange, Account.display_name)
        .outerjoin(Account, Account.id == CatalogueChange.actor_id)
        .where(CatalogueChange.entity == entity, CatalogueChange.entity_id == entity_id)
    )
    if before:
        stmt = stmt.where(CatalogueChange.id < before)
    rows = [
        (c, n or "")
        for c, n in (
            await session.execute(stmt.order_by(CatalogueChange.id.desc()).limit(limit + 1))
        ).all()
    ]
    return rows[:limit], rows[limit - 1][0].id if len(rows) > limit else None


# --- what the pages show around the records ------------------------------------------------------


async def get_department_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = (
        await session.execute(select(Department.id, Department.name).where(Department.id.in_(ids)))
    ).all()
    return {i: n for i, n in rows}


async def get_region_names(
    session: AsyncSession, codes: set[str], *, full: bool = True
) -> dict[str, str]:
    if not codes:
        return {}
    col = Region.full_name if full else Region.name
    rows = (await session.execute(select(Region.code, col).where(Region.code.in_(codes)))).all()
    return {c: n for c, n in rows}


async def get_departments_in_scope(
    session: AsyncSession, actor: Actor, *, region_code: str | None = None, limit: int = 500
) -> list[tuple[Department, str]]:
    """Departments an administrator may derive implementation entries for,
    with their region's full name (by region, then name)."""
    stmt = access.scope_departments(
        actor,
        select(Department, Region.full_name).join(Region, Region.code == Department.region_code),
    )
    if region_code:
        stmt = stmt.where(scope.in_subtree(Department.region_code, region_code))
    rows = (
        await session.execute(stmt.order_by(Department.region_code, Department.name).limit(limit))
    ).all()
    return [(d, f) for d, f in rows]


async def get_child_regions(session: AsyncSession, code: str) -> list[Region]:
    stmt = select(Region).where(Region.parent_code == code).order_by(Region.code)
    return list((await session.execute(stmt)).scalars())


async def get_themes(session: AsyncSession) -> list[Theme]:
    return list((await session.execute(select(Theme).order_by(Theme.sort, Theme.code))).scalars())


async def get_prefill_values(
    session: AsyncSession, actor: Actor, *, enterprise_id: int | None = None
) -> tuple[dict[str, Any], Any]:
    """The applicant's own data by canonical data element (``forms.DATA_ELEMENTS``)
    for ``forms.prefill``, and the enterprise acted for (``None`` if none).

    Only the applicant's own records (``identity.repository.get_my_records``):
    an ``enterprise_id`` the person may not act for gives ``NotFound``.
    """
    values: dict[str, Any] = {}
    if actor.kind != "person":
        if enterprise_id is not None:
            raise NotFound()
        return values, None
    recs = await identity_repository.get_my_records(session, actor)
    person = recs["person"]
    if person is not None:
        values["person.name"] = person.name
        values["person.id_number"] = person.id_number
        if person.phone:
            values["person.phone"] = person.phone
        try:
            rid = validate_resident_id(person.id_number)
        except InvalidIdentifier:
            rid = None
        if rid is not None:
            values["person.birth_date"] = rid.birth_date.isoformat()
            values["person.gender"] = (
                "男" if rid.sex == "M" else "女"
            )  # GB 11643: odd sequence = male
    enterprise = None
    if enterprise_id is not None:
        enterprise = next((e for e in recs["enterprises"] if e.id == enterprise_id), None)
        if enterprise is None:
            raise NotFound("您不能代表该企业办事", code="not_found")
        values["enterprise.name"] = enterprise.name
        values["enterprise.credit_code"] = enterprise.credit_code
        if person is not None and enterprise.legal_rep_id == person.id:
            values["enterprise.legal_rep_name"] = person.name
    return values, enterprise


async def get_enterprises_for(session: AsyncSession, actor: Actor) -> list[Any]:
    """Enterprises the applicant may act for now (legal representative or current agent)."""
    if actor.kind != "person":
        return []
    return list((await identity_repository.get_my_records(session, actor))["enterprises"])


async def get_published_form(
    session: AsyncSession, actor: Actor | None, impl_id: int
) -> tuple[Implementation, ImplementationVersion, dict[str, Any]]:
    """An implementation in the actor's scope, its published version and that
    version's form definition: what a new application is validated against
    and filed under. ``NotFound`` when it is not published."""
    impl = await access.access_implementation(session, actor, impl_id)
    if impl.status != "published" or impl.published_version_id is None:
        raise NotFound("该事项尚未发布，暂不能申请", code="not_published")
    version = await session.get(ImplementationVersion, impl.published_version_id)
    if version is None:  # pragma: no cover - published_version_id always names a row
        raise NotFound()
    form = version.form or forms.default_form(
        for_enterprise=impl.for_enterprises and not impl.for_persons
    )
    return impl, version, form
