"""Values no column can hold get a clear error, never a 500 (``web.nul``).

- A NUL character (U+0000): PostgreSQL refuses it in text and jsonb (a
  database error); SQLite stores it. ``NulGuard`` answers 422
  ``invalid_character`` in front of every route on both.
- An integer past 64 bits (or 32, for an int column): both drivers refuse it;
  the handlers answer 422 ``value_invalid``.

Every GET route's every query parameter (and path parameter) is tried,
signed in with every role at once (the widest scope, every page reachable).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from tests import builders as b
from tongban.cases.models import Case
from tongban.identity.models import ROLES
from tongban.web.nul import body_has_nul, target_has_nul

NUL = "a\x00b"


def _walk(routes):
    for r in routes:
        inner = getattr(r, "effective_candidates", None)  # an included router
        if inner is not None:
            yield from _walk(inner())
        else:
            yield r


def _get_routes(app) -> list[tuple[str, list[str]]]:
    out = []
    for r in _walk(app.routes):
        dependant = getattr(r, "dependant", None)
        if dependant is None or "GET" not in (r.methods or ()):
            continue
        out.append((r.path, [p.alias or p.name for p in dependant.query_params]))
    return out


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _refused(r, *, html: bool = False) -> bool:
    if r.status_code != 422:
        return False
    if html:
        return "无效字符" in r.text
    return r.json()["code"] == "invalid_character" and "无效字符" in r.json()["message"]


async def test_nul_in_any_query_parameter_is_refused(app, client, session) -> None:
    await b.staff(session, roles=sorted(ROLES), username="nulall", region="370000000000")
    await session.commit()
    b.login(client, "nulall")
    routes = _get_routes(app)
    assert len(routes) > 100  # the walk reached the included routers
    wrong = []
    for path, names in routes:
        for name in [*names, "q"]:
            r = client.get(_fill(path), params={name: NUL}, headers={"accept": "application/json"})
            if not _refused(r):
                wrong.append((path, name, r.status_code))
    assert not wrong, wrong
    # a page gets the error page
    r = client.get("/workbench", params={"applicant": NUL})
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    assert "无效字符" in r.text


def test_nul_in_the_path_is_refused(client) -> None:
    r = client.get("/api/v1/departments/1%00")
    assert _refused(r)


async def test_nul_in_a_json_body_is_refused_and_nothing_is_written(client, session) -> None:
    # the hot submission route reads its body before FastAPI does
    await b.citizen(session, username="nuljson")
    await session.commit()
    b.login(client, "nuljson")
    csrf = client.cookies.get("tongban_csrf") or ""
    r = client.post(
        "/api/v1/cases",
        content=b'{"implementation_id": 1, "channel": "web", "form_data": {"name": "a\\u0000"}}',
        headers={
            "content-type": "application/json",
            "idempotency-key": "nul-body-0001",
            "x-csrf-token": csrf,
        },
    )
    assert _refused(r), r.text
    assert (await session.execute(select(func.count()).select_from(Case))).scalar() == 0


def test_nul_in_a_json_body_of_a_general_route(client) -> None:
    r = client.post("/api/v1/auth/login", json={"username": NUL, "password": "x"})
    assert _refused(r)


def test_an_escaped_backslash_is_not_a_nul(client) -> None:
    # the JSON text "\\u0000" is the six characters \u0000, not a NUL
    r = client.post(
        "/api/v1/auth/login",
        content=b'{"username": "\\\\u0000", "password": "x"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"


def test_nul_in_a_form_body_is_refused(client) -> None:
    r = client.post(
        "/login",
        content=b"username=a%00b&password=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert _refused(r, html=True), r.text


@pytest.mark.parametrize(
    ("content_type", "body", "nul"),
    [
        (b"application/json", b'{"a": "x\\u0000"}', True),
        (b"application/json", b'{"a": "x\\\\u0000"}', False),  # an escaped backslash
        (b"application/json", b'{"a": "x\\\\\\u0000"}', True),  # backslash, then a NUL
        (b"application/json; charset=utf-8", b'{"a": "\\u00001"}', True),
        (b"application/json", b'{"a": "%00"}', False),  # percent-signs are text in JSON
        (b"application/x-www-form-urlencoded", b"a=%00", True),
        (b"application/x-www-form-urlencoded", b"a=%2500", False),  # the text "%00"
        (b"application/x-www-form-urlencoded", b"a=b", False),
        (b"application/json", b'{"a": "\x00"}', True),
    ],
)
def test_body_has_nul(content_type: bytes, body: bytes, nul: bool) -> None:
    assert body_has_nul(content_type, body) is nul


def test_target_has_nul() -> None:
    assert target_has_nul({"query_string": b"a=%00", "path": "/x", "raw_path": b"/x"})
    assert target_has_nul({"query_string": b"", "path": "/x\x00", "raw_path": b"/x%00"})
    assert not target_has_nul({"query_string": b"a=%20", "path": "/x", "raw_path": b"/x"})


HUGE = ("99999999999999999999", "9223372036854775808", "-9223372036854775809", "2147483648")
# digits to str.isdigit() but not to int(): a check with isdigit() then int() was a 500
NOT_DECIMAL = ("①", "²3")


async def test_integers_out_of_range_are_refused(app, session) -> None:
    """Every GET route's every query parameter (and path parameter) past 64 bits,
    or digits ``int()`` does not read: a 422, never a 500."""
    await b.staff(session, roles=sorted(ROLES), username="bigall", region="370000000000")
    await session.commit()
    wrong, refused = [], 0
    # the server's exceptions as responses: every route is tried, a 500 listed
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        b.login(client, "bigall")
        for r in _walk(app.routes):
            dependant = getattr(r, "dependant", None)
            if dependant is None or "GET" not in (r.methods or ()):
                continue
            tries = [
                (_fill(r.path), {p.alias or p.name: v})
                for p in dependant.query_params
                for v in HUGE + NOT_DECIMAL
            ]
            if "{" in r.path:
                tries += [(re.sub(r"\{[^}]+\}", v, r.path), {}) for v in HUGE[:2]]
            for url, params in tries:
                resp = client.get(url, params=params, headers={"accept": "application/json"})
                if resp.status_code >= 500:
                    wrong.append((url, params, resp.status_code))
                elif resp.status_code == 422 and resp.json()["code"] == "value_invalid":
                    assert "超出范围" in resp.json()["message"]
                    refused += 1
    assert not wrong, wrong
    assert refused > 20  # ids and cursors past 64 bits reach the driver on many routes


BAD_BODIES = [
    ("json", {}),
    ("json", []),
    ("json", {"id": 10**20, "implementation_id": 10**20, "name": "x" * 100_000}),
    ("json", {"reason": None, "comment": 5, "items": "x", "form_data": [1], "decision": "maybe"}),
    ("form", {}),
    ("form", {"reason": "", "id": "abc", "after": "-1"}),
    (  # digits to isdigit(), not to int()
        "form",
        {
            k: "①"
            for k in (
                "id",
                "page",
                "dept",
                "days",
                "approver",
                "person_id",
                "department_id",
                "promised_value",
                "section",
                "max_length",
                "level",
                "implementation_id",
            )
        },
    ),
]


async def test_writes_with_bad_bodies_never_fail(app, session) -> None:
    """Every writing route (every method but GET), with ids 1, past 64 bits and
    not a number, and bodies empty, of the wrong shape or too long: never a 500."""
    await b.staff(session, roles=sorted(ROLES), username="postall", region="370000000000")
    await session.commit()
    wrong, tried, refused = [], 0, 0
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        b.login(client, "postall")
        for r in _walk(app.routes):
            methods = set(getattr(r, "methods", None) or ()) - {"GET", "HEAD"}
            if not methods or not hasattr(r, "dependant") or "logout" in r.path:
                continue
            tried += 1
            for method in sorted(methods):
                for part in ("1", "99999999999999999999", "abc"):
                    url = re.sub(r"\{[^}]+\}", part, r.path)
                    for kind, body in BAD_BODIES:
                        csrf = client.cookies.get("tongban_csrf") or ""
                        h = {"x-csrf-token": csrf, "accept": "application/json"}
                        if kind == "json":
                            resp = client.request(method, url, json=body, headers=h)
                        else:
                            form = {**body, "csrf_token": csrf}
                            resp = client.request(method, url, data=form, headers=h)
                        if resp.status_code >= 500:
                            wrong.append((method, url, kind, str(body)[:40], resp.status_code))
                        refused += resp.status_code == 422
                        if resp.status_code == 401 and "/auth/" not in url and "login" not in url:
                            b.login(client, "postall")  # a route ended the session: sign in again
    assert not wrong, wrong
    assert tried > 60 and refused > 500  # the crawl reached the routes, signed in


async def test_every_read_answers_every_role(app, session) -> None:
    """Every GET route, as each role alone (in a department of its own
    region), a citizen and a visitor, asking for HTML and for JSON: never a
    500 (the scoped code paths of the narrower roles, which the all-roles
    account above does not take)."""
    dept = await b.department(session)
    users: list[str | None] = []
    for role in sorted(ROLES):
        await b.staff(session, roles=[role], username=f"only_{role}", dept=dept)
        users.append(f"only_{role}")
    await b.citizen(session, username="only_citizen")
    users += ["only_citizen", None]
    await session.commit()
    wrong, answered = [], 0
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        for user in users:
            client.cookies.clear()
            if user:
                b.login(client, user)
            for r in _walk(app.routes):
                if not hasattr(r, "dependant") or "GET" not in (r.methods or ()):
                    continue
                for accept in ("text/html", "application/json"):
                    resp = client.get(_fill(r.path), headers={"accept": accept})
                    if resp.status_code >= 500:
                        wrong.append((user, r.path, accept, resp.status_code))
                    answered += resp.status_code == 200
    assert not wrong, wrong
    assert answered > 300  # signed in: the pages answered, not only refusals
