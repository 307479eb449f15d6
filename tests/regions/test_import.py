"""Importing townships and villages from the statistics-bureau CSV files."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.shared_data import shared_data
from tongban.core.errors import ValidationFailed
from tongban.regions import repository
from tongban.regions.models import Region
from tongban.regions.service import ImportResult, import_regions

pytestmark = pytest.mark.usefixtures("clean_regions")

STREETS_HEADER = "code,name,areaCode,provinceCode,cityCode\n"
VILLAGES_HEADER = "code,name,streetCode,provinceCode,cityCode,areaCode\n"


async def _count(maker, level: int) -> int:
    async with maker() as s:
        return (
            await s.execute(select(func.count()).select_from(Region).where(Region.level == level))
        ).scalar_one()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


async def test_streets_and_villages(sessionmaker_, tmp_path: Path) -> None:
    streets = _write(
        tmp_path / "streets.csv",
        STREETS_HEADER
        + (
            '370102901,"测试甲街道",370102,37,3701\n'
            '370102902,"测试乙镇",370102,37,3701\n'
            '441900901,"测试东莞镇",441900,44,4419\n'  # 东莞: no county level
            '350527000,"金门县",350527,35,3505\n'  # a placeholder: the county itself
        ),
    )
    seen: list[tuple[int, int]] = []
    result = await import_regions(
        sessionmaker_, streets, progress=lambda d, t: seen.append((d, t)), batch_size=2
    )
    assert (result.rows, result.inserted, result.updated, result.unchanged) == (4, 3, 0, 0)
    assert len(result.skipped) == 1 and "金门县" in result.skipped[0]
    assert seen[0] == (1, 4) and seen[-1] == (4, 4) and len(seen) == 3  # start, two batches of two
    assert "新增 3" in str(result)

    villages = tmp_path / "villages.csv.gz"
    with gzip.open(villages, "wt", encoding="utf-8") as f:
        f.write(
            VILLAGES_HEADER + '370102901001,"测试社区居民委员会",370102901,37,3701,370102\n'
            '441900901001,"测试村民委员会",441900901,44,4419,441900\n'
        )
    result = await import_regions(sessionmaker_, villages)
    assert (result.layout, result.level, result.inserted) == ("villages", 5, 2)

    async with sessionmaker_() as s:
        village = await repository.get_by_code(s, "370102901001")
        assert (village.level, village.parent_code) == (5, "370102901000")
        assert village.full_name == "山东省济南市历下区测试甲街道测试社区居民委员会"
        assert [a.name for a in await repository.get_ancestors(s, village.code)] == [
            "山东省",
            "济南市",
            "历下区",
            "测试甲街道",
        ]
        town = await repository.get_by_code(s, "441900901")
        assert (town.parent_code, town.full_name) == ("441900000000", "广东省东莞市测试东莞镇")
        assert [a.name for a in await repository.get_ancestors(s, "441900901001")] == [
            "广东省",
            "东莞市",
            "测试东莞镇",
        ]
        assert (await repository.get_by_code(s, "350527")).name == "金门县"  # the county, untouched
        assert [r.name for r in await repository.get_children(s, "370102")] == [
            "测试甲街道",
            "测试乙镇",
        ]


async def test_reimport_is_idempotent_and_updates_changes(sessionmaker_, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "streets.csv",
        STREETS_HEADER + '370102901,"测试甲街道",370102,37,3701\n'
        '370102902,"测试乙镇",370102,37,3701\n',
    )
    await import_regions(sessionmaker_, path)
    again = await import_regions(sessionmaker_, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    _write(
        path,
        STREETS_HEADER
        + '370102901,"测试甲街道",370102,37,3701\n370102902,"测试乙街道",370102,37,3701\n',
    )
    renamed = await import_regions(sessionmaker_, path)
    assert (renamed.inserted, renamed.updated, renamed.unchanged) == (0, 1, 1)
    async with sessionmaker_() as s:
        assert (
            await repository.get_by_code(s, "370102902")
        ).full_name == "山东省济南市历下区测试乙街道"
    assert await _count(sessionmaker_, 4) == 2


async def test_errors_are_listed_by_line_and_nothing_is_written(
    sessionmaker_, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "streets.csv",
        STREETS_HEADER
        + (
            '370102901,"正确的街道",370102,37,3701\n'  # line 2
            '37010290X,"坏代码",370102,37,3701\n'  # line 3
            '370102901,"重复",370102,37,3701\n'  # line 4
            '370102903,"错位",370103,37,3701\n'  # line 5
            '379901001,"没有上级",379901,37,3799\n'  # line 6
            '379901002,"也没有上级",379901,37,3799\n'  # line 7
            '370102904,"",370102,37,3701\n'  # line 8
            "\n"  # line 9: blank, ignored
            '370102905,"少一列",370102,37\n'  # line 10
        ),
    )
    with pytest.raises(ValidationFailed) as exc:
        await import_regions(sessionmaker_, path)
    err = exc.value
    assert err.code == "region_import_invalid" and err.status == 422
    assert err.message.startswith("streets.csv 中 7 行有错误") and "未导入任何数据" in err.message
    assert err.details == [
        "第 3 行：代码“37010290X”应为 9 位数字（乡级）",
        "第 4 行：代码 370102901 与第 2 行重复",
        "第 5 行：areaCode“370103”与代码 370102903 的前 6 位不符",
        "第 8 行：代码 370102904 的名称为空",
        "第 10 行：应有 5 列，实际 4 列",
        "第 6 行等 2 行：上级区划 379901 不存在（请先导入县级区划）",
    ]  # row checks in file order, then missing parents
    assert await _count(sessionmaker_, 4) == 0


async def test_long_error_lists_are_cut(sessionmaker_, tmp_path: Path) -> None:
    bad = "".join(f'37010{i:04d},"坏",370102,37,3701\n' for i in range(150))
    with pytest.raises(ValidationFailed) as exc:
        await import_regions(sessionmaker_, _write(tmp_path / "streets.csv", STREETS_HEADER + bad))
    assert exc.value.message.startswith("streets.csv 中 150 行有错误，以下列出前 100 条")
    assert len(exc.value.details) == 100


async def test_villages_need_their_townships_first(sessionmaker_, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "villages.csv",
        VILLAGES_HEADER + '370102901001,"某社区",370102901,37,3701,370102\n',
    )
    with pytest.raises(ValidationFailed) as exc:
        await import_regions(sessionmaker_, path)
    assert exc.value.details == ["第 2 行：上级区划 370102901 不存在（请先导入乡级区划）"]
    assert await _count(sessionmaker_, 5) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "是空文件"),
        ("代码,名称\n11,北京市\n", "无法识别的表头"),
    ],
)
async def test_unreadable_files(sessionmaker_, tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        await import_regions(sessionmaker_, _write(tmp_path / "x.csv", content))


async def test_gbk_file_is_read(sessionmaker_, tmp_path: Path) -> None:
    path = tmp_path / "streets.csv"
    path.write_bytes((STREETS_HEADER + '370102901,"测试街道",370102,37,3701\n').encode("gbk"))
    assert (await import_regions(sessionmaker_, path)).inserted == 1
    async with sessionmaker_() as s:
        assert (await repository.get_by_code(s, "370102901")).name == "测试街道"


@pytest.mark.shared_data
async def test_real_townships(sessionmaker_) -> None:
    path = shared_data("divisions_modood", "streets.csv")
    started = time.perf_counter()
    result = await import_regions(sessionmaker_, path)
    elapsed = time.perf_counter() - started
    # 41,352 rows; 350527000 金门县 is the county itself (skipped).
    assert (result.rows, result.inserted, len(result.skipped)) == (41352, 41351, 1)
    assert await _count(sessionmaker_, 4) == 41351
    assert elapsed < 60, f"importing 41k townships took {elapsed:.1f}s"

    async with sessionmaker_() as s:
        lixia = await repository.get_children(s, "370102")
        assert len(lixia) == 13 and lixia[0].full_name == "山东省济南市历下区解放路街道"
        dongguan = await repository.get_children(s, "4419")
        assert len(dongguan) > 30 and all(r.level == 4 for r in dongguan)
        rows, _ = await repository.search_by_name(s, "解放路街道", limit=50)
        assert "山东省济南市历下区解放路街道" in [r.full_name for r in rows]
        assert (await repository.get_subtree(s, "370102", level=4, limit=100))[
            0
        ].name == "解放路街道"

    again = await import_regions(sessionmaker_, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 41351)


def _cut(source: Path, target: Path, prefixes: tuple[str, ...]) -> Path:
    opener = gzip.open if source.name.endswith(".gz") else open
    with opener(source, "rt", encoding="utf-8") as f:
        lines = [line for i, line in enumerate(f) if i == 0 or line.startswith(prefixes)]
    target.write_text("".join(lines), encoding="utf-8")
    return target


@pytest.mark.shared_data
async def test_real_villages_of_two_counties(sessionmaker_, tmp_path: Path) -> None:
    """历下区 (13 townships, 139 villages) and 佳木斯市向阳区 (6 townships, one of
    them the grouping node 向阳区直辖村级区划; 38 villages), cut from the real files."""
    counties = ("370102", "230803")
    streets = _cut(
        shared_data("divisions_modood", "streets.csv"), tmp_path / "streets.csv", counties
    )
    villages = _cut(
        shared_data("divisions_modood", "villages.csv.gz"), tmp_path / "villages.csv", counties
    )
    assert (await import_regions(sessionmaker_, streets)).inserted == 13 + 6
    assert (await import_regions(sessionmaker_, villages)).inserted == 139 + 38
    async with sessionmaker_() as s:
        village = await repository.get_by_code(s, "370102001002")
        assert village.full_name == "山东省济南市历下区解放路街道解放桥社区居民委员会"
        assert len(await repository.get_subtree(s, "370102", level=5, limit=1000)) == 139
        rows, _ = await repository.search_by_name(s, "社区", within="370102", level=5, limit=500)
        assert len(rows) > 100
        grouping = await repository.get_by_code(s, "230803198")
        assert grouping.name == "向阳区直辖村级区划"
        village = await repository.get_by_code(s, "230803198201")
        assert (village.parent_code, village.full_name) == (
            "230803198000",
            "黑龙江省佳木斯市向阳区万发村委会",
        )


def test_result_reads_in_chinese() -> None:
    text = str(
        ImportResult(
            "streets.csv", "streets", 4, 10, inserted=8, unchanged=1, skipped=["x"], seconds=1.25
        )
    )
    assert text == "streets.csv（乡级）10 行：新增 8，更新 0，未变 1，跳过 1（x）；用时 1.2 秒"
