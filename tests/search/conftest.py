"""Search-test fixtures: the real Guang'an item names indexed through a test
provider, an app whose search engine rebuilds as soon as the version moves."""

from __future__ import annotations

import csv
from collections.abc import Iterator

import pytest

from tests import builders as b
from tests.shared_data import shared_data
from tongban.search.engine import (
    discover_providers,
    get_engine,
    register_provider,
    registered_providers,
)
from tongban.search.engine import unregister_provider as _unregister
from tongban.search.index import SearchDocument

GUANGAN = "511602000000"  # 四川省广安市广安区: where the real items come from
LIXIA = b.LIXIA


def real_items() -> list[SearchDocument]:
    path = shared_data("service_items_guangan", "service_items.csv")
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        SearchDocument(
            kind="item",
            key=r["itemCode"],
            title=r["name"],
            body=r["main_item"] if r["main_item"] != "未分类" else "",
            region_code=r["areaCode"],
            department=r["department"],
            url=r["link"],
        )
        for r in rows
    ]


class Items:
    """The documents the test provider hands the index (mutable per test)."""

    def __init__(self, docs: list[SearchDocument]) -> None:
        self.docs = docs

    async def __call__(self, session) -> list[SearchDocument]:
        return list(self.docs)


@pytest.fixture
def items() -> Iterator[Items]:
    discover_providers()
    previous = registered_providers().get("item")
    provider = Items(real_items())
    register_provider("item", provider)
    yield provider
    if previous is not None:
        register_provider("item", previous)
    else:
        _unregister("item")


@pytest.fixture
def search_client(client, items):
    """The test client, with an engine that rebuilds inline when the version moves."""
    engine = get_engine(client.app)
    engine.check_seconds = 0
    engine.wait_for_rebuild = True
    return client


def find(client, q: str, **params) -> dict:
    r = client.get("/api/v1/search", params={"q": q, **params})
    assert r.status_code == 200, r.text
    return r.json()


def titles(body: dict) -> list[str]:
    return [h["title"] for h in body["results"]]
