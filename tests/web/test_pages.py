"""Pages through the front door: who gets which page, sign-in and sign-out, 我的, the
workbench lists, the admin pages and the leader's dashboard."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from tests import builders as b
from tests.web.conftest import World, csrf_from, page_login, token_of
from tongban.core.clock import now
from tongban.core.outbox import OutboxDelivery, OutboxEvent
from tongban.identity.models import Account, EnterpriseAgent
from tongban.identity.service import LogSmsChannel

# --- who may open what ---------------------------------------------------------------------------

PUBLIC = [
    "/",
    "/search",
    "/search?q=生孩子要办什么",
    "/services",
    "/services?theme=birth",
    "/services?theme=cancel",
    "/services/themes/birth",
    "/services/regions",
    "/login",
    "/login?method=sms",
]

# path → {who: status}; "visitor" is not signed in. Staff-only pages answer 403 to applicants.
MATRIX: dict[str, dict[str, int]] = {
    "/me": {"visitor": 401, "alice": 200, "clerk": 403, "leader": 403},
    "/workbench": {
        "visitor": 401,
        "alice": 403,
        "clerk": 200,
        "approver": 200,
        "leader": 200,
        "supervisor": 200,
        "dispatcher": 200,
        "admin": 200,
    },
    "/workbench/persons": {"visitor": 401, "alice": 403, "clerk": 200, "leader": 200, "admin": 200},
    "/workbench/enterprises": {"visitor": 401, "alice": 403, "clerk": 200, "leader": 200},
    "/workbench/supervision": {"visitor": 401, "alice": 403, "clerk": 403, "supervisor": 200},
    "/workbench/hotline": {"visitor": 401, "clerk": 403, "dispatcher": 200, "supervisor": 403},
    "/leader": {"visitor": 401, "alice": 403, "clerk": 403, "admin": 403, "leader": 200},
    "/admin": {"visitor": 401, "alice": 403, "clerk": 403, "leader": 403, "admin": 200},
    "/admin/accounts": {"visitor": 401, "clerk": 403, "leader": 403, "admin": 200},
    "/admin/outbox": {"visitor": 401, "clerk": 403, "admin": 200},
    "/admin/audit": {"visitor": 401, "clerk": 403, "supervisor": 403, "admin": 200},
}
CASES = [(path, who, status) for path, row in MATRIX.items() for who, status in row.items()]


@pytest.mark.parametrize("path", PUBLIC)
def test_public_pages_render(client, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert "text/html" in r.headers["content-type"]
    assert '<html lang="zh-CN">' in r.text and "通办" in r.text


@pytest.mark.parametrize(("path", "who", "status"), CASES)
async def test_page_access(world: World, client, path: str, who: str, status: int) -> None:
    if who != "visitor":
        page_login(client, who)
    r = client.get(path)
    assert r.status_code == status, (path, who, r.text[:300])
    assert "text/html" in r.headers["content-type"]
    if status == 401:
        assert "请先登录" in r.text and "/login?next=" in r.text
    elif status == 403:
        assert "permission_denied" in r.text


@pytest.mark.parametrize(
    ("who", "name", "status"),
    [
        ("clerk", "alice", 200),
        ("clerk", "bob", 404),
        ("leader", "bob", 200),
        ("alice", "alice", 403),
    ],
)
async def test_person_detail_in_scope_only(
    world: World, client, who: str, name: str, status: int
) -> None:
    page_login(client, who)
    r = client.get(f"/workbench/persons/{world.ids[name]}")
    assert r.status_code == status
    if status == 404:
        missing = client.get("/workbench/persons/999999")
        assert (
            missing.status_code == 404 and "未找到该记录" in r.text
        )  # the same answer as for no record


async def test_enterprise_detail_in_scope_only(world: World, client) -> None:
    page_login(client, "clerk")
    assert client.get(f"/workbench/enterprises/{world.ids['e1']}").status_code == 200
    assert client.get(f"/workbench/enterprises/{world.ids['e2']}").status_code == 404


def test_unknown_theme_and_page_are_404(client) -> None:
    r = client.get("/services?theme=nope")
    assert r.status_code == 404 and "返回首页" in r.text
    assert client.get("/no/such/page").status_code == 404


def test_search_page_with_an_empty_catalogue_says_so(client) -> None:
    r = client.get("/search", params={"q": "生孩子要办什么"})
    assert r.status_code == 200 and "生孩子要办什么" in r.text and "没有找到" in r.text


def test_theme_links_lead_to_the_catalogue_lists(client) -> None:
    r = client.get("/services?theme=birth", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/services/themes/birth"
    r = client.get("/services/themes/birth")
    assert (
        "个人办事 · 出生" in r.text and "没有符合条件的事项" in r.text
    )  # an empty catalogue says so


# --- sign-in, sign-out ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "home"),
    [
        ("alice", "/me"),
        ("clerk", "/workbench"),
        ("supervisor", "/workbench"),
        ("admin", "/admin"),
        ("leader", "/leader"),
    ],
)
async def test_sign_in_lands_by_role(world: World, client, who: str, home: str) -> None:
    r = page_login(client, who)
    assert r.headers["location"] == home
    assert client.get(home).status_code == 200


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/workbench/persons?q=%E5%BC%A0", "/workbench/persons?q=%E5%BC%A0"),
        ("//evil.example/x", "/workbench"),
        ("https://evil.example/", "/workbench"),
        ("/\\evil.example", "/workbench"),
        ("/\t/evil.example", "/workbench"),
        ("javascript:alert(1)", "/workbench"),
    ],
)
async def test_sign_in_honours_only_local_next(
    world: World, client, next_url: str, expected: str
) -> None:
    r = page_login(client, "clerk", next_url=next_url)
    assert r.headers["location"] == expected


async def test_signed_in_visit_to_login_redirects_home(world: World, client) -> None:
    page_login(client, "alice")
    r = client.get("/login", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/me"


async def test_wrong_password_is_shown_and_counted(world: World, client, session) -> None:
    token = token_of(client, "/login")
    r = client.post(
        "/login", data={"csrf_token": token, "username": "alice", "password": "wrong-password"}
    )
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text and 'value="alice"' in r.text
    failed = (
        await session.execute(select(Account.failed_logins).where(Account.username == "alice"))
    ).scalar()
    assert failed == 1  # the page answers instead of raising, so the failure is committed
    r = client.post("/login", data={"csrf_token": token, "username": "", "password": ""})
    assert r.status_code == 422 and "请输入用户名和密码" in r.text


async def test_sms_sign_in_with_htmx_send(world: World, client) -> None:
    token = token_of(client, "/login?method=sms")
    LogSmsChannel.sent.clear()
    r = client.post(
        "/login/sms/send",
        data={"csrf_token": token, "phone": world.phones["alice"]},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and "验证码已发送" in r.text and "<html" not in r.text
    code = LogSmsChannel.sent[-1][1].split("验证码为 ")[1][:6]
    bad = client.post(
        "/login/sms",
        data={
            "csrf_token": token,
            "phone": world.phones["alice"],
            "code": "000000" if code != "000000" else "111111",
        },
    )
    assert bad.status_code == 401 and "验证码错误或已过期" in bad.text
    r = client.post(
        "/login/sms",
        data={"csrf_token": token, "phone": world.phones["alice"], "code": code},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/me"


async def test_sms_send_errors_in_chinese(world: World, client) -> None:
    token = token_of(client, "/login?method=sms")
    r = client.post(
        "/login/sms/send", data={"csrf_token": token, "phone": "12"}, headers={"HX-Request": "true"}
    )
    assert r.status_code == 200 and "手机号码格式不正确" in r.text
    r = client.post(
        "/login/sms/send", data={"csrf_token": token, "phone": "12"}
    )  # without JavaScript
    assert r.status_code == 422 and "手机号码格式不正确" in r.text and "<html" in r.text


async def test_sign_out(world: World, client) -> None:
    page_login(client, "alice")
    token = token_of(client, "/me")
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert client.get("/me").status_code == 401


def test_demo_accounts_listed_in_demo_mode(settings) -> None:
    from starlette.testclient import TestClient

    from tongban.web.app import create_app

    with TestClient(create_app(settings.model_copy(update={"demo_mode": True}))) as c:
        r = c.get("/login")
        assert "演示数据，仅供体验" in r.text
        try:
            from tongban.demo import DEMO_ACCOUNTS
        except ImportError:
            return
        assert "演示账户" in r.text
        assert all(a["username"] in r.text for a in DEMO_ACCOUNTS)


def test_no_demo_banner_by_default(client) -> None:
    r = client.get("/login")
    assert "演示数据" not in r.text and "演示账户" not in r.text


# --- 我的 -------------------------------------------------------------------------------------


async def test_me_masks_and_lists_enterprise(world: World, client) -> None:
    page_login(client, "alice")
    r = client.get("/me")
    full = world.numbers["alice"]
    assert full not in r.text
    assert full[:6] + "********" + full[-4:] in r.text
    assert "法定代表人" in r.text and "经办人授权" in r.text


async def test_authorise_and_revoke_agent(world: World, client, session) -> None:
    page_login(client, "alice")
    token = token_of(client, "/me")
    until = (now() + dt.timedelta(days=30)).date().isoformat()
    url = f"/me/enterprises/{world.ids['e1']}/agents"

    r = client.post(
        url, data={"csrf_token": token, "id_number": "110101199003070000", "valid_until": until}
    )
    assert r.status_code == 404 and "未找到该公民身份号码对应的实名用户" in r.text
    assert 'class="field-error"' in r.text and 'aria-invalid="true"' in r.text
    r = client.post(
        url,
        data={
            "csrf_token": token,
            "id_number": world.numbers["carol"],
            "valid_until": "not-a-date",
        },
    )
    assert r.status_code == 422 and "请选择授权截止日期" in r.text
    past = (now() - dt.timedelta(days=2)).date().isoformat()
    r = client.post(
        url, data={"csrf_token": token, "id_number": world.numbers["carol"], "valid_until": past}
    )
    assert r.status_code == 422 and "授权截止时间必须晚于当前时间" in r.text

    r = client.post(
        url,
        data={"csrf_token": token, "id_number": world.numbers["carol"], "valid_until": until},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "已授权经办人" in page and "陈经办" in page and world.numbers["carol"] not in page
    agent = (await session.execute(select(EnterpriseAgent))).scalar_one()

    r = client.post(f"/me/agents/{agent.id}/revoke", data={"csrf_token": token})
    assert r.status_code == 200 and "确认撤销" in r.text
    await session.refresh(agent)
    assert agent.revoked_at is None  # the first step only asks
    r = client.post(
        f"/me/agents/{agent.id}/revoke",
        data={"csrf_token": token, "confirm": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    await session.refresh(agent)
    assert agent.revoked_at is not None
    assert "已撤销" in client.get("/me").text


async def test_other_citizen_cannot_revoke(world: World, client, session) -> None:
    page_login(client, "alice")
    token = token_of(client, "/me")
    until = (now() + dt.timedelta(days=30)).date().isoformat()
    client.post(
        f"/me/enterprises/{world.ids['e1']}/agents",
        data={"csrf_token": token, "id_number": world.numbers["carol"], "valid_until": until},
    )
    agent = (await session.execute(select(EnterpriseAgent))).scalar_one()
    client.cookies.clear()
    page_login(client, "bob")
    token = token_of(client, "/me")
    r = client.post(f"/me/agents/{agent.id}/revoke", data={"csrf_token": token, "confirm": "yes"})
    assert r.status_code == 404
    r = client.post(
        f"/me/enterprises/{world.ids['e1']}/agents",
        data={"csrf_token": token, "id_number": world.numbers["carol"], "valid_until": until},
    )
    assert r.status_code == 404


# --- workbench lists ------------------------------------------------------------------------------


async def test_identity_numbers_masked_for_leader_full_for_clerk(world: World, client) -> None:
    full = world.numbers["alice"]
    masked = full[:6] + "********" + full[-4:]
    page_login(client, "clerk")
    r = client.get("/workbench/persons")
    assert full in r.text
    assert full in client.get(f"/workbench/persons/{world.ids['alice']}").text
    client.cookies.clear()
    page_login(client, "leader")
    for path in ("/workbench/persons", f"/workbench/persons/{world.ids['alice']}"):
        r = client.get(path)
        assert full not in r.text and masked in r.text, path


async def test_workbench_home_shows_who_and_counts(world: World, client) -> None:
    page_login(client, "clerk")
    r = client.get("/workbench")
    assert "历下区行政审批服务局" in r.text and "综合窗口" in r.text and "历下区" in r.text
    counts = re.findall(r'<div class="num">(\d+)</div><div class="lbl">(自然人|法人)</div>', r.text)
    assert dict((k, int(v)) for v, k in counts) == {"自然人": 2, "法人": 1}  # alice, carol; e1


async def test_workbench_nav_by_role(world: World, client) -> None:
    page_login(client, "clerk")
    r = client.get("/workbench")
    assert (
        "/workbench/persons" in r.text
        and "/workbench/supervision" not in r.text
        and "/leader" not in r.text
    )
    client.cookies.clear()
    page_login(client, "supervisor")
    assert "/workbench/supervision" in client.get("/workbench").text
    client.cookies.clear()
    page_login(client, "leader")
    assert 'href="/leader"' in client.get("/workbench").text


async def test_person_list_search_filter_and_keyset_pages(world: World, client, session) -> None:
    for _ in range(23):
        await b.person(session, region=b.LIXIA, name="翻页人")
    await session.commit()
    page_login(client, "clerk")
    first = client.get("/workbench/persons", params={"q": "翻页"})
    rows = re.compile(r'<td class="mono id-number">')
    assert len(rows.findall(first.text)) == 20 and "下一页" in first.text
    nxt = (
        re.search(r'href="(/workbench/persons\?[^"]*after=\d+)"', first.text)
        .group(1)
        .replace("&amp;", "&")
    )
    second = client.get(nxt, headers={"HX-Request": "true"})
    assert second.status_code == 200 and "<html" not in second.text  # an htmx fragment
    assert (
        len(rows.findall(second.text)) == 3
        and "下一页" not in second.text
        and "第一页" in second.text
    )
    assert "alice" not in second.text
    other = client.get("/workbench/persons", params={"region": b.SHIZHONG})
    assert "没有符合条件的记录" in other.text  # 市中区 lies outside the clerk's 历下区
    assert client.get("/workbench/persons", params={"region": "12"}).status_code == 422


async def test_enterprise_list(world: World, client) -> None:
    page_login(client, "leader")
    r = client.get("/workbench/enterprises")
    assert r.text.count("/workbench/enterprises/") == 2  # e1 (历下) and e2 (市中) in 济南
    r = client.get(f"/workbench/enterprises/{world.ids['e1']}")
    assert "法定代表人" in r.text


# --- admin and leader ---------------------------------------------------------------------------


async def _failed_delivery(session) -> int:
    event = OutboxEvent(name="TestHappened", payload={}, region_code=b.LIXIA)
    session.add(event)
    await session.flush()
    d = OutboxDelivery(
        event_id=event.id,
        handler="tests.handler",
        status="failed",
        attempts=8,
        last_error="ConnectionRefusedError: 下游系统无响应",
        region_code=b.LIXIA,
    )
    session.add(d)
    await session.commit()
    return d.id


async def test_admin_outbox_retry(world: World, client, session) -> None:
    delivery_id = await _failed_delivery(session)
    page_login(client, "admin")
    assert "投递失败" in client.get("/admin").text
    r = client.get("/admin/outbox")
    assert "下游系统无响应" in r.text and f"/admin/outbox/{delivery_id}/retry" in r.text
    token = csrf_from(r.text)
    r = client.post(
        f"/admin/outbox/{delivery_id}/retry", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "已重新排队" in client.get(r.headers["location"]).text
    row = (
        await session.execute(select(OutboxDelivery.status).where(OutboxDelivery.id == delivery_id))
    ).scalar()
    assert row == "pending"
    again = client.post(f"/admin/outbox/{delivery_id}/retry", data={"csrf_token": token})
    assert again.status_code == 409 and "只能重试处理失败的投递" in again.text


async def test_admin_audit_verify(world: World, client) -> None:
    page_login(client, "clerk")
    client.get(f"/workbench/persons/{world.ids['alice']}")  # a full-number read is audited
    client.cookies.clear()
    page_login(client, "admin")
    r = client.get("/admin/audit")
    assert "person.viewed" in r.text
    token = csrf_from(r.text)
    r = client.post(
        "/admin/audit/verify", data={"csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert r.status_code == 200 and "校验通过" in r.text and "<html" not in r.text
    r = client.post("/admin/audit/verify", data={"csrf_token": token})
    assert "校验通过" in r.text and "<html" in r.text


async def test_admin_accounts(world: World, client) -> None:
    page_login(client, "admin")
    r = client.get("/admin/accounts")
    assert "clerk" in r.text and "综合窗口" in r.text
    r = client.get("/admin/accounts", params={"q": "alice"})
    assert "alice" in r.text and ">clerk<" not in r.text


async def test_leader_dashboard_counts_by_child_region(world: World, client) -> None:
    page_login(client, "leader")
    r = client.get("/leader")
    assert "领导驾驶舱" in r.text and "历下区" in r.text and "市中区" in r.text
    assert re.search(r'data-total="persons">3<', r.text)  # alice, carol (历下) and bob (市中)
    assert re.search(r'data-total="enterprises">2<', r.text)
    assert re.search(r"<th scope=\"row\">历下区</th><td>2</td><td>1</td>", r.text)
    assert "<form" not in r.text.split("<main", 1)[1].split("</main>", 1)[0]  # read-only
