"""Regions and departments JSON API: public reads, no sign-in (public information)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tongban.regions import service
from tongban.regions.schemas import (
    DepartmentPage,
    DepartmentRead,
    RegionDetailRead,
    RegionPage,
    department_read,
    region_read,
)
from tongban.web.deps import DB

router = APIRouter(tags=["行政区划与部门"])

Limit = Annotated[int, Query(ge=1, le=200, description="每页条数")]


@router.get(
    "/regions/{code}", summary="行政区划详情（含上级链与下级数）", response_model=RegionDetailRead
)
async def get_region(code: str, session: DB) -> RegionDetailRead:
    detail = await service.get_region_detail(session, code)
    return RegionDetailRead(
        **region_read(detail.region).model_dump(),
        ancestors=[region_read(a) for a in detail.ancestors],
        children_count=detail.children_count,
    )


@router.get("/regions", summary="查询行政区划：按名称搜索，或列出下级", response_model=RegionPage)
async def find_regions(
    session: DB,
    q: Annotated[
        str, Query(max_length=50, description="名称：先完全相同，再以其开头，再包含")
    ] = "",
    parent: Annotated[
        str | None, Query(max_length=12, description="上级区划代码：列出其下级，或在其范围内搜索")
    ] = None,
    level: Annotated[int | None, Query(ge=1, le=5, description="只要某一级（1 省 … 5 村）")] = None,
    after: Annotated[
        str | None, Query(max_length=20, description="上一页返回的 next_after")
    ] = None,
    limit: Limit = 20,
) -> RegionPage:
    rows, nxt = await service.find_regions(
        session, q=q, parent=parent, level=level, after=after, limit=limit
    )
    return RegionPage(items=[region_read(r) for r in rows], next_after=nxt)


@router.get("/departments", summary="部门列表", response_model=DepartmentPage)
async def get_departments(
    session: DB,
    region: Annotated[str | None, Query(max_length=12, description="行政区划代码")] = None,
    subtree: Annotated[bool, Query(description="包含下级区划的部门")] = False,
    q: Annotated[
        str, Query(max_length=50, description="名称或简称的一部分，或统一社会信用代码")
    ] = "",
    after: Annotated[int | None, Query(ge=0, description="上一页返回的 next_after")] = None,
    limit: Limit = 20,
) -> DepartmentPage:
    rows, nxt = await service.get_departments(
        session, region, include_subtree=subtree, q=q, after=after, limit=limit
    )
    return DepartmentPage(items=[department_read(d, f) for d, f in rows], next_after=nxt)


@router.get("/departments/{department_id}", summary="部门详情", response_model=DepartmentRead)
async def get_department(department_id: int, session: DB) -> DepartmentRead:
    dept, full_name = await service.get_department(session, department_id)
    return department_read(dept, full_name)
