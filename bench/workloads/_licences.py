"""Shared by the licence workloads (``verify``, ``import-licences``): a
district market-regulation department with a seal and the 食品经营许可证
licence type it issues, made through the licences service in the run's
database (called from their setup scripts).

Not a workload (modules starting with ``_`` are skipped by the registry).
"""

from __future__ import annotations

from typing import Any

REGION = "370102000000"  # 历下区

FIELD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "business_name": {"type": "string", "title": "经营者名称", "maxLength": 100},
        "address": {"type": "string", "title": "经营场所", "maxLength": 200},
        "scope": {"type": "string", "title": "经营项目"},
    },
    "required": ["business_name", "address"],
}


async def food_licence_issuer(s: Any, *, serial: int, label: str) -> tuple[Any, str]:
    """The department (credit code serial ``serial``, named with ``label``),
    its seal, and a 食品经营许可证 type it issues; returns (department, type code)."""
    from tongban.core.identifiers import make_credit_code
    from tongban.identity.access import SYSTEM
    from tongban.licences import service
    from tongban.licences.schemas import LicenceTypeCreate
    from tongban.regions.models import Department

    dept = Department(
        region_code=REGION,
        credit_code=make_credit_code(f"11370102MB{9000000 + serial:07d}"),
        name=f"历下区市场监督管理局（{label}）",
        short_name="区市场监管局",
        kind="市场监管",
    )
    s.add(dept)
    await s.flush()
    code = make_credit_code(f"11100000MB{9000000 + serial:07d}") + "001"
    await service.create_type(
        s,
        SYSTEM,
        LicenceTypeCreate(
            code=code,
            name="食品经营许可证",
            defining_body="国家市场监督管理总局",
            holder_kind="person",
            issuing_department_ids=[dept.id],
            validity_years=5,
            field_schema=FIELD_SCHEMA,
            template={"qr_fields": ["business_name"]},
        ),
    )
    await service.create_seal(s, SYSTEM, dept.id)
    return dept, code
