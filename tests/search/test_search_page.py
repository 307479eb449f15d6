"""The public search page over the real catalogue provider: a colloquial query
finds the guide, the click is logged, the guide leads to the online entry."""

from __future__ import annotations

import re

import pytest

from tests.catalogue.helpers import admin, published_impl, published_item
from tongban.search import service as search_service
from tongban.search.engine import discover_providers, get_engine


@pytest.fixture
async def catalogue(session):
    a = await admin(session)
    birth = await published_item(
        session,
        a,
        name="出生医学证明办理",
        item_type="20",
        service_objects=["1"],
        summary="新生儿出生后办理出生医学证明。",
        legal_basis=[],
        fee_charged=False,
        themes=["birth"],
    )
    impl = await published_impl(session, a, birth)
    await published_impl(
        session, a, await published_item(session, a, name="食品经营许可", service_objects=["2"])
    )
    await search_service.propose_synonym(session, a, term="生孩子", canonical="出生", approve=True)
    await session.commit()
    return impl.id


@pytest.fixture
def page_client(client):
    discover_providers()
    engine = get_engine(client.app)
    engine.check_seconds = 0
    engine.wait_for_rebuild = True
    return client


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


async def test_colloquial_query_reaches_the_guide_and_the_online_entry(catalogue, page_client):
    client = page_client
    r = client.get("/search", params={"q": "生孩子要办什么"})
    assert r.status_code == 200 and "出生医学证明办理" in text_of(r.text)
    link = re.search(r'href="(/search/go\?[^"]+)"', r.text).group(1).replace("&amp;", "&")
    go = client.get(link, follow_redirects=False)
    assert go.status_code == 303 and go.headers["location"] == f"/guide/{catalogue}"
    guide = client.get(go.headers["location"])
    assert guide.status_code == 200 and f"/apply/{catalogue}" in guide.text


@pytest.mark.parametrize("q", ["出生醫學證明", "chushengyixue", "csyxzm", "出生医学证名"])
async def test_traditional_pinyin_initials_and_a_typo(catalogue, page_client, q):
    r = page_client.get("/search", params={"q": q})
    assert "出生医学证明办理" in text_of(r.text), q


async def test_suggest_options_and_kinds(catalogue, page_client):
    r = page_client.get("/search/suggest-options", params={"q": "食品"})
    assert '<option value="食品经营许可">' in r.text
    assert page_client.get("/search", params={"q": "食品", "kind": "bogus"}).status_code == 422
    assert (
        page_client.get(
            "/search/go", params={"sid": "x", "kind": "item", "key": "nope"}
        ).status_code
        == 404
    )
