"""免证办: an application whose material a licence the applicant holds replaces needs
no upload; the case records which materials were replaced, the trail the authorised
use, the holder's licence its use; the case's staff open it through the case;
减材料 counts it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests import builders
from tests.catalogue.helpers import admin, published_impl, published_item
from tests.licences import helpers
from tests.web.conftest import csrf_from, page_login
from tongban.cases import service as cases
from tongban.cases.models import Case, CaseMaterial, CaseTrail
from tongban.identity.models import Person
from tongban.identity.service import actor_for_account
from tongban.licences import reuse, service
from tongban.licences.wallet_models import LicenceShare, LicenceUse
from tongban.regions.models import Department

pytestmark = pytest.mark.asyncio


async def _world(s):
    """An item whose materials are: an application form (upload), the 食品经营许可证
    (replaced by the licence type), the applicant's ID card (shared data)."""
    w = await helpers.world(s)
    a = await admin(s)
    item = await published_item(
        s,
        a,
        name="食品经营许可延续",
        service_objects=["1"],
        materials=[
            {"name": "食品经营许可延续申请书", "issuer": "申请人自备", "originals": 1},
            {"name": "食品经营许可证", "issuer": "市场监管部门", "licence_type_code": w.type_code},
            {"name": "居民身份证", "issuer": "公安机关", "data_element": "person.id_number"},
        ],
    )
    impl = await published_impl(s, a, item)
    dept = await s.get(Department, impl.department_id)
    clerk = await actor_for_account(
        s,
        await builders.staff(s, roles=["clerk"], dept=dept, username="reuse.clerk"),
        via="session",
    )
    leader = await actor_for_account(
        s, await builders.staff(s, roles=["leader"], region=builders.JINAN), via="session"
    )
    lic = await helpers.issue(s, w)
    person = await s.get(Person, w.person.id)
    person.real_name_level = 2  # checked against the population data: the ID card is shared data
    await s.commit()
    return w, impl, lic, clerk, leader


def _hidden(html: str, name: str) -> str:
    m = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert m, name
    return m.group(1)


async def test_apply_with_a_wallet_licence_needs_no_upload_and_records_the_authorised_use(
    session, client
):
    w, impl, lic, _clerk, leader = await _world(session)
    page_login(client, w.citizen_acc.username)
    html = client.get(f"/apply/{impl.id}").text
    m = re.search(r'id="wallet-offers" hx-get="([^"]+)"', html)
    assert m, "the apply page loads the wallet offer"
    offers = client.get(m.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert offers.status_code == 200
    assert f'name="_mat.1" value="licence:{lic.id}"' in offers.text and lic.number in offers.text
    assert (
        'name="_mat.2" value="data:person.id_number"' in offers.text and "实名核验" in offers.text
    )
    assert "同意" in offers.text  # ticking is the consent
    data = {
        "csrf_token": csrf_from(html),
        "_key": _hidden(html, "_key"),
        "phone": "13800138000",
        "_mat.1": f"licence:{lic.id}",
        "_mat.2": "data:person.id_number",
    }
    r = client.post(f"/apply/{impl.id}", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    case_id = int(r.headers["location"].split("/")[3].split("?")[0])
    again = client.post(f"/apply/{impl.id}", data=data, follow_redirects=False)
    assert again.headers["location"] == r.headers["location"]  # idempotent: one case, one share
    mats = (
        (
            await session.execute(
                select(CaseMaterial)
                .where(CaseMaterial.case_id == case_id)
                .order_by(CaseMaterial.id)
            )
        )
        .scalars()
        .all()
    )
    assert [(m.name, m.file_sha256, m.replaced_by) for m in mats] == [
        ("食品经营许可证", None, f"licence:{lic.id}"),
        ("居民身份证", None, "data:person.id_number"),
    ]
    trail = (
        (await session.execute(select(CaseTrail).where(CaseTrail.case_id == case_id)))
        .scalars()
        .all()
    )
    assert trail[0].action == "submit"
    uses = trail[0].data["authorised_use"]
    assert uses[0] == {
        "material": "食品经营许可证",
        "kind": "licence",
        "licence_id": lic.id,
        "licence_name": lic.name,
        "number": lic.number,
        "identifier": lic.identifier,
        "issuer": lic.issuer_name,
    }
    assert uses[1]["kind"] == "data" and uses[1]["element"] == "person.id_number"
    shares = (
        (await session.execute(select(LicenceShare).where(LicenceShare.case_id == case_id)))
        .scalars()
        .all()
    )
    assert (
        len(shares) == 1
        and shares[0].kind == "case"
        and shares[0].material_name == "食品经营许可证"
    )
    assert shares[0].recipient == (await session.get(Department, impl.department_id)).name
    # the case page shows what was replaced, and the trail the authorised use
    page = client.get(f"/me/cases/{case_id}").text
    assert (
        "以电子证照替代" in page
        and f"/cases/{case_id}/licences/{lic.id}" in page
        and "以共享数据替代" in page
    )
    assert "用证授权：材料「食品经营许可证」以电子证照" in page
    assert client.get(f"/cases/{case_id}/licences/{lic.id}").status_code == 200  # the applicant too
    # the holder's licence page lists the use
    assert "免提交材料（办件引用）" in client.get(f"/me/licences/{lic.id}").text
    # the case's staff open the licence through the case: logged for the holder
    client.cookies.clear()
    page_login(client, "reuse.clerk")
    r = client.get(f"/cases/{case_id}/licences/{lic.id}")
    assert r.status_code == 200 and lic.number in r.text and "使用记录" in r.text
    kinds = (
        (
            await session.execute(
                select(LicenceUse.kind)
                .where(LicenceUse.licence_id == lic.id)
                .order_by(LicenceUse.id)
            )
        )
        .scalars()
        .all()
    )
    assert kinds == ["case_attach", "case_view"]
    assert client.get(f"/cases/{case_id}/licences/{lic.id + 999}").status_code == 404
    # 减材料
    assert await reuse.materials_saved(session, leader, builders.JINAN) == 2
    assert await reuse.materials_saved(session, leader, builders.QINGDAO_SHINAN) == 0
    # revoked by the holder: staff can no longer open it
    await session.execute(select(LicenceShare))  # (fresh read below)
    holder = w.citizen
    from tongban.licences import wallet

    await wallet.revoke_share(session, holder, lic.id, shares[0].id)
    await session.commit()
    r = client.get(f"/cases/{case_id}/licences/{lic.id}")
    assert r.status_code == 404 and "撤销" in r.text


async def test_choices_are_checked_on_the_server(session, client):
    w, impl, lic, _clerk, _leader = await _world(session)
    other_person, other_acc = await builders.citizen(session)
    theirs = await helpers.issue(session, w, holder_person_id=other_person.id)
    other_type = helpers.type_code()
    from tongban.licences.schemas import LicenceTypeCreate

    await service.create_type(
        session,
        w.admin,
        LicenceTypeCreate(
            code=other_type,
            name="其他许可证",
            holder_kind="person",
            issuing_department_ids=[w.dept.id],
            field_schema=helpers.SCHEMA,
        ),
    )
    wrong_type = await service.issue(
        session,
        w.approver,
        type_code=other_type,
        data=dict(helpers.DATA),
        holder_person_id=w.person.id,
    )
    revoked = await helpers.issue(session, w)
    await service.revoke(session, w.approver, revoked.id, reason="依法吊销")
    await session.commit()
    page_login(client, w.citizen_acc.username)
    for value, words in (
        (f"licence:{theirs.id}", "不存在或不属于您"),
        (f"licence:{wrong_type.id}", "不是材料「食品经营许可证」要求的证照类型"),
        (f"licence:{revoked.id}", "已吊销"),
        ("licence:abc", "不存在或不属于您"),
    ):
        html = client.get(f"/apply/{impl.id}").text
        r = client.post(
            f"/apply/{impl.id}",
            data={
                "csrf_token": csrf_from(html),
                "_key": _hidden(html, "_key"),
                "phone": "13800138000",
                "_mat.1": value,
            },
        )
        assert r.status_code == 422 and words in r.text, (value, r.text[:300])
    html = client.get(f"/apply/{impl.id}").text
    r = client.post(
        f"/apply/{impl.id}",
        data={
            "csrf_token": csrf_from(html),
            "_key": _hidden(html, "_key"),
            "phone": "13800138000",
            "_mat.0": f"licence:{lic.id}",
        },
    )
    assert r.status_code == 422 and "不能以电子证照替代" in r.text
    assert (await session.execute(select(Case.id))).first() is None
    # an identity not checked against the population data is not offered, nor accepted
    person = await session.get(Person, w.person.id)
    person.real_name_level = 1
    await session.commit()
    html = client.get(f"/apply/{impl.id}").text
    r = client.post(
        f"/apply/{impl.id}",
        data={
            "csrf_token": csrf_from(html),
            "_key": _hidden(html, "_key"),
            "phone": "13800138000",
            "_mat.2": "data:person.id_number",
        },
    )
    assert r.status_code == 422 and "未能获取「居民身份证」所需的共享数据" in r.text
    offers = client.get(f"/me/licences/offers?impl={impl.id}", headers={"HX-Request": "true"}).text
    assert "data:person.id_number" not in offers and f"licence:{lic.id}" in offers
    # without a choice the cases module files the application as before
    html = client.get(f"/apply/{impl.id}").text
    r = client.post(
        f"/apply/{impl.id}",
        data={"csrf_token": csrf_from(html), "_key": _hidden(html, "_key"), "phone": "13800138000"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    client.cookies.clear()
    page_login(client, other_acc.username)
    offers = client.get(f"/me/licences/offers?impl={impl.id}", headers={"HX-Request": "true"}).text
    assert f"licence:{theirs.id}" in offers and f"licence:{lic.id}" not in offers


async def test_the_api_files_with_wallet_choices(session, client):
    w, impl, lic, _clerk, leader = await _world(session)
    builders.login(client, w.citizen_acc.username)
    r = client.get("/api/v1/me/licence-offers", params={"implementation_id": impl.id})
    assert r.status_code == 200
    items = {i["index"]: i for i in r.json()["items"]}
    assert (
        items[1]["licences"][0]["choice"] == f"licence:{lic.id}"
        and items[2]["data_choice"] == "data:person.id_number"
    )
    form = {
        "applicant_name": w.person.name,
        "applicant_id_number": w.person.id_number,
        "phone": "13800138000",
    }
    body = {
        "implementation_id": impl.id,
        "form_data": form,
        "choices": {"1": f"licence:{lic.id}"},
        "consent": True,
    }
    assert (
        client.post("/api/v1/me/licence-applications", json=body).json()["code"]
        == "idempotency_key_required"
    )
    r = client.post(
        "/api/v1/me/licence-applications",
        json=body | {"consent": False},
        headers={"Idempotency-Key": "reuse-api-0001"},
    )
    assert r.status_code == 422 and r.json()["code"] == "consent_required"
    r = client.post(
        "/api/v1/me/licence-applications", json=body, headers={"Idempotency-Key": "reuse-api-0001"}
    )
    assert r.status_code == 201, r.text
    again = client.post(
        "/api/v1/me/licence-applications", json=body, headers={"Idempotency-Key": "reuse-api-0001"}
    )
    assert again.status_code == 200 and again.json()["case_id"] == r.json()["case_id"]
    detail = client.get(f"/api/v1/cases/{r.json()['case_id']}").json()
    assert detail["materials"] == [
        {"name": "食品经营许可证", "sha256": None, "replaced_by": f"licence:{lic.id}", "round": 0}
    ]
    assert detail["trail"][0]["data"]["authorised_use"][0]["licence_id"] == lic.id
    assert await reuse.materials_saved(session, leader, builders.JINAN) == 1
    # the service path for other channels
    case, created = await reuse.file_with_choices(
        session,
        w.citizen,
        implementation_id=impl.id,
        form_data=form,
        idempotency_key="reuse-svc-0001",
        channel="mobile",
        enterprise_id=None,
        materials={"1": f"licence:{lic.id}"},
    )
    assert created and case.channel == "mobile"
    await session.commit()
    assert (
        len(
            (
                await session.execute(
                    select(LicenceShare.id).where(LicenceShare.licence_id == lic.id)
                )
            ).all()
        )
        == 2
    )
    submitted = await cases.get_case(session, w.citizen, case.id)
    assert submitted.state == "submitted"
