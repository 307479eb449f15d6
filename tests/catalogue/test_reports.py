"""Catalogue reports on the seeded demo province: the consistency and
guide-quality reports list exactly the deviations seeded in the county entries;
全程网办 rates; the fix link and the override through the pages; the JSON API;
who sees what (an administrator of another city sees nothing)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests import builders as b
from tests.catalogue.helpers import admin, published_impl, published_item
from tests.web.conftest import page_login, token_of
from tongban.catalogue import reports, service
from tongban.catalogue.demo_catalogue import DEVIATIONS, ITEMS, LIXIA, SHIZHONG
from tongban.catalogue.models import Implementation
from tongban.core.errors import NotFound, PermissionDenied
from tongban.demo import DEMO_PASSWORD, load_demo
from tongban.identity.models import Account
from tongban.identity.service import actor_for_account

NAMES = {i.code: i.fields["name"] for i in ITEMS}
API = "/api/v1/catalogue/reports"


async def actor(session, username: str):
    acc = (await session.execute(select(Account).where(Account.username == username))).scalar_one()
    return await actor_for_account(session, acc, via="session")


def seen(report: reports.FindingsReport) -> set[tuple[str, str, str]]:
    return {(r.region_code, NAMES[r.base_code], f.code) for r in report.rows for f in r.findings}


@pytest.fixture
async def demo(sessionmaker_, session):
    summary = await load_demo(sessionmaker_)
    assert summary["catalogue"] == {"items": len(ITEMS), "implementations": 40}
    return summary


async def test_demo_reports_list_exactly_the_seeded_discrepancies(
    demo, sessionmaker_, session
) -> None:
    a = await actor(session, "admin")
    cons = await reports.consistency_report(session, a, per_page=500)
    assert cons.checked == 40
    assert seen(cons) == {(d.region, d.item, c) for d in DEVIATIONS for c in d.consistency}
    assert cons.by_code == {
        "name_differs": 1,
        "materials_differ": 1,
        "promised_exceeds_statutory": 1,
    }
    assert {b_.key: b_.flagged for b_ in cons.by_region} == {
        "370100000000": 0,
        LIXIA: 1,
        SHIZHONG: 2,
    }
    renamed = next(r for r in cons.rows if r.findings[0].code == "name_differs")
    assert (
        renamed.name == "食品经营许可证核发" and "食品经营许可证核发" in renamed.findings[0].message
    )
    assert renamed.department_name == "市中区市场监督管理局" and renamed.region_name.endswith(
        "市中区"
    )
    guide = await reports.guide_quality_report(session, a, per_page=500)
    assert seen(guide) == {(d.region, d.item, c) for d in DEVIATIONS for c in d.guide}
    assert guide.by_code == {
        "payment_without_fee": 1,
        "promised_exceeds_statutory": 1,
        "depth4_visits": 1,
    }
    rows, total, _pages, checked, by_code = await reports.base_guide_quality(session, a)
    assert (rows, total, checked, by_code) == ([], 0, len(ITEMS), {})  # the base items are complete
    # filters
    only = await reports.consistency_report(session, a, region_code="370102")
    assert seen(only) == {(LIXIA, "企业设立登记", "materials_differ")}
    dept = renamed.department_id
    assert seen(await reports.consistency_report(session, a, department_id=dept)) == {
        (SHIZHONG, "食品经营许可", "name_differs")
    }
    assert seen(
        await reports.consistency_report(session, a, code="promised_exceeds_statutory")
    ) == {(SHIZHONG, "公共场所卫生许可", "promised_exceeds_statutory")}
    paged = await reports.consistency_report(session, a, per_page=2, page=2)
    assert (paged.pages, paged.page, len(paged.rows), paged.total) == (2, 2, 1, 3)
    # loading again changes nothing
    again = await load_demo(sessionmaker_)
    assert again["catalogue"] == {"items": 0, "implementations": 0}


async def test_online_rates(demo, session) -> None:
    a = await actor(session, "admin")
    rates = await reports.online_rates(session, a)
    o = rates.overall
    assert (o.total, o.done, o.can, o.cannot) == (40, 28, 2, 10)
    assert rates.rate == pytest.approx(0.7) and o.capable_rate == pytest.approx(0.75)
    assert (
        sum(r.total for r in rates.by_region) == 40
        and sum(r.total for r in rates.by_department) == 40
    )
    lixia = await reports.online_rates(session, a, "370102")
    assert lixia.overall.total == 18 and [r.key for r in lixia.by_region] == [LIXIA]
    rows, nxt = await reports.online_entries(session, a, status="cannot", region_code="370103")
    assert nxt is None and {r.name for r in rows} >= {"失业登记", "结婚登记", "残疾人证办理"}
    unemployed = next(r for r in rows if r.name == "失业登记")
    assert "须到现场" in unemployed.reason
    first, nxt = await reports.online_entries(session, a, limit=15)
    second, last = await reports.online_entries(session, a, limit=15, after=nxt)
    third, _ = await reports.online_entries(session, a, limit=15, after=last)
    assert len({r.id for r in first + second + third}) == 40
    await service.set_online_override(
        session, a, unemployed.id, {"status": "can", "reason": "已开通线上视频核验"}
    )
    rates = await reports.online_rates(session, a)
    assert (rates.overall.can, rates.overall.cannot, rates.overridden) == (3, 9, 1)
    rows, _ = await reports.online_entries(session, a, overridden=True)
    assert [(r.name, r.status, r.reason) for r in rows] == [
        ("失业登记", "can", "已开通线上视频核验")
    ]


async def test_scope_of_each_reader(demo, session) -> None:
    dept = await b.department(session, region=b.QINGDAO_SHINAN)
    qd = await admin(session, region=b.QINGDAO_SHINAN)
    for report in (
        await reports.consistency_report(session, qd),
        await reports.guide_quality_report(session, qd),
    ):
        assert (report.checked, report.total, report.rows) == (0, 0, [])
    assert (await reports.online_rates(session, qd)).overall.total == 0
    assert (await reports.base_guide_quality(session, qd))[3] == 0
    with pytest.raises(NotFound):
        await reports.consistency_report(session, qd, region_code="370102")
    impl_id = (await session.execute(select(Implementation.id).limit(1))).scalar_one()
    with pytest.raises(NotFound):
        await reports.access_entry(session, qd, impl_id)
    # leaders and supervisors of 济南 read their city; county clerks read no reports
    for username in ("leader.jinan", "supervisor.jinan"):
        r = await reports.consistency_report(session, await actor(session, username))
        assert r.checked == 40 and r.total == 3
    with pytest.raises(PermissionDenied):
        await reports.consistency_report(session, await actor(session, "clerk.lixia"))
    clerk = await b.staff(session, roles=["clerk"], region=b.QINGDAO_SHINAN, dept=dept)
    with pytest.raises(PermissionDenied):
        await reports.online_rates(session, await actor_for_account(session, clerk, via="session"))


async def test_findings_follow_new_versions(session) -> None:
    """Findings are cached by content hash: a new published version is checked afresh."""
    a = await admin(session)
    item = await published_item(session, a)
    impl = await published_impl(session, a, item, overrides={"name": "食品经营许可（县）"})
    assert seen_codes(await reports.consistency_report(session, a)) == {"name_differs"}
    await service.save_implementation_draft(session, a, impl.id, rebase=True)
    assert seen_codes(await reports.consistency_report(session, a)) == {
        "name_differs"
    }  # the draft is not in force
    await service.publish_implementation(session, a, impl.id)
    assert seen_codes(await reports.consistency_report(session, a)) == set()
    # the base item changes: every entry derived from the old version differs now
    await service.save_item_draft(
        session,
        a,
        item.id,
        {**(await service.item_version(session, item.id, 1)).fields, "conditions": "新的受理条件"},
    )
    await service.publish_item(session, a, item.id)
    assert seen_codes(await reports.consistency_report(session, a)) == {"conditions_differ"}


def seen_codes(report: reports.FindingsReport) -> set[str]:
    return {f.code for r in report.rows for f in r.findings}


# --- pages -------------------------------------------------------------------------------------------


async def test_report_pages_fix_and_override(demo, client, session) -> None:
    page_login(client, "admin", DEMO_PASSWORD)
    r = client.get("/admin/catalogue/reports")
    assert (
        r.status_code == 200
        and "同标同源" in r.text
        and "全程网办率" in r.text
        and "70.0%" in r.text
    )
    r = client.get("/admin/catalogue/reports/consistency")
    assert r.status_code == 200
    for word in (
        "食品经营许可证核发",
        "企业设立登记",
        "公共场所卫生许可",
        "承诺时限长于法定时限",
        "按基本目录修正",
    ):
        assert word in r.text
    assert 'href="/admin/catalogue/reports"' in r.text  # the navigation link
    # htmx filter: only the results fragment
    r = client.get(
        "/admin/catalogue/reports/consistency?code=name_differs", headers={"HX-Request": "true"}
    )
    assert r.status_code == 200 and "<html" not in r.text
    assert "食品经营许可证核发" in r.text and "企业设立登记" not in r.text
    r = client.get("/admin/catalogue/reports/consistency?region=370102")
    assert "企业设立登记" in r.text and "食品经营许可证核发" not in r.text
    assert client.get("/admin/catalogue/reports/consistency?code=bogus").status_code == 422
    assert (
        client.get("/admin/catalogue/reports/consistency?region=110101").status_code == 404
    )  # 北京: outside 山东
    # the fix link: confirmation, then a rebased draft, then publish
    impl_id = int(re.search(r"/admin/catalogue/reports/consistency/(\d+)/fix", r.text).group(1))
    r = client.get(f"/admin/catalogue/reports/consistency/{impl_id}/fix")
    assert (
        r.status_code == 200
        and "确认修正" in r.text
        and "缺少 住所（经营场所）使用相关文件" in r.text
    )
    token = token_of(client, f"/admin/catalogue/reports/consistency/{impl_id}/fix")
    assert (
        client.post(f"/admin/catalogue/reports/consistency/{impl_id}/fix", data={}).status_code
        == 403
    )
    r = client.post(
        f"/admin/catalogue/reports/consistency/{impl_id}/fix", data={"csrf_token": token}
    )
    assert r.status_code == 200 and "已生成第 2 版草稿" in r.text
    r = client.post(
        f"/admin/catalogue/reports/consistency/{impl_id}/publish",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.get("/admin/catalogue/reports/consistency?msg=published")
    assert "实施清单已发布" in r.text and "企业设立登记" not in r.text
    # guide quality, both targets
    r = client.get("/admin/catalogue/reports/guide-quality")
    assert r.status_code == 200 and "不收费却支持网上支付" in r.text and "高龄津贴申领" in r.text
    r = client.get("/admin/catalogue/reports/guide-quality?target=base")
    assert r.status_code == 200 and "没有发现问题" in r.text
    # 全程网办 list and the override, with its confirmation step
    r = client.get("/admin/catalogue/reports/online?status=cannot&region=370103")
    assert r.status_code == 200 and "失业登记" in r.text and "调整认定" in r.text
    target = int(re.search(r"/admin/catalogue/reports/online/(\d+)/override", r.text).group(1))
    url = f"/admin/catalogue/reports/online/{target}/override"
    assert "认定结果" in client.get(url).text
    r = client.post(url, data={"csrf_token": token, "status": "done", "reason": ""})
    assert r.status_code == 422 and "请填写认定理由" in r.text
    r = client.post(url, data={"csrf_token": token, "status": "done", "reason": "已开通视频核验"})
    assert r.status_code == 200 and "请确认" in r.text and 'name="confirm" value="yes"' in r.text
    impl = await session.get(Implementation, target)
    assert not impl.online_override  # nothing changed before the confirmation
    r = client.post(
        url,
        data={"csrf_token": token, "status": "done", "reason": "已开通视频核验", "confirm": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.get("/admin/catalogue/reports/online?overridden=yes")
    assert "人工认定" in r.text and "已开通视频核验" in r.text
    r = client.post(
        url, data={"csrf_token": token, "status": "auto", "confirm": "yes"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "没有符合条件" in client.get("/admin/catalogue/reports/online?overridden=yes").text


async def test_readers_pages_and_who_may_change(demo, client, session) -> None:
    page_login(client, "leader.jinan", DEMO_PASSWORD)
    r = client.get("/admin/catalogue/reports/consistency")
    assert (
        r.status_code == 200 and "食品经营许可证核发" in r.text and "按基本目录修正" not in r.text
    )
    assert "领导驾驶舱" in r.text  # the leader's own layout
    r = client.get("/admin/catalogue/reports/online")
    assert r.status_code == 200 and "调整认定" not in r.text
    impl_id = (await session.execute(select(Implementation.id).limit(1))).scalar_one()
    assert client.get(f"/admin/catalogue/reports/online/{impl_id}/override").status_code == 403
    token = token_of(client, "/admin/catalogue/reports/online")
    r = client.post(
        f"/admin/catalogue/reports/consistency/{impl_id}/fix", data={"csrf_token": token}
    )
    assert r.status_code == 403  # the service decides: only administrators change entries
    client.cookies.clear()
    page_login(client, "clerk.lixia", DEMO_PASSWORD)
    assert client.get("/admin/catalogue/reports/consistency").status_code == 403


# --- JSON API -------------------------------------------------------------------------------------------


async def test_reports_api(demo, client, session) -> None:
    h = {"X-CSRF-Token": b.login(client, "admin", DEMO_PASSWORD)["csrf_token"]}
    r = client.get(f"{API}/consistency")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["checked"] == 40 and body["total"] == 3
    assert {(x["code"], x["count"]) for x in body["by_code"]} == {
        ("name_differs", 1),
        ("materials_differ", 1),
        ("promised_exceeds_statutory", 1),
    }
    assert {f["code"] for row in body["rows"] for f in row["findings"]} == {
        "name_differs",
        "materials_differ",
        "promised_exceeds_statutory",
    }
    r = client.get(f"{API}/guide-quality", params={"code": "depth4_visits"})
    assert [row["name"] for row in r.json()["rows"]] == ["失业登记"]
    assert client.get(f"{API}/guide-quality", params={"target": "base"}).json()["total"] == 0
    rates = client.get(f"{API}/online/rates").json()
    assert (rates["total"], rates["done"], rates["can"], rates["cannot"], rates["rate"]) == (
        40,
        28,
        2,
        10,
        0.7,
    )
    r = client.get(f"{API}/online", params={"status": "can"})
    items = r.json()["items"]
    assert {x["name"] for x in items} == {"医师执业注册"} and len(items) == 2
    target = items[0]["id"]
    r = client.put(f"{API}/online/{target}/override", json={"status": "done", "reason": "x"})
    assert r.status_code == 422
    r = client.put(
        f"{API}/online/{target}/override", json={"status": "done", "reason": "已开通全程网办"}
    )
    assert r.status_code == 200 and r.json()["status"] == "done" and r.json()["overridden"]
    r = client.delete(f"{API}/online/{target}/override")
    assert r.json()["status"] == "can" and not r.json()["overridden"]
    renamed = next(row for row in body["rows"] if row["findings"][0]["code"] == "name_differs")
    r = client.post(f"{API}/consistency/{renamed['id']}/fix", headers=h)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["remaining"] == []
    # another city's administrator sees nothing and changes nothing
    qd_dept = await b.department(session, region=b.QINGDAO_SHINAN)
    await b.staff(
        session, roles=["platform_admin"], region=b.QINGDAO_SHINAN, username="qdadmin", dept=qd_dept
    )
    await session.commit()
    client.cookies.clear()
    h = {"X-CSRF-Token": b.login(client, "qdadmin")["csrf_token"]}
    body = client.get(f"{API}/consistency").json()
    assert (body["checked"], body["total"], body["rows"]) == (0, 0, [])
    assert client.get(f"{API}/online/rates").json()["total"] == 0
    assert client.get(f"{API}/consistency", params={"region": "370102"}).status_code == 404
    assert (
        client.put(
            f"{API}/online/{target}/override", json={"status": "done", "reason": "越权认定"}
        ).status_code
        == 404
    )
    assert client.post(f"{API}/consistency/{renamed['id']}/fix", headers=h).status_code == 404
    client.cookies.clear()
    assert client.get(f"{API}/consistency").status_code == 401
