"""Shared by the case workloads (``submit``, ``worklist``): published
implementations to file cases under, and the demo citizens' identities.

Not a workload (modules starting with ``_`` are skipped by the registry).
``publish(ctx)`` runs this file as a script with the run's environment, so
the catalogue is built through the product's own services
(``tongban.catalogue.service``: create and publish a base item, derive and
publish implementations) against the run's database, before the server starts.
It does not depend on a demo catalogue: it creates its own items, with
base codes in a range of their own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# -- what is created ------------------------------------------------------------

# (item name, item type, promised limit in working days, department kind)
ITEMS = [
    ("公共场所卫生许可", "01", 10, "卫生健康"),
    ("食品经营许可", "01", 10, "市场监管"),
    ("建筑工程施工许可", "01", 7, "住建"),
    ("道路运输经营许可", "01", 15, "交通运输"),
]
REGIONS = [
    "370102000000",
    "370103000000",
    "370100000000",
    "370000000000",
]  # 历下区, 市中区, 济南市, 山东省
SUBMIT_REGION, SUBMIT_KIND = "370102000000", "卫生健康"  # the implementation ``submit`` files under

# The application form of the implementations: 18 fields in 4 sections, with
# formats (resident id, phone, date, email), enums, integers, a boolean and a
# conditional field — what validate_submission checks on every submission.
FORM: dict[str, Any] = {
    "schema": {
        "type": "object",
        "properties": {
            "applicant_name": {"title": "申请人姓名", "type": "string", "maxLength": 50},
            "applicant_id_number": {
                "title": "申请人公民身份号码",
                "type": "string",
                "format": "resident_id",
            },
            "phone": {"title": "联系电话", "type": "string", "format": "phone"},
            "email": {"title": "电子邮箱", "type": "string", "format": "email", "maxLength": 100},
            "household_address": {"title": "户籍地址", "type": "string", "maxLength": 200},
            "address": {"title": "联系地址", "type": "string", "maxLength": 200},
            "shop_name": {"title": "经营场所名称", "type": "string", "maxLength": 100},
            "business_address": {"title": "经营场所地址", "type": "string", "maxLength": 200},
            "venue_kind": {
                "title": "场所类别",
                "type": "string",
                "enum": [
                    "住宿场所",
                    "沐浴场所",
                    "美容美发场所",
                    "文化娱乐场所",
                    "商场（店）",
                    "其他",
                ],
            },
            "business_area": {
                "title": "经营面积（平方米）",
                "type": "integer",
                "minimum": 1,
                "maximum": 100000,
            },
            "employees": {"title": "从业人员数", "type": "integer", "minimum": 1, "maximum": 10000},
            "certified_employees": {
                "title": "持健康合格证明人数",
                "type": "integer",
                "minimum": 0,
                "maximum": 10000,
            },
            "open_date": {"title": "拟开业日期", "type": "string", "format": "date"},
            "facilities": {"title": "卫生设施情况", "type": "string", "maxLength": 1000},
            "management": {"title": "卫生管理制度", "type": "string", "maxLength": 1000},
            "has_previous_licence": {"title": "曾取得卫生许可证", "type": "boolean"},
            "previous_licence_no": {"title": "原许可证编号", "type": "string", "maxLength": 40},
            "remark": {"title": "申请说明", "type": "string", "maxLength": 1000},
        },
        "required": [
            "applicant_name",
            "applicant_id_number",
            "phone",
            "address",
            "shop_name",
            "business_address",
            "venue_kind",
            "business_area",
            "employees",
            "facilities",
            "previous_licence_no",
        ],
    },
    "ui": {
        "sections": [
            {
                "title": "申请人信息",
                "fields": [
                    "applicant_name",
                    "applicant_id_number",
                    "phone",
                    "email",
                    "household_address",
                    "address",
                ],
            },
            {
                "title": "经营场所",
                "fields": [
                    "shop_name",
                    "business_address",
                    "venue_kind",
                    "business_area",
                    "open_date",
                ],
            },
            {
                "title": "人员与卫生条件",
                "fields": ["employees", "certified_employees", "facilities", "management"],
            },
            {"title": "其他", "fields": ["has_previous_licence", "previous_licence_no", "remark"]},
        ],
        "fields": {
            "applicant_name": {"widget": "text", "element": "person.name"},
            "applicant_id_number": {"widget": "text", "element": "person.id_number"},
            "phone": {"widget": "text", "element": "person.phone", "help": "用于接收办理进度短信"},
            "email": {"widget": "text", "element": "email"},
            "household_address": {"widget": "text", "element": "person.household_address"},
            "address": {"widget": "text", "element": "address"},
            "venue_kind": {"widget": "select"},
            "business_area": {"widget": "number"},
            "employees": {"widget": "number"},
            "certified_employees": {"widget": "number"},
            "open_date": {"widget": "date"},
            "facilities": {"widget": "textarea"},
            "management": {"widget": "textarea"},
            "has_previous_licence": {"widget": "checkbox"},
            "previous_licence_no": {
                "widget": "text",
                "show_if": {"field": "has_previous_licence", "equals": True},
            },
            "remark": {"widget": "textarea"},
        },
    },
}


def form_data(person: dict[str, Any], n: int = 0) -> dict[str, Any]:
    """A filled form (~1.5 KB of JSON, mostly Chinese) for ``person``."""
    return {
        "applicant_name": person["name"],
        "applicant_id_number": person["id_number"],
        "phone": person["phone"],
        "email": f"applicant{person['person_id']}@example.cn",
        "household_address": "山东省济南市历下区泉城路街道芙蓉街社区芙蓉街 68 号 2 单元 301 室",
        "address": "山东省济南市历下区解放路街道文化东路 59 号盛福花园 8 号楼 1 单元 502 室",
        "shop_name": f"济南泉城{n % 97:02d}号美容美发店",
        "business_address": "山东省济南市历下区泉城路 180 号齐鲁国际大厦一层 105 商铺",
        "venue_kind": "美容美发场所",
        "business_area": 120 + n % 50,
        "employees": 8,
        "certified_employees": 8,
        "open_date": "2026-12-01",
        "facilities": (
            "经营场所面积 120 平方米，设有独立的消毒间（8 平方米），配备紫外线消毒柜两台、"
            "毛巾专用洗涤池及清洗消毒设备；美发区与美容区分开设置，设有机械通风装置，"
            "新风量不低于每人每小时 30 立方米；公共用品用具按规定清洗消毒、分类存放，"
            "设置废弃物密闭存放容器；从业人员更衣室与顾客休息区分设。"
        ),
        "management": (
            "建立卫生管理制度和岗位责任制，设专职卫生管理员一名；从业人员每年进行健康检查，"
            "取得健康合格证明后方可上岗，并每两年接受卫生知识培训；公共用品用具一客一换一消毒，"
            "建立消毒登记台账；定期委托有资质的检测机构对空气、公共用品用具进行卫生检测，并公示检测结果。"
        ),
        "has_previous_licence": False,
        "remark": "本人承诺所填写内容及提交的材料真实、合法、有效，如有虚假愿意承担相应法律责任。",
    }


def publish(ctx: Any) -> dict[str, Any]:
    """Create and publish the items and implementations through the
    catalogue services (run as a script in the run's environment); returns
    ``{"implementations": [...], "citizens": {username: {...}}, "clerks": {username: {...}}}`` and keeps
    it in ``ctx.state["cases"]``."""
    if "cases" not in ctx.state:
        ctx.state["cases"] = ctx.run_script(__file__, "publishing the bench catalogue")
    return ctx.state["cases"]


# -- the script (runs with the run's TONGBAN_* environment) ----------------------


async def _setup(out: Path) -> None:
    from sqlalchemy import select

    from tongban.catalogue import service as catalogue
    from tongban.catalogue.models import NATIONAL, CatalogueItem
    from tongban.core.db import create_engine, make_sessionmaker, session_scope
    from tongban.identity.models import Account, Person
    from tongban.identity.service import actor_for_account
    from tongban.regions.models import Department

    engine = create_engine()
    maker = make_sessionmaker(engine)
    result: dict[str, Any] = {"implementations": [], "citizens": {}}
    try:
        async with session_scope(maker) as s:
            admin = (
                await s.execute(select(Account).where(Account.username == "admin"))
            ).scalar_one()
            actor = await actor_for_account(s, admin, via="session")
            depts = {
                (d.region_code, d.kind): d for d in (await s.execute(select(Department))).scalars()
            }
            for n, (name, item_type, days, kind) in enumerate(ITEMS, start=1):
                base_code = f"37{item_type}{90000 + n:05d}000"
                item = (
                    await s.execute(
                        select(CatalogueItem).where(CatalogueItem.base_code == base_code)
                    )
                ).scalar_one_or_none()
                if item is None:
                    item = await catalogue.create_item(
                        s,
                        actor,
                        base_code=base_code,
                        fields=_item_fields(name, item_type, days),
                        region_code=NATIONAL,
                    )
                    await catalogue.publish_item(s, actor, item.id)
                for region in REGIONS:
                    dept = depts[(region, kind)]
                    impl = await catalogue.create_implementation(
                        s,
                        actor,
                        item_id=item.id,
                        department_id=dept.id,
                        form=FORM,
                        local={
                            "address": "政务服务中心 3 楼",
                            "hours": "工作日 9:00-17:00",
                            "phone": "0531-12345678",
                        },
                    )
                    await catalogue.publish_implementation(s, actor, impl.id)
                    result["implementations"].append(
                        {
                            "id": impl.id,
                            "name": name,
                            "region_code": region,
                            "department_id": dept.id,
                            "version_id": impl.published_version_id,
                            "department_kind": kind,
                            "submit": region == SUBMIT_REGION and kind == SUBMIT_KIND,
                        }
                    )
        async with maker() as s:
            rows = await s.execute(
                select(
                    Account.username,
                    Account.id,
                    Person.id,
                    Person.name,
                    Person.id_number,
                    Person.phone,
                )
                .join(Person, Person.id == Account.person_id)
                .where(Account.kind == "person")
            )
            for username, account_id, person_id, name, id_number, phone in rows:
                result["citizens"][username] = {
                    "account_id": account_id,
                    "person_id": person_id,
                    "name": name,
                    "id_number": id_number,
                    "phone": phone,
                }
            result["clerks"] = {
                a.username: {"account_id": a.id, "region_code": a.region_code}
                for a in (
                    await s.execute(select(Account).where(Account.username.like("clerk.%")))
                ).scalars()
            }
    finally:
        await engine.dispose()
    out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


def _item_fields(name: str, item_type: str, days: int) -> dict[str, Any]:
    return {
        "name": name,
        "item_type": item_type,
        "legal_basis": [{"title": "《公共场所卫生管理条例》", "article": "第八条"}],
        "levels": ["4"],
        "service_objects": ["1"],
        "summary": f"{name}：申请人依法提出申请，行政机关依法审查，符合条件的准予许可。",
        "conditions": "具有与经营项目相适应的场所、设施和卫生管理制度。",
        "materials": [
            {"name": f"{name}申请书", "issuer": "申请人自备", "originals": 1, "required": True},
            {"name": "经营场所平面图", "issuer": "申请人自备", "copies": 1, "required": True},
        ],
        "statutory_limit": {"value": 20, "unit": "working_day"},
        "promised_limit": {"value": days, "unit": "working_day"},
        "case_type": "2",
        "handling_forms": ["1", "2", "3"],
        "visits": 0,
        "online_depth": 4,
        "consult_phone": "0531-12345",
        "supervise_phone": "12345",
        "result": {"kind": "licence", "name": f"{name}证", "licence_type_code": None},
        "themes": ["permit"],
    }


if __name__ == "__main__":
    import asyncio

    asyncio.run(_setup(Path(sys.argv[1])))
