"""事项管理 pages through the front door: lists with search, filters and keyset
pages; the item form (rows added and removed without saving, errors beside the
inputs, drafts saved); publish and retire behind a confirmation and CSRF; the
version diff and change log; deriving; the 全程网办 override; the form editor."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.catalogue.helpers import base_code, fields
from tests.catalogue.world import CatWorld, build
from tests.web.conftest import csrf_from, page_login
from tongban.catalogue import service
from tongban.catalogue.models import (
    CatalogueItem,
    Implementation,
    ImplementationVersion,
    ItemVersion,
)
from tongban.identity.models import Account
from tongban.identity.service import actor_for_account

ITEMS = "/admin/catalogue/items"
IMPLS = "/admin/catalogue/implementations"
HTMX = {"HX-Request": "true"}


@pytest.fixture
async def w(session) -> CatWorld:
    return await build(session)


async def _admin_actor(session):
    acc = (await session.execute(select(Account).where(Account.username == "cadmin"))).scalar_one()
    return await actor_for_account(session, acc, via="session")


def _form_pairs(html: str) -> list[tuple[str, str]]:
    """What a browser would post from the page's main form: inputs, checked boxes, selected options, textareas."""
    form = html.split('class="cat-form"', 1)[1].split("</form>", 1)[0]
    pairs: list[tuple[str, str]] = []
    for m in re.finditer(r"<input([^>]*)>", form):
        attrs = m.group(1)
        name = re.search(r'name="([^"]+)"', attrs)
        if not name:
            continue
        kind = re.search(r'type="([^"]+)"', attrs)
        value = re.search(r'value="([^"]*)"', attrs)
        if kind and kind.group(1) in ("checkbox", "radio") and " checked" not in attrs:
            continue
        pairs.append((name.group(1), _unescape(value.group(1)) if value else ""))
    for m in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', m.group(2)) or re.search(
            r'<option value="([^"]*)"', m.group(2)
        )
        pairs.append((m.group(1), _unescape(chosen.group(1)) if chosen else ""))
    for m in re.finditer(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        pairs.append((m.group(1), _unescape(m.group(2))))
    return pairs


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def _set(pairs: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    out = [(k, v) for k, v in pairs if k != name]
    return [*out, (name, value)]


def post(
    client, url: str, pairs: list[tuple[str, str]], headers: dict[str, str] | None = None, **kw
):
    """POST form pairs (repeated names kept, as a browser sends checkboxes)."""
    from urllib.parse import urlencode

    h = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
    return client.post(url, content=urlencode(pairs), headers=h, **kw)


# --- lists ------------------------------------------------------------------------------------


async def test_item_list_search_filter_and_pages(w: CatWorld, client, session) -> None:
    a = await _admin_actor(session)
    made = []
    for n in range(23):
        item = await service.create_item(
            session,
            a,
            base_code=base_code("20"),
            fields=fields(name=f"公共服务事项{n:02d}", item_type="20"),
        )
        made.append(item)
    await service.publish_item(session, a, made[5].id)
    await session.commit()
    page_login(client, "cadmin")
    r = client.get(ITEMS, params={"q": "公共服务事项"})
    assert (
        r.status_code == 200 and len(re.findall(r'href="/admin/catalogue/items/\d+"', r.text)) == 20
    )
    nxt = re.search(r'rel="next" href="([^"]+)"', r.text).group(1).replace("&amp;", "&")
    r2 = client.get(nxt)
    assert (
        len(re.findall(r'href="/admin/catalogue/items/\d+"', r2.text)) == 3
        and "公共服务事项22" in r2.text
        and 'rel="next"' not in r2.text
    )
    assert "第一页" in r2.text
    r = client.get(ITEMS, params={"q": made[7].base_code})
    assert "公共服务事项07" in r.text and "公共服务事项08" not in r.text
    r = client.get(ITEMS, params={"type": "20", "status": "published"})
    assert "公共服务事项05" in r.text and "公共服务事项06" not in r.text
    r = client.get(ITEMS, params={"q": "公共服务事项1"}, headers=HTMX)
    assert "<html" not in r.text and "公共服务事项10" in r.text and "公共服务事项09" not in r.text
    assert client.get(ITEMS, params={"type": "x"}).status_code == 422


async def test_implementation_list_filters(w: CatWorld, client) -> None:
    page_login(client, "cadmin")
    r = client.get(IMPLS)
    assert r.status_code == 200 and "公共场所卫生许可" in r.text and "市南区" in r.text
    r = client.get(IMPLS, params={"status": "draft"})
    assert "公共场所卫生许可" not in r.text and "历下区民政局" in r.text
    r = client.get(IMPLS, params={"online": "cannot"})
    assert "现场核验类许可" in r.text and "公共场所卫生许可" not in r.text
    r = client.get(IMPLS, params={"region": "370102000000"}, headers=HTMX)
    assert "市南区" not in r.text and "<html" not in r.text


async def test_who_sees_the_catalogue_pages(w: CatWorld, client) -> None:
    assert client.get(ITEMS, follow_redirects=False).status_code == 401
    page_login(client, "calice")
    assert client.get(ITEMS).status_code == 403
    client.cookies.clear()
    page_login(client, "qadmin")
    assert client.get(f"{IMPLS}/{w.ids['impl']}").status_code == 404
    assert client.get(f"{IMPLS}/{w.ids['impl']}/form").status_code == 404
    assert client.get(f"{ITEMS}/{w.ids['city_item']}").status_code == 404
    assert "公共场所卫生许可" not in client.get(IMPLS).text
    client.cookies.clear()
    page_login(client, "cclerk")  # reads, cannot change
    r = client.get(f"{IMPLS}/{w.ids['impl']}")
    assert r.status_code == 200 and f'href="{IMPLS}/{w.ids["impl"]}/edit"' not in r.text
    assert "事项与实施清单" in r.text  # workbench navigation
    client.cookies.clear()
    page_login(client, "cadmin")
    r = client.get(ITEMS)
    assert 'href="/admin/catalogue/items" aria-current="page"' in r.text and "新建事项" in r.text


# --- create and edit ---------------------------------------------------------------------------


async def test_create_item_through_the_form(w: CatWorld, client, session) -> None:
    page_login(client, "cadmin")
    html = client.get(f"{ITEMS}/new").text
    pairs = _form_pairs(html)
    code = base_code()
    pairs = _set(
        _set(_set(pairs, "base_code", code), "name", "新办事项"), "materials.0.name", "申请表"
    )
    pairs = _set(pairs, "conditions", "符合条件")
    r = post(client, f"{ITEMS}/new", pairs, follow_redirects=False)
    assert r.status_code == 303, r.text
    item = (
        await session.execute(select(CatalogueItem).where(CatalogueItem.base_code == code))
    ).scalar_one()
    assert r.headers["location"] == f"{ITEMS}/{item.id}?msg=created"
    v = (
        await session.execute(select(ItemVersion).where(ItemVersion.item_id == item.id))
    ).scalar_one()
    assert (
        v.fields["materials"][0]["name"] == "申请表"
        and v.fields["legal_basis"] == []
        and v.status == "draft"
    )


async def test_errors_show_beside_their_inputs_and_nothing_is_saved(
    w: CatWorld, client, session
) -> None:
    page_login(client, "cadmin")
    pairs = _form_pairs(client.get(f"{ITEMS}/new").text)
    pairs = _set(_set(_set(pairs, "base_code", "37011"), "name", "新"), "visits", "两次")
    pairs = _set(pairs, "materials.0.name", "申请表")
    r = post(client, f"{ITEMS}/new", pairs)
    assert r.status_code == 422
    assert 'id="err-base_code"' in r.text and "基本编码应为 12 位" in r.text
    pairs = _set(pairs, "base_code", base_code())
    r = post(client, f"{ITEMS}/new", pairs)
    assert r.status_code == 422
    assert re.search(r'id="err-name">内容太短', r.text) and re.search(
        r'id="err-visits">应为整数', r.text
    )
    assert "事项名称：内容太短" in r.text  # the summary at the top names the field
    assert 'value="两次"' in r.text  # what was typed comes back
    before = (await session.execute(select(func.count()).select_from(CatalogueItem))).scalar_one()
    assert before == 4  # the world's four items, no new one


async def test_row_buttons_change_the_form_not_the_data(w: CatWorld, client, session) -> None:
    page_login(client, "cadmin")
    url = f"{ITEMS}/{w.ids['item']}/edit"
    pairs = _form_pairs(client.get(url).text)
    csrf = dict(pairs)["csrf_token"]
    r = post(client, url, [*pairs, ("op", "add:materials")], headers=HTMX)
    assert r.status_code == 200 and 'name="materials.2.name"' in r.text
    r = post(client, url, [*pairs, ("op", "remove:materials:0")])
    assert 'name="materials.1.name"' not in r.text and 'value="营业执照"' in r.text
    r = post(client, url, [*pairs, ("op", "down:materials:0")])
    assert r.text.index('value="营业执照"') < r.text.index('value="食品经营许可申请书"')
    assert post(client, url, [("op", "add:materials")]).status_code == 403  # no CSRF token
    versions = (
        await session.execute(
            select(func.count())
            .select_from(ItemVersion)
            .where(ItemVersion.item_id == w.ids["item"])
        )
    ).scalar_one()
    assert versions == 1 and csrf


async def test_edit_saves_a_draft_and_keeps_the_published_version(
    w: CatWorld, client, session
) -> None:
    page_login(client, "cadmin")
    url = f"{ITEMS}/{w.ids['item']}/edit"
    html = client.get(url).text
    assert "保存后将生成第 2 版草稿" in html
    pairs = _set(_form_pairs(html), "promised_limit.value", "5")
    pairs = _set(pairs, "note", "压缩承诺时限")
    r = post(client, url, [*pairs, ("op", "save")], follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?msg=saved")
    rows = (
        await session.execute(
            select(ItemVersion.version, ItemVersion.status, ItemVersion.fields)
            .where(ItemVersion.item_id == w.ids["item"])
            .order_by(ItemVersion.version)
        )
    ).all()
    assert [(v, s) for v, s, _ in rows] == [(1, "published"), (2, "draft")]
    assert (
        rows[0][2]["promised_limit"]["value"] == 10 and rows[1][2]["promised_limit"]["value"] == 5
    )
    changed = {k for k in rows[0][2] if rows[0][2][k] != rows[1][2][k]}
    assert changed == {"promised_limit"}  # the form posts every field back as it was
    page = client.get(f"{ITEMS}/{w.ids['item']}?msg=saved").text
    assert "草稿已保存" in page and "有未发布的草稿（第 2 版）" in page and "发布第 2 版" in page


async def test_publish_needs_confirmation_and_csrf(w: CatWorld, client, session) -> None:
    a = await _admin_actor(session)
    await service.save_item_draft(
        session,
        a,
        w.ids["item"],
        fields(
            promised_limit={"value": 6, "unit": "working_day"},
            online_payment=True,
            service_objects=["1", "2"],
        ),
        note="六天",
    )
    await session.commit()
    page_login(client, "cadmin")
    url = f"{ITEMS}/{w.ids['item']}/publish"
    r = client.get(url)
    assert r.status_code == 200 and "确认发布" in r.text
    assert (
        "承诺办结时限" in r.text and "10个工作日" in r.text and "6个工作日" in r.text
    )  # what changes
    assert "事项不收费，不应支持网上支付" in r.text  # the quality check
    token = csrf_from(r.text)
    assert client.post(url, data={"confirm": "yes"}).status_code == 403
    assert client.post(url, data={"confirm": "yes", "csrf_token": "forged"}).status_code == 403
    r = client.post(url, data={"csrf_token": token})
    assert r.status_code == 200 and "确认发布" in r.text
    item = await session.get(CatalogueItem, w.ids["item"])
    await session.refresh(item)
    assert item.published_version == 1
    r = client.post(url, data={"csrf_token": token, "confirm": "yes"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?msg=published")
    await session.refresh(item)
    assert item.published_version == 2
    r = client.post(url, data={"csrf_token": token, "confirm": "yes"})
    assert "没有待发布的草稿" in r.text


async def test_retire_with_reason_and_confirmation(w: CatWorld, client, session) -> None:
    page_login(client, "cadmin")
    url = f"{IMPLS}/{w.ids['offline']}/retire"
    token = csrf_from(client.get(url).text)
    r = client.post(url, data={"csrf_token": token, "confirm": "yes", "reason": ""})
    assert r.status_code == 422 and "请填写停用原因" in r.text
    r = client.post(
        url,
        data={"csrf_token": token, "confirm": "yes", "reason": "职能划转"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    impl = await session.get(Implementation, w.ids["offline"])
    assert impl.status == "retired"
    assert "职能划转" in client.get(f"{IMPLS}/{w.ids['offline']}/changes").text
    r = client.post(
        f"{ITEMS}/{w.ids['item']}/retire",
        data={"csrf_token": token, "confirm": "yes", "reason": "取消"},
    )
    assert r.status_code == 409 and "仍有实施清单引用该事项" in r.text


# --- versions, diff, change log ---------------------------------------------------------------------


async def test_diff_highlights_changed_fields(w: CatWorld, client, session) -> None:
    a = await _admin_actor(session)
    await service.save_item_draft(
        session,
        a,
        w.ids["item"],
        fields(
            name="食品经营许可（新）", visits=1, visit_reason="核验原件", service_objects=["1", "2"]
        ),
        note="改版",
    )
    await service.publish_item(session, a, w.ids["item"])
    await session.commit()
    page_login(client, "cadmin")
    r = client.get(f"{ITEMS}/{w.ids['item']}/diff", params={"a": 1, "b": 2})
    assert r.status_code == 200 and "共有 <strong>3</strong> 项要素不同" in r.text
    changed = re.findall(r'<tr class="changed">\s*<th scope="row">([^<]+)<', r.text)
    assert changed == ["事项名称", "到办事现场次数", "必须到现场原因"]
    assert "<del>食品经营许可</del>" in r.text and "<ins>食品经营许可（新）</ins>" in r.text
    only = client.get(f"{ITEMS}/{w.ids['item']}/diff", params={"a": 1, "b": 2, "only": 1}).text
    assert only.count("<tr class=") == 3
    assert (
        client.get(f"{ITEMS}/{w.ids['item']}/diff", params={"a": 99}).status_code == 200
    )  # falls back to neighbours
    v1 = client.get(f"{ITEMS}/{w.ids['item']}/versions/1").text
    assert "历史版本" in v1 and "已发布的版本不可更改" in v1
    log = client.get(f"{ITEMS}/{w.ids['item']}/changes").text
    assert [m for m in re.findall(r'<span class="badge">([^<]+)</span>', log)] == [
        "发布",
        "修改草稿",
        "发布",
        "新建",
    ]
    assert "事项名称、必须到现场原因、到办事现场次数" in log and "改版" in log


# --- implementation entries ---------------------------------------------------------------------


async def test_derive_an_implementation(w: CatWorld, client, session) -> None:
    page_login(client, "cadmin")
    url = f"{ITEMS}/{w.ids['item']}/derive"
    html = client.get(url).text
    assert "历下区卫生健康局" in html and "市南区市场监管局" in html
    token = csrf_from(html)
    r = client.post(url, data={"csrf_token": token, "department_id": "", "promised_value": "3"})
    assert r.status_code == 422 and "请选择实施部门" in r.text
    r = client.post(
        url,
        data={"csrf_token": token, "department_id": str(w.ids["health"]), "promised_value": "三天"},
    )
    assert r.status_code == 422 and "应为整数" in r.text
    r = client.post(
        url,
        data={
            "csrf_token": token,
            "department_id": str(w.ids["health"]),
            "promised_value": "3",
            "address": "卫健局大厅",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    impl_id = int(r.headers["location"].split("/")[-1].split("?")[0])
    v = (
        await session.execute(
            select(ImplementationVersion).where(ImplementationVersion.implementation_id == impl_id)
        )
    ).scalar_one()
    assert v.fields["promised_limit"]["value"] == 3 and v.local["address"] == "卫健局大厅"
    page = client.get(r.headers["location"]).text
    assert "已派生实施清单草稿" in page and "与基本目录一致" in page
    client.cookies.clear()
    page_login(client, "deptadmin")
    html = client.get(url).text
    assert (
        "历下区市场监管局" in html and "历下区卫生健康局" not in html
    )  # a department admin: their own department
    r = client.post(
        url, data={"csrf_token": csrf_from(html), "department_id": str(w.ids["health"])}
    )
    assert r.status_code == 404


async def test_implementation_edit_and_online_override(w: CatWorld, client, session) -> None:
    page_login(client, "deptadmin")
    url = f"{IMPLS}/{w.ids['impl']}/edit"
    pairs = _set(
        _form_pairs(client.get(url).text), "local.address", "新址：历下区政务服务中心 5 楼"
    )
    pairs = _set(pairs, "name", "食品经营许可（历下）")
    r = post(client, url, [*pairs, ("op", "save")], follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"{IMPLS}/{w.ids['impl']}").text
    assert "事项名称与基本目录不一致" in page and "新址" in page
    r = post(client, url, [*pairs, ("op", "rebase")], follow_redirects=False)
    assert r.status_code == 303
    assert "事项名称与基本目录不一致" not in client.get(f"{IMPLS}/{w.ids['impl']}").text
    bad = _set(pairs, "local.phone", "1" * 60)
    r = post(client, url, [*bad, ("op", "save")])
    assert r.status_code == 422 and 'id="err-local-phone"' in r.text
    # the 全程网办 override is for platform admins
    token = csrf_from(page)
    assert (
        client.post(
            f"{IMPLS}/{w.ids['impl']}/online",
            data={"csrf_token": token, "status": "cannot", "reason": "现场核验"},
        ).status_code
        == 403
    )
    client.cookies.clear()
    page_login(client, "cadmin")
    token = csrf_from(client.get(f"{IMPLS}/{w.ids['impl']}").text)
    r = client.post(
        f"{IMPLS}/{w.ids['impl']}/online",
        data={"csrf_token": token, "status": "cannot", "reason": ""},
    )
    assert r.status_code == 422 and "请选择认定结果并填写理由" in r.text
    r = client.post(
        f"{IMPLS}/{w.ids['impl']}/online",
        data={"csrf_token": token, "status": "cannot", "reason": "需现场核验原件"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(f"{IMPLS}/{w.ids['impl']}").text
    assert "需现场核验原件" in page and "人工认定" in page


async def test_publish_implementation_shows_consistency(w: CatWorld, client, session) -> None:
    page_login(client, "cadmin")
    url = f"{IMPLS}/{w.ids['draft_impl']}/publish"
    r = client.get(url)
    assert "与基本目录一致" in r.text and "全程网办认定" in r.text
    r = client.post(
        url, data={"csrf_token": csrf_from(r.text), "confirm": "yes"}, follow_redirects=False
    )
    assert r.status_code == 303
    impl = await session.get(Implementation, w.ids["draft_impl"])
    await session.refresh(impl)
    assert impl.status == "published"


# --- the form editor ------------------------------------------------------------------------------


async def test_form_editor_ops_preview_and_save(w: CatWorld, client, session) -> None:
    page_login(client, "cadmin")
    url = f"{IMPLS}/{w.ids['impl']}/form"
    html = client.get(url).text
    assert html.count('class="editor-field') == 9 and 'name="f.5.show_if_field"' in html
    assert (
        'id="form-preview"' in html and 'data-show-if="by_agent"' in html
    )  # the preview uses the apply renderer
    pairs = _form_pairs(html)
    r = post(client, url, [*pairs, ("op", "add_field")], headers=HTMX)
    assert r.status_code == 200 and 'name="f.9.name" value="field_10"' in r.text
    r = post(client, url, [*pairs, ("op", "remove:8")])
    assert r.text.count('class="editor-field') == 8
    r = post(client, f"{url}/preview", _set(pairs, "f.3.label", "门店名称"), headers=HTMX)
    assert r.status_code == 200 and "门店名称" in r.text and "<html" not in r.text
    # a select without options: refused with the message beside the field
    bad = _set(_set(pairs, "f.3.widget", "select"), "f.3.options", "")
    r = post(client, url, [*bad, ("op", "save")])
    assert r.status_code == 422 and "下拉选择和单选控件需要设置选项" in r.text
    assert re.search(r'id="row-3">.*?下拉选择和单选控件需要设置选项', r.text, re.S)
    dup = _set(pairs, "f.1.name", "applicant_name")
    r = post(client, url, [*dup, ("op", "save")])
    assert r.status_code == 422 and "字段名 applicant_name 重复" in r.text
    good = _set(_set(pairs, "f.3.label", "门店名称"), "f.3.help", "与营业执照一致")
    r = post(client, url, [*good, ("op", "save"), ("note", "改表单")], follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?msg=form_saved")
    draft = (
        await session.execute(
            select(ImplementationVersion).where(
                ImplementationVersion.implementation_id == w.ids["impl"],
                ImplementationVersion.version == 2,
            )
        )
    ).scalar_one()
    assert draft.form["schema"]["properties"]["shop_name"]["title"] == "门店名称"
    assert draft.form["ui"]["fields"]["shop_name"]["help"] == "与营业执照一致"
    assert draft.form["ui"]["fields"]["agent_name"]["show_if"] == {
        "field": "by_agent",
        "equals": "是",
    }
    published = (
        await session.execute(
            select(ImplementationVersion).where(
                ImplementationVersion.implementation_id == w.ids["impl"],
                ImplementationVersion.version == 1,
            )
        )
    ).scalar_one()
    assert published.form["schema"]["properties"]["shop_name"]["title"] == "店铺名称"
    assert "申请表单已保存到草稿" in client.get(r.headers["location"]).text
    r = post(client, url, [*pairs, ("op", "reset_default")])
    assert r.text.count('class="editor-field') == 5


async def test_form_editor_element_fills_the_field(w: CatWorld, client) -> None:
    page_login(client, "cadmin")
    url = f"{IMPLS}/{w.ids['impl']}/form"
    pairs = _form_pairs(client.get(url).text)
    pairs = _set(_set(pairs, "f.3.element", "enterprise.credit_code"), "f.3.label", "")
    r = post(client, url, [*pairs, ("op", "element:3")], headers=HTMX)
    assert 'name="f.3.label" value="统一社会信用代码"' in r.text
    assert re.search(r'name="f.3.format">.*?<option value="credit_code" selected', r.text, re.S)
