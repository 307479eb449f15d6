"""The demo province's licence catalogue (证照目录): one licence type per
licence the demo catalogue names (``catalogue.demo_catalogue.LICENCES``), so
an approved demo case issues its licence. Idempotent.

The issuing departments of a type are the departments whose published
implementation entries give it as their result; the data fields are the ones
every approved case can fill (holder, item, case number, decision date).
Seals are made on first issuance (``service.active_seal``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.catalogue.models import Implementation, ImplementationVersion
from tongban.identity.access import SYSTEM
from tongban.licences import service
from tongban.licences.schemas import LicenceTypeCreate

ENTERPRISE_TYPES = {
    "营业执照",
    "食品经营许可证",
    "公共场所卫生许可证",
    "建设工程规划许可证",
    "建筑工程施工许可证",
}
VALIDITY_YEARS = {
    "食品经营许可证": 5,
    "公共场所卫生许可证": 4,
    "机动车驾驶证": 6,
    "建筑工程施工许可证": 3,
    "社会保障卡": 10,
}
DEFINING_BODIES = {
    "营业执照": "国家市场监督管理总局",
    "食品经营许可证": "国家市场监督管理总局",
    "出生医学证明": "国家卫生健康委员会",
    "结婚证": "民政部",
    "机动车驾驶证": "公安部",
    "公共场所卫生许可证": "国家卫生健康委员会",
}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "holder": {"type": "string", "title": "持证主体"},
        "item": {"type": "string", "title": "许可（办理）事项"},
        "case_number": {"type": "string", "title": "办件编号"},
        "decided_on": {"type": "string", "title": "决定日期"},
    },
    "required": ["holder"],
}
CASE_FIELDS = {
    "holder": "holder.name",
    "item": "case.item_name",
    "case_number": "case.number",
    "decided_on": "case.concluded_on",
}


async def load_demo_licence_types(session: AsyncSession) -> int:
    """Register the demo licence types that are missing; return how many were added."""
    from tongban.catalogue.demo_catalogue import LICENCES

    issuers: dict[str, set[int]] = {}
    rows = await session.execute(
        select(Implementation.department_id, ImplementationVersion.fields).join(
            ImplementationVersion, ImplementationVersion.id == Implementation.published_version_id
        )
    )
    for dept_id, fields in rows:
        code = ((fields or {}).get("result") or {}).get("licence_type_code")
        if code:
            issuers.setdefault(code, set()).add(dept_id)
    added = 0
    for name, code in LICENCES.items():
        if await service.get_type_by_code(session, code) is not None:
            continue
        await service.create_type(
            session,
            SYSTEM,
            LicenceTypeCreate(
                code=code,
                name=name,
                defining_body=DEFINING_BODIES.get(name, ""),
                holder_kind="enterprise" if name in ENTERPRISE_TYPES else "person",
                issuing_department_ids=sorted(issuers.get(code, ())),
                field_schema=SCHEMA,
                validity_years=VALIDITY_YEARS.get(name),
                template={
                    "fields": list(SCHEMA["properties"]),
                    "case_fields": CASE_FIELDS,
                    "qr_fields": ["item"],
                },
                reminder_days=[90, 30, 7] if name in VALIDITY_YEARS else [],
            ),
        )
        added += 1
    return added
