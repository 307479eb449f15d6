"""Catalogue JSON API through the front door: items and implementation entries,
versions, publishing, immutability, change logs, validation errors, scope."""

from __future__ import annotations

import pytest

from tests import builders as b
from tests.catalogue.helpers import base_code, fields
from tests.catalogue.world import APPLY_FORM, CatWorld, build

API = "/api/v1/catalogue"


@pytest.fixture
async def w(session) -> CatWorld:
    return await build(session)


def signin(client, username: str) -> dict[str, str]:
    """Sign in through the API; the CSRF header for cookie-authenticated POSTs without a JSON body."""
    client.cookies.clear()
    return {"X-CSRF-Token": b.login(client, username)["csrf_token"]}


def chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# --- base items -----------------------------------------------------------------------------------


async def test_item_create_edit_publish_and_versions(w: CatWorld, client) -> None:
    h = signin(client, "cadmin")
    code = base_code()
    r = client.post(
        f"{API}/items",
        json={"base_code": code, "fields": fields(name="餐饮服务许可"), "note": "新增"},
    )
    assert r.status_code == 201, r.text
    item = r.json()
    assert (
        item["status"] == "draft"
        and item["current_version"] == 1
        and item["published_version"] is None
    )
    assert (
        item["version"]["fields"]["name"] == "餐饮服务许可"
        and item["item_type_label"] == "行政许可"
    )
    iid = item["id"]
    # editing a draft keeps the one draft
    r = client.put(
        f"{API}/items/{iid}", json={"fields": fields(name="餐饮服务许可证核发"), "note": "改名"}
    )
    assert r.status_code == 200 and r.json()["current_version"] == 1
    r = client.post(f"{API}/items/{iid}/publish", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "published" and r.json()["published_version"] == 1
    assert (
        client.post(f"{API}/items/{iid}/publish", headers=h).json()["code"] == "nothing_to_publish"
    )
    # editing the published version opens version 2; version 1 stays as it was
    r = client.put(
        f"{API}/items/{iid}",
        json={
            "fields": fields(
                name="餐饮服务许可证核发", promised_limit={"value": 5, "unit": "working_day"}
            )
        },
    )
    assert r.json()["current_version"] == 2 and r.json()["has_draft"]
    v1 = client.get(f"{API}/items/{iid}/versions/1").json()
    assert v1["status"] == "published" and v1["fields"]["promised_limit"]["value"] == 10
    assert (
        client.get(f"{API}/items/{iid}/versions/2").json()["fields"]["promised_limit"]["value"] == 5
    )
    client.post(f"{API}/items/{iid}/publish", headers=h)
    versions = client.get(f"{API}/items/{iid}/versions").json()
    assert [(v["version"], v["status"]) for v in versions] == [(2, "published"), (1, "superseded")]
    changes = client.get(f"{API}/items/{iid}/changes").json()["items"]
    assert [c["action"] for c in changes] == ["publish", "edit", "publish", "edit", "create"]
    assert changes[1]["changed"] == ["promised_limit"] and changes[1]["action_label"] == "修改草稿"
    assert changes[0]["actor_name"].startswith("工作人员")


async def test_published_versions_cannot_be_changed_through_the_api(w: CatWorld, client) -> None:
    signin(client, "cadmin")
    iid = w.ids["item"]
    before = client.get(f"{API}/items/{iid}/versions/1").json()
    for method in ("put", "patch", "delete"):
        r = getattr(client, method)(
            f"{API}/items/{iid}/versions/1",
            **({"json": {"fields": fields(name="改掉")}} if method != "delete" else {}),
        )
        assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    r = client.put(f"{API}/items/{iid}", json={"fields": before["fields"]})
    assert r.status_code == 422 and r.json()["code"] == "no_changes"
    client.put(f"{API}/items/{iid}", json={"fields": {**before["fields"], "summary": "新的简介"}})
    after = client.get(f"{API}/items/{iid}/versions/1").json()
    assert after["fields"] == before["fields"] and after["content_hash"] == before["content_hash"]
    r = client.put(f"{API}/implementations/{w.ids['impl']}", json={"local": {"address": "新地址"}})
    assert r.json()["current_version"] == 2
    v1 = client.get(f"{API}/implementations/{w.ids['impl']}/versions/1").json()
    assert v1["local"]["address"] == "历下区政务服务中心 3 楼" and v1["status"] == "published"


async def test_retire_needs_a_reason_and_no_active_implementations(w: CatWorld, client) -> None:
    h = signin(client, "cadmin")
    r = client.post(f"{API}/items/{w.ids['item']}/retire", json={"reason": ""})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "reason"
    r = client.post(f"{API}/items/{w.ids['item']}/retire", json={"reason": "依法取消"})
    assert r.status_code == 409 and r.json()["code"] == "item_in_use"
    iid = client.post(f"{API}/items", json={"base_code": base_code(), "fields": fields()}).json()[
        "id"
    ]
    client.post(f"{API}/items/{iid}/publish", headers=h)
    r = client.post(f"{API}/items/{iid}/retire", json={"reason": "依法取消"})
    assert r.status_code == 200 and r.json()["status"] == "retired"
    assert (
        client.put(f"{API}/items/{iid}", json={"fields": fields(name="再改")}).json()["code"]
        == "item_retired"
    )


async def test_item_list_filters_and_keyset_pages(w: CatWorld, client) -> None:
    h = signin(client, "cadmin")
    made = []
    for n in range(7):
        r = client.post(
            f"{API}/items",
            json={
                "base_code": base_code("20"),
                "fields": fields(name=f"分页测试事项{n}", item_type="20"),
            },
        )
        made.append(r.json()["id"])
    client.post(f"{API}/items/{made[0]}/publish", headers=h)
    seen, after = [], None
    while True:
        page = client.get(
            f"{API}/items",
            params={"q": "分页测试", "limit": 3, **({"after": after} if after else {})},
        ).json()
        seen += [i["id"] for i in page["items"]]
        after = page["next_after"]
        if not after:
            break
    assert seen == made
    assert [
        i["id"]
        for i in client.get(f"{API}/items", params={"type": "20", "status": "published"}).json()[
            "items"
        ]
    ] == [made[0]]
    code = client.get(f"{API}/items/{made[3]}").json()["base_code"]
    assert [i["id"] for i in client.get(f"{API}/items", params={"q": code}).json()["items"]] == [
        made[3]
    ]
    assert [
        i["id"] for i in client.get(f"{API}/items", params={"q": code[:10].lower()}).json()["items"]
    ] == [made[3]]


# --- bad input: clear Chinese errors, never a 500 -------------------------------------------------------


async def test_bad_input_gets_field_errors_in_chinese(w: CatWorld, client) -> None:
    signin(client, "cadmin")
    r = client.post(
        f"{API}/items", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    for body in (
        {"base_code": base_code(), "fields": "文本"},
        {"base_code": base_code(), "fields": [1, 2]},
        {"base_code": 123456, "fields": fields()},
        {"base_code": base_code(), "fields": fields(), "extra": 1},
        {"base_code": base_code(), "fields": fields(), "region_code": "37"},
        [],
    ):
        r = client.post(f"{API}/items", json=body)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", (body, r.text)
        assert chinese(r.json()["message"])
    r = client.post(
        f"{API}/items",
        json={
            "base_code": base_code(),
            "fields": fields(visits=-1, service_objects=["8"], statutory_limit={"value": "二十"}),
        },
    )
    body = r.json()
    assert r.status_code == 422 and body["code"] == "item_fields_invalid"
    assert {"visits", "service_objects", "statutory_limit.value"} <= {
        d["field"] for d in body["details"]
    }
    assert all(chinese(d["message"]) for d in body["details"])
    r = client.post(f"{API}/items", json={"base_code": "3701", "fields": fields()})
    assert (
        r.status_code == 422
        and r.json()["code"] == "base_code_length"
        and r.json()["details"][0]["field"] == "base_code"
    )
    r = client.post(
        f"{API}/items", json={"base_code": base_code(), "fields": fields(name="含\u0000字符")}
    )
    assert r.status_code == 422
    r = client.post(
        f"{API}/items",
        json={"base_code": base_code(), "fields": fields(), "region_code": "379999999999"},
    )
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "region_code"
    taken = client.get(f"{API}/items/{w.ids['item']}").json()["base_code"]
    assert (
        client.post(f"{API}/items", json={"base_code": taken, "fields": fields()}).json()["code"]
        == "base_code_taken"
    )
    for path in (
        f"{API}/items/99999999",
        f"{API}/implementations/99999999",
        f"{API}/items/{w.ids['item']}/versions/99",
    ):
        r = client.get(path)
        assert r.status_code == 404 and chinese(r.json()["message"])
    for path in (
        f"{API}/items/99999999999999999999999",
        f"{API}/items/0",
        f"{API}/items/abc",
        f"{API}/items?limit=1000",
        f"{API}/items?status=unknown",
        f"{API}/implementations?region=37",
        f"{API}/items?q=" + "长" * 101,
    ):
        r = client.get(path)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", path
    assert client.get(f"{API}/items", params={"q": "\x00"}).status_code == 422


async def test_implementation_draft_validation(w: CatWorld, client) -> None:
    signin(client, "cadmin")
    impl = f"{API}/implementations/{w.ids['impl']}"
    r = client.put(impl, json={"local": {"address": "x" * 400}})
    assert (
        r.status_code == 422
        and r.json()["code"] == "local_fields_invalid"
        and r.json()["details"][0]["field"] == "address"
    )
    r = client.put(
        impl,
        json={"form": {"schema": {"type": "object", "properties": {"Bad Name": {"type": "list"}}}}},
    )
    body = r.json()
    assert r.status_code == 422 and body["code"] == "form_invalid"
    assert {d["field"] for d in body["details"]} == {"Bad Name"} and all(
        chinese(d["message"]) for d in body["details"]
    )
    for form in (
        {"schema": "x"},
        {
            "schema": {"type": "object", "properties": {"a": {"title": "甲", "type": ["string"]}}},
            "ui": {"fields": []},
        },
        {
            "schema": {"type": "object", "properties": {"a": {"title": "甲", "type": "string"}}},
            "ui": {"fields": {"a": "text"}},
        },
        {
            "schema": {
                "type": "object",
                "properties": {"a": {"title": "甲", "type": "string", "maxLength": -1}},
            }
        },
    ):
        r = client.put(impl, json={"form": form})
        assert r.status_code == 422 and r.json()["code"] in ("form_invalid", "validation_failed"), (
            form,
            r.text,
        )
    r = client.put(impl, json={"fields": {"name": "只有名称"}})
    assert r.status_code == 422 and {"item_type", "statutory_limit", "promised_limit"} <= {
        d["field"] for d in r.json()["details"]
    }


# --- implementation entries ----------------------------------------------------------------------------


async def test_implementation_lifecycle(w: CatWorld, client) -> None:
    h = signin(client, "cadmin")
    r = client.post(
        f"{API}/implementations",
        json={
            "item_id": w.ids["item"],
            "department_id": w.ids["other"],
            "overrides": {"promised_limit": {"value": 3, "unit": "working_day"}},
            "local": {"address": "民政局大厅"},
        },
    )
    # 历下区民政局 already has a draft entry for this item: same department + item = same code
    assert r.status_code == 409 and r.json()["code"] == "impl_code_taken"
    dept = w.ids["health"]
    r = client.post(
        f"{API}/implementations",
        json={
            "item_id": w.ids["item"],
            "department_id": dept,
            "overrides": {"promised_limit": {"value": 3, "unit": "working_day"}},
            "local": {"address": "新大厅"},
        },
    )
    assert r.status_code == 201, r.text
    impl = r.json()
    assert (
        impl["status"] == "draft"
        and impl["level"] == "4"
        and impl["version"]["fields"]["promised_limit"]["value"] == 3
    )
    assert impl["version"]["form"]["schema"]["properties"]
    url = f"{API}/implementations/{impl['id']}"
    r = client.put(url, json={"form": APPLY_FORM, "note": "表单"})
    assert (
        r.status_code == 200
        and r.json()["version"]["form"]["ui"]["fields"]["agent_name"]["show_if"]["field"]
        == "by_agent"
    )
    assert client.post(f"{url}/publish", headers=h).json()["status"] == "published"
    assert client.get(url).json()["online_status"] == "done"
    r = client.put(f"{url}/online", json={"status": "cannot", "reason": "需现场核验原件"})
    assert r.json()["online_status"] == "cannot" and r.json()["online_override"]
    assert client.put(f"{url}/online", json={"status": "maybe", "reason": "x"}).status_code == 422
    assert client.delete(f"{url}/online").json()["online_status"] == "done"
    listed = client.get(
        f"{API}/implementations", params={"department": dept, "online": "done"}
    ).json()["items"]
    assert [i["id"] for i in listed] == [impl["id"]]
    changes = client.get(f"{url}/changes").json()["items"]
    assert [c["action"] for c in changes] == ["online", "online", "publish", "form", "create"]
    assert client.post(f"{url}/retire", json={"reason": "职能调整"}).json()["status"] == "retired"
    assert (
        client.put(url, json={"local": {"address": "x"}}).json()["code"] == "implementation_retired"
    )


async def test_filters_by_region_subtree_and_status(w: CatWorld, client) -> None:
    signin(client, "cadmin")

    def ids(**p: str | int) -> set[int]:
        items = client.get(f"{API}/implementations", params={"limit": 100, **p}).json()["items"]
        return {i["id"] for i in items}

    assert {w.ids["impl"], w.ids["qd_impl"], w.ids["draft_impl"]} <= ids()
    assert w.ids["qd_impl"] not in ids(region=b.JINAN) and w.ids["impl"] in ids(region=b.JINAN)
    assert ids(status="draft") == {w.ids["qd_impl"], w.ids["draft_impl"]}
    assert ids(item=w.ids["ent_item"]) == {w.ids["ent_impl"]}
    assert ids(q="公共场所") == {w.ids["ent_impl"]}


# --- scope ----------------------------------------------------------------------------------------


async def test_out_of_scope_ids_are_not_found(w: CatWorld, client) -> None:
    h = signin(client, "qadmin")  # 青岛市南: another city
    impl = f"{API}/implementations/{w.ids['impl']}"
    for r in (
        client.get(impl),
        client.get(f"{impl}/versions"),
        client.get(f"{impl}/versions/1"),
        client.get(f"{impl}/changes"),
        client.put(impl, json={"local": {"address": "x"}}),
        client.post(f"{impl}/publish", headers=h),
        client.post(f"{impl}/retire", json={"reason": "越权"}),
        client.put(f"{impl}/online", json={"status": "done", "reason": "越权操作"}),
        client.get(f"{API}/items/{w.ids['city_item']}"),
        client.put(f"{API}/items/{w.ids['city_item']}", json={"fields": fields()}),
        client.post(
            f"{API}/implementations",
            json={"item_id": w.ids["item"], "department_id": w.ids["lixia"]},
        ),
    ):
        assert r.status_code == 404 and r.json()["code"] == "not_found", r.text
    listed = {
        i["id"] for i in client.get(f"{API}/implementations", params={"limit": 100}).json()["items"]
    }
    assert listed == {w.ids["qd_impl"]}
    assert (
        client.get(f"{API}/items/{w.ids['item']}").status_code == 200
    )  # national items: every office reads them
    # in scope but not allowed: a city admin may not edit a national item
    assert (
        client.put(f"{API}/items/{w.ids['item']}", json={"fields": fields(name="改")}).json()[
            "code"
        ]
        == "catalogue_forbidden"
    )


async def test_department_roles(w: CatWorld, client) -> None:
    signin(client, "deptadmin")
    listed = {
        i["id"] for i in client.get(f"{API}/implementations", params={"limit": 100}).json()["items"]
    }
    assert listed == {w.ids["impl"], w.ids["ent_impl"], w.ids["offline"]}
    r = client.put(
        f"{API}/implementations/{w.ids['impl']}", json={"local": {"address": "本部门改的地址"}}
    )
    assert r.status_code == 200 and r.json()["version"]["local"]["address"] == "本部门改的地址"
    assert (
        client.get(f"{API}/implementations/{w.ids['draft_impl']}").status_code == 404
    )  # another department
    r = client.post(
        f"{API}/implementations", json={"item_id": w.ids["item"], "department_id": w.ids["other"]}
    )
    assert r.status_code == 404
    signin(client, "cclerk")  # a window clerk reads the whole district, writes nothing
    assert client.get(f"{API}/implementations/{w.ids['draft_impl']}").status_code == 200
    r = client.put(f"{API}/implementations/{w.ids['impl']}", json={"local": {"address": "x"}})
    assert r.status_code == 403 and r.json()["code"] == "catalogue_forbidden"


async def test_visitors_read_published_only(w: CatWorld, client) -> None:
    listed = {
        i["id"] for i in client.get(f"{API}/implementations", params={"limit": 100}).json()["items"]
    }
    assert listed == {w.ids["impl"], w.ids["ent_impl"], w.ids["offline"]}
    assert client.get(f"{API}/implementations/{w.ids['draft_impl']}").status_code == 404
    assert client.get(f"{API}/items/{w.ids['city_item']}").status_code == 404  # a draft item
    detail = client.get(f"{API}/implementations/{w.ids['impl']}").json()
    assert [v["version"] for v in detail["versions"]] == [1]
    signin(client, "cadmin")
    client.put(f"{API}/implementations/{w.ids['impl']}", json={"local": {"address": "草稿地址"}})
    client.cookies.clear()
    detail = client.get(f"{API}/implementations/{w.ids['impl']}").json()
    assert detail["version"]["version"] == 1 and detail["version"]["local"]["address"] != "草稿地址"
    assert client.get(f"{API}/implementations/{w.ids['impl']}/versions/2").status_code == 404
    assert client.get(f"{API}/implementations/{w.ids['impl']}/changes").status_code == 401
    assert (
        client.post(f"{API}/items", json={"base_code": base_code(), "fields": fields()}).status_code
        == 401
    )
    signin(client, "calice")
    assert client.get(f"{API}/implementations/{w.ids['impl']}/changes").status_code == 403
    assert (
        client.post(f"{API}/items", json={"base_code": base_code(), "fields": fields()}).json()[
            "code"
        ]
        == "catalogue_forbidden"
    )


# --- the application form ---------------------------------------------------------------------------


async def test_form_with_prefill_for_the_applicant(w: CatWorld, client) -> None:
    signin(client, "calice")
    r = client.get(f"{API}/implementations/{w.ids['impl']}/form")
    body = r.json()
    assert r.status_code == 200 and body["version"] == 1
    assert body["prefill"]["applicant_name"] == w.names["alice"]
    assert body["prefill"]["applicant_id_number"] == w.numbers["alice"]
    assert body["prefill"]["phone"] == w.numbers["alice_phone"]
    assert set(body["locked"]) == {"applicant_name", "applicant_id_number"}
    assert [s["title"] for s in body["sections"]] == ["申请人信息", "经营信息"]
    r = client.get(
        f"{API}/implementations/{w.ids['ent_impl']}/form", params={"enterprise_id": w.ids["ent"]}
    )
    assert r.json()["prefill"]["enterprise_name"] == w.names["ent"]
    assert (
        client.get(
            f"{API}/implementations/{w.ids['ent_impl']}/form",
            params={"enterprise_id": w.ids["bob_ent"]},
        ).status_code
        == 404
    )
    assert client.get(f"{API}/implementations/{w.ids['draft_impl']}/form").status_code == 404
    check = f"{API}/implementations/{w.ids['impl']}/form/check"
    r = client.post(
        check,
        json={
            "data": {
                "phone": "123",
                "shop_name": "小店",
                "by_agent": "否",
                "agree": True,
                "applicant_name": "冒名",
            }
        },
    )
    body = r.json()
    assert body["valid"] is False and [e["field"] for e in body["errors"]] == ["phone"]
    assert "agent_name" not in {e["field"] for e in body["errors"]}  # hidden: not required
    r = client.post(
        check,
        json={
            "data": {
                "phone": "13800138000",
                "shop_name": "小店",
                "by_agent": "否",
                "agent_name": "丢掉",
                "agree": True,
            }
        },
    )
    body = r.json()
    assert (
        body["valid"]
        and "agent_name" not in body["data"]
        and body["data"]["applicant_name"] == w.names["alice"]
    )
    assert client.post(check, json={"data": "x"}).status_code == 422
    client.cookies.clear()
    assert client.get(f"{API}/implementations/{w.ids['impl']}/form").status_code == 401
