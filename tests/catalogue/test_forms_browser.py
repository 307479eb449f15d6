"""The application form and its editor in headless Chromium: a conditional field
appears and disappears as the applicant chooses; the editor adds a field and
its preview follows the typing, without a page load. Screenshots go to
/tmp/tongban-shots/ (apply_form.png, form_editor.png)."""

from __future__ import annotations

from typing import Any

import pytest

from tests import builders as b
from tests.catalogue.world import CatWorld, build
from tests.web.conftest import live_server  # noqa: F401 (fixture)
from tests.web.test_browser import CHROMIUM, SHOTS, _in_thread, browser  # noqa: F401 (fixture)
from tongban.core.settings import Settings

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not __import__("pathlib").Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent"
    ),
]


def _sign_in(page: Any, base: str, username: str, next_url: str) -> None:
    page.goto(f"{base}/login?next={next_url}")
    page.fill("#username", username)
    page.fill("#password", b.PASSWORD)
    page.click("form.password-form button[type=submit]")
    page.wait_for_url(f"{base}{next_url}")


def test_conditional_field_and_editor_preview(
    live_server: str,  # noqa: F811
    settings: Settings,
    browser: Any,  # noqa: F811
) -> None:
    w: CatWorld = _in_thread(settings, build)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    path = f"/apply/{w.ids['impl']}"
    _sign_in(page, live_server, "calice", path)
    agent = page.locator('[data-field="agent_name"]')
    assert agent.is_hidden()
    assert page.locator("#fld-applicant_name").input_value() == w.names["alice"]
    page.check('input[name="by_agent"][value="是"]')
    agent.wait_for(state="visible")
    assert page.locator("#fld-agent_name").is_enabled()
    page.check('input[name="by_agent"][value="否"]')
    agent.wait_for(state="hidden")
    page.fill("#fld-shop_name", "泉城小店")
    page.click("button[type=submit] >> text=检查并提交")
    page.locator("text=有 1 处需要修改").wait_for()  # the promise is not ticked
    assert "请勾选我承诺所填信息真实" in page.locator("#fld-agree-error").inner_text()
    assert page.locator("#fld-shop_name").input_value() == "泉城小店"
    page.screenshot(path=str(SHOTS / "apply_form.png"), full_page=True)
    ctx.close()

    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    editor = f"/admin/catalogue/implementations/{w.ids['impl']}/form"
    _sign_in(page, live_server, "cadmin", editor)
    assert page.locator(".editor-field").count() == 9
    page.click("button[value=add_field]")
    page.locator('input[name="f.9.name"]').wait_for()
    assert page.url.endswith(editor)  # swapped in place: no navigation
    page.fill('input[name="f.9.label"]', "经营面积（平方米）")
    page.locator("#form-preview >> text=经营面积（平方米）").wait_for()
    page.screenshot(path=str(SHOTS / "form_editor.png"), full_page=True)
    ctx.close()


def test_item_form_rows_and_diff(live_server: str, settings: Settings, browser: Any) -> None:  # noqa: F811
    w: CatWorld = _in_thread(settings, build)
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    edit = f"/admin/catalogue/items/{w.ids['item']}/edit"
    _sign_in(page, live_server, "cadmin", edit)
    assert page.locator('input[name="materials.1.name"]').input_value() == "营业执照"
    page.click("button[value='add:materials']")
    page.locator('input[name="materials.2.name"]').wait_for()
    assert page.url.endswith(edit)
    page.fill('input[name="materials.2.name"]', "场所平面图")
    page.screenshot(path=str(SHOTS / "item_edit.png"), full_page=True)
    page.fill('input[name="promised_limit.value"]', "7")
    page.fill("#note", "增加材料")
    page.click(".sticky-actions button[value=save]")
    page.wait_for_url(f"**/admin/catalogue/items/{w.ids['item']}?msg=saved")
    page.screenshot(path=str(SHOTS / "item_overview.png"), full_page=True)
    page.goto(f"{live_server}/admin/catalogue/items/{w.ids['item']}/diff?a=1&b=2")
    assert page.locator("tr.changed").count() == 2  # 申请材料, 承诺办结时限
    page.screenshot(path=str(SHOTS / "item_diff.png"), full_page=True)
    ctx.close()
