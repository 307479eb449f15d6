"""Read queries for the public guide and browsing pages (办事指南, 办事服务).

Only what a visitor may see: published implementation entries (and a retired
one's last published version, shown as 已停用). Lists filter in SQL on the
indexed ``implementation.region_code`` / ``department_id`` / theme and page
by offset (the visitor's own region sorts first, which a keyset over the name
alone could not express).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, case, false, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.catalogue import service
from tongban.catalogue.models import (
    CatalogueItem,
    Implementation,
    ImplementationTheme,
    ImplementationVersion,
    Theme,
)
from tongban.catalogue.schemas import ItemFields, LocalFields, TimeLimit
from tongban.core import scope
from tongban.regions.models import Department, Region

PUBLIC_STATUSES = ("published", "retired")
PER_PAGE = 20


@dataclass
class Guide:
    """One implementation entry as its guide shows it."""

    impl: Implementation
    version: ImplementationVersion
    fields: ItemFields
    local: LocalFields
    department: Department
    region: Region | None
    base_code: str

    @property
    def retired(self) -> bool:
        return self.impl.status == "retired"

    @property
    def published_at(self) -> dt.datetime | None:
        return self.version.published_at


async def get_guide(session: AsyncSession, impl_id: int) -> Guide | None:
    """The guide of an implementation: its published version, or for a retired
    entry the version last published. ``None`` for drafts and unknown ids."""
    impl = await session.get(Implementation, impl_id)
    if impl is None or impl.status not in PUBLIC_STATUSES or not impl.published_version:
        return None
    version = (
        await session.execute(
            select(ImplementationVersion).where(
                ImplementationVersion.implementation_id == impl.id,
                ImplementationVersion.version == impl.published_version,
            )
        )
    ).scalar_one_or_none()
    dept = await session.get(Department, impl.department_id)
    if version is None or dept is None:
        return None
    region = await session.get(Region, impl.region_code)
    base_code = (
        await session.execute(
            select(CatalogueItem.base_code).where(CatalogueItem.id == impl.item_id)
        )
    ).scalar_one()
    return Guide(
        impl=impl,
        version=version,
        fields=ItemFields.model_validate(version.fields),
        local=LocalFields.model_validate(version.local or {}),
        department=dept,
        region=region,
        base_code=base_code,
    )


async def get_impl_id_by_code(session: AsyncSession, impl_code: str) -> int | None:
    stmt = select(Implementation.id).where(
        Implementation.impl_code == impl_code.strip().upper(),
        Implementation.status.in_(PUBLIC_STATUSES),
        Implementation.published_version.is_not(None),
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def published_file_reference(session: AsyncSession, impl_id: int, sha256: str) -> bool:
    """Whether the current published guide of ``impl_id`` offers the file
    ``sha256`` (a blank form, a sample, a result sample) for download."""
    impl = await session.get(Implementation, impl_id)
    if impl is None or impl.status != "published" or impl.published_version_id is None:
        return False
    version = await session.get(ImplementationVersion, impl.published_version_id)
    if version is None:
        return False
    return sha256 in file_references(version.fields)


def file_references(fields: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for m in fields.get("materials") or []:
        out.update(x for x in (m.get("form_file"), m.get("sample_file")) if x)
    result = fields.get("result") or {}
    if result.get("sample_file"):
        out.add(result["sample_file"])
    return out


# --- lists -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListFilter:
    theme: str | None = None
    department_id: int | None = None
    region_code: str | None = None  # the subtree of this region
    audience: str = ""  # "" | person | enterprise
    online_only: bool = False


@dataclass
class ListRow:
    id: int
    name: str
    department: str
    region: str
    region_code: str
    online_status: str
    promised: str
    for_persons: bool
    for_enterprises: bool
    local: bool  # in the visitor's region (or one above it)


@dataclass
class ListPage:
    rows: list[ListRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _where(stmt: Select[Any], f: ListFilter) -> Select[Any]:
    stmt = stmt.where(Implementation.status == "published")
    if f.region_code:
        stmt = stmt.where(scope.in_subtree(Implementation.region_code, f.region_code))
    if f.department_id is not None:
        stmt = stmt.where(Implementation.department_id == f.department_id)
    if f.theme:
        stmt = stmt.join(
            ImplementationTheme,
            and_(
                ImplementationTheme.implementation_id == Implementation.id,
                ImplementationTheme.theme_code == f.theme,
            ),
        )
    if f.audience == "person":
        stmt = stmt.where(Implementation.for_persons.is_(True))
    elif f.audience == "enterprise":
        stmt = stmt.where(Implementation.for_enterprises.is_(True))
    if f.online_only:
        stmt = stmt.where(Implementation.online_status == "done")
    return stmt


def home_rank(home_region: str | None) -> Any:
    """0: in the visitor's region; 1: a region above it (its city, its
    province — they serve the visitor too); 2: elsewhere."""
    if not home_region:
        return literal(0)
    above = scope.ancestors(home_region)
    return case(
        (scope.in_subtree(Implementation.region_code, home_region), 0),
        (Implementation.region_code.in_(above) if above else false(), 1),
        else_=2,
    )


async def list_published(
    session: AsyncSession,
    f: ListFilter,
    *,
    home_region: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> ListPage:
    """Published implementation entries matching ``f``: the visitor's region first, then by name."""
    total = (await session.execute(_where(select(func.count(Implementation.id)), f))).scalar_one()
    page = max(1, min(page, max(1, -(-total // per_page))))
    # The page's ids first, sorted over the implementation table alone; then
    # the names and limits of those few rows (joining before the sort would
    # join every matching row).
    rank = home_rank(home_region).label("rank")
    ids = (
        _where(select(Implementation.id.label("id"), rank, Implementation.name.label("name")), f)
        .order_by(rank, Implementation.name, Implementation.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
        .subquery()
    )
    stmt = (
        select(
            Implementation.id,
            Implementation.name,
            Implementation.region_code,
            Implementation.online_status,
            Implementation.for_persons,
            Implementation.for_enterprises,
            Department.name,
            Region.full_name,
            ImplementationVersion.fields["promised_limit"],
            ids.c.rank,
        )
        .join(ids, ids.c.id == Implementation.id)
        .join(Department, Department.id == Implementation.department_id)
        .outerjoin(Region, Region.code == Implementation.region_code)
        .outerjoin(
            ImplementationVersion, ImplementationVersion.id == Implementation.published_version_id
        )
        .order_by(ids.c.rank, ids.c.name, ids.c.id)
    )
    rows = []
    for r in (await session.execute(stmt)).all():
        limit = r[8]
        promised = TimeLimit.model_validate(limit).label() if isinstance(limit, dict) else ""
        rows.append(
            ListRow(
                id=r[0],
                name=r[1],
                region_code=r[2],
                online_status=r[3],
                for_persons=r[4],
                for_enterprises=r[5],
                department=r[6],
                region=r[7] or r[2],
                promised=promised,
                local=bool(home_region) and r[9] < 2,
            )
        )
    return ListPage(rows=rows, total=total, page=page, per_page=per_page)


# --- browsing: themes, departments, regions --------------------------------------------------------


@dataclass
class ThemeInfo:
    code: str
    name: str
    audience: str
    description: str = ""
    count: int = 0


async def themes_with_counts(session: AsyncSession) -> list[ThemeInfo]:
    """Every theme with its number of published entries. Before the theme
    table is seeded, the default themes (with no entries)."""
    counts = (
        select(ImplementationTheme.theme_code, func.count().label("n"))
        .join(Implementation, Implementation.id == ImplementationTheme.implementation_id)
        .where(Implementation.status == "published")
        .group_by(ImplementationTheme.theme_code)
        .subquery()
    )
    stmt = (
        select(Theme, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.theme_code == Theme.code)
        .order_by(Theme.sort, Theme.code)
    )
    out = [
        ThemeInfo(t.code, t.name, t.audience, t.description, int(n))
        for t, n in (await session.execute(stmt)).all()
    ]
    if not out:
        out = [
            ThemeInfo(code, name, audience) for code, name, audience, _ in service.DEFAULT_THEMES
        ]
    return out


async def get_theme(session: AsyncSession, code: str) -> ThemeInfo | None:
    t = await session.get(Theme, code)
    if t is not None:
        return ThemeInfo(t.code, t.name, t.audience, t.description)
    for c, name, audience, _ in service.DEFAULT_THEMES:
        if c == code:
            return ThemeInfo(c, name, audience)
    return None


@dataclass
class DepartmentInfo:
    id: int
    name: str
    region: str
    region_code: str
    count: int


async def departments_with_entries(
    session: AsyncSession, *, home_region: str | None = None, limit: int = 60
) -> list[DepartmentInfo]:
    """Departments that publish entries: those serving the visitor's region
    (in it or above it) when it is known, else the busiest ones."""
    per = select(Implementation.department_id.label("id"), func.count().label("n")).where(
        Implementation.status == "published"
    )
    if home_region:
        above = scope.ancestors(home_region)
        per = per.where(
            or_(
                scope.in_subtree(Implementation.region_code, home_region),
                Implementation.region_code.in_(above) if above else false(),
            )
        )
    per = per.group_by(Implementation.department_id)
    if (
        not home_region
    ):  # the busiest: decided on the counts alone (index ix_implementation_department_status)
        per = per.order_by(func.count().desc(), Implementation.department_id).limit(limit)
    counts = per.subquery()
    stmt = (
        select(Department.id, Department.name, Department.region_code, Region.full_name, counts.c.n)
        .join(counts, counts.c.id == Department.id)
        .outerjoin(Region, Region.code == Department.region_code)
    )
    if home_region:
        stmt = stmt.order_by(Department.region_code, Department.name)
    else:
        stmt = stmt.order_by(counts.c.n.desc(), Department.name)
    return [
        DepartmentInfo(i, name, full or code, code, int(c))
        for i, name, code, full, c in (await session.execute(stmt.limit(limit))).all()
    ]


async def get_department(
    session: AsyncSession, department_id: int
) -> tuple[Department, Region | None] | None:
    row = (
        await session.execute(
            select(Department, Region)
            .outerjoin(Region, Region.code == Department.region_code)
            .where(Department.id == department_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


@dataclass
class RegionInfo:
    code: str
    name: str
    full_name: str
    level: int
    count: int = 0


@dataclass
class RegionView:
    region: Region | None  # None: the whole country (the provinces)
    ancestors: list[Region] = field(default_factory=list)
    children: list[RegionInfo] = field(default_factory=list)


async def get_region(session: AsyncSession, code: str) -> Region | None:
    return await session.get(Region, code)


async def region_view(session: AsyncSession, code: str | None) -> RegionView:
    """A region, its ancestors and its children, each child with the number of
    published entries in its subtree (one grouped index scan over the subtree)."""
    region = await session.get(Region, code) if code else None
    if code and region is None:
        return RegionView(None)
    if region is None:
        children = list(
            (
                await session.execute(select(Region).where(Region.level == 1).order_by(Region.code))
            ).scalars()
        )
        ancestors: list[Region] = []
    else:
        children = list(
            (
                await session.execute(
                    select(Region).where(Region.parent_code == region.code).order_by(Region.code)
                )
            ).scalars()
        )
        codes = scope.ancestors(region.code)
        ancestors = (
            list(
                (
                    await session.execute(
                        select(Region).where(Region.code.in_(codes)).order_by(Region.code)
                    )
                ).scalars()
            )
            if codes
            else []
        )
    # One index range count per child, in one statement: cheaper than grouping
    # every entry of the subtree by a prefix of its code.
    counts: dict[str, int] = {}
    if children:
        stmt = select(
            *(
                select(func.count())
                .select_from(Implementation)
                .where(
                    scope.in_subtree(Implementation.region_code, c.code),
                    Implementation.status == "published",
                )
                .scalar_subquery()
                .label(f"c{i}")
                for i, c in enumerate(children)
            )
        )
        row = (await session.execute(stmt)).one()
        counts = {scope.prefix(c.code): int(n) for c, n in zip(children, row, strict=True)}
    infos = [
        RegionInfo(c.code, c.name, c.full_name, c.level, counts.get(scope.prefix(c.code), 0))
        for c in children
    ]
    return RegionView(region, ancestors, infos)
