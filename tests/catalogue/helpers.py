"""Catalogue test data built through the catalogue service."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests import builders
from tongban.catalogue import service
from tongban.catalogue.models import NATIONAL, CatalogueItem, Implementation
from tongban.identity.access import Actor
from tongban.identity.service import actor_for_account

_main = itertools.count(1)


def fields(name: str = "食品经营许可", item_type: str = "01", **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": name,
        "item_type": item_type,
        "legal_basis": [{"title": "《中华人民共和国食品安全法》", "article": "第三十五条"}],
        "levels": ["4"],
        "service_objects": ["2"],
        "summary": "从事食品销售和餐饮服务，应当依法取得食品经营许可。",
        "conditions": "具有与经营的食品品种、数量相适应的经营场所。",
        "materials": [
            {
                "name": "食品经营许可申请书",
                "issuer": "申请人自备",
                "originals": 1,
                "required": True,
            },
            {
                "name": "营业执照",
                "issuer": "市场监管部门",
                "copies": 1,
                "required": True,
                "licence_type_code": None,
            },
        ],
        "statutory_limit": {"value": 20, "unit": "working_day"},
        "promised_limit": {"value": 10, "unit": "working_day"},
        "case_type": "2",
        "handling_forms": ["1", "2", "3"],
        "visits": 0,
        "online_depth": 4,
        "consult_phone": "0531-12345",
        "supervise_phone": "12345",
        "result": {
            "kind": "licence",
            "name": "食品经营许可证",
            "licence_type_code": "113700000000000000001",
        },
        "themes": ["permit"],
    }
    doc.update(over)
    return doc


def base_code(item_type: str = "01", scope: str = "37") -> str:
    return f"{scope}{item_type}{next(_main):05d}000"


async def admin(s: AsyncSession, region: str = builders.SHANDONG) -> Actor:
    acc = await builders.staff(s, roles=["platform_admin"], region=region)
    return await actor_for_account(s, acc, via="session")


async def published_item(s: AsyncSession, actor: Actor, **over: Any) -> CatalogueItem:
    item_type = over.get("item_type", "01")
    item = await service.create_item(
        s, actor, base_code=base_code(item_type), fields=fields(**over), region_code=NATIONAL
    )
    await service.publish_item(s, actor, item.id)
    return item


async def published_impl(
    s: AsyncSession,
    actor: Actor,
    item: CatalogueItem,
    *,
    region: str = builders.LIXIA,
    overrides: dict | None = None,
    local: dict | None = None,
) -> Implementation:
    dept = await builders.department(s, region=region)
    impl = await service.create_implementation(
        s,
        actor,
        item_id=item.id,
        department_id=dept.id,
        overrides=overrides,
        local=local
        or {
            "address": "历下区政务服务中心 3 楼",
            "hours": "工作日 9:00-17:00",
            "phone": "0531-1234567",
        },
    )
    await service.publish_implementation(s, actor, impl.id)
    return impl
