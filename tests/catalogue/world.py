"""A small catalogue world for the API, page and apply tests: administrators of
山东 (province) and 青岛市南 (another city), a department admin and a clerk of
历下, citizens, one published item with a published 历下 implementation whose
form has a conditional field, and an enterprise-only implementation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests import builders as b
from tests.catalogue.helpers import base_code, fields
from tongban.catalogue import forms, service
from tongban.catalogue.models import NATIONAL
from tongban.identity.service import actor_for_account

# A form with every kind of field: identity elements, a choice that reveals a
# field, a checkbox, a number, a date.
APPLY_FORM: dict[str, Any] = {
    "schema": {
        "type": "object",
        "properties": {
            "applicant_name": {**forms.DATA_ELEMENTS["person.name"], "title": "申请人姓名"},
            "applicant_id_number": {
                **forms.DATA_ELEMENTS["person.id_number"],
                "title": "公民身份号码",
            },
            "phone": {**forms.DATA_ELEMENTS["person.phone"], "title": "联系电话"},
            "shop_name": {"title": "店铺名称", "type": "string", "maxLength": 50},
            "by_agent": {"title": "是否委托代理人", "type": "string", "enum": ["是", "否"]},
            "agent_name": {"title": "代理人姓名", "type": "string", "maxLength": 20},
            "staff_count": {"title": "从业人员数", "type": "integer", "minimum": 1},
            "open_date": {"title": "开业日期", "type": "string", "format": "date"},
            "agree": {"title": "我承诺所填信息真实", "type": "boolean"},
        },
        "required": [
            "applicant_name",
            "applicant_id_number",
            "phone",
            "shop_name",
            "by_agent",
            "agent_name",
            "agree",
        ],
    },
    "ui": {
        "sections": [
            {"title": "申请人信息", "fields": ["applicant_name", "applicant_id_number", "phone"]},
            {
                "title": "经营信息",
                "fields": [
                    "shop_name",
                    "by_agent",
                    "agent_name",
                    "staff_count",
                    "open_date",
                    "agree",
                ],
            },
        ],
        "fields": {
            "applicant_name": {"widget": "text", "element": "person.name"},
            "applicant_id_number": {"widget": "text", "element": "person.id_number"},
            "phone": {"widget": "text", "element": "person.phone", "help": "用于接收办理进度短信"},
            "by_agent": {"widget": "radio"},
            "agent_name": {"widget": "text", "show_if": {"field": "by_agent", "equals": "是"}},
            "agree": {"widget": "checkbox"},
        },
    },
}


@dataclass
class CatWorld:
    ids: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)


async def build(s) -> CatWorld:
    w = CatWorld()
    await service.ensure_default_themes(s)
    province_admin = await b.staff(
        s, roles=["platform_admin"], region=b.SHANDONG, username="cadmin"
    )
    await b.staff(s, roles=["platform_admin"], region=b.QINGDAO_SHINAN, username="qadmin")
    lixia = await b.department(s, region=b.LIXIA, name="历下区市场监管局")
    other = await b.department(s, region=b.LIXIA, name="历下区民政局")
    qd = await b.department(s, region=b.QINGDAO_SHINAN, name="市南区市场监管局")
    health = await b.department(s, region=b.LIXIA, name="历下区卫生健康局")
    await b.staff(s, roles=["dept_admin"], region=b.LIXIA, dept=lixia, username="deptadmin")
    await b.staff(s, roles=["dept_admin"], region=b.LIXIA, dept=other, username="otherdept")
    await b.staff(s, roles=["clerk"], region=b.LIXIA, dept=lixia, username="cclerk")
    alice, _ = await b.citizen(s, username="calice")
    bob, _ = await b.citizen(s, username="cbob")
    ent = await b.enterprise(s, rep=alice)
    bob_ent = await b.enterprise(s, rep=bob)
    a = await actor_for_account(s, province_admin, via="session")
    item = await service.create_item(
        s, a, base_code=base_code(), fields=fields(service_objects=["1", "2"]), region_code=NATIONAL
    )
    await service.publish_item(s, a, item.id)
    impl = await service.create_implementation(
        s,
        a,
        item_id=item.id,
        department_id=lixia.id,
        form=APPLY_FORM,
        local={
            "address": "历下区政务服务中心 3 楼",
            "hours": "工作日 9:00-17:00",
            "phone": "0531-1234567",
        },
    )
    await service.publish_implementation(s, a, impl.id)
    ent_item = await service.create_item(
        s,
        a,
        base_code=base_code(),
        fields=fields(name="公共场所卫生许可", service_objects=["2"]),
        region_code=NATIONAL,
    )
    await service.publish_item(s, a, ent_item.id)
    ent_impl = await service.create_implementation(
        s, a, item_id=ent_item.id, department_id=lixia.id
    )
    await service.publish_implementation(s, a, ent_impl.id)
    offline_item = await service.create_item(
        s,
        a,
        base_code=base_code(),
        fields=fields(
            name="现场核验类许可",
            handling_forms=["1"],
            online_depth=1,
            visits=1,
            visit_reason="须现场核验原件",
        ),
        region_code=NATIONAL,
    )
    await service.publish_item(s, a, offline_item.id)
    offline = await service.create_implementation(
        s, a, item_id=offline_item.id, department_id=lixia.id
    )
    await service.publish_implementation(s, a, offline.id)
    qd_impl = await service.create_implementation(s, a, item_id=item.id, department_id=qd.id)
    draft_impl = await service.create_implementation(s, a, item_id=item.id, department_id=other.id)
    city_item = await service.create_item(
        s,
        a,
        base_code=base_code(scope="37"),
        fields=fields(name="济南市级特色事项"),
        region_code=b.JINAN,
    )
    await s.commit()
    w.ids = {
        "item": item.id,
        "impl": impl.id,
        "ent_item": ent_item.id,
        "ent_impl": ent_impl.id,
        "offline": offline.id,
        "qd_impl": qd_impl.id,
        "draft_impl": draft_impl.id,
        "city_item": city_item.id,
        "lixia": lixia.id,
        "other": other.id,
        "qd": qd.id,
        "health": health.id,
        "ent": ent.id,
        "bob_ent": bob_ent.id,
        "alice": alice.id,
    }
    w.names = {"alice": alice.name, "ent": ent.name}
    w.numbers = {"alice": alice.id_number, "alice_phone": alice.phone or ""}
    return w
