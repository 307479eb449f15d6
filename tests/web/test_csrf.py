"""CSRF: every page form POST carries the token; without it nothing changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from tests.web.conftest import World, page_login, token_of
from tongban.core.clock import now
from tongban.identity.models import Account, EnterpriseAgent, WebSession
from tongban.web.deps import verified_form

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _routes(app: Any) -> Iterator[tuple[str, Any]]:
    """(path, route) for every route, including those inside included routers."""
    for r in app.routes:
        contexts = getattr(r, "effective_route_contexts", None)
        if contexts is not None:
            for c in contexts():
                yield c.path, c.original_route
        else:
            yield getattr(r, "path", ""), r


def _depends_on(dependant: Any, fn: Any) -> bool:
    return any(d.call is fn or _depends_on(d, fn) for d in dependant.dependencies)


def test_every_page_write_route_verifies_its_form(app) -> None:
    checked = []
    for path, route in _routes(app):
        if (
            path.startswith("/api/")
            or not isinstance(route, APIRoute)
            or not (route.methods & UNSAFE)
        ):
            continue
        assert _depends_on(route.dependant, verified_form), (
            f"{sorted(route.methods)} {path} lacks VerifiedForm"
        )
        checked.append(path)
    assert {"/login", "/logout", "/prefs", "/me/enterprises/{enterprise_id}/agents"} <= set(checked)


async def _sessions(session) -> int:
    return (await session.execute(select(func.count()).select_from(WebSession))).scalar_one()


async def test_sign_in_without_token_is_refused(world: World, client, session) -> None:
    client.get("/login")
    for data in (
        {"username": "alice", "password": "Test@pass2026"},
        {"username": "alice", "password": "Test@pass2026", "csrf_token": "forged"},
    ):
        r = client.post("/login", data=data)
        assert r.status_code == 403 and "csrf_failed" in r.text
    assert await _sessions(session) == 0


async def test_visitor_token_must_match_cookie(world: World, client) -> None:
    token = token_of(client, "/login")
    client.cookies.delete("tongban_csrf")
    r = client.post(
        "/login", data={"csrf_token": token, "username": "alice", "password": "Test@pass2026"}
    )
    assert r.status_code == 403


async def test_signed_in_posts_without_token_change_nothing(world: World, client, session) -> None:
    page_login(client, "alice")
    until = (now() + dt.timedelta(days=30)).date().isoformat()
    writes = [
        ("/prefs", {"elderly": "1", "next": "/"}),
        (
            f"/me/enterprises/{world.ids['e1']}/agents",
            {"id_number": world.numbers["carol"], "valid_until": until},
        ),
        ("/logout", {}),
    ]
    for path, data in writes:
        for extra in ({}, {"csrf_token": "forged"}):
            r = client.post(path, data={**data, **extra})
            assert r.status_code == 403, (path, extra)
    r = client.post("/prefs", data={"elderly": "1"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    assert (
        await session.execute(select(func.count()).select_from(EnterpriseAgent))
    ).scalar_one() == 0
    prefs = (
        await session.execute(select(Account.preferences).where(Account.username == "alice"))
    ).scalar_one()
    assert not prefs.get("elderly")
    assert client.get("/me").status_code == 200  # still signed in: the logout was refused


async def test_visitor_token_is_not_a_session_token(world: World, client) -> None:
    """A token issued to the visitor before sign-in no longer works afterwards."""
    old = token_of(client, "/")
    page_login(client, "alice")
    r = client.post("/prefs", data={"csrf_token": old, "elderly": "1"})
    assert r.status_code == 403


@pytest.mark.parametrize("path", ["/admin/audit/verify", "/admin/outbox/1/retry"])
async def test_admin_posts_need_token(world: World, client, path: str) -> None:
    page_login(client, "admin")
    assert client.post(path, data={}).status_code == 403
