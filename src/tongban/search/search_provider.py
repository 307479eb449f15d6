"""The FAQ knowledge base as search documents (kind ``faq``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tongban.search import repository
from tongban.search.engine import register_provider
from tongban.search.index import SearchDocument


async def faq_documents(session: AsyncSession) -> list[SearchDocument]:
    return [
        SearchDocument(
            kind="faq",
            key=str(row.id),
            title=row.question,
            body=row.answer,
            region_code=row.region_code,
            url=f"/faq/{row.id}",
            topic=row.topic,
            item_code=row.item_code,
        )
        for row in await repository.get_faq_rows(session)
    ]


register_provider("faq", faq_documents)
