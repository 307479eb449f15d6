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
    for q in (
        "submitted_from=0001-01-01",
        "submitted_to=9999-12-31",
    ):  # a 500 / PostgreSQL-only 422
        r = client.get(f"/api/v1/cases?{q}")
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text
        assert r.json()["details"][0]["field"] == q.split("=")[0]
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


async def test_api_materials_are_typed_and_must_be_uploaded(world, client, session):
    """A material an API client names: a name, a sha256 that was uploaded, no
    licence claim — on submission and on resubmission after a correction."""
    from sqlalchemy import func, select

    from tongban.cases.models import Case, CaseMaterial

    impl_id, name, number = world
    csrf = builders.login(client, "applicant1")["csrf_token"]
    base = {"implementation_id": impl_id, "form_data": _form(name, number)}
    unknown = "ab" * 32  # well-formed, never uploaded (a foreign key to the stored files)
    for n, (materials, code, field) in enumerate(
        [
            ([{}], "validation_failed", "materials.0.name"),
            (["营业执照"], "validation_failed", "materials.0"),
            ([{"name": "营业执照", "sha256": "x"}], "validation_failed", "materials.0.sha256"),
            ([{"name": "营业执照", "file": "a.pdf"}], "validation_failed", "materials.0.file"),
            (
                [{"name": "营业执照", "sha256": unknown}],
                "material_file_unknown",
                "materials.0.sha256",
            ),
        ]
    ):
        r = client.post(
            "/api/v1/cases",
            json={**base, "materials": materials},
            headers={"Idempotency-Key": f"mat-bad-{n:05d}"},
        )
        assert r.status_code == 422 and r.json()["code"] == code, r.text
        assert field in {d["field"] for d in r.json()["details"]}, r.text
    assert await session.scalar(select(func.count()).select_from(Case)) == 0

    up = client.post(
        "/api/v1/uploads",
        files={"file": ("营业执照.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
        headers={"X-CSRF-Token": csrf},
    )
    assert up.status_code == 201, up.text
    sha = up.json()["sha256"]
    r = client.post(
        "/api/v1/cases",
        json={**base, "materials": [{"name": "营业执照", "sha256": sha}]},
        headers={"Idempotency-Key": "mat-good-0001"},
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]

    # a correction, then resubmissions with the same rules
    client.cookies.clear()
    builders.login(client, "clerk1")
    items = [{"kind": "material", "name": "营业执照", "reason": "不清晰"}]
    r = client.post(f"/api/v1/cases/{case_id}/actions/request_correction", json={"items": items})
    assert r.status_code == 200 and r.json()["state"] == "correction", r.text
    client.cookies.clear()
    builders.login(client, "applicant1")
    act = f"/api/v1/cases/{case_id}/actions/resubmit"
    for materials, code in [
        ([{"name": "营业执照", "replaced_by": "licence:1"}], "replaced_by_not_allowed"),
        ([{"name": "营业执照", "sha256": unknown}], "material_file_unknown"),
        ("营业执照", "validation_failed"),
        ([{"name": 5}], "validation_failed"),
    ]:
        r = client.post(act, json={"materials": materials})
        assert r.status_code == 422 and r.json()["code"] == code, r.text
    assert client.get(f"/api/v1/cases/{case_id}").json()["state"] == "correction"
    r = client.post(act, json={"materials": [{"name": "营业执照", "sha256": sha}]})
    assert r.status_code == 200 and r.json()["state"] == "submitted", r.text
    rounds = (await session.execute(select(CaseMaterial.round, CaseMaterial.file_sha256))).all()
    assert sorted(rounds) == [(0, sha), (1, sha)]


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("suspend", {"kind": ["hearing"], "reason": "听证"}, "kind"),
        ("deliver", {"method": {"post": 1}}, "method"),
        ("extend", {"days": "5", "reason": "延期"}, "days"),
        ("extend", {"days": 2.5, "reason": "延期"}, "days"),
        ("reject", {"reason": ["材料不全"]}, "reason"),
        ("reject", {"reason": "理" * 2001}, "reason"),
        ("reject", {"reasons": "材料不全"}, "reasons"),
        (
            "request_correction",
            {"items": [{"kind": "material", "name": ["营业执照"], "reason": "缺"}]},
            "items.0.name",
        ),
        ("request_correction", {"items": "营业执照"}, "items"),
    ],
)
async def test_action_bodies_are_typed(world, client, action, body, field):
    """A value of the wrong type is a 422 naming its field, never a 500 (a list
    for ``kind`` was one: unhashable) nor quietly turned into text."""
    impl_id, name, number = world
    builders.login(client, "applicant1")
    r = client.post(
        "/api/v1/cases",
        json={"implementation_id": impl_id, "form_data": _form(name, number)},
        headers={"Idempotency-Key": "typed-000001"},
    )
    case_id = r.json()["id"]
    client.cookies.clear()
    builders.login(client, "clerk1")
    r = client.post(f"/api/v1/cases/{case_id}/actions/{action}", json=body)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text
    assert field in {d["field"] for d in r.json()["details"]}, r.text
    assert client.get(f"/api/v1/cases/{case_id}").json()["trail"][-1]["action"] == "submit"
