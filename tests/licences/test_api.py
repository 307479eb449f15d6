"""Licence API and pages: keys, verification, issuance by staff, pages, PDF, privacy of keys."""

from __future__ import annotations

import base64
import logging

import pytest
from sqlalchemy import func, select

from tests import builders
from tests.licences import helpers
from tongban.licences import crypto, service
from tongban.licences.models import Seal, VerificationLog

pytestmark = pytest.mark.asyncio


async def _setup(session, alg="ed25519"):
    w = await helpers.world(session, algorithm=alg)
    lic = await helpers.issue(session, w)
    users = {}
    for name, actor in (("approver", w.approver), ("citizen", w.citizen), ("clerk", w.clerk)):
        users[name] = actor
    await session.commit()
    return w, lic


def _login(client, actor_account_username):
    return builders.login(client, actor_account_username)


async def _username(session, account_id):
    from tongban.identity.models import Account

    return (await session.get(Account, account_id)).username


async def test_public_keys_publish_public_material_only(session, client):
    w, _lic = await _setup(session, "sm2")
    r = client.get("/api/v1/licences/keys")
    assert r.status_code == 200 and "max-age" in r.headers["cache-control"]
    body = r.json()
    kinds = {k["kind"] for k in body["keys"]}
    assert kinds == {"maker", "department"}
    dept = next(k for k in body["keys"] if k["kind"] == "department")
    assert (
        dept["kty"] == "EC"
        and dept["crv"] == "SM2"
        and dept["alg"] == "SM2-SM3"
        and dept["x"]
        and dept["y"]
    )
    assert (
        dept["issuer_code"] == w.dept.credit_code
        and dept["seal"]["sealInfo"]["esID"] == dept["esid"]
    )
    seals = (await session.execute(select(Seal))).scalars().all()
    text = r.text
    for s in seals:
        assert s.private_key_enc and s.private_key_enc not in text
        raw = crypto.keystore().signer(
            algorithm=s.algorithm, key_id=s.key_id, private_key_enc=s.private_key_enc, key_ref=""
        )
        assert raw is not None
    assert "PRIVATE" not in text and "private" not in text.lower()


async def test_verify_api_answers_each_status(session, client):
    w, lic = await _setup(session)
    r = client.post("/api/v1/licences/verify", json={"identifier": lic.identifier})
    assert (
        r.status_code == 200
        and r.json()["result"] == "valid"
        and r.json()["method"] == "identifier"
    )
    r = client.post("/api/v1/licences/verify", json={"payload": lic.qr_payload})
    assert r.json()["result"] == "valid" and r.json()["signature_checked"] is True
    r = client.post(
        "/api/v1/licences/verify",
        json={"identifier": lic.identifier[:-1] + ("A" if lic.identifier[-1] != "A" else "B")},
    )
    assert (
        r.status_code == 422
        and r.json()["code"] == "licence_identifier_check_failed"
        and "校验位" in r.json()["message"]
    )
    r = client.post("/api/v1/licences/verify", json={})
    assert r.status_code == 422 and r.json()["code"] == "verify_input_required"
    r = client.post(
        "/api/v1/licences/verify",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    r = client.post("/api/v1/licences/verify", json={"payload": "TB1.abc.def"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_licence_payload"
    r = client.post("/api/v1/licences/verify", json={"payload": "x", "extra": 1})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "extra"
    from tongban.licences import identifier as ident_mod

    p = ident_mod.parse(lic.identifier)
    unknown = str(
        ident_mod.make(p.type_code, p.issuer_code, "29990000001", 1, validate_codes=False)
    )
    assert (
        client.post("/api/v1/licences/verify", json={"identifier": unknown}).json()["result"]
        == "not_found"
    )
    await service.revoke(session, w.approver, lic.id, reason="依法吊销")
    await session.commit()
    assert (
        client.post("/api/v1/licences/verify", json={"identifier": lic.identifier}).json()["result"]
        == "revoked"
    )
    logged = (await session.execute(select(func.count()).select_from(VerificationLog))).scalar()
    assert (
        logged == 6
    )  # every verification attempt, the refused ones included (not the empty or malformed requests)


async def test_verify_page_in_plain_chinese(session, client):
    _w, lic = await _setup(session)
    r = client.get(f"/verify?p={lic.qr_payload}")
    assert (
        r.status_code == 200
        and "真实有效" in r.text
        and "食品经营许可证" in r.text
        and "张*试" in r.text
    )
    r = client.get("/verify", params={"q": lic.identifier})
    assert "真实有效" in r.text
    r = client.get("/verify", params={"q": "1.2.156.3005.2.abc"})
    assert r.status_code == 200 and "证照标识" in r.text and "notice error" in r.text
    r = client.get("/verify")
    assert r.status_code == 200 and "二维码内容或证照标识" in r.text
    rows = (await session.execute(select(VerificationLog.channel))).scalars().all()
    assert rows.count("page") == 3


async def test_licence_page_and_pdf_for_holder_and_staff_only(session, client):
    w, lic = await _setup(session)
    builders.login(client, await _username(session, w.citizen.account_id))
    r = client.get(f"/licences/{lic.id}")
    assert (
        r.status_code == 200
        and lic.number in r.text
        and w.person.id_number in r.text
        and "data:image/svg+xml" in r.text
    )
    assert (
        "<svg" in r.text and "下载 PDF" in r.text and "吊销或注销" not in r.text
    )  # holders cannot revoke
    r = client.get(f"/licences/{lic.id}.pdf")
    assert (
        r.status_code == 200
        and r.content.startswith(b"%PDF")
        and r.headers["content-type"] == "application/pdf"
    )
    assert r.headers["cache-control"] == "private, no-store"
    r = client.get(f"/api/v1/licences/{lic.id}")
    assert (
        r.status_code == 200
        and r.json()["holder_code"] == w.person.id_number
        and r.json()["history"][0]["action"] == "issue"
    )
    assert client.get("/api/v1/licences").json()["items"][0]["id"] == lic.id
    client.cookies.clear()
    _p, acc = await builders.citizen(session)
    await session.commit()
    builders.login(client, acc.username)
    assert client.get(f"/licences/{lic.id}").status_code == 404
    assert client.get(f"/licences/{lic.id}.pdf").status_code == 404
    assert client.get(f"/api/v1/licences/{lic.id}").status_code == 404
    assert client.get("/api/v1/licences").json()["items"] == []
    client.cookies.clear()
    assert client.get(f"/api/v1/licences/{lic.id}").status_code == 401


async def test_staff_issue_change_revoke_through_the_api(session, client):
    w = await helpers.world(session)
    await session.commit()
    builders.login(client, await _username(session, w.approver.account_id))
    r = client.post(
        "/api/v1/licences",
        json={"type_code": w.type_code, "holder_person_id": w.person.id, "data": helpers.DATA},
    )
    assert r.status_code == 201, r.text
    lic = r.json()
    assert (
        lic["version"] == 1
        and lic["status"] == "valid"
        and lic["holder_code"] == w.person.id_number
    )
    r = client.post(
        f"/api/v1/licences/{lic['id']}/change",
        json={"reason": "变更经营项目", "data": {**helpers.DATA, "scope": "预包装食品销售"}},
    )
    assert (
        r.status_code == 200
        and r.json()["version"] == 2
        and r.json()["identifier"] != lic["identifier"]
    )
    r = client.post(f"/api/v1/licences/{lic['id']}/revoke", json={"reason": "x"})
    assert r.status_code == 422
    r = client.post(f"/api/v1/licences/{lic['id']}/revoke", json={"reason": "违法经营，依法吊销"})
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    r = client.post(f"/api/v1/licences/{lic['id']}/annul", json={"reason": "再次注销"})
    assert r.status_code == 409
    r = client.post(
        "/api/v1/licences",
        json={"type_code": w.type_code, "holder_person_id": w.person.id, "data": {}},
    )
    assert r.status_code == 422 and {d["field"] for d in r.json()["details"]} == {
        "business_name",
        "address",
    }
    client.cookies.clear()
    builders.login(client, await _username(session, w.citizen.account_id))
    r = client.post(
        "/api/v1/licences",
        json={"type_code": w.type_code, "holder_person_id": w.person.id, "data": helpers.DATA},
    )
    assert r.status_code == 403


async def test_revoke_from_the_licence_page(session, client):
    w, lic = await _setup(session)
    login = builders.login(client, await _username(session, w.approver.account_id))
    page = client.get(f"/licences/{lic.id}")
    assert page.status_code == 200 and "吊销或注销" in page.text
    r = client.post(
        f"/licences/{lic.id}/status",
        data={"csrf_token": login["csrf_token"], "action": "revoke", "reason": ""},
    )
    assert r.status_code == 422 and "请填写原因" in r.text
    r = client.post(
        f"/licences/{lic.id}/status",
        data={"csrf_token": login["csrf_token"], "action": "revoke", "reason": "违法经营"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "已吊销" in client.get(r.headers["location"]).text
    r = client.post(
        f"/licences/{lic.id}/status",
        data={"csrf_token": "wrong", "action": "annul", "reason": "违法经营"},
    )
    assert r.status_code == 403


async def test_types_and_seals_api(session, client):
    w = await helpers.world(session)
    await session.commit()
    admin_name = await _username(session, w.admin.account_id)
    builders.login(client, admin_name)
    code = helpers.type_code()
    body = {
        "code": code,
        "name": "结婚证",
        "holder_kind": "person",
        "issuing_department_ids": [w.dept.id],
        "field_schema": {
            "type": "object",
            "properties": {"spouse": {"type": "string", "title": "配偶"}},
        },
    }
    r = client.post("/api/v1/licence-types", json=body)
    assert r.status_code == 201 and r.json()["code"] == code and r.json()["validity_years"] is None
    assert client.post("/api/v1/licence-types", json=body).status_code == 409
    bad = {
        **body,
        "code": helpers.type_code(),
        "field_schema": {"type": "object", "properties": {"a": {"type": "nonsense"}}},
    }
    r = client.post("/api/v1/licence-types", json=bad)
    assert r.status_code == 422 and r.json()["code"] == "invalid_field_schema"
    r = client.post("/api/v1/licence-types", json={**body, "code": "123"})
    assert r.status_code == 422
    r = client.patch(
        f"/api/v1/licence-types/{r.json().get('id', 0) or 1}", json={"reminder_days": [60]}
    )
    assert r.status_code in (200, 404)
    r = client.post("/api/v1/licence-seals", json={"department_id": w.dept.id, "algorithm": "sm2"})
    assert r.status_code == 201 and r.json()["algorithm"] == "sm2"
    listed = client.get(f"/api/v1/licence-seals?department_id={w.dept.id}").json()["items"]
    assert [s["status"] for s in listed] == ["retired", "active"]
    assert all("private" not in k for s in listed for k in s)
    client.cookies.clear()
    builders.login(client, await _username(session, w.approver.account_id))
    assert (
        client.post("/api/v1/licence-types", json={**body, "code": helpers.type_code()}).status_code
        == 403
    )
    assert (
        client.post("/api/v1/licence-seals", json={"department_id": w.dept.id}).status_code == 403
    )


async def test_private_keys_never_reach_the_logs(session, client, caplog):
    caplog.set_level(logging.DEBUG)
    w, lic = await _setup(session, "sm2")
    await service.create_seal(session, w.head, w.dept.id, algorithm="ed25519")
    await session.commit()
    client.post("/api/v1/licences/verify", json={"payload": lic.qr_payload})
    client.get("/api/v1/licences/keys")
    seals = (await session.execute(select(Seal))).scalars().all()
    secrets = []
    for s in seals:
        der = crypto.keystore().decrypt(s.private_key_enc, key_id=s.key_id)
        secrets += [
            der.hex(),
            base64.b64encode(der).decode()[:40],
            crypto.b64u(der)[:40],
            s.private_key_enc,
        ]
    text = caplog.text + "\n".join(repr(r.__dict__) for r in caplog.records)
    assert secrets and not any(sec in text for sec in secrets)


async def test_workbench_issue_by_hand(session, client):
    w = await helpers.world(session)
    await session.commit()
    login = builders.login(client, await _username(session, w.approver.account_id))
    page = client.get("/workbench/licences")
    assert page.status_code == 200 and "食品经营许可证" in page.text and "还没有颁发" in page.text
    form = client.get(f"/workbench/licences/issue?type={w.type_code}")
    assert (
        form.status_code == 200
        and "经营者名称（必填）" in form.text
        and "持证人公民身份号码" in form.text
    )
    base = {
        "csrf_token": login["csrf_token"],
        "type_code": w.type_code,
        "holder_code": w.person.id_number,
    }
    r = client.post("/workbench/licences/issue", data={**base, "f_business_name": "泉城小吃店"})
    assert r.status_code == 422 and "必填项未填写" in r.text and 'value="泉城小吃店"' in r.text
    r = client.post(
        "/workbench/licences/issue",
        data={
            **base,
            "holder_code": "110101199003071234",
            "f_business_name": "a",
            "f_address": "b",
        },
    )
    assert r.status_code == 422 and "未找到该持证主体" in r.text
    r = client.post(
        "/workbench/licences/issue",
        data={
            **base,
            "f_business_name": "泉城小吃店",
            "f_address": "泉城路 1 号",
            "valid_until": "2030-12-31",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    shown = client.get(r.headers["location"])
    assert (
        shown.status_code == 200 and "2030年12月31日" in shown.text and "吊销或注销" in shown.text
    )
    listed = client.get("/workbench/licences").text
    assert "张测试" in listed and "有效" in listed
    assert client.get("/workbench/licences/issue?type=" + helpers.type_code()).status_code == 404
    client.cookies.clear()
    builders.login(client, await _username(session, w.citizen.account_id))
    assert client.get("/workbench/licences").status_code == 403


async def test_a_type_cannot_be_given_a_layout_or_schema_that_breaks_issuing(session, client):
    """A 版式 or 照面 schema accepted once broke every later issue with a 500:
    ``qr_fields`` as an object, ``title`` as an object, an unresolvable ``$ref``.
    They are refused when set, naming the field; a colour is a colour."""
    w = await helpers.world(session)
    await session.commit()
    builders.login(client, await _username(session, w.admin.account_id))
    type_id = client.get("/api/v1/licence-types").json()["items"][0]["id"]
    before = client.get(f"/api/v1/licence-types/{type_id}").json()
    for body, code, field in [
        ({"template": {"qr_fields": {"a": 1}}}, "validation_failed", "template.qr_fields"),
        ({"template": {"title": {"a": 1}}}, "validation_failed", "template.title"),
        ({"template": {"color": "red;background:url(x)"}}, "validation_failed", "template.color"),
        (
            {"template": {"qr_fields": ["a", "b", "c", "d", "e"]}},
            "validation_failed",
            "template.qr_fields",
        ),
        ({"template": {"layout": "x"}}, "validation_failed", "template.layout"),
        (
            {"field_schema": {"type": "object", "properties": {"x": {"$ref": "#/nowhere"}}}},
            "invalid_field_schema",
            None,
        ),
        (
            {"field_schema": {"type": "object", "properties": {"x": {"$ref": "https://x/s.json"}}}},
            "invalid_field_schema",
            None,
        ),
    ]:
        r = client.patch(f"/api/v1/licence-types/{type_id}", json=body)
        assert r.status_code == 422 and r.json()["code"] == code, (body, r.text)
        if field:
            assert field in {d["field"] for d in r.json()["details"]}, r.text
    assert client.get(f"/api/v1/licence-types/{type_id}").json() == before
    r = client.patch(
        f"/api/v1/licence-types/{type_id}",
        json={
            "template": {
                "title": "食品经营许可证",
                "qr_fields": ["business_name"],
                "color": "#8a1c1c",
            }
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["template"]["color"] == "#8a1c1c"
