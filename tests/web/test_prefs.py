"""Display preferences: 长者模式 and 繁體, remembered per visitor (cookie) and per account."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.web.conftest import World, page_login, token_of
from tongban.identity.models import Account


def _body_classes(html: str) -> set[str]:
    m = re.search(r'<body class="([^"]*)"', html)
    assert m
    return set(m.group(1).split())


def _toggle(client, **data: str):
    token = token_of(client, data["next"] if data.get("next", "").startswith("/") else "/")
    return client.post("/prefs", data={"csrf_token": token, **data}, follow_redirects=False)


def test_visitor_elderly_mode_is_remembered_by_cookie(client) -> None:
    assert "elderly" not in _body_classes(client.get("/").text)
    r = _toggle(client, elderly="1", next="/services?theme=birth")
    assert r.status_code == 303 and r.headers["location"] == "/services?theme=birth"
    assert "tongban_prefs" in r.headers["set-cookie"]
    for path in ("/", "/login", "/search?q=x"):
        html = client.get(path).text
        assert "elderly" in _body_classes(html), path
        assert 'aria-pressed="true" data-pref="elderly"' in html
    _toggle(client, elderly="0")
    assert "elderly" not in _body_classes(client.get("/").text)


def test_visitor_traditional_display(client) -> None:
    assert "个人办事" in client.get("/").text
    _toggle(client, script="hant")
    html = client.get("/").text
    assert "個人辦事" in html and "个人办事" not in html
    assert 'lang="zh-Hant"' in html and "簡體" in html  # the switch back, itself in traditional
    assert "辦事" in client.get("/login").text
    _toggle(client, script="hans")
    assert "个人办事" in client.get("/").text


def test_both_preferences_together(client) -> None:
    _toggle(client, elderly="1")
    _toggle(client, script="hant")
    html = client.get("/").text
    assert "elderly" in _body_classes(html) and "辦事" in html


def test_unknown_values_and_foreign_next_are_ignored(client) -> None:
    r = _toggle(client, elderly="maybe", script="latin", next="https://evil.example/")
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "set-cookie" not in r.headers or "tongban_prefs" not in r.headers["set-cookie"]


async def test_account_preferences_follow_the_user(world: World, client, session, app) -> None:
    page_login(client, "clerk")
    r = _toggle(client, elderly="1", next="/workbench")
    assert r.headers["location"] == "/workbench"
    _toggle(client, script="hant", next="/workbench")
    prefs = (
        await session.execute(select(Account.preferences).where(Account.username == "clerk"))
    ).scalar_one()
    assert prefs == {"elderly": True, "script": "hant"}
    assert "tongban_prefs" not in client.cookies  # kept on the account, not in a cookie
    html = client.get("/workbench").text
    assert "elderly" in _body_classes(html) and "範圍" in html
    # Another browser: nothing set until the same person signs in.
    with TestClient(app) as other:
        assert "elderly" not in _body_classes(other.get("/").text)
        page_login(other, "clerk")
        html = other.get("/workbench").text
        assert "elderly" in _body_classes(html) and "範圍" in html


@pytest.mark.parametrize("path", ["/", "/login", "/services", "/search?q=1"])
def test_every_page_has_the_switches(client, path: str) -> None:
    html = client.get(path).text
    assert 'action="/prefs"' in html and "长者模式" in html and "繁體" in html


def test_error_page_has_the_switches_once_a_token_exists(client) -> None:
    client.get("/")
    html = client.get("/no/such/page").text
    assert 'action="/prefs"' in html


def test_elderly_mode_hides_secondary_links(client) -> None:
    html = client.get("/").text
    assert 'class="hints secondary"' in html
    _toggle(client, elderly="1")
    css = client.get("/static/css/tongban.css").text
    assert "body.elderly .secondary { display: none !important; }" in css
    assert re.search(r"body\.elderly \{[^}]*font-size: 1\.25rem", css)  # 20px base


async def test_switch_on_a_page_shown_after_a_post_returns_to_the_form_page(
    world: World, client
) -> None:
    page_login(client, "alice")
    token = token_of(client, "/me")
    r = client.post(
        f"/me/enterprises/{world.ids['e1']}/agents",
        data={"csrf_token": token, "id_number": "bad", "valid_until": ""},
        headers={"referer": "http://testserver/me"},
    )
    assert r.status_code == 422
    assert 'name="next" value="/me"' in r.text
    r = client.post(
        "/me/enterprises/1/agents",
        data={"csrf_token": token},
        headers={"referer": "https://evil.example/x"},
    )
    assert 'name="next" value="/"' in r.text


def test_traditional_display_keeps_mainland_terms(client) -> None:
    """s2t converts characters only: 注销 stays 註銷 (s2twp would turn it into 登出)."""
    from tongban.web.render import to_traditional

    assert to_traditional("简易注销 特别程序 数据 文件") == "簡易註銷 特別程序 數據 文件"


async def test_error_page_keeps_signed_in_header(client, session) -> None:
    from tests import builders as b

    await b.citizen(session, username="lost_user")
    await session.commit()
    b.login(client, "lost_user")
    r = client.get("/no/such/page", headers={"accept": "text/html"})
    assert r.status_code == 404
    assert "退出" in r.text  # the header shows the signed-in menu, not 登录
