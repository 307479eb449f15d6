"""Search queries. Every ``select()`` of this domain lives here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tongban.core.clock import now
from tongban.regions.models import Region
from tongban.search.models import (
    FaqEntry,
    FaqImport,
    SearchCorrection,
    SearchLog,
    SearchPopularity,
    SearchState,
    Synonym,
)

INDEX = "index"
CHUNK = 2000

_VERSION = select(SearchState.version).where(SearchState.name == bindparam("name"))


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --- version ---------------------------------------------------------------------------------


async def get_version(conn: AsyncConnection | AsyncSession) -> int:
    """The index version (0 when nothing was ever changed)."""
    row = (await conn.execute(_VERSION, {"name": INDEX})).first()
    return int(row[0]) if row else 0


async def bump_version(session: AsyncSession) -> None:
    """Move the index version on: every process rebuilds its index soon."""
    result = await session.execute(
        update(SearchState)
        .where(SearchState.name == INDEX)
        .values(version=SearchState.version + 1, updated_at=now())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(SearchState(name=INDEX, version=1, updated_at=now()))
        await session.flush()


# --- what a build reads ------------------------------------------------------------------------


async def get_regions(session: AsyncSession) -> list[tuple[str, str, int, str | None]]:
    """Provinces, cities and counties (the gazetteer of place names)."""
    stmt = select(Region.code, Region.name, Region.level, Region.parent_code).where(
        Region.level <= 3
    )
    return [tuple(r) for r in (await session.execute(stmt)).all()]  # type: ignore[misc]


async def get_faq_rows(session: AsyncSession) -> list[Any]:
    stmt = select(
        FaqEntry.id, FaqEntry.topic, FaqEntry.question, FaqEntry.answer, FaqEntry.item_code,
        FaqEntry.region_code,
    ).order_by(FaqEntry.id)  # fmt: skip
    return list((await session.execute(stmt)).all())


async def get_approved_synonyms(session: AsyncSession) -> list[tuple[str, str]]:
    stmt = (
        select(Synonym.term, Synonym.canonical)
        .where(Synonym.status == "approved")
        .order_by(Synonym.id)
    )
    return [(t, c) for t, c in (await session.execute(stmt)).all()]


async def get_corrections(session: AsyncSession) -> dict[str, list[tuple[str, str]]]:
    stmt = select(
        SearchCorrection.normalised, SearchCorrection.kind, SearchCorrection.key
    ).order_by(SearchCorrection.id.desc())
    out: dict[str, list[tuple[str, str]]] = {}
    for q, kind, key in (await session.execute(stmt)).all():
        out.setdefault(q, []).append((kind, key))
    return out


async def get_clicks(session: AsyncSession) -> dict[tuple[str, str], float]:
    stmt = select(SearchPopularity.kind, SearchPopularity.key, SearchPopularity.clicks)
    return {(k, key): float(c) for k, key, c in (await session.execute(stmt)).all()}


# --- synonyms ----------------------------------------------------------------------------------


async def get_synonym(session: AsyncSession, synonym_id: int) -> Synonym | None:
    return await session.get(Synonym, synonym_id)


async def get_synonym_by_pair(session: AsyncSession, term: str, canonical: str) -> Synonym | None:
    stmt = select(Synonym).where(Synonym.term == term, Synonym.canonical == canonical)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_synonyms(
    session: AsyncSession,
    *,
    q: str = "",
    status: str | None = None,
    after: int | None = None,
    limit: int = 20,
) -> tuple[list[Synonym], int | None]:
    """Synonyms by id, newest first, keyset-paginated (``after``: last id seen)."""
    stmt = select(Synonym)
    if q:
        stmt = stmt.where(
            or_(
                Synonym.term.like(_like(q), escape="\\"),
                Synonym.canonical.like(_like(q), escape="\\"),
            )
        )
    if status:
        stmt = stmt.where(Synonym.status == status)
    if after is not None:
        stmt = stmt.where(Synonym.id < after)
    rows = list(
        (await session.execute(stmt.order_by(Synonym.id.desc()).limit(limit + 1))).scalars()
    )
    nxt = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], nxt


async def count_synonyms(session: AsyncSession) -> dict[str, int]:
    stmt = select(Synonym.status, func.count()).group_by(Synonym.status)
    counts = {"proposed": 0, "approved": 0}
    counts.update({s: n for s, n in (await session.execute(stmt)).all()})
    return counts


# --- FAQ ---------------------------------------------------------------------------------------


async def get_existing_external_ids(
    session: AsyncSession, source: str, ids: Sequence[str]
) -> set[str]:
    out: set[str] = set()
    ids = list(ids)
    for i in range(0, len(ids), CHUNK):
        stmt = select(FaqEntry.external_id).where(
            FaqEntry.source == source, FaqEntry.external_id.in_(ids[i : i + CHUNK])
        )
        out.update((await session.execute(stmt)).scalars())
    return out


async def delete_faq_source(session: AsyncSession, source: str) -> int:
    result = await session.execute(delete(FaqEntry).where(FaqEntry.source == source))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def insert_faq_entries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        await session.execute(insert(FaqEntry), rows[i : i + CHUNK])


async def get_faq_entries(
    session: AsyncSession, *, q: str = "", after: int | None = None, limit: int = 20
) -> tuple[list[FaqEntry], int | None]:
    stmt = select(FaqEntry)
    if q:
        stmt = stmt.where(or_(FaqEntry.question.like(_like(q), escape="\\"), FaqEntry.topic == q))
    if after is not None:
        stmt = stmt.where(FaqEntry.id > after)
    rows = list((await session.execute(stmt.order_by(FaqEntry.id).limit(limit + 1))).scalars())
    nxt = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], nxt


async def get_faq_entry(session: AsyncSession, entry_id: int) -> FaqEntry | None:
    return await session.get(FaqEntry, entry_id)


async def count_faq(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(FaqEntry))).scalar_one())


async def get_faq_imports(session: AsyncSession, *, limit: int = 10) -> list[FaqImport]:
    stmt = select(FaqImport).order_by(FaqImport.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def get_faq_by_item_code(
    session: AsyncSession, item_code: str, *, limit: int
) -> list[FaqEntry]:
    stmt = (
        select(FaqEntry).where(FaqEntry.item_code == item_code).order_by(FaqEntry.id).limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


# --- logs, clicks, corrections ------------------------------------------------------------------


async def insert_logs(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        await session.execute(insert(SearchLog), rows[i : i + CHUNK])


async def set_log_choice(
    session: AsyncSession, search_id: str, kind: str, key: str, title: str
) -> int:
    result = await session.execute(
        update(SearchLog)
        .where(SearchLog.search_id == search_id)
        .values(chosen_kind=kind, chosen_key=key, chosen_title=title[:300])
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def add_click(session: AsyncSession, kind: str, key: str) -> None:
    """clicks += 1 for (kind, key): one statement, no read-modify-write race."""
    dialect = session.bind.dialect.name
    at = now()
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(SearchPopularity).values(kind=kind, key=key, clicks=1.0, updated_at=at)
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "key"],
            set_={"clicks": SearchPopularity.clicks + 1.0, "updated_at": at},
        )
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(SearchPopularity).values(kind=kind, key=key, clicks=1.0, updated_at=at)
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "key"],
            set_={"clicks": SearchPopularity.clicks + 1.0, "updated_at": at},
        )
    await session.execute(stmt)


async def get_correction(
    session: AsyncSession, normalised: str, kind: str, key: str
) -> SearchCorrection | None:
    stmt = select(SearchCorrection).where(
        SearchCorrection.normalised == normalised,
        SearchCorrection.kind == kind,
        SearchCorrection.key == key,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_learning_candidates(
    session: AsyncSession, *, since: Any = None
) -> list[tuple[str, str, str, int, int]]:
    """(normalised query, chosen kind, chosen title, searches, fewest results)
    for searches that were followed by a click."""
    stmt = (
        select(
            SearchLog.normalised, SearchLog.chosen_kind, SearchLog.chosen_title, func.count(),
            func.min(SearchLog.results_count),
        )
        .where(SearchLog.chosen_key.is_not(None), SearchLog.chosen_title.is_not(None))
        .group_by(SearchLog.normalised, SearchLog.chosen_kind, SearchLog.chosen_title)
    )  # fmt: skip
    if since is not None:
        stmt = stmt.where(SearchLog.created_at >= since)
    return [(q, k, t, int(n), int(r)) for q, k, t, n, r in (await session.execute(stmt)).all()]


async def get_recent_logs(session: AsyncSession, *, limit: int = 50) -> list[SearchLog]:
    stmt = select(SearchLog).order_by(SearchLog.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def ping(conn: AsyncConnection) -> None:
    await conn.execute(text("SELECT 1"))
