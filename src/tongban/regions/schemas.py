"""Region and department I/O schemas."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from tongban.core import scope
from tongban.regions.models import Department, Region


class RegionRead(BaseModel):
    code: str = Field(description="12 位行政区划代码（统计用区划代码，不足 12 位补 0）")
    short_code: str = Field(description="有效位（省 2、市 4、县 6、乡 9、村 12 位）")
    name: str
    level: int = Field(description="1 省级 2 市级 3 县级 4 乡级 5 村级")
    level_name: str
    parent_code: str | None
    full_name: str = Field(description="全称，如 山东省济南市历下区")


class RegionDetailRead(RegionRead):
    ancestors: list[RegionRead] = Field(description="上级区划，从省级开始")
    children_count: int = Field(description="直接下级区划数")


class RegionPage(BaseModel):
    items: list[RegionRead]
    next_after: str | None = Field(description="下一页的 after 参数；没有下一页时为 null")


class DepartmentRead(BaseModel):
    id: int
    region_code: str
    region_full_name: str
    credit_code: str | None = Field(description="统一社会信用代码（来源数据无有效代码时为空）")
    name: str
    short_name: str
    kind: str
    created_at: dt.datetime


class DepartmentPage(BaseModel):
    items: list[DepartmentRead]
    next_after: int | None


def region_read(r: Region) -> RegionRead:
    return RegionRead(
        code=r.code,
        short_code=r.code[: scope.LEVEL_DIGITS[r.level]],
        name=r.name,
        level=r.level,
        level_name=scope.LEVEL_NAMES[r.level],
        parent_code=r.parent_code,
        full_name=r.full_name,
    )


def department_read(d: Department, region_full_name: str) -> DepartmentRead:
    return DepartmentRead(
        id=d.id,
        region_code=d.region_code,
        region_full_name=region_full_name,
        credit_code=d.credit_code,
        name=d.name,
        short_name=d.short_name,
        kind=d.kind,
        created_at=d.created_at,
    )
