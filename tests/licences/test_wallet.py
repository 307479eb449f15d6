"""我的证照: the holder's licences (own and the enterprises'), filters and pages, the
countdown; 用证授权 to a third party, its use log, revocation; imported licences
claimed by their holder."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests import builders
from tests.licences import helpers
from tests.web.conftest import csrf_from
from tongban.identity.models import Account
from tongban.identity.service import actor_for_account
from tongban.licences import service, wallet
from tongban.licences.models import Licence, VerificationLog
from tongban.licences.schemas import LicenceTypeCreate
from tongban.licences.wallet_models import LicenceShare, LicenceUse

pytestmark = pytest.mark.asyncio


async def _username(session, account_id: int) -> str:
    return (await session.get(Account, account_id)).username


async def _wallet_world(s):
    """A holder with three licences of their own (valid, expired, revoked), an
    enterprise licence of their company, an agent of that company, an outsider."""
    w = await helpers.world(s)
    ent = await builders.enterprise(s, rep=w.person)
    ent_code = helpers.type_code()
    await service.create_type(
        s,
        w.admin,
        LicenceTypeCreate(
            code=ent_code,
            name="营业执照",
            holder_kind="enterprise",
            issuing_department_ids=[w.dept.id],
            field_schema=helpers.SCHEMA,
            validity_years=None,
        ),
    )
    valid = await helpers.issue(s, w)
    expired = await helpers.issue(
        s, w, valid_from=dt.date(2015, 1, 1), valid_until=dt.date(2020, 1, 1)
    )
    revoked = await helpers.issue(s, w)
    await service.revoke(s, w.approver, revoked.id, reason="依法吊销")
    ent_lic = await service.issue(
        s, w.approver, type_code=ent_code, data=dict(helpers.DATA), holder_enterprise_id=ent.id
    )
    agent_p, agent_acc = await builders.citizen(s)
    await builders.agent(s, ent=ent, who=agent_p)
    _o, outsider_acc = await builders.citizen(s)
    await s.commit()
    return (
        w,
        ent,
        {"valid": valid, "expired": expired, "revoked": revoked, "ent": ent_lic},
        agent_acc,
        outsider_acc,
    )


async def test_the_wallet_holds_own_and_enterprise_licences_with_status_filters(session):
    w, ent, lics, agent_acc, outsider_acc = await _wallet_world(session)
    rows, nxt = await wallet.get_wallet(session, w.citizen, wallet.WalletFilter())
    assert {r.id for r in rows} == {x.id for x in lics.values()} and nxt is None
    counts = await wallet.wallet_counts(session, w.citizen)
    assert counts == {"all": 4, "valid": 2, "expiring": 0, "expired": 1, "ended": 1}
    expired, _ = await wallet.get_wallet(session, w.citizen, wallet.WalletFilter(status="expired"))
    assert [r.id for r in expired] == [lics["expired"].id]
    ended, _ = await wallet.get_wallet(session, w.citizen, wallet.WalletFilter(status="ended"))
    assert [r.id for r in ended] == [lics["revoked"].id]
    mine, _ = await wallet.get_wallet(session, w.citizen, wallet.WalletFilter(holder="me"))
    assert lics["ent"].id not in {r.id for r in mine} and len(mine) == 3
    theirs, _ = await wallet.get_wallet(
        session, w.citizen, wallet.WalletFilter(holder=f"ent:{ent.id}")
    )
    assert [r.id for r in theirs] == [lics["ent"].id]
    page1, nxt = await wallet.get_wallet(session, w.citizen, wallet.WalletFilter(limit=3))
    page2, nxt2 = await wallet.get_wallet(
        session, w.citizen, wallet.WalletFilter(limit=3, before=nxt)
    )
    assert len(page1) == 3 and len(page2) == 1 and nxt2 is None
    assert {r.id for r in page1 + page2} == {x.id for x in lics.values()}
    found, _ = await wallet.get_wallet(session, w.citizen, wallet.WalletFilter(q="营业执照"))
    assert [r.id for r in found] == [lics["ent"].id]
    found, _ = await wallet.get_wallet(
        session, w.citizen, wallet.WalletFilter(q=lics["expired"].number, holder="me")
    )
    assert [r.id for r in found] == [lics["expired"].id]
    # the enterprise's current agent sees the enterprise's licence only
    agent = await actor_for_account(session, agent_acc, via="session")
    rows, _ = await wallet.get_wallet(session, agent, wallet.WalletFilter())
    assert [r.id for r in rows] == [lics["ent"].id]
    outsider = await actor_for_account(session, outsider_acc, via="session")
    assert (await wallet.get_wallet(session, outsider, wallet.WalletFilter()))[0] == []
    with pytest.raises(Exception) as e:
        await wallet.get_holder_licence(session, outsider, lics["valid"].id)
    assert getattr(e.value, "status", None) == 404
    with pytest.raises(Exception) as e:
        await wallet.get_wallet(session, w.approver, wallet.WalletFilter())
    assert getattr(e.value, "status", None) == 404  # staff have no wallet


def _lic(valid_until, status="valid"):
    return Licence(valid_until=valid_until, status=status)


@pytest.mark.parametrize(
    ("until", "status", "text", "level"),
    [
        (None, "valid", "长期有效", "ok"),
        (dt.date(2026, 6, 1), "valid", "还有 151 天到期", "ok"),
        (dt.date(2026, 3, 1), "valid", "还有 59 天到期", "soon"),
        (dt.date(2026, 1, 1), "valid", "今天到期", "soon"),
        (dt.date(2025, 12, 31), "valid", "已过期 1 天", "over"),
        (dt.date(2030, 1, 1), "revoked", "已吊销", "ended"),
        (dt.date(2030, 1, 1), "annulled", "已注销", "ended"),
    ],
)
async def test_expiry_countdown(until, status, text, level):
    on = dt.date(2026, 1, 1)
    assert wallet.expiry_text(_lic(until, status), on) == text
    assert wallet.expiry_level(_lic(until, status), on) == level


async def test_wallet_api_and_pages(session, client):
    w, ent, lics, _agent, _out = await _wallet_world(session)
    builders.login(client, w.citizen_acc.username)
    r = client.get("/api/v1/me/licences")
    assert r.status_code == 200
    body = r.json()
    assert body["counts"]["all"] == 4 and len(body["items"]) == 4
    by_id = {i["id"]: i for i in body["items"]}
    assert (
        by_id[lics["expired"].id]["countdown"].startswith("已过期")
        and by_id[lics["expired"].id]["status"] == "expired"
    )
    assert (
        by_id[lics["ent"].id]["countdown"] == "长期有效"
        and by_id[lics["valid"].id]["holder_code"] == w.person.id_number
    )
    r = client.get("/api/v1/me/licences", params={"status": "valid", "limit": 1})
    assert len(r.json()["items"]) == 1 and r.json()["next_before"]
    assert client.get("/api/v1/me/licences", params={"status": "nope"}).status_code == 422
    r = client.get(f"/api/v1/me/licences/{lics['valid'].id}")
    assert (
        r.status_code == 200
        and r.json()["history"][0]["action"] == "issue"
        and r.json()["shares"] == []
    )
    # pages
    r = client.get("/me/licences")
    assert (
        r.status_code == 200
        and "我的证照" in r.text
        and lics["valid"].number in r.text
        and "已过期" in r.text
    )
    assert 'href="/me/licences"' in r.text  # the portal's navigation link
    r = client.get("/me/licences", params={"status": "ended"})
    assert lics["revoked"].number in r.text and lics["valid"].number not in r.text
    r = client.get(
        "/me/licences",
        params={"holder": f"ent:{ent.id}"},
        headers={"HX-Request": "true", "HX-Target": "results"},
    )
    assert r.status_code == 200 and "<html" not in r.text and lics["ent"].number in r.text
    r = client.get(f"/me/licences/{lics['valid'].id}")
    assert (
        r.status_code == 200
        and "<svg" in r.text
        and "下载 PDF" in r.text
        and "用证授权" in r.text
        and "使用记录" in r.text
    )
    assert f'href="/licences/{lics["valid"].id}.pdf"' in r.text
    assert client.get(f"/licences/{lics['valid'].id}.pdf").content.startswith(b"%PDF")
    # someone else's licence, a staff member, a visitor
    client.cookies.clear()
    assert client.get("/me/licences", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me/licences").status_code == 401
    builders.login(client, await _username(session, w.approver.account_id))
    assert client.get("/api/v1/me/licences").status_code == 404
    assert client.get(f"/me/licences/{lics['valid'].id}").status_code == 404


async def test_share_with_a_third_party_logs_every_use_and_can_be_revoked(session, client):
    w, _ent, lics, _agent, outsider_acc = await _wallet_world(session)
    lic = lics["valid"]
    builders.login(client, w.citizen_acc.username)
    r = client.post(
        f"/api/v1/me/licences/{lic.id}/shares",
        json={"recipient": "泉城银行历下支行", "purpose": "开立对公账户", "days": 3},
    )
    assert r.status_code == 201, r.text
    share = r.json()
    token, url = share["token"], share["url"]
    assert (
        url.endswith(f"/shared/{token}")
        and share["state"] == "active"
        and share["show_full"] is False
    )
    stored = await session.get(LicenceShare, share["id"])
    assert stored.token_hash != token and token not in str(stored.__dict__)  # only the hash is kept
    # the third party (no account) opens it: holder masked, then verifies it
    client.cookies.clear()
    r = client.get(f"/api/v1/shared-licences/{token}")
    assert r.status_code == 200
    facts = r.json()["licence"]
    assert (
        facts["number"] == lic.number
        and facts["holder_code"] != w.person.id_number
        and "*" in facts["holder_code"]
    )
    assert r.json()["share"]["recipient"] == "泉城银行历下支行"
    r = client.post(f"/api/v1/shared-licences/{token}/verify")
    assert r.status_code == 200 and r.json()["result"] == "valid"
    r = client.get(f"/shared/{token}")
    assert (
        r.status_code == 200
        and lic.number in r.text
        and "泉城银行历下支行" in r.text
        and "开立对公账户" in r.text
    )
    assert (
        r.headers["cache-control"] == "no-store" and r.headers["referrer-policy"] == "no-referrer"
    )
    r = client.get(f"/shared/{token}", params={"verify": "1"})
    assert "真实有效" in r.text
    r = client.get(f"/shared/{token}.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
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
    assert kinds == ["view", "verify", "view", "verify", "download"]
    logged = (
        await session.execute(
            select(func.count())
            .select_from(VerificationLog)
            .where(VerificationLog.requester == f"share:{share['id']}")
        )
    ).scalar()
    assert logged == 2  # the licence's 核验记录 shows them too
    # the holder sees the uses on the licence's page and in the API
    builders.login(client, w.citizen_acc.username)
    r = client.get(f"/api/v1/me/licences/{lic.id}/uses")
    assert [u["kind"] for u in r.json()["items"]] == [
        "download",
        "verify",
        "view",
        "verify",
        "view",
    ]
    assert (
        r.json()["items"][1]["result_text"] == "有效"
        and r.json()["items"][0]["party"] == "泉城银行历下支行"
    )
    r = client.get(f"/me/licences/{lic.id}")
    assert "泉城银行历下支行" in r.text and "被授权方核验" in r.text and "被授权方下载" in r.text
    assert client.get(f"/api/v1/me/licences/{lic.id}/shares").json()["items"][0]["use_count"] == 5
    # another citizen can neither see nor revoke it
    client.cookies.clear()
    builders.login(client, outsider_acc.username)
    assert (
        client.post(
            f"/api/v1/me/licences/{lic.id}/shares/{share['id']}/revoke", json={}
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/me/licences/{lic.id}/uses").status_code == 404
    # revoked: the link shows nothing any more
    client.cookies.clear()
    builders.login(client, w.citizen_acc.username)
    r = client.post(f"/api/v1/me/licences/{lic.id}/shares/{share['id']}/revoke", json={})
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    client.cookies.clear()
    r = client.get(f"/api/v1/shared-licences/{token}")
    assert r.status_code == 404 and r.json()["code"] == "licence_share_unavailable"
    r = client.get(f"/shared/{token}")
    assert r.status_code == 404 and "已撤销" in r.text and lic.number not in r.text
    assert client.get(f"/shared/{token}.pdf").status_code == 404
    assert client.get("/shared/" + "x" * 32).status_code == 404


async def test_share_rules_and_the_page_form(session, client):
    w, _ent, lics, _agent, _out = await _wallet_world(session)
    builders.login(client, w.citizen_acc.username)
    lic = lics["valid"]
    for body, field in (
        ({"recipient": "某", "purpose": "租房"}, "recipient"),
        ({"recipient": "房东王先生", "purpose": "租"}, "purpose"),
        ({"recipient": "房东王先生", "purpose": "租房", "days": 0}, "days"),
        ({"recipient": "房东王先生", "purpose": "租房", "days": 366}, "days"),
    ):
        r = client.post(f"/api/v1/me/licences/{lic.id}/shares", json=body)
        assert r.status_code == 422 and r.json()["details"][0]["field"] == field, r.text
    r = client.post(
        f"/api/v1/me/licences/{lics['revoked'].id}/shares",
        json={"recipient": "房东王先生", "purpose": "租房"},
    )
    assert r.status_code == 422 and r.json()["code"] == "licence_not_valid"
    # the page: a form error keeps what was typed; success shows the link once
    token = csrf_from(client.get(f"/me/licences/{lic.id}").text)
    r = client.post(
        f"/me/licences/{lic.id}/shares",
        data={"csrf_token": token, "recipient": "房东王先生", "purpose": "租", "days": "7"},
    )
    assert r.status_code == 422 and "房东王先生" in r.text and "field-error" in r.text
    r = client.post(
        f"/me/licences/{lic.id}/shares",
        data={
            "csrf_token": token,
            "recipient": "房东王先生",
            "purpose": "签订房屋租赁合同",
            "days": "7",
            "show_full": "1",
        },
    )
    assert r.status_code == 200 and "/shared/" in r.text and "只显示这一次" in r.text
    link = r.text.split('id="new-link" value="')[1].split('"')[0]
    client.cookies.clear()
    shared = client.get(link.replace("http://testserver", ""))
    assert shared.status_code == 200 and w.person.id_number in shared.text  # show_full was chosen
    builders.login(client, w.citizen_acc.username)
    share_id = (
        await session.execute(select(LicenceShare.id).where(LicenceShare.licence_id == lic.id))
    ).scalar_one()
    token = csrf_from(client.get(f"/me/licences/{lic.id}").text)
    r = client.post(
        f"/me/licences/{lic.id}/shares/{share_id}/revoke",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "已撤销该授权" in client.get(r.headers["location"]).text


async def test_imported_licences_are_claimed_when_the_holder_signs_in(session, client):
    w = await helpers.world(session)
    newcomer = await builders.person(session, name="汇聚人")
    lic = await service.issue(
        session,
        w.approver,
        type_code=w.type_code,
        data=dict(helpers.DATA),
        holder_person_id=newcomer.id,
    )
    lic.holder_person_id = None  # as a historical import leaves a holder not yet registered
    await session.commit()
    from tongban.identity import service as identity_service

    acc = await identity_service.create_account(
        session,
        kind="person",
        username="huiju.ren",
        password=None,
        password_hash=builders._pw_hash(),
        display_name=newcomer.name,
        region_code=newcomer.region_code,
        person=newcomer,
        phone=newcomer.phone,
    )
    await session.commit()
    builders.login(client, acc.username)
    r = client.get("/api/v1/me/licences")
    assert [i["id"] for i in r.json()["items"]] == [lic.id]
    await session.refresh(lic)
    assert lic.holder_person_id == newcomer.id
    assert client.get(f"/licences/{lic.id}.pdf").status_code == 200  # the core's pages see it now
