"""``GET /api/v1/search`` and ``/search/suggest`` are served by
``web.app.HotRoutes``; they answer exactly as the FastAPI routes do: the same
JSON for results, pages, filters, suggestions and every parameter error."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tongban.search import api as search_api
from tongban.search.engine import get_engine
from tongban.web.app import HotRoutes

pytestmark = pytest.mark.shared_data


@pytest.fixture
def reference(general, items) -> TestClient:
    """The application without ``HotRoutes``, its engine rebuilding inline."""
    engine = get_engine(general.app)
    engine.check_seconds = 0
    engine.wait_for_rebuild = True
    return general


def test_the_routes_are_hot() -> None:
    hot = HotRoutes(app=None, routes=search_api.hot_routes())  # type: ignore[arg-type]
    assert set(hot.routes) == {("GET", "/api/v1/search"), ("GET", "/api/v1/search/suggest")}


SEARCHES = [
    {"q": "户口迁移"},
    {"q": "戶口遷移"},
    {"q": "hukou", "region": "511602"},
    {"q": "营业执照", "kind": "item", "page": "2", "size": "3"},
    {"q": ""},
    {"q": "户口", "region": "37x"},
    {"q": "户口", "kind": "law"},
    {"q": "户口", "page": "0", "size": "51"},
    {"q": "户" * 101},
]


@pytest.mark.parametrize("params", SEARCHES, ids=range(len(SEARCHES)))
def test_search_answers_as_the_general_route(search_client, reference, params) -> None:
    hot = search_client.get("/api/v1/search", params=params)
    ref = reference.get("/api/v1/search", params=params)
    assert hot.status_code == ref.status_code
    a, b = hot.json(), ref.json()
    if hot.status_code == 200:
        a.pop("search_id"), b.pop("search_id")  # each search is logged under its own id
        assert a["results"] or not params["q"]
    else:
        assert a["code"] == "validation_failed"
    assert a == b


SUGGESTS = [
    {"q": "户口"},
    {"q": "hukou", "kind": "item", "limit": "3"},
    {"q": ""},
    {"q": "户口", "limit": "0"},
    {"q": "户口", "limit": "abc"},
    {"q": "户口", "kind": "law"},
    {"q": "户" * 51},
]


@pytest.mark.parametrize("params", SUGGESTS, ids=range(len(SUGGESTS)))
def test_suggest_answers_as_the_general_route(search_client, reference, params) -> None:
    hot = search_client.get("/api/v1/search/suggest", params=params)
    ref = reference.get("/api/v1/search/suggest", params=params)
    assert (hot.status_code, hot.json()) == (ref.status_code, ref.json())
    if hot.status_code != 200:
        assert hot.json()["code"] == "validation_failed"
        assert hot.json()["details"]
