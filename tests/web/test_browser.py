"""Browser journeys in headless Chromium (Debian's package) against a live server.

Screenshots go to /tmp/tongban-shots/ for a person to look at.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import builders as b
from tongban.core.db import create_engine, make_sessionmaker
from tongban.core.settings import Settings
from tongban.identity import service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(tempfile.gettempdir()) / "tongban-shots"  # /tmp/tongban-shots: look at them
CLERK = {
    "username": "wang.clerk",
    "password": "Window@2026",
    "name": "王小窗",
    "dept": "历下区行政审批服务局",
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is absent: install Debian's chromium (python3.11 dev.py install does)",
    ),
]


def _in_thread(settings: Settings, fn: Any) -> Any:
    """Run ``fn(session)`` and commit, on a thread of its own (Playwright's sync API owns this thread's loop)."""

    async def main() -> Any:
        engine = create_engine(settings)
        try:
            async with make_sessionmaker(engine)() as s:
                out = await fn(s)
                await s.commit()
                return out
        finally:
            await engine.dispose()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


async def _make_clerk(s: Any) -> None:
    dept = await b.department(s, region=b.LIXIA, name=CLERK["dept"])
    await service.create_account(
        s,
        kind="staff",
        username=CLERK["username"],
        password=CLERK["password"],
        display_name=CLERK["name"],
        region_code=b.LIXIA,
        department_id=dept.id,
        roles=["clerk"],
    )
    for _ in range(3):
        await b.person(s, region=b.LIXIA, name="李群众")


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        br = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield br
        finally:
            br.close()


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", CLERK["username"])
    page.fill("#password", CLERK["password"])
    page.click("form.password-form button[type=submit]")
    page.wait_for_url(f"{base}/workbench")


def _body_class(page: Any) -> str:
    return page.evaluate("document.body.className")


def test_clerk_signs_in_and_reaches_the_workbench(
    live_server: str, settings: Settings, browser: Any
) -> None:
    _in_thread(settings, _make_clerk)
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    page = ctx.new_page()
    page.goto(live_server + "/")
    assert page.locator("h2#personal").inner_text() == "个人办事"
    page.screenshot(path=str(SHOTS / "portal.png"), full_page=True)
    page.goto(live_server + "/login")
    page.screenshot(path=str(SHOTS / "login.png"), full_page=True)

    _sign_in(page, live_server)
    assert page.locator(".staff-name").inner_text() == CLERK["name"]
    assert page.locator(".staff-department").inner_text() == CLERK["dept"]
    assert "山东省济南市历下区" in page.locator(".staff-region").inner_text()
    assert page.locator("a.stat .num").first.inner_text() == "3"
    page.screenshot(path=str(SHOTS / "workbench.png"), full_page=True)

    # The person list with htmx: search swaps the results in place and pushes the URL.
    page.click("nav.sidenav >> text=自然人")
    page.wait_for_url(f"{live_server}/workbench/persons")
    assert page.locator("table.results tbody tr").count() == 3
    page.fill("#q", "没有这个人")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/workbench/persons?q=*")
    page.locator("text=没有符合条件的记录").wait_for()
    ctx.close()

    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True
    )
    p2 = phone.new_page()
    p2.goto(live_server + "/")
    p2.screenshot(path=str(SHOTS / "portal-phone.png"), full_page=True)
    _sign_in(p2, live_server)
    p2.screenshot(path=str(SHOTS / "workbench-phone.png"), full_page=True)
    phone.close()


def test_elderly_mode_and_traditional_display_persist(
    live_server: str, settings: Settings, browser: Any
) -> None:
    _in_thread(settings, _make_clerk)

    # A visitor: the switches work from the header and are remembered by cookie.
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    page = ctx.new_page()
    page.goto(live_server + "/services/themes/birth")
    assert "elderly" not in _body_class(page)
    page.click("button[data-pref=elderly]")
    page.wait_for_load_state()
    assert page.url == live_server + "/services/themes/birth"
    assert "elderly" in _body_class(page)
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 20
    page.click("button[data-pref=script]")
    page.wait_for_load_state()
    assert "個人辦事" in page.locator("main").inner_text()
    page.reload()
    assert "elderly" in _body_class(page) and "辦事" in page.locator("main").inner_text()
    page.screenshot(path=str(SHOTS / "portal-elderly-hant.png"), full_page=True)
    ctx.close()

    # A signed-in clerk: switched from the workbench header, kept on the account.
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    page = ctx.new_page()
    _sign_in(page, live_server)
    assert "elderly" not in _body_class(page)
    page.click("button[data-pref=elderly]")
    page.wait_for_load_state()
    assert "elderly" in _body_class(page)
    page.screenshot(path=str(SHOTS / "workbench-elderly.png"), full_page=True)
    page.click("button[data-pref=script]")
    page.wait_for_load_state()
    page.reload()
    assert "elderly" in _body_class(page)
    assert "範圍" in page.locator("main").inner_text()
    ctx.close()

    # Another browser, no cookies: the account remembers both.
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    page = ctx.new_page()
    page.goto(live_server + "/")
    assert "elderly" not in _body_class(page) and "个人办事" in page.locator("main").inner_text()
    _sign_in(page, live_server)
    assert "elderly" in _body_class(page)
    assert "範圍" in page.locator("main").inner_text()
    ctx.close()
