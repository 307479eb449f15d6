"""Browser journey in headless Chromium: a citizen opens 我的证照, downloads the PDF,
shares the licence with a third party; the third party opens the link and
verifies it; a visitor verifies it on the public page (/verify); the citizen
reads the use log; then applies for an item whose material the licence
replaces (免证办) and uploads nothing for it.

Screenshots go to /tmp/tongban-shots/ (wallet-*.png) for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests import builders as b
from tests.catalogue.helpers import admin, published_impl, published_item
from tests.licences import helpers
from tests.web.conftest import live_server  # noqa: F401 (fixture)
from tests.web.test_browser import CHROMIUM, SHOTS, _in_thread, browser  # noqa: F401 (fixture)
from tongban.core.settings import Settings

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent"),
]


async def _seed(s: Any) -> dict[str, Any]:
    w = await helpers.world(s)
    acc = await s.get(type(w.citizen_acc), w.citizen_acc.id)
    acc.username = "wallet.citizen"
    lic = await helpers.issue(s, w)
    a = await admin(s)
    item = await published_item(
        s,
        a,
        name="食品经营许可变更",
        service_objects=["1"],
        materials=[
            {"name": "变更申请书", "issuer": "申请人自备", "originals": 1, "required": False},
            {"name": "食品经营许可证", "issuer": "市场监管部门", "licence_type_code": w.type_code},
        ],
    )
    impl = await published_impl(s, a, item)
    return {
        "licence_id": lic.id,
        "number": lic.number,
        "identifier": lic.identifier,
        "impl": impl.id,
    }


def test_citizen_wallet_pdf_share_and_public_verification(
    live_server: str,  # noqa: F811 (the imported fixture)
    settings: Settings,
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    seed = _in_thread(settings, _seed)
    lid = seed["licence_id"]
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    page = ctx.new_page()
    page.goto(f"{live_server}/login?next=/me")
    page.fill("#username", "wallet.citizen")
    page.fill("#password", b.PASSWORD)
    page.click("form.password-form button[type=submit]")
    page.wait_for_url(f"{live_server}/me")

    # 我的证照 from the navigation
    page.click("nav.site-nav >> text=我的证照")
    page.wait_for_url(f"{live_server}/me/licences")
    card = page.locator(f'li.wallet-item[data-licence="{lid}"]')
    assert (
        seed["number"] in card.inner_text() and "天到期" in card.locator(".countdown").inner_text()
    )
    page.screenshot(path=str(SHOTS / "wallet-list.png"), full_page=True)
    card.locator("a.wallet-title").click()
    page.wait_for_url(f"{live_server}/me/licences/{lid}")
    assert page.locator(".licence-card .lc-qr svg").count() == 1
    page.screenshot(path=str(SHOTS / "wallet-licence.png"), full_page=True)

    # the PDF
    with page.expect_download() as dl:
        page.click("#pdf-link")
    pdf = tmp_path / "licence.pdf"
    dl.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 2000

    # share it with a third party
    page.fill("#recipient", "泉城银行历下支行")
    page.fill("#purpose", "开立个人账户")
    page.fill("#days", "3")
    page.click("form.share-form button[type=submit]")
    link = page.locator("#new-link").input_value()
    assert re.fullmatch(rf"{re.escape(live_server)}/shared/[A-Za-z0-9_-]{{32}}", link)
    assert "泉城银行历下支行" in page.locator("table.shares").inner_text()
    page.screenshot(path=str(SHOTS / "wallet-shared-link.png"), full_page=True)

    # the third party (another browser, no account) opens the link and verifies
    bank = browser.new_context(viewport={"width": 1100, "height": 900}, locale="zh-CN")
    other = bank.new_page()
    other.goto(link)
    assert seed["number"] in other.locator(".licence-card").inner_text()
    assert "开立个人账户" in other.locator(".share-info").inner_text()
    other.click("#share-verify")
    other.locator("#share-verify-result").wait_for()
    assert "有效" in other.locator("#share-verify-result h2").inner_text()
    other.screenshot(path=str(SHOTS / "wallet-third-party.png"), full_page=True)
    bank.close()

    # a visitor verifies it on the public page, by pasting the identifier
    visitor = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True
    )
    v = visitor.new_page()
    v.goto(f"{live_server}/verify")
    v.fill("#q", seed["identifier"])
    v.click("form.verify-form button[type=submit]")
    v.locator(".verify-result").wait_for()
    assert (
        "有效" in v.locator(".verify-result h2").inner_text()
        and seed["number"] in v.locator(".verify-result").inner_text()
    )
    v.screenshot(path=str(SHOTS / "wallet-public-verify.png"), full_page=True)
    visitor.close()

    # the holder reads who used it
    page.goto(f"{live_server}/me/licences/{lid}")
    uses = page.locator("table.uses").inner_text()
    assert "泉城银行历下支行" in uses and "被授权方查看" in uses and "被授权方核验" in uses
    assert page.locator("table.shares").inner_text().count("有效") >= 1

    # 免证办: applying for an item whose material the licence replaces — no upload for it
    page.goto(f"{live_server}/apply/{seed['impl']}")
    offer = page.locator(f'#wallet-offers input[value="licence:{lid}"]')
    offer.wait_for()
    offer.check()
    page.screenshot(path=str(SHOTS / "wallet-apply-offer.png"), full_page=True)
    page.click("form >> text=检查并提交")
    page.wait_for_url(re.compile(rf"{re.escape(live_server)}/me/cases/\d+\?msg=submitted"))
    text = (
        page.locator("main").inner_text()
        if page.locator("main").count()
        else page.inner_text("body")
    )
    assert "以电子证照替代" in text and "用证授权" in text
    page.screenshot(path=str(SHOTS / "wallet-case.png"), full_page=True)
    ctx.close()
