"""Row checks of the statistics-bureau CSV layouts: pure, table-driven."""

from __future__ import annotations

import pytest

from tongban.regions.layouts import (
    LAYOUTS,
    Row,
    RowReader,
    children_prefix,
    detect_layout,
    full_name_of,
)

STREETS = ["code", "name", "areaCode", "provinceCode", "cityCode"]
VILLAGES = ["code", "name", "streetCode", "provinceCode", "cityCode", "areaCode"]


@pytest.mark.parametrize(
    ("header", "layout"),
    [
        (["code", "name"], "provinces"),
        (["code", "name", "provinceCode"], "cities"),
        (["code", "name", "cityCode", "provinceCode"], "areas"),
        (STREETS, "streets"),
        (VILLAGES, "villages"),
        # a byte-order mark, other letter case, other column order
        (["\ufeffcode", "Name", "AREACODE", "cityCode", "provinceCode"], "streets"),
    ],
)
def test_detect_layout(header: list[str], layout: str) -> None:
    assert detect_layout(header).name == layout


def test_unknown_header_names_the_expected_ones() -> None:
    with pytest.raises(ValueError, match=r"无法识别的表头.*areaCode"):
        detect_layout(["代码", "名称"])


def _check(header: list[str], *rows: list[str]) -> list[Row | str]:
    reader = RowReader(detect_layout(header), header)
    return [reader.check(i + 2, row) for i, row in enumerate(rows)]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            ["370102001", "解放路街道", "370102", "37", "3701"],
            Row(2, "370102001000", "解放路街道", "370102000000"),
        ),
        # full-width digits, spaces around the name
        (
            ["３７０１０２００１", " 解放路街道 ", "370102", "37", "3701"],
            Row(2, "370102001000", "解放路街道", "370102000000"),
        ),
        # 东莞 has no counties: its townships' areaCode is the city repeated.
        (
            ["441900003", "东城街道", "441900", "44", "4419"],
            Row(2, "441900003000", "东城街道", "441900000000"),
        ),
        # 金门县 "township" 350527000 is the county itself: a placeholder, skipped.
        (
            ["350527000", "金门县", "350527", "35", "3505"],
            Row(2, "350527000000", "金门县", "350527000000", placeholder=True),
        ),
        (
            ["37010200", "短代码", "370102", "37", "3701"],
            "第 2 行：代码“37010200”应为 9 位数字（乡级）",
        ),
        (
            ["37010200X", "字母", "370102", "37", "3701"],
            "第 2 行：代码“37010200X”应为 9 位数字（乡级）",
        ),
        (["370102001", "", "370102", "37", "3701"], "第 2 行：代码 370102001 的名称为空"),
        (
            ["370102001", "错位", "370103", "37", "3701"],
            "第 2 行：areaCode“370103”与代码 370102001 的前 6 位不符",
        ),
        (
            ["370102001", "错省", "370102", "36", "3701"],
            "第 2 行：provinceCode“36”与代码 370102001 的前 2 位不符",
        ),
        (["370102001", "少一列", "370102", "37"], "第 2 行：应有 5 列，实际 4 列"),
        (["370102001", "长" * 101, "370102", "37", "3701"], "第 2 行：名称超过 100 个字"),
    ],
)
def test_street_rows(row: list[str], expected: Row | str) -> None:
    assert _check(STREETS, row) == [expected]


def test_duplicate_names_the_first_line() -> None:
    row = ["370102001001", "某社区", "370102001", "37", "3701", "370102"]
    assert _check(VILLAGES, row, row)[1] == "第 3 行：代码 370102001001 与第 2 行重复"


@pytest.mark.parametrize(
    ("full_name", "name", "prefix"),
    [
        ("山东省济南市", "济南市", "山东省济南市"),
        ("北京市市辖区", "市辖区", "北京市"),
        ("重庆市县", "县", "重庆市"),
        ("河南省省直辖县级行政区划", "省直辖县级行政区划", "河南省"),
        ("新疆维吾尔自治区自治区直辖县级行政区划", "自治区直辖县级行政区划", "新疆维吾尔自治区"),
    ],
)
def test_children_prefix_skips_grouping_names(full_name: str, name: str, prefix: str) -> None:
    assert children_prefix(full_name, name) == prefix


@pytest.mark.parametrize(
    ("parent", "parent_full", "name", "full"),
    [
        ("济南市", "山东省济南市", "历下区", "山东省济南市历下区"),
        ("市辖区", "北京市市辖区", "东城区", "北京市东城区"),
        # villages directly under a county hang from a "…直辖村级区划" township
        (
            "向阳区直辖村级区划",
            "黑龙江省佳木斯市向阳区向阳区直辖村级区划",
            "某村",
            "黑龙江省佳木斯市向阳区某村",
        ),
        # 620201 嘉峪关市, the only county of the city 嘉峪关市
        ("嘉峪关市", "甘肃省嘉峪关市", "嘉峪关市", "甘肃省嘉峪关市"),
    ],
)
def test_full_name_of(parent: str, parent_full: str, name: str, full: str) -> None:
    assert full_name_of(parent, parent_full, name) == full


def test_layout_levels_follow_code_lengths() -> None:
    assert [(lay.level, lay.digits) for lay in LAYOUTS] == [(1, 2), (2, 4), (3, 6), (4, 9), (5, 12)]
