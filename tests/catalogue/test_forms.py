"""Forms as data: definitions checked with field-level Chinese messages, the one
validator (required, formats, conditional fields, unknown fields), prefill, the
editor's rows, and the apply page (/apply/{id}) through the front door."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from tests import builders as b
from tests.catalogue.world import APPLY_FORM, CatWorld, build
from tests.web.conftest import page_login
from tongban.catalogue import admin_forms, apply_pages, forms
from tongban.core.errors import ValidationFailed
from tongban.core.identifiers import make_credit_code, make_resident_id


def chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _def(
    props: dict[str, Any], ui: dict[str, Any] | None = None, required: list[str] | None = None
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required is not None:
        schema["required"] = required
    return {"schema": schema, "ui": ui or {}}


# --- check_definition ----------------------------------------------------------------------------

TEXT = {"title": "文本", "type": "string"}
BAD_DEFINITIONS = [
    # (definition, field named in details or None for a whole-definition error)
    (None, None),
    ({"schema": []}, None),
    ({"schema": {"type": "array"}}, None),
    ({"schema": {"type": "object", "properties": {}}, "ui": "x"}, None),
    (_def({}), "schema.properties"),
    (_def({"Name": TEXT}), "Name"),
    (_def({"a": {"type": "string"}}), "a"),
    (_def({"a": {"title": "甲", "type": "list"}}), "a"),
    (_def({"a": {"title": "甲", "type": ["string", "null"]}}), "a"),
    (_def({"a": {"title": "甲", "type": "string", "maxLength": -1}}), "a"),
    (_def({"a": TEXT}, required=["b"]), "required.b"),
    (_def({"a": TEXT}, {"fields": {"b": {}}}), "ui.fields.b"),
    (_def({"a": TEXT}, {"fields": {"a": "text"}}), "ui.fields.a"),
    (_def({"a": TEXT}, {"fields": {"a": {"widget": "slider"}}}), "ui.fields.a.widget"),
    (_def({"a": TEXT}, {"fields": {"a": {"widget": ["text"]}}}), "ui.fields.a.widget"),
    (_def({"a": TEXT}, {"fields": {"a": {"widget": "select"}}}), "ui.fields.a.widget"),
    (_def({"a": TEXT}, {"fields": {"a": {"widget": "checkbox"}}}), "ui.fields.a.widget"),
    (_def({"a": TEXT}, {"fields": {"a": {"element": "person.shoe_size"}}}), "ui.fields.a.element"),
    (_def({"a": TEXT}, {"fields": {"a": {"element": {"x": 1}}}}), "ui.fields.a.element"),
    (
        _def({"a": TEXT}, {"fields": {"a": {"show_if": {"field": "zz", "equals": 1}}}}),
        "ui.fields.a.show_if",
    ),
    (
        _def({"a": TEXT}, {"fields": {"a": {"show_if": {"field": "a", "equals": 1}}}}),
        "ui.fields.a.show_if",
    ),
    (
        _def({"a": TEXT, "b": TEXT}, {"fields": {"a": {"show_if": {"field": ["b"], "equals": 1}}}}),
        "ui.fields.a.show_if",
    ),
    (
        _def(
            {"a": TEXT, "b": TEXT},
            {"fields": {"a": {"show_if": {"field": "b", "equals": {"x": 1}}}}},
        ),
        "ui.fields.a.show_if",
    ),
    (_def({"a": TEXT}, {"sections": [{"fields": ["a"]}]}), "ui.sections.0"),
    (
        _def(
            {"a": TEXT},
            {"sections": [{"title": "一", "fields": ["a"]}, {"title": "二", "fields": ["a"]}]},
        ),
        "ui.sections.1",
    ),
    (_def({"a": TEXT}, {"sections": [{"title": "一", "fields": "a"}]}), "ui.sections.0"),
    (_def({"a": TEXT}, {"sections": 5}), None),
    (_def({"a": TEXT}, {"fields": ["a"]}), None),
]


@pytest.mark.parametrize(("definition", "field"), BAD_DEFINITIONS)
def test_check_definition_rejects_with_chinese_field_messages(
    definition: Any, field: str | None
) -> None:
    with pytest.raises(ValidationFailed) as e:
        forms.check_definition(definition)
    assert e.value.code == "form_invalid" and chinese(e.value.message)
    if field is not None:
        fields = {d["field"] for d in e.value.details}
        assert field in fields, e.value.details
        assert all(chinese(d["message"]) for d in e.value.details)


def test_good_definitions_pass_unchanged() -> None:
    for definition in (APPLY_FORM, forms.default_form(), forms.default_form(for_enterprise=True)):
        assert forms.check_definition(copy.deepcopy(definition)) == definition


# --- validate_submission ------------------------------------------------------------------------

ID = make_resident_id("370102", birth_date=__import__("datetime").date(1990, 5, 17), sequence=12)
CREDIT = make_credit_code("91370102MA0000001")


def _valid(**over: Any) -> dict[str, Any]:
    data = {
        "applicant_name": "张三",
        "applicant_id_number": ID,
        "phone": "13800138000",
        "shop_name": "小店",
        "by_agent": "否",
        "agree": True,
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def test_valid_submission_is_clean() -> None:
    clean, errors = forms.validate_submission(
        APPLY_FORM, _valid(staff_count=3, open_date="2026-03-01")
    )
    assert errors == [] and clean["staff_count"] == 3


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"shop_name": None}, "shop_name", "请填写店铺名称"),
        ({"shop_name": ""}, "shop_name", "请填写店铺名称"),
        ({"by_agent": None}, "by_agent", "请选择是否委托代理人"),
        ({"agree": None}, "agree", "请勾选我承诺所填信息真实"),
        (
            {"applicant_id_number": ID[:17] + ("0" if ID[17] != "0" else "1")},
            "applicant_id_number",
            "校验位",
        ),
        ({"applicant_id_number": "12345"}, "applicant_id_number", "18位"),
        ({"phone": "1380013800"}, "phone", "11 位"),
        ({"shop_name": "长" * 51}, "shop_name", "最多 50 个字"),
        ({"by_agent": "也许"}, "by_agent", "请从选项中选择"),
        ({"staff_count": 0}, "staff_count", "不能小于 1"),
        ({"staff_count": "三"}, "staff_count", "应为整数"),
        ({"open_date": "2026/03/01"}, "open_date", "YYYY-MM-DD"),
        ({"by_agent": "是"}, "agent_name", "请填写代理人姓名"),
    ],
)
def test_submission_errors_name_the_field_in_chinese(
    over: dict[str, Any], field: str, message: str
) -> None:
    _, errors = forms.validate_submission(APPLY_FORM, _valid(**over))
    assert [e["field"] for e in errors] == [field], errors
    assert message in errors[0]["message"] and chinese(errors[0]["message"])


def test_hidden_conditional_fields_are_not_required_and_dropped() -> None:
    clean, errors = forms.validate_submission(APPLY_FORM, _valid(agent_name="李四"))
    assert errors == [] and "agent_name" not in clean
    clean, errors = forms.validate_submission(APPLY_FORM, _valid(by_agent="是", agent_name="李四"))
    assert errors == [] and clean["agent_name"] == "李四"


def test_conditions_chain() -> None:
    form = _def(
        {
            "a": {"title": "甲", "type": "boolean"},
            "b": {"title": "乙", "type": "string", "enum": ["x", "y"]},
            "c": {"title": "丙", "type": "string"},
        },
        {
            "fields": {
                "b": {"show_if": {"field": "a", "equals": True}},
                "c": {"show_if": {"field": "b", "equals": "x"}},
            }
        },
        required=["c"],
    )
    assert forms.visible_fields(form, {"a": True, "b": "x"}) == ["a", "b", "c"]
    assert forms.visible_fields(form, {"b": "x"}) == ["a"]  # b hidden, so c is too
    clean, errors = forms.validate_submission(form, {"b": "x", "c": "留下"})
    assert errors == [] and clean == {}


def test_unknown_fields_are_errors() -> None:
    _, errors = forms.validate_submission(APPLY_FORM, _valid(hacker="x"))
    assert errors == [{"field": "hacker", "message": "表单中没有这个字段"}]


def test_credit_code_format() -> None:
    form = forms.default_form(for_enterprise=True)
    data = {
        "applicant_name": "张三",
        "applicant_id_number": ID,
        "phone": "13800138000",
        "enterprise_name": "某公司",
        "enterprise_credit_code": CREDIT,
    }
    assert forms.validate_submission(form, data)[1] == []
    _, errors = forms.validate_submission(
        form, {**data, "enterprise_credit_code": CREDIT[:-1] + ("0" if CREDIT[-1] != "0" else "1")}
    )
    assert [e["field"] for e in errors] == ["enterprise_credit_code"] and chinese(
        errors[0]["message"]
    )


def test_prefill_and_locked_fields() -> None:
    values = {
        "person.name": "张三",
        "person.id_number": ID,
        "person.phone": "13800138000",
        "address": "",
    }
    assert forms.prefill(APPLY_FORM, values) == {
        "applicant_name": "张三",
        "applicant_id_number": ID,
        "phone": "13800138000",
    }
    assert forms.locked_fields(APPLY_FORM, values) == {
        "applicant_name": "张三",
        "applicant_id_number": ID,
    }


def test_from_html_types_what_parses() -> None:
    data = forms.from_html(
        APPLY_FORM, {"staff_count": " 12 ", "agree": "1", "shop_name": " 小店 ", "open_date": ""}
    )
    assert data == {"staff_count": 12, "agree": True, "shop_name": "小店", "open_date": ""}
    assert forms.from_html(APPLY_FORM, {"staff_count": "十二"})["staff_count"] == "十二"


def test_layout_for_the_renderer() -> None:
    sections = forms.layout(
        APPLY_FORM,
        {"by_agent": "否"},
        [{"field": "shop_name", "message": "请填写店铺名称"}],
        locked={"applicant_name"},
    )
    fields = {f["name"]: f for s in sections for f in s["fields"]}
    assert [s["title"] for s in sections] == ["申请人信息", "经营信息"]
    assert fields["agent_name"]["visible"] is False and fields["agent_name"]["show_if"] == {
        "field": "by_agent",
        "equals": "是",
    }
    assert fields["shop_name"]["errors"] == ["请填写店铺名称"] and fields["shop_name"]["required"]
    assert fields["applicant_name"]["readonly"] and fields["phone"]["input_type"] == "tel"
    assert fields["by_agent"]["widget"] == "radio" and [
        o["value"] for o in fields["by_agent"]["options"]
    ] == ["是", "否"]
    assert fields["staff_count"]["widget"] == "number" and fields["open_date"]["widget"] == "date"
    assert fields["agree"]["widget"] == "checkbox"


# --- the editor's rows ---------------------------------------------------------------------------


def test_editor_round_trip() -> None:
    rows, sections = admin_forms.editor_from_definition(APPLY_FORM)
    assert [s["title"] for s in sections] == ["申请人信息", "经营信息"]
    assert (
        rows[4]["options"] == "是\n否"
        and rows[5]["show_if_field"] == "by_agent"
        and rows[5]["show_if_equals"] == "是"
    )
    definition, row_errors, sec_errors = admin_forms.definition_from_editor(rows, sections)
    assert row_errors == {} and sec_errors == {}
    assert forms.check_definition(definition) == definition
    assert definition["schema"]["properties"] == APPLY_FORM["schema"]["properties"]
    assert definition["ui"]["sections"] == APPLY_FORM["ui"]["sections"]
    assert set(definition["schema"]["required"]) == set(APPLY_FORM["schema"]["required"])


def test_editor_ops_and_problems() -> None:
    rows, sections = admin_forms.editor_from_definition(APPLY_FORM)
    admin_forms.apply_editor_op(rows, sections, "add_field")
    assert rows[-1]["name"] == "field_10" and rows[-1]["section"] == "1"
    admin_forms.apply_editor_op(rows, sections, "up:9")
    assert rows[8]["name"] == "field_10"
    rows[8]["element"] = "person.gender"
    admin_forms.apply_editor_op(rows, sections, "element:8")
    assert rows[8]["label"] == "性别" and rows[8]["options"] == "男\n女"
    admin_forms.apply_editor_op(rows, sections, "remove_section:0")
    assert len(sections) == 1 and {r["section"] for r in rows} == {"0"}
    rows[0]["name"] = rows[1]["name"]
    rows[2]["max_length"] = "很多"
    rows[6]["minimum"] = "一"
    sections.append({"title": ""})
    _, row_errors, sec_errors = admin_forms.definition_from_editor(rows, sections)
    assert row_errors == {
        1: [f"字段名 {rows[1]['name']} 重复"],
        2: ["最大长度应为 1–10000 的整数"],
        6: ["最小值应为整数"],
    }
    assert sec_errors == {1: ["请填写分组标题"]}
    assert not admin_forms.apply_editor_op(rows, sections, "explode:1")


def test_item_form_pairs_to_document() -> None:
    pairs = [
        ("name", "食品经营许可"),
        ("levels", "3"),
        ("levels", "4"),
        ("fee_charged", "1"),
        ("materials.0.name", "申请书"),
        ("materials.0.originals", "1"),
        ("materials.0.required", "1"),
        ("materials.1.name", ""),
        ("materials.1.kind", "both"),
        ("materials.2.name", "营业执照"),
        ("materials.2.licence_type_code", ""),
        ("statutory_limit.value", "20"),
        ("statutory_limit.unit", "working_day"),
        ("steps.0.name", "受理"),
        ("steps.0.limit.value", ""),
        ("keywords", "食品 许可，餐饮"),
        ("csrf_token", "x"),
        ("op", "save"),
        ("local.address", "地址"),
    ]
    doc = admin_forms.item_doc_from_form(pairs, drop_blank_rows=True)
    assert (
        doc["levels"] == ["3", "4"]
        and doc["fee_charged"] is True
        and doc["online_payment"] is False
    )
    assert [m["name"] for m in doc["materials"]] == ["申请书", "营业执照"]
    assert doc["materials"][0]["required"] is True and doc["materials"][1]["required"] is False
    assert doc["materials"][1]["licence_type_code"] is None
    assert doc["steps"] == [{"name": "受理", "limit": None}] and doc["keywords"] == [
        "食品",
        "许可",
        "餐饮",
    ]
    assert "csrf_token" not in doc and "local" not in doc
    assert admin_forms.local_doc_from_form(pairs) == {"address": "地址"}
    assert admin_forms.apply_row_op(doc, "add:fees") and doc["fees"] == [
        {"name": "", "standard": "", "basis": ""}
    ]
    assert (
        admin_forms.apply_row_op(doc, "down:materials:0")
        and doc["materials"][0]["name"] == "营业执照"
    )
    assert admin_forms.apply_row_op(doc, "remove:materials:1") and len(doc["materials"]) == 1
    assert not admin_forms.apply_row_op(doc, "add:name")


# --- the apply page ---------------------------------------------------------------------------------


@pytest.fixture
async def w(session) -> CatWorld:
    return await build(session)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


async def test_anonymous_goes_to_login_and_comes_back(w: CatWorld, client) -> None:
    path = f"/apply/{w.ids['impl']}"
    r = client.get(path, follow_redirects=False)
    assert (
        r.status_code == 303 and r.headers["location"] == f"/login?next=%2Fapply%2F{w.ids['impl']}"
    )
    assert client.get(r.headers["location"]).status_code == 200
    r = page_login(client, "calice", next_url=path)
    assert r.headers["location"] == path
    r = client.post(path, data={"csrf_token": "x"}, follow_redirects=False)
    assert r.status_code == 403  # signed in now: a forged token is refused


async def test_login_next_only_local(w: CatWorld, client) -> None:
    for evil in ("https://evil.example/apply/1", "//evil.example", "/\\evil.example"):
        r = page_login(client, "calice", next_url=evil)
        assert r.headers["location"] == "/me"
        client.cookies.clear()


async def test_citizen_sees_prefilled_form(w: CatWorld, client) -> None:
    page_login(client, "calice")
    r = client.get(f"/apply/{w.ids['impl']}")
    html = r.text
    assert r.status_code == 200 and "食品经营许可" in html
    assert re.search(
        rf'id="fld-applicant_name" type="text" value="{w.names["alice"]}" readonly', html
    )
    assert f'value="{w.numbers["alice"]}" readonly' in html
    assert 'name="phone"' in html and f'value="{w.numbers["alice_phone"]}"' in html
    assert (
        'data-show-if="by_agent"' in html
        and "hidden" in html.split('data-field="agent_name"')[1][:200]
    )
    assert (
        "/static/js/form-conditions.js" in html
        and "申请人信息" in html
        and "用于接收办理进度短信" in html
    )


async def test_invalid_post_shows_errors_beside_fields(w: CatWorld, client) -> None:
    page_login(client, "calice")
    html = client.get(f"/apply/{w.ids['impl']}").text
    data = {
        "csrf_token": _csrf(html),
        "_key": _hidden(html, "_key"),
        "phone": "123",
        "shop_name": "",
        "by_agent": "是",
        "agent_name": "",
        "staff_count": "三",
        "applicant_name": "冒名顶替",
    }
    r = client.post(f"/apply/{w.ids['impl']}", data=data)
    assert r.status_code == 422
    page = r.text
    assert "有 5 处需要修改" in page
    for field, msg in (
        ("phone", "手机号码应为 11 位数字"),
        ("shop_name", "请填写店铺名称"),
        ("agent_name", "请填写代理人姓名"),
        ("staff_count", "应为整数"),
        ("agree", "请勾选我承诺所填信息真实"),
    ):
        assert re.search(rf'id="fld-{field}-error">[^<]*{msg}', page), field
    assert (
        'aria-invalid="true"' in page and f'value="{w.names["alice"]}" readonly' in page
    )  # identity enforced
    assert "冒名顶替" not in page
    assert 'value="三"' in page  # what was typed comes back


async def test_valid_post_without_cases_module_says_nothing_was_filed(w: CatWorld, client) -> None:
    apply_pages.register_submit_hook(None)
    page_login(client, "calice")
    html = client.get(f"/apply/{w.ids['impl']}").text
    data = {
        "csrf_token": _csrf(html),
        "_key": _hidden(html, "_key"),
        "phone": "13800138000",
        "shop_name": "泉城小店",
        "by_agent": "否",
        "agent_name": "不该出现",
        "agree": "1",
        "open_date": "2026-03-01",
    }
    r = client.post(f"/apply/{w.ids['impl']}", data=data)
    assert r.status_code == 200
    assert "尚未提交" in r.text and "没有生成办件" in r.text and "泉城小店" in r.text
    assert "不该出现" not in r.text and w.names["alice"] in r.text


async def test_submit_hook_receives_the_application(w: CatWorld, client, session) -> None:
    received: list[apply_pages.Application] = []

    async def hook(s, application: apply_pages.Application) -> str:
        received.append(application)
        return "/me?filed=1"

    apply_pages.register_submit_hook(hook)
    try:
        page_login(client, "calice")
        html = client.get(f"/apply/{w.ids['impl']}").text
        key = _hidden(html, "_key")
        data = {
            "csrf_token": _csrf(html),
            "_key": key,
            "phone": "13800138000",
            "shop_name": "小店",
            "by_agent": "否",
            "agree": "1",
        }
        r = client.post(f"/apply/{w.ids['impl']}", data=data, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/me?filed=1"
        (app,) = received
        assert (
            app.implementation_id == w.ids["impl"]
            and app.idempotency_key == key
            and app.enterprise_id is None
        )
        assert app.data["applicant_id_number"] == w.numbers["alice"] and app.data["agree"] is True
        assert app.applicant.person_id == w.ids["alice"] and app.channel == "pc"
        from tongban.catalogue.models import Implementation

        impl = await session.get(Implementation, w.ids["impl"])
        assert app.version_id == impl.published_version_id
    finally:
        apply_pages.register_submit_hook(None)


async def test_enterprise_services_ask_which_enterprise(w: CatWorld, client) -> None:
    page_login(client, "calice")
    r = client.get(f"/apply/{w.ids['ent_impl']}")
    assert "请选择代表办理的企业" in r.text and w.names["ent"] in r.text
    r = client.get(f"/apply/{w.ids['ent_impl']}?_as={w.ids['ent']}")
    assert (
        r.status_code == 200 and f'value="{w.names["ent"]}" readonly' in r.text and "代表" in r.text
    )
    assert client.get(f"/apply/{w.ids['ent_impl']}?_as={w.ids['bob_ent']}").status_code == 404
    assert client.get(f"/apply/{w.ids['ent_impl']}?_as=abc").status_code == 422


async def test_pages_that_are_not_the_form(w: CatWorld, client, session) -> None:
    await b.citizen(session, username="nobiz")
    await session.commit()
    page_login(client, "nobiz")
    assert "不能代表任何企业" in client.get(f"/apply/{w.ids['ent_impl']}").text
    assert "暂不支持网上申请" in client.get(f"/apply/{w.ids['offline']}").text
    assert client.get(f"/apply/{w.ids['draft_impl']}").status_code == 404
    assert client.get("/apply/99999999").status_code == 404
    assert client.get("/apply/abc").status_code == 422
    client.cookies.clear()
    page_login(client, "cclerk")
    r = client.get(f"/apply/{w.ids['impl']}")
    assert r.status_code == 403 and "综合窗口" in r.text


async def test_apply_post_needs_csrf(w: CatWorld, client, session) -> None:
    from tongban.catalogue.models import Implementation

    page_login(client, "calice")
    r = client.post(f"/apply/{w.ids['impl']}", data={"shop_name": "x"})
    assert r.status_code == 403
    assert (
        await session.execute(select(func.count()).select_from(Implementation))
    ).scalar_one() >= 1
