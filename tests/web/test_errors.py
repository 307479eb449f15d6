"""Bad input gets a clear Chinese error with a stable code, never a 500, and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests import builders as b
from tongban.identity.models import WebSession


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("post", "/api/v1/auth/login", {"json": {}}, 422, "validation_failed"),
        (
            "post",
            "/api/v1/auth/login",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
            "validation_failed",
        ),
        (
            "post",
            "/api/v1/auth/login",
            {"json": {"username": "x", "password": "y", "extra": 1}},
            422,
            "validation_failed",
        ),
        (
            "post",
            "/api/v1/auth/login",
            {"json": {"username": "x" * 500, "password": "y"}},
            422,
            "validation_failed",
        ),
        (
            "post",
            "/api/v1/auth/login",
            {"json": {"username": "nobody", "password": "y"}},
            401,
            "invalid_credentials",
        ),
        ("post", "/api/v1/auth/sms/send", {"json": {"phone": "not-a-phone"}}, 422, "invalid_phone"),
        ("get", "/api/v1/no/such/thing", {}, 404, "not_found"),
        ("delete", "/api/v1/auth/login", {}, 405, "method_not_allowed"),
        ("get", "/api/v1/persons?limit=100000", {}, 401, "not_authenticated"),
    ],
)
def test_bad_requests(client, method: str, path: str, kwargs: dict, status: int, code: str) -> None:
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body  # a Chinese message


async def test_validation_details_name_fields(client) -> None:
    body = client.post("/api/v1/auth/login", json={"username": ""}).json()
    fields = {d["field"] for d in body["details"]}
    assert {"username", "password"} <= fields
    assert all(d["message"] for d in body["details"])


async def test_bad_query_parameters_signed_in(client, session) -> None:
    await b.citizen(session, username="qparams")
    await session.commit()
    b.login(client, "qparams")
    for q in ("limit=0", "limit=abc", "after=-1", "region=12", "region=abc"):
        r = client.get(f"/api/v1/persons?{q}")
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", q


async def test_failed_login_creates_no_session(client, session) -> None:
    await b.citizen(session, username="nosess")
    await session.commit()
    client.post("/api/v1/auth/login", json={"username": "nosess", "password": "wrong-password"})
    assert (await session.execute(select(func.count()).select_from(WebSession))).scalar() == 0


def test_html_pages_get_html_errors(client) -> None:
    r = client.get("/no-such-page", headers={"accept": "text/html"})
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "页面或记录不存在" in r.text


def test_health_and_metrics(client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok"}
    assert r.headers["x-request-id"]
    m = client.get("/metrics")
    assert m.status_code == 200 and "tongban_http_requests_total" in m.text


def test_openapi_published(client) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/auth/login" in doc["paths"] and "/api/v1/me/records" in doc["paths"]
