"""Cases over HTTP: Idempotency-Key, worklists with queues and keyset pages,
actions, exchange export, masking, and one winner among concurrent transitions."""

from __future__ import annotations

import pytest

from tests import builders
from tests.catalogue.helpers import admin, published_impl, published_item


@pytest.fixture
async def world(session):
    s = session
    a = await admin(s)
    item = await published_item(s, a, name="公共场所卫生许可", service_objects=["1"])
    impl = await published_impl(s, a, item)
    from tongban.regions.models import Department

    dept = await s.get(Department, impl.department_id)
    person, _acc = await builders.citizen(s, username="applicant1")
    await builders.staff(s, roles=["clerk"], dept=dept, username="clerk1")
    await builders.staff(s, roles=["approver"], dept=dept, username="approver1")
    await builders.staff(
        s, roles=["supervisor"], dept=await builders.department(s), username="sup1"
    )
    other = await builders.department(s)
    await builders.staff(s, roles=["approver"], dept=other, username="approver_other")
    await s.commit()
    return impl.id, person.name, person.id_number


def _form(name, number):
    return {"applicant_name": name, "applicant_id_number": number, "phone": "13800138000"}


async def test_submit_is_idempotent_and_queues_work(world, client):
    impl_id, name, number = world
    h: dict = {}
    builders.login(client, "applicant1")
    body = {"implementation_id": impl_id, "form_data": _form(name, number)}
    r = client.post("/api/v1/cases", json=body, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_required"
    r1 = client.post("/api/v1/cases", json=body, headers={**h, "Idempotency-Key": "k-000000001"})
    r2 = client.post("/api/v1/cases", json=body, headers={**h, "Idempotency-Key": "k-000000001"})
    assert r1.status_code == 201 and r2.status_code == 200 and r1.json()["id"] == r2.json()["id"]
    bad = client.post(
        "/api/v1/cases",
        json={**body, "form_data": {"applicant_name": name}},
        headers={**h, "Idempotency-Key": "k-000000002"},
    )
    assert bad.status_code == 422 and bad.json()["code"] == "form_invalid" and bad.json()["details"]
    for i in range(3, 6):
        assert (
            client.post(
                "/api/v1/cases", json=body, headers={**h, "Idempotency-Key": f"k-00000000{i}"}
            ).status_code
            == 201
        )
    mine = client.get("/api/v1/cases", headers=h).json()
    assert len(mine["items"]) == 4
    case_id = r1.json()["id"]

    client.cookies.clear()
    hc: dict = {}
    builders.login(client, "clerk1")
    page1 = client.get("/api/v1/cases?queue=to_accept&limit=3", headers=hc).json()
    assert len(page1["items"]) == 3 and page1["next"]
    page2 = client.get(
        f"/api/v1/cases?queue=to_accept&limit=3&before={page1['next']}", headers=hc
    ).json()
    assert len(page2["items"]) == 1 and page2["next"] is None
    detail = client.get(f"/api/v1/cases/{case_id}", headers=hc).json()
    assert {a["action"] for a in detail["actions"]} == {"accept", "reject", "request_correction"}
    assert detail["form_data"]["applicant_id_number"] == number  # the clerk needs the full number
    r = client.post(f"/api/v1/cases/{case_id}/actions/accept", json={}, headers=hc)
    assert r.status_code == 200 and r.json()["state"] == "reviewing"
    r = client.post(f"/api/v1/cases/{case_id}/actions/accept", json={}, headers=hc)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    r = client.post(f"/api/v1/cases/{case_id}/actions/fly", json={}, headers=hc)
    assert r.status_code == 422 and r.json()["code"] == "unknown_action"
    counts = client.get("/api/v1/cases/queues", headers=hc).json()
    assert counts["to_accept"]["count"] == 3 and counts["to_review"]["count"] == 1
    ex = client.get(f"/api/v1/cases/{case_id}/exchange", headers=hc).json()
    assert (
        ex["申请"]["申报来源"] == "1"
        and ex["受理"]["受理时间"]
        and ex["办理"][0]["业务动作"] == "4"
    )

    client.cookies.clear()
    hs: dict = {}
    builders.login(client, "sup1")
    masked = client.get(f"/api/v1/cases/{case_id}", headers=hs).json()
    assert (
        masked["form_data"]["applicant_id_number"] != number
        and "*" in masked["form_data"]["applicant_id_number"]
    )
    assert masked["actions"] == []

    client.cookies.clear()
    ho: dict = {}
    builders.login(client, "approver_other")
    assert client.get(f"/api/v1/cases/{case_id}", headers=ho).status_code == 404
    assert client.get("/api/v1/cases", headers=ho).json()["items"] == []
    assert (
        client.post(f"/api/v1/cases/{case_id}/actions/pass_step", json={}, headers=ho).status_code
        == 404
    )

    client.cookies.clear()
    assert client.get("/api/v1/cases").status_code == 401


async def test_worklist_filters_are_validated_and_documented(world, client):
    builders.login(client, "clerk1")
    r = client.get("/api/v1/cases?limit=0")
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    assert r.json()["details"][0]["field"] == "limit"
    r = client.get("/api/v1/cases?before=abc")
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "before"
    assert client.get("/api/v1/cases?queue=bogus").json()["code"] == "queue_invalid"
    assert (
        client.get("/api/v1/cases?applicant=%25_").json()["items"] == []
    )  # a literal prefix, not a pattern
    params = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/cases"]["get"][
        "parameters"
    ]
    assert {"queue", "state", "before", "limit", "submitted_from"} <= {p["name"] for p in params}
    counts = client.get("/api/v1/cases/queues").json()
    assert set(counts) == {
        "to_accept",
        "to_review",
        "to_decide",
        "to_deliver",
        "corrections",
        "paused",
        "yellow",
        "red",
    }


async def test_submit_body_errors_are_reported_per_field(world, client):
    impl_id, name, number = world
    builders.login(client, "applicant1")
    h = {"Idempotency-Key": "k-body-0001", "content-type": "application/json"}
    r = client.post("/api/v1/cases", content=b"{not json", headers=h)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    r = client.post("/api/v1/cases", json={"form_data": _form(name, number)}, headers=h)
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "implementation_id"
    r = client.post("/api/v1/cases", json={"implementation_id": impl_id, "surprise": 1}, headers=h)
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "surprise"
    r = client.post("/api/v1/cases", content=b"", headers=h)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    doc = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/cases"]["post"]
    assert (
        "implementation_id"
        in doc["requestBody"]["content"]["application/json"]["schema"]["properties"]
    )
    assert any(p["name"] == "Idempotency-Key" for p in doc["parameters"])
    client.cookies.clear()
    assert (
        client.post("/api/v1/cases", json={"implementation_id": impl_id}, headers=h).status_code
        == 401
    )


async def test_api_refuses_a_claimed_licence_replacement(world, client):
    impl_id, name, number = world
    builders.login(client, "applicant1")
    body = {
        "implementation_id": impl_id,
        "form_data": _form(name, number),
        "materials": [{"name": "营业执照", "replaced_by": "licence:1"}],
    }
    r = client.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "claim-0000001"})
    assert r.status_code == 422 and r.json()["code"] == "replaced_by_not_allowed"
