"""Region and department queries. Every ``select()`` of this domain lives here.

Codes passed in may have 2, 4, 6, 9 or 12 digits; they are padded to 12
(``core.scope.normalise``). Lookups by a malformed code find nothing; callers
that need to tell "malformed" from "unknown" check the format first
(``service.parse_code``).

Why these queries stay fast on the full tree (~665k rows with villages): see
the index notes on :class:`~tongban.regions.models.Region`. In short, the code
is the primary key and a materialised path, so a subtree is one primary-key
range and ancestors are one ``IN`` on the primary key; children and levels
have composite indexes that also give the keyset order; exact and prefix name
search use the name index; only the "contains" tier of a search scans names,
and it runs only when the indexed tiers did not fill the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, not_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core import scope
from tongban.regions.models import Department, Region

# Bind parameters per IN list / statement chunk: far below SQLite's 32,766 and
# asyncpg's 32,767 limits.
CHUNK = 5000


def _code12(code: str) -> str | None:
    try:
        return scope.normalise(code)
    except ValueError:
        return None


def _like_escape(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name


# --- single regions ----------------------------------------------------------


async def get_by_code(session: AsyncSession, code: str) -> Region | None:
    """The region with this code (2/4/6/9/12 digits), or None."""
    code12 = _code12(code)
    if code12 is None:
        return None
    return await session.get(Region, code12)


async def get_ancestors(session: AsyncSession, code: str) -> list[Region]:
    """Ancestors from the province down, self excluded: one primary-key ``IN``.

    Padded codes of ancestors sort in tree order (370000… < 370100… <
    370102…), so ordering by code is ordering by depth. A township of a city
    without counties (东莞 441900003) names the city twice in
    ``scope.ancestors``; the ``IN`` list collapses it.
    """
    code12 = _code12(code)
    if code12 is None:
        return []
    codes = sorted(set(scope.ancestors(code12)) - {code12})
    if not codes:
        return []
    stmt = select(Region).where(Region.code.in_(codes)).order_by(Region.code)
    return list((await session.execute(stmt)).scalars())


async def get_children(
    session: AsyncSession, code: str, *, after: str | None = None, limit: int | None = None
) -> list[Region]:
    """Direct children in code order (index ``(parent_code, code)``: no sort)."""
    code12 = _code12(code)
    if code12 is None:
        return []
    stmt = select(Region).where(Region.parent_code == code12)
    if after:
        stmt = stmt.where(Region.code > after)
    stmt = stmt.order_by(Region.code)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).scalars())


async def count_children(session: AsyncSession, code: str) -> int:
    code12 = _code12(code)
    if code12 is None:
        return 0
    stmt = select(func.count()).select_from(Region).where(Region.parent_code == code12)
    return (await session.execute(stmt)).scalar_one()


def _code_range(code12: str, after: str | None) -> Any:
    """Subtree bounds, with the keyset position folded into the lower bound:
    given ``code >= lo AND code > after`` SQLite seeks on the first only."""
    lo, hi = scope.subtree_bounds(code12)
    if after and after >= lo:
        return and_(Region.code > after, Region.code < hi)
    return and_(Region.code >= lo, Region.code < hi)


async def get_subtree(
    session: AsyncSession,
    code: str,
    *,
    level: int | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[Region]:
    """The region and its descendants in code order: one primary-key range scan.

    ``level`` keeps one level (then the ``(level, code)`` index gives the same
    range without stepping over the other levels); ``after`` is the last code
    of the previous page.
    """
    code12 = _code12(code)
    if code12 is None:
        return []
    stmt = select(Region).where(_code_range(code12, after))
    if level is not None:
        stmt = stmt.where(Region.level == level)
    stmt = stmt.order_by(Region.code).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def get_by_level(
    session: AsyncSession, level: int, *, after: str | None = None, limit: int = 100
) -> list[Region]:
    """All regions of one level nationwide, in code order (index ``(level, code)``)."""
    stmt = select(Region).where(Region.level == level)
    if after:
        stmt = stmt.where(Region.code > after)
    stmt = stmt.order_by(Region.code).limit(limit)
    return list((await session.execute(stmt)).scalars())


# --- search ------------------------------------------------------------------

EXACT, PREFIX, CONTAINS = 0, 1, 2
ALL_LEVELS = (1, 2, 3, 4, 5)
CONTAINS_LEVELS = (1, 2, 3, 4)  # nationwide "contains" skips the 620k villages


def _prefix_condition(dialect: str, q: str) -> Any:
    """``name`` starts with ``q``, written so that the name index serves it.

    SQLite: its index is ordered by raw UTF-8 bytes (BINARY collation), so the
    half-open range [q, q with its last character incremented) holds exactly
    the names starting with q. SQLite would not use the index for ``LIKE``
    (case-insensitive unless ``case_sensitive_like``).
    PostgreSQL: ``LIKE 'q%'``, served by the ``varchar_pattern_ops`` index; a
    range would follow the database collation, which need not be byte order.
    """
    if dialect == "sqlite":
        upper = q[:-1] + chr(ord(q[-1]) + 1)
        return and_(Region.name >= q, Region.name < upper)
    return Region.name.like(_like_escape(q) + "%", escape="\\")


def encode_cursor(rank: int, region: Region) -> str:
    return f"{rank}.{region.level}.{region.code}"


def decode_cursor(cursor: str) -> tuple[int, int, str]:
    """``rank.level.code`` → parts; ValueError if malformed."""
    rank, level, code = cursor.split(".")
    if rank not in ("0", "1", "2") or level not in ("1", "2", "3", "4", "5"):
        raise ValueError(cursor)
    if not (code.isascii() and code.isdigit() and len(code) == 12):
        raise ValueError(cursor)
    return int(rank), int(level), code


async def search_by_name(
    session: AsyncSession,
    q: str,
    *,
    limit: int = 20,
    level: int | None = None,
    within: str | None = None,
    after: str | None = None,
) -> tuple[list[Region], str | None]:
    """Regions named ``q``, then those whose name starts with it, then those
    whose name contains it; within each tier provinces first, then by code.

    "历下" finds 历下区, "济南" finds 济南市 (both prefix). The exact and prefix
    tiers search every level through the ``(level, name)`` index. The contains
    tier reads names without an index seek, so nationwide it covers levels 1–4
    (45k names, a few ms); villages are matched by contains only when asked
    for (``level=5``) or inside a region (``within``, a primary-key range).
    Returns the page and the next page's cursor (``after``: ``rank.level.code``,
    opaque to clients; ValueError if malformed).
    """
    q = q.strip()
    if not q:
        return [], None
    start = decode_cursor(after) if after else None
    prefix = _prefix_condition(_dialect(session), q)
    levels = (level,) if level is not None else ALL_LEVELS
    contains = Region.name.like("%" + _like_escape(q) + "%", escape="\\")
    if within is None:
        # Find the codes on the covering (level, name) index first, then the rows.
        matching = select(Region.code).where(
            Region.level.in_((level,) if level is not None else CONTAINS_LEVELS), contains
        )
        contains = Region.code.in_(matching)
    tiers = {
        EXACT: and_(Region.level.in_(levels), Region.name == q),
        PREFIX: and_(Region.level.in_(levels), prefix, Region.name != q),
        CONTAINS: and_(contains, not_(prefix)),
    }
    found: list[tuple[int, Region]] = []
    for rank, cond in tiers.items():
        if start is not None and rank < start[0]:
            continue
        stmt = select(Region).where(cond)
        if level is not None:
            stmt = stmt.where(Region.level == level)
        if within is not None:
            stmt = stmt.where(scope.in_subtree(Region.code, within))
        if start is not None and rank == start[0]:
            stmt = stmt.where(tuple_(Region.level, Region.code) > tuple_(start[1], start[2]))
        stmt = stmt.order_by(Region.level, Region.code).limit(limit + 1 - len(found))
        found += [(rank, r) for r in (await session.execute(stmt)).scalars()]
        if len(found) > limit:
            break
    page = found[:limit]
    nxt = encode_cursor(*page[-1]) if len(found) > limit else None
    return [r for _, r in page], nxt


# --- writes (imports) ----------------------------------------------------------


async def get_names(session: AsyncSession, codes: Sequence[str]) -> dict[str, tuple[str, str]]:
    """``code → (name, full_name)`` of the existing regions among ``codes``."""
    out: dict[str, tuple[str, str]] = {}
    codes = list(codes)
    for i in range(0, len(codes), CHUNK):
        stmt = select(Region.code, Region.name, Region.full_name).where(
            Region.code.in_(codes[i : i + CHUNK])
        )
        out.update({c: (n, f) for c, n, f in (await session.execute(stmt)).all()})
    return out


_COMPARED = ("name", "level", "parent_code", "full_name")


async def upsert_regions(session: AsyncSession, rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Insert new regions and update changed ones; returns (inserted, updated).

    Reads the existing rows first (one ``IN`` per chunk) so that an unchanged
    re-import writes nothing. Core statements, not ORM objects: ~10x less
    Python work per row on a 620k-row import.
    """
    table = Region.__table__
    inserted = updated = 0
    for i in range(0, len(rows), CHUNK):
        chunk = rows[i : i + CHUNK]
        stmt = select(
            Region.code, Region.name, Region.level, Region.parent_code, Region.full_name
        ).where(Region.code.in_([r["code"] for r in chunk]))
        existing = {row[0]: row[1:] for row in (await session.execute(stmt)).all()}
        new = [r for r in chunk if r["code"] not in existing]
        changed = [
            {"b_code": r["code"], **{k: r[k] for k in (*_COMPARED, "source")}}
            for r in chunk
            if r["code"] in existing and existing[r["code"]] != tuple(r[k] for k in _COMPARED)
        ]
        if new:
            await session.execute(insert(table), new)
        if changed:
            upd = update(table).where(table.c.code == bindparam("b_code"))
            await session.execute(upd, changed)
        inserted += len(new)
        updated += len(changed)
    return inserted, updated


async def delete_regions(session: AsyncSession, codes: Sequence[str]) -> None:
    """Delete regions by code (tests and corrections; departments must not point at them)."""
    codes = list(codes)
    for i in range(0, len(codes), CHUNK):
        await session.execute(delete(Region).where(Region.code.in_(codes[i : i + CHUNK])))


# --- departments -----------------------------------------------------------------


async def get_department(
    session: AsyncSession, department_id: int
) -> tuple[Department, str] | None:
    """A department and its region's full name."""
    stmt = (
        select(Department, Region.full_name)
        .join(Region, Region.code == Department.region_code)
        .where(Department.id == department_id)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def get_department_by_name(
    session: AsyncSession, region_code: str, name: str
) -> Department | None:
    stmt = select(Department).where(Department.region_code == region_code, Department.name == name)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_department_by_credit_code(
    session: AsyncSession, credit_code: str
) -> Department | None:
    stmt = select(Department).where(Department.credit_code == credit_code)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_departments(
    session: AsyncSession,
    region_code: str | None = None,
    *,
    include_subtree: bool = False,
    q: str = "",
    after: int | None = None,
    limit: int = 20,
) -> tuple[list[tuple[Department, str]], int | None]:
    """Departments (with their region's full name) by id, keyset-paginated.

    ``include_subtree``: the region's descendants' departments too — a range
    on ``department.region_code`` (indexed), the same materialised-path trick.
    ``q``: part of the name or short name, or the exact credit code.
    """
    stmt = select(Department, Region.full_name).join(Region, Region.code == Department.region_code)
    if region_code is not None:
        if include_subtree:
            stmt = stmt.where(scope.in_subtree(Department.region_code, region_code))
        else:
            stmt = stmt.where(Department.region_code == region_code)
    q = q.strip()
    if q:
        pattern = "%" + _like_escape(q) + "%"
        stmt = stmt.where(
            Department.name.like(pattern, escape="\\")
            | Department.short_name.like(pattern, escape="\\")
            | (Department.credit_code == q.upper())
        )
    if after is not None:
        stmt = stmt.where(Department.id > after)
    rows = [
        (d, f)
        for d, f in (await session.execute(stmt.order_by(Department.id).limit(limit + 1))).all()
    ]
    nxt = rows[limit - 1][0].id if len(rows) > limit else None
    return rows[:limit], nxt
