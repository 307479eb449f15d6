"""Issuance, change, revocation, seals and rotation, online verification, tampering."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from tests import builders
from tests.licences import helpers
from tongban.cases.models import Notification
from tongban.core.audit import AuditEntry
from tongban.core.clock import freeze
from tongban.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tongban.core.outbox import OutboxEvent
from tongban.identity.service import actor_for_account
from tongban.licences import access, identifier, payload, service
from tongban.licences.models import Licence, LicenceHistory, Seal, VerificationLog

pytestmark = pytest.mark.asyncio
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize("alg", ["sm2", "ed25519"])
async def test_issue_signs_a_licence_that_verifies(session, alg):
    with freeze(dt.datetime(2026, 3, 10, 9, tzinfo=CST)):
        w = await helpers.world(session, algorithm=alg)
        lic = await helpers.issue(session, w)
    ident = identifier.parse(lic.identifier)
    assert ident.type_code == w.type_code and ident.issuer_code == w.dept.credit_code
    assert ident.serial == "20260000001" and ident.version == 1
    assert lic.issued_on == dt.date(2026, 3, 10) and lic.valid_until == dt.date(2031, 3, 9)
    assert lic.holder_code_type == "111" and lic.holder_code == w.person.id_number
    assert (
        lic.signature["signatureAlgID"]
        == {"sm2": "1.2.156.10197.1.501", "ed25519": "1.3.101.112"}[alg]
    )
    assert (
        lic.signature["TBS_Sign"]["hashAlgID"]
        == {"sm2": "1.2.156.10197.1.401", "ed25519": "2.16.840.1.101.3.4.2.1"}[alg]
    )
    assert (await service.check_record(session, lic)).ok
    await session.commit()
    with freeze(dt.datetime(2026, 3, 11, 9, tzinfo=CST)):
        by_id = await service.verify(session, text=lic.identifier, channel="api")
        by_qr = await service.verify(session, text=lic.qr_payload, channel="api")
    assert by_id.result == by_qr.result == "valid"
    assert by_id.signature_checked and by_qr.signature_checked
    assert by_qr.licence["holder_name"] == "张*试" and "*" in by_qr.licence["holder_code"]
    assert by_qr.licence["issuer_name"] == w.dept.name
    # notification, history, audit, event
    inbox = (
        (
            await session.execute(
                select(Notification.title).where(Notification.account_id == w.citizen_acc.id)
            )
        )
        .scalars()
        .all()
    )
    assert inbox == ["您的电子证照已签发：食品经营许可证"]
    assert [h.action for h in await service.get_history(session, lic.id)] == ["issue"]
    assert (
        await session.execute(select(func.count()).where(AuditEntry.action == "licence.issue"))
    ).scalar() == 1
    assert (
        await session.execute(select(func.count()).where(OutboxEvent.name == "licence.issued"))
    ).scalar() == 1
    # second licence of the year: next serial
    lic2 = await helpers.issue(session, w)
    assert identifier.parse(lic2.identifier).serial.endswith("0000002")


async def test_issue_rules(session):
    w = await helpers.world(session)
    with pytest.raises(PermissionDenied):
        await service.issue(
            session, w.clerk, type_code=w.type_code, data=helpers.DATA, holder_person_id=w.person.id
        )
    with pytest.raises(PermissionDenied):  # an approver of another department
        other = await builders.department(session)
        stranger = await actor_for_account(
            session, await builders.staff(session, roles=["approver"], dept=other), via="session"
        )
        await service.issue(
            session,
            stranger,
            type_code=w.type_code,
            data=helpers.DATA,
            holder_person_id=w.person.id,
        )
    with pytest.raises(ValidationFailed) as e:
        await helpers.issue(session, w, data={"business_name": "x" * 101})
    assert {d["field"] for d in e.value.details} == {"business_name", "address"}
    assert all("必填" in d["message"] or "太长" in d["message"] for d in e.value.details)
    with pytest.raises(ValidationFailed) as e:
        await helpers.issue(session, w, holder_person_id=None)
    assert e.value.code == "holder_person_required"
    with pytest.raises(NotFound):
        await helpers.issue(session, w, type_code=helpers.type_code())
    with pytest.raises(ValidationFailed):
        await helpers.issue(
            session, w, valid_from=dt.date(2026, 1, 2), valid_until=dt.date(2026, 1, 1)
        )


async def test_change_makes_a_new_version_and_the_old_one_reads_superseded(session):
    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    first_ident, first_qr = lic.identifier, lic.qr_payload
    with pytest.raises(ValidationFailed):
        await service.change(session, w.approver, lic.id, reason="变更", data=dict(helpers.DATA))
    await service.change(
        session,
        w.approver,
        lic.id,
        reason="经营场所变更",
        data={**helpers.DATA, "address": "济南市历下区解放路 2 号"},
    )
    assert lic.version == 2 and lic.identifier.endswith(
        f".002.{identifier.parse(lic.identifier).check}"
    )
    assert lic.identifier.rsplit(".", 2)[0] == first_ident.rsplit(".", 2)[0]
    assert (await service.check_record(session, lic)).ok
    hist = await service.get_history(session, lic.id)
    assert [(h.action, h.version) for h in hist] == [("issue", 1), ("change", 2)]
    assert hist[0].data["address"] == helpers.DATA["address"] and hist[0].identifier == first_ident
    await session.commit()
    old = await service.verify(session, text=first_ident, channel="api")
    assert old.result == "superseded" and old.current_identifier == lic.identifier
    assert (await service.verify(session, text=first_qr, channel="api")).result == "superseded"
    assert (await service.verify(session, text=lic.qr_payload, channel="api")).result == "valid"


async def test_revocation_and_annulment_show_online(session):
    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    lic2 = await helpers.issue(session, w)
    with pytest.raises(ValidationFailed):
        await service.revoke(session, w.approver, lic.id, reason="")
    with pytest.raises(PermissionDenied):
        await service.revoke(session, w.clerk, lic.id, reason="违法经营")
    with pytest.raises(PermissionDenied):  # the holder reads it but cannot revoke it
        await service.revoke(session, w.citizen, lic.id, reason="违法经营")
    _p, acc = await builders.citizen(session)
    with pytest.raises(NotFound):  # a stranger learns nothing
        await service.revoke(
            session, await actor_for_account(session, acc, via="session"), lic.id, reason="违法经营"
        )
    await service.revoke(session, w.approver, lic.id, reason="违法经营，依法吊销")
    await service.annul(session, w.head, lic2.id, reason="持证人申请注销")
    with pytest.raises(Conflict):
        await service.change(
            session, w.approver, lic.id, reason="变更", data={**helpers.DATA, "scope": "x"}
        )
    with pytest.raises(Conflict):
        await service.annul(session, w.approver, lic.id, reason="再注销")
    await session.commit()
    r1 = await service.verify(session, text=lic.qr_payload, channel="api")
    r2 = await service.verify(session, text=lic2.identifier, channel="api")
    assert (r1.result, r2.result) == ("revoked", "annulled")
    assert "吊销" in r1.message and r1.licence["status_changed_on"]
    assert [h.action for h in await service.get_history(session, lic.id)] == ["issue", "revoke"]


async def test_expiry_is_computed(session):
    with freeze(dt.datetime(2024, 5, 1, 10, tzinfo=CST)):
        w = await helpers.world(session, years=1)
        lic = await helpers.issue(session, w)
    assert lic.valid_until == dt.date(2025, 4, 30)
    await session.commit()
    with freeze(dt.datetime(2025, 4, 30, 23, tzinfo=CST)):
        assert (await service.verify(session, text=lic.identifier, channel="api")).result == "valid"
    with freeze(dt.datetime(2025, 5, 1, 0, 30, tzinfo=CST)):
        assert (
            await service.verify(session, text=lic.qr_payload, channel="api")
        ).result == "expired"


async def test_long_term_licence(session):
    w = await helpers.world(session, years=None)
    lic = await helpers.issue(session, w)
    assert lic.valid_until is None
    assert (await service.verify(session, text=lic.identifier, channel="api")).licence[
        "valid_until"
    ] == ""


async def test_key_rotation_keeps_old_licences_valid_and_switches_algorithm(session):
    w = await helpers.world(session, algorithm="ed25519")
    old = await helpers.issue(session, w)
    old_seal = await session.get(Seal, old.seal_id)
    new_seal = await service.create_seal(session, w.head, w.dept.id, algorithm="sm2")
    await session.refresh(old_seal)
    assert (
        old_seal.status == "retired" and new_seal.status == "active" and new_seal.algorithm == "sm2"
    )
    new = await helpers.issue(session, w)
    assert new.seal_id == new_seal.id and new.signature["signatureAlgID"] == "1.2.156.10197.1.501"
    await session.commit()
    for lic in (old, new):
        assert (await service.check_record(session, lic)).ok
        assert (await service.verify(session, text=lic.qr_payload, channel="api")).result == "valid"
        assert (await service.verify(session, text=lic.identifier, channel="api")).result == "valid"
    keys = (await service.public_keys(session))["keys"]
    kinds = sorted((k["kind"], k["status"], k["tb_alg"]) for k in keys)
    assert ("department", "retired", "ed25519") in kinds and (
        "department",
        "active",
        "sm2",
    ) in kinds
    with pytest.raises(PermissionDenied):
        await service.create_seal(session, w.approver, w.dept.id)


TAMPER = {
    "name": "假证照",
    "type_name": "假类型",
    "type_code": "11100000MB0009999X001",
    "number": "000000",
    "issuer_name": "某某局",
    "issuer_code": "11370000MB0000000X",
    "issued_on": dt.date(2020, 1, 1),
    "holder_name": "李四",
    "holder_code": "110101199003071234",
    "holder_code_type": "001",
    "valid_from": dt.date(2020, 1, 1),
    "valid_until": dt.date(2099, 12, 31),
    "region_code": "370103000000",
    "data": {**helpers.DATA, "scope": "全部"},
}


@pytest.mark.parametrize("column", sorted(TAMPER))
async def test_tampering_with_any_stored_field_fails_verification(session, column):
    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    lic_id, ident = lic.id, lic.identifier
    await session.commit()
    await session.execute(
        update(Licence).where(Licence.id == lic_id).values({column: TAMPER[column]})
    )
    await session.commit()
    session.expire_all()
    fresh = await session.get(Licence, lic_id)
    assert not (await service.check_record(session, fresh)).ok
    assert (await service.verify(session, text=ident, channel="api")).result == "invalid"


async def test_tampering_with_the_signature_or_seal_fails(session):
    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    lic_id, seal_id, original = lic.id, lic.seal_id, lic.signature
    sig = dict(original)
    sig["TBS_Sign"] = {**sig["TBS_Sign"], "timeInfo": "2020-01-01T00:00:00Z"}
    await session.execute(update(Licence).where(Licence.id == lic_id).values(signature=sig))
    await session.commit()
    session.expire_all()
    assert (
        await service.check_record(session, await session.get(Licence, lic_id))
    ).step == "signature"
    seal = await session.get(Seal, seal_id)
    doc = dict(seal.document)
    doc["sealInfo"] = {
        **doc["sealInfo"],
        "property": {**doc["sealInfo"]["property"], "validEnd": "2099-01-01T00:00:00Z"},
    }
    await session.execute(update(Seal).where(Seal.id == seal_id).values(document=doc))
    await session.execute(update(Licence).where(Licence.id == lic_id).values(signature=original))
    await session.commit()
    session.expire_all()
    assert (await service.check_record(session, await session.get(Licence, lic_id))).step == "seal"


QR_FIELDS = ["id", "n", "no", "h", "hc", "i", "d", "vf", "vu", "k", "x"]


@pytest.mark.parametrize("claim", QR_FIELDS)
async def test_tampering_with_any_qr_field_fails_verification(session, claim):
    from tongban.licences import crypto

    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    await session.commit()
    decoded = payload.decode(lic.qr_payload)
    assert claim in decoded.claims
    claims = dict(decoded.claims)
    value = claims[claim]
    claims[claim] = (
        {"x": "tampered"}
        if isinstance(value, dict)
        else (value[:-1] + ("0" if value[-1:] != "0" else "1"))
        if value
        else "2099-01-01"
    )
    forged = f"TB1.{crypto.b64u(crypto.canonical(claims))}.{lic.qr_payload.rsplit('.', 1)[1]}"
    v = await service.verify(session, text=forged, channel="api")
    assert v.result in ("invalid", "not_found") and not v.signature_checked


async def test_a_payload_signed_by_another_seal_of_the_platform_is_refused(session):
    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    w2 = await helpers.world(session)
    other = await helpers.issue(session, w2)
    # other department's seal signs claims naming our licence
    seal2 = await session.get(Seal, other.seal_id)
    claims = dict(payload.decode(lic.qr_payload).claims)
    claims["k"] = seal2.key_id
    forged = payload.encode(claims, service.signer_for(seal2))
    await session.commit()
    assert (await service.verify(session, text=forged, channel="api")).result == "invalid"


async def test_every_verification_is_logged_with_channel_and_result(session):
    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    await session.commit()
    await service.verify(
        session, text=lic.qr_payload, channel="api", requester="api:7", ip="10.0.0.1"
    )
    await service.verify(session, text=lic.identifier, channel="page")
    with pytest.raises(ValidationFailed):
        await service.verify(
            session,
            text=lic.identifier[:-1] + "0"
            if not lic.identifier.endswith("0")
            else lic.identifier[:-1] + "1",
            channel="api",
        )
    with pytest.raises(ValidationFailed):
        await service.verify(session, text="TB1.garbage", channel="api")
    await session.commit()
    rows = (
        (await session.execute(select(VerificationLog).order_by(VerificationLog.id)))
        .scalars()
        .all()
    )
    assert [(r.channel, r.result, r.licence_id) for r in rows] == [
        ("api", "valid", lic.id),
        ("page", "valid", lic.id),
        ("api", "invalid", None),
        ("api", "invalid", None),
    ]
    assert (
        rows[0].requester == "api:7"
        and rows[0].ip == "10.0.0.1"
        and rows[0].region_code == lic.region_code
    )


async def test_access_holder_staff_and_strangers(session):
    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    assert (await access.access_licence(session, w.citizen, lic.id)).id == lic.id
    assert (await access.access_licence(session, w.approver, lic.id)).id == lic.id
    assert (await access.access_licence(session, w.clerk, lic.id)).id == lic.id
    _p, acc = await builders.citizen(session)
    stranger = await actor_for_account(session, acc, via="session")
    with pytest.raises(NotFound):
        await access.access_licence(session, stranger, lic.id)
    far = await builders.department(session, region=builders.QINGDAO_SHINAN)
    far_staff = await actor_for_account(
        session,
        await builders.staff(session, roles=["approver"], region=builders.QINGDAO_SHINAN, dept=far),
        via="session",
    )
    with pytest.raises(NotFound):
        await access.access_licence(session, far_staff, lic.id)


async def test_enterprise_licence_for_legal_rep_and_agent(session):
    w = await helpers.world(session, holder_kind="enterprise")
    ent = await builders.enterprise(session, rep=w.person)
    lic = await helpers.issue(session, w, holder_person_id=None, holder_enterprise_id=ent.id)
    assert lic.holder_code_type == "001" and lic.holder_code == ent.credit_code
    who, acc = await builders.citizen(session)
    agent_actor = await actor_for_account(session, acc, via="session")
    with pytest.raises(NotFound):
        await access.access_licence(session, agent_actor, lic.id)
    await builders.agent(session, ent=ent, who=who)
    assert (await access.access_licence(session, agent_actor, lic.id)).id == lic.id
    v = await service.verify(session, text=lic.qr_payload, channel="api")
    assert v.licence["holder_name"] == ent.name and v.licence["holder_code"] == ent.credit_code


async def test_history_rows_are_kept_per_version(session):
    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    for i in range(3):
        await service.change(
            session,
            w.approver,
            lic.id,
            reason=f"第{i}次变更",
            data={**helpers.DATA, "scope": f"项目{i}"},
        )
    count = (
        await session.execute(select(func.count()).where(LicenceHistory.licence_id == lic.id))
    ).scalar()
    assert count == 4 and lic.version == 4


@pytest.mark.parametrize("alg", ["sm2", "ed25519"])
async def test_the_qr_code_stays_small(session, alg):
    import segno

    w = await helpers.world(session, algorithm=alg)
    lic = await helpers.issue(session, w)
    url = "https://zwfw.example.gov.cn/verify?p=" + lic.qr_payload
    assert len(lic.qr_payload) < 700
    assert segno.make(url, error="m").version <= 20  # 97 × 97 modules: fine at 40 mm on paper
