"""Departments (部门): validation and listing, through the service."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core.errors import Conflict, NotFound, ValidationFailed
from tongban.core.identifiers import InvalidIdentifier, make_credit_code
from tongban.regions import service

LIXIA, SHIZHONG, JINAN = "370102000000", "370103000000", "370100000000"


def credit(n: int, region6: str = "370102") -> str:
    return make_credit_code(f"11{region6}MB{n:07d}")  # 1 机构编制, 1 机关


async def _dept(
    session: AsyncSession,
    n: int,
    *,
    region: str = "370102",
    name: str | None = None,
    kind: str = "市场监管",
):
    return await service.create_department(
        session,
        region_code=region,
        credit_code=credit(n, region.ljust(6, "0")[:6]),
        name=name or f"测试局{n}",
        short_name=f"局{n}",
        kind=kind,
    )


async def test_create_department(session: AsyncSession) -> None:
    d = await service.create_department(
        session,
        region_code="370102",
        credit_code=" " + credit(1).lower() + " ",
        name=" 济南市历下区市场监督管理局 ",
        short_name="历下市场监管",
        kind="市场监管",
    )
    assert (d.region_code, d.credit_code, d.name, d.short_name, d.kind) == (
        LIXIA,
        credit(1),
        "济南市历下区市场监督管理局",
        "历下市场监管",
        "市场监管",
    )
    assert d.id is not None
    found, full_name = await service.get_department(session, d.id)
    assert found is d and full_name == "山东省济南市历下区"


@pytest.mark.parametrize(
    ("code", "error_code"),
    [
        ("123", "credit_length"),
        (credit(1)[:-1] + ("0" if credit(1)[-1] != "0" else "1"), "credit_checksum"),
        ("", "credit_length"),
    ],
)
async def test_bad_credit_code(session: AsyncSession, code: str, error_code: str) -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        await service.create_department(
            session, region_code="370102", credit_code=code, name="某局"
        )
    assert exc.value.code == error_code and exc.value.status == 422
    assert "统一社会信用代码" in exc.value.message


async def test_region_must_exist(session: AsyncSession) -> None:
    with pytest.raises(ValidationFailed, match="行政区划代码 379999 不存在") as exc:
        await service.create_department(
            session, region_code="379999", credit_code=credit(1), name="某局"
        )
    assert exc.value.code == "unknown_region"
    with pytest.raises(ValidationFailed, match="2、4、6、9 或 12 位数字"):
        await service.create_department(
            session, region_code="37010", credit_code=credit(1), name="某局"
        )


async def test_name_unique_per_region(session: AsyncSession) -> None:
    await _dept(session, 1, name="公安局")
    with pytest.raises(Conflict, match="山东省济南市历下区已有名为“公安局”的部门") as exc:
        await _dept(session, 2, name="公安局")
    assert exc.value.status == 409 and exc.value.code == "department_name_taken"
    other = await _dept(session, 3, region="370103", name="公安局")  # another region: fine
    assert other.region_code == SHIZHONG


async def test_credit_code_unique(session: AsyncSession) -> None:
    await _dept(session, 1, name="甲局")
    with pytest.raises(Conflict, match="已登记为“甲局”"):
        await service.create_department(
            session, region_code="370103", credit_code=credit(1), name="乙局"
        )


@pytest.mark.parametrize(
    ("name", "short"), [("", "x"), ("  ", "x"), ("局" * 101, "x"), ("某局", "简" * 41)]
)
async def test_name_lengths(session: AsyncSession, name: str, short: str) -> None:
    with pytest.raises(ValidationFailed):
        await service.create_department(
            session, region_code="370102", credit_code=credit(1), name=name, short_name=short
        )


async def test_get_departments(session: AsyncSession) -> None:
    a = await _dept(session, 1, name="历下区市场监督管理局")
    b = await _dept(session, 2, region="370103", name="市中区市场监督管理局")
    c = await _dept(session, 3, region="3701", name="济南市公安局", kind="公安")
    d = await _dept(session, 4, region="3702", name="青岛市公安局", kind="公安")

    rows, nxt = await service.get_departments(session, "370102")
    assert [x.id for x, _ in rows] == [a.id] and nxt is None
    rows, _ = await service.get_departments(session, "3701", include_subtree=True)
    assert [x.id for x, _ in rows] == [a.id, b.id, c.id]
    assert [f for _, f in rows] == ["山东省济南市历下区", "山东省济南市市中区", "山东省济南市"]
    rows, _ = await service.get_departments(session, "3701")
    assert [x.id for x, _ in rows] == [c.id]
    rows, _ = await service.get_departments(session, None, q="公安")
    assert [x.id for x, _ in rows] == [c.id, d.id]
    rows, _ = await service.get_departments(session, None, q=d.credit_code.lower())
    assert [x.id for x, _ in rows] == [d.id]

    first, nxt = await service.get_departments(session, "37", include_subtree=True, limit=2)
    assert [x.id for x, _ in first] == [a.id, b.id] and nxt == b.id
    second, nxt = await service.get_departments(
        session, "37", include_subtree=True, after=nxt, limit=2
    )
    assert [x.id for x, _ in second] == [c.id, d.id] and nxt is None

    with pytest.raises(NotFound):
        await service.get_departments(session, "379999")
    with pytest.raises(ValidationFailed):
        await service.get_departments(session, "3x")
    with pytest.raises(NotFound):
        await service.get_department(session, 999999)
