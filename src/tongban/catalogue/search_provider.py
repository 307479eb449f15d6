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

_F = ImplementationVersion.fields
_STMT = (
    select(
        Implementation.id,
        Implementation.impl_code,
        Implementation.name,
        Implementation.region_code,
        Implementation.online_status,
        Department.name,
        CatalogueItem.base_code,
        # the parts of the document the body is made of, not the whole
        # document: decoding 100,000 documents was half of a build
        _F["summary"].as_string(),
        _F["keywords"],
        _F[("result", "name")].as_string(),
        _F["materials"],
        _F["conditions"].as_string(),
    )
    .join(Department, Department.id == Implementation.department_id)
    .join(CatalogueItem, CatalogueItem.id == Implementation.item_id)
    .join(ImplementationVersion, ImplementationVersion.id == Implementation.published_version_id)
    .where(Implementation.status == "published")
)


def _body(
    summary: str | None,
    keywords: list[str] | None,
    result: str | None,
    materials: list[dict] | None,
    conditions: str | None,
) -> str:
    """What a guide says in words people search with: summary, conditions,
    materials, result, keywords.

    Not the department: the index adds the department's words itself, without
    its place (``index._dept_words``), so that the entries of one item across
    counties share one text and are scored once (a group); with the county's
    department name in the body, 100,000 entries made 99,959 groups and a
    search took a second (the ``search`` benchmark, which loads real entries)."""
    parts = [
        summary or "",
        " ".join(keywords or []),
        result or "",
        "、".join(m.get("name", "") for m in materials or []),
        (conditions or "")[:300],
    ]
    return " ".join(p for p in parts if p)


async def implementation_documents(session: AsyncSession) -> list[SearchDocument]:
    rows = (await session.execute(_STMT)).all()
    shared: dict[str, str] = {}  # one string per distinct body (entries of an item share it)
    docs = []
    for impl_id, impl_code, name, region, online, dept, base_code, *parts in rows:
        body = _body(*parts)
        docs.append(
            SearchDocument(
                kind="item",
                key=impl_code,
                title=shared.setdefault(name, name),
                body=shared.setdefault(body, body),
                region_code=region,
                department=dept,
                url=f"/guide/{impl_id}",
                popularity=0.2 if online == "done" else 0.0,
                item_code=base_code,
            )
        )
    return docs


register_provider("item", implementation_documents)
