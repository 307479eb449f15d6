"""Access matrix: for every role, lists and details show only what it may see.

One small world: two counties of 济南 (历下, 市中), a city-level leader and
supervisor, a province admin, an admin of another city (青岛), citizens in each
county, enterprises with a current and an expired agent, and an API client.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from tests import builders as b
from tongban.core.clock import now
from tongban.identity import service
from tongban.identity.models import ApiClient


@dataclass
class World:
    ids: dict[str, int]
    numbers: dict[str, str]
    token_persons: str
    token_none: str


@pytest.fixture
async def world(session) -> World:
    s = session
    d_lixia = await b.department(s, region=b.LIXIA)
    d_shizhong = await b.department(s, region=b.SHIZHONG)
    d_city = await b.department(s, region=b.JINAN)
    await b.staff(s, roles=["clerk"], region=b.LIXIA, dept=d_lixia, username="clerk_lixia")
    await b.staff(s, roles=["approver"], region=b.LIXIA, dept=d_lixia, username="approver_lixia")
    await b.staff(s, roles=["clerk"], region=b.SHIZHONG, dept=d_shizhong, username="clerk_shizhong")
    await b.staff(s, roles=["leader"], region=b.JINAN, username="leader_jinan")
    await b.staff(s, roles=["supervisor"], region=b.JINAN, dept=d_city, username="supervisor_jinan")
    await b.staff(s, roles=["dispatcher"], region=b.JINAN, dept=d_city, username="dispatcher_jinan")
    await b.staff(s, roles=["dept_admin"], region=b.LIXIA, dept=d_lixia, username="deptadmin_lixia")
    await b.staff(s, roles=["platform_admin"], region=b.SHANDONG, username="admin_shandong")
    await b.staff(s, roles=["platform_admin"], region="370200000000", username="admin_qingdao")
    alice, _ = await b.citizen(s, region=b.LIXIA, username="alice")
    bob, _ = await b.citizen(s, region=b.SHIZHONG, username="bob")
    carol, _ = await b.citizen(s, region=b.LIXIA, username="carol")
    dave, _ = await b.citizen(s, region=b.LIXIA, username="dave")
    e1 = await b.enterprise(s, rep=alice)
    e2 = await b.enterprise(s, rep=bob)
    await b.agent(s, ent=e1, who=carol)
    expired = await b.agent(s, ent=e1, who=dave)
    expired.valid_until = now() - dt.timedelta(days=1)
    client_row = ApiClient(name="济南市业务系统", region_code=b.JINAN)
    s.add(client_row)
    await s.flush()
    token_persons = await service.create_api_token(s, client=client_row, scopes=["persons:read"])
    token_none = await service.create_api_token(s, client=client_row, scopes=["regions:read"])
    await s.commit()
    return World(
        ids={
            "alice": alice.id,
            "bob": bob.id,
            "carol": carol.id,
            "dave": dave.id,
            "e1": e1.id,
            "e2": e2.id,
        },
        numbers={"alice": alice.id_number},
        token_persons=token_persons,
        token_none=token_none,
    )


def _names(client, path: str) -> set[int]:
    r = client.get(path)
    assert r.status_code == 200, r.text
    return {item["id"] for item in r.json()["items"]}


PERSONS_SEEN = {
    "clerk_lixia": {"alice", "carol", "dave"},
    "approver_lixia": {"alice", "carol", "dave"},
    "deptadmin_lixia": {"alice", "carol", "dave"},
    "clerk_shizhong": {"bob"},
    "leader_jinan": {"alice", "bob", "carol", "dave"},
    "supervisor_jinan": {"alice", "bob", "carol", "dave"},
    "dispatcher_jinan": {"alice", "bob", "carol", "dave"},
    "admin_shandong": {"alice", "bob", "carol", "dave"},
    "admin_qingdao": set(),
    "alice": {"alice"},
    "bob": {"bob"},
}
ENTERPRISES_SEEN = {
    "clerk_lixia": {"e1"},
    "clerk_shizhong": {"e2"},
    "leader_jinan": {"e1", "e2"},
    "admin_qingdao": set(),
    "alice": {"e1"},  # legal representative
    "carol": {"e1"},  # current agent
    "dave": set(),  # expired agent
    "bob": {"e2"},
}


@pytest.mark.parametrize("who", sorted(PERSONS_SEEN))
async def test_person_list_and_detail_scope(world: World, client, who: str) -> None:
    b.login(client, who)
    expected = {world.ids[n] for n in PERSONS_SEEN[who]}
    assert _names(client, "/api/v1/persons?limit=100") == expected
    for name in ("alice", "bob", "carol", "dave"):
        r = client.get(f"/api/v1/persons/{world.ids[name]}")
        if world.ids[name] in expected:
            assert r.status_code == 200
        else:
            assert r.status_code == 404, (who, name)
            assert r.json()["code"] == "not_found" and "无权" in r.json()["message"]


@pytest.mark.parametrize("who", sorted(ENTERPRISES_SEEN))
async def test_enterprise_list_and_detail_scope(world: World, client, who: str) -> None:
    b.login(client, who)
    expected = {world.ids[n] for n in ENTERPRISES_SEEN[who]}
    assert _names(client, "/api/v1/enterprises?limit=100") == expected
    for name in ("e1", "e2"):
        r = client.get(f"/api/v1/enterprises/{world.ids[name]}")
        assert r.status_code == (200 if world.ids[name] in expected else 404), (who, name)


async def test_applicant_probing_ids_learns_nothing(world: World, client) -> None:
    b.login(client, "bob")
    missing = client.get("/api/v1/persons/999999")
    foreign = client.get(f"/api/v1/persons/{world.ids['alice']}")
    assert missing.status_code == foreign.status_code == 404
    assert missing.json() == foreign.json()


async def test_identity_numbers_masked_unless_role_needs_them(world: World, client) -> None:
    full = world.numbers["alice"]
    b.login(client, "clerk_lixia")
    assert client.get(f"/api/v1/persons/{world.ids['alice']}").json()["id_number"] == full
    client.cookies.clear()
    for who in ("leader_jinan", "supervisor_jinan", "deptadmin_lixia", "alice"):
        b.login(client, who)
        body = client.get(f"/api/v1/persons/{world.ids['alice']}").json()
        assert body["id_number"] != full and "*" in body["id_number"], who
        assert "*" in body["phone"], who
        client.cookies.clear()


async def test_full_identity_read_by_staff_is_audited(world: World, client, session) -> None:
    from sqlalchemy import select

    from tongban.core.audit import AuditEntry

    b.login(client, "clerk_lixia")
    client.get(f"/api/v1/persons/{world.ids['alice']}")
    rows = (await session.execute(select(AuditEntry.action, AuditEntry.target_id))).all()
    assert ("person.viewed", str(world.ids["alice"])) in rows


async def test_my_records_shows_own_and_represented(world: World, client) -> None:
    b.login(client, "alice")
    body = client.get("/api/v1/me/records").json()
    assert body["person"]["id"] == world.ids["alice"]
    assert [e["id"] for e in body["enterprises"]] == [world.ids["e1"]]
    assert {a["person_id"] for a in body["agents"]} == {world.ids["carol"], world.ids["dave"]}
    client.cookies.clear()
    b.login(client, "carol")
    body = client.get("/api/v1/me/records").json()
    assert [e["id"] for e in body["enterprises"]] == [world.ids["e1"]]
    assert body["agents"] == []  # an agent does not see the enterprise's other agents


async def test_anonymous_is_refused(world: World, client) -> None:
    for path in (
        "/api/v1/persons",
        "/api/v1/enterprises",
        "/api/v1/me/records",
        f"/api/v1/persons/{world.ids['alice']}",
    ):
        r = client.get(path)
        assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


async def test_api_token_scopes(world: World, client) -> None:
    h = {"Authorization": f"Bearer {world.token_persons}"}
    r = client.get("/api/v1/persons?limit=100", headers=h)
    assert {i["id"] for i in r.json()["items"]} == {
        world.ids[n] for n in ("alice", "bob", "carol", "dave")
    }
    assert all(
        "*" in i["id_number"] for i in r.json()["items"]
    )  # systems get masked values by default
    assert client.get("/api/v1/enterprises", headers=h).json()["items"] == []
    h2 = {"Authorization": f"Bearer {world.token_none}"}
    assert client.get("/api/v1/persons", headers=h2).json()["items"] == []
    bad = client.get("/api/v1/persons", headers={"Authorization": "Bearer tb_forged"})
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_token"


async def test_agent_authorisation_only_by_legal_rep(world: World, client, session) -> None:
    from sqlalchemy import select

    from tongban.identity.models import Person

    bob_number = (
        await session.execute(select(Person.id_number).where(Person.id == world.ids["bob"]))
    ).scalar()
    until = (now() + dt.timedelta(days=30)).isoformat()
    b.login(client, "carol")  # an agent may not appoint agents
    r = client.post(
        f"/api/v1/enterprises/{world.ids['e1']}/agents",
        json={"id_number": bob_number, "valid_until": until},
    )
    assert r.status_code == 404
    client.cookies.clear()
    b.login(client, "alice")
    r = client.post(
        f"/api/v1/enterprises/{world.ids['e1']}/agents",
        json={"id_number": bob_number, "valid_until": until},
    )
    assert r.status_code == 201, r.text
    agent_id = r.json()["id"]
    client.cookies.clear()
    b.login(client, "bob")
    assert world.ids["e1"] in _names(client, "/api/v1/enterprises")
    client.cookies.clear()
    b.login(client, "alice")
    assert client.delete(f"/api/v1/agents/{agent_id}").status_code == 200
    client.cookies.clear()
    b.login(client, "bob")
    assert world.ids["e1"] not in _names(client, "/api/v1/enterprises")


async def test_agent_valid_until_without_a_zone_is_beijing_time(
    world: World, client, session
) -> None:
    """ "2027-01-01T00:00:00" (no zone) was compared with an aware now(): a 500."""
    from sqlalchemy import select

    from tongban.identity.models import Person

    bob_number = (
        await session.execute(select(Person.id_number).where(Person.id == world.ids["bob"]))
    ).scalar()
    naive = (now() + dt.timedelta(days=30)).replace(tzinfo=None, microsecond=0)
    b.login(client, "alice")
    r = client.post(
        f"/api/v1/enterprises/{world.ids['e1']}/agents",
        json={"id_number": bob_number, "valid_until": naive.isoformat()},
    )
    assert r.status_code == 201, r.text
    stored = dt.datetime.fromisoformat(r.json()["valid_until"])
    assert stored.utcoffset() is not None
    assert stored == naive.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
