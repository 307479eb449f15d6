"""The case journey in headless Chromium (issue 4, "done when"): a citizen applies
online with a material → the clerk issues a one-time correction notice → the
citizen resubmits on the same case → the clerk accepts → the approver passes
the steps and approves → the clerk delivers; and window intake (一窗受理) on
behalf of a person present. Screenshots go to /tmp/tongban-shots/case_*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests import builders as b
from tests.cases.test_pages import PDF, W, build
from tests.web.conftest import live_server  # noqa: F401 (fixture)
from tests.web.test_browser import CHROMIUM, SHOTS, _in_thread, browser  # noqa: F401 (fixture)
from tongban.core.settings import Settings

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not __import__("pathlib").Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent"
    ),
]


def _sign_in(ctx: Any, base: str, username: str, next_url: str) -> Any:
    page = ctx.new_page()
    page.goto(f"{base}/login?next={next_url}")
    page.fill("#username", username)
    page.fill("#password", b.PASSWORD)
    page.click("form.password-form button[type=submit]")
    page.wait_for_url(f"{base}{next_url}")
    return page


def _upload(page: Any, slot: int, name: str) -> None:
    page.set_input_files(
        f'input[name="_file.{slot}"]',
        files=[{"name": name, "mimeType": "application/pdf", "buffer": PDF}],
    )
    page.locator(f"#slot-{slot} .slot-file").wait_for()
    assert name in page.locator(f"#slot-{slot} .slot-file").inner_text()


def _act(
    page: Any, base: str, case_id: int, action: str, label: str, fill: dict[str, str] | None = None
) -> None:
    """Open the action's panel, fill it, go to the confirmation, confirm."""
    page.goto(f"{base}/workbench/cases/{case_id}")
    page.click(f'summary[data-action="{action}"]')
    panel = page.locator(f"details.action-{action}")
    for selector, value in (fill or {}).items():
        if value == "check":
            panel.locator(selector).check()
        else:
            panel.locator(selector).fill(value)
    panel.locator("button:has-text('下一步')").click()
    page.wait_for_url(f"**/workbench/cases/{case_id}/actions/{action}")
    page.locator("h1", has_text=f"确认{label}").wait_for()
    page.click(f"form.actions button:has-text('确认{label}')")
    page.wait_for_url(f"**/workbench/cases/{case_id}?msg={action}")


def test_apply_correct_resubmit_accept_review_approve_deliver(
    live_server: str,  # noqa: F811 (the fixture)
    settings: Settings,
    browser: Any,  # noqa: F811 (the fixture)
) -> None:
    w: W = _in_thread(settings, build)
    base = live_server
    citizen = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    clerk = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    approver = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")

    # 1. the citizen applies online with the application letter attached
    me = _sign_in(citizen, base, "palice", f"/apply/{w.ids['impl']}")
    assert me.locator("#fld-applicant_name").input_value() == w.names["alice"]
    _upload(me, 0, "食品经营许可申请书.pdf")
    me.screenshot(path=str(SHOTS / "case_apply.png"), full_page=True)
    me.click("button[type=submit] >> text=检查并提交")
    me.wait_for_url(re.compile(r".*/me/cases/\d+\?msg=submitted"))
    case_id = int(re.search(r"/me/cases/(\d+)", me.url).group(1))
    number = me.locator(".case-number").inner_text()
    assert (
        "待受理" in me.locator("h2#clock-title + *").inner_text()
        or me.locator(".deadline-clock").inner_text()
    )
    assert "食品经营许可申请书" in me.locator(".materials-table").inner_text()

    # 2. the clerk finds it in 待受理 and issues a one-time correction notice listing two items
    wb = _sign_in(clerk, base, "pclerk", "/workbench/cases")
    wb.click(f"a.mono >> text={number}")
    wb.wait_for_url(f"**/workbench/cases/{case_id}")
    assert wb.locator(".deadline-clock").inner_text().startswith("受理期限")
    wb.click('summary[data-action="request_correction"]')
    panel = wb.locator("details.action-request_correction")
    panel.locator('input[name="item.0.name"]').fill("营业执照")
    panel.locator('input[name="item.0.reason"]').fill("未提交营业执照复印件")
    panel.locator('select[name="item.1.kind"]').select_option("field")
    panel.locator('input[name="item.1.name"]').fill("联系地址")
    panel.locator('input[name="item.1.reason"]').fill("请填写经营场所地址")
    wb.screenshot(path=str(SHOTS / "case_correction_form.png"), full_page=True)
    panel.locator("button:has-text('下一步')").click()
    wb.locator("h1", has_text="确认一次性告知补齐补正").wait_for()
    assert "未提交营业执照复印件" in wb.locator("dl.facts").inner_text()
    wb.click("form.actions button:has-text('确认一次性告知补齐补正')")
    wb.wait_for_url(f"**/workbench/cases/{case_id}?msg=request_correction")
    assert "待补齐补正" in wb.locator("h1").inner_text()

    # 3. the citizen sees every item, fixes the form, uploads the licence, resubmits on the same case
    me.goto(f"{base}/me/cases/{case_id}")
    notice = me.locator(".correction-notice.open").inner_text()
    assert "未提交营业执照复印件" in notice and "请填写经营场所地址" in notice
    me.fill("#fld-address", "历下区泉城路 1 号")
    _upload(me, 0, "营业执照.pdf")
    me.screenshot(path=str(SHOTS / "case_resubmit.png"), full_page=True)
    me.click("button:has-text('提交补正')")
    me.wait_for_url(f"**/me/cases/{case_id}?msg=resubmitted")
    assert "待受理" in me.locator(".badge.state-submitted").first.inner_text()

    # 4. the clerk accepts
    _act(wb, base, case_id, "accept", "受理", {"textarea[name=comment]": "材料齐全，予以受理"})
    assert wb.locator(".deadline-clock").inner_text().startswith("办结期限")

    # 5. the approver passes 承办 and 审核, then approves at 批准
    ap = _sign_in(approver, base, "papprover", "/workbench/cases")
    ap.screenshot(path=str(SHOTS / "case_worklist.png"), full_page=True)
    assert number in ap.locator("#results").inner_text()  # 待审查
    _act(ap, base, case_id, "pass_step", "通过")
    _act(ap, base, case_id, "pass_step", "通过")
    _act(
        ap,
        base,
        case_id,
        "decide",
        "作出决定",
        {"input[value=grant]": "check", "textarea[name=reason]": "符合法定条件"},
    )
    ap.screenshot(path=str(SHOTS / "case_decided.png"), full_page=True)

    # 6. the clerk delivers electronically
    _act(wb, base, case_id, "deliver", "送达 / 出件", {"input[value=electronic]": "check"})
    assert "已送达" in wb.locator("h1").inner_text()
    trail = wb.locator(".timeline").inner_text()
    for label in (
        "提交申请",
        "一次性告知补齐补正",
        "补正后重新提交",
        "受理",
        "通过",
        "作出决定",
        "送达 / 出件",
    ):
        assert label in trail, label
    wb.screenshot(path=str(SHOTS / "case_workbench.png"), full_page=True)

    # 7. the citizen sees the result, the trail and the messages
    me.goto(f"{base}/me/cases/{case_id}")
    assert "已送达" in me.locator(".badge.state-delivered").first.inner_text()
    assert "准予" in me.locator("dd.outcome").inner_text()
    me.screenshot(path=str(SHOTS / "case_applicant.png"), full_page=True)
    me.click("nav.site-nav >> text=消息")
    me.wait_for_url(f"{base}/me/inbox")
    assert me.locator("li.message").count() >= 8
    me.goto(f"{base}/me/cases")
    assert number in me.locator(".case-list").inner_text()
    me.screenshot(path=str(SHOTS / "case_my_cases.png"), full_page=True)
    for ctx in (citizen, clerk, approver):
        ctx.close()


def test_window_intake_on_behalf_of_a_person(
    live_server: str,  # noqa: F811 (the fixture)
    settings: Settings,
    browser: Any,  # noqa: F811 (the fixture)
) -> None:
    w: W = _in_thread(settings, build)
    base = live_server
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = _sign_in(ctx, base, "pclerk", "/workbench/intake")
    page.fill("#id_number", w.numbers["walkin"])
    page.click("form.filters button:has-text('查找')")
    page.locator(".applicant-found .person-name", has_text=w.names["walkin"]).wait_for()
    page.fill("#q", "卫生")
    page.click("button:has-text('搜索')")
    page.locator("#impl-results a", has_text=w.names["impl"]).wait_for()
    # htmx narrows the list in place (wait for the swap: before it the list
    # may still hold both)
    page.locator("#impl-results a", has_text=w.names["impl2"]).wait_for(state="detached")
    assert w.names["impl2"] not in page.locator("#impl-results").inner_text()
    page.click(f"#impl-results a >> text={w.names['impl']}")
    page.wait_for_url(f"**/workbench/intake/{w.ids['impl']}?person={w.ids['walkin']}")
    assert page.locator("#fld-applicant_id_number").input_value() == w.numbers["walkin"]
    _upload(page, 0, "申请书扫描件.pdf")
    page.screenshot(path=str(SHOTS / "case_intake.png"), full_page=True)
    page.click("button:has-text('代为提交申请')")
    page.wait_for_url(re.compile(r".*/workbench/cases/\d+\?msg=filed"))
    case_id = int(re.search(r"/workbench/cases/(\d+)", page.url).group(1))
    facts = page.locator("dl.facts").first.inner_text()
    assert w.names["walkin"] in facts and "窗口" in facts
    _act(page, base, case_id, "accept", "受理")
    ctx.close()
