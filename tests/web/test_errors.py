"""Bad input gets a clear Chinese error with a stable code, never a 500, and changes nothing."""

from __future__ import annotations

import logging

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


def _boom_app(settings, *, propagate: bool):
    """The app with two routes that fail unexpectedly: one API, one page."""
    from fastapi.responses import HTMLResponse

    from tongban.web.app import create_app

    app = create_app(settings.model_copy(update={"propagate_errors": propagate}))

    async def boom() -> dict:
        raise RuntimeError("boom: secret detail")

    app.add_api_route("/api/v1/test-boom", boom, methods=["GET", "POST"])
    app.add_api_route("/test-boom", boom, response_class=HTMLResponse)
    return app


class _Records(logging.Handler):
    """Every record logged, with the request id current when it was."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[logging.LogRecord, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        from tongban.core.logging import request_id_var

        self.records.append((record, request_id_var.get()))


def test_unexpected_error_answers_500_with_the_request_id_once(settings) -> None:
    """出错兜底: the 500 carries the request id (header and body), is counted,
    is logged once with its traceback and that id, and is not raised again
    to the server."""
    from starlette.testclient import TestClient

    app = _boom_app(settings, propagate=False)  # configures logging: handlers after it
    seen = _Records()
    logging.getLogger().addHandler(seen)
    # raise_server_exceptions: were the error raised past the app (Starlette's
    # ServerErrorMiddleware re-raises), the client would raise it here.
    try:
        with TestClient(app, base_url="http://testserver", raise_server_exceptions=True) as c:
            _boom_answers(c, seen)
    finally:
        logging.getLogger().removeHandler(seen)


def _boom_answers(c, seen: _Records) -> None:
    r = c.get("/api/v1/test-boom", headers={"x-request-id": "rid-help-desk-42"})
    assert r.status_code == 500
    assert r.headers["x-request-id"] == "rid-help-desk-42"
    assert r.json() == {
        "code": "internal_error",
        "message": "系统繁忙，请稍后再试",
        "request_id": "rid-help-desk-42",
    }
    assert "secret detail" not in r.text
    tracebacks = [(rec, rid) for rec, rid in seen.records if rec.exc_info]
    assert len(tracebacks) == 1
    rec, rid = tracebacks[0]
    assert rec.getMessage() == "unhandled error" and rid == "rid-help-desk-42"
    assert isinstance(rec.exc_info[1], RuntimeError)

    generated = c.post("/api/v1/test-boom")  # no id sent: one is made
    assert generated.status_code == 500
    assert generated.json()["request_id"] == generated.headers["x-request-id"] != ""

    page = c.get("/test-boom", headers={"accept": "text/html"})
    assert page.status_code == 500 and "text/html" in page.headers["content-type"]
    rid = page.headers["x-request-id"]
    assert "系统繁忙" in page.text and "错误编号" in page.text and rid in page.text
    assert "secret detail" not in page.text

    metrics = c.get("/metrics").text
    assert 'route="/api/v1/test-boom",status="500"' in metrics

    assert c.get("/healthz").status_code == 200  # the app goes on serving


def test_not_found_page_shows_no_error_number(client) -> None:
    r = client.get("/no-such-page", headers={"accept": "text/html"})
    assert r.status_code == 404 and "错误编号" not in r.text


def test_propagate_errors_raises_the_real_exception(settings) -> None:
    """The test suite's setting: the exception reaches the test."""
    from starlette.testclient import TestClient

    app = _boom_app(settings, propagate=True)
    with (
        TestClient(app, base_url="http://testserver") as c,
        pytest.raises(RuntimeError, match="secret detail"),
    ):
        c.get("/api/v1/test-boom")
