"""Published implementation entries (实施清单) as search documents (kind ``item``).

The search index (``tongban.search``) imports this module before its first
build; ``catalogue.published`` events (publish, retire) tell it to rebuild.
One statement, no ORM objects: at 100,000 entries this is the build's input.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.catalogue.models import CatalogueItem, Implementation, ImplementationVersion
from tongban.regions.models import Department
from tongban.search import SearchDocument, register_provider

_STMT = (
    select(
        Implementation.id,
        Implementation.impl_code,
        Implementation.name,
        Implementation.region_code,
        Implementation.online_status,
        Department.name,
        CatalogueItem.base_code,
        ImplementationVersion.fields,
    )
    .join(Department, Department.id == Implementation.department_id)
    .join(CatalogueItem, CatalogueItem.id == Implementation.item_id)
    .join(ImplementationVersion, ImplementationVersion.id == Implementation.published_version_id)
    .where(Implementation.status == "published")
)


def body_of(fields: dict) -> str:
    """What a guide says in words people search with: summary, conditions,
    materials, result, keywords.

    Not the department: the index adds the department's words itself, without
    its place (``index._dept_words``), so that the entries of one item across
    counties share one text and are scored once (a group); with the county's
    department name in the body, 100,000 entries made 99,959 groups and a
    search took a second (the ``search`` benchmark, which loads real entries)."""
    parts = [
        fields.get("summary") or "",
        " ".join(fields.get("keywords") or []),
        (fields.get("result") or {}).get("name") or "",
        "、".join(m.get("name", "") for m in fields.get("materials") or []),
        (fields.get("conditions") or "")[:300],
    ]
    return " ".join(p for p in parts if p)


async def implementation_documents(session: AsyncSession) -> list[SearchDocument]:
    rows = (await session.execute(_STMT)).all()
    return [
        SearchDocument(
            kind="item",
            key=impl_code,
            title=name,
            body=body_of(fields or {}),
            region_code=region,
            department=dept,
            url=f"/guide/{impl_id}",
            popularity=0.2 if online == "done" else 0.0,
            item_code=base_code,
        )
        for impl_id, impl_code, name, region, online, dept, base_code, fields in rows
    ]


register_provider("item", implementation_documents)
