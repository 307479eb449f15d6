"""Browser journey: a citizen types a colloquial query on the home page, opens
the guide it finds, and reaches the online entry (signing in on the way)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.catalogue.helpers import admin
from tests.catalogue.test_guide_browser import CITIZEN, _seed
from tests.web.conftest import live_server  # noqa: F401 (fixture)
from tests.web.test_browser import CHROMIUM, SHOTS, _in_thread, browser  # noqa: F401 (fixture)
from tongban.core.settings import Settings
from tongban.search import service as search_service

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not __import__("pathlib").Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent"
    ),
]


async def _seed_with_synonym(s: Any) -> int:
    impl_id = await _seed(s)
    a = await admin(s)
    await search_service.propose_synonym(s, a, term="生孩子", canonical="出生", approve=True)
    return impl_id


def test_colloquial_query_to_guide_to_online_entry(
    live_server: str,  # noqa: F811
    settings: Settings,
    browser: Any,  # noqa: F811
) -> None:
    impl_id = _in_thread(settings, _seed_with_synonym)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    page.goto(live_server + "/")
    page.fill("form.search-form input[name=q]", "生孩子了要办什么证")
    page.press("form.search-form input[name=q]", "Enter")
    page.wait_for_url("**/search?q=*")
    hit = page.locator("ol.search-results a.hit-title").first
    assert "出生医学证明首次签发" in hit.inner_text()
    page.screenshot(path=str(SHOTS / "search-results.png"), full_page=True)
    hit.click()
    page.wait_for_url(f"{live_server}/guide/{impl_id}")
    assert page.locator("h1").inner_text() == "出生医学证明首次签发"
    page.click("a.apply-btn")
    page.wait_for_url(f"{live_server}/login?next={quote(f'/apply/{impl_id}', safe='')}")
    page.fill("#username", CITIZEN["username"])
    page.fill("#password", CITIZEN["password"])
    page.click("form.password-form button[type=submit]")
    page.wait_for_url(f"{live_server}/apply/{impl_id}")
    assert page.locator("form").first.is_visible()
    page.screenshot(path=str(SHOTS / "search-apply.png"), full_page=True)
    ctx.close()
