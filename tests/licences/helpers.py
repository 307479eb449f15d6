"""Licence test data, built through the services."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests import builders
from tongban.core.identifiers import make_credit_code
from tongban.identity.access import Actor
from tongban.identity.models import Account, Person
from tongban.identity.service import actor_for_account
from tongban.licences import service
from tongban.licences.schemas import LicenceTypeCreate
from tongban.regions.models import Department

_n = itertools.count(1)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "business_name": {"type": "string", "title": "经营者名称", "maxLength": 100},
        "address": {"type": "string", "title": "经营场所", "maxLength": 200},
        "scope": {"type": "string", "title": "经营项目"},
    },
    "required": ["business_name", "address"],
}


def type_code() -> str:
    return make_credit_code(f"11100000MB{next(_n) + 5000:07d}") + "001"


@dataclass
class World:
    dept: Department
    approver: Actor
    head: Actor
    clerk: Actor
    admin: Actor
    person: Person
    citizen_acc: Account
    citizen: Actor
    type_code: str


async def world(
    s: AsyncSession,
    *,
    algorithm: str = "ed25519",
    holder_kind: str = "person",
    years: int | None = 5,
) -> World:
    admin_acc = await builders.staff(s, roles=["platform_admin"], region=builders.SHANDONG)
    admin = await actor_for_account(s, admin_acc, via="session")
    dept = await builders.department(s, name=f"历下区市场监督管理局{next(_n)}")
    approver = await actor_for_account(
        s, await builders.staff(s, roles=["approver"], dept=dept), via="session"
    )
    head = await actor_for_account(
        s, await builders.staff(s, roles=["dept_admin"], dept=dept), via="session"
    )
    clerk = await actor_for_account(
        s, await builders.staff(s, roles=["clerk"], dept=dept), via="session"
    )
    person, acc = await builders.citizen(s)
    citizen = await actor_for_account(s, acc, via="session")
    code = type_code()
    await service.create_type(
        s,
        admin,
        LicenceTypeCreate(
            code=code,
            name="食品经营许可证",
            defining_body="国家市场监督管理总局",
            holder_kind=holder_kind,
            issuing_department_ids=[dept.id],
            field_schema=SCHEMA,
            validity_years=years,
            template={
                "fields": ["business_name", "address", "scope"],
                "qr_fields": ["business_name"],
            },
            reminder_days=[90, 30],
        ),
    )
    await service.create_seal(s, head, dept.id, algorithm=algorithm)
    return World(dept, approver, head, clerk, admin, person, acc, citizen, code)


DATA = {
    "business_name": "泉城小吃店",
    "address": "济南市历下区泉城路 1 号",
    "scope": "热食类食品制售",
}


async def issue(s: AsyncSession, w: World, **over: Any):
    kw: dict[str, Any] = {
        "type_code": w.type_code,
        "data": dict(DATA),
        "holder_person_id": w.person.id,
    }
    kw.update(over)
    return await service.issue(s, w.approver, **kw)
