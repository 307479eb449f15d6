"""Case pages through the front door: the online entry files a case (with
materials), 我的办件 and the case page (correction, resubmission, withdrawal),
the inbox, the workbench queues with filters and keyset pages, only the
allowed actions shown and a forbidden one refused, the confirm step, window
intake, supervision, scope (another department's staff get 404)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from tests import builders as b
from tests.catalogue.helpers import admin, published_impl, published_item
from tests.web.conftest import csrf_from, page_login
from tongban.cases import api as cases_api
from tongban.cases import service, supervision
from tongban.cases.models import Case, CaseMaterial, Notification
from tongban.core.audit import AuditEntry
from tongban.identity.service import actor_for_account
from tongban.regions.models import Department

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class W:
    ids: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    actors: dict[str, Any] = field(default_factory=dict)


async def build(s) -> W:
    """Two published implementations of 历下 in two departments; staff of each kind;
    two citizens and a person without an account (window intake)."""
    w = W()
    a = await admin(s)
    item = await published_item(s, a, name="公共场所卫生许可", service_objects=["1", "2"])
    impl = await published_impl(s, a, item)
    item2 = await published_item(s, a, name="食品经营许可", service_objects=["1"])
    impl2 = await published_impl(s, a, item2)
    dept = await s.get(Department, impl.department_id)
    dept2 = await s.get(Department, impl2.department_id)
    accounts = {
        "clerk": await b.staff(s, roles=["clerk"], dept=dept, username="pclerk"),
        "approver": await b.staff(s, roles=["approver"], dept=dept, username="papprover"),
        "head": await b.staff(s, roles=["dept_admin"], dept=dept, username="phead"),
        "sup": await b.staff(s, roles=["supervisor"], dept=await b.department(s), username="psup"),
        "other": await b.staff(s, roles=["approver"], dept=dept2, username="pother"),
        "far": await b.staff(
            s,
            roles=["clerk"],
            region=b.QINGDAO_SHINAN,
            dept=await b.department(s, region=b.QINGDAO_SHINAN),
            username="pfar",
        ),
    }
    alice, alice_acc = await b.citizen(s, username="palice")
    bob, bob_acc = await b.citizen(s, username="pbob")
    walkin = await b.person(s, name="窗口来人")
    for k, acc in {**accounts, "alice": alice_acc, "bob": bob_acc}.items():
        w.actors[k] = await actor_for_account(s, acc, via="session")
    await s.commit()
    w.ids = {
        "impl": impl.id,
        "impl2": impl2.id,
        "dept": dept.id,
        "dept2": dept2.id,
        "alice": alice.id,
        "bob": bob.id,
        "walkin": walkin.id,
        "sup": accounts["sup"].id,
    }
    w.names = {"alice": alice.name, "impl": impl.name, "impl2": impl2.name, "walkin": walkin.name}
    w.numbers = {"alice": alice.id_number, "bob": bob.id_number, "walkin": walkin.id_number}
    return w


def form_for(name: str, number: str) -> dict[str, str]:
    return {"applicant_name": name, "applicant_id_number": number, "phone": "13800138000"}


async def file_case(s, w: W, key: str, *, who: str = "alice", impl: str = "impl") -> Case:
    actor = w.actors[who]
    c, _ = await service.submit(
        s,
        actor,
        implementation_id=w.ids[impl],
        form_data=form_for(actor.display_name, w.numbers[who]),
        idempotency_key=key,
    )
    return c


@pytest.fixture
async def w(session) -> W:
    return await build(session)


def _hidden(html: str, name: str) -> str:
    m = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert m, name
    return m.group(1)


def _upload(client, html: str, slot: int, name: str, data: bytes = PDF) -> str:
    """Upload one material as the page's slot does (htmx, multipart); the token it answers."""
    r = client.post(
        "/cases/uploads",
        data={"csrf_token": csrf_from(html), "_slot": str(slot), "_slot_name": name},
        files={f"_file.{slot}": ("scan.pdf", data, "application/pdf")},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200, r.text
    m = re.search(rf'name="_mat\.{slot}" value="([^"]+)"', r.text)
    assert m, r.text
    return m.group(1)


# --- the online entry files a case -------------------------------------------------------------------


async def test_apply_files_a_case_with_materials_once(w: W, client, session) -> None:
    page_login(client, "palice")
    html = client.get(f"/apply/{w.ids['impl']}").text
    assert (
        "食品经营许可申请书" in html and 'name="_file.0"' in html
    )  # the guide's materials as upload slots
    token = _upload(client, html, 0, "食品经营许可申请书")
    data = {
        "csrf_token": csrf_from(html),
        "_key": _hidden(html, "_key"),
        "phone": "13800138000",
        "_mat.0": token,
    }
    r = client.post(f"/apply/{w.ids['impl']}", data=data, follow_redirects=False)
    assert r.status_code == 303 and re.fullmatch(
        r"/me/cases/\d+\?msg=submitted", r.headers["location"]
    )
    again = client.post(f"/apply/{w.ids['impl']}", data=data, follow_redirects=False)
    assert again.headers["location"] == r.headers["location"]  # the same key: the same case
    case_id = int(r.headers["location"].split("/")[3].split("?")[0])
    page = client.get(r.headers["location"]).text
    assert (
        "申请已提交" in page
        and "待受理" in page
        and "受理期限" in page
        and "食品经营许可申请书" in page
    )
    mats = (
        (await session.execute(select(CaseMaterial).where(CaseMaterial.case_id == case_id)))
        .scalars()
        .all()
    )
    assert [(m.name, m.round) for m in mats] == [("食品经营许可申请书", 0)]
    pdf = client.get(f"/cases/{case_id}/materials/{mats[0].id}")
    assert (
        pdf.status_code == 200
        and pdf.content == PDF
        and pdf.headers["content-disposition"].startswith("inline")
    )
    dl = client.get(f"/cases/{case_id}/materials/{mats[0].id}?download=1")
    assert dl.headers["content-disposition"].startswith("attachment")

    # a token this session did not get (another's file, a guessed hash) is refused on the form
    html = client.get(f"/apply/{w.ids['impl']}").text
    forged = "a" * 64 + ".deadbeef"
    r = client.post(
        f"/apply/{w.ids['impl']}",
        data={
            "csrf_token": csrf_from(html),
            "_key": _hidden(html, "_key"),
            "phone": "13800138000",
            "_mat.1": forged,
        },
    )
    assert r.status_code == 422 and "材料上传信息已失效" in r.text
    assert len((await session.execute(select(Case.id))).all()) == 1

    client.cookies.clear()
    page_login(client, "pbob")
    assert client.get(f"/cases/{case_id}/materials/{mats[0].id}").status_code == 404
    assert client.get(f"/me/cases/{case_id}").status_code == 404


async def test_upload_slot_refuses_a_disguised_file(w: W, client) -> None:
    page_login(client, "palice")
    html = client.get(f"/apply/{w.ids['impl']}").text
    r = client.post(
        "/cases/uploads",
        data={"csrf_token": csrf_from(html), "_slot": "1", "_slot_name": "营业执照"},
        files={"_file.1": ("x.pdf", b"MZ not a pdf", "application/pdf")},
    )
    assert r.status_code == 200 and "文件类型不支持" in r.text and 'name="_mat.1"' not in r.text
    r = client.post(
        "/cases/uploads", data={"_slot": "1"}, files={"_file.1": ("x.pdf", PDF, "application/pdf")}
    )
    assert r.status_code == 403  # no CSRF token


# --- the applicant's pages -------------------------------------------------------------------------------


async def test_my_cases_correction_resubmit_and_withdraw(w: W, client, session) -> None:
    c = await file_case(session, w, "mine-00001")
    other = await file_case(session, w, "mine-00002", impl="impl2")
    await service.transition(
        session,
        w.actors["clerk"],
        c.id,
        "request_correction",
        {
            "items": [
                {"kind": "material", "name": "营业执照", "reason": "复印件不清晰"},
                {"kind": "field", "name": "联系地址", "reason": "未填写"},
            ]
        },
    )
    await file_case(session, w, "bobs-00001", who="bob")
    await session.commit()

    page_login(client, "palice")
    r = client.get("/me/cases")
    assert r.status_code == 200 and c.number in r.text and other.number in r.text
    assert "请按一次性告知补齐补正后重新提交" in r.text and "等待工作人员受理" in r.text
    assert client.get("/me/cases?q=食品经营").text.count('class="card case-card"') == 1
    assert "没有符合条件的办件" in client.get("/me/cases?group=closed").text

    page = client.get(f"/me/cases/{c.id}").text
    assert "复印件不清晰" in page and "联系地址" in page and "未填写" in page  # every item listed
    assert f'action="/me/cases/{c.id}/resubmit"' in page and "需补正" in page
    assert f'value="{w.numbers["alice"]}" readonly' in page  # identity stays locked
    token = _upload(client, page, 0, "营业执照")
    r = client.post(
        f"/me/cases/{c.id}/resubmit",
        data={
            "csrf_token": csrf_from(page),
            "phone": "123",
            "address": "泉城路 1 号",
            "_mat.0": token,
        },
    )
    assert (
        r.status_code == 422 and "手机号码应为 11 位数字" in r.text and "已上传" in r.text
    )  # the upload is kept
    r = client.post(
        f"/me/cases/{c.id}/resubmit",
        data={
            "csrf_token": csrf_from(page),
            "phone": "13800138000",
            "address": "泉城路 1 号",
            "_mat.0": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/me/cases/{c.id}?msg=resubmitted"
    await session.refresh(c)
    assert c.state == "submitted" and c.form_data["address"] == "泉城路 1 号"
    mats = (
        await session.execute(
            select(CaseMaterial.name, CaseMaterial.round).where(CaseMaterial.case_id == c.id)
        )
    ).all()
    assert mats == [("营业执照", 1)]
    page = client.get(f"/me/cases/{c.id}").text
    assert "补正后重新提交" in page and "已补正" in page  # the trail and the answered notice

    r = client.get(f"/me/cases/{c.id}/withdraw")
    assert r.status_code == 200 and "撤回原因" in r.text
    r = client.post(
        f"/me/cases/{c.id}/withdraw", data={"csrf_token": csrf_from(page), "reason": "不需要了"}
    )
    assert r.status_code == 422 and "我确认撤回本次申请" in r.text
    r = client.post(
        f"/me/cases/{c.id}/withdraw",
        data={"csrf_token": csrf_from(page), "confirm": "yes", "reason": ""},
    )
    assert r.status_code == 422 and "请填写理由" in r.text
    r = client.post(
        f"/me/cases/{c.id}/withdraw",
        data={"csrf_token": csrf_from(page), "confirm": "yes", "reason": "已在别处办理"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    await session.refresh(c)
    assert c.state == "withdrawn"
    assert "撤回申请" not in client.get(f"/me/cases/{c.id}").text.split("服务轨迹")[0]
    assert client.get(f"/me/cases/{c.id}/withdraw").status_code == 409


async def test_inbox_mark_one_and_all(w: W, client, session) -> None:
    c = await file_case(session, w, "inbox-0001")
    await service.transition(session, w.actors["clerk"], c.id, "accept")
    await session.commit()
    page_login(client, "palice")
    page = client.get("/me/inbox").text
    assert (
        "您的申请已提交" in page
        and "您的申请已受理" in page
        and page.count('class="badge warn">未读') == 2
    )
    first = (
        (
            await session.execute(
                select(Notification.id)
                .where(Notification.case_id == c.id)
                .order_by(Notification.id)
            )
        )
        .scalars()
        .first()
    )
    r = client.post(
        f"/me/inbox/{first}/read", data={"csrf_token": csrf_from(page)}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/me/cases/{c.id}"
    assert client.get("/me/inbox?unread=true").text.count('class="badge warn">未读') == 1
    client.post("/me/inbox/read", data={"csrf_token": csrf_from(page)})
    assert "没有未读消息" in client.get("/me/inbox?unread=true").text
    client.cookies.clear()
    page_login(client, "pbob")
    r = client.post(
        f"/me/inbox/{first}/read", data={"csrf_token": csrf_from(client.get("/me/inbox").text)}
    )
    assert r.status_code == 404  # not bob's


# --- the workbench ---------------------------------------------------------------------------------------


async def _states(session, w: W) -> dict[str, Case]:
    """One case in each queue (and a window case of the other department)."""
    s, clerk, approver = session, w.actors["clerk"], w.actors["approver"]
    out = {
        k: await file_case(s, w, f"q-{k}-0001")
        for k in ("accept", "review", "decide", "deliver", "corr", "paused", "yellow", "red")
    }
    await service.transition(
        s,
        clerk,
        out["corr"].id,
        "request_correction",
        {"items": [{"kind": "material", "name": "营业执照", "reason": "缺"}]},
    )
    for k in ("review", "decide", "deliver", "paused"):
        await service.transition(s, clerk, out[k].id, "accept")
    for k in ("decide", "deliver"):
        await service.transition(s, approver, out[k].id, "pass_step")
        await service.transition(s, approver, out[k].id, "pass_step")
    await service.transition(s, approver, out["deliver"].id, "decide", {"outcome": "grant"})
    await service.transition(
        s, approver, out["paused"].id, "suspend", {"kind": "hearing", "reason": "依申请举行听证"}
    )
    out["yellow"].alert, out["red"].alert = "yellow", "red"
    out["window"], _ = await service.submit(
        s,
        clerk,
        implementation_id=w.ids["impl2"],
        form_data=form_for(w.names["walkin"], w.numbers["walkin"]),
        idempotency_key="q-window-0001",
        channel="window",
        applicant_person_id=w.ids["walkin"],
    )
    await s.commit()
    return out


QUEUE_OF = {
    "to_accept": {"accept", "yellow", "red", "window"},
    "to_review": {"review"},
    "to_decide": {"decide"},
    "to_deliver": {"deliver"},
    "corrections": {"corr"},
    "paused": {"paused"},
    "yellow": {"yellow"},
    "red": {"red"},
}


def _numbers(html: str) -> set[str]:
    return set(re.findall(r'<a class="mono" href="/workbench/cases/\d+">([^<]+)</a>', html))


async def test_each_queue_counts_as_the_api_and_lists_its_cases(w: W, client, session) -> None:
    cases = await _states(session, w)
    page_login(client, "pclerk")
    api_counts = client.get("/api/v1/cases/queues").json()
    page = client.get("/workbench/cases").text
    assert (
        'data-queue="to_accept" class="queue-to_accept" aria-current="page"' in page
    )  # a clerk opens on 待受理
    for key, members in QUEUE_OF.items():
        count = re.search(rf'data-queue="{key}"[^>]*>[^<]*<span class="count">(\d+)</span>', page)
        assert count and int(count.group(1)) == api_counts[key]["count"] == len(members), key
        listed = _numbers(client.get(f"/workbench/cases?queue={key}").text)
        assert listed == {cases[m].number for m in members}, key
    assert len(_numbers(client.get("/workbench/cases?queue=all").text)) == len(cases)
    assert client.get("/workbench/cases?queue=nope").status_code == 422

    # an approver of the department sees its cases only, opening on 待审查
    client.cookies.clear()
    page_login(client, "papprover")
    page = client.get("/workbench/cases").text
    assert _numbers(page) == {cases["review"].number}
    assert (
        cases["window"].number not in client.get("/workbench/cases?queue=all").text
    )  # the other department's


async def test_filters_and_keyset_pages(w: W, client, session) -> None:
    cases = await _states(session, w)
    for i in range(22):
        await file_case(session, w, f"page-{i:05d}")
    await session.commit()
    page_login(client, "pclerk")
    first = client.get("/workbench/cases?queue=to_accept").text
    assert len(_numbers(first)) == 20 and 'rel="next"' in first
    nxt = (
        re.search(r'rel="next" href="/workbench/cases\?([^"]+)"', first)
        .group(1)
        .replace("&amp;", "&")
    )
    assert "queue=to_accept" in nxt and "before=" in nxt
    second = client.get(f"/workbench/cases?{nxt}").text
    assert (
        len(_numbers(second)) == 6
        and not _numbers(first) & _numbers(second)
        and 'rel="next"' not in second
    )
    assert "第一页" in second
    # htmx asks for the results only
    frag = client.get(f"/workbench/cases?{nxt}", headers={"HX-Request": "true"}).text
    assert "<html" not in frag and len(_numbers(frag)) == 6

    q = "/workbench/cases?queue=all"
    assert _numbers(client.get(f"{q}&number={cases['red'].number}").text) == {cases["red"].number}
    assert _numbers(client.get(f"{q}&channel=window").text) == {cases["window"].number}
    assert _numbers(client.get(f"{q}&applicant=窗口").text) == {cases["window"].number}
    assert _numbers(client.get(f"{q}&impl={w.ids['impl2']}").text) == {cases["window"].number}
    assert _numbers(client.get(f"{q}&dept={w.ids['dept2']}").text) == {cases["window"].number}
    assert _numbers(client.get(f"{q}&state=suspended").text) == {cases["paused"].number}
    assert _numbers(client.get(f"{q}&from=2999-01-01").text) == set()
    assert len(_numbers(client.get(f"{q}&to=2999-01-01&state=concluded").text)) == 1
    assert client.get(f"{q}&state=flying").status_code == 422


async def test_case_page_shows_only_the_allowed_actions(w: W, client, session) -> None:
    cases = await _states(session, w)
    page_login(client, "pclerk")
    page = client.get(f"/workbench/cases/{cases['accept'].id}").text
    assert set(re.findall(r'data-action="(\w+)"', page)) == {
        "accept",
        "reject",
        "request_correction",
    }
    assert w.numbers["alice"] in page  # a clerk sees the full identity number
    assert (
        "营业执照" in page and 'list="correction-names"' in page
    )  # the guide's materials as choices
    page = client.get(f"/workbench/cases/{cases['review'].id}").text
    assert set(re.findall(r'data-action="(\w+)"', page)) == set()  # the steps are the approver's
    page = client.get(f"/workbench/cases/{cases['deliver'].id}").text
    assert set(re.findall(r'data-action="(\w+)"', page)) == {"deliver"}

    client.cookies.clear()
    page_login(client, "papprover")
    page = client.get(f"/workbench/cases/{cases['review'].id}").text
    # the first step: nothing to return to, so no 退回上一环节
    assert set(re.findall(r'data-action="(\w+)"', page)) == {"pass_step", "suspend"}
    assert "剩余" in page and "个工作日" in page  # the deadline clock
    page = client.get(f"/workbench/cases/{cases['decide'].id}").text
    assert set(re.findall(r'data-action="(\w+)"', page)) == {"decide", "return_step", "suspend"}
    assert "行政复议" in page  # a refusal states the rights
    page = client.get(f"/workbench/cases/{cases['accept'].id}").text
    assert re.findall(r'data-action="(\w+)"', page) == [] and "没有可对本件执行的操作" in page
    assert set(
        re.findall(
            r'data-action="(\w+)"', client.get(f"/workbench/cases/{cases['paused'].id}").text
        )
    ) == {"resume"}

    client.cookies.clear()
    page_login(client, "phead")
    page = client.get(f"/workbench/cases/{cases['review'].id}").text
    assert set(re.findall(r'data-action="(\w+)"', page)) == {"extend", "void"}

    client.cookies.clear()
    page_login(client, "psup")
    page = client.get(f"/workbench/cases/{cases['accept'].id}").text
    assert (
        re.findall(r'data-action="(\w+)"', page) == [] and w.numbers["alice"] not in page
    )  # masked for a supervisor


async def test_a_forbidden_action_is_refused_and_changes_nothing(w: W, client, session) -> None:
    cases = await _states(session, w)
    page_login(client, "papprover")
    token = csrf_from(client.get("/workbench/cases").text)
    r = client.post(
        f"/workbench/cases/{cases['accept'].id}/actions/accept",
        data={"csrf_token": token, "confirm": "yes"},
    )
    assert r.status_code == 403 and "action_forbidden" in r.text
    r = client.post(
        f"/workbench/cases/{cases['review'].id}/actions/accept",
        data={"csrf_token": token, "confirm": "yes"},
    )
    assert r.status_code == 409
    r = client.post(
        f"/workbench/cases/{cases['review'].id}/actions/withdraw",
        data={"csrf_token": token, "confirm": "yes"},
    )
    assert r.status_code == 404  # the applicant's action is no workbench action
    r = client.post(
        f"/workbench/cases/{cases['review'].id}/actions/pass_step", data={"confirm": "yes"}
    )
    assert r.status_code == 403  # no CSRF token
    await session.refresh(cases["accept"])
    await session.refresh(cases["review"])
    assert cases["accept"].state == "submitted" and cases["review"].step_index == 0


async def test_other_department_and_other_region_get_404(w: W, client, session) -> None:
    cases = await _states(session, w)
    for who in ("pother", "pfar"):
        client.cookies.clear()
        page_login(client, who)
        assert client.get(f"/workbench/cases/{cases['review'].id}").status_code == 404
        token = csrf_from(client.get("/workbench/cases?queue=all").text)
        r = client.post(
            f"/workbench/cases/{cases['review'].id}/actions/pass_step",
            data={"csrf_token": token, "confirm": "yes"},
        )
        assert r.status_code == 404
        assert cases["review"].number not in client.get("/workbench/cases?queue=all").text
    client.cookies.clear()
    page_login(client, "palice")
    assert client.get(f"/workbench/cases/{cases['review'].id}").status_code == 403
    assert client.get("/workbench/cases").status_code == 403
    client.cookies.clear()
    assert client.get("/workbench/cases").status_code == 401


async def test_actions_confirm_then_post_and_errors_are_shown(w: W, client, session) -> None:
    c = await file_case(session, w, "act-000001")
    await session.commit()
    page_login(client, "pclerk")
    page = client.get(f"/workbench/cases/{c.id}").text
    token = csrf_from(page)
    base = f"/workbench/cases/{c.id}/actions"
    items = {
        "csrf_token": token,
        "item.0.kind": "material",
        "item.0.name": "营业执照",
        "item.0.reason": "复印件不清晰",
        "item.1.kind": "field",
        "item.1.name": "联系地址",
        "item.1.reason": "未填写",
        "item.2.kind": "material",
        "item.2.name": "",
        "item.2.reason": "",
    }
    r = client.post(f"{base}/request_correction", data={**items, "add_row": "1"})
    assert (
        r.status_code == 200 and 'name="item.3.name"' in r.text and 'value="复印件不清晰"' in r.text
    )
    r = client.post(f"{base}/request_correction", data=items)
    assert (
        r.status_code == 200
        and "确认一次性告知补齐补正" in r.text
        and "复印件不清晰" in r.text
        and "未填写" in r.text
    )
    await session.refresh(c)
    assert c.state == "submitted"  # nothing happens before the confirmation
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', r.text))
    assert hidden["confirm"] == "yes" and hidden["item.1.reason"] == "未填写"
    r = client.post(f"{base}/request_correction", data=hidden, follow_redirects=False)
    assert (
        r.status_code == 303
        and r.headers["location"] == f"/workbench/cases/{c.id}?msg=request_correction"
    )
    await session.refresh(c)
    assert c.state == "correction" and c.correction_round == 1
    page = client.get(r.headers["location"]).text
    assert "已一次性告知补齐补正" in page and "复印件不清晰" in page

    # the applicant resubmits; the clerk rejects without a reason: the message, nothing changed
    await service.transition(session, w.actors["alice"], c.id, "resubmit", {})
    await session.commit()
    r = client.post(f"{base}/reject", data={"csrf_token": token, "reason": " "})
    assert r.status_code == 422 and "请填写理由" in r.text and "确认不予受理</h1>" not in r.text
    r = client.post(f"{base}/reject", data={"csrf_token": token, "confirm": "yes", "reason": ""})
    assert (
        r.status_code == 422
        and "请填写理由" in r.text
        and 'details class="action-panel action-reject" open' in r.text
    )
    r = client.post(f"{base}/request_correction", data={"csrf_token": token, "confirm": "yes"})
    assert r.status_code == 422 and "一次性告知须列明全部" in r.text
    # a second notice with a new item needs a supervisor's approval
    new = {
        "csrf_token": token,
        "confirm": "yes",
        "item.0.kind": "material",
        "item.0.name": "场所平面图",
        "item.0.reason": "缺少",
    }
    r = client.post(f"{base}/request_correction", data=new)
    assert (
        r.status_code == 409
        and "须经电子监察人员批准" in r.text
        and f'<option value="{w.ids["sup"]}"' in r.text
    )
    r = client.post(
        f"{base}/request_correction",
        data={**new, "approved_by": str(w.ids["sup"])},
        follow_redirects=False,
    )
    assert r.status_code == 303
    await session.refresh(c)
    assert c.state == "correction" and c.correction_round == 2


async def test_steps_decision_and_delivery_through_the_pages(w: W, client, session) -> None:
    c = await file_case(session, w, "flow-00001")
    await service.transition(session, w.actors["clerk"], c.id, "accept")
    await session.commit()

    def act(action: str, **data: str):
        token = csrf_from(client.get(f"/workbench/cases/{c.id}").text)
        return client.post(
            f"/workbench/cases/{c.id}/actions/{action}",
            data={"csrf_token": token, "confirm": "yes", **data},
            follow_redirects=False,
        )

    page_login(client, "papprover")
    assert (
        act("return_step", reason="退回重审").status_code == 409
    )  # already the first step: the message
    assert act("pass_step", comment="材料齐全").status_code == 303
    assert act("return_step", reason="请重新核对").status_code == 303
    assert act("pass_step").status_code == 303
    assert act("suspend", kind="expert_review", reason="组织专家评审").status_code == 303
    page = client.get(f"/workbench/cases/{c.id}").text
    assert "特别程序期间暂停计时" in page and "专家评审" in page
    assert act("resume", result="评审通过").status_code == 303
    client.cookies.clear()
    page_login(client, "phead")
    r = act("extend", days="11", reason="情况复杂")
    assert r.status_code == 422 and "法定最多延长 10 日" in r.text
    assert act("extend", days="5", reason="情况复杂，经负责人批准").status_code == 303
    client.cookies.clear()
    page_login(client, "papprover")
    assert act("pass_step").status_code == 303
    r = act("decide", outcome="deny", reason="")
    assert r.status_code == 422 and "请填写理由" in r.text
    assert act("decide", outcome="grant", reason="符合条件").status_code == 303
    client.cookies.clear()
    page_login(client, "pclerk")
    r = act("deliver", method="post", tracking_number="")
    assert r.status_code == 422 and "快递单号" in r.text
    assert act("deliver", method="window").status_code == 303
    await session.refresh(c)
    assert c.state == "delivered" and c.delivery_method == "window" and c.extension_days == 5
    page = client.get(f"/workbench/cases/{c.id}").text
    for label in (
        "受理",
        "通过",
        "退回上一环节",
        "启动特别程序",
        "结束特别程序",
        "延长审批期限",
        "作出决定",
        "送达 / 出件",
    ):
        assert f"<strong>{label}</strong>" in page, label
    client.cookies.clear()
    page_login(client, "palice")
    mine = client.get(f"/me/cases/{c.id}").text
    assert "已送达" in mine and "窗口领取" in mine and "准予" in mine


# --- window intake ----------------------------------------------------------------------------------------


async def test_window_intake_on_behalf_of_a_person(w: W, client, session) -> None:
    page_login(client, "pclerk")
    r = client.get("/workbench/intake?id_number=110101199003070000")
    assert (
        r.status_code == 200
        and 'class="notice error" role="alert"' in r.text
        and "person-name" not in r.text
    )
    r = client.get(f"/workbench/intake?id_number={w.numbers['walkin']}")
    assert (
        r.status_code == 200
        and w.names["walkin"] in r.text
        and f"/workbench/intake/{w.ids['impl']}?person={w.ids['walkin']}" in r.text
    )
    logged = (
        (
            await session.execute(
                select(AuditEntry.action).where(AuditEntry.action == "person.looked_up")
            )
        )
        .scalars()
        .all()
    )
    assert logged == ["person.looked_up"]
    r = client.get(
        f"/workbench/intake?person={w.ids['walkin']}&q=食品",
        headers={"HX-Request": "true", "HX-Target": "impl-results"},
    )
    assert "<html" not in r.text and w.names["impl2"] in r.text and w.names["impl"] not in r.text
    form = client.get(f"/workbench/intake/{w.ids['impl']}?person={w.ids['walkin']}").text
    assert f'value="{w.numbers["walkin"]}" readonly' in form and "申请材料（扫描件）" in form
    token = _upload(client, form, 1, "营业执照")
    data = {
        "csrf_token": csrf_from(form),
        "_key": _hidden(form, "_key"),
        "person": str(w.ids["walkin"]),
        "phone": "",
        "_mat.1": token,
    }
    r = client.post(f"/workbench/intake/{w.ids['impl']}", data=data)
    assert r.status_code == 422 and "请填写联系电话" in r.text and "已上传" in r.text
    data["phone"] = "13912345678"
    r = client.post(f"/workbench/intake/{w.ids['impl']}", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?msg=filed")
    again = client.post(f"/workbench/intake/{w.ids['impl']}", data=data, follow_redirects=False)
    assert again.headers["location"] == r.headers["location"]
    c = (await session.execute(select(Case))).scalar_one()
    assert (c.channel, c.applicant_person_id, c.applicant_name) == (
        "window",
        w.ids["walkin"],
        w.names["walkin"],
    )
    assert (
        await session.execute(select(CaseMaterial.name).where(CaseMaterial.case_id == c.id))
    ).scalars().all() == ["营业执照"]
    page = client.get(r.headers["location"]).text
    assert "已代为提交申请" in page and "窗口" in page

    # later: accepted, decided, and handed out at the window (统一出件)
    await service.transition(session, w.actors["clerk"], c.id, "accept")
    for _ in range(2):
        await service.transition(session, w.actors["approver"], c.id, "pass_step")
    await service.transition(session, w.actors["approver"], c.id, "decide", {"outcome": "grant"})
    await session.commit()
    assert c.number in client.get("/workbench/intake").text  # 待统一出件
    page = client.get(f"/workbench/cases/{c.id}").text
    assert 'value="window" checked' in page  # a window case is handed out at the window by default

    client.cookies.clear()
    page_login(client, "papprover")
    assert client.get("/workbench/intake").status_code == 403


# --- supervision ---------------------------------------------------------------------------------------------


async def test_supervision_counts_notices_reply_close(w: W, client, session) -> None:
    cases = await _states(session, w)
    page_login(client, "psup")
    page = client.get("/workbench/supervision").text
    assert re.search(r'class="num red-total">1<', page) and re.search(
        r'class="num yellow-total">1<', page
    )
    sup = w.actors["sup"]
    assert await supervision.alert_counts(session, sup, by="department") == [
        {"key": w.ids["dept"], "yellow": 1, "red": 1}
    ]
    assert cases["red"].number in page and cases["yellow"].number in page
    red_only = client.get("/workbench/supervision?colour=red").text
    assert cases["red"].number in red_only and cases["yellow"].number not in red_only
    assert w.names["impl"] in client.get("/workbench/supervision?by=item").text
    token = csrf_from(page)
    r = client.post(
        "/workbench/supervision/notices",
        data={
            "csrf_token": token,
            "department_id": str(w.ids["dept"]),
            "content": "快",
            "reply_days": "3",
        },
    )
    assert r.status_code == 422 and "至少 5 个字" in r.text
    r = client.post(
        "/workbench/supervision/notices",
        data={
            "csrf_token": token,
            "department_id": str(w.ids["dept"]),
            "case_number": cases["red"].number,
            "content": "该办件已超期，请尽快办理并回复。",
            "reply_days": "3",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    notice = (await supervision.list_notices(session, sup))[0]
    assert notice.case_id == cases["red"].id

    client.cookies.clear()
    page_login(client, "phead")
    page = client.get("/workbench/supervision").text
    assert "该办件已超期" in page and f"/workbench/supervision/notices/{notice.id}/reply" in page
    assert "发出督办单</h3>" not in page
    r = client.post(
        f"/workbench/supervision/notices/{notice.id}/reply",
        data={"csrf_token": csrf_from(page), "reply": "已加派人手办理。"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    client.cookies.clear()
    page_login(client, "pother")  # another department's approver: not their notice
    page = client.get("/workbench/supervision").text
    assert "该办件已超期" not in page

    client.cookies.clear()
    page_login(client, "psup")
    page = client.get("/workbench/supervision").text
    assert "已加派人手办理" in page
    r = client.post(
        f"/workbench/supervision/notices/{notice.id}/close",
        data={"csrf_token": csrf_from(page)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    await session.refresh(notice)
    assert notice.state == "closed"

    client.cookies.clear()
    page_login(client, "pclerk")
    assert client.get("/workbench/supervision").status_code == 403


def test_queue_conditions_are_the_apis() -> None:
    from tongban.cases import queries

    assert queries.QUEUES is cases_api.QUEUES
