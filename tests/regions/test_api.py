"""The public regions and departments API, through the real app."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.testclient import TestClient

from tongban.core.identifiers import make_credit_code
from tongban.regions import service


def test_region_detail(client: TestClient) -> None:
    r = client.get("/api/v1/regions/370102")
    assert r.status_code == 200
    body = r.json()
    assert body == {
        "code": "370102000000",
        "short_code": "370102",
        "name": "历下区",
        "level": 3,
        "level_name": "县级",
        "parent_code": "370100000000",
        "full_name": "山东省济南市历下区",
        "ancestors": [
            {
                "code": "370000000000",
                "short_code": "37",
                "name": "山东省",
                "level": 1,
                "level_name": "省级",
                "parent_code": None,
                "full_name": "山东省",
            },
            {
                "code": "370100000000",
                "short_code": "3701",
                "name": "济南市",
                "level": 2,
                "level_name": "市级",
                "parent_code": "370000000000",
                "full_name": "山东省济南市",
            },
        ],
        "children_count": 0,  # townships are not bundled (tongban import-regions streets.csv)
    }
    jinan = client.get("/api/v1/regions/370100000000").json()
    assert (jinan["name"], jinan["children_count"], len(jinan["ancestors"])) == ("济南市", 13, 1)


@pytest.mark.parametrize("code", ["3701020", "37x", "3701020000000", "３７０１０２x"])
def test_malformed_code_is_422(client: TestClient, code: str) -> None:
    r = client.get(f"/api/v1/regions/{code}")
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_failed" and "2、4、6、9 或 12 位数字" in body["message"]


def test_unknown_code_is_404(client: TestClient) -> None:
    r = client.get("/api/v1/regions/379999")
    assert r.status_code == 404
    assert r.json() == {"code": "not_found", "message": "行政区划代码 379999 不存在"}


def test_list_provinces_children_and_levels(client: TestClient) -> None:
    body = client.get("/api/v1/regions", params={"limit": 200}).json()
    assert (
        len(body["items"]) == 31
        and body["next_after"] is None
        and body["items"][0]["name"] == "北京市"
    )

    page1 = client.get("/api/v1/regions", params={"parent": "3701", "limit": 5}).json()
    assert [i["name"] for i in page1["items"]] == ["历下区", "市中区", "槐荫区", "天桥区", "历城区"]
    assert page1["next_after"] == "370112000000"
    page2 = client.get(
        "/api/v1/regions", params={"parent": "3701", "limit": 5, "after": page1["next_after"]}
    ).json()
    assert page2["items"][0]["name"] == "长清区"

    counties = client.get(
        "/api/v1/regions", params={"parent": "37", "level": 3, "limit": 200}
    ).json()
    assert len(counties["items"]) > 100 and {i["level"] for i in counties["items"]} == {3}
    cities = client.get("/api/v1/regions", params={"level": 2, "limit": 200}).json()
    assert len(cities["items"]) == 200 and cities["next_after"] is not None


def test_search(client: TestClient) -> None:
    body = client.get("/api/v1/regions", params={"q": "历下"}).json()
    assert body["items"][0]["full_name"] == "山东省济南市历下区"
    body = client.get("/api/v1/regions", params={"q": "济南"}).json()
    assert body["items"][0]["full_name"] == "山东省济南市"
    body = client.get(
        "/api/v1/regions", params={"q": "区", "parent": "3701", "level": 3, "limit": 4}
    ).json()
    assert len(body["items"]) == 4 and body["next_after"]
    more = client.get(
        "/api/v1/regions",
        params={"q": "区", "parent": "3701", "level": 3, "limit": 4, "after": body["next_after"]},
    ).json()
    assert {i["code"] for i in more["items"]}.isdisjoint({i["code"] for i in body["items"]})


@pytest.mark.parametrize(
    "params",
    [
        {"level": 6},
        {"level": "x"},
        {"limit": 0},
        {"limit": 1000},
        {"parent": "3x"},
        {"after": "3x"},
        {"q": "市", "after": "junk"},
        {"q": "x" * 51},
    ],
)
def test_bad_query_is_422(client: TestClient, params: dict) -> None:
    r = client.get("/api/v1/regions", params=params)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_failed" and r.json()["message"]


def test_unknown_parent_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/regions", params={"parent": "3799"}).status_code == 404


async def test_departments(client: TestClient, sessionmaker_: async_sessionmaker) -> None:
    async with sessionmaker_() as s:
        a = await service.create_department(
            s,
            region_code="370102",
            credit_code=make_credit_code("11370102MB0000001"),
            name="济南市历下区市场监督管理局",
            short_name="历下区市场监管局",
            kind="市场监管",
        )
        b = await service.create_department(
            s,
            region_code="3701",
            credit_code=make_credit_code("11370100MB0000002"),
            name="济南市公安局",
            short_name="济南公安",
            kind="公安",
        )
        await s.commit()

    r = client.get(f"/api/v1/departments/{a.id}")
    assert r.status_code == 200
    body = r.json()
    assert {
        k: body[k]
        for k in (
            "id",
            "region_code",
            "region_full_name",
            "credit_code",
            "name",
            "short_name",
            "kind",
        )
    } == {
        "id": a.id,
        "region_code": "370102000000",
        "region_full_name": "山东省济南市历下区",
        "credit_code": a.credit_code,
        "name": "济南市历下区市场监督管理局",
        "short_name": "历下区市场监管局",
        "kind": "市场监管",
    }

    assert [
        d["id"]
        for d in client.get("/api/v1/departments", params={"region": "3701"}).json()["items"]
    ] == [b.id]
    sub = client.get("/api/v1/departments", params={"region": "3701", "subtree": "true"}).json()
    assert [d["id"] for d in sub["items"]] == [a.id, b.id] and sub["next_after"] is None
    page = client.get("/api/v1/departments", params={"limit": 1}).json()
    assert [d["id"] for d in page["items"]] == [a.id] and page["next_after"] == a.id
    page = client.get("/api/v1/departments", params={"limit": 1, "after": a.id}).json()
    assert [d["id"] for d in page["items"]] == [b.id]
    assert [
        d["id"] for d in client.get("/api/v1/departments", params={"q": "公安"}).json()["items"]
    ] == [b.id]

    assert client.get("/api/v1/departments/999999").status_code == 404
    assert client.get("/api/v1/departments/abc").status_code == 422
    assert client.get("/api/v1/departments", params={"region": "379999"}).status_code == 404
    assert client.get("/api/v1/departments", params={"region": "37x"}).status_code == 422
    assert client.get("/api/v1/departments", params={"after": -1}).status_code == 422


def test_public_without_sign_in(client: TestClient) -> None:
    client.cookies.clear()
    assert client.get("/api/v1/regions/37").status_code == 200
    assert client.get("/api/v1/departments").status_code == 200
