"""The hot route ``GET /api/v1/me/records`` (``web.app.HotRoutes``) answers
exactly as the general implementation (``identity.api.my_records``) does:
same bytes, same masking, same errors, same session rules."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.testclient import TestClient

from tests import builders as b
from tongban.core.clock import freeze, now
from tongban.core.db import async_url
from tongban.core.identifiers import make_resident_id
from tongban.identity import service
from tongban.identity.models import Account, ApiClient, WebSession
from tongban.identity.repository import RawConnection, RawStatement
from tongban.web import deps
from tongban.web.app import create_app

RECORDS = "/api/v1/me/records"


@dataclass
class World:
    ids: dict[str, int]
    numbers: dict[str, str]
    phones: dict[str, str]
    token: str


@pytest.fixture
async def world(session) -> World:
    """alice represents e1 and e3; e1 has a current (carol), an expired (dave)
    and a revoked (erin) agent; bob represents e2 and is a current agent of
    e1; frank has no phone and no enterprise."""
    s = session
    d = await b.department(s, region=b.LIXIA)
    await b.staff(s, roles=["clerk"], region=b.LIXIA, dept=d, username="clerk")
    await b.staff(s, roles=["leader"], region=b.JINAN, username="leader")
    alice, alice_acc = await b.citizen(s, username="alice")
    bob, _ = await b.citizen(s, region=b.SHIZHONG, username="bob")
    carol, _ = await b.citizen(s, username="carol")
    dave, _ = await b.citizen(s, username="dave")
    erin, _ = await b.citizen(s, username="erin")
    frank = await service.create_person(
        s,
        id_number=make_resident_id("370102", birth_date=dt.date(1990, 3, 7), sequence=321),
        name="冯无电话",
        phone=None,
        region_code=b.LIXIA,
    )
    await service.create_account(
        s, kind="person", username="frank", password=None, password_hash=b._pw_hash(),
        display_name=frank.name, region_code=b.LIXIA, person=frank,
    )  # fmt: skip
    alice_acc.preferences = {"elderly": True, "script": "hant"}
    e1 = await b.enterprise(s, rep=alice)
    e2 = await b.enterprise(s, rep=bob)
    e3 = await b.enterprise(s, rep=alice)
    await b.agent(s, ent=e1, who=carol)
    expired = await b.agent(s, ent=e1, who=dave)
    expired.valid_until = now() - dt.timedelta(days=1)
    revoked = await b.agent(s, ent=e1, who=erin)
    revoked.revoked_at = now() - dt.timedelta(hours=1)
    await b.agent(s, ent=e1, who=bob)
    client_row = ApiClient(name="济南市业务系统", region_code=b.JINAN)
    s.add(client_row)
    await s.flush()
    token = await service.create_api_token(s, client=client_row, scopes=["persons:read"])
    await s.commit()
    return World(
        ids={
            "alice": alice.id,
            "bob": bob.id,
            "carol": carol.id,
            "e1": e1.id,
            "e2": e2.id,
            "e3": e3.id,
        },
        numbers={"alice": alice.id_number, "frank": frank.id_number},
        phones={"alice": alice.phone or ""},
        token=token,
    )


def _get(client: TestClient, token: str):
    """GET the records with this session cookie (and no other)."""
    return client.get(RECORDS, headers={"cookie": f"{deps.SESSION_COOKIE}={token}"})


@pytest.mark.parametrize(
    "who", ["alice", "bob", "carol", "dave", "erin", "frank", "clerk", "leader"]
)
async def test_same_bytes_as_the_general_route(world: World, client, general, who: str) -> None:
    token = b.session_token(client, who)
    hot, ref = _get(client, token), _get(general, token)
    assert hot.status_code == ref.status_code == 200, (hot.text, ref.text)
    assert hot.content == ref.content
    assert hot.headers["content-type"] == ref.headers["content-type"] == "application/json"
    assert hot.headers["x-request-id"]


async def test_records_of_a_legal_representative(world: World, client) -> None:
    body = _get(client, b.session_token(client, "alice")).json()
    assert body["account"]["preferences"] == {"elderly": True, "script": "hant"}
    assert body["account"]["roles"] == [] and body["account"]["kind"] == "person"
    assert body["person"]["id"] == world.ids["alice"]
    assert [e["id"] for e in body["enterprises"]] == [world.ids["e1"], world.ids["e3"]]
    assert all(isinstance(e["is_demo"], bool) for e in body["enterprises"])
    # every agent of the enterprises she represents, current or not, in id order
    assert len(body["agents"]) == 4
    assert [a["id"] for a in body["agents"]] == sorted(a["id"] for a in body["agents"])
    assert sum(a["revoked_at"] is not None for a in body["agents"]) == 1
    for a in body["agents"]:
        assert dt.datetime.fromisoformat(a["valid_until"]).utcoffset() == dt.timedelta(0)


async def test_agent_sees_the_enterprise_but_not_its_agents(world: World, client) -> None:
    body = _get(client, b.session_token(client, "bob")).json()
    assert [e["id"] for e in body["enterprises"]] == sorted([world.ids["e1"], world.ids["e2"]])
    assert {a["enterprise_id"] for a in body["agents"]} <= {world.ids["e2"]}
    for lapsed in ("dave", "erin"):  # expired and revoked agents see nothing of e1
        body = _get(client, b.session_token(client, lapsed)).json()
        assert body["enterprises"] == [] and body["agents"] == []


async def test_identifiers_are_masked(world: World, client) -> None:
    person = _get(client, b.session_token(client, "alice")).json()["person"]
    full, phone = world.numbers["alice"], world.phones["alice"]
    assert person["id_number"] != full and "*" in person["id_number"]
    assert person["id_number"][:4] == full[:4] and person["id_number"][-2:] == full[-2:]
    assert person["phone"] != phone and "*" in person["phone"]
    frank = _get(client, b.session_token(client, "frank")).json()["person"]
    assert frank["phone"] is None and "*" in frank["id_number"]


async def test_staff_get_no_person_records(world: World, client) -> None:
    body = _get(client, b.session_token(client, "clerk")).json()
    assert body["account"]["roles"] == ["clerk"] and body["account"]["kind"] == "staff"
    assert body["person"] is None and body["enterprises"] == [] and body["agents"] == []


def _refused(r) -> None:
    assert r.status_code == 401, r.text
    assert r.json() == {"code": "not_authenticated", "message": "请先登录"}


async def test_refusals(world: World, client, general, session) -> None:
    for c in (client, general):
        _refused(c.get(RECORDS))  # no cookie
        _refused(_get(c, "not-a-session"))
        _refused(_get(c, "x" * 101))
    token = b.session_token(client, "alice")
    await service.sign_out(session, token)
    await session.commit()
    _refused(_get(client, token))
    _refused(_get(general, token))


async def test_expired_session_and_inactive_account(
    world: World, client, settings, session
) -> None:
    token = b.session_token(client, "carol")
    assert _get(client, token).status_code == 200
    with freeze(now() + dt.timedelta(hours=settings.session_hours, minutes=1)):
        _refused(_get(client, token))
    token = b.session_token(client, "bob")
    await session.execute(update(Account).where(Account.username == "bob").values(is_active=False))
    await session.commit()
    _refused(_get(client, token))


async def test_last_seen_is_refreshed_at_most_every_five_minutes(
    world: World, client, settings, session
) -> None:
    token = b.session_token(client, "alice")
    query = select(WebSession.last_seen_at, WebSession.expires_at).where(
        WebSession.token_hash == service.sha256(token)
    )
    first = (await session.execute(query)).one()
    later = now() + dt.timedelta(seconds=service.SESSION_TOUCH_SECONDS - 10)
    with freeze(later):
        assert _get(client, token).status_code == 200
    session.expire_all()
    assert (await session.execute(query)).one() == first  # not written: too soon
    later = now() + dt.timedelta(seconds=service.SESSION_TOUCH_SECONDS + 10)
    with freeze(later):
        assert _get(client, token).status_code == 200
    await session.rollback()
    seen, expires = (await session.execute(query)).one()
    assert seen == later and expires == later + dt.timedelta(hours=settings.session_hours)


async def test_api_token_takes_the_general_path(world: World, client, general) -> None:
    h = {"Authorization": f"Bearer {world.token}"}
    hot, ref = client.get(RECORDS, headers=h), general.get(RECORDS, headers=h)
    assert hot.status_code == ref.status_code == 200 and hot.content == ref.content
    assert hot.json()["account"]["kind"] == "api" and hot.json()["person"] is None
    bad = client.get(RECORDS, headers={"Authorization": "Bearer tb_forged"})
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_token"


async def test_unexpected_error_is_internal_error_and_frees_the_connection(
    world: World, settings, monkeypatch
) -> None:
    async def broken(*_a, **_k):
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "resolve_session_raw", broken)
    app = create_app(settings.model_copy(update={"propagate_errors": False}))  # production's answer
    with TestClient(app, base_url="http://testserver") as c:
        token = b.session_token(c, "alice")
        r = _get(c, token)
        assert r.status_code == 500
        assert r.json() == {
            "code": "internal_error",
            "message": "系统繁忙，请稍后再试",
            "request_id": r.headers["x-request-id"],
        }
        assert "boom" not in r.text
        assert app.state.engine.sync_engine.pool.checkedout() == 0
        monkeypatch.undo()
        assert _get(c, token).status_code == 200  # the pool still serves
        assert app.state.engine.sync_engine.pool.checkedout() == 0


async def test_metrics_name_the_route(world: World, client) -> None:
    _get(client, b.session_token(client, "alice"))
    text = client.get("/metrics").text
    assert 'route="/api/v1/me/records",status="200"' in text


async def test_first_request_of_a_fresh_app_and_no_bridge_after(
    world: World, client, settings, database_kind, monkeypatch
) -> None:
    """The first checkout of a new engine needs the greenlet bridge (it
    connects); later ones on SQLite do not."""
    token = b.session_token(client, "alice")
    bridged: list[object] = []
    real = deps.greenlet_spawn

    async def counting(fn, *a, **k):
        bridged.append(fn)
        return await real(fn, *a, **k)

    monkeypatch.setattr(deps, "greenlet_spawn", counting)
    with TestClient(create_app(settings), base_url="http://testserver") as fresh:
        assert _get(fresh, token).status_code == 200
        assert bridged  # the first checkout connected through the bridge
        bridged.clear()
        assert _get(fresh, token).status_code == 200
        if database_kind == "sqlite":
            assert bridged == []


async def test_raw_connection_waits_for_a_free_connection(settings) -> None:
    """With the pool exhausted the checkout waits (through the bridge) and
    gets the connection another request returns."""
    engine = create_async_engine(
        async_url(settings.effective_database_url), pool_size=1, max_overflow=0
    )
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(engine=engine)))
    try:
        held = await engine.connect()
        await held.exec_driver_sql("SELECT 1")

        async def use() -> list:
            async with deps.raw_connection(request) as conn:  # type: ignore[arg-type]
                return await conn.fetch(RawStatement("SELECT $1 + 1"), 41)

        task = asyncio.create_task(use())
        await asyncio.sleep(0.1)
        assert not task.done()
        await held.close()
        rows = await asyncio.wait_for(task, 5)
        assert rows[0][0] == 42
        assert engine.sync_engine.pool.checkedout() == 0
    finally:
        await engine.dispose()


def test_raw_statement_forms() -> None:
    s = RawStatement("SELECT a\n  FROM t WHERE x = $1 AND y = $12 OR z = $1")
    assert s.pg == "SELECT a FROM t WHERE x = $1 AND y = $12 OR z = $1"
    assert s.sqlite == "SELECT a FROM t WHERE x = ?1 AND y = ?12 OR z = ?1"


async def test_raw_connection_values_match_sqlalchemy(world: World, session, settings) -> None:
    """Datetimes and JSON read on the driver connection equal what SQLAlchemy gives."""
    engine = create_async_engine(async_url(settings.effective_database_url))
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(engine=engine)))
    try:
        token = "any-token-value"
        acc = (
            await session.execute(select(Account).where(Account.username == "alice"))
        ).scalar_one()
        signed = await service._start_session(
            session, acc, method="password", ip="", user_agent="", settings=settings
        )
        await session.commit()
        row = (
            await session.execute(
                select(WebSession).where(WebSession.token_hash == service.sha256(signed.token))
            )
        ).scalar_one()
        async with deps.raw_connection(request) as conn:  # type: ignore[arg-type]
            assert isinstance(conn, RawConnection)
            found = await service.resolve_session_raw(conn, signed.token, settings=settings)
            assert await service.resolve_session_raw(conn, token, settings=settings) is None
            raw = await conn.fetch(
                RawStatement("SELECT expires_at, last_seen_at FROM web_session WHERE id = $1"),
                row.id,
            )
        assert found is not None
        actor, person = found
        assert actor.preferences == {"elderly": True, "script": "hant"}
        assert (
            person is not None and person.id == acc.person_id and isinstance(person.is_demo, bool)
        )
        assert (
            conn.datetime(raw[0][0]) == row.expires_at
            and conn.datetime(raw[0][1]) == row.last_seen_at
        )
        assert actor == await service.resolve_session(session, signed.token, settings=settings)
    finally:
        await engine.dispose()


async def test_session_statement_reads_the_callers_columns(world: World, session, settings) -> None:
    """``resolve_session_with``: a caller's columns, joins and parameters after
    the session's (the submission's probe uses them), a staff account's every
    role, and nothing for an unknown token."""
    d = await b.department(session, region=b.LIXIA, name="两角色部门")
    await b.staff(
        session, roles=["clerk", "approver"], region=b.LIXIA, dept=d, username="two_roles"
    )
    await session.commit()
    stmt = service.session_statement(
        "a.username, x.username, CAST($2 AS TEXT)",
        "LEFT JOIN account x ON x.username = $3",
    )
    engine = create_async_engine(async_url(settings.effective_database_url))
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(engine=engine)))
    try:
        tokens = {}
        for username in ("alice", "two_roles"):
            acc = (
                await session.execute(select(Account).where(Account.username == username))
            ).scalar_one()
            signed = await service._start_session(
                session, acc, method="password", ip="", user_agent="", settings=settings
            )
            tokens[username] = signed.token
        await session.commit()
        async with deps.raw_connection(request) as conn:  # type: ignore[arg-type]
            alice = await service.resolve_session_with(
                conn, tokens["alice"], stmt, "键", "bob", settings=settings
            )
            staff = await service.resolve_session_with(
                conn, tokens["two_roles"], stmt, "k", "nobody", settings=settings
            )
            unknown = await service.resolve_session_with(
                conn, "no-such-token", stmt, "k", "bob", settings=settings
            )
        assert alice is not None and staff is not None and unknown is None
        actor, person, extra = alice
        assert tuple(extra) == ("alice", "bob", "键")
        assert person is not None and person.id == actor.person_id
        assert actor == await service.resolve_session(session, tokens["alice"], settings=settings)
        actor, person, extra = staff
        assert tuple(extra) == ("two_roles", None, "k") and person is None
        assert actor.roles == frozenset({"clerk", "approver"})
        assert actor == await service.resolve_session(
            session, tokens["two_roles"], settings=settings
        )
    finally:
        await engine.dispose()
