"""A case approved for an item whose result is a licence issues a sealed licence
(outbox handler on ``case.decide``); it verifies online and offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

import tongban.licences.handlers  # noqa: F401 -- subscribe before cases record events
from tests import builders
from tests.catalogue.helpers import admin, published_impl, published_item
from tests.licences import helpers
from tongban.cases import service as cases
from tongban.cases.models import Notification
from tongban.core.outbox import OutboxDelivery
from tongban.core.worker import run_once
from tongban.identity.service import actor_for_account
from tongban.licences import crypto, payload, service
from tongban.licences.models import Licence
from tongban.licences.schemas import LicenceTypeCreate
from tongban.regions.models import Department

pytestmark = pytest.mark.asyncio
REPO = Path(__file__).resolve().parents[2]
VERIFIER = REPO / "tools" / "verify_licence.py"

SCHEMA = {
    "type": "object",
    "properties": {
        "holder": {"type": "string", "title": "持证人"},
        "item": {"type": "string", "title": "许可事项"},
        "case_number": {"type": "string", "title": "办件编号"},
        "phone": {"type": "string", "title": "联系电话"},
        "decided_on": {"type": "string", "title": "决定日期"},
    },
    "required": ["holder", "item", "case_number"],
}


async def _world(s, *, algorithm: str = "ed25519", register_type: bool = True):
    a = await admin(s)
    code = helpers.type_code()
    item = await published_item(
        s,
        a,
        name="公共场所卫生许可",
        service_objects=["1", "2"],
        result={"kind": "licence", "name": "公共场所卫生许可证", "licence_type_code": code},
    )
    impl = await published_impl(s, a, item)
    dept = await s.get(Department, impl.department_id)
    if register_type:
        await service.create_type(
            s,
            a,
            LicenceTypeCreate(
                code=code,
                name="公共场所卫生许可证",
                holder_kind="person",
                issuing_department_ids=[dept.id],
                field_schema=SCHEMA,
                validity_years=4,
                template={
                    "case_fields": {
                        "holder": "holder.name",
                        "item": "case.item_name",
                        "case_number": "case.number",
                        "decided_on": "case.concluded_on",
                    }
                },
            ),
        )
        head = await actor_for_account(
            s, await builders.staff(s, roles=["dept_admin"], dept=dept), via="session"
        )
        await service.create_seal(s, head, dept.id, algorithm=algorithm)
    person, acc = await builders.citizen(s)
    applicant = await actor_for_account(s, acc, via="session")
    clerk = await actor_for_account(
        s, await builders.staff(s, roles=["clerk"], dept=dept), via="session"
    )
    approver = await actor_for_account(
        s, await builders.staff(s, roles=["approver"], dept=dept), via="session"
    )
    return impl, person, acc, applicant, clerk, approver


async def _approve(s, impl, person, applicant, clerk, approver, *, outcome: str = "grant"):
    form = {
        "applicant_name": person.name,
        "applicant_id_number": person.id_number,
        "phone": "13800138000",
    }
    case, _ = await cases.submit(
        s,
        applicant,
        implementation_id=impl.id,
        form_data=form,
        idempotency_key=f"lic-{person.id}-{outcome}",
    )
    await cases.transition(s, clerk, case.id, "accept")
    await cases.transition(s, approver, case.id, "pass_step")
    await cases.transition(s, approver, case.id, "pass_step")
    data = (
        {"outcome": outcome} if outcome == "grant" else {"outcome": "deny", "reason": "不符合条件"}
    )
    await cases.transition(s, approver, case.id, "decide", data)
    await s.commit()
    return case


async def _drain(maker, settings) -> int:
    total = 0
    while n := await run_once(maker, settings, worker_id="test"):
        total += n
    return total


def _offline(
    tmp_path: Path, keys: dict, text: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(keys, ensure_ascii=False))
    return subprocess.run(  # noqa: S603 -- our own tool, fixed arguments
        [sys.executable, str(VERIFIER), "--keys", str(path), text, *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("alg", ["ed25519", "sm2"])
async def test_approval_issues_a_sealed_licence_that_verifies_online_and_offline(
    session, sessionmaker_, settings, client, tmp_path, alg
):
    impl, person, acc, applicant, clerk, approver = await _world(session, algorithm=alg)
    case = await _approve(session, impl, person, applicant, clerk, approver)
    await _drain(sessionmaker_, settings)
    await _drain(sessionmaker_, settings)  # a redelivery would find the licence and stop
    lic = (await session.execute(select(Licence).where(Licence.case_id == case.id))).scalar_one()
    assert (
        lic.source == "case"
        and lic.holder_person_id == person.id
        and lic.issuer_department_id == impl.department_id
    )
    assert lic.data["holder"] == person.name and lic.data["case_number"] == case.number
    assert lic.data["item"] == case.item_name and lic.data["decided_on"]
    assert lic.signature["signatureAlgID"] == crypto.SIGN_OIDS[alg]
    assert (await service.check_record(session, lic)).ok
    titles = (
        (await session.execute(select(Notification.title).where(Notification.account_id == acc.id)))
        .scalars()
        .all()
    )
    assert "您的电子证照已签发：公共场所卫生许可证" in titles
    # online
    r = client.post("/api/v1/licences/verify", json={"payload": lic.qr_payload})
    assert r.status_code == 200 and r.json()["result"] == "valid", r.text
    assert r.json()["licence"]["issuer_name"] and "*" in r.json()["licence"]["holder_name"]
    r = client.post("/api/v1/licences/verify", json={"identifier": lic.identifier})
    assert r.json()["result"] == "valid"
    # offline: the published keys and the payload, nothing else
    keys = client.get("/api/v1/licences/keys").json()
    out = _offline(tmp_path, keys, f"http://example.test/verify?p={lic.qr_payload}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "签名有效" in out.stdout and lic.number in out.stdout
    claims = dict(payload.decode(lic.qr_payload).claims)
    for field in claims:
        forged = dict(claims)
        forged[field] = "2000-01-01" if field != "v" else 2
        text = f"TB1.{crypto.b64u(crypto.canonical(forged))}.{lic.qr_payload.rsplit('.', 1)[1]}"
        bad = _offline(tmp_path, keys, text)
        assert bad.returncode == 1, (field, bad.stdout)
        assert "验证失败" in bad.stdout
    # a keys file whose seal was re-signed by someone else fails the seal check
    evil = json.loads(json.dumps(keys))
    for k in evil["keys"]:
        if k["kind"] == "department":
            k["seal"]["sealInfo"]["property"]["name"] = "伪造印章"
    bad = _offline(tmp_path, evil, lic.qr_payload)
    assert bad.returncode == 1 and "制章者" in bad.stdout
    # revocation shows online; offline still says authentic (and warns it cannot know)
    await service.revoke(session, approver, lic.id, reason="以欺骗手段取得许可，依法撤销")
    await session.commit()
    r = client.post("/api/v1/licences/verify", json={"payload": lic.qr_payload})
    assert r.json()["result"] == "revoked" and r.json()["result_text"] == "已吊销"
    assert "无法得知" in _offline(tmp_path, keys, lic.qr_payload).stdout


async def test_expired_offline_exits_2(session, sessionmaker_, settings, client, tmp_path):
    impl, person, _acc, applicant, clerk, approver = await _world(session)
    case = await _approve(session, impl, person, applicant, clerk, approver)
    await _drain(sessionmaker_, settings)
    lic = (await session.execute(select(Licence).where(Licence.case_id == case.id))).scalar_one()
    keys = client.get("/api/v1/licences/keys").json()
    out = _offline(tmp_path, keys, lic.qr_payload, "--today", "2099-01-01", "--json")
    assert out.returncode == 2 and json.loads(out.stdout)["result"] == "expired"


async def test_refusal_issues_nothing_and_a_missing_type_is_parked_for_the_admin(
    session, sessionmaker_, settings
):
    impl, person, _acc, applicant, clerk, approver = await _world(session, register_type=False)
    await _approve(session, impl, person, applicant, clerk, approver, outcome="deny")
    await _drain(sessionmaker_, settings)
    assert (await session.execute(select(func.count()).select_from(Licence))).scalar() == 0
    person2, acc2 = await builders.citizen(session)
    applicant2 = await actor_for_account(session, acc2, via="session")
    await _approve(session, impl, person2, applicant2, clerk, approver)
    await _drain(sessionmaker_, settings)
    failing = (
        (
            await session.execute(
                select(OutboxDelivery).where(
                    OutboxDelivery.handler == "licences.issue_on_approval",
                    OutboxDelivery.last_error.is_not(None),
                )
            )
        )
        .scalars()
        .all()
    )
    assert failing and "未在证照目录中登记" in failing[0].last_error
    # retrying cannot register the type: parked for the admin at the first attempt
    assert (failing[0].status, failing[0].attempts) == ("failed", 1)
    assert (await session.execute(select(func.count()).select_from(Licence))).scalar() == 0
