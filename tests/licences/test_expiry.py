"""到期提醒 and 续期: reminders before expiry to the inbox and by SMS, once per licence
and threshold; a renewal application prepared for the holder to confirm, filed as a
case with the expiring licence attached; the scheduled job."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

import tongban.licences.jobs  # noqa: F401 -- subscribe the SMS handler before reminders record events
from tests import builders
from tests.catalogue.helpers import admin, published_impl, published_item
from tests.licences import helpers
from tests.web.conftest import csrf_from, page_login
from tongban.cases.models import Case, CaseMaterial, CaseTrail, Notification
from tongban.catalogue.models import Implementation
from tongban.core.clock import freeze
from tongban.core.outbox import OutboxEvent
from tongban.core.scheduler import registered_jobs, run_due_jobs
from tongban.core.worker import run_once
from tongban.identity.service import LogSmsChannel
from tongban.licences import expiry, service, wallet
from tongban.licences.schemas import LicenceTypeUpdate
from tongban.licences.wallet_models import ExpiryReminder, LicenceRenewal

CST = dt.timezone(dt.timedelta(hours=8))


async def _drain(maker, settings) -> int:
    total = 0
    while n := await run_once(maker, settings, worker_id="test"):
        total += n
    return total


async def _world(s, *, renewal: bool = True):
    w = await helpers.world(s)
    a = await admin(s)
    item = await published_item(
        s,
        a,
        name="食品经营许可延续",
        service_objects=["1"],
        materials=[
            {"name": "延续申请书", "issuer": "申请人自备", "originals": 1},
            {
                "name": "原食品经营许可证",
                "issuer": "市场监管部门",
                "licence_type_code": w.type_code,
            },
        ],
    )
    impl = await published_impl(s, a, item)
    code = (await s.get(Implementation, impl.id)).impl_code
    await service.update_type(
        s,
        w.admin,
        (await service.get_type_by_code(s, w.type_code)).id,
        LicenceTypeUpdate(
            reminder_days=[90, 30, 7],
            auto_renewal={"enabled": renewal, "implementation_code": code, "instant": False},
        ),
    )
    await s.commit()
    return w, impl


async def _issue_until(s, w, until: dt.date, **kw):
    return await helpers.issue(
        s, w, valid_from=until - dt.timedelta(days=365 * 5), valid_until=until, **kw
    )


async def test_reminders_go_out_once_per_threshold_to_the_inbox_and_by_sms(
    session, sessionmaker_, settings
):
    w, _impl = await _world(session, renewal=False)
    on = dt.date(2026, 3, 2)
    lics = {
        "far": await _issue_until(session, w, on + dt.timedelta(days=100)),
        "ninety": await _issue_until(session, w, on + dt.timedelta(days=60)),
        "thirty": await _issue_until(session, w, on + dt.timedelta(days=20)),
        "seven": await _issue_until(session, w, on + dt.timedelta(days=5)),
        "today": await _issue_until(session, w, on),
        "past": await _issue_until(session, w, on - dt.timedelta(days=1)),
        "revoked": await _issue_until(session, w, on + dt.timedelta(days=20)),
        "forever": await helpers.issue(session, w, valid_until=None),
    }
    await service.revoke(session, w.approver, lics["revoked"].id, reason="依法吊销")
    await session.commit()
    before = (await session.execute(select(func.count()).select_from(Notification))).scalar()
    run = await expiry.send_reminders(session, on=on)
    await session.commit()
    reminded = {k for k, v in lics.items() if v.id in run.licence_ids}
    assert reminded == {"ninety", "thirty", "seven", "today"} and run.reminded == 4
    rows = (
        await session.execute(
            select(ExpiryReminder.licence_id, ExpiryReminder.days, ExpiryReminder.sent)
        )
    ).all()
    got = {(lid, d, sent) for lid, d, sent in rows}
    assert (lics["thirty"].id, 30, True) in got and (
        lics["thirty"].id,
        90,
        False,
    ) in got  # one message, both thresholds
    assert (
        (lics["seven"].id, 7, True) in got
        and (lics["seven"].id, 30, False) in got
        and (lics["seven"].id, 90, False) in got
    )
    titles = (
        (
            await session.execute(
                select(Notification.title)
                .where(Notification.account_id == w.citizen_acc.id)
                .order_by(Notification.id)
            )
        )
        .scalars()
        .all()
    )
    assert (
        await session.execute(select(func.count()).select_from(Notification))
    ).scalar() == before + 4
    assert any("还有 20 天" in t for t in titles) and any("今天到期" in t for t in titles)
    # idempotent: the same day again sends nothing
    assert (await expiry.send_reminders(session, on=on)).reminded == 0
    await session.commit()
    # SMS through the outbox, from the worker
    LogSmsChannel.sent.clear()
    await _drain(sessionmaker_, settings)
    texts = [t for phone, t in LogSmsChannel.sent if phone == w.person.phone]
    assert len(texts) == 4 and any(
        "还有20天" in t and lics["thirty"].number[-4:] in t for t in texts
    )
    assert all(t.startswith("【通办】") for t in texts)
    # 35 days later: the 90-day licence reaches its 30-day threshold, the far one its 90-day one
    run = await expiry.send_reminders(session, on=on + dt.timedelta(days=35))
    await session.commit()
    assert {k for k, v in lics.items() if v.id in run.licence_ids} == {"far", "ninety"}
    # a changed validity end is reminded afresh
    lic = lics["seven"]
    await service.change(
        session, w.approver, lic.id, reason="延续有效期", valid_until=on + dt.timedelta(days=6)
    )
    await session.commit()
    assert (await expiry.send_reminders(session, on=on)).licence_ids == [lic.id]
    await session.commit()
    # a reminder whose licence was renewed before the SMS went out sends no SMS
    LogSmsChannel.sent.clear()
    await service.change(
        session, w.approver, lic.id, reason="延续有效期", valid_until=on + dt.timedelta(days=3000)
    )
    await session.commit()
    await _drain(sessionmaker_, settings)
    assert [t for _p, t in LogSmsChannel.sent if lic.number[-4:] in t and "还有6天" in t] == []


async def test_a_renewal_is_prepared_and_filed_when_the_holder_confirms(
    session, sessionmaker_, settings, client
):
    w, impl = await _world(session)
    on = wallet.today()
    lic = await _issue_until(session, w, on + dt.timedelta(days=25))
    other = await _issue_until(session, w, on + dt.timedelta(days=26))
    await session.commit()
    run = await expiry.send_reminders(session, on=on)
    await session.commit()
    assert run.renewals == 2
    assert (await expiry.send_reminders(session, on=on)).renewals == 0
    drafts = (
        (await session.execute(select(LicenceRenewal).order_by(LicenceRenewal.id))).scalars().all()
    )
    assert [d.licence_id for d in drafts] == [lic.id, other.id] and {d.status for d in drafts} == {
        "pending"
    }
    assert drafts[0].implementation_id == impl.id and drafts[0].item_name == "食品经营许可延续"
    event = (
        (
            await session.execute(
                select(OutboxEvent).where(OutboxEvent.name == expiry.EVENT).order_by(OutboxEvent.id)
            )
        )
        .scalars()
        .first()
    )
    assert event.payload["renewal_id"] == drafts[0].id
    LogSmsChannel.sent.clear()
    await _drain(sessionmaker_, settings)
    assert any("续期申请已准备好" in t for _p, t in LogSmsChannel.sent)
    # the wallet shows the drafts; confirming files the case with the licence attached
    page_login(client, w.citizen_acc.username)
    html = client.get("/me/licences").text
    assert "待确认的续期申请" in html and "确认并提交续期申请" in html and lic.number in html
    r = client.post(
        f"/me/licences/renewals/{drafts[0].id}/confirm",
        data={"csrf_token": csrf_from(html)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/me/cases/"), r.text
    case_id = int(r.headers["location"].split("/")[3].split("?")[0])
    case = await session.get(Case, case_id)
    await session.refresh(case)
    assert case.channel == "pc" and case.implementation_id == impl.id and case.state == "submitted"
    mats = (
        await session.execute(
            select(CaseMaterial.name, CaseMaterial.replaced_by).where(
                CaseMaterial.case_id == case_id
            )
        )
    ).all()
    assert mats == [("原食品经营许可证", f"licence:{lic.id}")]
    trail = (
        await session.execute(select(CaseTrail.data).where(CaseTrail.case_id == case_id))
    ).scalar_one()
    assert (
        trail["renewal_of"] == lic.identifier and trail["authorised_use"][0]["licence_id"] == lic.id
    )
    await session.refresh(drafts[0])
    assert drafts[0].status == "submitted" and drafts[0].case_id == case_id
    # confirming again answers the same case; dismissing the other one puts it aside
    builders.login(client, w.citizen_acc.username)
    r = client.post(f"/api/v1/me/licence-renewals/{drafts[0].id}/confirm", json={})
    assert r.status_code == 200 and r.json()["case_id"] == case_id
    assert [i["id"] for i in client.get("/api/v1/me/licence-renewals").json()["items"]] == [
        drafts[1].id
    ]
    r = client.post(f"/api/v1/me/licence-renewals/{drafts[1].id}/dismiss", json={})
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    assert (
        client.post(f"/api/v1/me/licence-renewals/{drafts[1].id}/confirm", json={}).status_code
        == 409
    )
    assert client.get("/api/v1/me/licence-renewals").json()["items"] == []
    # nobody else can touch them
    client.cookies.clear()
    _p, acc = await builders.citizen(session)
    await session.commit()
    builders.login(client, acc.username)
    assert (
        client.post(f"/api/v1/me/licence-renewals/{drafts[1].id}/dismiss", json={}).status_code
        == 404
    )


async def test_no_renewal_without_a_published_renewal_item(session):
    w, _impl = await _world(session)
    lt = await service.get_type_by_code(session, w.type_code)
    await service.update_type(
        session,
        w.admin,
        lt.id,
        LicenceTypeUpdate(
            auto_renewal={
                "enabled": True,
                "implementation_code": "NOT-PUBLISHED-0001",
                "instant": False,
            }
        ),
    )
    lic = await _issue_until(session, w, wallet.today() + dt.timedelta(days=3))
    await session.commit()
    run = await expiry.send_reminders(session)
    assert run.licence_ids == [lic.id] and run.renewals == 0
    assert (await session.execute(select(LicenceRenewal.id))).first() is None


async def test_a_renewal_needing_more_than_the_platform_knows_goes_to_the_online_form(
    session, client
):
    w, impl = await _world(session)
    w.person.phone = None  # the form asks for a phone the platform does not have
    lic = await _issue_until(session, w, wallet.today() + dt.timedelta(days=5))
    await session.commit()
    await expiry.send_reminders(session)
    await session.commit()
    draft = (
        await session.execute(select(LicenceRenewal).where(LicenceRenewal.licence_id == lic.id))
    ).scalar_one()
    page_login(client, w.citizen_acc.username)
    html = client.get("/me/licences").text
    r = client.post(
        f"/me/licences/renewals/{draft.id}/confirm",
        data={"csrf_token": csrf_from(html)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/apply/{impl.id}"
    assert (await session.execute(select(Case.id))).first() is None
    await session.refresh(draft)
    assert draft.status == "pending"
    builders.login(client, w.citizen_acc.username)
    r = client.post(f"/api/v1/me/licence-renewals/{draft.id}/confirm", json={})
    assert r.status_code == 422 and r.json()["code"] == "renewal_needs_form"
    assert r.json()["details"]["apply_url"] == f"/apply/{impl.id}"


async def test_the_scheduled_job_runs_in_daytime(session, sessionmaker_, settings):
    assert "licences.expiry_reminders" in {j.name for j in registered_jobs()}
    w, _impl = await _world(session, renewal=False)
    lic = await _issue_until(session, w, dt.date(2026, 5, 1))
    await session.commit()
    with freeze(dt.datetime(2026, 4, 20, 3, 0, tzinfo=CST)):  # night: nothing goes out
        assert "licences.expiry_reminders" in await run_due_jobs(sessionmaker_, settings)
    assert (await session.execute(select(ExpiryReminder.id))).first() is None
    with freeze(dt.datetime(2026, 4, 20, 10, 30, tzinfo=CST)):  # 11 days left: the 30-day reminder
        assert "licences.expiry_reminders" in await run_due_jobs(sessionmaker_, settings)
    rows = (
        await session.execute(
            select(ExpiryReminder.days, ExpiryReminder.sent).where(
                ExpiryReminder.licence_id == lic.id
            )
        )
    ).all()
    assert sorted(rows) == [(30, True), (90, False)]


def test_due_threshold():
    assert expiry.due_threshold([7, 30, 90], 100) is None
    assert expiry.due_threshold([7, 30, 90], 90) == 90
    assert expiry.due_threshold([7, 30, 90], 31) == 90
    assert expiry.due_threshold([7, 30, 90], 30) == 30
    assert expiry.due_threshold([7, 30, 90], 0) == 7
    assert expiry.due_threshold([], 0) is None


def test_sms_text_is_short_and_plain():
    from tongban.licences.models import Licence

    lic = Licence(name="食品经营许可证", number="JY13701020000123", valid_until=dt.date(2026, 5, 1))
    text = expiry.sms_text(lic, 11, renewal=False)
    assert (
        text
        == "【通办】您的食品经营许可证（编号尾号0123）将于2026年5月1日到期，还有11天，请及时办理延续或换证。"
    )
    assert "今天到期" in expiry.sms_text(lic, 0, renewal=True) and "确认提交" in expiry.sms_text(
        lic, 0, renewal=True
    )


async def test_an_instant_rule_decides_the_renewal_at_once(
    session, sessionmaker_, settings, client
):
    """自动办理 with an instant-approval rule (``auto_renewal.instant``): the
    confirmed renewal is accepted, reviewed, granted and delivered by 系统秒批
    at once, each step in the trail and the audit log."""
    from tongban.core.audit import AuditEntry

    w, impl = await _world(session)
    lt = await service.get_type_by_code(session, w.type_code)
    code = (await session.get(Implementation, impl.id)).impl_code
    await service.update_type(
        session, w.admin, lt.id,
        LicenceTypeUpdate(auto_renewal={"enabled": True, "implementation_code": code, "instant": True}),
    )  # fmt: skip
    on = wallet.today()
    await _issue_until(session, w, on + dt.timedelta(days=25))
    await session.commit()
    assert (await expiry.send_reminders(session, on=on)).renewals == 1
    await session.commit()
    draft = (await session.execute(select(LicenceRenewal))).scalar_one()
    builders.login(client, w.citizen_acc.username)
    r = client.post(f"/api/v1/me/licence-renewals/{draft.id}/confirm", json={})
    assert r.status_code == 200, r.text
    case = await session.get(Case, r.json()["case_id"])
    await session.refresh(case)
    assert (case.state, case.outcome, case.delivery_method) == ("delivered", "0", "electronic")
    assert "秒批" in case.outcome_reason
    trail = (
        await session.execute(
            select(CaseTrail.action, CaseTrail.actor_ref, CaseTrail.actor_name)
            .where(CaseTrail.case_id == case.id)
            .order_by(CaseTrail.id)
        )
    ).all()
    assert trail[0].action == "submit" and trail[0].actor_ref == f"account:{w.citizen_acc.id}"
    assert trail[1].action == "accept" and trail[-2].action == "decide"
    assert trail[-1].action == "deliver"
    assert {(t.actor_ref, t.actor_name) for t in trail[1:]} == {("system", "系统秒批")}
    audited = (
        await session.execute(
            select(AuditEntry.action).where(
                AuditEntry.actor == "system", AuditEntry.target_id == str(case.id)
            )
        )
    ).scalars()
    assert [a for a in audited if a.startswith("case.")] == [f"case.{t.action}" for t in trail[1:]]
    # the same renewal confirmed again answers the same case
    r = client.post(f"/api/v1/me/licence-renewals/{draft.id}/confirm", json={})
    assert r.status_code == 200 and r.json()["case_id"] == case.id
